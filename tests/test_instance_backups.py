"""Instance backups in-process: the tarball's LXD layout, names, renames, deletes and refusals."""

import io
import json
import os
import socket
import tarfile
import time

import pytest
import yaml

from resources.instance_backups import backup_path, backups_dir, recover_backups
from resources.instance_files import tree_path
from resources.models import Instance, InstanceBackup
from tests.support.image_files import unified_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(api, django_capture_on_commit_callbacks):
    def request(method, url, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            body = json.dumps(data) if data is not None else b""
            return api.generic(method, url, body, content_type="application/json")

    return request


@pytest.fixture
def c1(run, upload, default_pool):
    fingerprint = upload(unified_image()).operation["metadata"]["fingerprint"]
    answer = run("POST", "/1.0/instances", {"name": "c1", "source": {"type": "image", "fingerprint": fingerprint}})
    assert answer.json()["metadata"]["status"] == "Success", answer.content
    assert run("POST", "/1.0/instances/c1/snapshots", {"name": "snap0"}).json()["metadata"]["status"] == "Success"
    return "/1.0/instances/c1"


def _export(run, url):
    answer = run("GET", url + "/export")
    assert answer.status_code == 200
    data = b"".join(answer.streaming_content)
    return tarfile.open(fileobj=io.BytesIO(data))


def test_a_backup_has_lxds_layout_and_default_names(c1, run):
    made = run("POST", c1 + "/backups", {})
    assert made.status_code == 202
    operation = made.json()["metadata"]
    assert operation["description"] == "Backing up instance"
    # As LXD names it (lxc export reads the name from it).
    assert operation["resources"] == {
        "backups": ["/1.0/backups/backup0"],
        "containers": ["/1.0/containers/c1"],
        "instances": ["/1.0/instances/c1"],
    }
    assert run("POST", c1 + "/backups", {"instance_only": True}).status_code == 202
    assert run("GET", c1 + "/backups").json()["metadata"] == [
        "/1.0/instances/c1/backups/backup0",
        "/1.0/instances/c1/backups/backup1",
    ]
    shown = run("GET", c1 + "/backups?recursion=1").json()["metadata"]
    assert [(b["name"], b["instance_only"], b["expires_at"]) for b in shown] == [
        ("backup0", False, "0001-01-01T00:00:00Z"),
        ("backup1", True, "0001-01-01T00:00:00Z"),
    ]
    with _export(run, c1 + "/backups/backup0") as tar:
        names = tar.getnames()
        index = yaml.safe_load(tar.extractfile("backup/index.yaml"))
        config = yaml.safe_load(tar.extractfile("backup/container/backup.yaml"))
    # LXD's order: the index, each snapshot, then the instance.
    assert names[:4] == [
        "backup/index.yaml",
        "backup/snapshots/snap0",
        "backup/snapshots/snap0/backup.yaml",
        "backup/snapshots/snap0/metadata.yaml",
    ]
    assert "backup/snapshots/snap0/rootfs" in names
    assert "backup/container/rootfs" in names
    assert index.pop("config") == config
    assert index == {
        "name": "c1",
        "backend": "dir",
        "pool": "default",
        "snapshots": ["snap0"],
        "optimized": False,
        "optimized_header": False,
        "type": "container",
    }
    assert config["container"]["name"] == "c1"
    assert [s["name"] for s in config["snapshots"]] == ["snap0"]
    with _export(run, c1 + "/backups/backup1") as tar:
        assert not [name for name in tar.getnames() if name.startswith("backup/snapshots")]
        assert "snapshots" not in yaml.safe_load(tar.extractfile("backup/index.yaml"))


def test_rename_and_delete_move_nothing_and_remove_the_file(c1, run):
    run("POST", c1 + "/backups", {"name": "b"})
    backup = InstanceBackup.objects.get(name="b")
    path = backup_path(backup)
    assert path.is_file()
    renamed = run("POST", c1 + "/backups/b", {"name": "c"})
    assert renamed.json()["metadata"]["status"] == "Success"
    assert run("GET", c1 + "/backups/c").json()["metadata"]["name"] == "c"
    assert run("GET", c1 + "/backups/b").status_code == 404
    assert path.is_file()
    assert run("DELETE", c1 + "/backups/c").status_code == 202
    assert not path.exists()
    # A backup goes with its instance.
    run("POST", c1 + "/backups", {"name": "d"})
    assert list(backups_dir().iterdir())
    assert run("DELETE", c1 + "/snapshots/snap0").status_code == 202
    assert run("DELETE", c1).status_code == 202
    assert not list(backups_dir().iterdir())
    assert not InstanceBackup.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "a/b"}, "Backup names may not contain slashes"),
        ({"name": 5}, "json: cannot unmarshal number into Go struct field InstanceBackupsPost.name of type string"),
        ({"compression_algorithm": "nope"}, 'Invalid compression algorithm "nope"'),
        ({"expires_at": "tomorrow"}, "Invalid expires_at: tomorrow"),
    ],
)
def test_bad_requests_change_nothing(c1, run, body, error):
    answer = run("POST", c1 + "/backups", body)
    assert answer.status_code == 400, answer.content
    if error:
        assert answer.json()["error"] == error
    assert not InstanceBackup.objects.exists()


