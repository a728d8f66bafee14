"""``/1.0/storage-pools`` in-process: LXD's shapes, rules and texts (``dir`` as the daemon
answers them, compared in ``tests/test_storage_lxd.py``; the other drivers from LXD 5.0.2's
source, lxd/storage/drivers/driver_*.go, as the daemon here lacks their tools)."""

import pytest

from resources.documents import KINDS, DocumentError, export_document, import_document
from resources.etags import compute_etag, lxd_etag_of
from resources.models import Instance, InstanceProfile, Profile, Snapshot, StoragePool
from resources.serializers.storage_pools import StoragePoolETagSerializer

pytestmark = pytest.mark.django_db


def _error(response, code):
    assert response.status_code == code, response.content
    return response.json()["error"]


@pytest.fixture
def lxd_dir(settings, tmp_path):
    settings.LXD_DIR = tmp_path / "lxd"
    settings.LXD_DIR.mkdir()
    return settings.LXD_DIR


@pytest.fixture
def pool(api, lxd_dir):
    assert api.post("/1.0/storage-pools", {"name": "default", "driver": "dir"}).status_code == 201
    return StoragePool.objects.get(name="default")


def test_a_fresh_server_has_no_pool(api):
    assert api.get("/1.0/storage-pools").json()["metadata"] == []
    assert api.get("/1.0/storage-pools?recursion=1").json()["metadata"] == []


def test_a_dir_pool_gets_lxds_source_and_shape(api, lxd_dir):
    created = api.post("/1.0/storage-pools", {"name": "default", "driver": "dir"})

    assert created.status_code == 201
    assert created.headers["Location"] == "/1.0/storage-pools/default"
    got = api.get("/1.0/storage-pools/default")
    assert got.json()["metadata"] == {
        "config": {"source": f"{lxd_dir}/storage-pools/default"},
        "description": "",
        "name": "default",
        "driver": "dir",
        "used_by": None,
        "status": "Created",
        "locations": ["none"],
    }
    assert list(got.json()["metadata"]) == ["config", "description", "name", "driver", "used_by", "status", "locations"]
    assert api.get("/1.0/storage-pools").json()["metadata"] == ["/1.0/storage-pools/default"]
    # Nothing is made on disk.
    assert not (lxd_dir / "storage-pools").exists()


def test_the_etag_is_lxds_recipe_plus_the_description(api, pool):
    got = api.get("/1.0/storage-pools/default")
    lxd = compute_etag(["default", "dir", pool.config])

    assert lxd_etag_of(StoragePoolETagSerializer, pool) == lxd
    assert got.headers["ETag"] == f'"{compute_etag([["default", "dir", pool.config], {"description": ""}])}"'


@pytest.mark.parametrize(
    ("body", "code", "error"),
    [
        ({"driver": "dir"}, 400, "No name provided"),
        ({"name": "a/b", "driver": "dir"}, 400, "Storage pool names may not contain slashes"),
        ({"name": "x"}, 400, "No driver provided"),
        ({"name": "x", "driver": "foo"}, 400, "Unknown driver"),
        ({"name": "x", "driver": "dir", "config": {"foo": "bar"}}, 400, 'Invalid option "foo"'),
        ({"name": "x", "driver": "dir", "config": {"size": "1GB"}}, 400, 'Invalid option "size"'),
        (
            {"name": "x", "driver": "dir", "config": {"rsync.bwlimit": "fast"}},
            400,
            'Invalid value for option "rsync.bwlimit": Invalid value: fast',
        ),
        (
            {"name": "x", "driver": "zfs", "config": {"volume.zfs.blocksize": "1000"}},
            400,
            'Invalid value for option "volume.zfs.blocksize": Value should be between 512 and 16MiB, and be power of 2',
        ),
        (
            {"name": "x", "driver": "lvm", "config": {"lvm.use_thinpool": "false", "lvm.thinpool_name": "t"}},
            400,
            "The key lvm.use_thinpool cannot be set to false when lvm.thinpool_name is set",
        ),
        ({"name": "x", "driver": "cephfs"}, 400, "Missing required source name/path"),
    ],
)
def test_bad_creates_are_refused_with_lxds_text(api, lxd_dir, body, code, error):
    assert _error(api.post("/1.0/storage-pools", body), code) == error
    assert not StoragePool.objects.exists()


