"""Answers to repeated GETs, kept in each worker until the database changes.

Clients poll: ``lxc list`` and provider refreshes ask for the same lists and objects again and
again, and most of a list's time is reading and showing its rows (py-spy: 40% building model
objects, 33% serializers for 200 instances). A worker keeps each answer's encoded bytes and
ETag under the database's change token (``models.ChangeToken``), which triggers renew on every
write to a row an answer shows, from any process or tool. A GET reads the token (one
single-row query) and sends the kept bytes when it is unchanged; after a write the first GET
reads the rows again. The token is read before the rows, so a kept answer is never older
than its token.

Only answers that are a function of the watched tables (``watched.py``), the URL and the
client's scope are kept (``CachedReadMixin``), only JSON 200s, and never inside a transaction (its own writes
are not counted until it commits). ``LXDSITE_RESPONSE_CACHE_MB`` bounds each worker's
bytes (0 turns the cache off).

Views keep answers through ``api/cached_reads.py``; on the unix socket, ``edge.py`` sends
them before Django runs.
"""

import threading
from collections import OrderedDict

from django.conf import settings
from django.db import connection

from .models import ChangeToken

_TOKEN_SQL = f"SELECT token FROM {ChangeToken._meta.db_table} WHERE id = {ChangeToken.SINGLETON_ID}"
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


# WSGI environ keys: the token the edge read (the view need not read it again); the
# (token, body, etag) the view kept, for the edge to keep with the final status and headers;
# and the mark of a write to a watched resource, whose 412 the edge may keep.
TOKEN_KEY = "lxdsite.change_token"
KEPT_KEY = "lxdsite.kept"
WATCHED_WRITE_KEY = "lxdsite.watched_write"


class ResponseCache:
    """Encoded answers by key, each under the token it was read at; least recently used go first."""

    def __init__(self, max_bytes, max_entries=1024):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.size = 0
        self.entries = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, token):
        """The (body, meta) kept for ``key`` at ``token``, or None."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] != token:
                return None
            self.entries.move_to_end(key)
            return entry[1], entry[2]

    def __contains__(self, key):
        return key in self.entries

    def put(self, key, token, body, meta):
        """Keep an answer's bytes and what goes with them (``meta``); one over a quarter of the budget is not kept."""
        size = len(body)
        if size > self.max_bytes // 4:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self.entries[key] = (token, body, meta)
            self.size += size
            while self.size > self.max_bytes or len(self.entries) > self.max_entries:
                _, (_, dropped, _) = self.entries.popitem(last=False)
                self.size -= len(dropped)

    def clear(self):
        with self.lock:
            self.entries.clear()
            self.size = 0


RESPONSES = ResponseCache(settings.LXDSITE_RESPONSE_CACHE_MB * 1024 * 1024)
