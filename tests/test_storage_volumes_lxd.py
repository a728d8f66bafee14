"""Storage volumes beside the real LXD 5.0.2 daemon: the same requests and ``lxc storage volume``
commands give the same answers (``dir`` pools, the driver the daemon can create here).

Normalised: operation ids (random UUIDs), LXD's 500s for bad input (lxdsite answers 400 with
the same text: docs/compatibility.md), and the ETag, which lxdsite computes over LXD's recipe
plus the description (compared with the recipe on both sides).
"""

from urllib.parse import quote

import pytest

from resources.etags import compute_etag
from tests.support.events_client import EventsClient
from tests.support.image_files import unified_image
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

POOLS = ("vp1", "vp2")
PROJECTS = ("vpj", "vpn")
P = "/1.0/storage-pools/vp1"


def _clean(socket_path):
    """Delete every custom volume of the test's pools (every project), its projects and pools;
    the server's own volumes are unset first (a test that failed may have left one set)."""
    config = unix_request(socket_path, "GET", "/1.0")[2]["metadata"]["config"]
    for key in ("storage.backups_volume", "storage.images_volume"):
        if config.get(key, "").split("/")[0] in POOLS:
            unix_request(socket_path, "PATCH", "/1.0", {"config": {key: ""}})
    for pool in POOLS:
        status, _, answer = unix_request(
            socket_path, "GET", f"/1.0/storage-pools/{pool}/volumes?all-projects=true&recursion=1"
        )
        for volume in answer.get("metadata") or [] if status == 200 else []:
            if volume["type"] == "custom" and "/" not in volume["name"]:
                query = "" if volume["project"] == "default" else f"?project={volume['project']}"
                unix_request(
                    socket_path, "DELETE", f"/1.0/storage-pools/{pool}/volumes/custom/{quote(volume['name'])}{query}"
                )
    for project in PROJECTS:
        unix_request(socket_path, "DELETE", f"/1.0/projects/{project}")
    for pool in POOLS:
        unix_request(socket_path, "DELETE", f"/1.0/storage-pools/{pool}")


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """(daemon socket, lxdsite socket), each with the pools ``vp1`` and ``vp2``; all goes afterwards."""
    sockets = (real_lxd, lxdsite_server.socket_path)
    profile = unix_request(real_lxd, "GET", "/1.0/profiles/default")[2]["metadata"]
    try:
        for socket_path in sockets:
            for pool in POOLS:
                assert (
                    unix_request(socket_path, "POST", "/1.0/storage-pools", {"name": pool, "driver": "dir"})[0] == 201
                )
        yield sockets
    finally:
        # A disk a failed test left in the default profile would keep its volume (and pool) in use.
        body = {key: profile[key] for key in ("config", "description", "devices")}
        unix_request(real_lxd, "PUT", "/1.0/profiles/default", body)
        _clean(real_lxd)


def _answer(socket_path, method, path, body=None):
    """What a client sees of a request: status (LXD's 500 as 400), error, metadata; an async
    answer's operation as it ended (description, resources, status, err) without its id; the
    server's own LXD_DIR named ``<LXD_DIR>`` (each puts a pool's ``source`` under its own)."""
    return repr(_seen(socket_path, method, path, body)).replace(str(socket_path.parent), "<LXD_DIR>")


def _seen(socket_path, method, path, body):
    status, headers, answer = unix_request(socket_path, method, path, body)
    if answer.get("type") == "async":
        operation = unix_request(socket_path, "GET", answer["operation"] + "/wait?timeout=30")[2]["metadata"]
        ended = {key: operation[key] for key in ("description", "resources", "status", "err")}
        return status, "async", ended
    location = headers.get("Location")
    return 400 if status == 500 else status, answer.get("error"), answer.get("metadata"), location


