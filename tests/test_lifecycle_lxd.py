"""Instance lifecycles run on the real daemon and on lxdsite, compared: operations, events, ``lxc``.

The daemon runs containers of a busybox image on a ``dir`` pool. Each test does the same
requests (or ``lxc`` commands) on both servers and compares what they answer, the state
they are left in and the lifecycle events they send, in order.
"""

import contextlib
import re
import time

import pytest

from tests.support.busybox_servers import IMAGE, busybox_servers
from tests.support.events_client import EventsClient
from tests.support.live_server import unix_request
from tests.support.lxc import ROOT_DISK, comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]


@pytest.fixture(scope="module")
def servers(real_lxd, tmp_path_factory):
    with busybox_servers(real_lxd, tmp_path_factory) as pair:
        yield pair


@pytest.fixture
def clean(servers):
    """No instance on either server before and after the test."""
    for socket_path in servers.both:
        remove_all(socket_path)
    yield servers
    for socket_path in servers.both:
        remove_all(socket_path)


def lxc(servers, socket_path, *args):
    return run_lxc(socket_path, servers.conf, *args)


def request(socket_path, method, path, body=None):
    """A request, waiting for its operation: ``(status, error)``, or ``("op", status, err, resources)``."""
    status, _, answer = unix_request(socket_path, method, path, body, timeout=60)
    if answer and answer.get("type") == "async":
        operation = unix_request(socket_path, "GET", f"{answer['operation']}/wait?timeout=60")[2]["metadata"]
        resources = {key: sorted(urls) if urls else urls for key, urls in (operation["resources"] or {}).items()}
        return ("op", operation["status"], operation["err"], resources)
    return (status, answer.get("error") if answer else None)


def instance_names(socket_path):
    return [url.rsplit("/", 1)[1] for url in unix_request(socket_path, "GET", "/1.0/instances")[2]["metadata"]]


def remove_all(socket_path):
    for name in instance_names(socket_path):
        request(socket_path, "PUT", f"/1.0/instances/{name}/state", {"action": "stop", "force": True})
        request(socket_path, "DELETE", f"/1.0/instances/{name}")


def show(socket_path, name):
    """What a client reads of an instance after a move: status, power state kept, ever used."""
    status, _, answer = unix_request(socket_path, "GET", f"/1.0/instances/{name}")
    if status != 200:
        return status
    metadata = answer["metadata"]
    config = metadata["config"]
    return (
        metadata["status"],
        config.get("volatile.last_state.power"),
        "volatile.apply_template" in config,
        config.get("volatile.idmap.current") == config.get("volatile.idmap.next"),
        metadata["last_used_at"] != "1970-01-01T00:00:00Z",
    )


def create(socket_path, name, **fields):
    result = request(
        socket_path, "POST", "/1.0/instances", {"name": name, "source": {"type": "image", "alias": IMAGE}, **fields}
    )
    assert result[:2] == ("op", "Success"), result


def put_state(socket_path, name, **change):
    return request(socket_path, "PUT", f"/1.0/instances/{name}/state", change)


def bring_to(socket_path, name, status):
    """Move the instance to ``status`` (Stopped, Running or Frozen)."""
    current = show(socket_path, name)[0]
    if current == "Frozen" and status != "Frozen":
        put_state(socket_path, name, action="unfreeze")
        current = "Running"
    if current != "Stopped" and status == "Stopped":
        put_state(socket_path, name, action="stop", force=True)
    if current == "Stopped" and status != "Stopped":
        put_state(socket_path, name, action="start")
    if status != "Stopped":
        wait_until_init_listens(socket_path, name)
    if status == "Frozen":
        put_state(socket_path, name, action="freeze")
    assert show(socket_path, name)[0] == status