def test_a_taken_name_is_a_409(api, pool):
    refused = api.post("/1.0/storage-pools", {"name": "default", "driver": "dir"})

    assert _error(refused, 409) == "The storage pool already exists: The record already exists"


@pytest.mark.parametrize(
    ("driver", "config", "expected"),
    [
        ("zfs", {}, {"zfs.pool_name": "p", "volatile.initial_source": ""}),
        ("btrfs", {"size": "7GiB"}, {"size": "7GiB", "volatile.initial_source": ""}),
        ("lvm", {}, {"lvm.vg_name": "p", "lvm.thinpool_name": "LXDThinPool", "volatile.initial_source": ""}),
        (
            "ceph",
            {},
            {
                "ceph.cluster_name": "ceph",
                "ceph.osd.pg_num": "32",
                "ceph.osd.pool_name": "p",
                "ceph.user.name": "admin",
                "source": "p",
                "volatile.initial_source": "",
                "volatile.pool.pristine": "true",
            },
        ),
        (
            "cephfs",
            {"source": "fs/x"},
            {
                "cephfs.cluster_name": "ceph",
                "cephfs.path": "fs/x",
                "cephfs.user.name": "admin",
                "source": "fs/x",
                "volatile.initial_source": "fs/x",
            },
        ),
    ],
)
def test_other_drivers_get_the_defaults_of_lxds_source(api, lxd_dir, driver, config, expected):
    assert api.post("/1.0/storage-pools", {"name": "p", "driver": driver, "config": config}).status_code == 201

    got = api.get("/1.0/storage-pools/p").json()["metadata"]["config"]
    assert {key: got[key] for key in expected} == expected
    if driver in ("zfs", "btrfs", "lvm"):
        assert got["source"] == f"{lxd_dir}/disks/p.img"
        assert got["size"].endswith("GiB")


def test_put_replaces_and_patch_merges(api, pool):
    source = pool.config["source"]
    put = api.put("/1.0/storage-pools/default", {"config": {"source": source, "user.a": "1"}, "description": "d"})
    assert put.status_code == 200
    assert put.json()["metadata"] == {}
    assert put.headers["ETag"] == api.get("/1.0/storage-pools/default").headers["ETag"]

    patched = api.patch("/1.0/storage-pools/default", {"config": {"volume.size": "1GB"}})
    assert patched.status_code == 200
    got = api.get("/1.0/storage-pools/default").json()["metadata"]
    assert got["config"] == {"source": source, "user.a": "1", "volume.size": "1GB"}
    assert got["description"] == "d"


@pytest.mark.parametrize(
    ("method", "body", "error"),
    [
        ("put", {"description": "put"}, "Pool source cannot be changed when not in pending state"),
        ("put", {"config": {"source": "/elsewhere"}}, "Pool source cannot be changed when not in pending state"),
        ("patch", {"config": {"bad": "1"}}, 'Invalid option "bad"'),
        ("patch", {"config": {"volume.block.filesystem": "xfs"}}, 'Invalid option "volume.block.filesystem"'),
    ],
)
def test_bad_updates_change_nothing(api, pool, method, body, error):
    before = api.get("/1.0/storage-pools/default")

    assert _error(getattr(api, method)("/1.0/storage-pools/default", body), 400) == error
    after = api.get("/1.0/storage-pools/default")
    assert (after.json(), after.headers["ETag"]) == (before.json(), before.headers["ETag"])


def test_fixed_keys_of_other_drivers_stay(api, lxd_dir):
    api.post("/1.0/storage-pools", {"name": "z", "driver": "zfs"})
    config = api.get("/1.0/storage-pools/z").json()["metadata"]["config"]

    refused = api.put("/1.0/storage-pools/z", {"config": {**config, "zfs.pool_name": "other"}})
    assert _error(refused, 400) == "zfs.pool_name cannot be modified"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_missing_pool_is_lxds_404(api, method):
    assert _error(getattr(api, method)("/1.0/storage-pools/nope", {}), 404) == "Storage pool not found"


def test_a_pool_cannot_be_renamed(api, pool):
    assert _error(api.post("/1.0/storage-pools/default", {"name": "x"}), 501) == "not implemented"


