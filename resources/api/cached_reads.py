"""Kept answers for a viewset's GETs (``response_cache``), keyed by URL and the client's scope.

A viewset with ``CachedReadMixin`` answers ``list`` and ``retrieve`` from the worker's kept
answers while the database's change token stands. That is only correct when its answers are a
function of the URL, the client's scope key and the rows of ``@watched`` models: the system
check (``checks.py``) refuses a cached viewset whose declared reads (its model and the models
of its ``selected`` and ``shown`` relations) include a model that is not watched, and the
contract tests check that a GET reads no table beyond those.
"""

from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from ..envelope import EncodedEnvelope, LXDJSONRenderer
from ..response_cache import KEPT_KEY, RESPONSES, TOKEN_KEY, WATCHED_WRITE_KEY, change_token
from ..trust import LISTENER_KEY

# Every cached viewset class, for the system check.
CACHED_VIEWSETS = []


class CachedReadMixin:
    """``list`` and ``retrieve`` answered from ``RESPONSES`` while the change token stands.

    Place it left of ``ConditionalUpdateMixin``: a kept answer still honours If-None-Match.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        CACHED_VIEWSETS.append(cls)

    @classmethod
    def read_models(cls):
        """The models this viewset's answers read: its own, its ``selected`` foreign keys' and
        its ``shown`` relations'."""
        model = cls.queryset.model
        forward = {model._meta.get_field(name).related_model for name in cls.selected}
        return {model, *forward, *(related for relation in cls.shown for related in relation.models(model))}

    def initial(self, request, *args, **kwargs):
        if request.method not in SAFE_METHODS:
            # The edge may keep this write's 412 (raised from here on): its object's answers
            # change with the token.
            request.META[WATCHED_WRITE_KEY] = True
        super().initial(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        return self.cached_read(lambda: super(CachedReadMixin, self).list(request, *args, **kwargs))

    def retrieve(self, request, *args, **kwargs):
        return self.cached_read(lambda: super(CachedReadMixin, self).retrieve(request, *args, **kwargs))

    def cached_read(self, read):
        if not RESPONSES.max_bytes or not isinstance(self.request.accepted_renderer, LXDJSONRenderer):
            return read()
        meta = self.request.META
        token = meta[TOKEN_KEY] if TOKEN_KEY in meta else change_token()
        if token is None:
            return read()
        scope = self.scope_key()
        key = (self.request.get_full_path(), scope)
        kept = RESPONSES.get(key, token)
        if kept is not None:
            body, etag = kept
            response = self.conditional_read(etag, lambda: self.encoded_response(body))
        else:
            response = read()
            etag = response.headers.get("ETag", "").strip('"')
            if response.status_code != 200 or not isinstance(response.data, EncodedEnvelope) or not etag:
                return response
            body = response.data.encoded
            RESPONSES.put(key, token, body, etag)
        if meta.get(LISTENER_KEY) == "unix":
            # For the edge, which keeps the unix socket's answer (200 or 304) with its final headers.
            meta[KEPT_KEY] = (token, body, etag)
        return response

    @staticmethod
    def encoded_response(encoded):
        return Response(EncodedEnvelope.from_encoded(encoded), status=status.HTTP_200_OK)
