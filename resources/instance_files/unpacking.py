"""An image's rootfs unpacked into a tree, safely: every member lands inside the tree (its path
resolved as the instance resolves paths), no device node or FIFO is made, a symlink is stored
as a symlink (never followed while unpacking), and no file keeps its set-id bits on the host."""

import logging
import os
import stat
import tarfile

from ..images.compression import _decompressed, detect_compression
from ..images.tarballs import _GoTarInfo
from .metadata import HOST_DIRECTORY_MODE, HOST_FILE_MODE, set_owner
from .resolving import resolve

logger = logging.getLogger(__name__)
CHUNK_SIZE = 1 << 20


def unpack_rootfs(path, unified, tree, prefix="rootfs"):
    """Unpack the rootfs of the image file ``path`` (a unified image's ``rootfs/``, or a split
    image's rootfs tarball) into ``tree``. A squashfs or VM rootfs leaves the tree empty.
    ``prefix`` is where a unified tarball keeps it (a backup's ``backup/container/rootfs``)."""
    compression = detect_compression(path)
    if compression.tar_mode is None:
        logger.warning("%s is %s: its rootfs is not unpacked", path, compression.name)
        return
    # Where the rootfs is in the tarball: None for a split image's (all of it).
    root = prefix if unified else None
    directories = []
    with _decompressed(path, compression) as stream, tarfile.open(fileobj=stream, mode="r|", tarinfo=_GoTarInfo) as tar:
        for member in tar:
            name = _rootfs_name(member.name, root)
            if name is not None:
                _unpack(tar, member, name, tree, root)
                if member.isdir():
                    directories.append((name, member.mtime))
    # A directory's time is the archive's once nothing more is written into it.
    for name, mtime in reversed(directories):
        _set_time(tree, name, mtime)


def _set_time(tree, name, mtime):
    try:
        with resolve(tree, name, follow=False) as where:
            if where.name is None:
                os.utime(where.parent, (mtime, mtime))
            else:
                os.utime(where.name, (mtime, mtime), dir_fd=where.parent, follow_symlinks=False)
    except OSError as exc:
        logger.warning("kept the time of %s: %s", name, exc)


def _rootfs_name(name, root):
    """The member's path inside the rootfs (all the tarball when ``root`` is None), or None for
    a member outside it."""
    name = name.removeprefix("./").strip("/")
    if root is None:
        return name
    if name == root or name.startswith(root + "/"):
        return name.removeprefix(root).strip("/")
    return None


def _unpack(tar, member, name, tree, root):
    mode = stat.S_IMODE(member.mode)
    if not name:
        set_owner(tree, member.uid, member.gid, mode)
        return
    try:
        with resolve(tree, name, follow=False) as where:
            _make(tar, member, where, mode, tree, root)
    except OSError as exc:
        # A member whose directory is missing or is not one: skipped, as a broken archive's would be.
        logger.warning("skipped %s: %s", name, exc)


def _make(tar, member, where, mode, tree, root):
    parent, name = where.parent, where.name
    if name is None:
        return
    _clear(where, keep_directory=member.isdir())
    if member.isdir():
        if not _exists(where):
            os.mkdir(name, HOST_DIRECTORY_MODE, dir_fd=parent)
    elif member.issym():
        os.symlink(member.linkname, name, dir_fd=parent)
        os.utime(name, (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)
        return
    elif member.isfile():
        _write(tar.extractfile(member), name, parent)
    elif member.islnk():
        # A hard link: a copy of the member it names, found inside the tree as well.
        _write_link_copy(tree, _rootfs_name(member.linkname, root) or "", name, parent)
    else:
        # Devices and FIFOs: never made (LXD's containers get them from the kernel at start).
        return
    set_owner(name, member.uid, member.gid, mode, dir_fd=parent)
    if not member.isdir():
        os.utime(name, (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)


def _exists(where):
    try:
        where.lstat()
    except FileNotFoundError:
        return False
    return True


def _clear(where, keep_directory):
    """Make room for a member: a later member replaces an earlier one of the same name."""
    try:
        status = where.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(status.st_mode):
        if not keep_directory:
            raise IsADirectoryError(f"{where.name} is a directory")
        return
    os.unlink(where.name, dir_fd=where.parent)


def _write(source, name, parent):
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, HOST_FILE_MODE, dir_fd=parent
    )
    with os.fdopen(fd, "wb") as target:
        while chunk := source.read(CHUNK_SIZE):
            target.write(chunk)


def _write_link_copy(tree, target, name, parent):
    with resolve(tree, target, follow=False) as linked:
        if linked.name is None:
            raise IsADirectoryError(target)
        fd = os.open(linked.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=linked.parent)
        with os.fdopen(fd, "rb") as source:
            _write(source, name, parent)