STEPS = [
    ("GET", P + "/volumes"),
    ("POST", P + "/volumes/custom", {"name": "v1", "description": "d1", "config": {"user.a": "1"}}),
    ("POST", P + "/volumes", {"name": "v2", "type": "custom", "content_type": "block", "config": {"size": "1GiB"}}),
    ("POST", P + "/volumes", {"name": "v3"}),
    ("POST", P + "/volumes", {"name": "v3", "type": "container"}),
    ("POST", P + "/volumes/bogus", {"name": "v3"}),
    ("POST", P + "/volumes/custom", {"name": "v1"}),
    ("POST", P + "/volumes/custom", {}),
    ("POST", P + "/volumes/custom", {"name": "a/b"}),
    ("POST", P + "/volumes/custom", {"name": "a b"}),
    ("POST", P + "/volumes/custom", {"name": "x", "content_type": "iso"}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"bad": "1"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"size": "big"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"block.filesystem": "ext4"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"security.shifted": "maybe"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"snapshots.expiry": "1x"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"snapshots.schedule": "bad"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"zfs.use_refquota": "true"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"security.shifted": "true", "bad": "1", "size": "x"}}),
    ("POST", P + "/volumes/custom", {"name": "b1", "content_type": "block", "config": {"security.shifted": "true"}}),
    ("POST", P + "/volumes/custom", {"name": "x", "config": {"snapshots.pattern": "s%d", "security.unmapped": "true"}}),
    ("POST", P + "/volumes/custom", {"name": "y", "type": "image"}),
    ("GET", P + "/volumes"),
    ("GET", P + "/volumes?recursion=1"),
    ("GET", P + "/volumes/custom?recursion=1"),
    ("GET", P + "/volumes/container"),
    ("GET", P + "/volumes?filter=name+eq+v1"),
    ("GET", P + "/volumes?filter=type+eq+custom+and+content_type+eq+block"),
    ("GET", P + "/volumes?filter=config.user.a+eq+1&recursion=1"),
    ("GET", P + "/volumes/custom?filter=not+name+eq+v1"),
    ("GET", P + "/volumes?filter=description+eq+D1+or+name+eq+v2"),
    ("GET", P + "/volumes?filter=name+eq"),
    ("GET", P + "/volumes/custom/v1"),
    ("GET", P + "/volumes/custom/nosuch"),
    ("GET", "/1.0/storage-pools/nosuch/volumes"),
    ("GET", "/1.0/storage-pools/nosuch/volumes/custom/v1"),
    ("GET", P + "/volumes/bogus"),
    ("GET", P + "/volumes/bogus/v1"),
    ("PUT", P + "/volumes/custom/v1", {"config": {"user.b": "2"}, "description": "put"}),
    ("GET", P + "/volumes/custom/v1"),
    ("PATCH", P + "/volumes/custom/v1", {"config": {"user.c": "3"}}),
    ("GET", P + "/volumes/custom/v1"),
    ("PATCH", P + "/volumes/custom/v1", {"description": "patched"}),
    ("PUT", P + "/volumes/custom/v1", {"config": {"bad": "1"}}),
    ("PATCH", P + "/volumes/custom/v1", {"config": {"size": "bad"}}),
    ("GET", P + "/volumes/custom/v1"),
    ("PUT", P + "/volumes/custom/v2", {"config": {"size": "2GiB"}}),
    ("PUT", P + "/volumes/custom/nosuch", {"config": {}}),
    ("PATCH", P + "/volumes/custom/nosuch", {"config": {}}),
    ("GET", P + "/volumes/custom/v1/state"),
    ("GET", P + "/volumes/custom/nosuch/state"),
    ("POST", P + "/volumes/custom/v1", {"name": "v9"}),
    ("POST", P + "/volumes/custom/v9", {"name": "v2"}),
    ("POST", P + "/volumes/custom/v9", {"name": ""}),
    ("POST", P + "/volumes/custom/v9", {"name": "a/b"}),
    ("POST", P + "/volumes/custom/nosuch", {"name": "zz"}),
    ("POST", P + "/volumes/custom/v9", {"name": "v9", "pool": "nosuch"}),
    ("POST", P + "/volumes/custom/v9", {"name": "v9", "pool": "vp2"}),
    ("GET", "/1.0/storage-pools/vp2/volumes/custom/v9"),
    ("POST", "/1.0/storage-pools/vp2/volumes/custom/v9", {"name": "v8", "pool": "vp1"}),
    ("POST", P + "/volumes/custom", {"name": "c1", "source": {"type": "copy", "pool": "vp1", "name": "v8"}}),
    ("GET", P + "/volumes/custom/c1"),
    ("POST", P + "/volumes/custom", {"name": "c2", "source": {"type": "copy", "pool": "nosuch", "name": "v8"}}),
    ("POST", P + "/volumes/custom", {"name": "c2", "source": {"type": "copy", "pool": "vp1", "name": "nosuch"}}),
    ("POST", P + "/volumes/custom", {"name": "c2", "source": {"type": "bogus"}}),
    ("POST", "/1.0/projects", {"name": "vpj", "config": {"features.storage.volumes": "true"}}),
    ("POST", "/1.0/projects", {"name": "vpn", "config": {"features.storage.volumes": "false"}}),
    ("GET", P + "/volumes?project=vpj"),
    ("GET", P + "/volumes?project=vpn"),
    ("GET", P + "/volumes?project=nosuch"),
    ("GET", P + "/volumes/custom?project=nosuch"),
    ("GET", P + "/volumes/custom/v8?project=nosuch"),
    ("GET", P + "/volumes/custom/v8/state?project=nosuch"),
    ("PUT", P + "/volumes/custom/v8?project=nosuch", {}),
    ("PATCH", P + "/volumes/custom/v8?project=nosuch", {}),
    ("POST", P + "/volumes/custom/v8?project=nosuch", {"name": "v7"}),
    ("POST", P + "/volumes/custom?project=nosuch", {"name": "v7"}),
    ("DELETE", P + "/volumes/custom/v8?project=nosuch"),
    ("GET", P + "/volumes/custom/v8/snapshots?project=nosuch"),
    ("POST", P + "/volumes/custom?project=vpj", {"name": "pv1"}),
    ("GET", P + "/volumes/custom/pv1?project=vpj"),
    ("GET", P + "/volumes?recursion=1&project=vpj"),
    ("GET", P + "/volumes/custom/v8?project=vpn"),
    ("POST", P + "/volumes/custom", {"name": "mv", "config": {"user.m": "1"}}),
    ("POST", P + "/volumes/custom/mv/snapshots", {"name": "ms"}),
    ("POST", P + "/volumes/custom/mv", {"name": "mv2", "project": "vpj"}),
    ("POST", P + "/volumes/custom/mv", {"name": "mv2", "project": "vpj", "pool": "vp1"}),
    ("GET", P + "/volumes/custom/mv2?project=vpj"),
    ("GET", P + "/volumes/custom/mv2/snapshots?project=vpj"),
    ("POST", P + "/volumes/custom/mv2?project=vpj", {"name": "mv2", "project": "nosuch", "pool": "vp1"}),
    ("POST", P + "/volumes/custom/mv2?project=vpj", {"name": "mv3", "project": "vpn", "pool": "vp1"}),
    ("GET", P + "/volumes/custom/mv3"),
    (
        "POST",
        P + "/volumes/custom",
        {"name": "cp", "source": {"type": "copy", "pool": "vp1", "name": "mv3", "project": "default"}},
    ),
    (
        "POST",
        P + "/volumes/custom?project=vpj",
        {"name": "cp", "source": {"type": "copy", "pool": "vp1", "name": "mv3", "project": "default"}},
    ),
    ("GET", P + "/volumes/custom/cp?project=vpj"),
    ("DELETE", P + "/volumes/custom/cp?project=vpj"),
    ("DELETE", P + "/volumes/custom/cp"),
    ("DELETE", P + "/volumes/custom/mv3"),
    ("GET", P + "/volumes?all-projects=true"),
    ("GET", P + "/volumes?all-projects=true&recursion=1"),
    ("GET", "/1.0/projects/vpj"),
    ("DELETE", "/1.0/projects/vpj"),
    ("GET", P + "/volumes?all-projects=true"),
    ("DELETE", P + "/volumes/custom/pv1?project=vpj"),
    ("DELETE", P + "/volumes/custom/nosuch"),
    # The server's own volumes: LXD checks what storage.*_volume names (a volume it could take
    # is not set here: the daemon would move its own directories into it).
    ("PATCH", "/1.0", {"config": {"storage.backups_volume": "bad"}}),
    ("PATCH", "/1.0", {"config": {"storage.images_volume": "nosuch/v"}}),
    ("PATCH", "/1.0", {"config": {"storage.backups_volume": "vp1/nosuch"}}),
    ("PATCH", "/1.0", {"config": {"storage.backups_volume": "vp1/v2"}}),
    ("POST", P + "/volumes/custom/c1/snapshots", {"name": "keep"}),
    ("PATCH", "/1.0", {"config": {"storage.backups_volume": "vp1/c1"}}),
    ("DELETE", "/1.0/storage-pools/vp1"),
]


