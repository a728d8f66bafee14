"""Faults: a worker killed mid-burst, a database that goes away and comes back.

The in-process tests pin the 503 envelope a database error becomes; the live ones kill a
gunicorn worker with SIGKILL during writes and uploads, and stop and restart a private
PostgreSQL cluster under load.
"""

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError

from resources.images import recover_uploads
from resources.models import Image
from tests.support.image_files import unified_image
from tests.support.images import make_image
from tests.support.live_server import free_port, running_server
from tests.support.workers import worker_pids

DATABASE_UNAVAILABLE = {
    "type": "error",
    "status": "",
    "status_code": 0,
    "operation": "",
    "error_code": 503,
    "error": "Database unavailable, try again later",
    "metadata": None,
}


# The database errors become 503 envelopes ------------------------------------------------------


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
@pytest.mark.django_db
def test_a_database_error_in_a_view_is_a_503_envelope(api, monkeypatch, error):
    def unreachable(self):
        raise error("connection to server at 10.0.0.1, port 5432 failed: Connection refused")

    monkeypatch.setattr("resources.api.profiles.ProfileViewSet.get_queryset", unreachable)

    response = api.get("/1.0/profiles?recursion=1")

    assert response.status_code == 503
    assert response.json() == DATABASE_UNAVAILABLE
    assert response.headers["Retry-After"] == "1"


@pytest.mark.django_db
def test_a_database_error_opening_a_writes_transaction_is_a_503_envelope(api, profile, monkeypatch):
    @contextlib.contextmanager
    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")
        yield

    monkeypatch.setattr("resources.api.conditional.transaction.atomic", unreachable)

    response = api.patch("/1.0/profiles/p1", {"description": "x"})

    assert response.status_code == 503
    assert response.json() == DATABASE_UNAVAILABLE
    assert response.headers["Retry-After"] == "1"


# SIGKILL a worker mid-burst ----------------------------------------------------------------------


