"""Instances and snapshots: LXD's async writes, ETags without volatile keys, profiles in use."""

import json

import pytest

from resources.models import Event, Instance, Operation, Profile, Snapshot
from tests.support.images import make_image

# Instances live in a pool: their root disks resolve to one (tests/test_storage_instances.py).
pytestmark = pytest.mark.usefixtures("default_pool")


@pytest.fixture
def tiny(db):
    """An image row with properties, the default profile and the alias ``tiny`` (no file needed)."""
    return make_image(
        "ab" * 32,
        properties={"os": "tinyos", "release": "1"},
        profiles=[Profile.objects.get(name="default")],
        aliases={"tiny": ""},
    )


def _operation(response):
    """The operation a 202 answered with, as stored."""
    assert response.status_code == 202, response.content
    assert response.json()["type"] == "async"
    assert response.headers["Location"] == response.json()["operation"]
    return Operation.objects.get(pk=response.json()["metadata"]["id"])


@pytest.fixture
def c1(api, tiny):
    """An instance created from the ``tiny`` image through the API."""
    _operation(api.post("/1.0/instances", {"name": "c1", "source": {"type": "image", "alias": "tiny"}}))
    return Instance.objects.get(name="c1")


@pytest.mark.django_db
def test_create_from_image_copies_properties_profiles_and_sets_volatile_keys(api, c1, tiny):
    metadata = api.get("/1.0/instances/c1").json()["metadata"]

    assert list(metadata) == [
        "architecture", "config", "devices", "ephemeral", "profiles", "stateful", "description", "created_at",
        "expanded_config", "expanded_devices", "name", "status", "status_code", "last_used_at", "location",
        "type", "project",
    ]  # fmt: skip
    assert metadata["profiles"] == ["default"]
    assert metadata["config"]["image.os"] == "tinyos"
    assert metadata["config"]["volatile.base_image"] == tiny.fingerprint
    assert {"volatile.uuid", "volatile.idmap.next", "volatile.last_state.idmap"} <= set(metadata["config"])
    assert (metadata["status"], metadata["status_code"], metadata["type"]) == ("Stopped", 102, "container")


@pytest.mark.django_db
def test_create_answers_an_ended_operation(api):
    operation = _operation(api.post("/1.0/instances", {"name": "c2", "source": {"type": "none"}}))

    assert (operation.description, operation.status, operation.status_code) == ("Creating instance", "Success", 200)
    assert operation.resources == {"containers": ["/1.0/containers/c2"], "instances": ["/1.0/instances/c2"]}
    assert api.get(f"/1.0/operations/{operation.pk}").json()["metadata"]["status"] == "Success"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"name": "bad_name"}, 400, "Invalid instance name: Name can only contain alphanumeric and hyphen characters"),
        ({"name": "1abc"}, 400, "Invalid instance name: Name must not start with a number"),
        ({"name": "c1"}, 409, 'This "instances" entry already exists'),
        ({"name": "c3", "source": {"type": "image", "alias": "nosuch"}}, 404, "Image alias not found"),
        ({"name": "c3", "config": "x"}, 400, "config: expected an object of strings, got string"),
    ],
)
@pytest.mark.django_db
def test_create_refused_at_once(api, c1, body, status, error):
    response = api.post("/1.0/instances", {"source": {"type": "none"}, **body})

    assert response.status_code == status
    assert error in response.json()["error"]
    assert list(Instance.objects.values_list("name", flat=True)) == ["c1"]


@pytest.mark.parametrize(
    ("body", "err"),
    [
        ({"config": {"no.such": "1"}}, "Failed creating instance record: Unknown configuration key: no.such"),
        ({"config": {"limits.cpu": "lots"}}, "Failed creating instance record: Invalid CPU limit syntax"),
        ({"profiles": ["nosuch"]}, 'Requested profile "nosuch" doesn\'t exist'),
    ],
)
@pytest.mark.django_db
def test_create_refused_in_its_operation_stores_nothing(api, body, err):
    operation = _operation(api.post("/1.0/instances", {"name": "c9", "source": {"type": "none"}, **body}))

    assert (operation.status, operation.status_code, operation.err) == ("Failure", 400, err)
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_put_is_async_keeps_volatile_keys_and_ignores_read_only_fields(api, c1):
    response = api.get("/1.0/instances/c1")
    body = response.json()["metadata"]
    volatile = {key: value for key, value in body["config"].items() if key.startswith("volatile.")}
    body["config"] = {"limits.memory": "256MB", "volatile.uuid": "forged"}
    body["expanded_config"] = {"x": "y"}
    body["status"] = "Running"

    operation = _operation(api.put("/1.0/instances/c1", body, HTTP_IF_MATCH=response.headers["ETag"]))

    assert operation.description == "Updating instance"
    stored = Instance.objects.get(name="c1")
    assert stored.config == {"limits.memory": "256MB", **volatile}
    assert stored.status == "Stopped"