def test_volume_requests_answer_as_the_daemon(both):
    real, ours = both
    for method, path, *body in STEPS:
        theirs = _answer(real, method, path, *body)
        mine = _answer(ours, method, path, *body)
        assert mine == theirs, (method, path, body)


def test_volume_etags_follow_lxds_recipe(both):
    real, ours = both
    body = {"name": "v1", "description": "d", "config": {"user.a": "1", "size": "1GB"}}
    for socket_path in both:
        assert unix_request(socket_path, "POST", P + "/volumes/custom", body)[0] == 200
    theirs = unix_request(real, "GET", P + "/volumes/custom/v1")
    mine = unix_request(ours, "GET", P + "/volumes/custom/v1")
    recipe = ["v1", "custom", {"size": "1GB", "user.a": "1"}]
    assert theirs[1]["ETag"] == f'"{compute_etag(recipe)}"'
    # lxdsite adds the writable description to LXD's recipe.
    assert mine[1]["ETag"] == f'"{compute_etag([recipe, {"description": "d"}])}"'
    # A snapshot's: LXD hashes [description, expires_at], every field a write may change.
    for socket_path in both:
        snapshot = {"name": "s1", "expires_at": "2030-01-01T00:00:00Z"}
        # The daemon's snapshot is made in its operation: wait for it.
        assert _seen(socket_path, "POST", P + "/volumes/custom/v1/snapshots", snapshot)[2]["status"] == "Success"
        patched = unix_request(socket_path, "PATCH", P + "/volumes/custom/v1/snapshots/s1", {"description": "x"})
        assert patched[0] == 200, (socket_path, patched)
    expected = f'"{compute_etag(["x", "2030-01-01T00:00:00Z"])}"'
    for socket_path in both:
        assert unix_request(socket_path, "GET", P + "/volumes/custom/v1/snapshots/s1")[1]["ETag"] == expected
    stale = '"0000"'
    for socket_path, current in ((real, theirs), (ours, mine)):
        refused = unix_request(socket_path, "PUT", P + "/volumes/custom/v1", {"config": {}}, {"If-Match": stale})
        assert (refused[0], refused[2]["error"]) == (
            412,
            f"ETag doesn't match: {current[1]['ETag'].strip(chr(34))} vs 0000",
        )


