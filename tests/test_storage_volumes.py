"""Storage volumes in-process: what the daemon here cannot show (drivers other than ``dir``,
whose keys come from LXD 5.0.2's source, lxd/storage/drivers/driver_*.go), and what follows from
other objects (instances' volumes, disks attaching volumes, projects). ``dir`` is compared with
the daemon in ``tests/test_storage_volumes_lxd.py``."""

import html
import re

import pytest

from resources.documents import DocumentError, export_document, import_document
from resources.models import Image, Instance, InstanceProfile, Profile, Project, StoragePool, StorageVolume
from tests.support.lxc import ROOT_DISK

pytestmark = pytest.mark.django_db
V = "/1.0/storage-pools/default/volumes"


@pytest.fixture
def pool():
    return StoragePool.objects.create(name="default", driver="dir", config={"source": "/x"})


def _error(response, code):
    assert response.status_code == code, response.content
    return response.json()["error"]


@pytest.mark.parametrize(
    ("driver", "content_type", "config", "error"),
    [
        ("zfs", "filesystem", {"zfs.blocksize": "3"}, 'Invalid value for volume "default_v" option "zfs.blocksize": '),
        ("lvm", "filesystem", {"block.filesystem": "vfat"}, 'option "block.filesystem": Invalid value "vfat"'),
        (
            "lvm",
            "block",
            {"block.filesystem": "ext4"},
            'Invalid option for volume "default_v" option "block.filesystem"',
        ),
        ("btrfs", "filesystem", {"zfs.use_refquota": "true"}, 'option "zfs.use_refquota"'),
    ],
)
def test_drivers_volume_keys_follow_lxds_source(api, driver, content_type, config, error):
    StoragePool.objects.create(name="default", driver=driver, config={"source": "/x", "size": "5GiB"})
    body = {"name": "v", "content_type": content_type, "config": config}
    assert error in _error(api.post(f"{V}/custom", body), 400)
    assert not StorageVolume.objects.exists()


def test_a_driver_volume_key_is_accepted_and_a_non_dir_state_reports_the_size(api):
    StoragePool.objects.create(name="default", driver="zfs", config={"source": "/x", "volume.zfs.use_refquota": "true"})
    assert api.post(f"{V}/custom", {"name": "v", "config": {"size": "1GiB"}}).status_code == 200
    assert api.get(f"{V}/custom/v").json()["metadata"]["config"] == {"size": "1GiB", "zfs.use_refquota": "true"}
    assert api.get(f"{V}/custom/v/state").json()["metadata"] == {"usage": {"used": 0, "total": 1024**3}}


def test_volumes_live_in_the_project_with_the_feature(api, pool):
    assert api.post("/1.0/projects", {"name": "own", "config": {"features.storage.volumes": "true"}}).status_code == 201
    assert (
        api.post("/1.0/projects", {"name": "shared", "config": {"features.storage.volumes": "false"}}).status_code
        == 201
    )
    assert api.post(f"{V}/custom?project=own", {"name": "v"}).status_code == 200
    assert api.post(f"{V}/custom?project=shared", {"name": "w"}).status_code == 200
    assert api.get(f"{V}?project=own").json()["metadata"] == [f"{V}/custom/v?project=own"]
    assert api.get(f"{V}/custom/w").json()["metadata"]["project"] == "default"
    # Moved to another project: LXD's operation, and the name is free again where it was.
    moved = api.post(f"{V}/custom/w", {"name": "w", "project": "own", "pool": "default"})
    assert moved.status_code == 202
    assert StorageVolume.objects.get(name="w").project.name == "own"
    assert _error(api.post(f"{V}/custom/v?project=own", {"name": "w"}), 409) == "Volume by that name already exists"
    # LXD 5.0.2 moves between projects only with the pool named.
    assert _error(api.post(f"{V}/custom/v?project=own", {"name": "v", "project": "shared"}), 404) == (
        "Storage pool not found"
    )
    assert _error(api.get(f"{V}?project=nosuch"), 404) == "Project not found"


def test_an_instance_volume_comes_and_goes_with_its_instance(api, pool):
    pool.config["volume.snapshots.expiry"] = "2d"
    pool.config["volume.size"] = "1GiB"
    pool.save()
    Profile.objects.filter(name="default").update(devices=ROOT_DISK)
    instance = Instance.objects.create(name="c1")
    InstanceProfile.objects.create(instance=instance, profile=Profile.objects.get(name="default"))
    shown = api.get(f"{V}/container/c1").json()["metadata"]
    assert (shown["config"], shown["used_by"]) == ({"snapshots.expiry": "2d"}, ["/1.0/instances/c1"])
    etag = api.get(f"{V}/container/c1").headers["ETag"]
    put = api.put(f"{V}/container/c1", {"config": {"user.a": "1"}}, headers={"If-Match": etag})
    assert put.status_code == 200
    assert api.get(f"{V}/container/c1").json()["metadata"]["config"] == {"user.a": "1"}
    instance.name = "c2"
    instance.save()
    assert api.get(V).json()["metadata"] == [f"{V}/container/c2"]
    instance.delete()
    assert api.get(V).json()["metadata"] == []
    assert not StorageVolume.objects.exists()


