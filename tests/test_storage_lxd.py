"""Storage pools beside the real LXD 5.0.2 daemon: the same requests and ``lxc storage`` commands
give the same answers (``dir``, the driver the daemon can create here)."""

import re

import pytest

from resources.etags import compute_etag
from tests.support.image_files import unified_image
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

POOLS = ("sp1", "sp2", "sp3")
STALE = '"0000000000000000000000000000000000000000000000000000000000000000"'


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """(daemon socket, lxdsite socket); the pools a test made on the daemon go afterwards."""
    yield real_lxd, lxdsite_server.socket_path
    for name in POOLS:
        unix_request(real_lxd, "DELETE", f"/1.0/storage-pools/{name}")


def _lxd_etag(socket_path, path):
    """The ETag LXD 5.0.2 keeps for a pool: it sends no header, its 412 text shows the value."""
    refused = unix_request(socket_path, "PUT", path, {}, {"If-Match": STALE})
    assert refused[0] == 412
    return refused[2]["error"].split()[3]


def test_a_pool_with_a_shared_source_answers_as_the_daemon(both, tmp_path):
    real, ours = both
    source = tmp_path / "source"
    source.mkdir()
    body = {"name": "sp1", "driver": "dir", "description": "d", "config": {"source": str(source), "user.a": "1"}}
    # lxdsite first: it leaves the directory empty, as the daemon requires it.
    answers = [
        unix_request(ours, "POST", "/1.0/storage-pools", body),
        unix_request(real, "POST", "/1.0/storage-pools", body),
    ]
    assert [(status, headers["Location"], answer) for status, headers, answer in answers] == [
        (201, "/1.0/storage-pools/sp1", answers[1][2])
    ] * 2

    for path in ("/1.0/storage-pools/sp1", "/1.0/storage-pools?recursion=1", "/1.0/storage-pools"):
        assert unix_request(ours, "GET", path)[2] == unix_request(real, "GET", path)[2], path
    got = unix_request(real, "GET", "/1.0/storage-pools/sp1")[2]["metadata"]
    lxd = _lxd_etag(real, "/1.0/storage-pools/sp1")
    assert lxd == compute_etag(["sp1", "dir", got["config"]])
    # lxdsite adds the description to LXD's recipe and sends the header.
    assert (
        unix_request(ours, "GET", "/1.0/storage-pools/sp1")[1]["ETag"]
        == f'"{compute_etag([["sp1", "dir", got["config"]], {"description": "d"}])}"'
    )

    # Writes: a PUT keeping the source, a PATCH of config, and LXD's refusals.
    for method, change in [
        ("PUT", {"config": {"source": str(source), "volume.size": "1GB"}, "description": "put"}),
        ("PATCH", {"config": {"rsync.bwlimit": "10MB", "volume.security.shifted": "true"}, "description": "put"}),
        ("PATCH", {"config": {"bad": "1"}}),
        ("PATCH", {"config": {"volume.zfs.use_refquota": "true"}}),
        ("PATCH", {"config": {"volume.snapshots.expiry": "1x"}}),
        ("PUT", {"config": {}}),
    ]:
        theirs, mine = (
            unix_request(real, method, "/1.0/storage-pools/sp1", change),
            unix_request(ours, method, "/1.0/storage-pools/sp1", change),
        )
        # LXD answers 500 where the client's input is at fault; lxdsite 400 (docs/compatibility.md).
        assert (mine[0], mine[2].get("error")) == (min(theirs[0], 400), theirs[2].get("error")), change
        assert (
            unix_request(ours, "GET", "/1.0/storage-pools/sp1")[2]
            == unix_request(real, "GET", "/1.0/storage-pools/sp1")[2]
        ), change


@pytest.mark.parametrize(
    "body",
    [
        {"driver": "dir"},
        {"name": "a/b", "driver": "dir"},
        {"name": "sp2"},
        {"name": "sp2", "driver": "nosuch"},
        {"name": "sp2", "driver": "dir", "config": {"size": "1GB"}},
        {"name": "sp2", "driver": "dir", "config": {"rsync.bwlimit": "fast"}},
        {"name": "sp2", "driver": "dir", "config": {"source": "/nonexistent-lxdsite-source"}},
    ],
)
def test_refused_creates_answer_as_the_daemon(both, body):
    real, ours = both
    theirs, mine = (unix_request(socket, "POST", "/1.0/storage-pools", body) for socket in (real, ours))

    assert (mine[0], mine[2]["error"]) == (min(theirs[0], 400), theirs[2]["error"])
    assert unix_request(ours, "GET", "/1.0/storage-pools")[2]["metadata"] == []


