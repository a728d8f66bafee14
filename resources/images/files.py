"""Image files on disk: the chunks they are read in, the staged uploads a killed server left, removal."""

import os
from pathlib import Path

from django.conf import settings

from ..models import Image

CHUNK_SIZE = 1 << 20

# Files of an image whose row is being committed: ``.pending-<fingerprint>[.rootfs]``.
PENDING_PREFIX = ".pending-"


def remove_stale_uploads():
    """Clean up after a killed server (call before serving): remove its temporary upload files,
    and install the staged files of an image whose row committed (remove the others)."""
    directory = settings.LXDSITE_IMAGES_DIR
    if not directory.is_dir():
        return
    for path in directory.glob(".upload-*"):
        path.unlink(missing_ok=True)
    pending = {path.name.removeprefix(PENDING_PREFIX): path for path in directory.glob(PENDING_PREFIX + "*")}
    committed = {
        name
        for image in Image.objects.filter(fingerprint__in={name.split(".")[0] for name in pending})
        for name in (Path(path).name for path in image.files())
    }
    for name, path in pending.items():
        if name in committed:
            os.replace(path, directory / name)
        else:
            path.unlink(missing_ok=True)


def remove_files(paths):
    """Remove an image's files (after its row is deleted)."""
    for path in paths:
        Path(path).unlink(missing_ok=True)
