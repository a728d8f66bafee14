"""One request through the WSGI stack on a pool thread, and its answer back to the event loop.

``environ_for`` builds PEP 3333's environ from a parsed request; ``run_application`` runs on a
pool thread and returns an ``Answer``: the status, the headers and either the whole body (what
Django builds in memory, nearly every answer) or an iterator the loop drains one chunk per
thread job (``StreamingHttpResponse``: image exports).
"""

import asyncio
import io
import sys
import urllib.parse
from dataclasses import dataclass, field

from ..trust import CLIENT_CERTIFICATE_KEY, LISTENER_KEY, PEER_UID_KEY

# What the server puts in the environ of a request that may become a WebSocket: the view that
# accepts one (``events.events``) hands its listener over through it (see ``websocket.py``).
WEBSOCKET_KEY = "lxdsite.websocket"


@dataclass
class Answer:
    """What the application answered: ``body`` is complete unless ``stream`` is set."""

    status: int
    reason: bytes
    headers: list
    body: list = field(default_factory=list)
    stream: object = None
    # What to close once the stream ends (the response object).
    closing: object = None


def environ_for(request, connection, wsgi_input):
    """PEP 3333's environ for a ``parser.Request`` received on ``connection``."""
    target = request.target
    if not target.startswith(b"/"):
        # Absolute form (``GET http://lxd/1.0``) or ``*``: the path is what routes.
        target = urllib.parse.urlsplit(target).path or b"/"
    path, _, query = target.partition(b"?")
    environ = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        # PEP 3333: the decoded path as bytes-in-latin-1, the query as sent.
        "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": request.target.decode("latin-1"),
        "SERVER_NAME": connection.server_name,
        "SERVER_PORT": connection.server_port,
        "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
        "REMOTE_ADDR": connection.remote_addr,
        "REMOTE_PORT": connection.remote_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if connection.tls else "http",
        "wsgi.input": wsgi_input,
        # The input ends where the body ends, chunked or not (a WSGI extension Django's
        # LimitedStream does not need, and chunked uploads do: resources/images/uploads.py).
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        # Trust is decided by the listener the connection came in on (resources/trust.py):
        # a fact of the accepted socket. Client headers all land under HTTP_*.
        LISTENER_KEY: connection.listener,
        PEER_UID_KEY: connection.peer_uid,
        CLIENT_CERTIFICATE_KEY: connection.client_certificate,
    }
    for name, value in request.headers:
        if b"_" in name:
            # X_LXD_x and X-LXD-x would both become HTTP_X_LXD_X: drop the ambiguous form.
            continue
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def run_application(application, environ):
    """Run ``application`` on ``environ`` (on a pool thread) and return its ``Answer``."""
    answer = Answer(500, b"Internal Server Error", [])

    def start_response(status, headers, exc_info=None):
        code, _, reason = status.partition(" ")
        answer.status, answer.reason = int(code), reason.encode("latin-1")
        # Django writes Set-Cookie values with a leading space (SimpleCookie's output); HTTP
        # has none around a field value (RFC 9110 section 5.5).
        answer.headers = [(name.encode("latin-1"), value.strip().encode("latin-1")) for name, value in headers]
        return answer.body.append

    body = application(environ, start_response)
    if getattr(body, "streaming", False):
        answer.stream, answer.closing = iter(body), body
        return answer
    try:
        answer.body.extend(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return answer


def next_chunk(answer):
    """The streamed answer's next chunk, or None at its end (on a pool thread)."""
    try:
        return next(answer.stream)
    except StopIteration:
        close_stream(answer)
        return None


def close_stream(answer):
    """Close a streamed answer's response (Django's request_finished, the file)."""
    closing, answer.closing = answer.closing, None
    if hasattr(closing, "close"):
        closing.close()


class StreamedInput(io.RawIOBase):
    """``wsgi.input`` for a body too large to hold before the request starts: each read waits
    on the event loop for the next chunk the client sends (an image upload)."""

    def __init__(self, loop, receive_chunk, timeout):
        super().__init__()
        self.loop = loop
        self.receive_chunk = receive_chunk
        self.timeout = timeout
        self.buffer = bytearray()
        self.ended = False

    def readable(self):
        return True

    def _fill(self, wanted):
        while not self.ended and (wanted < 0 or len(self.buffer) < wanted):
            future = asyncio.run_coroutine_threadsafe(self.receive_chunk(), self.loop)
            chunk = future.result(self.timeout)
            if chunk is None:
                self.ended = True
            else:
                self.buffer += chunk

    def read(self, size=-1):
        size = -1 if size is None else size
        self._fill(size)
        if size < 0 or size >= len(self.buffer):
            data, self.buffer = bytes(self.buffer), bytearray()
            return data
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def readline(self, size=-1):
        while b"\n" not in self.buffer and not self.ended and (size < 0 or len(self.buffer) < size):
            self._fill(len(self.buffer) + 1)
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if size >= 0:
            end = min(end, size)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data
