"""The real ``lxc`` client against lxdsite, beside the real LXD daemon: same output, same exit status."""

import os
import subprocess
import uuid

import pytest

from tests.live_server import unix_request

pytestmark = [pytest.mark.live, pytest.mark.lxd]


def run_lxc(socket_path, tmp_path, *args, editor=None, tty=False):
    """Run lxc 5.0.2 against the server on ``socket_path``; (exit status, stdout, stderr)."""
    env = {**os.environ, "LXD_DIR": str(socket_path.parent), "LXD_CONF": str(tmp_path / "lxc-conf")}
    if editor:
        env["EDITOR"] = str(editor)
    command = ["lxc", *args]
    if tty:
        # lxc only runs EDITOR on a terminal; `script` gives it one. Enter at the retry
        # prompt reopens the editor, end of input then makes lxc give up.
        command = ["script", "-qec", " ".join(command), "/dev/null"]
    done = subprocess.run(command, env=env, input="\n", capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


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
    # The daemon is shared by the session: start both from an empty server config.
    unix_request(real_lxd, "PUT", "/1.0", {"config": {}})
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


@pytest.fixture
def meddling_editor(tmp_path):
    """An EDITOR that changes the object behind lxc's back while the user edits (lxc PUTs the file)."""
    script = tmp_path / "editor.sh"
    script.write_text(
        "#!/bin/sh\n"
        'curl -s --unix-socket "$LXD_DIR/unix.socket" -X PATCH "http://lxd$MEDDLE_PATH" -d "$MEDDLE_BODY" >/dev/null\n'
    )
    script.chmod(0o755)
    return script


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