def test_used_by_names_profiles_instances_and_snapshots_and_keeps_the_pool(api, pool):
    default = Profile.objects.get(name="default")
    default.devices = {"root": {"type": "disk", "path": "/", "pool": "default"}}
    default.save()
    instance = Instance.objects.create(name="c1")
    InstanceProfile.objects.create(instance=instance, profile=default)
    Snapshot.objects.create(instance=instance, name="s1")
    Instance.objects.create(name="c2", devices={"root": {"type": "disk", "path": "/", "pool": "other"}})

    got = api.get("/1.0/storage-pools/default").json()["metadata"]
    assert got["used_by"] == ["/1.0/instances/c1", "/1.0/instances/c1/snapshots/s1", "/1.0/profiles/default"]
    assert _error(api.delete("/1.0/storage-pools/default"), 400) == "The storage pool is currently in use"
    assert StoragePool.objects.filter(name="default").exists()


def test_delete_removes_an_unused_pool(api, pool):
    assert api.delete("/1.0/storage-pools/default").status_code == 200
    assert api.get("/1.0/storage-pools/default").status_code == 404


def test_resources_of_a_dir_pool_are_its_file_systems(api, pool):
    got = api.get("/1.0/storage-pools/default/resources")

    assert got.status_code == 200
    figures = got.json()["metadata"]
    assert set(figures) == {"space", "inodes"}
    assert 0 < figures["space"]["used"] < figures["space"]["total"]
    assert 0 < figures["inodes"]["used"] < figures["inodes"]["total"]
    assert _error(api.get("/1.0/storage-pools/nope/resources"), 404) == "Storage pool not found"


def test_untrusted_clients_see_no_pools(tcp_api, pool):
    assert tcp_api.get("/1.0/storage-pools").status_code == 403


def test_the_server_environment_names_the_drivers_in_use(api, lxd_dir):
    """lxc prints its first-run hint while ``environment.storage`` is empty, as LXD's is without pools."""
    environment = api.get("/1.0").json()["metadata"]["environment"]
    assert (environment["storage"], environment["storage_version"]) == ("", "")
    assert {"Name": "dir", "Version": "1", "Remote": False} in environment["storage_supported_drivers"]

    api.post("/1.0/storage-pools", {"name": "a", "driver": "dir"})
    api.post("/1.0/storage-pools", {"name": "b", "driver": "zfs"})
    environment = api.get("/1.0").json()["metadata"]["environment"]
    assert (environment["storage"], environment["storage_version"]) == ("dir | zfs", "1 | ")


def test_a_dir_source_the_client_names_is_an_empty_directory_outside_lxd_dir(api, lxd_dir, tmp_path):
    full = tmp_path / "full"
    (full / "x").mkdir(parents=True)
    inside = lxd_dir / "inside"
    inside.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()

    def create(source):
        return api.post("/1.0/storage-pools", {"name": "p", "driver": "dir", "config": {"source": str(source)}})

    assert _error(create(tmp_path / "nope"), 400) == f"Source path '{tmp_path}/nope' doesn't exist"
    assert _error(create(full), 400) == f"Source path '{full}' isn't empty"
    assert _error(create(inside), 400) == f"Source path '{inside}' is within the LXD directory"
    assert create(empty).status_code == 201


def test_export_and_import_carry_pools_before_what_names_them(api, lxd_dir):
    api.post("/1.0/storage-pools", {"name": "default", "driver": "dir", "description": "d"})
    api.post("/1.0/storage-pools", {"name": "z", "driver": "zfs", "config": {"user.a": "1"}})
    exported = export_document()
    assert [(pool["name"], pool["driver"]) for pool in exported["storage_pools"]] == [("default", "dir"), ("z", "zfs")]
    before = api.get("/1.0/storage-pools?recursion=1").json()["metadata"]
    StoragePool.objects.all().delete()

    import_document(exported)

    assert api.get("/1.0/storage-pools?recursion=1").json()["metadata"] == before
    exported["storage_pools"][1]["driver"] = "lvm"
    with pytest.raises(DocumentError, match="Storage pool 'z': Its driver is zfs, not lvm"):
        import_document(exported)


def test_show_prints_a_pool(api, pool):
    assert KINDS["storage-pool"].document(pool) == {
        **api.get("/1.0/storage-pools/default").json()["metadata"],
    }
