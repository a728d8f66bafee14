"""The load generator: requests from client threads, their latencies, and the server's memory.

Each request opens a new connection, as lxc does (its Go client dials the unix socket per
request unless it reuses an idle one); `keep_alive=True` keeps one connection per client
thread instead. A target is a unix socket path or an http(s) URL.
"""

import http.client
import json
import socket
import ssl
import statistics
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.live_server import UnixHTTPConnection

# How often the memory sampler reads /proc while a workload runs.
RSS_POLL_SECONDS = 0.01


@dataclass
class Target:
    """An LXD API to measure: its name in the tables, its address and what kind of server it is.

    ``kind`` is ``lxdsite``, ``lxd`` or ``bare`` (the bare-stack ceiling); it decides which
    workloads apply. ``pid`` is the server's main process, whose tree the memory figures cover.
    """

    name: str
    address: str
    kind: str
    pid: int | None = None
    headers: dict = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None

    def connection(self, timeout=600):
        """A new, unconnected HTTP connection to the target."""
        if not self.address.startswith(("http://", "https://")):
            return UnixHTTPConnection(self.address, timeout=timeout)
        url = urlsplit(self.address)
        if url.scheme == "https":
            return http.client.HTTPSConnection(
                url.hostname, url.port or 8443, timeout=timeout, context=self.ssl_context
            )
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)


def unix_socket_pid(path):
    """The pid of the process that listens on a unix socket (SO_PEERCRED), or None."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return None
        pid, _uid, _gid = struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid


def send(target, method, path, body=None, headers=None, connection=None, decode=True):
    """One request: (status, headers, JSON body or None). A new connection unless one is given.

    ``body`` is a dict or list (sent as JSON), bytes, or an iterable of bytes (then
    ``headers`` must carry its Content-Length). ``decode=False`` reads the answer without
    parsing it (None): parsing a 200-instance list costs the client more CPU than the
    fastest server spends on it, on the cores the servers share.
    """
    headers = {**target.headers, **(headers or {})}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    own = connection is None
    connection = connection or target.connection()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        raise
    finally:
        if own:
            connection.close()
    if not decode:
        return response.status, response.headers, None
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    return response.status, response.headers, payload


def wait_operation(target, answer):
    """Wait for the background operation of a 202 answer; its final metadata (raises on failure)."""
    status, _headers, body = answer
    if status != 202:
        raise RuntimeError(f"expected an operation, got {status}: {body}")
    status, _headers, body = send(target, "GET", body["operation"] + "/wait?timeout=600")
    operation = body["metadata"]
    if operation["status"] != "Success":
        raise RuntimeError(f"operation failed: {operation['err']}")
    return operation


def _proc_status(pid):
    """The fields of /proc/PID/status, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _kib(value):
    return int(value.split()[0]) if value else 0


def process_tree(pid):
    """``pid`` and all its descendants (read from every process's PPid)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            status = _proc_status(entry.name)
            if status:
                children.setdefault(int(status["PPid"]), []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


class MemorySampler:
    """Polls the summed VmRSS of a server's process tree while a workload runs.

    ``peak`` is the largest sum seen, ``baseline`` the sum before the workload (KiB). VmHWM,
    the kernel's own per-process peak, catches a spike between two polls: ``hwm_growth`` is
    the sum of each process's VmHWM rise (a process born during the run counts whole).
    """

    def __init__(self, pid):
        self.pid = pid
        self.tree = process_tree(pid) if pid else []
        self.baseline = self.peak = self._rss()
        self._hwm_start = self._hwm()
        self.hwm_growth = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _rss(self):
        return sum(_kib((_proc_status(pid) or {}).get("VmRSS")) for pid in self.tree)

    def _hwm(self):
        return {pid: _kib((_proc_status(pid) or {}).get("VmHWM")) for pid in self.tree}

    def _poll(self):
        rescan = time.monotonic() + 0.5
        while not self._stop.wait(RSS_POLL_SECONDS):
            self.peak = max(self.peak, self._rss())
            # Gunicorn replaces workers and LXD forks helpers: look for new processes now and then.
            if time.monotonic() > rescan:
                self.tree = process_tree(self.pid)
                rescan = time.monotonic() + 0.5

    def __enter__(self):
        if self.pid:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.pid:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())
            end = self._hwm()
            self.hwm_growth = sum(max(0, end[pid] - self._hwm_start.get(pid, 0)) for pid in end)


@dataclass
class Round:
    """One measurement: how many requests finished in how long, their latencies and statuses."""

    requests: int
    seconds: float
    latencies: list
    statuses: Counter
    peak_rss_kib: int
    rss_growth_kib: int
    # CPU time of this (client) process per second of the round: 1.0 is one core busy.
    client_cpu: float

    @property
    def rate(self):
        return self.requests / self.seconds if self.seconds else 0.0


def run_load(target, request, *, clients, seconds=None, per_client=None, keep_alive=False):
    """Run ``request(target, client, index, connection)`` from ``clients`` threads; a Round.

    Each thread repeats until ``seconds`` have passed (at least once) or ``per_client``
    requests are done. ``request`` returns the HTTP status; the latency covers the call. A
    request that raises counts as the status "error" and not in the rate.
    """
    latencies = [[] for _ in range(clients)]
    statuses = [Counter() for _ in range(clients)]
    errors = []
    start_line = threading.Barrier(clients + 1)

    def client(number):
        connection = target.connection() if keep_alive else None
        start_line.wait()
        deadline = time.perf_counter() + seconds if seconds else None
        index = 0
        while True:
            began = time.perf_counter()
            try:
                status = request(target, number, index, connection)
                latencies[number].append(time.perf_counter() - began)
            except Exception as error:  # counted with the answers, so a wrong run shows in the table
                status = "error"
                errors.append(error)
            statuses[number][status] += 1
            index += 1
            if per_client is not None and index >= per_client:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    with MemorySampler(target.pid) as memory:
        start_line.wait()
        began, cpu = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.join()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    if errors:
        print(f"{target.name}: {len(errors)} requests failed, the first with {errors[0]!r}", file=sys.stderr)
    growth = max(memory.peak - memory.baseline, memory.hwm_growth)
    return Round(
        requests=sum(len(each) for each in latencies),
        seconds=elapsed,
        latencies=[value for each in latencies for value in each],
        statuses=sum(statuses, Counter()),
        peak_rss_kib=memory.peak,
        rss_growth_kib=growth,
        client_cpu=cpu / elapsed,
    )


def percentile(values, fraction):
    """The ``fraction`` quantile of ``values`` (inclusive method), or 0 for none."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]
