"""A client for ``/1.0/events`` over a unix socket, as lxc and pylxd listen to LXD.

Built on wsproto (the protocol engine under simple-websocket), which does no I/O itself.
"""

import contextlib
import json
import socket
import time
from collections import deque

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

from tests.support.workers import accepting_pid


class EventsClient:
    """One WebSocket connection to ``/1.0/events``; ``receive`` returns the decoded events."""

    def __init__(self, socket_path, path="/1.0/events", timeout=5, *, address=None, headers=()):
        """Listen on the unix socket at ``socket_path``, or over TCP at ``address`` (host, port);
        ``headers`` are more (name, value) pairs for the handshake (``Authorization``)."""
        if address is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(str(socket_path))
        else:
            self.sock = socket.create_connection(address, timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host="unix.socket", target=path, extra_headers=list(headers))))
        self.accepted = None
        # The code of the server's close frame, once it sent one (1008: no longer trusted).
        self.close_code = None
        self._messages = deque()
        self._text = ""
        deadline = time.monotonic() + timeout
        while self.accepted is None:
            if not self._pump(deadline):
                raise TimeoutError(f"no WebSocket handshake answer for {path}")
        if not self.accepted:
            raise ConnectionError(f"WebSocket handshake for {path} refused")

    def _pump(self, deadline):
        """Read what arrives before ``deadline``; False if nothing did."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        self.ws.receive_data(data or None)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted = True
            elif isinstance(event, RejectConnection):
                self.accepted = False
            elif isinstance(event, TextMessage):
                self._text += event.data
                if event.message_finished:
                    self._messages.append(self._text)
                    self._text = ""
            elif isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                return False
        return bool(data)

    def receive_raw(self, timeout=2):
        """The next message's text as sent, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._messages:
            if not self._pump(deadline):
                return None
        return self._messages.popleft()

    def receive(self, timeout=2):
        """The next event as a dict, or None after ``timeout`` seconds."""
        text = self.receive_raw(timeout)
        return None if text is None else json.loads(text)

    def receive_all(self, timeout):
        """Every event that arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        received = []
        while (event := self.receive(max(deadline - time.monotonic(), 0))) is not None:
            received.append(event)
        return received

    def lifecycle(self, quiet=0.2):
        """(action, source, context) of every lifecycle event until none has come for ``quiet`` seconds."""
        received = []
        while (event := self.receive(quiet)) is not None:
            metadata = event["metadata"]
            received.append((metadata["action"], metadata["source"], metadata.get("context")))
        return received

    def serving_pid(self):
        """The pid of the server process holding the other end (from ``ss -xp``)."""
        return accepting_pid(self.sock)

    def close(self):
        # The server may have closed first.
        with contextlib.suppress(OSError):
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        self.sock.close()
