"""``/1.0/instances/NAME/files?path=...``: GET (HEAD), POST and DELETE on the instance's tree,
with LXD 5.0.2's ``X-LXD-*`` headers (``lxc file push/pull/delete/edit``, ``-r``, ``-p``)."""

import io
import os
import re
import time
from email.utils import formatdate

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from rest_framework import exceptions
from rest_framework.decorators import action

from .. import instance_files
from ..config_keys.validators import ConfigError, parse_byte_size
from ..envelope import SyncResponse
from ..images.uploads import lxd_header
from ..instance_files import access
from ..instances import expand_devices
from ..serializers.fields import lxd_error
from ..storage_usage import root_disk
from .conditional import atomic_write

WRITE_MODES = ("overwrite", "append")
FILE_TYPES = ("file", "directory", "symlink")


class FileRefused(exceptions.APIException):
    """A refusal of the files API, with LXD's status and text."""

    def __init__(self, error):
        super().__init__(error.text)
        self.status_code = error.status


def _integer(text, base=10):
    """Go's strconv reading of a sign and ASCII digits in ``base`` (Python's int() also takes
    spaces, underscores and other scripts' digits); None when it is not one."""
    digits = "0-7" if base == 8 else "0-9"
    return int(text, base) if re.fullmatch(f"[+-]?[{digits}]+", text, re.ASCII) else None


def _file_headers(request):
    """uid, gid, mode, type and write mode, as LXD's ParseLXDFileHeaders reads them (-1: unset)."""
    uid = _int64(lxd_header(request, "HTTP_X_LXD_UID"))
    gid = _int64(lxd_header(request, "HTTP_X_LXD_GID"))
    mode = _mode(lxd_header(request, "HTTP_X_LXD_MODE"))
    kind = lxd_header(request, "HTTP_X_LXD_TYPE") or "file"
    write = lxd_header(request, "HTTP_X_LXD_WRITE") or "overwrite"
    return -1 if uid is None else uid, -1 if gid is None else gid, mode, kind, write


def _int64(text):
    """Go's ParseInt(text, 10, 64): None outside int64."""
    value = _integer(text)
    return value if value is not None and -(2**63) <= value < 2**63 else None


def _mode(text):
    """LXD's mode header: unset unless a decimal integer's text, which is then read again with
    Go's base prefixes (``0640`` is octal) and masked to 0777 (an invalid octal stays decimal)."""
    decimal = _integer(text)
    if decimal is None:
        return -1
    digits = text.lstrip("+-")
    prefixed = _integer(text, 8) if digits.startswith("0") else decimal
    return decimal if prefixed is None else prefixed & 0o777


def _entry_headers(entry):
    return {
        "X-LXD-uid": str(entry.uid),
        "X-LXD-gid": str(entry.gid),
        "X-LXD-mode": f"{entry.mode:04o}",
        "X-LXD-type": entry.kind,
        "X-LXD-modified": _go_time(entry.modified),
    }


def _go_time(timestamp):
    """Go's Time.String() of a UTC time, whole seconds (as LXD's SFTP reports them)."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(int(timestamp)))


def _body(request):
    """The raw request body as a stream (lxc pushes files chunked, without Content-Length)."""
    meta = request.META
    if meta.get("CONTENT_LENGTH"):
        return request.stream or io.BytesIO()
    if meta.get("wsgi.input_terminated"):
        return meta["wsgi.input"]
    return io.BytesIO()


def _chunks(file):
    with file:
        while chunk := file.read(access.CHUNK_SIZE):
            yield chunk


class InstanceFilesMixin:
    """The files of an instance (of the request's project)."""

    @action(detail=True, methods=["get", "post", "delete"])
    def files(self, request, *args, **kwargs):
        path = request.query_params.get("path", "")
        if request.method == "POST":
            return self._write_file(request, path)
        if request.method == "DELETE":
            return self._delete_file(request, path)
        instance = self.get_object()
        if not path:
            raise lxd_error("Missing path argument")
        tree = instance_files.ensure_tree(instance)
        try:
            if request.method == "HEAD":
                return self._headers_response(access.stat_entry(tree, path))
            entry, content = access.read(tree, path)
        except access.FileError as exc:
            if request.method == "HEAD":
                return HttpResponse(status=exc.status, content_type="application/json")
            raise FileRefused(exc) from None
        headers = _entry_headers(entry)
        if entry.kind == "directory":
            response = SyncResponse(content)
            for name, value in headers.items():
                response[name] = value
            return response
        name = path.rstrip("/").rpartition("/")[2]
        if isinstance(content, bytes):
            response = HttpResponse(content, content_type="application/octet-stream", headers=headers)
        else:
            response = StreamingHttpResponse(_chunks(content), content_type="application/octet-stream", headers=headers)
            response["Content-Length"] = str(os.fstat(content.fileno()).st_size)
        response["Content-Disposition"] = f"inline;filename={name}"
        response["Accept-Ranges"] = "bytes"
        response["Last-Modified"] = formatdate(entry.modified, usegmt=True)
        return response

    def _headers_response(self, entry):
        return HttpResponse(b"", content_type="application/json", headers=_entry_headers(entry))

    @atomic_write
    def _write_file(self, request, path):
        instance = self.get_object()
        if not path:
            raise lxd_error("Missing path argument")
        uid, gid, mode, kind, write = _file_headers(request)
        if write not in WRITE_MODES:
            raise lxd_error(f"Bad file write mode: {write}")
        if kind not in FILE_TYPES:
            raise lxd_error(f"Bad file type: {kind}")
        tree = instance_files.ensure_tree(instance)
        try:
            if kind == "file":
                room = _capacity(instance) - access.usage(tree)
                body = _body(request)
                append = write == "append"
                scratch = instance_files.scratch_file()
                access.write_file(
                    tree, path, body, uid=uid, gid=gid, mode=mode, append=append, room=room, scratch=scratch
                )
            elif kind == "directory":
                access.make_directory(tree, path, uid=uid, gid=gid, mode=mode)
            else:
                target = _body(request).read(4096).decode("utf-8", "replace")
                access.make_symlink(tree, path, target)
        except access.FileError as exc:
            raise FileRefused(exc) from None
        return SyncResponse({})

    @atomic_write
    def _delete_file(self, request, path):
        instance = self.get_object()
        if not path:
            raise lxd_error("Missing path argument")
        try:
            access.delete(instance_files.ensure_tree(instance), path)
        except access.FileError as exc:
            raise FileRefused(exc) from None
        return SyncResponse({})


def _capacity(instance):
    """The bytes an instance's files may hold: its root disk's ``size``, else the setting."""
    found = root_disk(expand_devices(instance.profile_list(), instance.devices))
    size = found[1].get("size", "") if found else ""
    try:
        return parse_byte_size(size) if size else settings.LXDSITE_INSTANCE_FILES_MAX
    except ConfigError:
        return settings.LXDSITE_INSTANCE_FILES_MAX
