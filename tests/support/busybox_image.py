"""A unified image the real daemon can run: Debian's static busybox and an init that stops on request.

LXD stops a container cleanly by sending SIGPWR to its init and waiting for it to exit; the
init here exits on SIGPWR (and SIGTERM, SIGUSR2), so ``lxc stop`` without ``--force`` takes
no longer than a kill.
"""

import io
import shutil
import tarfile
from pathlib import Path

import pytest

BUSYBOX = Path("/bin/busybox")
METADATA = (
    "architecture: x86_64\n"
    "creation_date: 1700000000\n"
    "properties:\n"
    "  description: busybox\n"
    "  os: busybox\n"
    '  release: "1"\n'
    "templates: {}\n"
)
# Sleeps in the background so that a trapped signal ends ``wait`` at once.
INIT = b"#!/bin/busybox sh\ntrap 'exit 0' PWR TERM USR2\nwhile :; do /bin/busybox sleep 60 & wait $!; done\n"


DIRECTORIES = ("rootfs", "rootfs/bin", "rootfs/sbin", "rootfs/dev", "rootfs/proc", "rootfs/sys", "rootfs/tmp")


def busybox_image():
    """The image file (a gzipped tarball) with rootfs/bin/busybox, rootfs/bin/sh and rootfs/sbin/init."""
    if shutil.which("busybox") is None:
        pytest.fail("busybox is not installed: run `make deps` (Debian's busybox-static)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        _add(tar, "metadata.yaml", METADATA.encode(), 0o644)
        for directory in DIRECTORIES:
            _add(tar, directory, None, 0o755, tarfile.DIRTYPE)
        _add(tar, "rootfs/bin/busybox", BUSYBOX.read_bytes(), 0o755)
        _add(tar, "rootfs/bin/sh", None, 0o777, tarfile.SYMTYPE, link="busybox")
        _add(tar, "rootfs/sbin/init", INIT, 0o755)
    return buffer.getvalue()


def _add(tar, name, data, mode, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.mtime, info.mode, info.type, info.linkname = 1700000000, mode, kind, link
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)
