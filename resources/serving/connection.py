"""One client connection, read in the event loop (see the package docstring).

A request reaches a pool thread once its head is complete and, when it is small
(``BUFFERED_BODY``), its body too; a larger body (an image upload) is read by the thread as
it arrives. Every wait on the client has a deadline, and reading pauses while the
application runs, so a client can cost memory only up to ``parser.MAX_HEAD`` or ``BUFFERED_BODY``.
"""

import asyncio
import email.utils
import io
import logging
import socket
import struct
import time

from django.conf import settings

from ..envelope import to_json_bytes
from ..exceptions import error_envelope
from . import websocket, wsgi_bridge
from .parser import END, Request, RequestReader

logger = logging.getLogger(__name__)

# Bodies up to this size are read before the request reaches a thread; larger ones stream.
BUFFERED_BODY = 1024 * 1024
# Seconds a client may leave a body it is sending without a byte.
BODY_TIMEOUT = 60
# After an answer, what the application left of the request body is read past for at most this
# long (then the connection can carry another request): closing at once would reset it under a
# client still sending, which would then never read the answer (an upload refused at once).
LINGER_SECONDS = 30


class ClientGone(ConnectionError):
    """The client closed the connection, or stopped sending, in the middle of a request body."""


class Connection(asyncio.Protocol):
    """An accepted client connection and the task that answers its requests, one at a time."""

    def __init__(self, site, tls=False):
        self.site = site
        self.tls = tls
        self.reader = RequestReader()
        self.receive = self.reader.feed
        self.transport = None
        self.closed = False
        # The client closed its side (it sends nothing more).
        self.ended = False
        self.busy = False
        self.streaming = False
        self.readable = asyncio.Event()
        self._reading = True
        self._wanted = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._new_cycle()

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self.client_certificate = transport.get_extra_info("peercert_der")
        sock = transport.get_extra_info("socket")
        if sock.family == socket.AF_UNIX:
            self.listener, self.peer_uid = "unix", _peer_uid(sock)
            self.server_name, self.server_port = "unix.socket", "0"
            self.remote_addr, self.remote_port = "", ""
        else:
            self.listener, self.peer_uid = "tcp", None
            host, port = transport.get_extra_info("sockname")[:2]
            self.server_name, self.server_port = host, str(port)
            host, port = transport.get_extra_info("peername")[:2]
            self.remote_addr, self.remote_port = host, str(port)
        self.site.connections.add(self)
        self.task = self.site.loop.create_task(self.serve())

    def data_received(self, data):
        if self._head_deadline is None:
            self._head_deadline = self.site.loop.time() + settings.LXDSITE_REQUEST_HEAD_TIMEOUT
        self.receive(data)
        self.readable.set()
        if not self._wanted:
            # Nobody reads now (the application runs): stop reading until asked.
            self.transport.pause_reading()
            self._reading = False

    def eof_received(self):
        self.ended = True
        if self.receive != self.reader.feed:
            # A WebSocket: wsproto reads None as the end of the stream.
            self.receive(None)
        self.readable.set()
        # Keep the transport open: the answer to the last request may still be written.
        return True

    def connection_lost(self, exc):
        self.closed = True
        self.readable.set()
        self._writable.set()
        self.site.connections.discard(self)

    def pause_writing(self):
        self._writable.clear()

    def resume_writing(self):
        self._writable.set()

    # Reading ---------------------------------------------------------------------------

    def _new_cycle(self):
        """Before a request: nothing of its head seen yet."""
        self._head_deadline = None
        self._continued = False
        self._body_done = False

    async def wait_readable(self, timeout):
        """Wait until the client sends something (or goes), at most ``timeout`` seconds."""
        if self.closed:
            return
        self.readable.clear()
        if not self._reading:
            self.transport.resume_reading()
            self._reading = True
        self._wanted = True
        try:
            async with asyncio.timeout(timeout):
                await self.readable.wait()
        finally:
            self._wanted = False

    async def drained(self):
        """Wait until the transport has room for more (the client reads what was written)."""
        await self._writable.wait()

    async def _next_request(self):
        """The next ``Request``, or None when the connection is to end."""
        while True:
            event = self.reader.next_event()
            if isinstance(event, Request):
                return event
            if event is not None:
                continue  # what was left of an earlier request's body
            if self.reader.error is not None:
                # Requests parsed before the bad bytes have been answered: refuse the rest.
                self.refuse(*self.reader.error)
                return None
            if self.closed or self.ended:
                return None
            if self._head_deadline is None:
                # No byte of a request yet: a kept-alive connection may idle this long.
                timeout = self.site.keepalive if self.site.accepting else 0
            else:
                timeout = self._head_deadline - self.site.loop.time()
            try:
                await self.wait_readable(max(timeout, 0))
            except TimeoutError:
                if self.reader.in_head:
                    self.refuse(408, "Request Timeout")
                return None

    async def receive_chunk(self, request):
        """The request body's next chunk, None at its end; ``ClientGone`` if the client goes."""
        if self._body_done:
            return None
        self._send_continue(request)
        while True:
            event = self.reader.next_event()
            if isinstance(event, bytes):
                return event
            if event is END or (event is None and self.reader.upgraded is not None):
                self._body_done = True
                return None
            if self.reader.error is not None or self.closed or self.ended:
                raise ClientGone("The client closed the connection before the end of the request body")
            try:
                await self.wait_readable(BODY_TIMEOUT)
            except TimeoutError:
                raise ClientGone("The client sent no part of the request body in time") from None

    async def _request_body(self, request):
        """``wsgi.input`` for ``request``: the whole body when small, else one read as it arrives."""
        if not request.chunked and (request.content_length or 0) <= BUFFERED_BODY:
            body = bytearray()
            while (chunk := await self.receive_chunk(request)) is not None:
                body += chunk
            return io.BytesIO(body)
        return wsgi_bridge.StreamedInput(self.site.loop, lambda: self.receive_chunk(request), BODY_TIMEOUT + 5)

    @staticmethod
    def _expects_continue(request):
        return request.has_body and request.header(b"expect").lower() == b"100-continue"

    def _send_continue(self, request):
        """RFC 9110 section 10.1.1: answer ``Expect: 100-continue`` once the body is wanted."""
        if not self._continued and self._expects_continue(request):
            self._continued = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # Answering -------------------------------------------------------------------------

    async def serve(self):
        """Answer requests until the client goes, asks to close, or the worker stops."""
        try:
            while (request := await self._next_request()) is not None:
                self.busy = True
                try:
                    keep = await self._answer(request)
                finally:
                    self.busy = False
                if not keep or not self.site.accepting:
                    break
        except ClientGone:
            pass
        except Exception:
            logger.exception("Serving a connection failed")
        finally:
            self.transport.close()

    async def _answer(self, request):
        """Answer one request; whether the connection can carry another."""
        started = time.monotonic()
        wsgi_input = await self._request_body(request)
        environ = wsgi_bridge.environ_for(request, self, wsgi_input)
        handover = websocket.Handover() if websocket.is_upgrade(request) else None
        if handover is not None:
            environ[wsgi_bridge.WEBSOCKET_KEY] = handover
        loop, executor = self.site.loop, self.site.executor
        try:
            answer = await loop.run_in_executor(executor, wsgi_bridge.run_application, self.site.application, environ)
        except Exception:
            logger.exception("%s %s failed", environ["REQUEST_METHOD"], environ["RAW_URI"])
            answer = _error_answer(500, "Internal Server Error")
        if handover is not None and handover.listener is not None:
            self.streaming = True
            await websocket.stream_events(self, request, handover)
            return False
        keep = await self._send(request, answer)
        self.site.log_access(self, environ, answer, time.monotonic() - started)
        # Read past the rest of the body even when the connection closes next (lxc asks for that
        # on the unix socket): closing under a client still sending resets it before it reads.
        read_past = await self._end_cycle(request)
        return keep and read_past

    async def _send(self, request, answer):
        """Write ``answer``: at once when complete, else chunk by chunk as the client reads.
        Whether the connection can carry another request."""
        head_only = request.method == b"HEAD" or answer.status in (204, 304) or answer.status < 200
        names = {name.lower() for name, _ in answer.headers}
        keep = request.keep_alive and self.reader.upgraded is None and self.site.accepting
        headers = [(name, value) for name, value in answer.headers if name.lower() not in (b"date", b"connection")]
        headers.append((b"Date", self.site.date()))
        if answer.stream is None:
            body = b"" if head_only else b"".join(answer.body)
            if not head_only and b"content-length" not in names:
                headers.append((b"Content-Length", str(len(body)).encode()))
            self.transport.write(_head(request, answer, headers, keep) + body)
            return keep
        chunked = not head_only and b"content-length" not in names
        keep = keep and (not chunked or request.http_version != b"1.0")
        if chunked and keep:
            headers.append((b"Transfer-Encoding", b"chunked"))
        loop, executor = self.site.loop, self.site.executor
        try:
            self.transport.write(_head(request, answer, headers, keep))
            while (chunk := await loop.run_in_executor(executor, wsgi_bridge.next_chunk, answer)) is not None:
                if chunk and not head_only:
                    self.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked and keep else chunk)
                await self.drained()
                if self.closed:
                    return False
            if chunked and keep:
                self.transport.write(b"0\r\n\r\n")
            return keep
        finally:
            if answer.closing is not None:
                await loop.run_in_executor(executor, wsgi_bridge.close_stream, answer)

    async def _end_cycle(self, request):
        """Read past what the application left of the body, then get ready for the next request."""
        if self.closed:
            return False
        if self._body_done:
            self._new_cycle()
            return True
        if self._expects_continue(request) and not self._continued:
            # The client waits for our word before it sends the body: the answer was that word.
            return False
        deadline = time.monotonic() + LINGER_SECONDS
        while time.monotonic() < deadline:
            try:
                chunk = await self.receive_chunk(request)
            except ClientGone:
                return False
            if chunk is None:
                self._new_cycle()
                return True
        return False

    def refuse(self, status, message):
        """Answer a request that cannot be served (it cannot be parsed, it is too slow) and close:
        LXD's error envelope, as JSON like every other answer."""
        if self.closed:
            return
        body = to_json_bytes(error_envelope(status, message))
        reason = _REASONS.get(status, "Error")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nDate: {self.site.date().decode()}\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)

    def close_idle(self):
        """At a graceful stop: end the connection now unless a request is being answered; an
        events stream is woken to send its close frame (going away) and end."""
        if self.streaming:
            self.readable.set()
        elif not self.busy:
            self.transport.close()