def wait_until_init_listens(socket_path, name, timeout=10):
    """On the daemon, wait until the container's init has set its traps (it then runs ``sleep``):
    a shutdown asked for earlier would go unheard. lxdsite runs nothing (0 processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = unix_request(socket_path, "GET", f"/1.0/instances/{name}/state")[2]["metadata"]
        if (state["processes"] in (0, -1) and state["pid"] == 0) or state["processes"] >= 2:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name}'s init did not start within {timeout}s")


@contextlib.contextmanager
def lifecycle_events(socket_path):
    """The lifecycle events sent while the block runs: a list of (action, source, context)."""
    listener = EventsClient(socket_path, "/1.0/events?type=lifecycle")
    received = []
    try:
        yield received
        received += listener.lifecycle()
    finally:
        listener.close()


# Adjacent events of one instance that the daemon sends from different goroutines, in either
# order: (the one lxdsite sends first, the other).
UNORDERED_PAIRS = {
    ("instance-deleted", "instance-stopped"),
    ("instance-deleted", "instance-shutdown"),
    ("instance-started", "instance-restored"),
}


def settled(events):
    """The events with each of ``UNORDERED_PAIRS`` put in lxdsite's order."""
    events = list(events)
    for index in range(len(events) - 1):
        second, first = events[index], events[index + 1]
        if (first[0], second[0]) in UNORDERED_PAIRS and first[1] == second[1]:
            events[index], events[index + 1] = first, second
    return events


def on_both(servers, action):
    """``action(socket_path)`` on the daemon then on lxdsite, with the events each sent."""
    answers = []
    for socket_path in servers.both:
        with lifecycle_events(socket_path) as events:
            result = action(socket_path)
        answers.append((result, events))
    return answers


# Each action with the options a client may send (lxc sends timeout -1 unless told otherwise).
CHANGES = [
    {"action": "start"},
    {"action": "start", "stateful": True},
    {"action": "start", "force": True, "timeout": 5},
    {"action": "stop", "timeout": -1},
    {"action": "stop", "force": True},
    {"action": "stop", "timeout": 0},
    {"action": "stop", "timeout": 5},
    {"action": "stop", "stateful": True},
    {"action": "restart", "timeout": -1},
    {"action": "restart", "force": True},
    {"action": "restart", "timeout": 0},
    {"action": "restart", "stateful": True, "timeout": 5},
    {"action": "freeze"},
    {"action": "unfreeze"},
    {"action": "potato"},
    {"action": ["start"]},
    {"timeout": "5"},
]


def _change_id(change):
    return "-".join(f"{key}={value}" for key, value in change.items()).replace(" ", "")


# Every change from every status; an ephemeral instance too where it is treated apart (it
# cannot be stopped: it would be gone).
MOVES = [
    pytest.param(change, status, ephemeral, id=f"{_change_id(change)}-{status}{'-ephemeral' * ephemeral}")
    for change in CHANGES
    for status in ("Stopped", "Running", "Frozen")
    for ephemeral in (False, True)
    if not ephemeral or (status != "Stopped" and change.get("action") in ("stop", "restart"))
]


@pytest.mark.parametrize(("change", "status", "ephemeral"), MOVES)
def test_every_state_change_from_every_status_is_lxds(servers, change, status, ephemeral):
    name = "ephemeral" if ephemeral else "persistent"
    for socket_path in servers.both:
        if show(socket_path, name) == 404:
            create(socket_path, name, ephemeral=ephemeral)
        bring_to(socket_path, name, status)

    (theirs, their_events), (mine, my_events) = on_both(
        servers, lambda socket_path: put_state(socket_path, name, **change)
    )

    assert mine == theirs
    assert settled(my_events) == settled(their_events)
    assert show(servers.ours, name) == show(servers.lxd, name)


def ready(name):
    """A step that waits until the container's init listens (see ``wait_until_init_listens``)."""
    return lambda servers, socket_path: wait_until_init_listens(socket_path, name)