def _open_uploads(pid, images_dir):
    """The temporary upload files process ``pid`` holds open."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = Path(os.readlink(fd))
            if target.parent == images_dir and target.name.startswith(".upload-"):
                found.add(target.name)
    return found


def _stalled_upload(socket_path, image):
    """Start an upload that sends half its body and waits: the worker holds a temporary file.

    Chunked, as lxc sends uploads: a body of unknown length is read as it arrives (a small
    one with a Content-Length would be read whole before the request starts)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(str(socket_path))
    head = b"POST /1.0/images HTTP/1.1\r\nHost: lxd\r\nTransfer-Encoding: chunked\r\n\r\n"
    half = image[: len(image) // 2]
    connection.sendall(head + f"{len(half):x}\r\n".encode() + half + b"\r\n")
    return connection


def _profile_writer(server, name, stop, results):
    """PUT the profile over and over; description, user.a and user.b always carry the same token."""
    while not stop.is_set():
        token = uuid.uuid4().hex
        body = {"description": token, "config": {"user.a": token, "user.b": token}, "devices": {}}
        try:
            status = server.request("PUT", f"/1.0/profiles/{name}", body)[0]
        except (OSError, http.client.HTTPException):
            status = "dropped"
        results.append((time.monotonic(), status))


def _uploader(server, stop, results):
    """Upload small images one after another."""
    while not stop.is_set():
        try:
            status, _, body = server.request("POST", "/1.0/images", unified_image())
            status = (status, body["metadata"]["status"])
        except (OSError, http.client.HTTPException, TypeError):
            status = "dropped"
        results.append((time.monotonic(), status))


def _assert_consistent(server, images_dir):
    """Every profile carries one token throughout; every image row has its file and every file its row.

    An upload being committed has its files staged as ``.pending-<pid>-<name>`` (and a worker
    killed between the commit and the rename leaves them until the master installs them): they count.
    """
    status, _, body = server.request("GET", "/1.0/profiles?recursion=1")
    assert status == 200
    for profile in body["metadata"]:
        if profile["name"] != "default":
            config = profile["config"]
            assert config["user.a"] == config["user.b"] == profile["description"], profile
    status, _, body = server.request("GET", "/1.0/images?recursion=1")
    assert status == 200
    rows = {image["fingerprint"] for image in body["metadata"]}
    files = {re.sub(r"^\.pending-\d+-", "", path.name) for path in images_dir.iterdir()}
    assert rows == {name for name in files if not name.startswith(".upload-")}


@pytest.mark.live
def test_sigkill_of_a_worker_mid_burst_leaves_no_half_written_object(tmp_path):
    lxd_dir = tmp_path / "lxd"
    images_dir = lxd_dir / "images"
    with running_server(lxd_dir, workers=2) as server:
        names = [f"p{index}" for index in range(4)]
        for name in names:
            token = "seed"
            body = {"name": name, "description": token, "config": {"user.a": token, "user.b": token}}
            assert server.request("POST", "/1.0/profiles", body)[0] == 201
        workers = worker_pids(server, 2)
        assert len(workers) == 2
        # Half-sent uploads until one worker holds a temporary file: that one is killed.
        stalled, victim = [], None
        for _ in range(8):
            stalled.append(_stalled_upload(server.socket_path, unified_image()))
            deadline = time.monotonic() + 5
            while victim is None and time.monotonic() < deadline:
                victim = next((pid for pid in workers if _open_uploads(pid, images_dir)), None)
                time.sleep(0.02)
            if victim is not None:
                break
        assert victim is not None, "no worker took the upload"
        orphans = _open_uploads(victim, images_dir)

        stop, results = threading.Event(), []
        threads = [threading.Thread(target=_profile_writer, args=(server, name, stop, results)) for name in names]
        threads += [threading.Thread(target=_uploader, args=(server, stop, results)) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(30)
        for connection in stalled:
            connection.close()

        # Gunicorn replaced the worker, and the burst went on being served after the kill.
        replaced = worker_pids(server, 2, without={victim})
        assert victim not in replaced
        assert len(replaced) == 2
        assert any(at < killed_at for at, _ in results), "the burst had not started"
        after = [status for at, status in results if at > killed_at + 1]
        assert after, "nothing was sent after the kill"
        assert all(status in (200, (202, "Success")) for status in after), after
        _assert_consistent(server, images_dir)
        # The master removed the dead worker's temporary files when it replaced it.
        assert orphans
        left = {path.name for path in images_dir.glob(".upload-*")}
        assert not orphans & left

    with running_server(lxd_dir, workers=2) as server:
        assert not list(images_dir.glob(".*"))
        _assert_consistent(server, images_dir)
        assert server.request("GET", "/1.0/profiles/p0")[0] == 200


# Stop and restart PostgreSQL under load ------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temporary directory, on a port of its own."""

    def __init__(self, directory, port):
        self.directory = directory
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/lxdsite"

    def _run(self, *command):
        # initdb refuses to run as root: run the cluster as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def pg_ctl(self, *args):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.directory / "data"), "-l", str(self.directory / "log"),
                  "-o", options, "-w", *args)  # fmt: skip

    def start(self):
        self.pg_ctl("start")

    def stop(self):
        """A fast shutdown: sessions are cut off, as when the server goes away."""
        self.pg_ctl("stop", "-m", "fast")


def _pg_bin(name):
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        pytest.skip("PostgreSQL server binaries are not installed")
    return str(candidates[-1])


@contextlib.contextmanager
def private_postgres():
    """initdb in a temporary directory and start it on a free port; never the machine's cluster."""
    import psycopg

    directory = Path(tempfile.mkdtemp(prefix="lxdsite-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = PrivatePostgres(directory, free_port())
    try:
        cluster._run(_pg_bin("initdb"), "-D", str(directory / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        cluster.start()
        admin_url = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE lxdsite")
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(directory, ignore_errors=True)


def _load(server, stop, results):
    """GET and PATCH a profile in turn, recording (time, status, body)."""
    while not stop.is_set():
        for method, body in (("GET", None), ("PATCH", {"description": uuid.uuid4().hex})):
            try:
                status, _, payload = server.request(method, "/1.0/profiles/default", body)
            except (OSError, http.client.HTTPException) as exc:
                status, payload = "dropped", repr(exc)
            results.append((time.monotonic(), status, payload))
        time.sleep(0.01)


@pytest.mark.live
def test_the_master_installs_what_a_worker_killed_mid_commit_staged(tmp_path):
    """A worker killed after its upload's row committed, before the rename, leaves the file
    staged under its pid: the master installs it when the worker dies, not at the next start."""
    lxd_dir = tmp_path / "lxd"
    images_dir = lxd_dir / "images"
    with running_server(lxd_dir, workers=2) as server:
        status, _, body = server.request("POST", "/1.0/images", unified_image())
        assert (status, body["metadata"]["status"]) == (202, "Success")
        fingerprint = body["metadata"]["metadata"]["fingerprint"]
        victim = min(worker_pids(server, 2))
        # The state a kill between the commit and the rename leaves, under the victim's pid.
        os.replace(images_dir / fingerprint, images_dir / f".pending-{victim}-{fingerprint}")
        assert server.request("GET", f"/1.0/images/{fingerprint}/export")[0] == 404

        os.kill(victim, signal.SIGKILL)
        worker_pids(server, 2, without={victim})

        assert sorted(os.listdir(images_dir)) == [fingerprint]
        assert server.request("GET", f"/1.0/images/{fingerprint}/export")[0] == 200


@pytest.mark.live
def test_postgres_restart_under_load_is_503_then_recovers(tmp_path):
    with private_postgres() as cluster, running_server(tmp_path / "lxd", env={"DATABASE_URL": cluster.url}) as server:
        stop, results = threading.Event(), []
        threads = [threading.Thread(target=_load, args=(server, stop, results)) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)
            stopping_at = time.monotonic()
            cluster.stop()
            down_at = time.monotonic()
            time.sleep(2)
            up_from = time.monotonic()
            cluster.start()
            up_at = time.monotonic()
            time.sleep(2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)

        before = [status for at, status, _ in results if at < stopping_at]
        down = [(status, payload) for at, status, payload in results if down_at < at < up_from]
        after = [(status, payload) for at, status, payload in results if at > up_at + 0.5]
        assert before
        assert down
        assert after
        assert set(before) == {200}
        # While it is down: LXD's error envelope, 503, and a message that says why.
        assert all(status == 503 and payload == DATABASE_UNAVAILABLE for status, payload in down), down[:5]
        # Back up: the same server process serves again, no restart.
        assert all(status == 200 for status, _ in after), after[:5]
        assert server.process.poll() is None
        assert "Traceback" not in server.log()


# An upload's files are staged before its row commits -------------------------------------------


@pytest.mark.django_db
def test_upload_files_are_staged_before_the_commit_and_installed_after(
    api, images_dir, django_capture_on_commit_callbacks
):
    data = unified_image()
    fingerprint = hashlib.sha256(data).hexdigest()

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.generic("POST", "/1.0/images", data, content_type="application/octet-stream")
        assert response.status_code == 202
        # The row is written and its file waits under the pending name until the commit.
        assert Image.objects.filter(fingerprint=fingerprint).exists()
        assert sorted(os.listdir(images_dir)) == [f".pending-{os.getpid()}-{fingerprint}"]
    for callback in callbacks:
        callback()

    assert sorted(os.listdir(images_dir)) == [fingerprint]


@pytest.mark.django_db
def test_start_installs_the_staged_files_of_committed_images_and_removes_the_rest(images_dir):
    committed = make_image("ab" * 32, filename="", size=1)
    images_dir.mkdir()
    (images_dir / f".pending-{committed.fingerprint}").write_bytes(b"committed")
    (images_dir / f".pending-{'cd' * 32}").write_bytes(b"rolled back")
    (images_dir / ".upload-0123").write_bytes(b"half an upload")
    (images_dir / ("ef" * 32)).write_bytes(b"an image")

    recover_uploads()

    assert sorted(os.listdir(images_dir)) == sorted([committed.fingerprint, "ef" * 32])
    assert (images_dir / committed.fingerprint).read_bytes() == b"committed"
