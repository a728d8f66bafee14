"""Throughput of lxdsite against the real LXD 5.0.2 daemon, measured in the same run.

One sequential client over the unix socket, a new connection per request (as lxc does):
GET /1.0/profiles/default, then PUT of the same profile with If-Match. Prints figures only.

    .venv/bin/python -m bench.bench_api [--gets 2000] [--puts 500] [--workers 2]
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.live_server import running_server, unix_request

PROFILE_URL = "/1.0/profiles/default"


def lxd_etag(profile, description):
    """LXD's profile ETag: sha256 of Go's JSON of [config, description, devices] plus "\\n"."""
    value = [profile["config"], description, profile["devices"]]
    encoded = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    # Go's encoder escapes these three for HTML safety (LXD-WIRE fact 3).
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        encoded = encoded.replace(char, escape)
    return '"' + hashlib.sha256((encoded + "\n").encode()).hexdigest() + '"'


def timed(count, send):
    """Call send() count times; (requests per second, median ms)."""
    durations = []
    start = time.perf_counter()
    for index in range(count):
        began = time.perf_counter()
        send(index)
        durations.append(time.perf_counter() - began)
    return count / (time.perf_counter() - start), statistics.median(durations) * 1000


def measure(socket_path, gets, puts):
    """GET and If-Match PUT rates of the default profile; the number of 412s is checked."""
    status, headers, body = unix_request(socket_path, "GET", PROFILE_URL)
    assert status == 200, body
    profile = body["metadata"]
    etag = headers["ETag"]

    def get(_):
        status, _, body = unix_request(socket_path, "GET", PROFILE_URL)
        assert status == 200, body

    def put(index):
        nonlocal etag
        description = f"bench {index}"
        document = {**profile, "description": description}
        status, headers, body = unix_request(
            socket_path,
            "PUT",
            PROFILE_URL,
            {key: document[key] for key in ("config", "description", "devices")},
            {"If-Match": etag},
        )
        assert status == 200, body
        # LXD sends no ETag on a PUT answer; then the client computes the new one.
        etag = headers["ETag"] or lxd_etag(profile, description)

    return timed(gets, get), timed(puts, put)


def measure_lxd(gets, puts):
    """Start the real lxd in a temporary LXD_DIR, measure, shut it down."""
    with tempfile.TemporaryDirectory(prefix="bench-lxd-") as lxd_dir:
        env = {**os.environ, "LXD_DIR": lxd_dir}
        daemon = subprocess.Popen(
            ["lxd", "--group", "root", "--logfile", f"{lxd_dir}/lxd.log"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            subprocess.run(["lxd", "waitready", "--timeout", "30"], env=env, check=True)
            return measure(Path(lxd_dir) / "unix.socket", gets, puts)
        finally:
            subprocess.run(["lxd", "shutdown", "--timeout", "30"], env=env, check=False)
            daemon.wait(30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--puts", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-lxdsite-") as tmp,
        running_server(Path(tmp) / "lxd", workers=args.workers) as server,
    ):
        lxdsite = measure(server.socket_path, args.gets, args.puts)
    lxd = measure_lxd(args.gets, args.puts)

    print(f"{'':8} {'lxdsite':>18} {'LXD 5.0.2':>18} {'ratio':>7}")
    for name, ours, theirs in (
        ("GET", lxdsite[0], lxd[0]),
        ("PUT", lxdsite[1], lxd[1]),
    ):
        print(
            f"{name:8} {ours[0]:8.0f}/s {ours[1]:5.2f} ms {theirs[0]:8.0f}/s {theirs[1]:5.2f} ms"
            f" {ours[0] / theirs[0]:7.2f}"
        )


if __name__ == "__main__":
    main()
