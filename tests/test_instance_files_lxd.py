"""``lxc file`` and ``/1.0/instances/NAME/files`` on the real daemon and on lxdsite, compared:
output, exit status, and the files, modes and owners each leaves behind, on a stopped and on
a running busybox container.

What differs on every run and is left out of the comparison: the transfer speed lxc prints
after ``Pushing ...: 100%`` (and, for a refused push, whether it drew that line at all), the
times of files written during the test (``X-LXD-modified``), and the order of a directory's
names (the file system's, sorted here).
LXD answers an SFTP failure with 500, lxdsite with 400 (bad input): the texts are compared.
"""

import re
from pathlib import Path

import pytest

from tests.support.busybox_servers import IMAGE, busybox_servers, remove_instances
from tests.support.live_server import UnixHTTPConnection, unix_request
from tests.support.lxc import run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

# lxc's progress line: its speed is the run's.
_SPEED = re.compile(r": 100% \([^)]*\)")
# The header lines each server adds of its own.
COMPARED_HEADERS = ("X-LXD-uid", "X-LXD-gid", "X-LXD-mode", "X-LXD-type", "Content-Disposition")


@pytest.fixture(scope="module")
def servers(real_lxd, tmp_path_factory):
    with busybox_servers(real_lxd, tmp_path_factory) as pair:
        yield pair


@pytest.fixture
def c1(servers):
    """A stopped container c1 on both servers, gone afterwards."""
    for socket_path in servers.both:
        assert run_lxc(socket_path, servers.conf, "init", IMAGE, "c1")[0] == 0
    try:
        yield servers
    finally:
        for socket_path in servers.both:
            remove_instances(socket_path, servers.conf)


def lxc_both(servers, *args, stdin="\n", cwd_of=None):
    """``lxc ARGS`` on each server: the two (status, stdout, stderr), speeds left out."""
    results = []
    for socket_path in servers.both:
        arguments = [str(cwd_of(socket_path)) if callable(arg) else arg for arg in args]
        status, out, err = run_lxc(socket_path, servers.conf, *arguments, stdin=stdin)
        lines = [line.rstrip() for line in re.split(r"[\r\n]", _SPEED.sub(": 100%", out)) if line.strip()]
        if status != 0:
            # Whether lxc drew its progress line before a refusal is a race (the daemon may answer
            # before it has read the body).
            lines = [line for line in lines if not line.startswith("Pushing ")]
        results.append((status, lines, err))
    return results


def raw(socket_path, method, path, body=None, headers=None):
    """(status, the compared headers, body bytes) of one request."""
    connection = UnixHTTPConnection(socket_path)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    kept = {name: response.headers.get(name) for name in COMPARED_HEADERS if response.headers.get(name)}
    return response.status, kept, data


def entry(socket_path, path):
    """What GET answers for ``path``: status, headers, and the content (names sorted, or the error)."""
    import json

    status, headers, data = raw(socket_path, "GET", f"/1.0/instances/c1/files?path={path}")
    if headers.get("X-LXD-type") == "directory":
        return status, headers, sorted(json.loads(data)["metadata"])
    if status != 200:
        return status, headers, json.loads(data)["error"]
    return status, headers, data


def same_entries(servers, *paths):
    for path in paths:
        lxd, ours = (entry(socket_path, path) for socket_path in servers.both)
        assert ours == lxd, path


