"""docs/performance.md: the latest figures, the machine, how to reproduce, and the targets met or not."""

import datetime
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .report import add_ratios, markdown_table, plot

# What issue 7 asks of lxdsite, checked against the rows of the run.
MEMORY_LIMIT_MIB = 100
# At one client, every single-object workload at least LXD's rate (the issue aims at 1.2x).
OBJECT_WORKLOADS = (
    "GET profile",
    "GET image",
    "GET instance",
    "GET If-None-Match",
    "PUT If-Match",
    "PUT stale If-Match",
)
OBJECT_RATIO = 1.0
# Lists with recursion=1 of the objects both servers hold: at least 10x LXD's rate.
LIST_RATIO = 10.0
# The issue's bare-stack figures on this machine: a bare DRF view reaches these multiples of LXD's GET rate.
ISSUE_CEILING = {"bare-gthread": 1.2, "bare-sync": 1.4}


@dataclass
class RunInfo:
    """When and how the run was made."""

    started_at: float
    seconds: float
    load: tuple
    args: object
    versions: dict
    notes: dict
    # Read when the servers start: they run the working tree as it was then.
    commit: str = ""


def machine():
    """CPU, cores, memory, kernel and Python of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_kib = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kib / 1024**2:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def commit():
    """The lxdsite commit measured, marked when the tree had changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False
    )
    return head.stdout.strip() + (" with uncommitted changes in the tree" if dirty.stdout.strip() else "")


def _find(rows, section, workload, clients, target):
    return next(
        (r for r in rows if (r.section, r.workload, r.clients, r.target) == (section, workload, clients, target)), None
    )


def verdicts(rows):
    """(target, result, met) lines for the targets this run can check."""
    lines = []
    lxdsites = sorted({row.target for row in rows if row.kind == "lxdsite" and row.section == "main"})
    for name in lxdsites:
        for row in rows:
            if row.target != name or row.section != "main" or row.ratio is None:
                continue
            if row.workload in OBJECT_WORKLOADS and row.clients == 1:
                wanted = OBJECT_RATIO
            elif row.workload.startswith("list ") and row.ratio_to:
                wanted = LIST_RATIO
            else:
                continue
            what = f"{name}: {row.workload}, {row.clients} client(s), at least {wanted:g}x {row.ratio_to}"
            lines.append((what, f"{row.ratio:.2f}x", row.ratio >= wanted))
        for workload, status in (("GET If-None-Match", 304), ("PUT stale If-Match", 412)):
            answers = [row.statuses for row in rows if row.target == name and row.workload == workload]
            if answers:
                only = all(set(each) == {status} for each in answers)
                seen = ", ".join(" ".join(f"{s}:{n}" for s, n in sorted(each.items(), key=str)) for each in answers)
                lines.append((f"{name}: {workload} answers {status}", seen, only))
        memory = [row for row in rows if row.section == "memory" and row.target == name]
        for row in memory:
            lines.append(
                (
                    f"{name}: peak RSS growth uploading a {row.workload.split()[1]} MiB image < {MEMORY_LIMIT_MIB} MiB",
                    f"{row.rss_growth_mib:.0f} MiB",
                    row.rss_growth_mib < MEMORY_LIMIT_MIB,
                )
            )
        if not memory:
            lines.append(
                (f"{name}: peak RSS growth of a 1 GiB upload < {MEMORY_LIMIT_MIB} MiB", "not measured (--quick)", None)
            )
    return lines