@pytest.mark.django_db
def test_stale_put_is_a_synchronous_412(api, c1):
    before = Instance.objects.get(name="c1").config

    response = api.put("/1.0/instances/c1", {"config": {"limits.cpu": "2"}}, HTTP_IF_MATCH="stale")

    assert response.status_code == 412
    assert Instance.objects.get(name="c1").config == before
    assert not Operation.objects.filter(description="Updating instance").exists()


@pytest.mark.django_db
def test_invalid_put_fails_its_operation_and_changes_nothing(api, c1):
    before = Instance.objects.get(name="c1").config

    operation = _operation(api.put("/1.0/instances/c1", {"config": {"limits.cpu": "lots"}, "profiles": ["default"]}))

    assert (operation.status, operation.err) == ("Failure", "Invalid config: Invalid CPU limit syntax")
    assert Instance.objects.get(name="c1").config == before


@pytest.mark.django_db
def test_patch_is_sync_and_merges(api, c1):
    response = api.patch("/1.0/instances/c1", {"config": {"limits.cpu": "2"}, "description": "d"})

    assert response.status_code == 200
    stored = Instance.objects.get(name="c1")
    assert stored.config["limits.cpu"] == "2"
    assert "image.os" in stored.config
    assert stored.description == "d"


@pytest.mark.django_db
def test_etag_ignores_state_but_follows_description_and_attached_profiles(api, c1):
    etag = api.get("/1.0/instances/c1").headers["ETag"]

    _operation(api.put("/1.0/instances/c1/state", {"action": "start"}))
    assert api.get("/1.0/instances/c1").headers["ETag"] == etag

    # LXD leaves the description out of its recipe; lxdsite hashes it, so no write of it is lost.
    api.patch("/1.0/instances/c1", {"description": "only the description"})
    assert api.get("/1.0/instances/c1").headers["ETag"] != etag
    etag = api.get("/1.0/instances/c1").headers["ETag"]

    api.patch("/1.0/profiles/default", {"description": "edited"})
    assert api.get("/1.0/instances/c1").headers["ETag"] != etag


@pytest.mark.django_db
def test_state_moves_the_recorded_status(api, c1):
    assert _operation(api.put("/1.0/instances/c1/state", {"action": "start"})).status == "Success"
    assert api.get("/1.0/instances/c1/state").json()["metadata"]["status"] == "Running"

    again = _operation(api.put("/1.0/instances/c1/state", {"action": "start"}))
    assert (again.status, again.err) == ("Failure", "The instance is already running")
    assert _operation(api.put("/1.0/instances/c1/state", {"action": "freeze"})).status == "Success"
    assert Instance.objects.get(name="c1").status == "Frozen"
    assert _operation(api.put("/1.0/instances/c1/state", {"action": "stop"})).status == "Success"
    assert api.put("/1.0/instances/c1/state", {"action": "explode"}).status_code == 400


@pytest.mark.django_db
def test_lists_follow_the_prefix_and_recursion(api, c1):
    assert api.get("/1.0/instances").json()["metadata"] == ["/1.0/instances/c1"]
    assert api.get("/1.0/containers").json()["metadata"] == ["/1.0/containers/c1"]
    full = api.get("/1.0/instances?recursion=2&filter=").json()["metadata"][0]
    assert full["state"]["status"] == "Stopped"
    assert full["snapshots"] is None
    assert api.get("/1.0/containers/c1").headers["ETag"] == api.get("/1.0/instances/c1").headers["ETag"]


@pytest.mark.parametrize(
    ("expression", "names"),
    [("", ["c1", "c2"]), ("name eq c2", ["c2"]), ("status eq Stopped", ["c1"]), ("status eq running", ["c2"])],
)
@pytest.mark.django_db
def test_filter(api, c1, expression, names):
    _operation(api.post("/1.0/instances", {"name": "c2", "source": {"type": "none"}}))
    _operation(api.put("/1.0/instances/c2/state", {"action": "start"}))

    response = api.get("/1.0/instances", {"recursion": "1", "filter": expression})

    assert [item["name"] for item in response.json()["metadata"]] == names


@pytest.mark.parametrize("count", [1, 10])
@pytest.mark.django_db
def test_list_query_count_does_not_grow(api, django_assert_num_queries, count):
    for index in range(count):
        _operation(api.post("/1.0/instances", {"name": f"i{index}", "source": {"type": "none"}}))

    # The instances, their snapshots, their profile links, and each profile once.
    with django_assert_num_queries(4):
        response = api.get("/1.0/instances?recursion=2")

    assert len(response.json()["metadata"]) == count


