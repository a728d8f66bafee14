"""Image files on disk: the chunks they are read in, what a killed worker's uploads left, removal."""

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ..models import Image

CHUNK_SIZE = 1 << 20

# An upload's files are named after the worker process writing them, so that what a dead
# worker left can be told from what a live one is writing: ``.upload-<pid>-<random>`` while
# received, ``.pending-<pid>-<final name>`` while the image row commits.
UPLOAD_PREFIX = ".upload-"
PENDING_PREFIX = ".pending-"


def owned_name(prefix, name):
    """``name`` as this process's temporary file: ``<prefix><pid>-<name>``."""
    return f"{prefix}{os.getpid()}-{name}"


def _final_name(pending_name):
    """The final name a pending file is installed under (older servers wrote no pid)."""
    owner, _, name = pending_name.removeprefix(PENDING_PREFIX).partition("-")
    return name if owner.isdigit() and name else pending_name.removeprefix(PENDING_PREFIX)


def recover_uploads(pid=None):
    """Clean up after a killed worker ``pid`` (None: after a killed server, before serving):
    remove its temporary upload files, and install the staged files of an image whose row
    committed (remove the others)."""
    directory = settings.LXDSITE_IMAGES_DIR
    if not directory.is_dir():
        return
    owner = "*" if pid is None else f"{pid}-*"
    for path in directory.glob(UPLOAD_PREFIX + owner):
        path.unlink(missing_ok=True)
    pending = {_final_name(path.name): path for path in directory.glob(PENDING_PREFIX + owner)}
    if not pending:
        return
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


def remove_unused_files(deleted):
    """Once the deletion of the images ``deleted`` commits, remove the files no other project's
    image of the same fingerprint still uses (files are named by the fingerprint alone)."""
    paths = {image.fingerprint: image.files() for image in deleted}

    def remove():
        still_used = Image.objects.filter(fingerprint__in=paths).values_list("fingerprint", flat=True)
        for fingerprint in set(paths) - set(still_used):
            for path in paths[fingerprint]:
                Path(path).unlink(missing_ok=True)

    transaction.on_commit(remove)