def local_tree(root):
    """A pulled directory as (relative path, kind, mode, content or link target), sorted."""
    found = []
    for path in sorted(Path(root).rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found.append((relative, "symlink", None, str(path.readlink())))
        elif path.is_dir():
            found.append((relative, "directory", oct(path.stat().st_mode & 0o7777), None))
        else:
            found.append((relative, "file", oct(path.stat().st_mode & 0o7777), path.read_bytes()))
    return found


@pytest.fixture
def local(tmp_path):
    """A local directory to push: a file (0600), a symlink to it and a subdirectory with a file."""
    source = tmp_path / "push"
    (source / "sub").mkdir(parents=True)
    (source / "f1").write_text("one\n")
    (source / "f1").chmod(0o600)
    (source / "sub" / "f2").write_text("two\n")
    (source / "lnk").symlink_to("f1")
    return source


def _start(servers):
    for socket_path in servers.both:
        assert run_lxc(socket_path, servers.conf, "start", "c1")[0] == 0


@pytest.mark.parametrize("running", [False, True], ids=["stopped", "running"])
def test_lxc_file_push_pull_and_delete_as_on_lxd(c1, local, tmp_path, running):
    if running:
        _start(c1)
    f1 = str(local / "f1")
    commands = [
        ("file", "push", f1, "c1/tmp/"),
        ("file", "push", f1, "c1/tmp/renamed", "--mode", "0640", "--uid", "5", "--gid", "6"),
        ("file", "push", f1, "c1/tmp/missing/dir/f1"),
        ("file", "push", "-p", f1, "c1/tmp/made/dir/f1"),
        ("file", "push", "-r", str(local), "c1/tmp/"),
        ("file", "push", "-r", str(local), "c1/tmp/nosuch/"),
        ("file", "push", "-r", "-p", str(local), "c1/tmp/deep/er/"),
        ("file", "pull", "c1/tmp/push/f1", "-"),
        ("file", "pull", "c1/tmp/push/lnk", "-"),
        ("file", "pull", "c1/tmp/nope", "-"),
        ("file", "pull", "c1/tmp/../../../etc/shadow", "-"),
        ("file", "delete", "c1/tmp/nope"),
        ("file", "delete", "c1/tmp/push"),
        ("file", "delete", "c1/tmp/push/sub/f2", "c1/tmp/renamed"),
        ("file", "delete", "c1/tmp/push/sub"),
    ]
    for command in commands:
        lxd, ours = lxc_both(c1, *command)
        assert ours == lxd, command
    same_entries(
        c1,
        "/tmp",
        "/tmp/f1",
        "/tmp/renamed",
        "/tmp/made/dir",
        "/tmp/made/dir/f1",
        "/tmp/push",
        "/tmp/push/lnk",
        "/tmp/push/sub",
        "/tmp/deep/er/push/f1",
        "/bin/sh",
        "/bin",
    )
    # Pulled back recursively: the same files, modes and links.
    pulled = {}
    for name, socket_path in zip(("lxd", "ours"), c1.both, strict=True):
        target = tmp_path / f"pulled-{name}"
        target.mkdir()
        status, _, err = run_lxc(socket_path, c1.conf, "file", "pull", "-r", "c1/tmp/deep", str(target))
        assert (status, err) == (0, "")
        pulled[name] = local_tree(target)
    assert pulled["ours"] == pulled["lxd"]
    assert ("deep/er/push/lnk", "symlink", None, "/tmp/deep/er/push/f1") in pulled["ours"]


def test_lxc_file_edit_as_on_lxd(c1):
    for socket_path in c1.both:
        run_lxc(socket_path, c1.conf, "file", "push", "-", "c1/tmp/edited", "--mode", "0600", stdin="old\n")
    # Without a terminal, lxc file edit writes what it reads from stdin.
    lxd, ours = lxc_both(c1, "file", "edit", "c1/tmp/edited", stdin="new content\n")
    assert ours == lxd
    lxd, ours = lxc_both(c1, "file", "edit", "c1/tmp/absent", stdin="x\n")
    assert ours == lxd
    same_entries(c1, "/tmp/edited", "/tmp/absent")


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "", {}, None),
        ("GET", "/../../../../etc/passwd", {}, None),
        ("GET", "/nope", {}, None),
        ("GET", "/bin/sh/x", {}, None),
        ("POST", "/tmp/x", {"X-LXD-write": "bogus"}, b"x"),
        ("POST", "/tmp/x", {"X-LXD-type": "bogus"}, b"x"),
        ("POST", "/tmp/x", {"X-LXD-write": "append"}, b"x"),
        ("POST", "/tmp", {}, b"x"),
        ("POST", "/bin/sh", {"X-LXD-type": "symlink"}, b"/x"),
        ("POST", "/nodir/x", {}, b"x"),
        ("DELETE", "/bin", {}, None),
        ("DELETE", "/", {}, None),
        ("DELETE", "/nope", {}, None),
        ("PUT", "/tmp/x", {}, b"x"),
        ("GET", "/tmp/a%00b", {}, None),
        ("POST", "/tmp/a%00b", {}, b"x"),
        ("POST", "/tmp/" + "n" * 300, {}, b"x"),
        ("GET", "/tmp/" + "n" * 300, {}, None),
    ],
)
def test_refusals_have_lxds_texts(c1, method, path, headers, body):
    lxd = raw(c1.lxd, method, f"/1.0/instances/c1/files?path={path}", body, headers)
    ours = raw(c1.ours, method, f"/1.0/instances/c1/files?path={path}", body, headers)
    assert _error(ours[2]) == _error(lxd[2])
    # LXD's SFTP failures are its 500s; lxdsite's 400s (bad input).
    assert ours[0] == (400 if lxd[0] == 500 else lxd[0])


