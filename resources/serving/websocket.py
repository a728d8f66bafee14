"""``/1.0/events`` as a WebSocket (RFC 6455, framed by wsproto), streamed from the event loop.

The events view runs on a pool thread like any request: it decides trust and the event types,
subscribes a listener (so that nothing after the answer is missed) and hands it over through
``Handover.accept``. The server then answers 101 and sends the listener's messages from the
event loop, so a listener costs a file descriptor and a queue, not a thread. A listener that was
trusted by a token is asked again (``still_trusted``) before each batch and every
``RECHECK_SECONDS``: a revoked token's stream ends.
"""

import base64
import binascii
import contextlib

from wsproto.connection import Connection as WebSocketConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping
from wsproto.utilities import generate_accept_token

# Seconds between two checks that a listener is still trusted, when no event comes.
RECHECK_SECONDS = 5
# A listener that reads this far behind is dropped (LXD drops slow listeners too).
MAX_UNREAD = 16 * 1024 * 1024
# RFC 6455 close codes: going away (the server stops), policy violation (no longer trusted).
GOING_AWAY, POLICY_VIOLATION = 1001, 1008


class Handover:
    """Put in the environ of a WebSocket request: the view accepts a listener through it."""

    listener = None
    still_trusted = None

    def accept(self, listener, still_trusted=None):
        """Stream ``listener``'s messages; ``still_trusted()`` (a database read) says when to stop."""
        self.listener, self.still_trusted = listener, still_trusted


def is_upgrade(request):
    """Whether ``request`` is a WebSocket opening handshake (RFC 6455 section 4.2.1)."""
    if request.method != b"GET" or b"websocket" not in request.header(b"upgrade").lower():
        return False
    if b"upgrade" not in request.header(b"connection").lower() or request.header(b"sec-websocket-version") != b"13":
        return False
    try:
        return len(base64.b64decode(request.header(b"sec-websocket-key"), validate=True)) == 16
    except binascii.Error:
        return False


async def stream_events(connection, request, handover):
    """Answer 101 on ``connection`` and send ``handover.listener``'s events until either side ends."""
    listener, loop = handover.listener, connection.site.loop
    try:
        accept = generate_accept_token(request.header(b"sec-websocket-key"))
        head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        websocket = WebSocketConnection(ConnectionType.SERVER, trailing_data=connection.reader.upgraded or b"")
        connection.receive = websocket.receive_data
        connection.transport.write(head + b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        # Wake the stream on every message for this listener (delivered on the feed's thread).
        listener.on_message = lambda: loop.call_soon_threadsafe(connection.readable.set)
        await _pump(connection, websocket, handover)
    finally:
        listener.close()


async def _pump(connection, websocket, handover):
    """Send the listener's messages and answer the client's frames until one side closes."""
    loop, executor = connection.site.loop, connection.site.executor
    next_check = loop.time() + RECHECK_SECONDS
    while not connection.closed:
        for event in websocket.events():
            if isinstance(event, Ping):
                connection.transport.write(websocket.send(event.response()))
            elif isinstance(event, CloseConnection):
                # A client that closed with a frame gets ours; one that just went gets nothing.
                if websocket.state == ConnectionState.REMOTE_CLOSING:
                    connection.transport.write(websocket.send(event.response()))
                return
            # What a listener sends otherwise (text, pongs) asks for nothing.
        if not connection.site.accepting:
            connection.transport.write(websocket.send(CloseConnection(code=GOING_AWAY)))
            return
        messages = handover.listener.drain()
        if handover.still_trusted is not None and (messages or loop.time() >= next_check):
            next_check = loop.time() + RECHECK_SECONDS
            if not await loop.run_in_executor(executor, handover.still_trusted):
                refusal = CloseConnection(code=POLICY_VIOLATION, reason="not authorized")
                connection.transport.write(websocket.send(refusal))
                return
        if messages:
            connection.transport.write(b"".join(websocket.send(Message(data=text)) for text in messages))
            if connection.transport.get_write_buffer_size() > MAX_UNREAD:
                return
        with contextlib.suppress(TimeoutError):
            # Only a listener whose trust can end needs waking without an event.
            recheck_in = None if handover.still_trusted is None else max(next_check - loop.time(), 0.01)
            await connection.wait_readable(recheck_in)
