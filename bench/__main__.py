"""Benchmark lxdsite against the real LXD 5.0.2 daemon (or any LXD API), side by side in one run.

    .venv/bin/python -m bench                  # starts lxdsite, lxd and the bare-stack apps itself
    .venv/bin/python -m bench --quick          # a smoke run: short rounds, no 10,000 lists, no 1 GiB
    .venv/bin/python -m bench --target lxdsite=/var/lib/lxdsite/unix.socket --target lxd=/var/lib/lxd/unix.socket
    .venv/bin/python -m bench --docs           # also write docs/performance.md and docs/performance.png

The targets are measured in interleaved rounds (lxdsite, lxd, lxdsite, lxd, ...); each round
is a number of client threads sending requests for a few seconds, each request on a new
connection as lxc makes them (--keep-alive: one connection per client). The table gives the
median requests/s over the rounds, the p50 and p99 latency over all their requests, the
peak RSS of the server's process tree, and the ratio to LXD.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from . import docs, servers, stalls, workloads
from .client import Target, run_load, send, unix_socket_pid
from .report import add_ratios, summarise, text_table

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Targets started when --target is not given; --postgres adds lxdsite-pg.
STARTABLE = {
    "lxdsite": lambda: servers.lxdsite("lxdsite"),
    "lxdsite-pg": lambda: servers.lxdsite("lxdsite-pg", postgres=True),
    # Every GET read and shown anew, as the first GET after a write is (response_cache.py).
    "lxdsite-uncached": lambda: servers.lxdsite("lxdsite-uncached", env={"LXDSITE_RESPONSE_CACHE_MB": "0"}),
    "lxd": lambda: servers.lxd("lxd"),
    "bare-gthread": lambda: servers.bare("bare-gthread", "gthread"),
    "bare-sync": lambda: servers.bare("bare-sync", "sync"),
}
DEFAULT_START = "lxdsite,lxdsite-uncached,lxd,bare-gthread,bare-sync"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=ADDRESS",
        help="A server to measure: a unix socket path or an http(s):// URL. A NAME starting with "
        "'lxdsite' is lxdsite (10,000-object lists, 304 expected), 'bare' the bare stack, anything "
        "else LXD. Nothing is started when given. The run leaves its bench-* profiles, instances and "
        "image there, and a storage pool 'default' (if it had none) and a root disk in the "
        "default profile.",
    )
    parser.add_argument("--start", default=DEFAULT_START, help=f"Servers to start (default {DEFAULT_START}).")
    parser.add_argument("--postgres", action="store_true", help="Also start lxdsite on PostgreSQL (lxdsite-pg).")
    parser.add_argument("--baseline", default="lxd", help="The target the ratios divide by (default lxd).")
    parser.add_argument("--quick", action="store_true", help="Short rounds, small uploads, no 10,000 lists or 1 GiB.")
    parser.add_argument("--rounds", type=int, help="Rounds per workload and target (default 5, quick 2).")
    parser.add_argument("--seconds", type=float, help="Length of a round (default 3, quick 0.4).")
    parser.add_argument("--objects", type=int, default=200, help="Objects in the lists every target serves.")
    parser.add_argument("--many", type=int, default=10_000, help="Objects in the lists of lxdsite only.")
    parser.add_argument("--upload-mib", type=int, help="Size of the uploaded images (default 256, quick 8).")
    parser.add_argument("--memory-mib", type=int, default=1024, help="The image whose upload memory is measured.")
    parser.add_argument("--no-scale", action="store_true", help="Skip serve --workers 1 vs 2 on PostgreSQL.")
    parser.add_argument(
        "--no-stall", action="store_true", help="Skip GETs under 200 slow clients and 200 event listeners."
    )
    parser.add_argument("--only-stall", action="store_true", help="Measure only the GETs under slow clients.")
    parser.add_argument("--keep-alive", action="store_true", help="One connection per client, not per request.")
    parser.add_argument("--token", help="Authorization: Bearer token for http(s) targets.")
    parser.add_argument("--cert", help="TLS client certificate (PEM) for https targets, as LXD wants.")
    parser.add_argument("--key", help="The private key of --cert.")
    parser.add_argument("--docs", action="store_true", help="Write docs/performance.md and docs/performance.png.")
    parser.add_argument("--json", type=Path, help="Write the rows as JSON here.")
    args = parser.parse_args(argv)
    unknown = set(args.start.split(",")) - set(STARTABLE) - {""}
    if unknown:
        parser.error(f"--start: unknown {', '.join(sorted(unknown))}; known: {', '.join(STARTABLE)}")
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.seconds = args.seconds or (0.4 if args.quick else 3.0)
    args.upload_mib = args.upload_mib or (8 if args.quick else 256)
    return args


def given_target(spec, args):
    """A Target from NAME=ADDRESS."""
    name, _, address = spec.partition("=")
    if not address:
        raise SystemExit(f"--target {spec}: expected NAME=ADDRESS")
    kind = "lxdsite" if name.startswith("lxdsite") else "bare" if name.startswith("bare") else "lxd"
    target = Target(name, address, kind)
    if address.startswith(("http://", "https://")):
        if args.token:
            target.headers["Authorization"] = f"Bearer {args.token}"
        if address.startswith("https://"):
            import ssl

            # LXD and lxdsite serve self-signed certificates; lxc pins them, this client trusts them.
            target.ssl_context = ssl._create_unverified_context()
            if args.cert:
                target.ssl_context.load_cert_chain(args.cert, args.key)
    else:
        target.pid = unix_socket_pid(address)
    return target


def progress(message):
    print(message, file=sys.stderr, flush=True)


class Benchmark:
    """Runs workloads on targets in interleaved rounds and collects the rows."""

    def __init__(self, args):
        self.args = args
        self.rows = []
        self.fixtures = {}
        self.notes = {}

    def prepare(self, targets):
        """The fixtures of every target but the bare apps (workloads.prepare)."""
        for target in targets:
            if target.kind != "bare":
                self.fixtures[target.name] = workloads.prepare(target, clients=8)

    def fill(self, targets, count):
        """Bring the profiles and instances of ``targets`` to ``count``; note how long it took."""
        for target in targets:
            for collection in ("profiles", "instances"):
                began = time.perf_counter()
                workloads.fill(target, collection, count)
                seconds = time.perf_counter() - began
                self.notes[f"fill {target.name} {collection} {count}"] = seconds
                progress(f"{target.name}: {count:,} {collection} ({seconds:.0f} s through the API, 8 clients)")

    def run(self, section, workload, targets, rounds=None):
        """Every client count of ``workload``: interleaved rounds on the targets of its kinds."""
        targets = [target for target in targets if target.kind in workload.kinds]
        requests = {target.name: workload.make(self.fixtures.get(target.name)) for target in targets}
        for clients in workload.clients:
            measured = {target.name: [] for target in targets}
            for _ in range(rounds or self.args.rounds):
                for target in targets:
                    measured[target.name].append(
                        run_load(
                            target,
                            requests[target.name],
                            clients=clients,
                            seconds=None if workload.per_client else self.args.seconds,
                            per_client=workload.per_client,
                            keep_alive=self.args.keep_alive,
                        )
                    )
                    if workload.after_round:
                        workload.after_round(target, self.fixtures[target.name])
            for target in targets:
                row = summarise(section, workload, clients, target, measured[target.name])
                self.rows.append(row)
                progress(f"  {workload.name:28} {clients} {target.name:14} {row.rate:9.1f}/s  {dict(row.statuses)}")


def measure_all(bench, targets, tmp):
    """The single-object workloads, the lists, the uploads, and (unless quick) 10,000 objects and 1 GiB."""
    args = bench.args
    apis = [target for target in targets if target.kind != "bare"]
    lxdsites = [target for target in targets if target.kind == "lxdsite"]
    progress("preparing: storage pool, tiny image, instance, profiles")
    bench.prepare(targets)
    # Single objects first, while one instance uses the default profile (its used_by is short).
    for workload in workloads.object_workloads():
        bench.run("main", workload, targets)
    bench.fill(apis, args.objects)
    for workload in workloads.list_workloads(args.objects):
        bench.run("main", workload, targets)
    bench.run("main", workloads.upload_workload(workloads.ImageFile(tmp, args.upload_mib << 20)), targets)
    if args.quick:
        return
    # Before the 10,000-object lists: rendering those grows the workers by hundreds of MiB, which
    # they keep, and an upload could then reuse that memory without any growth to see.
    memory = workloads.upload_workload(workloads.ImageFile(tmp, args.memory_mib << 20), clients=(1,))
    bench.run("memory", memory, apis, rounds=1)
    if lxdsites:
        bench.fill(lxdsites, args.many)
        for workload in workloads.list_workloads(args.many, kinds=("lxdsite",)):
            bench.run("main", workload, lxdsites)


def measure_scale_out(bench, stack):
    """GET and If-Match PUT at 8 clients on PostgreSQL with serve --workers 1 and --workers 2."""
    progress("scale-out: serve --workers 1 and --workers 2 on PostgreSQL")
    scale = [
        stack.enter_context(servers.lxdsite(f"lxdsite-pg-w{workers}", postgres=True, workers=workers))
        for workers in (1, 2)
    ]
    bench.prepare(scale)
    for workload in workloads.object_workloads():
        if workload.name in ("GET profile", "PUT If-Match"):
            workload.clients = (8,)
            bench.run("scale-out", workload, scale)


def print_tables(rows, baseline):
    """A table per section, with the ratios; then every row whose answers were wrong."""
    for section, base in (("main", baseline), ("memory", None), ("scale-out", "lxdsite-pg-w1"), ("stall", None)):
        section_rows = [row for row in rows if row.section == section]
        if base:
            add_ratios(section_rows, base)
        if section_rows:
            print(f"\n{section}\n" + text_table(section_rows))
    wrong = [row for row in rows if row.expected is not None and set(row.statuses) != {row.expected}]
    for row in wrong:
        print(f"WRONG ANSWERS: {row.workload} on {row.target}: {dict(row.statuses)}, expected only {row.expected}")
    return wrong


def main(argv=None):
    args = parse_args(argv)
    started_at, load_before, measured_commit = time.time(), os.getloadavg(), docs.commit()
    bench = Benchmark(args)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        if args.only_stall:
            stalls.measure_stalls(bench, stack, progress)
            targets = []
        elif args.target:
            targets = [given_target(spec, args) for spec in args.target]
        else:
            names = [name for name in args.start.split(",") if name] + (["lxdsite-pg"] if args.postgres else [])
            progress(f"starting {', '.join(names)}")
            targets = [stack.enter_context(STARTABLE[name]()) for name in names]
        if targets:
            measure_all(bench, targets, tmp)
        versions = {
            target.name: send(target, "GET", "/1.0")[2]["metadata"]["environment"].get("server_version", "")
            for target in targets
            if target.kind != "bare"
        }
        if not (args.no_scale or args.target or args.only_stall):
            measure_scale_out(bench, stack)
        if not (args.no_stall or args.target or args.only_stall):
            stalls.measure_stalls(bench, stack, progress)

    wrong = print_tables(bench.rows, args.baseline)
    run = docs.RunInfo(
        started_at=started_at,
        seconds=time.time() - started_at,
        load=(load_before, os.getloadavg()),
        args=args,
        versions=versions,
        notes=bench.notes,
        commit=measured_commit,
    )
    if args.json:
        rows = [{**asdict(row), "statuses": dict(row.statuses)} for row in bench.rows]
        args.json.write_text(json.dumps(rows, indent=1))
    if args.docs:
        docs.write(DOCS / "performance.md", DOCS / "performance.png", bench.rows, run)
        progress(f"wrote {DOCS / 'performance.md'} and {DOCS / 'performance.png'}")
    progress(f"done in {run.seconds / 60:.1f} min")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
