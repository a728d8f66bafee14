"""Clients that cost a server connections, not requests: for the stall tests and the bench.

``slow_header_clients`` open TCP connections that send a request line and then one header
byte every few seconds (a slowloris); ``event_listeners`` open ``/1.0/events`` WebSockets on
a unix socket and keep them.
"""

import contextlib
import socket
import threading

from tests.support.events_client import EventsClient


@contextlib.contextmanager
def slow_header_clients(address, count, *, byte_every=2.0):
    """``count`` TCP clients that send a request line, then one header byte every ``byte_every`` s."""
    clients = []
    stop = threading.Event()

    def trickle():
        while not stop.wait(byte_every):
            for client in clients:
                with contextlib.suppress(OSError):
                    client.send(b"a")

    try:
        for _ in range(count):
            client = socket.create_connection(address)
            client.sendall(b"GET /1.0 HTTP/1.1\r\nHost: lxd\r\nX-Slow: ")
            clients.append(client)
        threading.Thread(target=trickle, daemon=True).start()
        yield clients
    finally:
        stop.set()
        for client in clients:
            client.close()


@contextlib.contextmanager
def event_listeners(socket_path, count, *, path="/1.0/events?type=lifecycle", timeout=20):
    """``count`` ``/1.0/events`` listeners on the unix socket at ``socket_path``."""
    listeners = []
    try:
        for _ in range(count):
            listeners.append(EventsClient(socket_path, path, timeout=timeout))
        yield listeners
    finally:
        for listener in listeners:
            listener.close()
