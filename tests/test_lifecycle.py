"""The instance lifecycle as LXD 5.0.2 answers it, in-process: the state table read off the daemon
(``test_lifecycle_lxd.py`` compares the two live), and the rules around it."""

import json
import threading

import pytest

from resources.models import Event, Image, ImageAlias, Instance, Operation, Profile, Snapshot
from tests.support.storage import serve_default_pool

# Instances live in a pool: their root disks resolve to one (tests/test_storage_instances.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_pool")]

NEVER_USED = "1970-01-01T00:00:00Z"


def _operation(response):
    """The operation a 202 answered with, as stored."""
    assert response.status_code == 202, response.content
    return Operation.objects.get(pk=response.json()["metadata"]["id"])


def _lifecycle(since=0):
    """The lifecycle events sent (stored for listeners) after event id ``since``: (action, source)."""
    messages = [json.loads(event.message) for event in Event.objects.filter(id__gt=since).order_by("id")]
    return [(m["metadata"]["action"], m["metadata"]["source"]) for m in messages if m["type"] == "lifecycle"]


def _last_event_id():
    last = Event.objects.order_by("-id").first()
    return last.id if last else 0


@pytest.fixture
def busybox(db):
    """An x86_64 image row under the alias ``busybox`` (no file needed)."""
    image = Image.objects.create(fingerprint="cd" * 32, architecture="x86_64")
    # An uploaded image takes the default profile (its root disk): instances made from it too.
    image.profile_links.create(profile=Profile.objects.get(name="default", project_id=1))
    ImageAlias.objects.create(name="busybox", image=image)
    return image


def _create(api, name, **fields):
    body = {"name": name, "source": {"type": "none"}, **fields}
    assert _operation(api.post("/1.0/instances", body)).status == "Success"
    return Instance.objects.get(name=name)


def _put_state(api, name, **change):
    return api.put(f"/1.0/instances/{name}/state", change)


def _bring_to(api, name, status):
    for action in {"Running": ["start"], "Frozen": ["start", "freeze"]}.get(status, []):
        assert _operation(_put_state(api, name, action=action)).status == "Success"


RUNNING_EVENTS = {"Stopped": (), "Running": ("instance-started",), "Frozen": ("instance-started", "instance-paused")}

# What the daemon did, for each status and request: (operation error, status after, lifecycle
# events). Read off LXD 5.0.2 running busybox containers on a dir pool.
TRANSITIONS = [
    ("Stopped", {"action": "start"}, "", "Running", ["instance-started"]),
    ("Stopped", {"action": "start", "stateful": True}, "Container has no existing state to restore", "Stopped", []),
    ("Stopped", {"action": "stop"}, "The instance is already stopped", "Stopped", []),
    ("Stopped", {"action": "stop", "force": True}, "The instance is already stopped", "Stopped", []),
    ("Stopped", {"action": "stop", "stateful": True}, "The instance is already stopped", "Stopped", []),
    ("Stopped", {"action": "restart"}, "The instance is already stopped", "Stopped", []),
    ("Stopped", {"action": "restart", "force": True}, "The instance is already stopped", "Stopped", []),
    ("Stopped", {"action": "freeze"}, "The container isn't running", "Stopped", []),
    ("Stopped", {"action": "unfreeze"}, "The container isn't running", "Stopped", []),
    ("Running", {"action": "start"}, "The instance is already running", "Running", []),
    ("Running", {"action": "start", "stateful": True}, "The instance is already running", "Running", []),
    ("Running", {"action": "stop"}, "", "Stopped", ["instance-shutdown"]),
    ("Running", {"action": "stop", "timeout": 5}, "", "Stopped", ["instance-shutdown"]),
    ("Running", {"action": "stop", "timeout": 0}, "", "Stopped", ["instance-stopped"]),
    ("Running", {"action": "stop", "force": True}, "", "Stopped", ["instance-stopped"]),
    (
        "Running",
        {"action": "stop", "stateful": True},
        "Unable to perform container live migration. CRIU isn't installed",
        "Running",
        [],
    ),
    ("Running", {"action": "restart"}, "", "Running", ["instance-restarted"]),
    ("Running", {"action": "restart", "force": True}, "", "Running", ["instance-restarted"]),
    ("Running", {"action": "restart", "stateful": True}, "", "Running", ["instance-restarted"]),
    ("Running", {"action": "freeze"}, "", "Frozen", ["instance-paused"]),
    ("Running", {"action": "unfreeze"}, "The container is already running", "Running", []),
    ("Frozen", {"action": "start"}, "The instance is already running", "Frozen", []),
    ("Frozen", {"action": "stop"}, "", "Stopped", ["instance-resumed", "instance-shutdown"]),
    ("Frozen", {"action": "stop", "timeout": 0}, "", "Stopped", ["instance-stopped"]),
    ("Frozen", {"action": "stop", "force": True}, "", "Stopped", ["instance-stopped"]),
    (
        "Frozen",
        {"action": "stop", "stateful": True},
        "Unable to perform container live migration. CRIU isn't installed",
        "Frozen",
        [],
    ),
    ("Frozen", {"action": "restart"}, "Instance is not running", "Frozen", []),
    ("Frozen", {"action": "restart", "timeout": 5}, "Instance is not running", "Frozen", []),
    ("Frozen", {"action": "restart", "timeout": 0}, "", "Running", ["instance-restarted"]),
    ("Frozen", {"action": "restart", "force": True}, "", "Running", ["instance-restarted"]),
    ("Frozen", {"action": "freeze"}, "The container is already frozen", "Frozen", []),
    ("Frozen", {"action": "unfreeze"}, "", "Running", ["instance-resumed"]),
]


