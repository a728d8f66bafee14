"""``/1.0/events`` against live servers: every listener on every worker hears every event, as LXD sends it."""

import contextlib
import json
import os
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.support.events_client import EventsClient
from tests.support.image_files import unified_image
from tests.support.live_server import REDIS_URL, postgres_database, running_server
from tests.support.workers import only_worker, worker_pids

pytestmark = pytest.mark.live

LISTENER_PATHS = ["/1.0/events?type=operation,lifecycle", "/1.0/events", "/1.0/events?type=lifecycle"]


@contextlib.contextmanager
def listeners_on_both_workers(server):
    """A listener for each path in LISTENER_PATHS on each of the two worker processes."""
    pids = sorted(worker_pids(server, 2))
    listeners = []
    try:
        for index in range(2 * len(LISTENER_PATHS)):
            pid = pids[index // len(LISTENER_PATHS)]
            with only_worker(pid, pids):
                listeners.append(EventsClient(server.socket_path, LISTENER_PATHS[index % len(LISTENER_PATHS)]))
            assert listeners[-1].serving_pid() == pid
        yield listeners
    finally:
        for listener in listeners:
            listener.close()


@contextlib.contextmanager
def events_server(tmp_path, feed):
    """``serve --workers 2`` whose events go through ``feed``: SQLite's Event table, Redis, or PostgreSQL's."""
    with contextlib.ExitStack() as stack:
        env = {}
        if feed == "redis":
            env["LXDSITE_REDIS_URL"] = REDIS_URL
        if feed == "postgres":
            env["DATABASE_URL"] = stack.enter_context(postgres_database())
        yield stack.enter_context(running_server(tmp_path / "lxd", workers=2, env=env))


def _write_everything(server):
    """A profile create and update and an image upload, each on a fresh connection; the operation id."""
    assert server.request("POST", "/1.0/profiles", {"name": "p1"})[0] == 201
    assert server.request("PATCH", "/1.0/profiles/p1", {"description": "changed"})[0] == 200
    status, _, body = server.request(
        "POST", "/1.0/images", unified_image(), {"Content-Type": "application/octet-stream"}
    )
    assert status == 202
    return body["metadata"]["id"]


def _summary(event):
    """What a test compares of an event: its type and LXD's action, or the operation's id and status."""
    metadata = event["metadata"]
    if event["type"] == "lifecycle":
        return ("lifecycle", metadata["action"], metadata["source"])
    return ("operation", metadata["id"], metadata["status"])


@pytest.mark.parametrize("feed", ["database", "redis", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_listener_on_every_worker_receives_every_event(tmp_path, feed):
    with (
        events_server(tmp_path, feed) as server,
        listeners_on_both_workers(server) as listeners,
        ThreadPoolExecutor(len(listeners)) as pool,
    ):
        operation_id = _write_everything(server)
        # Everything must arrive within 2 seconds of the last write.
        deadline = time.monotonic() + 2
        arrivals = pool.map(lambda listener: listener.receive_all(deadline - time.monotonic()), listeners)
        received = {
            listener: [_summary(e) for e in events] for listener, events in zip(listeners, arrivals, strict=True)
        }

    image_source = next(s for _, action, s in received[listeners[0]] if action == "image-created")
    lifecycle = [
        ("lifecycle", "profile-created", "/1.0/profiles/p1"),
        ("lifecycle", "profile-updated", "/1.0/profiles/p1"),
        ("lifecycle", "image-created", image_source),
    ]
    operation = [("operation", operation_id, "Running"), ("operation", operation_id, "Success")]
    for listener, events in received.items():
        path = LISTENER_PATHS[listeners.index(listener) % len(LISTENER_PATHS)]
        wanted = lifecycle + (operation if "operation" in path or "type" not in path else [])
        assert sorted(events) == sorted(wanted), path
        # An operation starts before it ends, and the profile exists before it changes.
        assert [e for e in events if e[0] == "operation"] == [e for e in wanted if e[0] == "operation"]
        assert events.index(lifecycle[0]) < events.index(lifecycle[1])
    if feed != "postgres":
        stored = sqlite3.connect(tmp_path / "lxd" / "lxdsite.sqlite3").execute("SELECT count(*) FROM resources_event")
        # Through Redis, events never touch the database.
        assert (stored.fetchone()[0] > 0) == (feed == "database")


def test_a_listener_hears_only_what_happens_after_it_connects(lxdsite_server):
    assert lxdsite_server.request("POST", "/1.0/profiles", {"name": "before"})[0] == 201
    listener = EventsClient(lxdsite_server.socket_path, "/1.0/events?type=lifecycle")
    try:
        assert lxdsite_server.request("POST", "/1.0/profiles", {"name": "after"})[0] == 201
        events = listener.receive_all(timeout=1)
    finally:
        listener.close()

    assert [event["metadata"]["source"] for event in events] == ["/1.0/profiles/after"]


def test_a_listener_of_a_project_hears_its_events_and_the_servers(lxdsite_server):
    for name in ("p1", "p2"):
        assert lxdsite_server.request("POST", "/1.0/projects", {"name": name})[0] == 201
    queries = ("", "?project=p1", "?all-projects=true")
    listeners = {query: EventsClient(lxdsite_server.socket_path, f"/1.0/events{query}") for query in queries}
    try:
        assert lxdsite_server.request("POST", "/1.0/profiles?project=p1", {"name": "in-p1"})[0] == 201
        assert lxdsite_server.request("POST", "/1.0/profiles", {"name": "in-default"})[0] == 201
        assert lxdsite_server.request("POST", "/1.0/projects/p2", {"name": "p3"})[0] == 202
        heard = {query: listener.receive_all(timeout=1) for query, listener in listeners.items()}
    finally:
        for listener in listeners.values():
            listener.close()

    def seen(events):
        """(project, lifecycle source or operation description); None where the event has no project."""
        return [
            (e.get("project"), e["metadata"]["source"] if e["type"] == "lifecycle" else e["metadata"]["description"])
            for e in events
        ]

    in_p1 = ("p1", "/1.0/profiles/in-p1?project=p1")
    in_default = ("default", "/1.0/profiles/in-default")
    # A project's rename is the server's operation: no project, heard by every listener.
    renaming = [(None, "Renaming project")] * 2
    assert seen(heard[""]) == [in_default, *renaming]
    assert seen(heard["?project=p1"]) == [in_p1, *renaming]
    # (Where the rename's lifecycle event falls among its operation's is not this test's subject.)
    everything = [in_p1, in_default, *renaming, ("p3", "/1.0/projects/p3")]
    assert sorted(seen(heard["?all-projects=true"]), key=str) == sorted(everything, key=str)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_events_answers_other_methods_with_lxds_501_not_a_csrf_page(lxdsite_server, method):
    """A session cookie or none: the events endpoint has only GET, and says so as LXD does."""
    status, headers, body = lxdsite_server.request(method, "/1.0/events", {}, {"Cookie": "csrftoken=abc"})
    assert headers["Content-Type"] == "application/json"
    assert (status, body["error"]) == (501, "not implemented")


def test_a_message_is_lxds_json_with_a_newline(lxdsite_server):
    listener = EventsClient(lxdsite_server.socket_path, "/1.0/events?type=lifecycle")
    try:
        lxdsite_server.request("POST", "/1.0/profiles", {"name": "p1"})
        text = listener.receive_raw(timeout=2)
    finally:
        listener.close()

    assert text.startswith('{"type":"lifecycle","timestamp":"')
    assert text.endswith('"location":"none","project":"default"}\n')


def _monitor_event(socket_path, tmp_path, profile):
    """What `lxc monitor --type=lifecycle` prints while `lxc profile set` changes ``profile``."""
    env = {**os.environ, "LXD_DIR": str(socket_path.parent), "LXD_CONF": str(tmp_path / "lxc-conf")}

    def lxc(*args):
        return subprocess.run(["lxc", *args], env=env, capture_output=True, text=True, timeout=30, check=False)

    lxc("profile", "create", profile)
    output = tmp_path / "monitor.yaml"
    with output.open("w") as out:
        monitor = subprocess.Popen(["lxc", "monitor", "--type=lifecycle"], env=env, stdout=out, stderr=out)
        try:
            # lxc gives no sign that it has subscribed: change the profile until the event shows.
            for attempt in range(20):
                assert lxc("profile", "set", profile, "user.attempt", str(attempt)).returncode == 0
                time.sleep(0.3)
                documents = [doc for doc in yaml.safe_load_all(output.read_text()) if doc]
                if documents:
                    break
        finally:
            monitor.terminate()
            monitor.wait(10)
            lxc("profile", "delete", profile)
    assert documents, output.read_text()
    return documents[0]


def _shape(value):
    """The keys of nested maps, and the types of everything else."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.lxd
def test_lxc_monitor_prints_the_event_real_lxd_prints(real_lxd, lxdsite_server, tmp_path):
    theirs = _monitor_event(real_lxd, tmp_path / "lxd", "monitored")
    ours = _monitor_event(lxdsite_server.socket_path, tmp_path / "ours", "monitored")

    assert ours["metadata"]["action"] == "profile-updated"
    assert _shape(ours) == _shape(theirs)
    assert {**ours, "timestamp": None} == {**theirs, "timestamp": None}


def test_an_event_published_on_redis_by_anyone_else_is_dropped(tmp_path):
    """Redis lets any client that reaches it publish: what a listener hears must come from a
    worker of its server (signed with the server's secret key), on a channel no one can guess."""
    import redis

    with events_server(tmp_path, "redis") as server:
        listener = EventsClient(server.socket_path, "/1.0/events?type=lifecycle")
        try:
            client = redis.Redis.from_url(REDIS_URL)
            channels = client.pubsub_channels("lxdsite:events:*")
            assert channels, "the server subscribed to no events channel"
            forged = {"type": "lifecycle", "metadata": {"action": "profile-deleted", "source": "/1.0/profiles/forged"}}
            text = json.dumps(forged) + "\n"
            for channel in channels:
                # Unsigned (as every message was before), and signed with a made-up key.
                client.publish(channel, f"lifecycle\n{text}")
                client.publish(channel, f"{'0' * 64}\nlifecycle\n{text}")
            assert server.request("POST", "/1.0/profiles", {"name": "genuine"})[0] == 201

            sources = [event["metadata"]["source"] for event in listener.receive_all(timeout=2)]
        finally:
            listener.close()
    assert sources == ["/1.0/profiles/genuine"]
    assert "no worker of this server signed" in server.log()


def test_a_stopping_server_closes_its_listeners_streams_going_away(tmp_path):
    with running_server(tmp_path / "lxd", workers=2) as server:
        listeners = [EventsClient(server.socket_path, "/1.0/events") for _ in range(4)]
        try:
            stopped_at = time.monotonic()
            assert server.stop() == 0
            # Listeners do not hold the graceful stop (10 s) open.
            assert time.monotonic() - stopped_at < 8, server.log()
            for listener in listeners:
                assert listener.receive(timeout=5) is None
                assert listener.close_code == 1001
        finally:
            for listener in listeners:
                listener.close()


def test_listeners_that_go_with_or_without_a_close_frame_are_no_failure(lxdsite_server):
    """lxc drops its events connection after each command: the stream ends quietly either way."""
    polite, abrupt = (EventsClient(lxdsite_server.socket_path, "/1.0/events") for _ in range(2))
    polite.close()
    abrupt.sock.close()
    # A later event is delivered to a new listener: the worker carries on.
    with contextlib.closing(EventsClient(lxdsite_server.socket_path, "/1.0/events?type=lifecycle")) as listener:
        lxdsite_server.request("POST", "/1.0/profiles", {"name": "after"})
        assert listener.receive(timeout=5)["metadata"]["action"] == "profile-created"
    assert "Serving a connection failed" not in lxdsite_server.log()
