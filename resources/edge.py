"""The WSGI stack ``serve`` runs (and ``lxdsite/wsgi.py`` exports): HEAD without bodies, then the edge.

The server (``resources/serving``) records in the environ which listener accepted the
connection (trust is decided by it, ``trust.py``). ``edge_wsgi`` answers from the kept
answers (``response_cache``) on the unix socket, where trust needs no authentication, before
Django's handler, middleware and DRF run: they were most of such a request's time once its
rows no longer had to be read.

- A GET gets the kept answer while the change token stands: the status, headers and bytes the
  full path sent when it kept it (Date is the server's); with If-None-Match, the kept
  200 or the kept 304, as ``preconditions.evaluate`` decides.
- Once the full path has refused a PUT, PATCH or DELETE of a watched object with 412, a write
  of it whose If-Match does not match that ETag gets the same 412 while the token stands (the
  first answer's headers, the text naming the sent tag).
- Anything else, or a database error, goes the full way.

The unix socket is fully trusted: its answers are those of the trusted scope, and the path
and query (which carries ``project=``) key them.
"""

from django.db import DatabaseError

from .envelope import asks_for_plain_json
from .exceptions import PreconditionFailed
from .preconditions import NOT_MODIFIED, evaluate, refusal_bytes
from .response_cache import KEPT_KEY, RESPONSES, TOKEN_KEY, WATCHED_WRITE_KEY, change_token
from .trust import LISTENER_KEY

WRITES = ("PUT", "PATCH", "DELETE")


def without_head_bodies(application):
    """Send no body in answer to HEAD, whatever the application answered."""

    def wsgi(environ, start_response):
        body = application(environ, start_response)
        # Django leaves this to the server (runserver strips it). RFC 9110 section 9.3.2.
        if environ["REQUEST_METHOD"] != "HEAD":
            return body
        if hasattr(body, "close"):
            body.close()
        return []

    return wsgi


def served_stack(django_application):
    """The whole stack around Django's WSGI handler, as ``serve`` runs it."""
    return without_head_bodies(edge_wsgi(django_application))


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
    """The 412 body for the request's If-Match against ``etag``, or None when it passes."""
    try:
        evaluate(environ["REQUEST_METHOD"], environ["HTTP_IF_MATCH"], "", etag)
    except PreconditionFailed as exc:
        return refusal_bytes(exc)
    return None


def _kept_get(environ, key):
    """The kept answer (body, meta) for a GET, or None; the token read is left for the view."""
    token = _current_token()
    kept = RESPONSES.get(("edge", 200, *key), token) if token is not None else None
    if kept is not None:
        etag = kept[1][2]
        if evaluate("GET", "", environ.get("HTTP_IF_NONE_MATCH", ""), etag) == NOT_MODIFIED:
            kept = RESPONSES.get(("edge", 304, *key), token)
    if kept is None:
        environ[TOKEN_KEY] = token
    return kept


def _kept_refusal(environ, write, token):
    """The kept 412 (status, headers, body) for a stale write, or None."""
    template = RESPONSES.get(("edge", 412, environ["REQUEST_METHOD"], *write), token) if token else None
    refusal = _stale_answer(environ, template[1][2]) if template is not None else None
    if refusal is None:
        return None
    status_line, headers, _etag = template[1]
    length = str(len(refusal))
    return status_line, [(n, length if n.lower() == "content-length" else v) for n, v in headers], refusal


def edge_wsgi(application):
    """Answer from kept answers on the unix socket before Django handles the request."""

    def wsgi(environ, start_response):
        if not RESPONSES.max_bytes:
            return application(environ, start_response)
        key, write = _edge_key(environ), _write_key(environ)
        token = None
        if key is not None and ("edge", 200, *key) in RESPONSES:
            kept = _kept_get(environ, key)
            if kept is not None:
                body, (status_line, headers, _etag) = kept
                start_response(status_line, list(headers))
                return [body]
        elif write is not None:
            # Read before the full path runs, as for GETs: a 412 it sees is at least this new.
            token = _current_token()
            refusal = _kept_refusal(environ, write, token)
            if refusal is not None:
                status_line, headers, body = refusal
                start_response(status_line, headers)
                return [body]
        answer = {}

        def capture(status_line, headers, exc_info=None):
            answer["status"], answer["headers"] = status_line, headers
            return start_response(status_line, headers, exc_info)

        result = application(environ, capture)
        status_line = answer.get("status", "")
        if write is not None and token is not None and status_line.startswith("412 "):
            return _keep_refusal(environ, write, token, answer, result)
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


def _keep_refusal(environ, write, token, answer, result):
    """Keep a full-path 412 of a watched object as the template of its next refusals at ``token``.

    Kept only if the view marked the write as one of a watched resource (its object's answers
    change with the token) and the full path said word for word what the edge would say.
    """
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    etag = dict(answer["headers"]).get("ETag", "").strip('"')
    if environ.get(WATCHED_WRITE_KEY) and etag and body == _stale_answer(environ, etag):
        key412 = ("edge", 412, environ["REQUEST_METHOD"], *write)
        RESPONSES.put(key412, token, b"", (answer["status"], tuple(answer["headers"]), etag))
    return [body]
