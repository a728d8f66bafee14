"""Instance filesystems as data: trees seeded from images (a hostile rootfs stays inside its
tree), the files API's rules, and trees following their rows (copies, snapshots, restores,
renames, deletes, failed writes). The answers are compared with the daemon's in
``tests/test_instance_files_lxd.py``."""

import hashlib
import io
import os
import stat
import tarfile

import pytest
import yaml

from resources.instance_files import recover_trees, tree_path
from resources.models import Instance, Snapshot
from tests.support.image_files import split_image, unified_image

pytestmark = pytest.mark.django_db

METADATA = b"architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: hostile\n"


def _member(tar, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link="", uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid, info.mtime = kind, mode, link, uid, gid, 1700000000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def hostile_image():
    """A unified image whose rootfs tries every way out of its tree."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        _member(tar, "metadata.yaml", data=METADATA)
        _member(tar, "rootfs", tarfile.DIRTYPE, mode=0o755)
        _member(tar, "rootfs/etc", tarfile.DIRTYPE, mode=0o755)
        _member(tar, "rootfs/etc/hosts", data=b"127.0.0.1 localhost\n", uid=5, gid=6)
        _member(tar, "rootfs/su", data=b"setuid", mode=0o4755)
        _member(tar, "rootfs/../../escaped", data=b"out")
        _member(tar, "/absolute", data=b"out")
        _member(tar, "rootfs/root", tarfile.SYMTYPE, link="/", mode=0o777)
        _member(tar, "rootfs/root/through-root", data=b"in")
        _member(tar, "rootfs/up", tarfile.SYMTYPE, link="../../../../..", mode=0o777)
        _member(tar, "rootfs/up/through-up", data=b"in")
        _member(tar, "rootfs/null", tarfile.CHRTYPE, mode=0o666)
        _member(tar, "rootfs/fifo", tarfile.FIFOTYPE, mode=0o644)
        _member(tar, "rootfs/hosts-link", tarfile.LNKTYPE, link="rootfs/etc/hosts")
    return buffer.getvalue()


@pytest.fixture
def files_dir(instance_files_dir):
    return instance_files_dir


@pytest.fixture
def run(api, django_capture_on_commit_callbacks):
    """A request through ``api`` with what waits for the commit run (trees are written then)."""

    def request(method, url, data=None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            if isinstance(data, (bytes, str)) or data is None:
                return api.generic(method, url, data or b"", content_type="application/octet-stream", **extra)
            return api.generic(method, url, __import__("json").dumps(data), content_type="application/json", **extra)

    return request


@pytest.fixture
def instance(run, upload, default_pool, files_dir):
    """c1, made from the hostile image."""
    fingerprint = upload(hostile_image()).operation["metadata"]["fingerprint"]
    answer = run("POST", "/1.0/instances", {"name": "c1", "source": {"type": "image", "fingerprint": fingerprint}})
    assert answer.status_code == 202, answer.content
    assert answer.json()["metadata"]["status"] == "Success"
    return Instance.objects.get(name="c1")


def body(response):
    """A response's bytes (a file's are streamed)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def _headers(response):
    return {name: response.headers.get(f"X-LXD-{name}") for name in ("uid", "gid", "mode", "type")}


def test_a_rootfs_is_unpacked_inside_its_tree(instance, files_dir, tmp_path):
    tree = tree_path(instance)
    # rootfs/../../escaped lands at the tree's root, as .. stops there.
    names = ["escaped", "etc", "hosts-link", "root", "su", "through-root", "through-up", "up"]
    assert sorted(os.listdir(tree)) == names
    # Nothing outside the tree: the escaping names and the links' targets were resolved inside it.
    assert sorted(os.listdir(files_dir)) == [tree.name]
    assert not (tmp_path / "escaped").exists()
    assert os.readlink(tree / "root") == "/"
    # No set-id bit, device or FIFO on the host; the mode the instance sees is recorded.
    assert stat.S_IMODE(os.lstat(tree / "su").st_mode) == 0o600
    assert (tree / "hosts-link").read_bytes() == b"127.0.0.1 localhost\n"


def test_the_files_api_reports_what_the_image_recorded(instance, run):
    hosts = run("GET", "/1.0/instances/c1/files?path=/etc/hosts")
    assert hosts.status_code == 200
    assert body(hosts) == b"127.0.0.1 localhost\n"
    assert _headers(hosts) == {"uid": "5", "gid": "6", "mode": "0644", "type": "file"}
    assert hosts.headers["X-LXD-modified"] == "2023-11-14 22:13:20 +0000 UTC"
    assert _headers(run("GET", "/1.0/instances/c1/files?path=/su"))["mode"] == "4755"
    link = run("GET", "/1.0/instances/c1/files?path=/up")
    assert (body(link), _headers(link)["type"]) == (b"/", "symlink")
    listing = run("GET", "/1.0/instances/c1/files?path=/up/etc/")
    assert listing.json()["metadata"] == ["hosts"]
    assert _headers(listing) == {"uid": "0", "gid": "0", "mode": "0755", "type": "directory"}