# lxc's lifecycle commands in every state, each refused move included.
SEQUENCE = [
    ("launch", IMAGE, "c1"),
    ready("c1"),
    ("list", "--format", "csv", "-c", "ns"),
    ("config", "get", "c1", "volatile.last_state.power"),
    ("start", "c1"),
    ("pause", "c1"),
    ("pause", "c1"),
    ("list", "--format", "csv", "-c", "ns"),
    ("delete", "c1"),
    ("rename", "c1", "c2"),
    ("snapshot", "c1", "frozen"),
    ("start", "c1"),
    ("restart", "c1"),
    ready("c1"),
    ("delete", "c1"),
    ("rename", "c1", "c2"),
    ("config", "set", "c1", "user.note", "set while running"),
    ("snapshot", "c1", "s1"),
    ("snapshot", "c1", "s2", "--stateful"),
    ("config", "unset", "c1", "user.note"),
    ("restore", "c1", "s1"),
    ready("c1"),
    ("config", "get", "c1", "user.note"),
    ("list", "--format", "csv", "-c", "nsS"),
    ("stop", "c1"),
    ("stop", "c1"),
    ("stop", "c1", "--force"),
    ("info", "c1"),
    ("restart", "c1"),
    ("pause", "c1"),
    ("config", "get", "c1", "volatile.last_state.power"),
    ("snapshot", "c1", "s3", "--stateful"),
    ("restore", "c1", "s1"),
    ("config", "get", "c1", "volatile.last_state.power"),
    ("list", "--format", "csv", "-c", "ns"),
    ("launch", IMAGE, "e1", "--ephemeral"),
    ready("e1"),
    ("restart", "e1", "--force"),
    ready("e1"),
    ("stop", "e1"),
    ("list", "--format", "csv", "-c", "ns"),
    ("start", "c1"),
    ("delete", "--force", "c1"),
    ("launch", IMAGE, "e2", "--ephemeral"),
    ready("e2"),
    ("pause", "e2"),
    ("delete", "--force", "e2"),
    ("list", "--format", "csv"),
]


def without_progress(result):
    """lxc's output without the progress the daemon reports while it unpacks an image, and
    without the hint lxc adds to a failure only when the operation was still running as it
    began to watch it (on the daemon, a race; lxdsite's operations have always ended)."""
    status, stdout, stderr = result
    stdout = "\n".join(line for line in stdout.split("\n") if "Remapping container filesystem" not in line)
    return status, stdout, re.sub(r"Try `lxc info --show-log \S+` for more info\n", "", stderr)


def run_sequence(servers, sequence):
    """Each step (an lxc command, or a function of the servers and socket) on the daemon, then on
    lxdsite: for each, what lxc printed at each command and the lifecycle events sent."""
    outputs = []
    for socket_path in servers.both:
        with lifecycle_events(socket_path) as events:
            printed = []
            for step in sequence:
                if callable(step):
                    step(servers, socket_path)
                else:
                    printed.append((step, without_progress(comparable(lxc(servers, socket_path, *step)))))
        outputs.append((printed, events))
    return outputs


def test_lxc_lifecycle_commands_print_what_lxd_prints_and_send_its_events(clean):
    (their_output, their_events), (my_output, my_events) = run_sequence(clean, SEQUENCE)

    for (step, theirs), (_, mine) in zip(their_output, my_output, strict=True):
        assert mine == theirs, step
    assert settled(my_events) == settled(their_events)


def test_bulk_state_changes_move_what_lxd_moves(clean):
    for socket_path in clean.both:
        for name, status in (("b1", "Stopped"), ("b2", "Running"), ("b3", "Frozen")):
            create(socket_path, name)
            bring_to(socket_path, name, status)

    for state in (
        {"action": "start"},
        {"action": "restart", "force": True},
        {"action": "stop", "force": True},
        {"action": "stop", "force": True},
        {"action": "potato"},
        {"action": ["start"]},
        {},
        [],
    ):
        body = {"state": state} if isinstance(state, dict) else state
        (theirs, their_events), (mine, my_events) = on_both(
            clean, lambda socket_path, body=body: request(socket_path, "PUT", "/1.0/instances", body)
        )

        assert mine == theirs, state
        # The daemon moves the instances at once: their events come in any order.
        assert sorted(my_events) == sorted(their_events), state
        assert [show(clean.ours, name) for name in ("b1", "b2", "b3")] == [
            show(clean.lxd, name) for name in ("b1", "b2", "b3")
        ]
        for socket_path in clean.both:
            for name in ("b1", "b2", "b3"):
                if show(socket_path, name)[0] == "Running":
                    wait_until_init_listens(socket_path, name)


