"""Paths inside an instance's tree, resolved as the instance would resolve them: symlinks are
followed inside the tree (an absolute target starts again at its root, ``..`` stops there), so
no path, whatever its links, reaches a file outside it.

Each step opens the next directory relative to the one before with ``O_NOFOLLOW``: a directory
swapped for a symlink between two steps is refused, never followed.
"""

import errno
import os
import stat

# Linux's MAXSYMLINKS: more links in one path is ELOOP.
MAX_LINKS = 40
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Resolved:
    """Where a path ends: the directory ``parent`` (an open descriptor) and the ``name`` in it
    (None: the path is ``parent`` itself, as ``/`` is). Close it (or use it as a context)."""

    def __init__(self, parent, name):
        self.parent = parent
        self.name = name

    def lstat(self):
        """The final entry's own status (FileNotFoundError when there is none)."""
        if self.name is None:
            return os.fstat(self.parent)
        return os.lstat(self.name, dir_fd=self.parent)

    def close(self):
        os.close(self.parent)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def resolve(root, path, *, follow=True):
    """Resolve ``path`` inside the tree ``root``. Every directory on the way must exist (else
    FileNotFoundError, or NotADirectoryError past a file); the final entry need not. ``follow``:
    a final symlink is followed too, as opening a file follows it."""
    parts = _parts(path)
    stack = [os.open(root, _DIRECTORY)]
    links = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not parts
            try:
                status = os.lstat(part, dir_fd=stack[-1])
            except FileNotFoundError:
                if last:
                    return _keep(stack, part)
                raise
            if stat.S_ISLNK(status.st_mode) and (follow or not last):
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts = _parts(target) + parts
                continue
            if last:
                return _keep(stack, part)
            if not stat.S_ISDIR(status.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            stack.append(os.open(part, _DIRECTORY, dir_fd=stack[-1]))
        return _keep(stack, None)
    except BaseException:
        for fd in stack:
            os.close(fd)
        raise


def _parts(path):
    return [part for part in path.split("/") if part not in ("", ".")]


def _keep(stack, name):
    """The innermost directory and ``name`` in it; every other descriptor closed."""
    for fd in stack[:-1]:
        os.close(fd)
    return Resolved(stack[-1], name)