def test_paths_never_leave_the_tree(instance, run, files_dir):
    tree = tree_path(instance)
    # Up and out, through .. and through links to / and above it: all inside the tree.
    for path in ("/../../../../etc/hosts", "/root/../../etc/hosts", "/up/up/root/etc/hosts"):
        answer = run("GET", f"/1.0/instances/c1/files?path={path}")
        assert body(answer) == b"127.0.0.1 localhost\n", path
    made = run("POST", "/1.0/instances/c1/files?path=/up/../root/outside", b"data")
    assert made.status_code == 200
    assert (tree / "outside").read_bytes() == b"data"
    link = run("POST", "/1.0/instances/c1/files?path=/etc/out", f"{files_dir.parent}", HTTP_X_LXD_TYPE="symlink")
    assert link.status_code == 200
    written = run("POST", "/1.0/instances/c1/files?path=/etc/out/x", b"data")
    # The link's target is a path inside the instance, which does not have it.
    assert (written.status_code, written.json()["error"]) == (404, "Not Found")
    assert not (files_dir.parent / "x").exists()


def test_files_are_written_with_lxds_headers_and_defaults(instance, run):
    url = "/1.0/instances/c1/files?path=/etc/new"
    assert run("POST", url, b"one", HTTP_X_LXD_UID="7", HTTP_X_LXD_MODE="0600").status_code == 200
    assert run("POST", url, b"two", HTTP_X_LXD_WRITE="append").status_code == 200
    got = run("GET", url)
    assert body(got) == b"onetwo"
    assert _headers(got) == {"uid": "7", "gid": "0", "mode": "0600", "type": "file"}
    # LXD reads the mode as a decimal integer's text first, then with Go's prefixes.
    run("POST", url, b"", HTTP_X_LXD_MODE="9999")
    assert _headers(run("GET", url))["mode"] == "0417"
    run("POST", "/1.0/instances/c1/files?path=/etc/d", HTTP_X_LXD_TYPE="directory")
    assert _headers(run("GET", "/1.0/instances/c1/files?path=/etc/d"))["mode"] == "0750"
    head = run("HEAD", url)
    assert (head.status_code, body(head), _headers(head)["type"]) == (200, b"", "file")


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "error"),
    [
        ("GET", "", {}, 400, "Missing path argument"),
        ("GET", "/nope", {}, 404, "Not Found"),
        ("GET", "/etc/hosts/x", {}, 400, 'sftp: "lstat /etc/hosts/x: not a directory" (SSH_FX_FAILURE)'),
        ("POST", "/etc", {}, 400, 'sftp: "open /etc: is a directory" (SSH_FX_FAILURE)'),
        ("POST", "/nodir/x", {}, 404, "Not Found"),
        ("POST", "/etc/x", {"HTTP_X_LXD_WRITE": "append"}, 404, "Not Found"),
        ("POST", "/etc/x", {"HTTP_X_LXD_WRITE": "bogus"}, 400, "Bad file write mode: bogus"),
        ("POST", "/etc/x", {"HTTP_X_LXD_TYPE": "bogus"}, 400, "Bad file type: bogus"),
        ("POST", "/up", {"HTTP_X_LXD_TYPE": "symlink"}, 400, 'sftp: "symlink data /up: file exists" (SSH_FX_FAILURE)'),
        ("DELETE", "/etc", {}, 400, 'sftp: "remove /etc: directory not empty" (SSH_FX_FAILURE)'),
        ("DELETE", "/", {}, 400, 'sftp: "remove /: device or resource busy" (SSH_FX_FAILURE)'),
        ("DELETE", "/nope", {}, 404, "Not Found"),
    ],
)
def test_refusals_are_lxds_and_change_nothing(instance, run, method, path, headers, status, error):
    tree = tree_path(instance)
    before = sorted(os.walk(tree))
    answer = run(method, f"/1.0/instances/c1/files?path={path}", b"data", **headers)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert sorted(os.walk(tree)) == before


def test_deleting_a_link_keeps_what_it_names(instance, run):
    assert run("DELETE", "/1.0/instances/c1/files?path=/up").status_code == 200
    assert run("GET", "/1.0/instances/c1/files?path=/etc/hosts").status_code == 200
    assert run("DELETE", "/1.0/instances/c1/files?path=/up").status_code == 404


