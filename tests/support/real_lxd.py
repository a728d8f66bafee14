"""The real LXD 5.0.2 daemon, started in a private LXD_DIR beside lxdsite for differential tests.

The daemon runs in a network namespace of its own (``own-netns``: only ``lo``, and its own
``/sys``): at start LXD looks up its image server and probes private subnets, and nothing here
may send traffic off the machine. Clients reach it through its unix socket; a client of its
TCP listeners runs inside the namespace (``nsenter -t PID -n CLIENT``).

Import the fixture into ``tests/conftest.py``; ``running_lxd()`` also serves scripts.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.live_server import unix_request

START_TIMEOUT = 30
# Runs a command in a fresh network and mount namespace (a copy of the workplace's shared/bin tool).
OWN_NETNS = Path(__file__).with_name("own-netns")


@contextlib.contextmanager
def running_lxd():
    """Start ``lxd`` in its own network namespace and a fresh LXD_DIR, wait until its socket
    answers, stop it afterwards."""
    lxd_dir = Path(tempfile.mkdtemp(prefix="lxd-real-"))
    # 0711, as LXD's own directory: containers fail to start under mkdtemp's 0700.
    lxd_dir.chmod(0o711)
    log = lxd_dir / "lxd.log"
    process = subprocess.Popen(
        # own-netns execs the daemon: the child's pid is lxd's, and SIGTERM reaches it.
        [str(OWN_NETNS), "lxd", "--group", "root", "--logfile", str(log)],
        env={**os.environ, "LXD_DIR": str(lxd_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    socket_path = lxd_dir / "unix.socket"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"lxd exited with {process.returncode}: {log.read_text(errors='replace')}")
            try:
                if unix_request(socket_path, "GET", "/1.0")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"lxd did not answer within {START_TIMEOUT}s")
            time.sleep(0.1)
        yield socket_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(lxd_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def real_lxd():
    """The unix socket of a real LXD 5.0.2 daemon, shared by the session."""
    if shutil.which("lxd") is None:
        pytest.fail("the lxd package is not installed: run `make deps`")
    with running_lxd() as socket_path:
        yield socket_path


# What a module may not leave on the shared daemon: one left behind changes what every later
# module compares (a pool, for one, takes lxc's first-run hint away).
DAEMON_LISTS = (
    "/1.0/storage-pools",
    "/1.0/networks",
    "/1.0/projects",
    "/1.0/profiles",
    "/1.0/instances?all-projects=true",
    "/1.0/images",
    "/1.0/network-acls",
    "/1.0/network-zones",
    "/1.0/certificates",
)


def daemon_objects(socket_path):
    """{list URL: what the daemon lists there}, and its server config."""
    listed = {url: sorted(unix_request(socket_path, "GET", url)[2]["metadata"] or []) for url in DAEMON_LISTS}
    return {**listed, "/1.0": unix_request(socket_path, "GET", "/1.0")[2]["metadata"]["config"]}


@pytest.fixture(scope="module", autouse=True)
def daemon_left_as_found(request):
    """A module that uses the shared daemon leaves it as it found it, or its last test errors
    here, naming what it left (rather than every later module failing its comparisons)."""
    module_items = [item for item in request.session.items if item.getparent(pytest.Module) is request.node]
    if not any("real_lxd" in item.fixturenames for item in module_items):
        yield
        return
    socket_path = request.getfixturevalue("real_lxd")
    before = daemon_objects(socket_path)
    yield
    after = daemon_objects(socket_path)
    left = {url: (before[url], after[url]) for url in after if after[url] != before[url]}
    assert not left, f"{request.node.name} left the shared daemon changed (before, after): {left}"