S = P + "/volumes/custom/v1/snapshots"
SNAPSHOT_STEPS = [
    ("POST", P + "/volumes/custom", {"name": "v1", "config": {"user.a": "1", "snapshots.pattern": "s%d"}}),
    ("POST", S, {"name": "s1"}),
    ("GET", S),
    ("GET", S + "?recursion=1"),
    ("POST", S, {"name": "s1"}),
    ("POST", S, {}),
    ("POST", S, {}),
    ("POST", S, {"name": "a/b"}),
    ("GET", S),
    ("GET", P + "/volumes?filter=name+eq+v1/s1"),
    ("POST", S, {"name": "s2", "expires_at": "2030-01-01T00:00:00Z"}),
    ("POST", S, {"name": "s3", "expires_at": "bad"}),
    ("GET", S + "/s2"),
    ("GET", S + "/nosuch"),
    ("GET", P + "/volumes/custom/nosuch/snapshots"),
    ("POST", P + "/volumes/custom/nosuch/snapshots", {"name": "zz"}),
    ("GET", P + "/volumes"),
    ("GET", P + "/volumes?recursion=1"),
    ("GET", "/1.0/storage-pools/vp1"),
    ("PUT", S + "/s1", {"description": "sd", "expires_at": "2031-01-01T00:00:00Z"}),
    ("GET", S + "/s1"),
    ("PATCH", S + "/s1", {"description": "sp"}),
    ("GET", S + "/s1"),
    ("PUT", S + "/s1", {"expires_at": "bad"}),
    ("PUT", S + "/s1", {}),
    ("GET", S + "/s1"),
    ("POST", S + "/s1", {"name": "s5"}),
    ("POST", S + "/s5", {"name": "s2"}),
    ("POST", S + "/s5", {"name": ""}),
    ("POST", S + "/s5", {"name": "a/b"}),
    ("POST", S + "/nosuch", {"name": "zz"}),
    ("GET", S),
    ("PUT", P + "/volumes/custom/v1", {"config": {"user.b": "2"}, "description": "changed"}),
    ("PUT", P + "/volumes/custom/v1", {"restore": "s5"}),
    ("GET", P + "/volumes/custom/v1"),
    ("PUT", P + "/volumes/custom/v1", {"restore": "nosuch"}),
    ("DELETE", S + "/s5"),
    ("DELETE", S + "/nosuch"),
    ("POST", P + "/volumes/custom/v1", {"name": "v2"}),
    ("GET", P + "/volumes/custom/v2/snapshots"),
    ("POST", P + "/volumes/custom", {"name": "c1", "source": {"type": "copy", "pool": "vp1", "name": "v2"}}),
    ("GET", P + "/volumes/custom/c1/snapshots"),
    ("POST", P + "/volumes/custom", {"name": "c2", "source": {"type": "copy", "pool": "vp1", "name": "v2/s2"}}),
    ("GET", P + "/volumes/custom/c2"),
    ("POST", P + "/volumes/custom/v2", {"name": "v2", "pool": "vp2"}),
    ("GET", "/1.0/storage-pools/vp2/volumes"),
]


