"""The real ``lxc`` 5.0.2 client against lxdsite or the real daemon, and how its output is compared.

Import the fixture into ``tests/conftest.py``.
"""

import contextlib
import os
import re
import subprocess

import pytest

from tests.support.live_server import unix_request

ROOT_DISK = {"root": {"type": "disk", "path": "/", "pool": "default"}}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# What the daemon reports of its work in progress (an image's download, shifting a rootfs's ids).
_PROGRESS = re.compile(r"Retrieving image|Remapping container filesystem")
_TIME = re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2} \w+|\d{4}-\d{2}-\d{2}T[\d:.]+Z")


def run_lxc(socket_path, tmp_path, *args, editor=None, tty=False, stdin="\n"):
    """Run lxc 5.0.2 against the server on ``socket_path``; (exit status, stdout, stderr)."""
    env = {**os.environ, "LXD_DIR": str(socket_path.parent), "LXD_CONF": str(tmp_path / "lxc-conf")}
    if editor:
        env["EDITOR"] = str(editor)
    command = ["lxc", *args]
    if tty:
        # lxc only runs EDITOR on a terminal; `script` gives it one. Enter at the retry
        # prompt reopens the editor, end of input then makes lxc give up.
        command = ["script", "-qec", " ".join(command), "/dev/null"]
    done = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def comparable(result):
    """lxc's output without UUIDs, times and progress lines, which differ on every run (and host)."""
    status, stdout, stderr = result
    lines = [line.rstrip() for line in re.split(r"[\r\n]", stdout) if line.strip() and not _PROGRESS.search(line)]
    text = _TIME.sub("<time>", _UUID.sub("<uuid>", "\n".join(lines)))
    return status, text, _UUID.sub("<uuid>", stderr)


@contextlib.contextmanager
def storage_pool(real_lxd):
    """A ``default`` dir pool and a root disk in the default profile on the server at ``real_lxd``
    (the daemon the session shares, or a live lxdsite: the same set-up on both).

    Both go again afterwards: lxc prints its first-run hint only for a server without a pool,
    so a pool left behind on the shared daemon would change what other tests compare.
    """
    assert unix_request(real_lxd, "POST", "/1.0/storage-pools", {"name": "default", "driver": "dir"})[0] == 201
    unix_request(real_lxd, "PATCH", "/1.0/profiles/default", {"devices": ROOT_DISK})
    try:
        yield
    finally:
        default = {"config": {}, "description": "Default LXD profile", "devices": {}}
        unix_request(real_lxd, "PUT", "/1.0/profiles/default", default)
        unix_request(real_lxd, "DELETE", "/1.0/storage-pools/default")


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
