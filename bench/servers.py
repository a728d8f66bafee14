"""The servers the benchmark starts itself, each in a temporary directory it removes afterwards.

lxdsite through `manage.py serve` (SQLite in LXD_DIR, or a PostgreSQL database made for the
run), the real `lxd --group root` daemon in a network namespace of its own (`running_lxd`:
tests/support/own-netns, only `lo`, so it sends nothing off the machine), and the bare
Django+DRF app under gunicorn.
"""

import contextlib
import http.client
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.live_server import REPO_ROOT, running_server, unix_request
from tests.support.real_lxd import running_lxd

from .client import Target, unix_socket_pid

POSTGRES_ADMIN_URL = os.environ.get("LXDSITE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# The worker count `serve` uses by default; the bare app gets the same.
WORKERS = 2
THREADS = 4


@contextlib.contextmanager
def postgres_database():
    """A new PostgreSQL database for one lxdsite server; its URL. Dropped afterwards."""
    import psycopg

    name = f"lxdsite_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def lxdsite(name, *, postgres=False, workers=WORKERS, env=None, bind=None):
    """`manage.py serve` on a fresh LXD_DIR (``env`` laid over the environment, also on TCP
    at ``bind``); a Target for its unix socket."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{name}-")))
        env = dict(env or {})
        if postgres:
            env["DATABASE_URL"] = stack.enter_context(postgres_database())
        server = stack.enter_context(
            running_server(tmp / "lxd", workers=workers, env=env, bind=bind, args=["--threads", str(THREADS)])
        )
        yield Target(name, str(server.socket_path), "lxdsite", pid=server.process.pid)


@contextlib.contextmanager
def lxd(name="lxd"):
    """The real LXD daemon on a fresh LXD_DIR, in its own network namespace (own-netns); a Target."""
    with running_lxd() as socket_path:
        yield Target(name, str(socket_path), "lxd", pid=unix_socket_pid(socket_path))


@contextlib.contextmanager
def bare(name, worker_class):
    """bench/bare_app.py under gunicorn with ``worker_class`` (gthread or sync) on a unix socket."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        socket_path = Path(tmp) / "unix.socket"
        log = Path(tmp) / "gunicorn.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            worker_class,
            "--workers",
            str(WORKERS),
            # More than one thread would turn a sync worker into gthread (gunicorn's rule).
            "--threads",
            str(THREADS if worker_class == "gthread" else 1),
            "--bind",
            f"unix:{socket_path}",
            "--error-logfile",
            str(log),
            "bench.bare_app:application",
        ]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            _wait_until_answering(socket_path, process, log)
            yield Target(name, str(socket_path), "bare", pid=process.pid)
        finally:
            process.terminate()
            process.wait(40)


def _wait_until_answering(socket_path, process, log, timeout=30):
    """Poll GET / until the server answers; fail if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if unix_request(socket_path, "GET", "/")[0] == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s")