def test_snapshot_requests_answer_as_the_daemon(both):
    real, ours = both
    for method, path, *body in SNAPSHOT_STEPS:
        theirs = _answer(real, method, path, *body)
        mine = _answer(ours, method, path, *body)
        assert mine == theirs, (method, path, body)


# `lxc storage volume` commands, in order, on both servers (an instance i1 on vp1 attaches volumes).
LXC_SEQUENCE = [
    ("storage", "volume", "list", "vp1"),
    ("storage", "volume", "create", "vp1", "v1"),
    ("storage", "volume", "create", "vp1", "v1"),
    ("storage", "volume", "create", "vp1", "v2", "--type", "block", "size=1GiB"),
    ("storage", "volume", "create", "vp1", "v3", "bad=1"),
    ("storage", "volume", "create", "nosuch", "v3"),
    ("storage", "volume", "list", "vp1"),
    ("storage", "volume", "list", "vp1", "--format", "csv"),
    ("storage", "volume", "show", "vp1", "v1"),
    ("storage", "volume", "show", "vp1", "custom/v1"),
    ("storage", "volume", "show", "vp1", "nosuch"),
    ("storage", "volume", "set", "vp1", "v1", "user.a", "1"),
    ("storage", "volume", "set", "vp1", "v1", "size", "bad"),
    ("storage", "volume", "set", "vp1", "v1", "snapshots.expiry=1d", "user.b=2"),
    ("storage", "volume", "get", "vp1", "v1", "user.a"),
    ("storage", "volume", "get", "vp1", "v1", "nosuch"),
    ("storage", "volume", "unset", "vp1", "v1", "user.a"),
    ("storage", "volume", "unset", "vp1", "v1", "snapshots.expiry"),
    ("storage", "volume", "show", "vp1", "v1"),
    ("storage", "volume", "info", "vp1", "v1"),
    ("storage", "volume", "snapshot", "vp1", "v1"),
    ("storage", "volume", "snapshot", "vp1", "v1", "snapA"),
    ("storage", "volume", "snapshot", "vp1", "v1", "snapA"),
    ("storage", "volume", "show", "vp1", "v1/snapA"),
    ("storage", "volume", "list", "vp1"),
    ("storage", "volume", "restore", "vp1", "v1", "snapA"),
    ("storage", "volume", "restore", "vp1", "v1", "nosuch"),
    ("storage", "volume", "rename", "vp1", "v1/snapA", "v1/snapB"),
    ("storage", "volume", "rename", "vp1", "v1", "v4"),
    ("storage", "volume", "rename", "vp1", "v4", "v2"),
    ("storage", "volume", "copy", "vp1/v4", "vp1/v5"),
    ("storage", "volume", "copy", "vp1/v4", "vp2/v5"),
    ("storage", "volume", "copy", "vp1/v4", "vp1/v6", "--volume-only"),
    ("storage", "volume", "move", "vp1/v5", "vp2/v7"),
    ("storage", "volume", "move", "vp1/v6", "vp1/v8"),
    ("storage", "volume", "list", "vp2"),
    ("storage", "volume", "attach", "vp1", "v4", "i1", "/mnt"),
    ("storage", "volume", "attach", "vp1", "v4", "i1", "d9", "/mnt9"),
    ("storage", "volume", "attach", "vp1", "v2", "i1", "/mnt2"),
    ("storage", "volume", "attach", "vp1", "nosuch", "i1", "/mnt3"),
    ("config", "device", "show", "i1"),
    ("storage", "volume", "rename", "vp1", "v4", "v4b"),
    ("config", "device", "show", "i1"),
    ("storage", "volume", "rename", "vp1", "v4b", "v4"),
    ("storage", "volume", "show", "vp1", "v4"),
    ("storage", "volume", "list", "vp1"),
    ("storage", "volume", "delete", "vp1", "v4"),
    ("storage", "volume", "detach", "vp1", "v4", "i1"),
    ("storage", "volume", "detach", "vp1", "v4", "i1", "d9"),
    ("storage", "volume", "detach", "vp1", "v4", "i1"),
    ("storage", "volume", "attach-profile", "vp1", "v4", "default", "/mnt"),
    ("storage", "volume", "show", "vp1", "v4"),
    ("storage", "volume", "detach-profile", "vp1", "v4", "default"),
    ("storage", "volume", "show", "vp1", "container/i1"),
    ("storage", "volume", "set", "vp1", "container/i1", "user.x", "1"),
    ("storage", "volume", "show", "vp1", "container/i1"),
    ("storage", "volume", "rename", "vp1", "container/i1", "i2"),
    ("storage", "volume", "delete", "vp1", "container/i1"),
    ("snapshot", "i1", "is0"),
    ("storage", "volume", "list", "vp1"),
    ("storage", "volume", "delete", "vp1", "v4/snapB"),
    ("storage", "volume", "delete", "vp1", "v4"),
    ("storage", "volume", "delete", "vp1", "v4"),
    ("delete", "i1"),
    ("storage", "volume", "list", "vp1", "--format", "csv"),
]