def test_missing_instance_and_backup(c1, run):
    assert run("GET", "/1.0/instances/nope/backups").status_code == 404
    assert run("POST", "/1.0/instances/nope/backups", {}).status_code == 404
    assert run("GET", c1 + "/backups/nope").json()["error"] == "Load backup from database: Instance backup not found"
    assert run("GET", c1 + "/backups/nope/export").status_code == 404
    assert run("DELETE", c1 + "/backups/nope").status_code == 404
    assert run("POST", c1 + "/backups/nope", {"name": "y"}).status_code == 404


def test_taken_names_fail_in_the_operation(c1, run):
    run("POST", c1 + "/backups", {"name": "x"})
    run("POST", c1 + "/backups", {"name": "y", "optimized_storage": True})
    again = run("POST", c1 + "/backups", {"name": "x"}).json()["metadata"]
    assert (again["status"], again["err"]) == ("Failure", 'Create backup: Backup "c1/x" already exists')
    taken = run("POST", c1 + "/backups/x", {"name": "y"}).json()["metadata"]
    assert taken["status"] == "Failure"
    assert run("POST", c1 + "/backups/x", {"name": "a/b"}).status_code == 400
    # LXD keeps no optimized backup of a dir pool's instance.
    assert run("GET", c1 + "/backups/y").json()["metadata"]["optimized_storage"] is False
    assert sorted(InstanceBackup.objects.values_list("name", flat=True)) == ["x", "y"]


def test_an_exported_backup_imports_under_a_new_name(c1, run, api, django_capture_on_commit_callbacks):
    run("POST", c1 + "/backups", {"name": "b"})
    data = b"".join(run("GET", c1 + "/backups/b/export").streaming_content)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.generic(
            "POST", "/1.0/instances", data, content_type="application/octet-stream", HTTP_X_LXD_NAME="c2"
        )
    operation = answer.json()["metadata"]
    assert (operation["description"], operation["status"], operation["err"]) == ("Restoring backup", "Success", "")
    shown = run("GET", "/1.0/instances/c2?recursion=1").json()["metadata"]
    original = run("GET", c1 + "?recursion=1").json()["metadata"]
    assert shown["config"] == original["config"]
    assert [s["name"] for s in shown["snapshots"]] == ["snap0"]
    assert tree_path(Instance.objects.get(name="c2")).is_dir()
    assert sorted(os.listdir(tree_path(Instance.objects.get(name="c2")))) == sorted(
        os.listdir(tree_path(Instance.objects.get(name="c1")))
    )
    # A taken name: the daemon's text (seen with lxc import).
    with django_capture_on_commit_callbacks(execute=True):
        again = api.generic(
            "POST", "/1.0/instances", data, content_type="application/octet-stream", HTTP_X_LXD_NAME="c2"
        )
    refused = again.json()["metadata"]
    assert (refused["status"], refused["err"]) == (
        "Failure",
        "Create instance from backup: Cannot restore volume, already exists on target",
    )


