"""GETs while other clients hold connections: the figures of issue 12's "no client stalls the others".

One lxdsite serves a unix socket and TCP. GET /1.0 is measured on both, first idle, then with
``SLOW`` TCP clients sending their headers one byte every 2 s and ``LISTENERS`` ``/1.0/events``
WebSockets open. LXD serves each connection on a goroutine; lxdsite's event loop should keep
the loaded p50/p99 near the idle ones.
"""

from tests.support.live_server import free_port
from tests.support.slow_clients import event_listeners, slow_header_clients

from . import servers
from .client import Target
from .workloads import Workload, get

SLOW = 200
LISTENERS = 200


def _workload(name):
    return Workload(name, lambda fx: get("/1.0"), kinds=("lxdsite",), clients=(1, 8), expect={"lxdsite": 200})


def measure_stalls(bench, stack, progress):
    """Rows of section "stall": GET /1.0 idle and under load, on the unix socket and over TCP."""
    port = free_port()
    unix = stack.enter_context(servers.lxdsite("lxdsite unix", bind=f"127.0.0.1:{port}"))
    tcp = Target("lxdsite tcp", f"http://127.0.0.1:{port}", "lxdsite", pid=unix.pid)
    progress(f"stall: GET /1.0 idle, then with {SLOW} slow-header clients and {LISTENERS} listeners")
    bench.run("stall", _workload("GET /1.0 idle"), [unix, tcp])
    with slow_header_clients(("127.0.0.1", port), SLOW), event_listeners(unix.address, LISTENERS):
        bench.run("stall", _workload(f"GET /1.0, {SLOW} slow + {LISTENERS} listeners"), [unix, tcp])