def _normalised(socket_path, result):
    """lxc's output with the server's own LXD_DIR named (each daemon puts a pool's ``source``
    under its own), and UUIDs and times hidden (``comparable``)."""
    status, stdout, stderr = comparable(result)
    return status, stdout.replace(str(socket_path.parent), "<LXD_DIR>"), stderr


def test_lxc_storage_volume_commands_print_what_lxd_prints(both, tmp_path):
    real, ours = both
    image = tmp_path / "tiny.tar.gz"
    image.write_bytes(unified_image(marker="storage-volumes"))
    try:
        for socket_path in both:
            assert run_lxc(socket_path, tmp_path, "image", "import", str(image), "--alias", "tiny")[0] == 0
            assert run_lxc(socket_path, tmp_path, "init", "tiny", "i1", "-s", "vp1")[0] == 0
        for args in LXC_SEQUENCE:
            theirs = _normalised(real, run_lxc(real, tmp_path, *args))
            mine = _normalised(ours, run_lxc(ours, tmp_path, *args))
            assert mine == theirs, args
    finally:
        run_lxc(real, tmp_path, "delete", "--force", "i1")
        run_lxc(real, tmp_path, "image", "delete", "tiny")


ROOT = {"root": {"type": "disk", "path": "/", "pool": "vp1"}}


def _disk(volume):
    """A disk ``d1`` attaching custom volume ``volume`` of ``vp1`` at ``/mnt``."""
    return {"d1": {"type": "disk", "pool": "vp1", "source": volume, "path": "/mnt"}}


