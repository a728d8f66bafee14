"""LXD's errors as DRF exceptions, and the one handler that renders every error.

Views raise; they never build an error answer. ``lxd_exception_handler`` turns each
exception into LXD's error envelope, and Django's own 404/500 views use the same shape.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from .envelope import to_json_bytes

logger = logging.getLogger(__name__)
# The database errors that mean "not reachable now" (PostgreSQL down or restarting, a
# connection it dropped, SQLite locked past its timeout), not a bug: 503, try again.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)


class PreconditionFailed(exceptions.APIException):
    """412: If-Match did not match, or If-None-Match did (RFC 9110 §13.1)."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "Precondition failed"
    default_code = "precondition_failed"

    def __init__(self, detail=None, code=None, etag=None):
        super().__init__(detail, code)
        self.etag = etag

    @classmethod
    def mismatch(cls, current, sent):
        """LXD's message for a stale If-Match, word for word."""
        return cls(f"ETag doesn't match: {current} vs {sent}", etag=current)

    @classmethod
    def matched(cls, current):
        """If-None-Match matched the current ETag on a write."""
        return cls(f"ETag matches If-None-Match: {current}", etag=current)


class PreconditionRequired(exceptions.APIException):
    """428: this server requires If-Match on writes (RFC 6585 §3)."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "If-Match is required for this request"
    default_code = "precondition_required"


class Conflict(exceptions.APIException):
    """409: the name is taken (LXD answers 500 for profiles; 409 is correct HTTP)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict"
    default_code = "conflict"


class NotImplementedMethod(exceptions.APIException):
    """501: LXD's answer for a method a known path does not support (it never sends 405)."""

    status_code = status.HTTP_501_NOT_IMPLEMENTED
    default_detail = "not implemented"
    default_code = "not_implemented"


class AmbiguousPrefix(exceptions.APIException):
    """400: a fingerprint prefix that fits several images (LXD answers 500, but it is the client's error)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "More than one image matches"
    default_code = "ambiguous"


class DatabaseUnavailable(exceptions.APIException):
    """503: the database cannot be reached; the request changed nothing and may be retried (RFC 9110 §15.6.4)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Database unavailable, try again later"
    default_code = "database_unavailable"
    # Retry-After, in seconds.
    wait = 1

    @classmethod
    def from_error(cls, error):
        """The 503 for a driver error, which is logged (its text may name hosts, so clients do not see it)."""
        logger.warning("database unavailable: %s", str(error).strip().splitlines()[0] if str(error) else error)
        return cls()


def error_envelope(code, message):
    """LXD's error envelope."""
    return {
        "type": "error",
        "status": "",
        "status_code": 0,
        "operation": "",
        "error_code": code,
        "error": message,
        "metadata": None,
    }


# Error codes of messages that are LXD's own texts: ``lxd`` answers 400 at once,
# ``lxd_operation`` ends an async request's operation in Failure (as LXD reports them).
LXD_TEXT_CODES = ("lxd", "lxd_operation")


def first_message(detail, path=()):
    """One readable line from a DRF error detail, like LXD's single error string.

    Messages raised with code ``lxd`` are LXD's own texts and are shown bare; others
    are prefixed with the field they concern.
    """
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        if key == "non_field_errors":
            return first_message(value, path)
        return first_message(value, (*path, str(key)))
    if isinstance(detail, list):
        return first_message(detail[0], path) if detail else "Invalid request"
    if getattr(detail, "code", None) in LXD_TEXT_CODES or not path:
        return str(detail)
    return f"{'.'.join(path)}: {detail}"


def lxd_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error becomes LXD's error envelope."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "not authorized")
    elif isinstance(exc, exceptions.MethodNotAllowed):
        exc = NotImplementedMethod()
    elif isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        exc = DatabaseUnavailable.from_error(exc)
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "etag", None):
        headers["ETag"] = f'"{exc.etag}"'
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(exc.wait)
    message = first_message(exc.detail)
    return Response(error_envelope(exc.status_code, message), status=exc.status_code, headers=headers)


class DatabaseUnavailableMiddleware:
    """A database error outside DRF's handler (opening a view's transaction, a plain Django
    view) is the same 503 envelope, not Django's 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
            return None
        exc = DatabaseUnavailable.from_error(exception)
        response = _envelope_response(exc.status_code, str(exc.detail))
        response["Retry-After"] = str(exc.wait)
        return response


def log_server_error(sender, request, **kwargs):
    """``got_request_exception``'s receiver: an exception no layer answered is a bug, answered
    with a 500 (``server_error_view``); log it with its traceback and the request line, so the
    server's stderr shows what failed and for which request."""
    logger.error("500 Internal server error: %s %s", request.method, request.get_full_path(), exc_info=True)


def not_found_view(request, exception=None):
    """Django's handler404: an unknown path is LXD's ``not found``."""
    return _envelope_response(404, "not found")


def server_error_view(request):
    """Django's handler500: even a bug answers in LXD's envelope."""
    return _envelope_response(500, "Internal server error")


def _envelope_response(code, message):
    """An error envelope answered outside DRF, byte for byte as the renderer writes it."""
    body = to_json_bytes(error_envelope(code, message))
    return HttpResponse(body, status=code, content_type="application/json")


def error_text(exc):
    """The one line an API error shows in the envelope, for the admin and the commands."""
    return first_message(exc.detail)