def test_a_restricted_project_blocks_backups_unless_allowed(run, c1):
    put = run("PATCH", "/1.0/projects/default", {"config": {"restricted": "true"}})
    assert put.status_code == 200, put.content
    refused = run("POST", c1 + "/backups", {})
    assert (refused.status_code, refused.json()["error"]) == (
        400,
        'Project "default" doesn\'t allow for backup creation',
    )
    run("PATCH", "/1.0/projects/default", {"config": {"restricted.backups": "allow"}})
    assert run("POST", c1 + "/backups", {}).json()["metadata"]["status"] == "Success"


def _import(api, capture, data, **headers):
    with capture(execute=True):
        return api.generic("POST", "/1.0/instances", data, content_type="application/octet-stream", **headers)


def test_bad_uploads_are_refused_and_change_nothing(c1, api, django_capture_on_commit_callbacks, instance_files_dir):
    empty = _import(api, django_capture_on_commit_callbacks, b"")
    assert (empty.status_code, empty.json()["error"]) == (400, "EOF")
    garbage = _import(api, django_capture_on_commit_callbacks, b"not a tarball" * 100).json()["metadata"]
    assert (garbage["status"], garbage["err"].startswith("Failed to read backup")) == ("Failure", True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("backup/container"))
    no_index = _import(api, django_capture_on_commit_callbacks, buffer.getvalue()).json()["metadata"]
    assert no_index["err"] == "Backup is missing index.yaml"
    unknown_pool = _import(api, django_capture_on_commit_callbacks, b"x", HTTP_X_LXD_POOL="nope")
    assert unknown_pool.json()["metadata"]["status"] == "Failure"
    assert list(Instance.objects.values_list("name", flat=True)) == ["c1"]
    # No scratch file is left beside the trees.
    assert sorted(path.name for path in instance_files_dir.iterdir()) == [
        tree_path(row).name for row in [Instance.objects.get(), *Instance.objects.get().snapshots.all()]
    ]
    assert not [path for path in instance_files_dir.iterdir() if path.name.startswith(".staging")]


def test_the_compression_comes_from_the_request_the_project_or_the_server(c1, run):
    run("PATCH", "/1.0", {"config": {"backups.compression_algorithm": "bzip2"}})
    run("POST", c1 + "/backups", {"name": "server"})
    run("POST", c1 + "/backups", {"name": "asked", "compression_algorithm": "none"})
    assert _export(run, c1 + "/backups/server").fileobj.__class__.__name__ == "BZ2File"
    raw = b"".join(run("GET", c1 + "/backups/asked/export").streaming_content)
    assert raw[257:262] == b"ustar"


@pytest.mark.live
def test_a_backup_upload_still_sending_leaves_other_writes_answered(lxdsite_server):
    """``lxc import`` streams the tarball; while a client is still sending it, other clients'
    writes are answered (the upload is read before its write takes the database's lock)."""
    with socket.socket(socket.AF_UNIX) as uploader:
        uploader.connect(str(lxdsite_server.socket_path))
        uploader.sendall(
            b"POST /1.0/instances HTTP/1.1\r\nHost: lxd\r\nContent-Type: application/octet-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (1024, b"\0" * 1024)
        )
        # The upload has begun (given time to reach its reading); it is not finished.
        time.sleep(1)
        created = lxdsite_server.request("POST", "/1.0/profiles", {"name": "meanwhile"})
        assert created[0] == 201, created
        uploader.sendall(b"0\r\n\r\n")
        uploader.settimeout(30)
        answer = uploader.recv(65536)
    assert answer.startswith(b"HTTP/1.1 202 "), answer


def test_recovery_removes_a_dead_workers_tarballs_and_orphaned_files(c1, run):
    run("POST", c1 + "/backups", {"name": "kept"})
    kept = backup_path(InstanceBackup.objects.get(name="kept"))
    for name in (".staging-4242-abc", ".staging-7-def", "b999999"):
        (backups_dir() / name).write_bytes(b"left")
    recover_backups(4242)
    assert sorted(path.name for path in backups_dir().iterdir()) == sorted([".staging-7-def", "b999999", kept.name])
    recover_backups()
    assert [path.name for path in backups_dir().iterdir()] == [kept.name]
