"""The conditional-request mixin: ETags on reads, atomic precondition checks on writes.

lxdsite is stricter than LXD about preconditions: If-Match is checked on PUT, PATCH, DELETE
and rename inside the transaction that holds the row (and once before it, so a stale write
does not wait for the lock), and RFC 9110 lists, ``*``, weak tags and If-None-Match are
honoured. ``preconditions.evaluate`` makes every decision.
"""

import functools
import hashlib

from django.conf import settings
from django.db import transaction
from django.utils.http import quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from ..envelope import EncodedEnvelope
from ..etags import etag_of
from ..preconditions import NOT_MODIFIED, evaluate
from ..prepared import SHOWN


def atomic_write(action):
    """Decorate a write action: it runs in one transaction, in which ``get_object()`` locks the
    row and checks the preconditions on it; a refusal rolls back what it wrote, and a success
    answers with the ETag of what this transaction wrote (the client can chain writes)."""

    @functools.wraps(action)
    def write(self, request, *args, **kwargs):
        # A safe method never writes (RFC 9110 §9.2.1), whatever route it reached.
        assert request.method not in SAFE_METHODS, f"{action.__name__} would write on {request.method}"
        self.written = None
        with transaction.atomic():
            response = action(self, request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            elif self.written is not None and response.status_code < 300:
                response.headers.setdefault("ETag", quote_etag(self.get_etag(_as_written(self.written))))
        return response

    write.atomic_write = True
    return write


def _as_written(instance):
    """``instance`` without the relations read before the write (DRF's UpdateModelMixin idiom)."""
    if getattr(instance, "_prefetched_objects_cache", None):
        instance._prefetched_objects_cache = {}
    instance.__dict__.pop(SHOWN, None)
    return instance


def _not_modified(etag):
    """RFC 9110 §15.4.5: 304 carries the ETag and no body."""
    return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": quote_etag(etag)})


class ConditionalUpdateMixin:
    """ETags on reads, and atomic If-Match/If-None-Match checks on every write.

    Set ``etag_serializer_class`` to an ``ETagSerializer`` naming the fields LXD hashes, and
    decorate each write action with ``@atomic_write`` (the shared actions in ``base.py`` are).
    Inside that transaction ``get_queryset`` locks the row and ``get_object`` checks the
    preconditions on it; the action then writes the same locked row.
    """

    etag_serializer_class = None
    # The object a write action stored, for the ETag of its answer (``perform_update`` sets it).
    written = None

    def get_etag(self, instance):
        """The object's current ETag (bare hex, as LXD's 412 message shows it)."""
        assert self.etag_serializer_class is not None, "set etag_serializer_class"
        return etag_of(self.etag_serializer_class, instance)

    def initial(self, request, *args, **kwargs):
        """A conditional write whose precondition fails is refused before its transaction.

        RFC 9110 §13.2.1 lets a server evaluate preconditions at any time while it handles the
        request; the 412 then costs one read and does not wait for the write lock behind other
        writers. A write that passes here is checked again under the lock.
        """
        super().initial(request, *args, **kwargs)
        if request.method in SAFE_METHODS or (self.lookup_url_kwarg or self.lookup_field) not in self.kwargs:
            return
        headers = request.headers
        if headers.get("If-Match", "").strip() or headers.get("If-None-Match", "").strip():
            self.check_preconditions(self.get_etag(self.current_object()))

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.method not in SAFE_METHODS and transaction.get_connection().in_atomic_block:
            # The object's row only: a joined row (an alias's image) is another writer's to lock.
            return queryset.select_for_update(of=("self",))
        return queryset

    def get_object(self):
        instance = super().get_object()
        if self.request.method not in SAFE_METHODS:
            self.check_preconditions(self.get_etag(instance))
        return instance

    def check_preconditions(self, etag):
        """The write's preconditions against ``etag``: raises 412 (LXD's text) or 428."""
        headers = self.request.headers
        evaluate(
            self.request.method,
            headers.get("If-Match", ""),
            headers.get("If-None-Match", ""),
            etag,
            require_if_match=settings.LXDSITE_REQUIRE_IF_MATCH,
        )

    def conditional_read(self, etag, build_response):
        """A GET or HEAD: 304 when If-None-Match matches ``etag``, else the built answer with its ETag."""
        if evaluate("GET", "", self.request.headers.get("If-None-Match", ""), etag) == NOT_MODIFIED:
            return _not_modified(etag)
        response = build_response()
        response.headers.setdefault("ETag", quote_etag(etag))
        return response

    def object_response(self, instance):
        return self.conditional_read(self.get_etag(instance), lambda: self._encoded_object_response(instance))

    def _encoded_object_response(self, instance):
        # Encoded here, as lists are: the kept answers keep the bytes.
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
        self.written = serializer.instance


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
