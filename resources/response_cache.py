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

On the unix socket, where trust needs no authentication, ``edge_wsgi`` (installed by
``serve``) sends a kept answer to a GET, and LXD's 412 to a write whose If-Match is not the
ETag the last 412 of that object named, before Django's handler, middleware and DRF run:
they were most of such a request's time once its rows no longer had to be read.
"""

import threading
from collections import OrderedDict

from django.conf import settings
from django.db import DatabaseError, connection
from rest_framework import status
from rest_framework.response import Response

from .conditional import if_match_passes, if_none_match_passes, sent_tag
from .envelope import EncodedEnvelope, LXDJSONRenderer, asks_for_plain_json, to_json_bytes
from .exceptions import PreconditionFailed, error_envelope
from .models import ChangeToken
from .trust import LISTENER_KEY, is_trusted

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


# WSGI environ keys: the token the edge read (the view need not read it again), and the
# (token, body, etag) the view kept, for the edge to keep with the final status and headers.
TOKEN_KEY = "lxdsite.change_token"
KEPT_KEY = "lxdsite.kept"


WRITES = ("PUT", "PATCH", "DELETE")


def _edge_key(environ):
    """A GET on the unix socket answered by JSON: its key at the edge, else None."""
    if environ["REQUEST_METHOD"] != "GET" or environ.get(LISTENER_KEY) != "unix" or not asks_for_plain_json(environ):
        return None
    return (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))


def _write_key(environ):
    """A write on the unix socket with If-Match (and no other condition): its object's GET key, else None."""
    if (
        environ["REQUEST_METHOD"] not in WRITES
        or environ.get(LISTENER_KEY) != "unix"
        or environ.get("QUERY_STRING")
        or environ.get("HTTP_IF_NONE_MATCH")
        or not environ.get("HTTP_IF_MATCH", "").strip()
        or not asks_for_plain_json(environ)
    ):
        return None
    return (environ.get("PATH_INFO", ""), "")


def _current_token():
    try:
        return change_token()
    except DatabaseError:
        return None


def _stale_answer(environ, etag):
    """LXD's 412 for the request's If-Match against ``etag``, or None when it matches."""
    if_match = environ["HTTP_IF_MATCH"]
    if if_match_passes(if_match, etag):
        return None
    return to_json_bytes(error_envelope(412, str(PreconditionFailed.mismatch(etag, sent_tag(if_match)).detail)))


def edge_wsgi(application):
    """Answer from kept answers on the unix socket before Django handles the request.

    The socket is trusted, so while the change token stands a GET gets the kept answer: the
    same status, headers and bytes the full path sent when it kept it (Date and Server are
    gunicorn's); with If-None-Match, the kept 200 or the kept 304 as the ETag decides. Once
    the full path has refused a PUT, PATCH or DELETE of an object with 412, a write of it
    whose If-Match does not match that ETag gets the same 412 while the token stands (the
    first answer's headers, the text naming the sent tag). Anything else, or a database
    error, goes the full way.
    """

    def wsgi(environ, start_response):
        if not RESPONSES.max_bytes:
            return application(environ, start_response)
        key, write = _edge_key(environ), _write_key(environ)
        token = None
        if key is not None and ("edge", 200, *key) in RESPONSES:
            token = _current_token()
            kept = RESPONSES.get(("edge", 200, *key), token) if token is not None else None
            if kept is not None and not if_none_match_passes(environ.get("HTTP_IF_NONE_MATCH", ""), kept[1][2]):
                kept = RESPONSES.get(("edge", 304, *key), token)
            if kept is not None:
                body, (status_line, headers, _etag) = kept
                start_response(status_line, list(headers))
                return [body]
            environ[TOKEN_KEY] = token
        elif write is not None:
            # Read before the full path runs, as for GETs: a 412 it sees is at least this new.
            token = _current_token()
            template = RESPONSES.get(("edge", 412, environ["REQUEST_METHOD"], *write), token) if token else None
            refusal = _stale_answer(environ, template[1][2]) if template is not None else None
            if refusal is not None:
                status_line, headers, _etag = template[1]
                length = str(len(refusal))
                start_response(status_line, [(n, length if n.lower() == "content-length" else v) for n, v in headers])
                return [refusal]
        answer = {}

        def capture(status_line, headers, exc_info=None):
            answer["status"], answer["headers"] = status_line, headers
            return start_response(status_line, headers, exc_info)

        result = application(environ, capture)
        status_line = answer.get("status", "")
        if write is not None and token is not None and status_line.startswith("412 "):
            # Its headers are kept as the template of this object's 412s at this token, if the
            # full path said word for word what the edge would say for the ETag it sent.
            try:
                body = b"".join(result)
            finally:
                getattr(result, "close", lambda: None)()
            etag = dict(answer["headers"]).get("ETag", "").strip('"')
            if etag and body == _stale_answer(environ, etag):
                key412 = ("edge", 412, environ["REQUEST_METHOD"], *write)
                RESPONSES.put(key412, token, b"", (status_line, tuple(answer["headers"]), etag))
            return [body]
        code = 200 if status_line.startswith("200 ") else 304 if status_line.startswith("304 ") else None
        # An answer that sets cookies is one client's: never kept (API GETs set none).
        if (
            key is not None
            and KEPT_KEY in environ
            and code
            and not any(name.lower() == "set-cookie" for name, _ in answer["headers"])
        ):
            token, body, etag = environ[KEPT_KEY]
            RESPONSES.put(
                ("edge", code, *key), token, body if code == 200 else b"", (status_line, tuple(answer["headers"]), etag)
            )
        return result

    return wsgi


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
        meta = self.request.META
        token = meta[TOKEN_KEY] if TOKEN_KEY in meta else change_token()
        if token is None:
            return read()
        key = (self.request.get_full_path(), is_trusted(self.request))
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
        # For edge_wsgi, which keeps the answer (200 or 304) with its final headers.
        meta[KEPT_KEY] = (token, body, etag)
        return response

    @staticmethod
    def encoded_response(encoded):
        return Response(EncodedEnvelope.from_encoded(encoded), status=status.HTTP_200_OK)