# `lxc storage` commands, in order, on both servers.
SEQUENCE = [
    ("storage", "list"),
    ("storage", "create", "sp1", "dir"),
    ("storage", "create", "sp1", "dir"),
    ("storage", "create", "sp2", "nosuch"),
    ("storage", "create", "sp2", "dir", "size=1GB"),
    ("storage", "create", "sp2", "dir", "rsync.compression=true", "--description", "second"),
    ("storage", "list", "--format", "csv"),
    ("storage", "show", "sp1"),
    ("storage", "set", "sp1", "rsync.bwlimit", "10MB"),
    ("storage", "set", "sp1", "bad.key", "1"),
    ("storage", "set", "sp1", "volume.size=2GB", "user.x=y"),
    ("storage", "get", "sp1", "rsync.bwlimit"),
    ("storage", "unset", "sp1", "rsync.bwlimit"),
    ("storage", "show", "sp1"),
    ("storage", "info", "sp1"),
    ("storage", "info", "nosuch"),
    ("storage", "show", "nosuch"),
    ("storage", "delete", "sp2"),
    ("storage", "delete", "sp2"),
    ("storage", "list", "--format", "yaml"),
]


def _normalised(socket_path, result):
    """lxc's output with the server's own LXD_DIR named (each daemon puts ``source`` under its
    own) and the space figures of `storage info` hidden (the file system's use changes)."""
    status, stdout, stderr = comparable(result)
    stdout = stdout.replace(str(socket_path.parent), "<LXD_DIR>")
    stdout = re.sub(r"(space used|total space): .*", r"\1: <size>", stdout)
    return status, stdout, stderr


def test_lxc_storage_commands_print_what_lxd_prints(both, tmp_path):
    real, ours = both
    # The first lxc run of a config directory may print the first-run hint: it has its own test.
    for socket_path in (real, ours):
        run_lxc(socket_path, tmp_path, "storage", "list")

    for args in SEQUENCE:
        theirs = _normalised(real, run_lxc(real, tmp_path, *args))
        mine = _normalised(ours, run_lxc(ours, tmp_path, *args))
        assert mine == theirs, args

    edited = "config:\n  user.edited: yes\n  source: {source}\ndescription: edited\n"
    for socket_path in (real, ours):
        source = f"{socket_path.parent}/storage-pools/sp1"
        run_lxc(socket_path, tmp_path, "storage", "edit", "sp1", stdin=edited.format(source=source))
    assert _normalised(ours, run_lxc(ours, tmp_path, "storage", "show", "sp1")) == _normalised(
        real, run_lxc(real, tmp_path, "storage", "show", "sp1")
    )
    for socket_path in (real, ours):
        assert run_lxc(socket_path, tmp_path, "storage", "delete", "sp1")[0] == 0


def test_the_first_run_hint_shows_while_no_pool_exists(both, tmp_path):
    """lxc's "If this is your first time running LXD" follows the server's pools, as on LXD."""
    real, ours = both
    for socket_path in (real, ours):
        fresh = [tmp_path / socket_path.parent.name / part for part in ("a", "b")]
        for directory in fresh:
            directory.mkdir(parents=True)
        assert "lxd init" in run_lxc(socket_path, fresh[0], "storage", "list")[2]
        unix_request(socket_path, "POST", "/1.0/storage-pools", {"name": "sp3", "driver": "dir"})
        assert "lxd init" not in run_lxc(socket_path, fresh[1], "storage", "list")[2]
        unix_request(socket_path, "DELETE", "/1.0/storage-pools/sp3")


# Instances and pools through lxc: the root disk must resolve to an existing pool.
INSTANCE_SEQUENCE = [
    ("init", "tiny", "c1"),
    ("storage", "create", "sp1", "dir"),
    ("init", "tiny", "c1", "-s", "nosuch"),
    ("init", "tiny", "c1", "-s", "sp1"),
    ("storage", "show", "sp1"),
    ("storage", "list", "--format", "csv"),
    ("storage", "delete", "sp1"),
    ("storage", "create", "sp2", "dir"),
    ("config", "device", "set", "c1", "root", "pool=sp2"),
    ("config", "device", "set", "c1", "root", "size=1GB"),
    ("config", "show", "c1", "--expanded"),
    ("delete", "c1"),
    ("storage", "delete", "sp1"),
    ("storage", "delete", "sp2"),
]


def test_instances_need_an_existing_pool_as_on_the_daemon(both, tmp_path):
    real, ours = both
    image = tmp_path / "tiny.tar.gz"
    image.write_bytes(unified_image(marker="storage-instances"))
    try:
        for socket_path in both:
            assert run_lxc(socket_path, tmp_path, "image", "import", str(image), "--alias", "tiny")[0] == 0
        for args in INSTANCE_SEQUENCE:
            theirs = _normalised(real, run_lxc(real, tmp_path, *args))
            mine = _normalised(ours, run_lxc(ours, tmp_path, *args))
            assert mine == theirs, args
    finally:
        run_lxc(real, tmp_path, "delete", "--force", "c1")
        run_lxc(real, tmp_path, "image", "delete", "tiny")