@pytest.mark.django_db
def test_profile_in_use_cannot_be_deleted_and_lists_its_users(api, c1):
    response = api.delete("/1.0/profiles/default")
    used_by = api.get("/1.0/profiles/default").json()["metadata"]["used_by"]

    assert response.status_code == 403
    assert used_by == ["/1.0/instances/c1"]
    Profile.objects.create(name="extra")
    api.patch("/1.0/instances/c1", {"profiles": ["default", "extra"]})
    refused = api.delete("/1.0/profiles/extra")
    assert (refused.status_code, refused.json()["error"]) == (400, "Profile is currently in use")
    assert Profile.objects.filter(name="extra").exists()


@pytest.mark.django_db
def test_rename_and_delete_are_async(api, c1):
    assert _operation(api.post("/1.0/instances/c1", {"name": "c2"})).description == "Renaming instance"
    assert list(Instance.objects.values_list("name", flat=True)) == ["c2"]
    assert api.post("/1.0/instances/c2", {"name": "bad_name"}).status_code == 400

    assert _operation(api.delete("/1.0/instances/c2")).description == "Deleting instance"
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_snapshot_lifecycle_and_restore(api, c1):
    api.patch("/1.0/instances/c1", {"config": {"limits.cpu": "1"}})
    assert _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"})).description == "Snapshotting instance"
    api.patch("/1.0/instances/c1", {"config": {"limits.cpu": "4"}, "ephemeral": True})

    assert api.get("/1.0/instances/c1/snapshots").json()["metadata"] == ["/1.0/instances/c1/snapshots/s1"]
    snapshot = api.get("/1.0/instances/c1/snapshots/s1")
    assert snapshot.json()["metadata"]["config"]["limits.cpu"] == "1"
    assert snapshot.json()["metadata"]["profiles"] == ["default"]

    assert _operation(api.put("/1.0/instances/c1", {"restore": "s1"})).description == "Restoring snapshot"
    restored = Instance.objects.get(name="c1")
    assert (restored.config["limits.cpu"], restored.ephemeral) == ("1", False)

    assert _operation(api.post("/1.0/instances/c1/snapshots/s1", {"name": "s2"})).status == "Success"
    assert _operation(api.delete("/1.0/instances/c1/snapshots/s2")).description == "Deleting snapshot"
    assert not Snapshot.objects.exists()


@pytest.mark.django_db
def test_snapshot_names_default_and_conflict(api, c1):
    _operation(api.post("/1.0/instances/c1/snapshots", {}))
    _operation(api.post("/1.0/instances/c1/snapshots", {}))

    assert list(Snapshot.objects.values_list("name", flat=True)) == ["snap0", "snap1"]
    assert api.post("/1.0/instances/c1/snapshots", {"name": "snap0"}).status_code == 409
    assert api.post("/1.0/instances/nosuch/snapshots", {"name": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("expires_at", "etag"),
    [
        (None, "2c86054b814faf5dfb954f32dfdc8a32e8e36dce3d9b1c93ed3e2f204f13a1f2"),
        ("2030-01-01T00:00:00Z", "d087ad6c85f893b432363101225aed9adb7bf2bb8414010c86d3791e8df6faed"),
        ("2031-06-15T12:34:56.123456789Z", "42f223f8eaa517fd3a5599d3267d724af5e6bf69b578beddccdf9dea8184242b"),
        ("2030-01-01T01:00:00+01:00", "96c1fd9a4532b49b6128cb70966bb8d8feaeba225ef4273b6f498846c380237b"),
    ],
)
@pytest.mark.django_db
def test_snapshot_etag_equals_lxd_and_put_is_conditional(api, c1, expires_at, etag):
    _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))
    first = api.get("/1.0/instances/c1/snapshots/s1").headers["ETag"]
    if expires_at is not None:
        assert (
            api.put("/1.0/instances/c1/snapshots/s1", {"expires_at": expires_at}, HTTP_IF_MATCH="stale").status_code
            == 412
        )
        operation = _operation(
            api.put("/1.0/instances/c1/snapshots/s1", {"expires_at": expires_at}, HTTP_IF_MATCH=first)
        )
        assert operation.description == "Updating snapshot"

    assert api.get("/1.0/instances/c1/snapshots/s1").headers["ETag"] == f'"{etag}"'


def _lifecycle_actions():
    """The lifecycle events stored for listeners, oldest first: (action, source, context)."""
    messages = [json.loads(event.message) for event in Event.objects.order_by("id")]
    return [
        (m["metadata"]["action"], m["metadata"]["source"], m["metadata"].get("context"))
        for m in messages
        if m["type"] == "lifecycle"
    ]


