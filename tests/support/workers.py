"""A live server's worker processes: which one serves a request, and clients that race them.

Which worker serves a request is read from the kernel (`ss -xp`: the process holding the
accepted end of the unix socket), not from anything the server says.
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.support.live_server import UnixHTTPConnection, http_request

# The profile `increment` counts in: `user.counter` of profile `p`, made by the test.
PROFILE_URL = "/1.0/profiles/p"


def worker_pids(server, count, *, without=(), timeout=30):
    """The pids of the server's `count` worker processes (the serve process's children), once gunicorn
    has booted them all; none of them in `without`, to wait for the replacement of a killed one."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    deadline = time.monotonic() + timeout
    while len(pids := {int(pid) for pid in children.read_text().split()}) != count or pids & set(without):
        assert time.monotonic() < deadline, f"workers {sorted(pids)}, not {count} outside {without}:\n{server.log()}"
        time.sleep(0.1)
    return pids


def accepting_pid(sock, timeout=10):
    """The pid of the process that accepted the other end of the unix socket `sock`."""
    inode = str(os.fstat(sock.fileno()).st_ino)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            fields = line.split()
            # u_str ESTAB 0 0 <path> <inode> * <peer inode> users:(("python",pid=N,fd=M))
            if len(fields) >= 8 and fields[7] == inode and (match := re.search(r"pid=(\d+)", line)):
                return int(match.group(1))
        # Not accepted yet: the connection waits in the listening socket's queue.
        time.sleep(0.01)
    raise LookupError("no worker accepted the connection")


def connect(server):
    """A connection to the server's unix socket, accepted by a worker; (connection, worker pid)."""
    connection = UnixHTTPConnection(server.socket_path, timeout=60)
    connection.connect()
    return connection, accepting_pid(connection.sock)


def tracked_request(server, method, path, body=None, headers=None):
    """One request on a fresh connection: (pid of the worker that served it, status, headers, JSON)."""
    connection, pid = connect(server)
    return (pid, *http_request(connection, method, path, body, headers))


@contextlib.contextmanager
def only_worker(pid, pids):
    """While inside, worker `pid` is the only one running: the others in `pids` are stopped (SIGSTOP),
    so it accepts every new connection. The kernel's own choice of worker is no test's to rely on: with
    one idle core the worker it wakes first takes every connection."""
    others = set(pids) - {pid}
    for other in others:
        os.kill(other, signal.SIGSTOP)
    try:
        yield
    finally:
        for other in others:
            os.kill(other, signal.SIGCONT)


def spread_requests(server, requests, pids, *, each=2):
    """Send each of `requests` (method, path) `each` times to every worker in `pids`.

    Returns {(method, path): [(pid, status, body), ...]}.
    """
    answers = {request: [] for request in requests}
    for pid in sorted(pids):
        with only_worker(pid, pids):
            for request in requests * each:
                served_by, status, _, body = tracked_request(server, *request)
                answers[request].append((served_by, status, body))
    return answers


def increment(server, *, if_match, url=PROFILE_URL):
    """Add one to user.counter of profile `p` (or the profile at `url`) as `lxc profile set` does
    (GET, change, PUT the whole object), retrying from the GET on 412; the number of 412s seen."""
    conflicts = 0
    while True:
        status, headers, body = server.request("GET", url)
        assert status == 200, body
        profile = body["metadata"]
        config = {**profile["config"]}
        config["user.counter"] = str(int(config["user.counter"]) + 1)
        status, _, body = server.request(
            "PUT",
            url,
            {
                "config": config,
                "description": profile["description"],
                "devices": profile["devices"],
            },
            headers={"If-Match": headers["ETag"]} if if_match else None,
        )
        if status == 412 and if_match:
            conflicts += 1
            continue
        assert status == 200, body
        return conflicts
