"""No client stalls the others: slow, idle and long-lived connections hold no server thread.

LXD serves each connection on a goroutine of its own. lxdsite's workers read requests in an
event loop (resources/serving/), so hundreds of clients that send their headers one byte at a
time, and hundreds of ``/1.0/events`` listeners, leave every GET answered, on the unix socket
and over TCP. How fast they are answered under that load is the bench's business
(``python -m bench``, its "stall" table); here each must simply be answered.
"""

import http.client
import socket

import pytest

from tests.support.events_client import EventsClient
from tests.support.live_server import free_port, http_request, manage, running_server
from tests.support.slow_clients import event_listeners, slow_header_clients

pytestmark = pytest.mark.live

SLOW_CONNECTIONS = 200
LISTENERS = 200
# Generous: a GET is answered in milliseconds; before the event loop it never was.
ANSWER_TIMEOUT = 20


def tcp_get(address, path):
    return http_request(http.client.HTTPConnection(*address, timeout=ANSWER_TIMEOUT), "GET", path)


def test_slow_clients_and_listeners_leave_every_get_answered(tmp_path):
    address = ("127.0.0.1", free_port())
    with (
        running_server(tmp_path / "lxd", bind=f"{address[0]}:{address[1]}") as server,
        slow_header_clients(address, SLOW_CONNECTIONS),
        event_listeners(server.socket_path, LISTENERS, timeout=ANSWER_TIMEOUT) as listeners,
    ):
        for _ in range(20):
            assert server.request("GET", "/1.0/profiles/default")[0] == 200
            assert tcp_get(address, "/1.0")[0] == 200

        # The listeners are served too: a change reaches them while the slow clients wait.
        assert server.request("POST", "/1.0/profiles", {"name": "busy"})[0] == 201
        for listener in (listeners[0], listeners[len(listeners) // 2], listeners[-1]):
            event = listener.receive(timeout=ANSWER_TIMEOUT)
            assert event["metadata"]["action"] == "profile-created"


def test_a_slow_header_client_is_cut_off_with_lxds_error_once_its_time_is_up(tmp_path):
    """A request head has a deadline (60 s by default); until then the client costs a file descriptor."""
    address = ("127.0.0.1", free_port())
    deadline = {"LXDSITE_REQUEST_HEAD_TIMEOUT": "3"}
    with (
        running_server(tmp_path / "lxd", bind=f"{address[0]}:{address[1]}", env=deadline),
        socket.create_connection(address, timeout=60) as client,
    ):
        client.sendall(b"GET /1.0 HTTP/1.1\r\nHost: lxd\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b'"error_code":408' in body


def test_a_revoked_tokens_event_stream_ends(tmp_path):
    address = ("127.0.0.1", free_port())
    lxd_dir = tmp_path / "lxd"
    with running_server(lxd_dir, bind=f"{address[0]}:{address[1]}") as server:
        token = manage(lxd_dir, "createtoken", "listener").strip()
        listener = EventsClient(
            None, "/1.0/events?type=lifecycle", address=address, headers=[("Authorization", f"Bearer {token}")]
        )
        try:
            assert server.request("POST", "/1.0/profiles", {"name": "heard"})[0] == 201
            assert listener.receive(timeout=ANSWER_TIMEOUT)["metadata"]["source"] == "/1.0/profiles/heard"

            manage(lxd_dir, "revoketoken", "listener")
            assert server.request("POST", "/1.0/profiles", {"name": "unheard"})[0] == 201

            assert listener.receive(timeout=10) is None
            assert listener.close_code == 1008
        finally:
            listener.close()


def test_an_untrusted_tcp_client_cannot_listen(tmp_path):
    address = ("127.0.0.1", free_port())
    with running_server(tmp_path / "lxd", bind=f"{address[0]}:{address[1]}"):
        status, _, body = http_request(
            http.client.HTTPConnection(*address, timeout=ANSWER_TIMEOUT),
            "GET",
            "/1.0/events",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
    assert (status, body["error"]) == (403, "not authorized")
