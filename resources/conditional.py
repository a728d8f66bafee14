"""The ETag machinery: LXD's ETag values and RFC 9110 conditional requests.

LXD 5.0.2 hashes a per-type subset of each object with Go's ``encoding/json`` encoder and
sends the SHA-256 as a strong, quoted ETag. lxdsite computes the same value, and is stricter
than LXD about preconditions: If-Match is checked on PUT, PATCH, DELETE and rename, inside
the transaction that holds the row (and once before it, so a stale write does not wait for the
lock), and RFC 9110 lists, ``*``, weak tags and If-None-Match are honoured.
"""

import functools
import hashlib

from django.conf import settings
from django.db import transaction
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from .envelope import EncodedEnvelope
from .exceptions import PreconditionFailed, PreconditionRequired
from .go import go_json
from .prepared import PlannedRepresentationMixin


def compute_etag(value):
    """LXD's ETag of a value: SHA-256 of its Go JSON encoding plus the Encoder's newline."""
    return hashlib.sha256((go_json(value) + "\n").encode()).hexdigest()


class ETagSerializer(PlannedRepresentationMixin, serializers.Serializer):
    """The user-modifiable fields LXD hashes, encoded as a Go ``[]any`` in field order.

    Override ``to_representation`` where LXD hashes another shape (a struct, a bare map).
    """

    def to_representation(self, instance):
        return list(super().to_representation(instance).values())


@functools.cache
def _etag_serializer(serializer_class):
    """One instance per ETag serializer class: it holds no request state, and building
    its fields on every request is a measurable share of a GET."""
    return serializer_class()


def sent_tag(header):
    """The tag as LXD reports it in its 412 message: trimmed of whitespace and quotes."""
    return header.strip().strip('"')


def _matches(header, etag, *, weak):
    """Whether an If-Match/If-None-Match header matches (RFC 9110 §8.8.3.2, §13.1.1-2).

    A header that is not an RFC 9110 list is compared as LXD does: trimmed of whitespace
    and quotes, as a bare tag. It never counts as absent.
    """
    tags = parse_etags(header)
    if not tags:
        return sent_tag(header) == etag
    if tags == ["*"]:
        return True
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return quote_etag(etag) in tags


def if_match_passes(header, etag):
    """RFC 9110 §13.1.1: strong comparison."""
    return _matches(header, etag, weak=False)


def if_none_match_passes(header, etag):
    """RFC 9110 §13.1.2: weak comparison; an empty header is no condition."""
    return not header.strip() or not _matches(header, etag, weak=True)


def _not_modified(etag):
    """RFC 9110 §15.4.5: 304 carries the ETag and no body."""
    return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": quote_etag(etag)})


