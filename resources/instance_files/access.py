"""What ``/1.0/instances/NAME/files`` does to a tree, with LXD 5.0.2's answers.

LXD serves these through SFTP inside the instance: a missing entry is 404 ``Not Found``, any
other failure its SFTP error (``sftp: "open /x: is a directory" (SSH_FX_FAILURE)``), which LXD
answers with 500 and lxdsite with 400 (bad input, not a server fault). Every path is resolved
inside the tree (``resolving``).
"""

import contextlib
import errno
import functools
import os
import posixpath
import shutil
import stat
from dataclasses import dataclass

from ..go import go_quote
from .metadata import HOST_DIRECTORY_MODE, HOST_FILE_MODE, owner, set_owner
from .resolving import resolve

CHUNK_SIZE = 1 << 20
# What LXD gives what a request leaves unset.
NEW_FILE_MODE = 0o644
NEW_DIRECTORY_MODE = 0o750


class FileError(Exception):
    """A refusal: ``status`` and LXD's text."""

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


NOT_FOUND = FileError(404, "Not Found")


def _shown(path):
    """A path as LXD's SFTP client names it: from the instance's root, not cleaned."""
    return path if path.startswith("/") else f"/{path}"


def _sftp_error(operation, path, exc):
    """LXD's text for an SFTP failure: the operation, the path asked for and the errno's text,
    quoted as Go quotes a string (a NUL byte shows as ``\\x00``)."""
    path = _shown(path) if operation != "symlink" else path
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    if exc.errno == errno.ENOTEMPTY:
        reason = "directory not empty"
    return FileError(400, f"sftp: {go_quote(f'{operation} {path}: {reason}')} (SSH_FX_FAILURE)")


@dataclass
class Entry:
    """A tree entry as LXD describes it in ``X-LXD-*`` headers."""

    kind: str
    uid: int
    gid: int
    mode: int
    modified: float
    size: int


def _entry(status, where):
    uid, gid, mode = owner(where.name, status, dir_fd=where.parent)
    if stat.S_ISDIR(status.st_mode):
        kind = "directory"
    elif stat.S_ISLNK(status.st_mode):
        kind = "symlink"
    else:
        kind = "file"
    return Entry(kind, uid, gid, mode, status.st_mtime, status.st_size)


def _failures(operation):
    """Decorate an operation on ``(tree, path, ...)``: an OS failure is its SFTP error (a path
    with a NUL byte, which no file system takes, is ``invalid argument``), a vanished entry 404."""

    def decorate(function):
        @functools.wraps(function)
        def run(tree, path, *args, **kwargs):
            try:
                return function(tree, path, *args, **kwargs)
            except FileError:
                raise
            except FileNotFoundError:
                raise NOT_FOUND from None
            except OSError as exc:
                raise _sftp_error(operation, path, exc) from None
            except ValueError:
                raise _sftp_error(operation, path, OSError(errno.EINVAL, "")) from None

        return run

    return decorate


def _resolved(tree, path, operation, *, follow=True):
    try:
        return resolve(tree, path, follow=follow)
    except FileNotFoundError:
        raise NOT_FOUND from None
    except OSError as exc:
        raise _sftp_error(operation, path, exc) from None


@_failures("lstat")
def read(tree, path):
    """(entry, content): a file open for reading (the caller closes it), a symlink's target (as
    the instance sees it, absolute), a directory's names."""
    with _resolved(tree, path, "lstat", follow=_names_directory(path)) as where:
        try:
            status = where.lstat()
        except FileNotFoundError:
            raise NOT_FOUND from None
        entry = _entry(status, where)
        if entry.kind == "symlink":
            target = os.readlink(where.name, dir_fd=where.parent)
            return entry, _absolute_target(path, target).encode()
        if entry.kind == "directory":
            fd = where.parent if where.name is None else _open_directory(where)
            try:
                return entry, os.listdir(fd)
            finally:
                if fd != where.parent:
                    os.close(fd)
        fd = os.open(where.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where.parent)
        # Open: a later write puts another file in its place, this one stays whole for the reader.
        return entry, os.fdopen(fd, "rb")


def _names_directory(path):
    """A path ending in ``/`` names what a final symlink points to (a directory), not the link."""
    return path.endswith("/")


def _open_directory(where):
    return os.open(where.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where.parent)


