"""The benchmark program's quick mode against a live lxdsite: its table and its counts, never its speed."""

import json
import re

import pytest

from bench.__main__ import main

pytestmark = pytest.mark.live

WORKLOADS = [
    "GET profile",
    "GET image",
    "GET instance",
    "GET If-None-Match",
    "PUT If-Match",
    "PUT stale If-Match",
    "list profiles (200)",
    "list instances (200)",
    "upload 8 MiB image",
]


def test_quick_run_prints_a_row_per_workload_with_the_expected_answers(lxdsite_server, tmp_path, capsys):
    rows_file = tmp_path / "rows.json"

    status = main(["--quick", "--target", f"lxdsite={lxdsite_server.socket_path}", "--json", str(rows_file)])

    assert status == 0
    table = capsys.readouterr().out
    for workload in WORKLOADS:
        for clients in (1, 8):
            assert re.search(rf"^{re.escape(workload)}\s+{clients}\s+lxdsite\s+\d", table, re.MULTILINE), workload
    rows = {(row["workload"], row["clients"]): row for row in json.loads(rows_file.read_text())}
    assert set(rows) == {(workload, clients) for workload in WORKLOADS for clients in (1, 8)}
    for row in rows.values():
        assert row["rate"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        # The server's process tree, found through the socket's peer credentials.
        assert row["peak_rss_mib"] > 10
    for clients in (1, 8):
        # Every conditional GET is a 304, every stale write a 412; uploads are one per client per round.
        assert set(rows["GET If-None-Match", clients]["statuses"]) == {"304"}
        assert set(rows["PUT stale If-Match", clients]["statuses"]) == {"412"}
        assert set(rows["PUT If-Match", clients]["statuses"]) == {"200"}
        assert rows["upload 8 MiB image", clients]["statuses"] == {"202": 2 * clients}
    # The stale writes changed nothing; the last good write is what the profile says.
    status, _, body = lxdsite_server.request("GET", "/1.0/profiles/bench-stale")
    assert status == 200
    assert body["metadata"]["description"] == "changed"
    # The 200 profiles and instances the lists read, and the uploads deleted after their rounds.
    assert len(lxdsite_server.request("GET", "/1.0/profiles")[2]["metadata"]) == 200
    assert len(lxdsite_server.request("GET", "/1.0/instances")[2]["metadata"]) == 200
    assert len(lxdsite_server.request("GET", "/1.0/images")[2]["metadata"]) == 1
