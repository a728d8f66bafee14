"""RFC 9110 conditional requests, decided in one place.

``evaluate`` takes a request's method and condition headers and the object's current ETag and
says whether the request proceeds, is answered 304, or is refused (412, or 428 where If-Match
is required). The view mixin, the kept answers and the edge all ask it, so they cannot
disagree; ``refusal_bytes`` is the one place a refusal's body is encoded outside DRF.

A header that is not an RFC 9110 list is compared as LXD compares it: trimmed of whitespace
and quotes, as a bare tag. It never counts as absent.
"""

from django.utils.http import parse_etags

from .envelope import to_json_bytes
from .exceptions import PreconditionFailed, PreconditionRequired, error_envelope

PROCEED = "proceed"
NOT_MODIFIED = "not modified"
READS = ("GET", "HEAD")


def sent_tag(header):
    """The tag as LXD reports it in its 412 message: trimmed of whitespace and quotes."""
    return header.strip().strip('"')


def _matches(header, etag, *, weak):
    """Whether an If-Match/If-None-Match header names ``etag`` (RFC 9110 §8.8.3.2, §13.1.1-2)."""
    tags = parse_etags(header)
    if not tags:
        return sent_tag(header) == etag
    if tags == ["*"]:
        return True
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return f'"{etag}"' in tags


def if_match_passes(header, etag):
    """RFC 9110 §13.1.1: strong comparison; an empty header is no condition."""
    return not header.strip() or _matches(header, etag, weak=False)


def if_none_match_passes(header, etag):
    """RFC 9110 §13.1.2: weak comparison; an empty header is no condition."""
    return not header.strip() or not _matches(header, etag, weak=True)


def evaluate(method, if_match, if_none_match, etag, *, require_if_match=False):
    """RFC 9110 §13.2.2 for a request on an object whose current ETag is ``etag``.

    Returns ``PROCEED`` or ``NOT_MODIFIED`` (a GET or HEAD whose If-None-Match matched); raises
    ``PreconditionFailed`` with LXD's text, or ``PreconditionRequired`` for a write without
    If-Match when ``require_if_match``. Step 2 (If-Unmodified-Since) and 4 (If-Modified-Since)
    do not apply: LXD objects carry no modification time.
    """
    if method in READS:
        return PROCEED if if_none_match_passes(if_none_match, etag) else NOT_MODIFIED
    # Step 1: If-Match.
    if not if_match.strip():
        if require_if_match:
            raise PreconditionRequired()
    elif not if_match_passes(if_match, etag):
        raise PreconditionFailed.mismatch(etag, sent_tag(if_match))
    # Step 3: If-None-Match on a write.
    if not if_none_match_passes(if_none_match, etag):
        raise PreconditionFailed.matched(etag)
    return PROCEED


def refusal_bytes(exc):
    """The body DRF's exception handler sends for ``exc``, for layers that answer before DRF."""
    return to_json_bytes(error_envelope(exc.status_code, str(exc.detail)))
