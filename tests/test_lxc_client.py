"""The real ``lxc`` client against lxdsite, beside the real LXD daemon: same output, same exit status."""

import os
import re
import uuid

import pytest

from tests.support.image_files import METADATA, sha256, split_image, tarball, unified_image
from tests.support.live_server import unix_request
from tests.support.lxc import run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]


def _sequence(name):
    """lxc commands that create, change, show, rename and delete a profile, errors included."""
    return [
        ("profile", "create", name),
        ("profile", "set", name, "limits.cpu", "2"),
        ("profile", "set", name, "user.note", "a<b>&c é"),
        ("profile", "show", name),
        ("profile", "unset", name, "limits.cpu"),
        ("profile", "device", "add", name, "data", "disk", "source=/tmp", "path=/mnt"),
        ("profile", "show", name),
        ("profile", "create", name),
        ("profile", "set", name, "no.such.key", "1"),
        ("profile", "set", name, "limits.cpu", "lots"),
        ("profile", "create", "bad/name"),
        ("profile", "show", "nosuch-" + name),
        ("profile", "delete", "default"),
        ("profile", "rename", "default", "x-" + name),
        ("profile", "rename", name, name + "-2"),
        ("profile", "show", name + "-2"),
        ("profile", "delete", name + "-2"),
        ("profile", "show", name + "-2"),
    ]


def test_profile_commands_print_what_lxd_prints(real_lxd, lxdsite_server, tmp_path):
    name = f"p{uuid.uuid4().hex[:8]}"

    for args in _sequence(name):
        theirs = run_lxc(real_lxd, tmp_path / "lxd", *args)
        ours = run_lxc(lxdsite_server.socket_path, tmp_path / "ours", *args)
        assert ours == theirs, args


def test_server_config_commands_print_what_lxd_prints(real_lxd, lxdsite_server, tmp_path):
    # The daemon is shared by the session: start both from an empty server config, and give the
    # daemon its own back afterwards.
    found = unix_request(real_lxd, "GET", "/1.0")[2]["metadata"]["config"]
    unix_request(real_lxd, "PUT", "/1.0", {"config": {}})
    try:
        _server_config_sequence(real_lxd, lxdsite_server, tmp_path)
    finally:
        unix_request(real_lxd, "PUT", "/1.0", {"config": found})


def _server_config_sequence(real_lxd, lxdsite_server, tmp_path):
    sequence = [
        ("config", "set", "images.auto_update_interval", "0"),
        ("config", "get", "images.auto_update_interval"),
        ("config", "set", "no.such.key", "1"),
        ("config", "set", "images.auto_update_interval", "6"),
        ("config", "show"),
        ("config", "set", "images.remote_cache_expiry", "5"),
        ("config", "unset", "images.remote_cache_expiry"),
        ("config", "show"),
    ]
    for args in sequence:
        theirs = run_lxc(real_lxd, tmp_path / "lxd", *args)
        ours = run_lxc(lxdsite_server.socket_path, tmp_path / "ours", *args)
        assert ours == theirs, args


@pytest.mark.parametrize(
    ("args", "path", "meddle", "field"),
    [
        (
            ("profile", "edit", "p1"),
            "/1.0/profiles/p1",
            '{"description":"changed behind lxc"}',
            "description",
        ),
        (
            ("config", "edit"),
            "/1.0",
            '{"config":{"images.remote_cache_expiry":"7"}}',
            "config",
        ),
    ],
    ids=["profile", "server"],
)
def test_lxc_edit_reports_lxds_412_and_keeps_the_other_change(
    lxdsite_server, tmp_path, meddling_editor, monkeypatch, args, path, meddle, field
):
    lxdsite_server.request("POST", "/1.0/profiles", {"name": "p1"})
    monkeypatch.setenv("MEDDLE_PATH", path)
    monkeypatch.setenv("MEDDLE_BODY", meddle)

    status, stdout, _ = run_lxc(lxdsite_server.socket_path, tmp_path, *args, editor=meddling_editor, tty=True)

    assert status != 0
    assert "Config parsing error: ETag doesn't match: " in stdout
    current = lxdsite_server.request("GET", path)
    assert current[1]["ETag"].strip('"') in stdout
    expected = {"description": "changed behind lxc", "config": {"images.remote_cache_expiry": "7"}}[field]
    assert current[2]["metadata"][field] == expected


# What differs between two runs and two servers: upload dates and transfer speeds.
_TIMESTAMPS = re.compile(
    r"[A-Z][a-z]{2} \d{1,2}, \d{4} at \d{1,2}:\d{2}[ap]m \(UTC\)"
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2} UTC"
    r"|\([\d.]+[kKMGT]?B/s\)"
)


def _timeless(result, *, unordered=False):
    """lxc's output without dates; ``unordered`` for `image info`, which prints a Go map in random order."""
    status, stdout, stderr = result
    stdout = _TIMESTAMPS.sub("<time>", stdout)
    return status, sorted(stdout.splitlines()) if unordered else stdout, _TIMESTAMPS.sub("<time>", stderr)


