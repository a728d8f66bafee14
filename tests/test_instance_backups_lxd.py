"""Instance backups on the real daemon and on lxdsite, compared: ``lxc export`` tarballs'
layout and index.yaml, ``lxc info``'s backups, and ``lxc import`` of each server's export."""

import re
import tarfile

import pytest
import yaml

from tests.support.busybox_servers import IMAGE, busybox_servers, remove_instances
from tests.support.events_client import EventsClient
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]


@pytest.fixture(scope="module")
def servers(real_lxd, tmp_path_factory):
    with busybox_servers(real_lxd, tmp_path_factory) as pair:
        yield pair


@pytest.fixture
def c1(servers):
    """A stopped container c1 with a snapshot on both servers, gone afterwards."""
    try:
        for socket_path in servers.both:
            assert run_lxc(socket_path, servers.conf, "init", IMAGE, "c1")[0] == 0
            assert run_lxc(socket_path, servers.conf, "snapshot", "c1", "snap0")[0] == 0
        yield servers
    finally:
        for socket_path in servers.both:
            remove_instances(socket_path, servers.conf)


def _export(servers, socket_path, *args):
    target = servers.conf / f"export-{socket_path.parent.name}.tar.gz"
    status, _out, err = run_lxc(socket_path, servers.conf, "export", "c1", str(target), *args)
    assert status == 0, err
    return target


# What differs on every run: ids, times, the image's fingerprint, the pool's source.
_VARYING = re.compile(
    r"(volatile\.(?:uuid|cloud-init\.instance-id|base_image): |created_at: |source: )\S+"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
)


def _comparable(text):
    """YAML text with what varies masked, read back (quoting styles differ between writers)."""
    return yaml.safe_load(_VARYING.sub(lambda m: (m.group(1) or "") + "X", text.decode()))


def _members(path):
    """(members in order with type and mode, comparable index.yaml and backup.yaml files)."""
    with tarfile.open(path) as tar:
        members = [(m.name, m.type, m.mode) for m in tar.getmembers()]
        documents = {
            m.name: _comparable(tar.extractfile(m).read()) for m in tar.getmembers() if m.name.endswith(".yaml")
        }
    return members, documents


def test_export_has_the_daemons_layout(c1):
    theirs, ours = (_members(_export(c1, socket_path)) for socket_path in c1.both)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]


def _request(socket_path, method, path, body=None):
    """A request, waiting for its operation: ``(status, error)``, or ``("op", status, err, resources)``."""
    status, _, answer = unix_request(socket_path, method, path, body, timeout=60)
    if answer and answer.get("type") == "async":
        operation = unix_request(socket_path, "GET", f"{answer['operation']}/wait?timeout=60")[2]["metadata"]
        return ("op", operation["description"], operation["status"], operation["err"], operation["resources"])
    if status == 200 and method == "GET":
        return (status, answer["metadata"])
    return (status, answer.get("error") if answer else None)


def _drain(listener):
    received = []
    while (event := listener.receive(0.3)) is not None:
        metadata = event["metadata"]
        received.append((metadata["action"], metadata["source"], metadata.get("context")))
    return received


REQUESTS = [
    ("POST", "/1.0/instances/c1/backups", {"name": ""}),
    ("POST", "/1.0/instances/c1/backups", {"name": "backup0"}),
    ("POST", "/1.0/instances/c1/backups", {"name": "b5", "instance_only": True}),
    ("POST", "/1.0/instances/c1/backups", {}),
    ("POST", "/1.0/instances/c1/backups", {"name": "x", "optimized_storage": True}),
    ("POST", "/1.0/instances/c1/backups", {"name": "a/b"}),
    ("POST", "/1.0/instances/c1/backups", {"name": 5}),
    ("POST", "/1.0/instances/c1/backups", {"name": "y", "compression_algorithm": "nope"}),
    ("POST", "/1.0/instances/nope/backups", {}),
    ("GET", "/1.0/instances/c1/backups", None),
    ("GET", "/1.0/containers/c1/backups", None),
    ("GET", "/1.0/instances/c1/backups/nope", None),
    ("GET", "/1.0/instances/c1/backups/nope/export", None),
    ("GET", "/1.0/instances/nope/backups", None),
    ("POST", "/1.0/instances/c1/backups/nope", {"name": "q"}),
    ("POST", "/1.0/instances/c1/backups/b5", {"name": "a/b"}),
    ("POST", "/1.0/instances/c1/backups/b5", {"name": "r"}),
    # Last: LXD moves the file before its record fails to take the name (x's file is lost).
    ("POST", "/1.0/instances/c1/backups/r", {"name": "x"}),
    ("DELETE", "/1.0/instances/c1/backups/nope", None),
    ("DELETE", "/1.0/instances/c1/backups/x", None),
]