def write(markdown_path, png_path, rows, run):
    """Write the Markdown page and the plot."""
    args = run.args
    started = datetime.datetime.fromtimestamp(run.started_at, datetime.UTC)
    sections = {}
    for row in rows:
        sections.setdefault(row.section, []).append(row)
    add_ratios(sections.get("main", []), args.baseline)
    add_ratios(sections.get("scale-out", []), "lxdsite-pg-w1")
    many = args.many

    out = [
        "# Performance",
        "",
        "Written by `python -m bench --docs` (`make bench`); edit the program, not this page.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; the run took {run.seconds / 60:.0f} min.",
        f"- Machine: {machine()}.",
        f"- Load average (1, 5, 15 min) before: {', '.join(f'{v:.1f}' for v in run.load[0])}; after: "
        f"{', '.join(f'{v:.1f}' for v in run.load[1])}. The machine is shared: other work running at the same "
        "time lowers every figure, interleaved rounds spread that over the targets.",
        f"- lxdsite commit: {run.commit or commit()}. Server versions (`GET /1.0`): "
        + ", ".join(f"{name} {version}" for name, version in run.versions.items())
        + ".",
        f"- {args.rounds} interleaved rounds of {args.seconds:g} s per workload, client count and target; "
        + (
            "keep-alive connections (one per client)."
            if args.keep_alive
            else "a new unix connection per request, as lxc makes them."
        ),
        "",
        "## Targets",
        "",
        "| target | this run | met |",
        "|---|---|---|",
    ]
    for name, result, met in verdicts(rows):
        out.append(f"| {name} | {result} | {'yes' if met else 'not measured' if met is None else '**no**'} |")
    out += [
        "",
        "A workload repeats the same request, so `lxdsite` answers most GETs from the answers its",
        "workers keep until the database changes (`resources/response_cache.py`): one query reads the",
        "change token that triggers renew on every write, and on the unix socket the kept bytes go out",
        "before Django runs. `lxdsite-uncached` is the same server with `LXDSITE_RESPONSE_CACHE_MB=0`:",
        "every GET reads and shows its rows, as the first GET after a write does, so its rows are the",
        "figures for write-heavy use. A write is never kept; the 412 of a stale one is, until the next",
        "write (its text names the sent tag). The targets are checked for both.",
        "",
        "The throughput targets are ratios to LXD 5.0.2 on the same workload in the same run. The",
        "bare-stack rows show the ceiling of the stack lxdsite is",
        "built on (Django + DRF under gunicorn, one APIView returning a small dict, no database). Issue 7",
        "measured that ceiling at about "
        + " and ".join(f"{ratio}x LXD's GET rate ({name})" for name, ratio in ISSUE_CEILING.items())
        + "; this run's figures:",
        "",
    ]
    for name in ISSUE_CEILING:
        for clients in (1, 8):
            bare = _find(rows, "main", "GET profile", clients, name)
            ours = _find(rows, "main", "GET profile", clients, "lxdsite")
            if bare and bare.ratio:
                share = f"; lxdsite reaches {ours.rate / bare.rate:.0%} of it" if ours else ""
                out.append(f"- {name}, {clients} client(s): {bare.rate:.0f}/s, {bare.ratio:.2f}x LXD{share}.")
    out += ["", "## Figures", "", "![throughput](performance.png)", ""]
    titles = {
        "main": f"All targets, {args.objects:,} objects per list (and {many:,} on lxdsite only)",
        "memory": "Memory: one image upload",
        "scale-out": "Scale-out on PostgreSQL: `serve --workers 1` vs `--workers 2`, 8 clients",
        "stall": "GET /1.0 on the unix socket and over TCP, idle and with 200 slow-header clients and 200 listeners",
    }
    for section, section_rows in sections.items():
        out += [f"### {titles.get(section, section)}", "", markdown_table(section_rows), ""]
    # Notes are "fill TARGET COLLECTION COUNT".
    fills = [f"{key.split()[2]} {seconds:.0f} s" for key, seconds in run.notes.items() if key.endswith(f" {many}")]
    out += [
        "Columns: median requests/s over the rounds; p50 and p99 latency over every request of every round;",
        "the peak summed VmRSS of the server's process tree (the gunicorn master and its workers, the lxd",
        "daemon and its helpers), polled every 10 ms during the rounds; the ratio to the named target; the",
        "HTTP statuses received. LXD 5.0.2 ignores If-None-Match, so its 200s there are what it answers, not a",
        "failure. A PUT If-Match round is a read-modify-write of each client's own profile with the ETag the",
        "previous write produced (lxdsite returns it, for LXD the client computes it). An upload round is one",
        "new image per client (POST /1.0/images and the wait for its operation), deleted after the round.",
        "Client CPU is the median over the rounds of the benchmark process's CPU time per second (100% = one",
        "core): the Python client shares the machine's cores with the server, so what it uses the server",
        "does not get (the bare-stack rows most of all); near 100% the client itself would be the limit.",
        "Growth (the largest of any round) is the larger of the sampled peak minus the level before the round,",
        "and the sum of every process's VmHWM rise during it. The 1 GiB upload is measured before the",
        f"{many:,}-object lists, which grow lxdsite's workers by hundreds of MiB that they keep.",
        "",
        f"The {many:,} profiles and instances were created through lxdsite's API with 8 clients ("
        + ", ".join(fills)
        + "); LXD gets only the smaller lists, creating that many containers takes too long here."
        if fills
        else "",
        "",
        "## Reproduce",
        "",
        "```",
        f"make bench                         # = .venv/bin/python -m bench --docs ({run.seconds / 60:.0f} min here)",
        ".venv/bin/python -m bench --quick   # a smoke run of a few minutes; writes nothing",
        ".venv/bin/python -m bench --target lxdsite=/path/unix.socket --target lxd=/var/lib/lxd/unix.socket",
        "```",
        "",
        "By default the program starts everything itself in temporary directories: lxdsite (`manage.py serve`,",
        "SQLite; `--postgres` adds one on PostgreSQL), the real `lxd --group root` in a network namespace of",
        "its own (`tests/support/own-netns`: only `lo`), and `bench/bare_app.py`",
        "under gunicorn gthread and sync; the scale-out servers use a PostgreSQL database made for the run",
        "on 127.0.0.1:5432 and dropped afterwards. `--help` lists the options.",
        "",
    ]
    markdown_path.write_text("\n".join(out))
    plot(rows, png_path, many=many)
