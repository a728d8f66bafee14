"""Answers to repeated GETs, kept in each worker until the database changes.

Clients poll: ``lxc list`` and provider refreshes ask for the same lists and objects again and
again, and most of a list's time is reading and showing its rows (py-spy: 40% building model
objects, 33% serializers for 200 instances). A worker keeps each answer's encoded bytes and
ETag under the database's change token (``models.ChangeToken``), which triggers renew on every
write to a row an answer shows, from any process or tool. A GET reads the token (one
single-row query) and sends the kept bytes when it is unchanged; after a write the first GET
reads the rows again. The token is read before the rows, so a kept answer is never older
than its token.

Only answers that are a function of the watched tables, the URL and the client's trust are
kept (``CachedReadMixin``), only JSON 200s, and never inside a transaction (its own writes
are not counted until it commits). ``LXDSITE_RESPONSE_CACHE_MB`` bounds each worker's
bytes (0 turns the cache off).
"""

import threading
from collections import OrderedDict

from django.conf import settings
from django.db import connection
from rest_framework import status
from rest_framework.response import Response

from .envelope import EncodedEnvelope, LXDJSONRenderer
from .trust import is_trusted

_TOKEN_SQL = "SELECT token FROM resources_changetoken WHERE id = 1"
# Vendors whose migration installed the triggers.
_WATCHED_VENDORS = ("sqlite", "postgresql")


def change_token():
    """The database's current change token, or None where answers must not be kept."""
    if connection.vendor not in _WATCHED_VENDORS or connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


class ResponseCache:
    """Encoded answers by key, each under the token it was read at; least recently used go first."""

    def __init__(self, max_bytes, max_entries=1024):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.size = 0
        self.entries = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, token):
        """The (body, etag) kept for ``key`` at ``token``, or None."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] != token:
                return None
            self.entries.move_to_end(key)
            return entry[1], entry[2]

    def put(self, key, token, body, etag):
        """Keep an answer's bytes; one over a quarter of the budget is not kept."""
        size = len(body)
        if size > self.max_bytes // 4:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self.entries[key] = (token, body, etag)
            self.size += size
            while self.size > self.max_bytes or len(self.entries) > self.max_entries:
                _, (_, dropped, _) = self.entries.popitem(last=False)
                self.size -= len(dropped)

    def clear(self):
        with self.lock:
            self.entries.clear()
            self.size = 0


RESPONSES = ResponseCache(settings.LXDSITE_RESPONSE_CACHE_MB * 1024 * 1024)


class CachedReadMixin:
    """``list`` and ``retrieve`` answered from ``RESPONSES`` while the change token stands.

    For viewsets whose GET answers depend only on the watched tables, the URL (path and query)
    and whether the client is trusted. Place it left of ``ConditionalUpdateMixin``: a kept
    answer still honours If-None-Match.
    """

    def list(self, request, *args, **kwargs):
        return self.cached_read(lambda: super(CachedReadMixin, self).list(request, *args, **kwargs))

    def retrieve(self, request, *args, **kwargs):
        return self.cached_read(lambda: super(CachedReadMixin, self).retrieve(request, *args, **kwargs))

    def cached_read(self, read):
        if not RESPONSES.max_bytes or not isinstance(self.request.accepted_renderer, LXDJSONRenderer):
            return read()
        token = change_token()
        if token is None:
            return read()
        key = (self.request.get_full_path(), is_trusted(self.request))
        kept = RESPONSES.get(key, token)
        if kept is not None:
            body, etag = kept
            return self.conditional_read(etag, lambda: self.encoded_response(body))
        response = read()
        etag = response.headers.get("ETag")
        if response.status_code == 200 and isinstance(response.data, EncodedEnvelope) and etag:
            RESPONSES.put(key, token, response.data.encoded, etag.strip('"'))
        return response

    @staticmethod
    def encoded_response(encoded):
        return Response(EncodedEnvelope.from_encoded(encoded), status=status.HTTP_200_OK)