def test_a_root_disk_size_bounds_the_files(instance, run, settings):
    settings.LXDSITE_INSTANCE_FILES_MAX = 1 << 20
    devices = {"root": {"type": "disk", "path": "/", "pool": "default", "size": "1KiB"}}
    assert run("PATCH", "/1.0/instances/c1", {"devices": devices}).status_code == 200
    url = "/1.0/instances/c1/files?path=/big"
    answer = run("POST", url, b"x" * 2048)
    assert (answer.status_code, answer.json()["error"]) == (
        400,
        'sftp: "write /big: disk quota exceeded" (SSH_FX_FAILURE)',
    )
    # Refused whole: no file was made.
    assert run("GET", url).status_code == 404
    assert run("POST", url, b"x" * 512).status_code == 200
    refused = run("POST", url, b"y" * 1024, HTTP_X_LXD_WRITE="append")
    assert refused.status_code == 400
    assert body(run("GET", url)) == b"x" * 512
    # Without a size, the setting bounds them.
    assert run("PATCH", "/1.0/instances/c1", {"devices": {"root": {**devices["root"], "size": ""}}}).status_code == 200
    settings.LXDSITE_INSTANCE_FILES_MAX = 100
    assert run("POST", url, b"z" * 512).status_code == 400
    assert body(run("GET", url)) == b"x" * 512
    # Nothing was left beside the trees.
    assert [name for name in os.listdir(tree_path(instance).parent) if name.startswith(".")] == []


def test_trees_follow_copies_snapshots_restores_renames_and_deletes(instance, run, files_dir):
    run("POST", "/1.0/instances/c1/files?path=/v", b"1")
    assert run("POST", "/1.0/instances/c1/snapshots", {"name": "s0"}).status_code == 202
    run("POST", "/1.0/instances/c1/files?path=/v", b"2")
    copy = run("POST", "/1.0/instances", {"name": "c2", "source": {"type": "copy", "source": "c1"}})
    assert copy.json()["metadata"]["status"] == "Success"
    from_snapshot = {"name": "c3", "source": {"type": "copy", "source": "c1/s0"}}
    assert run("POST", "/1.0/instances", from_snapshot).json()["metadata"]["status"] == "Success"
    read = lambda name: body(run("GET", f"/1.0/instances/{name}/files?path=/v"))  # noqa: E731
    assert (read("c1"), read("c2"), read("c3")) == (b"2", b"2", b"1")
    assert _headers(run("GET", "/1.0/instances/c2/files?path=/etc/hosts"))["uid"] == "5"
    # The copy's snapshot has its own tree: restoring it gives the copy the snapshot's files.
    run("PUT", "/1.0/instances/c2", {"restore": "s0"})
    assert read("c2") == b"1"
    assert run("POST", "/1.0/instances/c1", {"name": "renamed"}).status_code == 202
    assert read("renamed") == b"2"
    trees = set(os.listdir(files_dir))
    assert len(trees) == 5  # three instances, two snapshots
    for name in ("renamed", "c2", "c3"):
        assert run("DELETE", f"/1.0/instances/{name}").status_code == 202
    assert os.listdir(files_dir) == []
    assert not Snapshot.objects.exists()


def test_a_refused_create_leaves_no_tree(run, upload, default_pool, files_dir):
    fingerprint = upload(hostile_image()).operation["metadata"]["fingerprint"]
    body = {"name": "c1", "source": {"type": "image", "fingerprint": fingerprint}, "config": {"limits.cpu": "x"}}
    answer = run("POST", "/1.0/instances", body)
    assert answer.status_code in (202, 400)
    assert not Instance.objects.exists()
    assert not files_dir.exists() or os.listdir(files_dir) == []


def test_recovery_removes_staging_and_orphaned_trees(instance, files_dir):
    (files_dir / ".staging-1-abc").mkdir()
    (files_dir / "i999999").mkdir()
    recover_trees()
    assert os.listdir(files_dir) == [tree_path(instance).name]


def _publish(run, body):
    answer = run("POST", "/1.0/images", body)
    if answer.status_code != 202:
        return answer.status_code, answer.json()["error"]
    operation = answer.json()["metadata"]
    return operation["status"], operation["err"], operation["metadata"]