def _error(data):
    import json

    return json.loads(data)["error"]


def test_links_resolve_inside_the_instance_as_on_lxd(c1):
    requests = [
        ("POST", "/tmp/up", {"X-LXD-type": "symlink"}, b"../../../../.."),
        ("POST", "/tmp/abs", {"X-LXD-type": "symlink"}, b"/etc"),
        ("POST", "/tmp/rel", {"X-LXD-type": "symlink"}, b"../bin/busybox"),
        ("POST", "/tmp/up/tmp/through-up", {"X-LXD-mode": "0600", "X-LXD-uid": "9"}, b"via"),
        ("POST", "/tmp/abs/x", {}, b"x"),
        ("POST", "/tmp/d", {"X-LXD-type": "directory", "X-LXD-mode": "0700"}, None),
        ("POST", "/tmp/d", {"X-LXD-type": "directory", "X-LXD-mode": "0755"}, None),
        ("POST", "/tmp/m", {"X-LXD-mode": "9999"}, b"m"),
        ("POST", "/tmp/m", {"X-LXD-mode": "zz", "X-LXD-uid": "zz"}, b"mm"),
        ("POST", "/tmp/m2", {"X-LXD-mode": " 0640", "X-LXD-uid": "1_0", "X-LXD-gid": "99999999999999999999"}, b"m"),
        ("POST", "/tmp/m3", {"X-LXD-mode": "0089", "X-LXD-uid": "+7"}, b"m"),
        ("DELETE", "/tmp/up", {}, None),
    ]
    for method, path, headers, body in requests:
        lxd, ours = (
            raw(socket_path, method, f"/1.0/instances/c1/files?path={path}", body, headers) for socket_path in c1.both
        )
        assert ours[0] == lxd[0], path
    same_entries(
        c1,
        "/tmp",
        "/tmp/through-up",
        "/tmp/abs",
        "/tmp/abs/",
        "/tmp/rel",
        "/tmp/d",
        "/tmp/m",
        "/tmp/m2",
        "/tmp/m3",
        "/tmp/up",
    )


# lxc publish: what differs on every run, left out of the comparison.
_FINGERPRINT = re.compile(r"\b[0-9a-f]{64}\b")
_PUBLISH_PROGRESS = re.compile(r"^Publishing instance: ")
# lxc image info: the image's times and size (the daemon's tar layout is not byte for byte lxdsite's).
_IMAGE_INFO_RANDOM = re.compile(r"^(Fingerprint|Size|    Created|    Uploaded): .*$")
METADATA_YAML = (
    "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: published\n"
    "templates:\n  /etc/hostname:\n    when: [create, copy]\n    template: hostname.tpl\n"
)


def published(results):
    """lxc publish / image info output with fingerprints, sizes, times and progress left out,
    and the image's properties sorted (lxc prints a Go map's random order)."""
    normalised = []
    for status, lines, err in results:
        kept = [_FINGERPRINT.sub("<fp>", line) for line in lines if not _PUBLISH_PROGRESS.match(line)]
        kept = [_IMAGE_INFO_RANDOM.sub(r"\1: <random>", line) for line in kept]
        if "Properties:" in kept:
            start = kept.index("Properties:") + 1
            end = next((i for i in range(start, len(kept)) if not kept[i].startswith("    ")), len(kept))
            kept[start:end] = sorted(kept[start:end])
        normalised.append((status, kept, _FINGERPRINT.sub("<fp>", err)))
    return normalised


def tarball_members(path):
    """An image tarball's members (name, type, mode, owner, link) and its metadata.yaml, parsed."""
    import tarfile

    import yaml

    with tarfile.open(path) as tar:
        members = sorted((m.name, m.type, m.mode, m.uid, m.gid, m.linkname) for m in tar.getmembers())
        metadata = yaml.safe_load(tar.extractfile("metadata.yaml"))
    return members, metadata