@pytest.mark.parametrize(("status", "change", "err", "after", "events"), TRANSITIONS, ids=str)
def test_every_state_change_is_lxds(api, django_capture_on_commit_callbacks, status, change, err, after, events):
    _create(api, "c1")
    with django_capture_on_commit_callbacks(execute=True):
        _bring_to(api, "c1", status)
    since = _last_event_id()

    with django_capture_on_commit_callbacks(execute=True):
        operation = _operation(_put_state(api, "c1", **change))

    assert (operation.status, operation.err) == ("Failure" if err else "Success", err)
    assert operation.resources == {"instances": ["/1.0/instances/c1"]}
    assert Instance.objects.get(name="c1").status == after
    assert [action for action, _ in _lifecycle(since)] == events


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"action": ["start"]},
            "json: cannot unmarshal array into Go struct field InstanceStatePut.action of type string",
        ),
        (
            {"action": "start", "timeout": "5"},
            "json: cannot unmarshal string into Go struct field InstanceStatePut.timeout of type int",
        ),
        (
            {"action": "stop", "force": 1},
            "json: cannot unmarshal number into Go struct field InstanceStatePut.force of type bool",
        ),
        (["start"], "json: cannot unmarshal array into Go value of type api.InstanceStatePut"),
        ({"action": "potato"}, "Unknown action: 'potato'"),
        ({}, "Unknown action: ''"),
    ],
    ids=str,
)
def test_a_state_request_lxd_cannot_decode_is_400_and_changes_nothing(api, body, error):
    _create(api, "c1")

    response = api.put("/1.0/instances/c1/state", body)

    assert (response.status_code, response.json()["error"]) == (400, error)
    assert Instance.objects.get(name="c1").status == "Stopped"
    assert not Operation.objects.filter(description="Starting instance").exists()


def test_start_and_stop_keep_lxds_volatile_keys_and_last_used_at(api):
    _create(api, "c1")
    created = api.get("/1.0/instances/c1").json()["metadata"]
    assert created["last_used_at"] == NEVER_USED
    assert "volatile.last_state.power" not in created["config"]

    _operation(_put_state(api, "c1", action="start"))
    started = api.get("/1.0/instances/c1").json()["metadata"]
    _operation(_put_state(api, "c1", action="freeze"))
    frozen = api.get("/1.0/instances/c1").json()["metadata"]
    _operation(_put_state(api, "c1", action="stop", force=True))
    stopped = api.get("/1.0/instances/c1").json()["metadata"]

    assert started["last_used_at"] > created["created_at"]
    assert started["config"]["volatile.last_state.power"] == "RUNNING"
    assert "volatile.apply_template" not in started["config"]
    assert started["config"]["volatile.idmap.current"] == started["config"]["volatile.idmap.next"]
    assert frozen["config"]["volatile.last_state.power"] == "RUNNING"
    assert stopped["config"]["volatile.last_state.power"] == "STOPPED"
    assert stopped["last_used_at"] == started["last_used_at"]