@pytest.mark.django_db
def test_instance_writes_are_lxds_lifecycle_events(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _operation(api.post("/1.0/instances", {"name": "c1", "source": {"type": "none"}}))
        _operation(api.put("/1.0/instances/c1", {"config": {"limits.cpu": "2"}, "profiles": ["default"]}))
        _operation(api.put("/1.0/instances/c1", {"config": {"limits.cpu": "lots"}}))
        _operation(api.put("/1.0/instances/c1/state", {"action": "start"}))
        _operation(api.put("/1.0/instances/c1/state", {"action": "stop"}))
        _operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))
        _operation(api.post("/1.0/instances/c1/snapshots/s1", {"name": "s2"}))
        _operation(api.put("/1.0/instances/c1", {"restore": "s2"}))
        _operation(api.delete("/1.0/instances/c1/snapshots/s2"))
        _operation(api.post("/1.0/instances/c1", {"name": "c2"}))
        _operation(api.delete("/1.0/instances/c2"))

    assert _lifecycle_actions() == [
        # LXD names the storage pool of its root disk.
        ("instance-created", "/1.0/instances/c1", {"storage-pool": "default", "type": "container"}),
        ("instance-updated", "/1.0/instances/c1", None),
        ("instance-started", "/1.0/instances/c1", None),
        # A stop without force is a clean shutdown; LXD names a snapshot with its instance.
        ("instance-shutdown", "/1.0/instances/c1", None),
        ("instance-snapshot-created", "/1.0/instances/c1/snapshots/s1", None),
        ("instance-snapshot-renamed", "/1.0/instances/c1/snapshots/s2", {"old_name": "c1/s1"}),
        ("instance-restored", "/1.0/instances/c1", {"snapshot": "c1/s2"}),
        ("instance-snapshot-deleted", "/1.0/instances/c1/snapshots/s2", None),
        ("instance-renamed", "/1.0/instances/c2", {"old_name": "c1"}),
        ("instance-deleted", "/1.0/instances/c2", None),
    ]


@pytest.mark.django_db
def test_one_instance_reads_as_the_list_shows_it(api, c1, django_assert_num_queries):
    for name in ["zz", "aa"]:
        Profile.objects.create(name=name, config={"user.from": name})
    assert api.patch("/1.0/instances/c1", {"profiles": ["zz", "default", "aa"]}).status_code == 200
    listed = api.get("/1.0/instances?recursion=1").json()["metadata"]

    # The instance and its profiles, in the order LXD applies them.
    with django_assert_num_queries(2):
        response = api.get("/1.0/instances/c1")
    container = api.get("/1.0/containers/c1")

    assert response.json()["metadata"] == listed[0]
    assert listed[0]["profiles"] == ["zz", "default", "aa"]
    assert listed[0]["expanded_config"]["user.from"] == "aa"
    assert container.json()["metadata"] == listed[0]
    assert container.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize("prefix", ["/1.0/instances", "/1.0/containers"])
def test_backups_start_as_an_empty_list(api, c1, prefix):
    """What backups are made is in tests/test_instance_backups.py."""
    for recursion in ("", "?recursion=1"):
        response = api.get(f"{prefix}/c1/backups{recursion}")
        assert (response.status_code, response.json()["metadata"]) == (200, [])
    assert api.get(f"{prefix}/nosuch/backups").json()["error"] == "Instance not found"
    made = api.post(f"{prefix}/c1/backups", {"name": "b1"})
    assert (made.status_code, made.json()["metadata"]["status"]) == (202, "Success")
    assert "container_backup" in api.get("/1.0").json()["metadata"]["api_extensions"]


@pytest.mark.django_db
def test_a_move_into_a_full_project_fails_its_operation_and_changes_nothing(api, c1):
    """The target project's limits are judged as for a create there; the instance stays as it was."""
    api.post("/1.0/projects", {"name": "full", "config": {"features.profiles": "false", "limits.instances": "0"}})
    before = api.get("/1.0/instances/c1").json()["metadata"]

    moved = _operation(api.post("/1.0/instances/c1", {"name": "c1", "migration": True, "project": "full"}))

    assert (moved.status, moved.err) == (
        "Failure",
        'Failed creating instance record: Reached maximum number of instances in project "full"',
    )
    assert api.get("/1.0/instances/c1").json()["metadata"] == before
    assert api.get("/1.0/instances?project=full").json()["metadata"] == []


@pytest.mark.django_db
def test_a_move_to_another_pool_keeps_the_instance_and_names_the_pool_in_its_root_disk(api, c1):
    assert api.post("/1.0/storage-pools", {"name": "fast", "driver": "dir"}).status_code == 201
    api_answer = api.post("/1.0/instances/c1", {"name": "c1", "migration": True, "pool": "fast"})

    assert _operation(api_answer).status == "Success"
    metadata = api.get("/1.0/instances/c1").json()["metadata"]
    assert metadata["devices"]["root"] == {"path": "/", "pool": "fast", "type": "disk"}
    assert api.get("/1.0/storage-pools/fast").json()["metadata"]["used_by"] == ["/1.0/instances/c1"]
