"""Instances and their root disks: the pool it names must exist (LXD's texts, as the daemon
answers them: ``tests/test_storage_lxd.py``), and upgrading a database keeps its instances."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from resources.models import Instance, Profile, StoragePool

ROOT = {"root": {"type": "disk", "path": "/", "pool": "default"}}
CREATE_FAILED = "Failed creating instance record: Failed initialising instance: "


def _created(api, body):
    """(operation status, err) of an instance create."""
    answer = api.post("/1.0/instances", {"source": {"type": "none"}, **body})
    assert answer.status_code == 202, answer.content
    metadata = answer.json()["metadata"]
    return metadata["status"], metadata["err"]


@pytest.fixture
def pool(db):
    return StoragePool.objects.create(
        name="default", driver="dir", config={"source": "/var/lib/lxd/storage-pools/default"}
    )


@pytest.mark.django_db
def test_an_instance_needs_a_root_disk(api):
    assert _created(api, {"name": "c1"}) == (
        "Failure",
        CREATE_FAILED + "Failed getting root disk: No root device could be found",
    )
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_the_root_disk_names_an_existing_pool(api, pool):
    missing = {"root": {"type": "disk", "path": "/", "pool": "nosuch"}}

    assert _created(api, {"name": "c1", "devices": missing}) == (
        "Failure",
        CREATE_FAILED + "Failed loading storage pool: Storage pool not found",
    )
    assert _created(api, {"name": "c1", "devices": ROOT}) == ("Success", "")
    Profile.objects.filter(name="default").update(devices=ROOT)
    assert _created(api, {"name": "c2"}) == ("Success", "")
    assert api.get("/1.0/storage-pools/default").json()["metadata"]["used_by"] == [
        "/1.0/instances/c1",
        "/1.0/instances/c2",
        "/1.0/profiles/default",
    ]


@pytest.mark.django_db
def test_an_instances_root_disk_stays_in_its_pool(api, pool):
    StoragePool.objects.create(name="other", driver="dir")
    assert _created(api, {"name": "c1", "devices": ROOT}) == ("Success", "")
    moved = {"root": {"type": "disk", "path": "/", "pool": "other"}}

    patched = api.patch("/1.0/instances/c1", {"devices": moved})
    assert patched.status_code == 400
    assert patched.json()["error"] == 'Cannot update root disk device pool name to "other"'
    put = api.put("/1.0/instances/c1", {"devices": moved, "profiles": ["default"]}).json()["metadata"]
    assert (put["status"], put["err"]) == ("Failure", 'Cannot update root disk device pool name to "other"')
    sized = {"root": {**ROOT["root"], "size": "1GB"}}
    assert api.patch("/1.0/instances/c1", {"devices": sized}).status_code == 200
    assert Instance.objects.get(name="c1").devices == sized


@pytest.mark.django_db
def test_a_profile_keeps_the_root_disk_its_instances_rely_on(api, pool):
    Profile.objects.filter(name="default").update(devices=ROOT)
    StoragePool.objects.create(name="other", driver="dir")
    # Without instances, any change goes.
    assert (
        api.patch("/1.0/profiles/default", {"devices": {"root": {**ROOT["root"], "pool": "nosuch"}}}).status_code == 200
    )
    assert api.put("/1.0/profiles/default", {"devices": ROOT}).status_code == 200
    assert _created(api, {"name": "c1"}) == ("Success", "")

    for body in ({"devices": {"root": {**ROOT["root"], "pool": "other"}}}, {"devices": {}}):
        refused = api.put("/1.0/profiles/default", body)
        assert refused.status_code == 400
        assert refused.json()["error"] == "At least one instance relies on this profile's root disk device"
    assert Profile.objects.get(name="default").devices == ROOT
    # An instance with a root disk of its own does not rely on the profile's.
    api.patch("/1.0/instances/c1", {"devices": ROOT})
    assert api.put("/1.0/profiles/default", {"devices": {}}).status_code == 200


@pytest.mark.django_db
def test_a_pool_in_use_by_an_instance_stays(api, pool):
    assert _created(api, {"name": "c1", "devices": ROOT}) == ("Success", "")

    assert api.delete("/1.0/storage-pools/default").json()["error"] == "The storage pool is currently in use"
    api.delete("/1.0/instances/c1")
    assert api.delete("/1.0/storage-pools/default").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_upgrading_a_database_with_instances_gives_them_a_default_pool(settings, tmp_path):
    settings.LXD_DIR = tmp_path
    executor = MigrationExecutor(connection)
    executor.migrate([("resources", "0008_projects")])
    old = executor.loader.project_state([("resources", "0008_projects")]).apps
    # The default profile as migration 0002 makes it (a flush by an earlier test may have taken it).
    old.get_model("resources", "Profile").objects.get_or_create(project_id=1, name="default")
    profile = old.get_model("resources", "Profile").objects.create(
        name="web", devices={"data": {"type": "disk", "path": "/srv", "pool": "fast", "source": "v"}}
    )
    plain = old.get_model("resources", "Instance").objects.create(name="c1")
    own = old.get_model("resources", "Instance").objects.create(
        name="c2", devices={"root": {**ROOT["root"], "pool": "big"}}
    )
    old.get_model("resources", "InstanceProfile").objects.create(instance=plain, profile=profile)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    pools = {pool.name: (pool.driver, pool.config) for pool in StoragePool.objects.all()}
    assert pools == {
        name: ("dir", {"source": f"{tmp_path}/storage-pools/{name}"}) for name in ("big", "default", "fast")
    }
    # c1 takes no profile with a root disk (web has none): it gets its own; c2 keeps its pool.
    assert Instance.objects.get(pk=plain.pk).devices == ROOT
    assert Instance.objects.get(pk=own.pk).devices == {"root": {**ROOT["root"], "pool": "big"}}
    assert Profile.objects.get(name="default").devices == ROOT


@pytest.mark.django_db(transaction=True)
def test_upgrading_a_database_without_instances_makes_no_pool():
    executor = MigrationExecutor(connection)
    executor.migrate([("resources", "0008_projects")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert not StoragePool.objects.exists()
    assert not Profile.objects.exclude(devices={}).exists()