def _absolute_target(path, target):
    """A link's target as LXD shows it: joined to the link's directory, cleaned."""
    joined = posixpath.join("/", posixpath.dirname("/" + path.lstrip("/")), target)
    return "/" + posixpath.normpath(joined).lstrip("/")


@_failures("lstat")
def stat_entry(tree, path):
    """The entry ``path`` names (a final symlink itself), for HEAD."""
    with _resolved(tree, path, "lstat", follow=_names_directory(path)) as where:
        try:
            return _entry(where.lstat(), where)
        except FileNotFoundError:
            raise NOT_FOUND from None


@_failures("open")
def write_file(tree, path, body, *, uid, gid, mode, append, room, scratch):
    """Write ``body`` (a stream) to the file ``path`` (following a final symlink), creating it
    unless ``append``; at most ``room`` more bytes than it held. The body is received into
    ``scratch`` (a file name beside the trees, outside any) and put in place only once it is
    whole and within bounds: a refused or cut write changes nothing."""
    with _resolved(tree, path, "open") as where:
        if where.name is None:
            raise _sftp_error("open", path, IsADirectoryError(errno.EISDIR, ""))
        try:
            status = where.lstat()
        except FileNotFoundError:
            if append:
                raise NOT_FOUND from None
            status = None
        if status is not None and stat.S_ISDIR(status.st_mode):
            raise _sftp_error("open", path, IsADirectoryError(errno.EISDIR, ""))
        old = owner(where.name, status, dir_fd=where.parent) if status else (0, 0, NEW_FILE_MODE)
        recorded = (old[0] if uid < 0 else uid, old[1] if gid < 0 else gid, old[2] if mode < 0 else mode)
        try:
            _receive(body, scratch, room + (status.st_size if status and not append else 0), path)
            if append:
                fd = os.open(where.name, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where.parent)
                with open(scratch, "rb") as received, os.fdopen(fd, "ab") as target:
                    shutil.copyfileobj(received, target, CHUNK_SIZE)
                set_owner(where.name, *recorded, dir_fd=where.parent)
            else:
                set_owner(scratch, *recorded)
                os.rename(scratch, where.name, dst_dir_fd=where.parent)
        finally:
            scratch.unlink(missing_ok=True)


def _receive(body, scratch, room, path):
    """Stream ``body`` into ``scratch``, refusing it past ``room`` bytes."""
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, HOST_FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        while chunk := body.read(CHUNK_SIZE):
            room -= len(chunk)
            if room < 0:
                raise _sftp_error("write", path, OSError(errno.EDQUOT, ""))
            file.write(chunk)


@_failures("mkdir")
def make_directory(tree, path, *, uid, gid, mode):
    """Make the directory ``path``; an existing entry of that name is left as it is (as LXD does)."""
    with _resolved(tree, path, "mkdir") as where:
        if where.name is None:
            return
        try:
            where.lstat()
            return
        except FileNotFoundError:
            pass
        os.mkdir(where.name, HOST_DIRECTORY_MODE, dir_fd=where.parent)
        set_owner(where.name, max(uid, 0), max(gid, 0), NEW_DIRECTORY_MODE if mode < 0 else mode, dir_fd=where.parent)


@_failures("symlink")
def make_symlink(tree, path, target):
    """Make the symlink ``path`` to ``target`` (stored as it is: the tree resolves it inside)."""
    with _resolved(tree, path, "symlink", follow=False) as where:
        try:
            if where.name is None:
                raise FileExistsError(errno.EEXIST, "")
            os.symlink(target, where.name, dir_fd=where.parent)
        except FileExistsError as exc:
            raise _sftp_error("symlink", f"{target} {_shown(path)}", exc) from None


@_failures("remove")
def delete(tree, path):
    """Remove a file, a symlink (not what it names) or an empty directory."""
    with _resolved(tree, path, "remove", follow=False) as where:
        if where.name is None:
            raise _sftp_error("remove", path, OSError(errno.EBUSY, ""))
        try:
            status = where.lstat()
        except FileNotFoundError:
            raise NOT_FOUND from None
        try:
            if stat.S_ISDIR(status.st_mode):
                os.rmdir(where.name, dir_fd=where.parent)
            else:
                os.unlink(where.name, dir_fd=where.parent)
        except OSError as exc:
            raise _sftp_error("remove", path, exc) from None


def usage(tree):
    """The bytes the files of ``tree`` hold."""
    total = 0
    for directory, _, files in os.walk(tree):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