ALL = [
    ("launch", IMAGE, "a1"),
    ("init", IMAGE, "a2"),
    ready("a1"),
    ("stop", "--all"),
    ("list", "--format", "csv", "-c", "ns"),
    ("start", "--all"),
    ready("a1"),
    ready("a2"),
    ("pause", "--all"),
    ("start", "--all"),
    ("list", "--format", "csv", "-c", "ns"),
    ("restart", "--all", "--force"),
    ready("a1"),
    ready("a2"),
    ("stop", "--all", "--force"),
    ("stop", "--all"),
    ("list", "--format", "csv", "-c", "ns"),
]


def test_lxc_all_moves_every_instance_as_lxd_does(clean):
    (their_output, their_events), (my_output, my_events) = run_sequence(clean, ALL)

    for (step, theirs), (_, mine) in zip(their_output, my_output, strict=True):
        assert mine == theirs, step
    # The daemon moves the instances at once: their events come in any order.
    assert sorted(my_events) == sorted(their_events)


@pytest.mark.parametrize(
    "fields",
    [
        {"architecture": "2"},
        {"architecture": "i686"},
        {"architecture": "potato"},
        {"type": "potato"},
        {"type": ""},
    ],
    ids=str,
)
def test_creates_from_an_image_are_what_lxd_makes(clean, fields):
    body = {"name": "n1", "source": {"type": "image", "alias": IMAGE}, **fields}
    (theirs, their_events), (mine, my_events) = on_both(
        clean, lambda socket_path: request(socket_path, "POST", "/1.0/instances", body)
    )

    assert mine == theirs
    assert my_events == their_events
    shown = [unix_request(socket_path, "GET", "/1.0/instances/n1")[2] for socket_path in clean.both]
    assert [(answer["error_code"], (answer["metadata"] or {}).get("architecture")) for answer in shown] == [
        (shown[0]["error_code"], (shown[0]["metadata"] or {}).get("architecture"))
    ] * 2


def test_a_create_without_a_name_points_its_operation_at_the_name_given(clean):
    for socket_path in clean.both:
        result = request(socket_path, "POST", "/1.0/instances", {"source": {"type": "image", "alias": IMAGE}})

        assert result[:3] == ("op", "Success", "")
        [url] = result[3]["instances"]
        assert result[3]["containers"] == [url.replace("/instances/", "/containers/")]
        assert re.fullmatch(r"/1\.0/instances/[a-z]+-[a-z]+", url)
        assert instance_names(socket_path) == [url.rsplit("/", 1)[1]]


def test_writes_through_container_urls_are_reported_as_lxd_reports_them(clean):
    steps = [
        ("POST", "/1.0/containers", {"name": "k1", "source": {"type": "image", "alias": IMAGE}}),
        ("PATCH", "/1.0/containers/k1", {"config": {"user.note": "patched"}}),
        ("POST", "/1.0/containers/k1/snapshots", {"name": "s1"}),
        ("PUT", "/1.0/containers/k1/snapshots/s1", {"expires_at": "2100-01-01T00:00:00Z"}),
        ("POST", "/1.0/containers/k1/snapshots/s1", {"name": "s2"}),
        ("PUT", "/1.0/containers/k1", {"restore": "s2"}),
        ("DELETE", "/1.0/containers/k1/snapshots/s2"),
        ("POST", "/1.0/containers/k1", {"name": "k2"}),
        ("DELETE", "/1.0/containers/k2"),
    ]
    for method, path, *body in steps:
        (theirs, their_events), (mine, my_events) = on_both(
            clean, lambda socket_path, method=method, path=path, body=body: request(socket_path, method, path, *body)
        )

        # LXD lists a deleted snapshot's resources as /1.0/instances/k1/s2; lxdsite names its URL.
        assert mine[:3] == theirs[:3], (method, path)
        if (method, path) == ("PUT", "/1.0/containers/k1/snapshots/s1"):
            # LXD 5.0.2 reports no snapshot update (docs/compatibility.md); lxdsite does.
            assert (their_events, my_events) == (
                [],
                [("instance-snapshot-updated", "/1.0/instances/k1/snapshots/s1", None)],
            )
        else:
            assert my_events == their_events, (method, path)


