"""``manage.py import_from_lxd`` copies a running LXD into lxdsite; lxc then shows the same objects."""

import datetime
import subprocess
import sys

import pytest

from resources.serializers import ImageETagSerializer
from tests.support.etag_recipes import assert_etags_agree
from tests.support.image_files import unified_image
from tests.support.live_server import REPO_ROOT, unix_request
from tests.support.lxc import comparable, run_lxc, storage_pool

pytestmark = [pytest.mark.live, pytest.mark.lxd]


@pytest.fixture
def populated_lxd(real_lxd, tmp_path):
    """The real daemon holding a profile, an image with an alias, and an instance with a snapshot."""
    image = tmp_path / "imp.tar.gz"
    image.write_bytes(unified_image(marker="import-from-lxd"))
    with storage_pool(real_lxd):
        yield from _populate(real_lxd, tmp_path, image)


def _populate(real_lxd, tmp_path, image):
    """Create the objects to import, yield the daemon, remove them again."""
    unix_request(
        real_lxd,
        "POST",
        "/1.0/profiles",
        {"name": "imp", "description": "imported <&>", "config": {"limits.cpu": "2", "user.x": "é"}},
    )
    for args in (
        ("image", "import", str(image), "--alias", "imp-image"),
        ("init", "imp-image", "imp1", "--profile", "default", "--profile", "imp"),
        ("config", "set", "imp1", "limits.memory", "128MB"),
        ("snapshot", "imp1", "s1"),
        # A project with its own profiles (one named as the default project's) and an instance
        # named as the default project's, made from the default project's image.
        ("project", "create", "impp", "-c", "features.images=false", "-c", "limits.instances=3"),
        ("profile", "device", "add", "default", "root", "disk", "path=/", "pool=default", "--project", "impp"),
        ("profile", "create", "imp", "--project", "impp"),
        ("profile", "set", "imp", "user.where=impp", "--project", "impp"),
        ("init", "imp-image", "imp1", "--profile", "default", "--profile", "imp", "--project", "impp"),
        # Custom volumes (a project's own: features.storage.volumes), one with a snapshot.
        ("storage", "volume", "create", "default", "impv", "user.a=1", "--type", "block"),
        ("storage", "volume", "snapshot", "default", "impv", "is1"),
        ("storage", "volume", "create", "default", "impv", "--project", "impp"),
    ):
        status, _, stderr = run_lxc(real_lxd, tmp_path, *args)
        assert status == 0, (args, stderr)
    yield real_lxd
    for args in (
        ("storage", "volume", "delete", "default", "impv", "--project", "impp"),
        ("storage", "volume", "delete", "default", "impv/is1"),
        ("storage", "volume", "delete", "default", "impv"),
        ("delete", "--force", "imp1", "--project", "impp"),
        ("profile", "delete", "imp", "--project", "impp"),
        ("profile", "device", "remove", "default", "root", "--project", "impp"),
        ("project", "delete", "impp"),
        ("delete", "--force", "imp1"),
        ("image", "delete", "imp-image"),
        ("profile", "delete", "imp"),
    ):
        run_lxc(real_lxd, tmp_path, *args)


def _import(server, lxd_socket):
    return subprocess.run(
        [sys.executable, "manage.py", "import_from_lxd", "--socket", str(lxd_socket)],
        cwd=REPO_ROOT,
        env={"LXD_DIR": str(server.lxd_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _etags(socket_path, fingerprint):
    paths = [
        "/1.0/profiles/imp",
        f"/1.0/images/{fingerprint}",
        "/1.0/images/aliases/imp-image",
        "/1.0/instances/imp1/snapshots/s1",
    ]
    return {path: unix_request(socket_path, "GET", path)[1]["ETag"] for path in paths}


def test_import_copies_everything_and_lxc_shows_the_same(populated_lxd, lxdsite_server, tmp_path):
    first = _import(lxdsite_server, populated_lxd)
    assert first.returncode == 0, first.stderr
    again = _import(lxdsite_server, populated_lxd)
    assert again.returncode == 0, again.stderr

    ours = lxdsite_server.socket_path
    for args in (
        ("profile", "show", "imp"),
        ("image", "alias", "list", "--format", "csv"),
        ("image", "list", "--format", "csv", "-c", "lfpdas"),
        ("config", "show", "imp1"),
        ("config", "show", "imp1", "--expanded"),
        ("list", "imp1", "--format", "csv", "-c", "nsS"),
        ("project", "show", "impp"),
        ("profile", "show", "imp", "--project", "impp"),
        ("config", "show", "imp1", "--expanded", "--project", "impp"),
        ("list", "--format", "csv", "-c", "nsS", "--project", "impp"),
        ("storage", "volume", "show", "default", "impv"),
        ("storage", "volume", "show", "default", "impv/is1"),
        ("storage", "volume", "show", "default", "impv", "--project", "impp"),
    ):
        assert comparable(run_lxc(ours, tmp_path, *args)) == comparable(run_lxc(populated_lxd, tmp_path, *args)), args

    fingerprint = unix_request(populated_lxd, "GET", "/1.0/images/aliases/imp-image")[2]["metadata"]["target"]
    mine, theirs = _etags(ours, fingerprint), _etags(populated_lxd, fingerprint)
    image = f"/1.0/images/{fingerprint}"
    shown = unix_request(ours, "GET", image)[2]["metadata"]
    assert_etags_agree(ImageETagSerializer, mine.pop(image), theirs.pop(image), shown)
    assert mine == theirs
    assert unix_request(ours, "GET", "/1.0/instances")[2]["metadata"].count("/1.0/instances/imp1") == 1
    assert unix_request(ours, "GET", "/1.0/instances?project=impp")[2]["metadata"] == [
        "/1.0/instances/imp1?project=impp"
    ]
    # The server's own record comes along: volatile keys and creation times (to the microsecond).
    for path in ("/1.0/instances/imp1", "/1.0/instances/imp1/snapshots/s1"):
        mine, theirs = (unix_request(socket, "GET", path)[2]["metadata"] for socket in (ours, populated_lxd))
        assert datetime.datetime.fromisoformat(mine["created_at"]) == datetime.datetime.fromisoformat(
            theirs["created_at"]
        ), path
        assert mine["config"]["volatile.uuid"] == theirs["config"]["volatile.uuid"], path