def test_requests_events_and_lxc_info_match_the_daemons(c1):
    answers = []
    for socket_path in c1.both:
        listener = EventsClient(socket_path, "/1.0/events?type=lifecycle")
        try:
            replies = [_request(socket_path, *request) for request in REQUESTS]
            # No ETag on a backup, as on the list.
            for path in ("/1.0/instances/c1/backups/backup0", "/1.0/instances/c1/backups"):
                assert unix_request(socket_path, "GET", path)[1].get("ETag") is None
            shown = unix_request(socket_path, "GET", "/1.0/instances/c1/backups?recursion=1")[2]["metadata"]
            shown = [(b["name"], b["expires_at"], b["instance_only"], b["optimized_storage"]) for b in shown]
            info = comparable(run_lxc(socket_path, c1.conf, "info", "c1"))
            answers.append((replies, shown, info, _drain(listener)))
        finally:
            listener.close()
    (their_replies, *theirs), (my_replies, *mine) = answers
    for request, their, my in zip(REQUESTS, their_replies, my_replies, strict=True):
        assert my == their, (request, their, my)
    for their, my in zip(theirs, mine, strict=True):
        assert my == their


def _shown(socket_path, name):
    """What lxc shows of an imported instance, and its snapshots' names."""
    status, _, answer = unix_request(socket_path, "GET", f"/1.0/instances/{name}?recursion=1")
    if status != 200:
        return status
    metadata = answer["metadata"]
    return (
        metadata["status"],
        metadata["profiles"],
        metadata["devices"],
        metadata["expanded_devices"],
        sorted(key for key in metadata["config"] if not key.startswith("volatile.")),
        [snapshot["name"] for snapshot in metadata["snapshots"] or []],
    )


def _printed(result):
    """lxc's output without its progress lines (their speeds are the run's)."""
    status, out, err = comparable(result)
    return status, "\n".join(line for line in out.split("\n") if not line.startswith("Importing instance:")), err


def test_export_import_round_trip_and_cross_imports(c1):
    exports = {socket_path: _export(c1, socket_path) for socket_path in c1.both}
    results = []
    for socket_path in c1.both:
        printed = []
        listener = EventsClient(socket_path, "/1.0/events?type=lifecycle")
        try:
            for source, name in ((c1.lxd, "from-lxd"), (c1.ours, "from-ours")):
                printed.append(_printed(run_lxc(socket_path, c1.conf, "import", str(exports[source]), name)))
            printed.append(_drain(listener))
        finally:
            listener.close()
        # A taken name is not compared here: the daemon may refuse it before it has read the
        # upload, and lxc then sometimes waits for ever (its text is in test_instance_backups.py).
        printed.append(comparable(run_lxc(socket_path, c1.conf, "list", "-c", "ns", "-f", "csv")))
        printed.append(comparable(run_lxc(socket_path, c1.conf, "file", "pull", "from-ours/sbin/init", "-")))
        printed.append(comparable(run_lxc(socket_path, c1.conf, "file", "pull", "from-lxd/sbin/init", "-")))
        results.append((printed, [_shown(socket_path, name) for name in ("from-lxd", "from-ours")]))
    theirs, ours = results
    for their, my in zip(theirs[0], ours[0], strict=True):
        assert my == their
    assert ours[1] == theirs[1]


def test_lxc_export_prints_and_sends_what_the_daemon_does(c1):
    answers = []
    for socket_path in c1.both:
        listener = EventsClient(socket_path, "/1.0/events?type=lifecycle")
        try:
            target = c1.conf / "printed.tar.gz"
            status, out, err = comparable(run_lxc(socket_path, c1.conf, "export", "c1", str(target)))
            lines = [
                line for line in out.split("\n") if not re.match(r"(Backing up instance|Exporting the backup):", line)
            ]
            answers.append(((status, lines, err), _drain(listener)))
            target.unlink()
        finally:
            listener.close()
        assert unix_request(socket_path, "GET", "/1.0/instances/c1/backups")[2]["metadata"] == []
    assert answers[1] == answers[0]


def test_import_onto_a_missing_pool_and_an_empty_file(c1):
    exported = _export(c1, c1.lxd)
    empty = c1.conf / "empty.tar.gz"
    empty.write_bytes(b"")
    results = []
    for socket_path in c1.both:
        results.append(
            [
                _printed(run_lxc(socket_path, c1.conf, "import", str(exported), "c9", "--storage", "nope")),
                _printed(run_lxc(socket_path, c1.conf, "import", str(empty), "c8")),
                _printed(run_lxc(socket_path, c1.conf, "import", str(exported), "bad_name")),
                sorted(unix_request(socket_path, "GET", "/1.0/instances")[2]["metadata"]),
            ]
        )
    assert results[1] == results[0]


def test_an_import_request_answers_as_the_daemons(c1):
    """The operation of POST /1.0/instances with a backup (Content-Length, not chunked)."""
    data = _export(c1, c1.lxd).read_bytes()
    headers = {"Content-Type": "application/octet-stream", "X-LXD-name": "raw"}
    answers = []
    for socket_path in c1.both:
        status, _, answer = unix_request(socket_path, "POST", "/1.0/instances", data, headers, timeout=60)
        operation = unix_request(socket_path, "GET", f"{answer['operation']}/wait?timeout=60")[2]["metadata"]
        answers.append((status, operation["description"], operation["status"], operation["resources"]))
    assert answers[1] == answers[0]