def test_a_volume_in_use_stays_and_a_rename_follows_its_disks(api, pool):
    assert api.post(f"{V}/custom", {"name": "v"}).status_code == 200
    disk = {"type": "disk", "pool": "default", "source": "v", "path": "/mnt"}
    Profile.objects.create(name="p", devices={"d": disk})
    profile_url = "/1.0/profiles/p"
    assert api.get(f"{V}/custom/v").json()["metadata"]["used_by"] == [profile_url]
    assert _error(api.delete(f"{V}/custom/v"), 400) == "The storage volume is still in use"
    assert api.post(f"{V}/custom/v", {"name": "w"}).status_code == 201
    assert Profile.objects.get(name="p").devices["d"]["source"] == "w"
    assert api.get(f"{V}/custom/w").json()["metadata"]["used_by"] == [profile_url]


def test_export_and_import_carry_custom_volumes_and_their_snapshots(api, pool):
    body = {"name": "v", "description": "d", "content_type": "block", "config": {"size": "1GiB"}}
    assert api.post(f"{V}/custom", body).status_code == 200
    snapshot = {"name": "s", "expires_at": "2030-01-01T00:00:00Z"}
    assert api.post(f"{V}/custom/v/snapshots", snapshot).status_code == 202
    before = [api.get(url).json()["metadata"] for url in (f"{V}/custom/v", f"{V}/custom/v/snapshots/s")]
    document = export_document()
    assert [volume["name"] for volume in document["storage_volumes"]] == ["v"]
    StorageVolume.objects.all().delete()
    import_document(document)
    assert [api.get(url).json()["metadata"] for url in (f"{V}/custom/v", f"{V}/custom/v/snapshots/s")] == before
    # Imported again over what is there: replaced, not doubled.
    import_document(document)
    assert api.get(V).json()["metadata"] == [f"{V}/custom/v", f"{V}/custom/v/snapshots/s"]
    document["storage_volumes"][0]["pool"] = "nosuch"
    with pytest.raises(DocumentError, match="Storage volume 'v': no storage pool 'nosuch'"):
        import_document(document)


def _version(response):
    match = re.search(r'name="version" value="([0-9a-f]+)"', response.content.decode())
    assert match
    return match.group(1)


def test_the_admin_makes_changes_and_deletes_volumes_by_the_apis_rules(admin_client, pool):
    add = "/admin/resources/storagevolume/add/"
    inline = {"snapshots-TOTAL_FORMS": "0", "snapshots-INITIAL_FORMS": "0"}
    form = {"pool": pool.pk, "project": Project.DEFAULT_ID, "name": "v", "content_type": "block", **inline}
    refused = admin_client.post(add, {**form, "config": "security.shifted: true"})
    assert 'Invalid option for volume "default_v" option "security.shifted"' in html.unescape(refused.content.decode())
    assert not StorageVolume.objects.exists()
    added = admin_client.post(add, {**form, "config": "size: 1GiB"})
    assert added.status_code == 302
    volume = StorageVolume.objects.get(name="v")
    assert (volume.content_type, volume.config, volume.project_id) == ("block", {"size": "1GiB"}, Project.DEFAULT_ID)

    url = f"/admin/resources/storagevolume/{volume.pk}/change/"
    change = {"description": "d", "version": _version(admin_client.get(url)), "_save": "Save", **inline}
    assert "Invalid value for volume" in html.unescape(
        admin_client.post(url, {**change, "config": "size: x"}).content.decode()
    )
    assert admin_client.post(url, {**change, "config": "size: 2GiB"}).status_code == 302
    volume.refresh_from_db()
    assert (volume.description, volume.config) == ("d", {"size": "2GiB"})

    Profile.objects.create(name="p", devices={"d": {"type": "disk", "pool": "default", "source": "v", "path": "/m"}})
    delete = f"/admin/resources/storagevolume/{volume.pk}/delete/"
    refused = admin_client.post(delete, {"post": "yes", "version": _version(admin_client.get(delete))}, follow=True)
    assert "The storage volume is still in use" in html.unescape(refused.content.decode())
    assert StorageVolume.objects.filter(pk=volume.pk).exists()


