"""`manage.py serve` behaves like the lxd daemon on the outside: LXD_DIR, socket, clients."""

import http.client
import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from tests.support.live_server import REPO_ROOT, free_port, http_request, postgres_database, running_server
from tests.support.lxc import run_lxc

pytestmark = pytest.mark.live

ENVELOPE_KEYS = {
    "type",
    "status",
    "status_code",
    "operation",
    "error_code",
    "error",
    "metadata",
}


def assert_sync_envelope(status, headers, body):
    """GET /1.0 as LXD answers it: 200 and a sync envelope around a metadata object."""
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    assert set(body) == ENVELOPE_KEYS
    assert body["type"] == "sync"
    assert body["status"] == "Success"
    assert body["status_code"] == 200
    assert body["error_code"] == 0
    assert isinstance(body["metadata"], dict)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_env(request):
    """The environment selecting each database: nothing for SQLite, DATABASE_URL for PostgreSQL."""
    if request.param == "sqlite":
        yield {}
    else:
        with postgres_database() as url:
            yield {"DATABASE_URL": url}


def test_serve_creates_lxd_dir_database_and_socket(tmp_path):
    lxd_dir = tmp_path / "missing" / "lxd"

    with running_server(lxd_dir) as server:
        mode = server.socket_path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o660
        assert stat.S_IMODE(lxd_dir.stat().st_mode) == 0o711
        assert (lxd_dir / "lxdsite.sqlite3").is_file()


def test_what_the_server_keeps_is_private_to_its_user(tmp_path):
    lxd_dir = tmp_path / "lxd"
    lxd_dir.mkdir(mode=0o711)
    # A database another version left readable by every local user.
    (lxd_dir / "lxdsite.sqlite3").touch(mode=0o644)

    with running_server(lxd_dir) as server:
        assert server.request("PATCH", "/1.0/profiles/default", {"description": "written"})[0] == 200
        kept = ["lxdsite.sqlite3", "lxdsite.sqlite3-wal", "secret.key"]
        assert {name: stat.S_IMODE((lxd_dir / name).stat().st_mode) for name in kept} == dict.fromkeys(kept, 0o600)
        assert stat.S_IMODE((lxd_dir / "images").stat().st_mode) == 0o700
        # LXD's own modes for what clients reach: the directory and the socket.
        assert stat.S_IMODE(lxd_dir.stat().st_mode) == 0o711
        assert stat.S_IMODE(server.socket_path.stat().st_mode) == 0o660


