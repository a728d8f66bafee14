"""What LXD reports of a file that lxdsite cannot make real: its owner and mode.

lxdsite does not run as root, and a tree's files must never be set-uid or unreadable on the
host, so every stored file and directory is the server's own (0600 / 0700) and carries the
owner and mode the instance sees in an extended attribute. A symlink carries none (Linux
allows no user attribute on one): it is root's, 0777, as LXD reports links.
"""

import os
import stat

ATTRIBUTE = "user.lxdsite.stat"
HOST_FILE_MODE = 0o600
HOST_DIRECTORY_MODE = 0o700


def set_owner(path, uid, gid, mode, *, dir_fd=None):
    """Record ``uid``, ``gid`` and ``mode`` (permission and set-id bits) on ``path``."""
    os.setxattr(
        path if dir_fd is None else _fd_path(path, dir_fd),
        ATTRIBUTE,
        f"{uid} {gid} {mode:o}".encode(),
        follow_symlinks=False,
    )


def owner(path, status, *, dir_fd=None):
    """(uid, gid, mode bits) of an entry whose ``lstat`` is ``status``."""
    if stat.S_ISLNK(status.st_mode):
        return 0, 0, 0o777
    try:
        raw = os.getxattr(path if dir_fd is None else _fd_path(path, dir_fd), ATTRIBUTE, follow_symlinks=False)
        uid, gid, mode = raw.decode().split()
        return int(uid), int(gid), int(mode, 8)
    except (OSError, ValueError):
        return 0, 0, stat.S_IMODE(status.st_mode)


def _fd_path(name, dir_fd):
    """``name`` in the directory ``dir_fd`` as a path the *xattr calls accept (they take no dir_fd)."""
    return f"/proc/self/fd/{dir_fd}/{name}" if name is not None else f"/proc/self/fd/{dir_fd}"