def test_lxc_publish_as_on_lxd(c1, tmp_path):
    for socket_path in c1.both:
        lxc = lambda *args, stdin="\n", where=socket_path: run_lxc(where, c1.conf, *args, stdin=stdin)  # noqa: E731
        assert lxc("file", "push", "-", "c1/tmp/hello", "--mode", "0600", "--uid", "5", stdin="hi\n")[0] == 0
        assert lxc("config", "metadata", "edit", "c1", stdin=METADATA_YAML)[0] == 0
        assert lxc("config", "template", "create", "c1", "hostname.tpl")[0] == 0
        assert lxc("config", "template", "edit", "c1", "hostname.tpl", stdin="{{ instance.name }}\n")[0] == 0
        assert lxc("snapshot", "c1", "snap0")[0] == 0
    images = {"lxd": [], "ours": []}
    try:
        for command in [
            ("publish", "c1", "--alias", "pub1"),
            ("publish", "c1", "--alias", "pub1"),
            ("publish", "c1/snap0", "--alias", "pub2", "prop1=v1", "--public"),
            ("publish", "c1/nosnap"),
            ("publish", "nope"),
            ("image", "info", "pub1"),
            ("image", "info", "pub2"),
        ]:
            lxd, ours = published(lxc_both(c1, *command))
            assert ours == lxd, command
        images["lxd"] += ["pub1", "pub2"]
        # A running instance: lxc's own refusal, the operation's text without --force's stop.
        _start(c1)
        lxd, ours = published(lxc_both(c1, "publish", "c1"))
        assert ours == lxd
        # --force: lxc stops it, publishes and starts it again (a file pushed first: a new image).
        for socket_path in c1.both:
            assert run_lxc(socket_path, c1.conf, "file", "push", "-", "c1/tmp/forced", stdin="x\n")[0] == 0
        lxd, ours = published(lxc_both(c1, "publish", "c1", "--force", "--alias", "forced"))
        images["lxd"].append("forced")
        assert ours == lxd
        lxd, ours = published(lxc_both(c1, "image", "info", "forced"))
        assert ours == lxd
        statuses = [unix_request(s, "GET", "/1.0/instances/c1")[2]["metadata"]["status"] for s in c1.both]
        assert statuses == ["Running", "Running"]
        lxd, ours = (
            raw(
                s,
                "POST",
                "/1.0/images",
                b'{"source":{"type":"instance","name":"c1"}}',
                {"Content-Type": "application/json"},
            )
            for s in c1.both
        )
        assert ours[0] == lxd[0] == 202
        # Both exports: the same members, modes, owners and links, the same metadata.yaml.
        exported = {}
        for name, socket_path in zip(("lxd", "ours"), c1.both, strict=True):
            target = tmp_path / name
            target.mkdir()
            assert run_lxc(socket_path, c1.conf, "image", "export", "pub1", str(target / "pub1"))[0] == 0
            (path,) = target.iterdir()
            exported[name] = path
        assert tarball_members(exported["ours"]) == tarball_members(exported["lxd"])
        # lxdsite's image imports into the daemon, and an instance made from it has the files.
        imported = run_lxc(c1.lxd, c1.conf, "image", "import", str(exported["ours"]), "--alias", "from-lxdsite")
        assert imported[0] == 0, imported
        images["lxd"].append("from-lxdsite")
        assert run_lxc(c1.lxd, c1.conf, "init", "from-lxdsite", "c9")[0] == 0
        assert run_lxc(c1.lxd, c1.conf, "file", "pull", "c9/tmp/hello", "-")[1] == "hi\n"
        status, headers, _ = raw(c1.lxd, "GET", "/1.0/instances/c9/files?path=/tmp/hello")
        assert (status, headers["X-LXD-mode"], headers["X-LXD-uid"]) == (200, "0600", "5")
    finally:
        for alias in images["lxd"]:
            run_lxc(c1.lxd, c1.conf, "image", "delete", alias)
        for url in unix_request(c1.lxd, "GET", "/1.0/images")[2]["metadata"]:
            fingerprint = url.rsplit("/", 1)[1]
            aliases = unix_request(c1.lxd, "GET", url)[2]["metadata"]["aliases"]
            if not any(alias["name"] == IMAGE for alias in aliases):
                unix_request(c1.lxd, "DELETE", f"/1.0/images/{fingerprint}")
