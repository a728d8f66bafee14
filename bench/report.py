"""Figures from the rounds: the table printed and written to docs/performance.md, and the plot."""

import statistics
from collections import Counter
from dataclasses import dataclass

from .client import percentile

COLUMNS = [
    "workload",
    "clients",
    "target",
    "req/s",
    "p50 ms",
    "p99 ms",
    "peak RSS MiB",
    "growth MiB",
    "client CPU",
    "ratio",
    "answers",
]


@dataclass
class Row:
    """One workload at one client count on one target, summarised over its rounds."""

    section: str
    workload: str
    clients: int
    target: str
    kind: str
    rounds: int
    rate: float
    p50_ms: float
    p99_ms: float
    peak_rss_mib: float | None
    rss_growth_mib: float | None
    statuses: Counter
    client_cpu: float = 0.0
    objects: int | None = None
    # The one status every answer must have, when the workload expects one for this kind.
    expected: int | None = None
    ratio: float | None = None
    ratio_to: str = ""

    def cells(self):
        """The row as the table's text cells."""
        answers = " ".join(f"{status}:{count}" for status, count in sorted(self.statuses.items(), key=str))
        return [
            self.workload,
            str(self.clients),
            self.target,
            f"{self.rate:.1f}" if self.rate < 100 else f"{self.rate:.0f}",
            f"{self.p50_ms:.1f}",
            f"{self.p99_ms:.1f}",
            "-" if self.peak_rss_mib is None else f"{self.peak_rss_mib:.0f}",
            "-" if self.rss_growth_mib is None else f"{self.rss_growth_mib:.0f}",
            f"{self.client_cpu:.0%}",
            "" if self.ratio is None else f"{self.ratio:.2f} ({self.ratio_to})",
            answers,
        ]


def summarise(section, workload, clients, target, rounds):
    """A Row from a target's Rounds: the median rate, pooled latency percentiles, the peak RSS.

    ``workload`` is a bench.workloads.Workload.
    """
    latencies = [value for each in rounds for value in each.latencies]
    measured = target.pid is not None
    return Row(
        section=section,
        workload=workload.name,
        objects=workload.objects,
        expected=workload.expect.get(target.kind),
        clients=clients,
        target=target.name,
        kind=target.kind,
        rounds=len(rounds),
        rate=statistics.median(each.rate for each in rounds),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        peak_rss_mib=max(each.peak_rss_kib for each in rounds) / 1024 if measured else None,
        rss_growth_mib=max(each.rss_growth_kib for each in rounds) / 1024 if measured else None,
        statuses=sum((each.statuses for each in rounds), Counter()),
        client_cpu=statistics.median(each.client_cpu for each in rounds),
    )


def add_ratios(rows, baseline):
    """Each row's rate divided by the ``baseline`` target's rate for the same workload and clients."""
    rates = {(row.workload, row.clients): row.rate for row in rows if row.target == baseline}
    for row in rows:
        base = rates.get((row.workload, row.clients))
        if base and row.target != baseline:
            row.ratio, row.ratio_to = row.rate / base, baseline


def text_table(rows):
    """A plain table with aligned columns."""
    lines = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(COLUMNS))]
    numeric = {3, 4, 5, 6, 7, 8}
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def markdown_table(rows):
    """The same table in Markdown."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def plot(rows, path, *, many):
    """Throughput against object count (recursion=1 lists) and against client count, as a PNG.

    One colour per target; on the left solid lines are profiles and dashed ones instances,
    round markers 1 client and squares 8; on the right solid is GET and dashed PUT If-Match.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    main = [row for row in rows if row.section == "main"]
    targets = sorted({row.target for row in main})
    colour = {target: f"C{number}" for number, target in enumerate(targets)}
    figure, (by_objects, by_clients) = pyplot.subplots(1, 2, figsize=(13, 5))

    def series(axes, points, target, style, marker, label):
        if points:
            axes.plot(*zip(*sorted(points), strict=True), style, color=colour[target], marker=marker, label=label)

    for target in targets:
        for collection, style in (("profiles", "-"), ("instances", "--")):
            for clients, marker in ((1, "o"), (8, "s")):
                points = [
                    (row.objects, row.rate)
                    for row in main
                    if (row.target, row.clients) == (target, clients) and row.workload.startswith(f"list {collection}")
                ]
                series(by_objects, points, target, style, marker, f"{target}: {collection}, {clients} client(s)")
        for workload, style in (("GET profile", "-"), ("PUT If-Match", "--")):
            points = [(row.clients, row.rate) for row in main if (row.target, row.workload) == (target, workload)]
            series(by_clients, points, target, style, "o", f"{target}: {workload}")

    by_objects.set(xscale="log", yscale="log", xlabel="objects in the list", ylabel="requests/s")
    by_objects.set_title("GET /1.0/profiles|instances?recursion=1")
    by_objects.set_xticks([200, many], [f"{200:,}", f"{many:,}"])
    by_objects.set_xlim(100, many * 2)
    by_clients.set(xlabel="concurrent clients", ylabel="requests/s", xticks=[1, 8], ylim=(0, None))
    by_clients.set_title("GET /1.0/profiles/default and PUT with If-Match")
    for axes in (by_objects, by_clients):
        axes.grid(alpha=0.3)
        axes.legend(fontsize="x-small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