@pytest.mark.parametrize("status", ["Running", "Frozen"])
def test_a_running_instance_can_be_neither_deleted_nor_renamed(api, status):
    _create(api, "c1")
    _bring_to(api, "c1", status)

    deleted = api.delete("/1.0/instances/c1")
    renamed = _operation(api.post("/1.0/instances/c1", {"name": "c2"}))

    assert (deleted.status_code, deleted.json()["error"]) == (400, "Instance is running")
    assert (renamed.status, renamed.err) == ("Failure", "Renaming of running container not allowed")
    assert Instance.objects.get(name="c1").status == status
    # The new name is checked first, as LXD checks it.
    assert api.post("/1.0/instances/c1", {"name": "bad_name"}).status_code == 400


@pytest.mark.parametrize("change", [{"action": "stop"}, {"action": "stop", "force": True}])
def test_an_ephemeral_instance_is_deleted_when_it_stops(api, django_capture_on_commit_callbacks, change):
    _create(api, "e1", ephemeral=True)
    _bring_to(api, "e1", "Running")
    api.post("/1.0/instances/e1/snapshots", {"name": "s1"})
    since = _last_event_id()

    with django_capture_on_commit_callbacks(execute=True):
        operation = _operation(_put_state(api, "e1", **change))

    assert (operation.status, operation.err) == ("Success", "")
    assert not Instance.objects.filter(name="e1").exists()
    assert not Snapshot.objects.exists()
    assert api.get("/1.0/instances/e1").status_code == 404
    stop = "instance-stopped" if change.get("force") else "instance-shutdown"
    assert _lifecycle(since) == [
        ("instance-snapshot-deleted", "/1.0/instances/e1/snapshots/s1"),
        ("instance-deleted", "/1.0/instances/e1"),
        (stop, "/1.0/instances/e1"),
    ]


def test_bulk_put_moves_every_instance_the_action_applies_to(api, django_capture_on_commit_callbacks):
    for name, status in (("b1", "Stopped"), ("b2", "Running"), ("b3", "Frozen")):
        _create(api, name)
        _bring_to(api, name, status)
    since = _last_event_id()

    with django_capture_on_commit_callbacks(execute=True):
        started = _operation(api.put("/1.0/instances", {"state": {"action": "start"}}))
        unfrozen = _operation(api.put("/1.0/instances", {"state": {"action": "unfreeze"}}))
        frozen = _operation(api.put("/1.0/instances", {"state": {"action": "freeze"}}))
        stopped = _operation(api.put("/1.0/instances", {"state": {"action": "stop", "force": True}}))
        nothing = _operation(api.put("/1.0/instances", {"state": {"action": "stop", "force": True}}))

    assert (started.description, started.status, started.resources) == (
        "Starting instance",
        "Success",
        {"instances": ["/1.0/instances/b1"]},
    )
    # Unlike LXD 5.0.2, unfreeze moves the frozen instances and freeze leaves frozen ones alone.
    assert (unfrozen.status, unfrozen.resources) == ("Success", {"instances": ["/1.0/instances/b3"]})
    assert frozen.resources == {"instances": [f"/1.0/instances/b{index}" for index in (1, 2, 3)]}
    assert stopped.status == "Success"
    assert (nothing.status, nothing.resources) == ("Success", {"instances": None})
    assert set(Instance.objects.values_list("status", flat=True)) == {"Stopped"}
    assert _lifecycle(since) == [
        ("instance-started", "/1.0/instances/b1"),
        ("instance-resumed", "/1.0/instances/b3"),
        *[("instance-paused", f"/1.0/instances/b{index}") for index in (1, 2, 3)],
        *[("instance-stopped", f"/1.0/instances/b{index}") for index in (1, 2, 3)],
    ]


def test_bulk_put_reports_each_instance_that_failed(api):
    _create(api, "b1")
    _bring_to(api, "b1", "Frozen")

    failed = _operation(api.put("/1.0/instances", {"state": {"action": "restart"}}))

    assert (failed.status, failed.err) == (
        "Failure",
        "The following instances failed to update state:\n - Instance: b1: Instance is not running\n",
    )
    assert api.put("/1.0/instances", {"state": {"action": "potato"}}).json()["error"] == "Unknown action: 'potato'"
    assert api.put("/1.0/instances", ["start"]).status_code == 400


