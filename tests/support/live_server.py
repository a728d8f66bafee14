"""Run `manage.py serve` as a real process and talk to it over its unix socket, as lxc does.

Import the fixtures into `tests/conftest.py`:

    from tests.support.live_server import lxdsite_pg_server, lxdsite_server  # noqa: F401

`running_server()` and `unix_request()` also serve scripts (see `bench/servers.py`).
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30
# Longer than serve's 10 s graceful timeout, so a slow stop is still a clean one.
STOP_TIMEOUT = 40
# The maintenance database of a local PostgreSQL that trusts the postgres user.
POSTGRES_ADMIN_URL = os.environ.get("LXDSITE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# A local Redis for the servers' event feed.
REDIS_URL = os.environ.get("LXDSITE_TEST_REDIS", "redis://127.0.0.1:6379/0")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection over an AF_UNIX socket, like lxc's `http://unix.socket` transport."""

    def __init__(self, socket_path, timeout=30):
        # lxc sends `Host: unix.socket`; the host name never reaches a resolver.
        super().__init__("unix.socket", timeout=timeout)
        self.socket_path = str(socket_path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_request(connection, method, path, body=None, headers=None):
    """Send one request on `connection`, close it and return (status, headers, JSON or None).

    A dict or list body is sent as JSON; str and bytes are sent as they are. The headers
    are an `http.client.HTTPMessage`, so `headers["ETag"]` ignores case as HTTP does.
    """
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    return response.status, response.headers, payload


def unix_request(socket_path, method, path, body=None, headers=None, timeout=30):
    """One request on a fresh unix connection (lxc opens one per request)."""
    return http_request(UnixHTTPConnection(socket_path, timeout), method, path, body, headers)


@dataclass
class LiveServer:
    """A running `manage.py serve` process and the way to reach it."""

    lxd_dir: Path
    process: subprocess.Popen
    log_file: object = field(repr=False)
    bind: list = field(default_factory=list)
    # What the server wrote, kept when the log file closes at the end of running_server.
    final_log: str | None = field(default=None, repr=False)

    @property
    def socket_path(self):
        return self.lxd_dir / "unix.socket"

    def request(self, method, path, body=None, headers=None):
        """Send one request over the unix socket: (status, headers, JSON or None)."""
        return unix_request(self.socket_path, method, path, body, headers)

    def log(self):
        """Everything the server wrote to stdout and stderr so far."""
        if self.final_log is not None:
            return self.final_log
        # pread leaves the file offset alone: the server shares it and appends there.
        fd = self.log_file.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM (gunicorn's graceful stop), SIGKILL if it outlives `timeout`; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _wait_until_answering(server, timeout):
    """Poll GET /1.0 until the server answers any HTTP response; fail if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"lxdsite exited with {server.process.returncode} before answering:\n" + server.log())
        # Any answer means a worker is serving; what GET /1.0 says is for tests to judge.
        with contextlib.suppress(OSError, http.client.HTTPException):
            server.request("GET", "/1.0")
            return
        time.sleep(0.05)
    raise RuntimeError(f"lxdsite did not answer within {timeout} s:\n" + server.log())


@contextlib.contextmanager
def running_server(lxd_dir, *, workers=2, bind=None, env=None, timeout=START_TIMEOUT, args=(), wrapper=()):
    """Run `LXD_DIR=lxd_dir manage.py serve` until the block ends; yield a `LiveServer`.

    `bind` is one "HOST:PORT" or a list of them. `env` is laid over this process's
    environment, from which DATABASE_URL is dropped so that the default is the SQLite
    database under `lxd_dir`; pass DATABASE_URL in `env` to use another database. `args`
    are more `serve` options (`--tls-cert`, ...). `wrapper` is a command that execs the
    server (``own-netns``: the network namespace the real daemon runs in).
    """
    lxd_dir = Path(lxd_dir)
    bind = [bind] if isinstance(bind, str) else list(bind or [])
    process_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process_env.update(env or {}, LXD_DIR=str(lxd_dir), PYTHONUNBUFFERED="1")
    command = [*wrapper, sys.executable, "manage.py", "serve", "--workers", str(workers)]
    for address in bind:
        command += ["--bind", address]
    command += list(args)
    # A file, not a pipe: a chatty server must never block on a full pipe nobody reads.
    with tempfile.TemporaryFile() as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=process_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = LiveServer(lxd_dir=lxd_dir, process=process, log_file=log_file, bind=bind)
        try:
            _wait_until_answering(server, timeout)
            yield server
        finally:
            server.stop()
            server.final_log = server.log()


@contextlib.contextmanager
def postgres_database():
    """Create a uniquely named PostgreSQL database, yield its URL, drop it afterwards."""
    import psycopg

    name = f"lxdsite_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
            yield f"{base}/{name}"
        finally:
            # FORCE: a worker killed mid-request may leave a session behind.
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def lxdsite_server(tmp_path):
    """A `manage.py serve` process (2 workers) on a fresh LXD_DIR with SQLite."""
    with running_server(tmp_path / "lxd") as server:
        yield server


@pytest.fixture
def lxdsite_pg_server(tmp_path):
    """A `manage.py serve` process (2 workers) on a fresh LXD_DIR and PostgreSQL database."""
    with (
        postgres_database() as url,
        running_server(tmp_path / "lxd", env={"DATABASE_URL": url}) as server,
    ):
        yield server


def manage(lxd_dir, *args):
    """Run `LXD_DIR=lxd_dir manage.py ARGS...` (a live server's tools, as an operator runs them); its stdout."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={"LXD_DIR": str(lxd_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