def test_the_secret_key_is_made_once_per_lxd_dir(tmp_path):
    def key(lxd_dir):
        code = "from django.conf import settings; print(settings.SECRET_KEY)"
        env = {k: v for k, v in os.environ.items() if k not in ("LXDSITE_SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
        run = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=REPO_ROOT,
            env={**env, "LXD_DIR": str(lxd_dir)},
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.strip()

    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    first = key(tmp_path / "one")
    assert len(first) >= 50
    assert first == key(tmp_path / "one") != key(tmp_path / "two")
    assert stat.S_IMODE((tmp_path / "one" / "secret.key").stat().st_mode) == 0o600


def test_get_1_0_over_unix_socket_is_a_sync_envelope(lxdsite_server):
    assert_sync_envelope(*lxdsite_server.request("GET", "/1.0"))


def test_bind_also_serves_tcp(tmp_path):
    port = free_port()

    with running_server(tmp_path / "lxd", bind=f"127.0.0.1:{port}") as server:
        over_tcp = http_request(http.client.HTTPConnection("127.0.0.1", port), "GET", "/1.0")
        over_unix = server.request("GET", "/1.0")

    assert_sync_envelope(*over_tcp)
    assert_sync_envelope(*over_unix)


def test_head_answer_has_no_body_on_the_wire(lxdsite_server):
    # http.client never reads a body after HEAD, so look at the raw bytes.
    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(10)
        raw.connect(str(lxdsite_server.socket_path))
        raw.sendall(b"HEAD /1.0 HTTP/1.1\r\nHost: unix.socket\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):
            received += chunk

    head, separator, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ")
    assert separator
    assert body == b""
    assert "no-body response" not in lxdsite_server.log()


@pytest.mark.lxd
def test_lxc_lists_and_shows_the_default_profile(lxdsite_server, tmp_path):
    listed_status, listed, listed_err = run_lxc(lxdsite_server.socket_path, tmp_path, "profile", "list")
    shown_status, shown, shown_err = run_lxc(lxdsite_server.socket_path, tmp_path, "profile", "show", "default")

    assert listed_status == 0, listed_err
    assert "| default" in listed
    assert shown_status == 0, shown_err
    assert "name: default" in shown


def test_restart_keeps_data(tmp_path, database_env):
    lxd_dir = tmp_path / "lxd"

    with running_server(lxd_dir, env=database_env) as server:
        status, _, body = server.request("POST", "/1.0/profiles", {"name": "p1"})
        assert status == 201, body
        assert server.stop() == 0

    with running_server(lxd_dir, env=database_env) as server:
        status, _, body = server.request("GET", "/1.0/profiles/p1")

    assert status == 200, body
    assert body["metadata"]["name"] == "p1"


def test_sigterm_stops_gracefully_and_removes_the_socket(lxdsite_server):
    assert lxdsite_server.stop() == 0
    assert not lxdsite_server.socket_path.exists()


def test_stale_socket_is_replaced(tmp_path):
    lxd_dir = tmp_path / "lxd"
    lxd_dir.mkdir()
    # A socket file nobody listens on, as a killed server leaves it.
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(lxd_dir / "unix.socket"))

    with running_server(lxd_dir) as server:
        status, _, body = server.request("GET", "/1.0")

    assert status == 200, body


def test_second_server_on_the_same_lxd_dir_is_refused(lxdsite_server):
    second = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=REPO_ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "LXD_DIR": str(lxdsite_server.lxd_dir),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert second.returncode != 0
    assert "already listening" in second.stderr
    status, _, body = lxdsite_server.request("GET", "/1.0")
    assert status == 200, body


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"GET /1.0 HTTP/1.1\r\nHost: lxd\r\nContent-Length: <=^\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: lxd\r\n\r\n", 414),
    ],
)
def test_a_request_gunicorn_cannot_parse_gets_lxds_error_envelope(lxdsite_server, request_head, status):
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(30)
        client.connect(str(lxdsite_server.socket_path))
        client.sendall(request_head)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Type: application/json" in head
    envelope = json.loads(body)
    assert envelope["type"] == "error"
    assert envelope["error_code"] == status
    assert envelope["error"]


def test_requests_sent_together_on_one_connection_are_answered_in_order(lxdsite_server):
    """Pipelining (RFC 9112 section 9.3.2): the second request waits in the buffer, not lost."""
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(30)
        client.connect(str(lxdsite_server.socket_path))
        client.sendall(
            b"GET /1.0/profiles/default HTTP/1.1\r\nHost: lxd\r\n\r\n"
            b"PATCH /1.0/profiles/default HTTP/1.1\r\nHost: lxd\r\nContent-Type: application/json\r\n"
            b'Content-Length: 24\r\n\r\n{"description": "piped"}'
            b"GET /1.0/profiles/default HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert answer.rindex(b'"description":"piped"') > answer.rindex(b"HTTP/1.1 200 OK")


def _refused_upload(socket_path, connection, then=b""):
    """Everything the server answered to an 8 MiB upload into a missing project, sent whole
    (then ``then``) before the answer is read: a reset mid-upload raises BrokenPipeError."""
    body = os.urandom(8 * 1024 * 1024)
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(30)
        client.connect(str(socket_path))
        client.sendall(
            b"POST /1.0/images?project=nosuch HTTP/1.1\r\nHost: lxd\r\nConnection: %s\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s" % (connection, len(body), body)
        )
        if then:
            client.sendall(then)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    refused, _, rest = answer.partition(b"\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 404 ")
    assert b"Fetch project database object: Project not found" in rest
    return rest


def test_an_upload_refused_before_its_body_is_read_gets_its_answer(lxdsite_server):
    """The answer comes before the body is read; the rest of the body is read past, so the client
    can finish sending, read the answer and use the connection again (not a reset mid-upload)."""
    rest = _refused_upload(
        lxdsite_server.socket_path, b"keep-alive", b"GET /1.0 HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n"
    )
    assert b"HTTP/1.1 200 OK\r\n" in rest


def test_an_upload_refused_on_a_closing_connection_gets_its_answer(lxdsite_server):
    """lxc sends ``Connection: close`` on the unix socket: the body is read past before closing too."""
    for _ in range(5):
        _refused_upload(lxdsite_server.socket_path, b"close")
