"""Figures from the rounds: the table printed and written to docs/performance.md, and the plot."""

import statistics
from collections import Counter
from dataclasses import dataclass

from .client import percentile

COLUMNS = ["workload", "clients", "target", "req/s", "p50 ms", "p99 ms", "peak RSS MiB", "ratio", "answers"]


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
    objects: int | None = None
    # The one status every answer must have, when the workload expects one for this kind.
    expected: int | None = None
    ratio: float | None = None
    ratio_to: str = ""

    def cells(self):
        """The row as the table's text cells."""
        answers = " ".join(f"{status}:{count}" for status, count in sorted(self.statuses.items()))
        return [
            self.workload,
            str(self.clients),
            self.target,
            f"{self.rate:.1f}" if self.rate < 100 else f"{self.rate:.0f}",
            f"{self.p50_ms:.1f}",
            f"{self.p99_ms:.1f}",
            "-" if self.peak_rss_mib is None else f"{self.peak_rss_mib:.0f}",
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
    numeric = {3, 4, 5, 6}
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
    """Throughput against object count (recursion=1 lists) and against client count, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (by_objects, by_clients) = pyplot.subplots(1, 2, figsize=(12, 4.8))
    main = [row for row in rows if row.section == "main"]
    for collection in ("profiles", "instances"):
        for target in sorted({row.target for row in main if row.kind != "bare"}):
            for clients in (1, 8):
                points = sorted(
                    (row.objects, row.rate)
                    for row in main
                    if row.target == target and row.clients == clients and row.workload.startswith(f"list {collection}")
                )
                if points:
                    by_objects.plot(
                        *zip(*points, strict=True),
                        marker="o",
                        label=f"{target} {collection}, {clients} client{'s' if clients > 1 else ''}",
                    )
    by_objects.set(
        xscale="log",
        yscale="log",
        xlabel="objects in the list",
        ylabel="requests/s",
        title="GET /1.0/<collection>?recursion=1",
    )
    by_objects.set_xticks([200, many], [f"{200:,}", f"{many:,}"])
    by_objects.legend(fontsize="small")

    for workload in ("GET profile", "PUT If-Match"):
        for target in sorted({row.target for row in main}):
            points = sorted(
                (row.clients, row.rate) for row in main if row.target == target and row.workload == workload
            )
            if len(points) > 1:
                by_clients.plot(*zip(*points, strict=True), marker="o", label=f"{target}: {workload}")
    by_clients.set(xlabel="concurrent clients", ylabel="requests/s", title="Throughput by client count", xticks=[1, 8])
    by_clients.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