def test_exec_console_and_logs_answer_as_lxd_does_until_a_process_is_needed(clean):
    def on_each(*args):
        return [comparable(lxc(clean, socket_path, *args)) for socket_path in clean.both]

    def requested(method, path):
        answers = [unix_request(socket_path, method, path)[::2] for socket_path in clean.both]
        return [(status, body if isinstance(body, dict) else None) for status, body in answers]

    for socket_path in clean.both:
        create(socket_path, "p1")
    # Stopped: every step as LXD answers it.
    for args in (("exec", "p1", "--", "true"), ("info", "p1", "--show-log"), ("console", "p1")):
        theirs, mine = on_each(*args)
        assert mine == theirs, args
    for method, path in (
        ("GET", "/1.0/instances/p1/logs"),
        ("GET", "/1.0/containers/p1/logs"),
        ("GET", "/1.0/instances/p1/logs/nosuch.log"),
        ("DELETE", "/1.0/instances/p1/logs/lxc.log"),
        ("GET", "/1.0/instances/nosuch/logs"),
        ("POST", "/1.0/instances/p1/console"),
    ):
        theirs, mine = requested(method, path)
        assert mine == theirs, (method, path)
    # LXD leaks its own paths where a log was never written; lxdsite names the file alone.
    assert unix_request(clean.ours, "GET", "/1.0/instances/p1/console")[::2] == (
        404,
        {
            **unix_request(clean.ours, "GET", "/1.0/instances/nosuch")[2],
            "error": "console.log: no such file or directory",
        },
    )

    # Running: LXD runs the command; lxdsite, which runs none, says so.
    for socket_path in clean.both:
        bring_to(socket_path, "p1", "Running")
    status, stdout, stderr = lxc(clean, clean.ours, "exec", "p1", "--", "true")
    assert (status, stdout) == (1, "")
    assert "lxdsite runs no processes: exec is not available" in stderr
    # The log is there, empty (LXD's shows what the container's processes wrote, and their usage).
    status, stdout, _ = lxc(clean, clean.ours, "info", "p1", "--show-log")
    assert (status, stdout.rstrip().rsplit("\n", 1)[-1]) == (0, "Log:")


def test_metadata_and_templates_answer_as_lxd_does(clean):
    def requested(method, path, body=None, headers=None):
        answers = [unix_request(socket_path, method, path, body, headers) for socket_path in clean.both]
        return [(status, answer, headers_.get("ETag")) for status, headers_, answer in answers]

    for socket_path in clean.both:
        create(socket_path, "m1")
        assert (
            request(socket_path, "POST", "/1.0/instances", {"name": "e1", "source": {"type": "none"}})[1] == "Success"
        )
    steps = [
        ("GET", "/1.0/instances/m1/metadata", None),
        ("GET", "/1.0/instances/e1/metadata", None),
        ("PATCH", "/1.0/instances/m1/metadata", {"properties": {"os": "edited"}}),
        ("GET", "/1.0/instances/m1/metadata", None),
        (
            "PUT",
            "/1.0/instances/m1/metadata",
            {"creation_date": 5, "templates": {"/etc/h": {"when": ["create"], "template": "h.tpl"}}},
        ),
        ("GET", "/1.0/instances/m1/metadata", None),
        ("PUT", "/1.0/instances/m1/metadata", [1]),
        ("GET", "/1.0/instances/m1/metadata/templates", None),
        ("POST", "/1.0/instances/m1/metadata/templates", {}),
        ("POST", "/1.0/instances/m1/metadata/templates?path=../x.tpl", {}),
        ("DELETE", "/1.0/instances/m1/metadata/templates?path=nosuch.tpl", None),
        ("GET", "/1.0/instances/nosuch/metadata", None),
    ]
    for method, path, body in steps:
        theirs, mine = requested(method, path, body)
        if theirs[0] == 500:
            # LXD's 500s for a bad name: lxdsite refuses it with 400 and the same text.
            assert (mine[0], mine[1]["error"]) == (400, theirs[1]["error"]), (method, path)
            continue
        assert mine[:2] == theirs[:2], (method, path)
        # The same ETag where LXD sends one (none for an instance without metadata.yaml).
        assert mine[2] == theirs[2] or theirs[2] is None, (method, path)

    # lxdsite checks If-Match on the metadata (LXD 5.0.2 ignores it there).
    etag = unix_request(clean.ours, "GET", "/1.0/instances/m1/metadata")[1]["ETag"]
    stale = unix_request(clean.ours, "PUT", "/1.0/instances/m1/metadata", {}, {"If-Match": '"stale"'})
    assert stale[0] == 412
    fresh = unix_request(clean.ours, "PATCH", "/1.0/instances/m1/metadata", {"expiry_date": 9}, {"If-Match": etag})
    assert fresh[0] == 200
    assert fresh[1]["ETag"] == unix_request(clean.ours, "GET", "/1.0/instances/m1/metadata")[1]["ETag"] != etag
    # Template files keep what is sent (LXD 5.0.2 stores them empty).
    stored = unix_request(clean.ours, "POST", "/1.0/instances/m1/metadata/templates?path=h.tpl", b"host {{ name }}")
    assert stored[0] == 200
    assert lxc(clean, clean.ours, "config", "template", "list", "m1", "--format", "csv")[1] == "h.tpl\n"
    assert lxc(clean, clean.ours, "config", "template", "show", "m1", "h.tpl")[1] == "host {{ name }}"
    assert lxc(clean, clean.ours, "config", "template", "delete", "m1", "h.tpl")[0] == 0
    assert lxc(clean, clean.ours, "config", "template", "list", "m1", "--format", "csv")[1] == ""