@pytest.mark.parametrize("requested", ["2", "i686", "potato"])
def test_a_create_from_an_image_takes_the_images_architecture(api, busybox, requested):
    body = {"name": "c1", "architecture": requested, "source": {"type": "image", "alias": "busybox"}}

    assert _operation(api.post("/1.0/instances", body)).status == "Success"
    assert Instance.objects.get(name="c1").architecture == "x86_64"


def test_a_create_without_a_name_points_its_operation_at_the_generated_name(api, busybox):
    operation = _operation(api.post("/1.0/instances", {"source": {"type": "image", "alias": "busybox"}}))

    [instance] = Instance.objects.all()
    adjective, animal = instance.name.split("-")
    assert adjective.isalpha()
    assert animal.isalpha()
    assert operation.resources == {
        "containers": [f"/1.0/containers/{instance.name}"],
        "instances": [f"/1.0/instances/{instance.name}"],
    }
    assert api.get(operation.resources["containers"][0]).status_code == 200


def test_an_unknown_instance_type_is_400_and_stores_nothing(api):
    response = api.post("/1.0/instances", {"name": "c1", "type": "potato", "source": {"type": "none"}})

    assert (response.status_code, response.json()["error"]) == (400, "Invalid instance type")
    assert not Instance.objects.exists()


def test_restoring_a_running_instance_restarts_it(api, django_capture_on_commit_callbacks):
    _create(api, "c1", config={"user.note": "before"})
    _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))
    api.patch("/1.0/instances/c1", {"config": {"user.note": "after"}})
    _bring_to(api, "c1", "Frozen")
    since = _last_event_id()

    with django_capture_on_commit_callbacks(execute=True):
        restored = _operation(api.put("/1.0/instances/c1", {"restore": "s1"}))

    instance = Instance.objects.get(name="c1")
    assert restored.status == "Success"
    assert (instance.status, instance.config["user.note"]) == ("Running", "before")
    assert instance.config["volatile.last_state.power"] == "RUNNING"
    assert _lifecycle(since) == [("instance-started", "/1.0/instances/c1"), ("instance-restored", "/1.0/instances/c1")]


@pytest.mark.parametrize(
    ("status", "err"),
    [
        ("Stopped", "Unable to create a stateful snapshot. The instance isn't running"),
        ("Running", "Unable to create a stateful snapshot. CRIU isn't installed"),
    ],
)
def test_a_stateful_snapshot_is_refused_as_lxd_refuses_it(api, status, err):
    _create(api, "c1")
    _bring_to(api, "c1", status)

    refused = _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1", "stateful": True}))

    assert (refused.status, refused.err) == ("Failure", err)
    assert not Snapshot.objects.exists()


def test_a_snapshot_of_a_running_instance_freezes_it_as_lxd_does(api, django_capture_on_commit_callbacks):
    _create(api, "c1")
    _bring_to(api, "c1", "Running")
    since = _last_event_id()

    with django_capture_on_commit_callbacks(execute=True):
        _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))

    assert _lifecycle(since) == [
        ("instance-snapshot-created", "/1.0/instances/c1/snapshots/s1"),
        ("instance-paused", "/1.0/instances/c1"),
        ("instance-resumed", "/1.0/instances/c1"),
    ]
    assert Instance.objects.get(name="c1").status == "Running"


@pytest.mark.parametrize("name", ["..", ".", "x" * 256, "é" * 128])
def test_a_snapshot_name_no_url_could_name_again_is_400(api, name):
    _create(api, "c1")
    _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))

    created = api.post("/1.0/instances/c1/snapshots", {"name": name})
    renamed = api.post("/1.0/instances/c1/snapshots/s1", {"name": name})

    assert (created.status_code, renamed.status_code) == (400, 400)
    assert created.json()["error"].startswith("Invalid instance snapshot name: ")
    assert list(Snapshot.objects.values_list("name", flat=True)) == ["s1"]


