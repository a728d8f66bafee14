"""pylxd (2.4.2, from PyPI) against a live lxdsite over the unix socket: it never sends If-Match."""

import os
import warnings

import pylxd
import pytest
from pylxd.exceptions import Conflict, LXDAPIException, NotFound

from tests.support.image_files import unified_image
from tests.support.lxc import ROOT_DISK

pytestmark = pytest.mark.live


@pytest.fixture
def client(lxdsite_server):
    """A pylxd client on lxdsite's unix socket."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield pylxd.Client(endpoint=str(lxdsite_server.socket_path))


def test_profile_lifecycle(client):
    created = client.profiles.create("web", config={"limits.cpu": "1"}, devices={}, description="via pylxd")
    created.description = "saved"
    created.config["user.note"] = "é <&>"
    created.save()

    fetched = client.profiles.get("web")
    assert (fetched.description, fetched.config) == ("saved", {"limits.cpu": "1", "user.note": "é <&>"})
    fetched.rename("web2")
    assert sorted(profile.name for profile in client.profiles.all()) == ["default", "web2"]
    client.profiles.get("web2").delete()
    assert not client.profiles.exists("web2")


def test_profile_errors_surface_as_pylxd_exceptions(client):
    client.profiles.create("dup")

    with pytest.raises(Conflict):
        client.profiles.create("dup")
    with pytest.raises(NotFound):
        client.profiles.get("nosuch")
    with pytest.raises(LXDAPIException, match=r"Unknown configuration key: no\.such\.key"):
        client.profiles.create("bad", config={"no.such.key": "1"})
    with pytest.raises(LXDAPIException, match='The "default" profile cannot be deleted'):
        client.profiles.get("default").delete()


def test_image_lifecycle(client, lxdsite_server):
    from tests.support.image_files import sha256, unified_image

    data = unified_image()

    image = client.images.create(data, public=True)

    assert image.fingerprint == sha256(data)
    image.add_alias("tiny", "added by pylxd")
    fetched = client.images.get_by_alias("tiny")
    assert (fetched.fingerprint, fetched.public, fetched.properties["os"]) == (sha256(data), True, "tinyos")
    # save() PUTs auto_update, properties and public; LXD keeps the profiles it leaves out.
    fetched.properties["os"] = "saved é <&>"
    fetched.public = False
    fetched.save()
    again = client.images.get(sha256(data)[:12])
    assert (again.properties["os"], again.public, again.profiles) == ("saved é <&>", False, ["default"])
    assert again.export().read() == data
    again.delete_alias("tiny")
    assert not client.images.get(sha256(data)).aliases
    again.delete(wait=True)
    assert not client.images.exists(sha256(data))
    assert not os.listdir(lxdsite_server.lxd_dir / "images")


def test_split_image_and_errors(client):
    from tests.support.image_files import sha256, split_image, unified_image

    meta, rootfs = split_image()

    image = client.images.create(rootfs, metadata=meta)

    assert image.fingerprint == sha256(meta, rootfs)
    assert client.images.get(image.fingerprint).size == len(meta) + len(rootfs)
    with pytest.raises(LXDAPIException, match="Image with same fingerprint already exists"):
        client.images.create(rootfs, metadata=meta)
    with pytest.raises(LXDAPIException, match="Unsupported compression"):
        client.images.create(b"not an image at all")
    with pytest.raises(NotFound):
        client.images.get_by_alias("nosuch")
    image.add_alias("a", "")
    with pytest.raises(Conflict):
        image.add_alias("a", "")
    assert client.images.create(unified_image()).fingerprint != image.fingerprint


@pytest.mark.postgres
def test_images_on_postgresql(lxdsite_pg_server):
    from tests.support.image_files import sha256, split_image, unified_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = pylxd.Client(endpoint=str(lxdsite_pg_server.socket_path))
    data = unified_image()
    meta, rootfs = split_image()

    client.images.create(data).add_alias("tiny", "d")
    fetched = client.images.get_by_alias("tiny")
    fetched.properties["os"] = "pg"
    fetched.save()

    assert client.images.get(sha256(data)[:8]).properties["os"] == "pg"
    assert client.images.create(rootfs, metadata=meta).fingerprint == sha256(meta, rootfs)
    _, _, body = lxdsite_pg_server.request("GET", "/1.0/images?recursion=1&filter=properties.os%20eq%20pg")
    assert [entry["fingerprint"] for entry in body["metadata"]] == [sha256(data)]
    fetched.delete(wait=True)
    assert [image.fingerprint for image in client.images.all()] == [sha256(meta, rootfs)]


def test_images_instances_and_snapshots(client):
    # The pool instances live in, made as a pylxd user makes it (a fresh server has none).
    client.storage_pools.create({"name": "default", "driver": "dir"})
    assert [pool.name for pool in client.storage_pools.all()] == ["default"]
    default = client.profiles.get("default")
    default.devices = ROOT_DISK
    default.save()
    image = client.images.create(unified_image(marker="pylxd-instances"), wait=True)
    image.add_alias("tiny", "added by pylxd")
    assert client.images.get_by_alias("tiny").fingerprint == image.fingerprint

    instance = client.instances.create({"name": "c1", "source": {"type": "image", "alias": "tiny"}}, wait=True)
    assert (instance.status, instance.profiles) == ("Stopped", ["default"])
    # save() sends back created_at, expanded_* and the volatile keys: all of it must be accepted.
    instance.config["limits.cpu"] = "2"
    instance.description = "saved by pylxd"
    instance.save(wait=True)
    fetched = client.instances.get("c1")
    assert (fetched.config["limits.cpu"], fetched.description) == ("2", "saved by pylxd")

    instance.start(wait=True)
    assert client.instances.get("c1").status == "Running"
    instance.stop(wait=True)
    instance.snapshots.create("s1", wait=True)
    assert [snapshot.name for snapshot in instance.snapshots.all()] == ["s1"]
    assert [item.name for item in client.instances.all()] == ["c1"]

    instance.rename("c2", wait=True)
    client.instances.get("c2").delete(wait=True)
    assert client.instances.all() == []
    image.delete_alias("tiny")
    image.delete(wait=True)
    assert client.images.all() == []


def test_network_lifecycle(client):
    none = {"ipv4.address": "none", "ipv6.address": "none"}
    created = client.networks.create("pbr0", description="via pylxd", type="bridge", config=none)
    created.config["user.note"] = "x"
    created.save()

    fetched = client.networks.get("pbr0")
    assert (fetched.managed, fetched.type, fetched.config) == (True, "bridge", {**none, "user.note": "x"})
    assert fetched.state().mtu == 1500
    fetched.rename("pbr1")
    assert "pbr1" in [network.name for network in client.networks.all()]
    with pytest.raises(LXDAPIException, match="Network not found"):
        client.networks.get("pbr0")
    client.networks.get("pbr1").delete()
    assert not client.networks.exists("pbr1")