COPIES = [
    ("config", "set", "c1", "user.a", "1"),
    ("snapshot", "c1", "s1"),
    ("config", "set", "c1", "user.a", "2"),
    ("copy", "c1", "c2"),
    ("config", "show", "c2"),
    ("info", "c2"),
    ("copy", "c1", "c3", "--instance-only"),
    ("info", "c3"),
    ("copy", "c1/s1", "c4"),
    ("config", "show", "c4", "--expanded"),
    ("copy", "c1", "c5", "--ephemeral", "--config", "user.b=x", "--profile", "default"),
    ("config", "show", "c5"),
    ("copy", "nosuch", "c6"),
    ("copy", "c1/nosuch", "c6"),
    ("copy", "c1", "c2"),
    ("list", "--format", "csv", "-c", "ns"),
]


def test_lxc_copy_prints_what_lxd_prints(clean):
    for socket_path in clean.both:
        create(socket_path, "c1")
    for args in COPIES:
        theirs, mine = (comparable(lxc(clean, socket_path, *args)) for socket_path in clean.both)
        assert mine == theirs, args
    # The API's own answers for a source that is not there, and a snapshot's 404.
    for method, path, body in (
        ("POST", "/1.0/instances", {"name": "c6", "source": {"type": "copy", "source": "nosuch"}}),
        ("POST", "/1.0/instances", {"name": "c6", "source": {"type": "copy", "source": "c1/nosuch"}}),
        ("GET", "/1.0/instances/c1/snapshots/nosuch", None),
        ("DELETE", "/1.0/instances/c1/snapshots/nosuch", None),
        ("GET", "/1.0/instances/nosuch/snapshots/s1", None),
    ):
        theirs, mine = (unix_request(socket_path, method, path, body)[::2] for socket_path in clean.both)
        assert mine == theirs, (method, path)


# `lxc move` on one server: across pools (-s) and projects (--target-project), with a new name
# or not, refused where LXD refuses (a running instance: live needs CRIU, stateless needs a stop).
MOVES = [
    ("config", "set", "m1", "user.a", "1"),
    ("snapshot", "m1", "s1"),
    ("move", "m1", "-s", "pool2"),
    ("config", "show", "m1"),
    ("config", "show", "m1/s1"),
    ("move", "m1", "m2", "-s", "default"),
    ("move", "m2", "--target-project", "mv"),
    ("config", "show", "m2", "--project", "mv"),
    ("info", "m2", "--project", "mv"),
    ("list", "--project", "mv", "--format", "csv", "-c", "ns"),
    ("move", "m2", "--project", "mv", "--target-project", "mv"),
    ("move", "m2", "--project", "mv", "--target-project", "nosuch"),
    ("move", "m2", "--project", "mv", "-s", "nosuch"),
    ("move", "m2", "--project", "mv", "--target-project", "mvp"),
    ("config", "show", "m2", "--project", "mvp"),
    ("start", "m2", "--project", "mvp"),
    ("move", "m2", "--project", "mvp", "--target-project", "default"),
    ("move", "m2", "--project", "mvp", "--target-project", "default", "--stateless"),
    ("move", "m2", "--project", "mvp", "-s", "pool2", "--stateless"),
    ("stop", "m2", "--project", "mvp", "--force"),
    ("move", "m2", "--project", "mvp", "--target-project", "default", "--instance-only"),
    ("info", "m2"),
    ("move", "m3", "--target-project", "mvp"),
    ("list", "--format", "csv", "-c", "ns"),
]