def test_the_server_uses_the_volume_its_storage_keys_name(api, pool):
    assert api.post(f"{V}/custom", {"name": "backups"}).status_code == 200
    assert api.patch("/1.0", {"config": {"storage.backups_volume": "default/backups"}}).status_code == 200
    assert api.get(f"{V}/custom/backups").json()["metadata"]["used_by"] == ["/1.0"]
    assert _error(api.delete(f"{V}/custom/backups"), 400) == "The storage volume is still in use"
    assert api.post(f"{V}/custom", {"name": "images"}).status_code == 200
    assert api.post(f"{V}/custom/images/snapshots", {"name": "s"}).status_code == 202
    refused = api.patch("/1.0", {"config": {"storage.images_volume": "default/images"}})
    assert _error(refused, 400) == (
        'Failed validation of "storage.images_volume": Storage volumes for use by LXD itself cannot have snapshots'
    )
    assert "storage.images_volume" not in api.get("/1.0").json()["metadata"]["config"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", f"{V}/custom", {"name": "c", "source": {"type": "copy", "pool": 1, "name": ["v"]}}, 202),
        (
            "post",
            f"{V}/custom",
            {"name": "c", "config": None, "source": {"type": "copy", "pool": "default", "name": 5}},
            202,
        ),
        ("post", f"{V}/custom", {"name": "c", "config": {"a": 1}, "source": {"type": "copy"}}, 400),
        ("post", f"{V}/custom", {"name": "c", "source": "copy"}, 400),
        ("post", f"{V}/custom", ["v"], 400),
        ("post", f"{V}/custom/v", {"name": 5}, 400),
        ("post", f"{V}/custom/v", {"name": "w", "pool": ["x"], "project": {"a": 1}}, 201),
        ("put", f"{V}/custom/v", {"restore": 5}, 400),
        ("put", f"{V}/custom/v", {"config": None, "description": None}, 200),
        ("post", f"{V}/custom/v/snapshots", {"name": 5}, 400),
        ("post", f"{V}/custom/v/snapshots", {"name": "s", "expires_at": 5}, 400),
    ],
)
def test_malformed_bodies_are_refused_or_read_as_go_reads_them(api, pool, method, path, body, status):
    assert api.post(f"{V}/custom", {"name": "v", "config": {"user.a": "1"}}).status_code == 200
    response = getattr(api, method)(path, body)
    assert response.status_code == status, response.content
    if status >= 400:
        assert response.json()["type"] == "error"
        assert [(v.name, v.config) for v in StorageVolume.objects.all()] == [("v", {"user.a": "1"})]


def test_an_optimized_pool_keeps_an_image_volume_until_the_image_goes(api):
    """LXD 5.0.2's source (lxd/storage/backend_lxd.go EnsureImage): btrfs, zfs, lvm and ceph keep
    an image's unpacked copy as an ``image`` volume when an instance is made from it there."""
    StoragePool.objects.create(name="default", driver="zfs", config={"source": "/x", "volume.snapshots.expiry": "1d"})
    Profile.objects.filter(name="default").update(devices=ROOT_DISK)
    fingerprint = "ab" * 32
    image = Image.objects.create(fingerprint=fingerprint, architecture="x86_64", filename="i.tar")
    image.profile_links.create(profile=Profile.objects.get(name="default"))
    created = api.post("/1.0/instances", {"name": "c1", "source": {"type": "image", "fingerprint": fingerprint}})
    assert created.status_code == 202, created.content
    assert api.get(V).json()["metadata"] == [f"{V}/container/c1", f"{V}/image/{fingerprint}"]
    shown = api.get(f"{V}/image/{fingerprint}").json()["metadata"]
    assert (shown["used_by"], shown["config"]) == ([f"/1.0/images/{fingerprint}"], {"snapshots.expiry": "1d"})
    assert f"/1.0/images/{fingerprint}" in api.get("/1.0/storage-pools/default").json()["metadata"]["used_by"]
    # It stays when the instance goes, and goes with the image.
    assert api.delete("/1.0/instances/c1").status_code == 202
    assert api.get(V).json()["metadata"] == [f"{V}/image/{fingerprint}"]
    image.delete()
    assert api.get(V).json()["metadata"] == []


def test_a_pool_holding_only_image_volumes_is_deleted_with_them(api):
    pool = StoragePool.objects.create(name="default", driver="btrfs", config={"source": "/x"})
    StorageVolume.objects.create(pool=pool, type="image", name="ab" * 32)
    Image.objects.create(fingerprint="ab" * 32, architecture="x86_64")
    assert api.delete("/1.0/storage-pools/default").status_code == 200
    assert not StorageVolume.objects.exists()