@pytest.mark.parametrize(
    ("expires_at", "part"),
    [("9999-99-99T99:99:99Z", "month"), ("2030-02-30T00:00:00Z", "day"), ("2030-01-01T24:00:00Z", "hour")],
)
def test_a_snapshot_expiry_no_calendar_has_is_lxds_400(api, expires_at, part):
    _create(api, "c1")
    _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))

    created = api.post("/1.0/instances/c1/snapshots", {"name": "s2", "expires_at": expires_at})
    updated = api.put("/1.0/instances/c1/snapshots/s1", {"expires_at": expires_at})

    error = f'parsing time "\\"{expires_at}\\"": {part} out of range'
    assert (created.status_code, created.json()["error"]) == (400, error)
    assert (updated.status_code, updated.json()["error"]) == (400, error)
    assert list(Snapshot.objects.values_list("name", "expires_at")) == [("s1", "0001-01-01T00:00:00Z")]


@pytest.mark.live
@pytest.mark.postgres
def test_names_too_long_for_a_snapshot_are_400_on_postgresql(lxdsite_pg_server):
    server = lxdsite_pg_server
    serve_default_pool(server.socket_path)
    server.request("POST", "/1.0/instances", {"name": "c1", "source": {"type": "none"}})
    server.request("POST", "/1.0/instances/c1/snapshots", {"name": "s1"})

    created = server.request("POST", "/1.0/instances/c1/snapshots", {"name": "x" * 300})
    renamed = server.request("POST", "/1.0/instances/c1/snapshots/s1", {"name": "x" * 300})

    assert (created[0], renamed[0]) == (400, 400)
    assert server.request("GET", "/1.0/instances/c1/snapshots")[2]["metadata"] == ["/1.0/instances/c1/snapshots/s1"]


@pytest.mark.live
@pytest.mark.postgres
def test_deleting_an_instance_while_it_is_snapshotted_answers_each_and_leaves_no_orphan(lxdsite_pg_server):
    server = lxdsite_pg_server
    serve_default_pool(server.socket_path)
    answers = []
    for round_ in range(15):
        name = f"r{round_}"
        server.request("POST", "/1.0/instances", {"name": name, "source": {"type": "none"}})
        start = threading.Barrier(2)

        def send(method, path, body=None, start=start):
            start.wait()
            answers.append((method, server.request(method, path, body)[0]))

        threads = [
            threading.Thread(target=send, args=("DELETE", f"/1.0/instances/{name}")),
            threading.Thread(target=send, args=("POST", f"/1.0/instances/{name}/snapshots", {"name": "s"})),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert {status for method, status in answers if method == "DELETE"} == {202}
    assert {status for method, status in answers if method == "POST"} <= {202, 404}
    assert server.request("GET", "/1.0/instances")[2]["metadata"] == []
    for round_ in range(15):
        assert server.request("GET", f"/1.0/instances/r{round_}/snapshots")[0] == 404


def test_the_snapshots_of_no_instance_are_lxds_404(api):
    _create(api, "c1")

    assert api.get("/1.0/instances/c1/snapshots").json()["metadata"] == []
    missing = api.get("/1.0/instances/nosuch/snapshots?recursion=1")
    assert (missing.status_code, missing.json()["error"]) == (404, "Instance not found")


def test_a_bulk_put_without_a_state_is_lxds_400(api):
    _create(api, "b1")

    for body in ({"state": None}, {}, {"state": {"action": None}}):
        response = api.put("/1.0/instances", body)
        assert (response.status_code, response.json()["error"]) == (400, "Unknown action: ''")
    refused = api.put("/1.0/instances", {"state": "start"})
    assert refused.json()["error"] == (
        "json: cannot unmarshal string into Go struct field InstancesPut.state of type api.InstanceStatePut"
    )
    assert Instance.objects.get(name="b1").status == "Stopped"


@pytest.mark.parametrize("architecture", ["2", "potato"])
def test_a_create_from_no_image_with_an_unknown_architecture_is_400(api, architecture):
    body = {"name": "c1", "architecture": architecture, "source": {"type": "none"}}

    response = api.post("/1.0/instances", body)

    assert (response.status_code, response.json()["error"]) == (400, f"Architecture isn't supported: {architecture}")
    assert not Instance.objects.exists()


def test_an_instance_stopped_statefully_on_lxd_starts_and_forgets_its_state(api):
    # Such an instance comes from import_from_lxd: lxc then asks for a stateful start.
    instance = _create(api, "c1")
    Instance.objects.filter(pk=instance.pk).update(stateful=True)

    started = _operation(_put_state(api, "c1", action="start", stateful=True))

    assert started.status == "Success"
    assert api.get("/1.0/instances/c1").json()["metadata"]["stateful"] is False