def test_publish_builds_an_image_of_the_tree(instance, run, images_dir):
    run("POST", "/1.0/instances/c1/files?path=/etc/new", b"pushed", HTTP_X_LXD_UID="9", HTTP_X_LXD_MODE="0640")
    run("POST", "/1.0/instances/c1/metadata/templates?path=hostname.tpl", b"{{ instance.name }}\n")
    status, err, metadata = _publish(run, {"source": {"type": "instance", "name": "c1"}, "aliases": [{"name": "p"}]})
    assert (status, err) == ("Success", "")
    fingerprint = metadata["fingerprint"]
    data = (images_dir / fingerprint).read_bytes()
    assert hashlib.sha256(data).hexdigest() == fingerprint
    assert metadata["size"] == str(len(data))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert tar.extractfile("templates/hostname.tpl").read() == b"{{ instance.name }}\n"
        assert yaml.safe_load(tar.extractfile("metadata.yaml"))["properties"] == {"os": "hostile"}
    # The owners and modes the instance sees, links as links; nothing of the host's.
    new, su, up = members["rootfs/etc/new"], members["rootfs/su"], members["rootfs/up"]
    assert (new.uid, new.gid, new.mode) == (9, 0, 0o640)
    assert su.mode == 0o4755
    assert (up.issym(), up.linkname) == (True, "../../../../..")
    assert all(name == "metadata.yaml" or name.startswith(("rootfs", "templates")) for name in members)
    image = run("GET", "/1.0/images/aliases/p").json()["metadata"]
    assert image["target"] == fingerprint
    shown = run("GET", f"/1.0/images/{fingerprint}").json()["metadata"]
    assert (shown["filename"], shown["expires_at"], shown["properties"]) == (
        "",
        "0001-01-01T00:00:00Z",
        {"os": "hostile"},
    )
    # The same files again: the same fingerprint, which LXD refuses.
    again = _publish(run, {"source": {"type": "instance", "name": "c1"}})
    assert again[:2] == ("Failure", f"The image already exists: {fingerprint}")
    # The refused one left no temporary file.
    assert [name for name in os.listdir(images_dir) if name.startswith(".")] == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"source": {"type": "instance"}}, ("Failure", "No source provided", None)),
        ({"source": {"type": "snapshot", "name": "c1"}}, ("Failure", "Not a snapshot", None)),
        ({"source": {"type": "instance", "name": "nope"}}, (404, "Instance not found")),
        ({"source": {"type": "snapshot", "name": "c1/nope"}}, (404, "Instance not found")),
        (
            {"source": {"type": "instance", "name": "c1"}, "compression_algorithm": "bogus"},
            (400, 'Invalid compression algorithm "bogus"'),
        ),
        (
            {"source": {"type": "instance", "name": "c1"}, "compression_algorithm": "zstd"},
            ("Failure", "lxdsite cannot compress images with zstd", None),
        ),
        (
            {"source": {"type": "instance", "name": "c1"}, "aliases": [{"name": "a/b"}]},
            ("Failure", "Alias names may not contain slashes", None),
        ),
    ],
)
def test_refused_publishes_store_nothing(instance, run, images_dir, body, expected):
    before = set(os.listdir(images_dir))
    assert _publish(run, body) == expected
    assert set(os.listdir(images_dir)) == before


def test_a_running_instance_is_not_published_but_its_snapshot_is(instance, run):
    run("POST", "/1.0/instances/c1/snapshots", {"name": "s0"})
    run("PUT", "/1.0/instances/c1/state", {"action": "start"})
    assert _publish(run, {"source": {"type": "instance", "name": "c1"}})[:2] == (
        "Failure",
        "Cannot export a running instance as an image",
    )
    body = {"source": {"type": "snapshot", "name": "c1/s0"}, "properties": {"k": "v"}, "compression_algorithm": "xz"}
    status, err, metadata = _publish(run, body)
    assert (status, err) == ("Success", "")
    assert run("GET", f"/1.0/images/{metadata['fingerprint']}").json()["metadata"]["properties"] == {"k": "v"}


@pytest.mark.parametrize("kind", ["unified-xz", "split"])
def test_an_instance_starts_with_its_images_rootfs(run, upload, default_pool, kind):
    data = unified_image(compression="xz", marker="m1") if kind == "unified-xz" else split_image(marker="m2")
    fingerprint = upload(data).operation["metadata"]["fingerprint"]
    answer = run("POST", "/1.0/instances", {"name": "c1", "source": {"type": "image", "fingerprint": fingerprint}})
    assert answer.json()["metadata"]["status"] == "Success"
    hostname = run("GET", "/1.0/instances/c1/files?path=/etc/hostname")
    assert body(hostname) == (b"m1" if kind == "unified-xz" else b"m2")
    assert run("GET", "/1.0/instances/c1/files?path=/").json()["metadata"] == ["etc"]