@contextlib.contextmanager
def move_targets(servers):
    """On both servers: a second pool, a project sharing the default profiles (``mv``) and one
    with its own (``mvp``), and a profile only the default project has; all go afterwards."""
    setup = [
        ("POST", "/1.0/storage-pools", {"name": "pool2", "driver": "dir"}),
        ("POST", "/1.0/projects", {"name": "mv", "config": {"features.images": "false", "features.profiles": "false"}}),
        ("POST", "/1.0/projects", {"name": "mvp", "config": {"features.images": "false"}}),
        ("PATCH", "/1.0/profiles/default?project=mvp", {"devices": ROOT_DISK}),
        ("POST", "/1.0/profiles", {"name": "pp", "config": {"user.p": "1"}}),
    ]
    try:
        for socket_path in servers.both:
            for method, path, body in setup:
                assert unix_request(socket_path, method, path, body)[0] in (200, 201), (socket_path, path)
        yield
    finally:
        for socket_path in servers.both:
            for project in ("mv", "mvp", "default"):
                listed = unix_request(socket_path, "GET", f"/1.0/instances?project={project}")[2]["metadata"] or []
                for url in listed:
                    name = url.split("?")[0].rsplit("/", 1)[1]
                    query = f"?project={project}"
                    request(
                        socket_path, "PUT", f"/1.0/instances/{name}/state{query}", {"action": "stop", "force": True}
                    )
                    request(socket_path, "DELETE", f"/1.0/instances/{name}{query}")
            unix_request(socket_path, "DELETE", "/1.0/profiles/pp")
            unix_request(socket_path, "DELETE", "/1.0/profiles/pp?project=mvp")
            for project in ("mv", "mvp"):
                unix_request(socket_path, "DELETE", f"/1.0/projects/{project}")
            unix_request(socket_path, "DELETE", "/1.0/storage-pools/pool2")
        assert unix_request(servers.lxd, "GET", "/1.0/projects")[2]["metadata"] == ["/1.0/projects/default"]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def cloud_init_id(socket_path, name, project="default"):
    return unix_request(socket_path, "GET", f"/1.0/instances/{name}?project={project}")[2]["metadata"]["config"].get(
        "volatile.cloud-init.instance-id"
    )


def test_lxc_move_across_pools_and_projects_prints_what_lxd_prints(clean):
    with move_targets(clean):
        kept = {}
        for socket_path in clean.both:
            create(socket_path, "m1")
            create(socket_path, "m3", profiles=["default", "pp"])
            kept[socket_path] = cloud_init_id(socket_path, "m3")
        answers = []
        for socket_path in clean.both:
            listener = EventsClient(socket_path, "/1.0/events?type=lifecycle&all-projects=true")
            try:
                printed = [comparable(lxc(clean, socket_path, *args)) for args in MOVES]
                answers.append((printed, [_UUID.sub("<uuid>", repr(event)) for event in settled(listener.lifecycle())]))
            finally:
                listener.close()
        (their_output, their_events), (my_output, my_events) = answers
        for args, theirs, mine in zip(MOVES, their_output, my_output, strict=True):
            assert mine == theirs, args
        assert my_events == their_events
        # A pool move draws a new cloud-init instance ID; a project move keeps it.
        for socket_path in clean.both:
            assert lxc(clean, socket_path, "profile", "create", "pp", "--project", "mvp")[0] == 0
            assert lxc(clean, socket_path, "move", "m3", "--target-project", "mvp")[0] == 0
            assert cloud_init_id(socket_path, "m3", "mvp") == kept[socket_path]
            assert lxc(clean, socket_path, "move", "m3", "--project", "mvp", "-s", "pool2")[0] == 0
            assert cloud_init_id(socket_path, "m3", "mvp") != kept[socket_path]
