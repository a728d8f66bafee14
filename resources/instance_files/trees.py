"""Where instance and snapshot trees live, and what happens to them as rows come and go.

Each instance's root filesystem is a directory ``LXDSITE_INSTANCE_FILES_DIR/i<id>`` (its
snapshots' ``s<id>``), named by the row's id: a rename moves nothing. A tree is written only
once the row that owns it commits (built under a ``.staging-<pid>-`` name, then renamed into
place) and removed once its row's deletion commits, so a refused or rolled-back write leaves
no tree behind. ``recover_trees`` removes what a killed server left: staging trees and trees
whose row is gone.
"""

import logging
import os
import shutil
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from ..models import Instance, Snapshot
from .metadata import set_owner

logger = logging.getLogger(__name__)
STAGING_PREFIX = ".staging-"
_KINDS = {Instance: "i", Snapshot: "s"}


def tree_path(row):
    """The tree of an instance or snapshot (it may not exist yet: an empty tree)."""
    return settings.LXDSITE_INSTANCE_FILES_DIR / f"{_KINDS[type(row)]}{row.pk}"


def ensure_tree(row):
    """The tree of ``row``, made empty (a root directory, 0755 root:root) if it has none."""
    path = tree_path(row)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = _staging_path()
        staging.mkdir(mode=0o700)
        set_owner(staging, 0, 0, 0o755)
        try:
            _install(staging, path)
        except OSError:
            # Another request made it first (and may have written into it already).
            staging.rmdir()
    return path


def seed_from_image(instance, image):
    """Once ``instance`` commits: its tree is the rootfs of ``image``."""
    # Imported here: unpacking reads images, whose modules import the serializers, which import this package.
    from .unpacking import unpack_rootfs

    image_files = (image.rootfs_path, False) if image.split else (image.path, True)
    _after_commit(instance, lambda staging: unpack_rootfs(*image_files, staging))


def copy_tree(source, target):
    """Once ``target`` commits: its tree is a copy of ``source``'s (an instance or snapshot):
    ``lxc copy``, snapshots and restores."""
    source_path = tree_path(source)
    source_instance_id = getattr(source, "instance_id", source.pk)

    def build(staging):
        # Under the source instance's row lock, which every file write takes: no directory of the
        # source is swapped for a link (that copytree could follow) while it is copied.
        with transaction.atomic():
            Instance.objects.select_for_update().filter(pk=source_instance_id).first()
            _copy(source_path, staging)

    _after_commit(target, build)


def _copy(source_path, staging):
    if source_path.is_dir():
        # copy2 keeps each file's recorded owner and mode (extended attributes), symlinks stay links.
        shutil.copytree(source_path, staging, symlinks=True, dirs_exist_ok=True)


def _after_commit(row, build):
    """Build ``row``'s tree in a staging directory once the transaction commits, then install it
    in place of the one it had (a restore's, or one a reset database left under this id)."""

    def run():
        staging = _staging_path()
        try:
            staging.mkdir(mode=0o700, parents=True)
            set_owner(staging, 0, 0, 0o755)
            build(staging)
            target = tree_path(row)
            _remove(target)
            _install(staging, target)
        except Exception:
            # The row stands; its tree is what could be made of it (lxdsite logs why).
            logger.exception("could not build the tree of %s %s", type(row).__name__, row.pk)
        finally:
            _remove(staging)

    transaction.on_commit(run)


def scratch_file():
    """A fresh name beside the trees (on their file system, inside none) for a file being received."""
    settings.LXDSITE_INSTANCE_FILES_DIR.mkdir(parents=True, exist_ok=True)
    return _staging_path()


def _staging_path():
    directory = settings.LXDSITE_INSTANCE_FILES_DIR
    return directory / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"


def _install(staging, target):
    os.rename(staging, target)


def _remove(path):
    """Remove a tree, moved aside first so that no reader sees it half removed."""
    if not path.exists():
        return
    doomed = path.with_name(f"{STAGING_PREFIX}{os.getpid()}-gone-{uuid.uuid4().hex}")
    try:
        os.rename(path, doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


@receiver(post_delete, sender=Instance, dispatch_uid="lxdsite-instance-tree")
@receiver(post_delete, sender=Snapshot, dispatch_uid="lxdsite-snapshot-tree")
def _remove_deleted_tree(sender, instance, **kwargs):
    """A deleted instance or snapshot (by the API, a cascade, the admin) loses its tree once that commits."""
    path = tree_path(instance)
    transaction.on_commit(lambda: _remove(path))


def recover_trees(pid=None):
    """Clean up after a killed worker ``pid`` (None: after a killed server, before serving):
    its staging trees, and (for a server) trees whose row is gone."""
    directory = settings.LXDSITE_INSTANCE_FILES_DIR
    if not directory.is_dir():
        return
    owner = "*" if pid is None else f"{pid}-*"
    for path in directory.glob(STAGING_PREFIX + owner):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if pid is not None:
        return
    kept = {f"i{pk}" for pk in Instance.objects.values_list("pk", flat=True)}
    kept |= {f"s{pk}" for pk in Snapshot.objects.values_list("pk", flat=True)}
    for path in directory.iterdir():
        if not path.name.startswith(".") and path.name not in kept:
            shutil.rmtree(path, ignore_errors=True)


__all__ = ["copy_tree", "ensure_tree", "recover_trees", "scratch_file", "seed_from_image", "tree_path"]