_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


def _head(request, answer, headers, keep):
    """The status line and header block of ``answer`` (RFC 9112 section 4 and 5)."""
    version = b"HTTP/1.0" if request.http_version == b"1.0" else b"HTTP/1.1"
    lines = [b"%s %d %s" % (version, answer.status, answer.reason)]
    lines += [name + b": " + value for name, value in headers]
    if not keep:
        lines.append(b"Connection: close")
    elif request.http_version == b"1.0":
        lines.append(b"Connection: keep-alive")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _error_answer(status, message):
    body = to_json_bytes(error_envelope(status, message))
    return wsgi_bridge.Answer(status, message.encode(), [(b"Content-Type", b"application/json")], [body])


def _peer_uid(sock):
    """The uid of the process at the other end of a unix socket (SO_PEERCRED), None if unknown."""
    size = struct.calcsize("3i")
    try:
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))
    except OSError:
        return None
    return uid


class Site:
    """What a worker's connections share: the loop, the thread pool, the application, settings."""

    def __init__(self, loop, executor, application, *, keepalive, access_log=None):
        self.loop = loop
        self.executor = executor
        self.application = application
        self.keepalive = keepalive
        self.access_log = access_log
        self.connections = set()
        self.accepting = True
        self._date = (0, b"")

    def date(self):
        """The Date header's value, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True).encode())
        return self._date[1]

    def log_access(self, connection, environ, answer, seconds):
        if self.access_log is None:
            return
        client = connection.remote_addr or "@"
        self.access_log.info(
            '%s - - [%s] "%s %s %s" %d %.1fms',
            client,
            time.strftime("%d/%b/%Y:%H:%M:%S %z"),
            environ["REQUEST_METHOD"],
            environ["RAW_URI"],
            environ["SERVER_PROTOCOL"],
            answer.status,
            seconds * 1000,
        )

    async def stop(self, timeout):
        """Stop taking requests; let those in progress finish for up to ``timeout`` seconds."""
        self.accepting = False
        for connection in list(self.connections):
            connection.close_idle()
        deadline = self.loop.time() + timeout
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.1)
            for connection in list(self.connections):
                connection.close_idle()
        for connection in list(self.connections):
            connection.transport.abort()
