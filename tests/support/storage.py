"""Storage set-up for tests that make instances: a server needs a pool first, as LXD does."""

from resources.models import Profile, Project, StoragePool
from tests.support.live_server import unix_request
from tests.support.lxc import ROOT_DISK


def make_default_pool():
    """A ``dir`` pool ``default`` with the root disk on it in the default profile, as README's
    set-up (or `lxd init`) leaves a server: instances can be made. A fresh server has no pool."""
    pool = StoragePool.objects.create(
        name="default", driver="dir", config={"source": "/var/lib/lxd/storage-pools/default"}
    )
    Profile.objects.filter(name=Profile.DEFAULT_NAME, project_id=Project.DEFAULT_ID).update(devices=ROOT_DISK)
    return pool


def serve_default_pool(socket_path):
    """The same set-up on a live server, through its API (README's `lxc storage create default
    dir` and the root disk in the default profile)."""
    assert unix_request(socket_path, "POST", "/1.0/storage-pools", {"name": "default", "driver": "dir"})[0] == 201
    assert unix_request(socket_path, "PATCH", "/1.0/profiles/default", {"devices": ROOT_DISK})[0] == 200