@pytest.fixture
def image_files(tmp_path):
    """Unified, split and broken image files, unique to this run (the daemon is shared by the session)."""
    marker = uuid.uuid4().hex
    meta, rootfs = split_image(marker=marker)
    files = {
        "tiny.tar.gz": unified_image(marker=marker),
        "tiny.tar.xz": unified_image(compression="xz", marker=marker),
        "meta.tar.gz": meta,
        "rootfs.tar": rootfs,
        "random.bin": os.urandom(300),
        "nometa.tar.gz": tarball({"foo": b"x"}),
        "badarch.tar.gz": unified_image(METADATA.replace("x86_64", "sparc64"), marker=marker),
    }
    files["cut.tar.gz"] = files["tiny.tar.gz"][:200]
    directory = tmp_path / "files"
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory, marker[:8]


def test_image_commands_print_what_lxd_prints(real_lxd, lxdsite_server, tmp_path, image_files):
    directory, tag = image_files
    unified, split = f"u-{tag}", f"s-{tag}"
    files = {name: str(directory / name) for name in os.listdir(directory)}
    fingerprint = sha256((directory / "tiny.tar.gz").read_bytes())
    sequence = [
        ("image", "import", files["tiny.tar.gz"], "--alias", unified),
        ("image", "import", files["meta.tar.gz"], files["rootfs.tar"], "--alias", split, "--public"),
        ("image", "import", files["tiny.tar.xz"]),
        ("image", "import", files["tiny.tar.gz"]),
        ("image", "list", unified),
        ("image", "list", split),
        ("image", "show", unified),
        ("image", "info", split),
        ("image", "show", "nosuch"),
        ("image", "alias", "create", f"p-{tag}", fingerprint[:12]),
        ("image", "alias", "create", f"p-{tag}", fingerprint),
        ("image", "alias", "create", f"x-{tag}", "0000"),
        ("image", "alias", "rename", f"p-{tag}", f"q-{tag}"),
        ("image", "alias", "list", tag),
        ("image", "alias", "delete", f"q-{tag}"),
        ("image", "alias", "delete", f"q-{tag}"),
        ("image", "delete", split),
        ("image", "show", split),
        ("image", "delete", unified),
        ("image", "list", tag),
    ]
    for args in sequence:
        unordered = args[:2] == ("image", "info")
        theirs = _timeless(run_lxc(real_lxd, tmp_path / "lxd", *args), unordered=unordered)
        ours = _timeless(run_lxc(lxdsite_server.socket_path, tmp_path / "ours", *args), unordered=unordered)
        assert ours == theirs, args
    # The xz import left an image without an alias on each server.
    xz = sha256((directory / "tiny.tar.xz").read_bytes())
    for socket_path in (real_lxd, lxdsite_server.socket_path):
        assert run_lxc(socket_path, tmp_path, "image", "delete", xz)[0] == 0


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("random.bin", "Unsupported compression"),
        ("nometa.tar.gz", "Metadata tarball is missing metadata.yaml"),
        ("cut.tar.gz", "unexpected EOF"),
        ("badarch.tar.gz", "Architecture isn't supported: sparc64"),
    ],
)
def test_lxc_image_import_reports_lxds_error(lxdsite_server, tmp_path, image_files, name, error):
    # LXD 5.0.2's own answers are in test_differential; lxc against the daemon sometimes
    # hangs on these (the operation fails before lxc's event listener is connected).
    directory, _ = image_files

    result = run_lxc(lxdsite_server.socket_path, tmp_path, "image", "import", str(directory / name))

    assert (result[0], result[1]) == (1, "")
    assert result[2].endswith(f"\nError: {error}\n")
    assert not os.listdir(lxdsite_server.lxd_dir / "images")


def test_lxc_image_edit_and_export(real_lxd, lxdsite_server, tmp_path, image_files):
    directory, tag = image_files
    alias = f"e-{tag}"
    edited = "auto_update: true\nproperties:\n  os: edited é <&>\npublic: false\n"
    for name, socket_path in (("lxd", real_lxd), ("ours", lxdsite_server.socket_path)):
        assert (
            run_lxc(socket_path, tmp_path / name, "image", "import", str(directory / "tiny.tar.gz"), "--alias", alias)[
                0
            ]
            == 0
        )
        assert run_lxc(socket_path, tmp_path / name, "image", "edit", alias, stdin=edited)[0] == 0
        assert run_lxc(socket_path, tmp_path / name, "image", "export", alias, str(tmp_path / name / "out"))[0] == 0
    theirs = run_lxc(real_lxd, tmp_path / "lxd", "image", "show", alias)
    ours = run_lxc(lxdsite_server.socket_path, tmp_path / "ours", "image", "show", alias)

    assert ours == theirs
    assert "os: edited é <&>" in ours[1]
    assert (tmp_path / "ours" / "out.tar.gz").read_bytes() == (directory / "tiny.tar.gz").read_bytes()
    assert (tmp_path / "lxd" / "out.tar.gz").read_bytes() == (directory / "tiny.tar.gz").read_bytes()
    assert run_lxc(real_lxd, tmp_path, "image", "delete", alias)[0] == 0