INSTANCE_STEPS = [
    ("POST", P + "/volumes/custom", {"name": "fs"}),
    ("POST", P + "/volumes/custom", {"name": "blk", "content_type": "block"}),
    ("POST", "/1.0/instances", {"name": "j1", "source": {"type": "image", "alias": "tiny"}, "devices": ROOT}),
    (
        "POST",
        "/1.0/instances",
        {"name": "j2", "source": {"type": "image", "alias": "tiny"}, "devices": {**ROOT, **_disk("nosuch")}},
    ),
    (
        "POST",
        "/1.0/instances",
        {"name": "j2", "source": {"type": "image", "alias": "tiny"}, "devices": {**ROOT, **_disk("blk")}},
    ),
    ("PATCH", "/1.0/instances/j1", {"devices": _disk("fs")}),
    ("PATCH", "/1.0/instances/j1", {"devices": {"d2": {"type": "disk", "pool": "vp1", "source": "fs"}}}),
    (
        "PATCH",
        "/1.0/instances/j1",
        {"devices": {"d2": {"type": "disk", "pool": "nosuch", "source": "fs", "path": "/m"}}},
    ),
    ("GET", P + "/volumes/custom/fs"),
    ("GET", P + "/volumes/container/j1"),
    ("GET", P + "/volumes/container/j1/state"),
    ("POST", "/1.0/instances/j1/snapshots", {"name": "js0"}),
    ("POST", "/1.0/instances/j1/snapshots", {"name": "js1", "expires_at": "2030-01-01T00:00:00Z"}),
    ("GET", P + "/volumes/container/j1/snapshots"),
    ("GET", P + "/volumes/container/j1/snapshots?recursion=1"),
    ("GET", P + "/volumes/container/j1/snapshots/js0"),
    ("GET", P + "/volumes/container/j1/snapshots/js1"),
    ("GET", P + "/volumes/container/j1/snapshots/nosuch"),
    ("GET", P + "/volumes?recursion=1"),
    ("PUT", P + "/volumes/container/j1", {"config": {"size": "1GiB"}}),
    ("POST", P + "/volumes/container/j1", {"name": "zz"}),
    ("DELETE", P + "/volumes/container/j1"),
    ("DELETE", P + "/volumes/custom/fs"),
    ("DELETE", "/1.0/instances/j1"),
    ("GET", P + "/volumes"),
    ("DELETE", P + "/volumes/custom/fs"),
]


def test_instances_and_volume_disks_answer_as_the_daemon(both, tmp_path):
    real, ours = both
    image = tmp_path / "tiny.tar.gz"
    image.write_bytes(unified_image(marker="storage-volume-disks"))
    try:
        for socket_path in both:
            assert run_lxc(socket_path, tmp_path, "image", "import", str(image), "--alias", "tiny")[0] == 0
        for method, path, *body in INSTANCE_STEPS:
            theirs = _answer(real, method, path, *body)
            mine = _answer(ours, method, path, *body)
        assert mine == theirs, (method, path, body)
    finally:
        for name in ("j1", "j2"):
            run_lxc(real, tmp_path, "delete", "--force", name)
        run_lxc(real, tmp_path, "image", "delete", "tiny")


EVENT_STEPS = [
    ("POST", P + "/volumes/custom", {"name": "e1"}),
    ("PUT", P + "/volumes/custom/e1", {"config": {"user.a": "1"}}),
    ("PATCH", P + "/volumes/custom/e1", {"description": "d"}),
    ("POST", P + "/volumes/custom/e1/snapshots", {"name": "s1"}),
    ("PUT", P + "/volumes/custom/e1/snapshots/s1", {"description": "sd"}),
    ("POST", P + "/volumes/custom/e1/snapshots/s1", {"name": "s2"}),
    ("PUT", P + "/volumes/custom/e1", {"restore": "s2"}),
    ("DELETE", P + "/volumes/custom/e1/snapshots/s2"),
    ("POST", P + "/volumes/custom/e1", {"name": "e2"}),
    ("POST", P + "/volumes/custom", {"name": "e3", "source": {"type": "copy", "pool": "vp1", "name": "e2"}}),
    ("POST", P + "/volumes/custom/e3", {"name": "e3", "pool": "vp2"}),
    ("DELETE", "/1.0/storage-pools/vp2/volumes/custom/e3"),
    ("DELETE", P + "/volumes/custom/e2"),
    ("POST", "/1.0/projects", {"name": "vpj", "config": {"features.storage.volumes": "true"}}),
    ("POST", P + "/volumes/custom?project=vpj", {"name": "e4"}),
    ("POST", P + "/volumes/custom/e4/snapshots?project=vpj", {"name": "s1"}),
    ("PUT", P + "/volumes/custom/e4/snapshots/s1?project=vpj", {"description": "d"}),
    ("DELETE", P + "/volumes/custom/e4?project=vpj"),
    ("DELETE", "/1.0/projects/vpj"),
]


def test_volume_writes_send_lxds_lifecycle_events(both):
    events = []
    for socket_path in both:
        listener = EventsClient(socket_path, "/1.0/events?type=lifecycle")
        try:
            for method, path, *body in EVENT_STEPS:
                _answer(socket_path, method, path, *body)
            events.append(listener.lifecycle(quiet=0.3))
        finally:
            listener.close()
    theirs, mine = events
    assert mine == theirs