class ConditionalUpdateMixin:
    """ETags on reads, and atomic If-Match/If-None-Match checks on every write.

    Set ``etag_serializer_class`` to an ``ETagSerializer`` naming the fields LXD hashes.
    A write runs in one transaction: ``get_queryset`` locks the row, ``get_object`` checks
    the preconditions on it, and the action then writes the same locked row.
    """

    etag_serializer_class = None
    # Actions that write without the per-request transaction (an upload commits its own rows).
    unlocked_actions = ()
    # False while preconditions are checked before the transaction: rows are read, not locked.
    locking = True

    def get_etag(self, instance):
        """The object's current ETag (bare hex, as LXD's 412 message shows it)."""
        assert self.etag_serializer_class is not None, "set etag_serializer_class"
        return compute_etag(_etag_serializer(self.etag_serializer_class).to_representation(instance))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        method = request.method.lower()
        if request.method in SAFE_METHODS or self.action in self.unlocked_actions or not hasattr(self, method):
            return
        self.check_preconditions_unlocked()
        setattr(self, method, self._in_transaction(getattr(self, method)))

    def _in_transaction(self, handler):
        """The action in one transaction holding the row; a refusal rolls back what it wrote."""

        @functools.wraps(handler)
        def write(request, *args, **kwargs):
            with transaction.atomic():
                response = handler(request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
                updated = getattr(self, "updated_object", None)
                if updated is not None and response.status_code < 300:
                    # The new ETag, of what this transaction wrote: the client can chain writes.
                    response.headers.setdefault("ETag", quote_etag(self.get_etag(updated)))
            return response

        return write

    def check_preconditions_unlocked(self):
        """A conditional write whose precondition fails is refused before the transaction.

        RFC 9110 §13.2.1 lets a server evaluate preconditions at any time while it handles the
        request; the 412 then costs one read and does not wait for the write lock behind other
        writers. A write that passes here is checked again under the lock.
        """
        lookup = self.lookup_url_kwarg or self.lookup_field
        headers = self.request.headers
        if lookup not in self.kwargs or not (headers.get("If-Match", "").strip() or headers.get("If-None-Match")):
            return
        instance = self.read_etag_object(self.kwargs[lookup])
        if instance is NotImplemented:
            self.locking = False
            try:
                # get_object() checks the preconditions of a write itself.
                self.get_object()
            finally:
                self.locking = True
        elif instance is not None:
            self.check_preconditions(self.get_etag(instance))

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.select_for_update() if self.locking and self.request.method not in SAFE_METHODS else queryset

    def get_object(self):
        instance = super().get_object()
        if self.request.method not in SAFE_METHODS:
            self.check_preconditions(self.get_etag(instance))
        return instance

    def check_preconditions(self, etag):
        """RFC 9110 §13.2.2 steps 1 and 3 for a write; LXD's 412 message on a mismatch."""
        if_match = self.request.headers.get("If-Match", "")
        if not if_match.strip():
            if settings.LXDSITE_REQUIRE_IF_MATCH:
                raise PreconditionRequired()
        elif not if_match_passes(if_match, etag):
            raise PreconditionFailed.mismatch(etag, sent_tag(if_match))
        if_none_match = self.request.headers.get("If-None-Match", "")
        if not if_none_match_passes(if_none_match, etag):
            raise PreconditionFailed.matched(etag)

    def conditional_read(self, etag, build_response):
        """RFC 9110 §13.2.2 step 3 for GET/HEAD: 304 when If-None-Match matches."""
        if not if_none_match_passes(self.request.headers.get("If-None-Match", ""), etag):
            return _not_modified(etag)
        response = build_response()
        response.headers.setdefault("ETag", quote_etag(etag))
        return response

    def object_response(self, instance):
        return self.conditional_read(self.get_etag(instance), lambda: self._encoded_object_response(instance))

    def _encoded_object_response(self, instance):
        # Encoded here, as lists are: response_cache keeps the bytes.
        response = super().object_response(instance)
        response.data = EncodedEnvelope(response.data)
        return response

    def collection_response(self, metadata):
        # LXD sends no ETag on lists. lxdsite's is the SHA-256 of the body, encoded once and
        # sent as it is (the Go encoding of every object took a third of a 200-instance list).
        response = super().collection_response(metadata)
        response.data = EncodedEnvelope(response.data)
        return self.conditional_read(hashlib.sha256(response.data.encoded).hexdigest(), lambda: response)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self.updated_object = serializer.instance


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Write only if the object's ETag matches (RFC 9110 list, `*`, or LXD's bare tag); else 412.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="On reads: 304 when it matches the ETag. On writes: 412 when it matches.",
)
_ENVELOPE = OpenApiResponse(OpenApiTypes.OBJECT, description="LXD's sync envelope; the ETag header on objects.")
_NOT_MODIFIED = OpenApiResponse(description="Not modified: If-None-Match matched the ETag.")
_WRITE_ERRORS = {
    412: OpenApiResponse(description="Precondition failed: `ETag doesn't match: <current> vs <sent>`."),
    428: OpenApiResponse(description="If-Match required (`LXDSITE_REQUIRE_IF_MATCH=1`)."),
}


READ_SCHEMA = extend_schema(parameters=[IF_NONE_MATCH], responses={200: _ENVELOPE, 304: _NOT_MODIFIED})
WRITE_SCHEMA = extend_schema(parameters=[IF_MATCH, IF_NONE_MATCH], responses={200: _ENVELOPE, **_WRITE_ERRORS})


def conditional_schema(*, reads=(), writes=()):
    """``extend_schema_view`` documenting the conditional headers of the named actions."""
    return extend_schema_view(**dict.fromkeys(reads, READ_SCHEMA), **dict.fromkeys(writes, WRITE_SCHEMA))
