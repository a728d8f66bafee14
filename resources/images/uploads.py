"""An upload's files streamed to temporary files while hashed, then staged and installed."""

import hashlib
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from .errors import ImageError
from .files import CHUNK_SIZE, PENDING_PREFIX, UPLOAD_PREFIX, owned_name


@dataclass
class ReceivedFile:
    """One uploaded file under its temporary name, open for writing until the upload ends."""

    path: Path
    filename: str
    file: object = field(repr=False, default=None)
    size: int = 0


@dataclass
class ImageUpload:
    """The files of one upload, hashed in the order they arrive (metadata, then rootfs)."""

    directory: Path
    sha256: object = field(default_factory=hashlib.sha256)
    files: dict = field(default_factory=dict)
    # The final names, once staged.
    targets: tuple = ()

    def open(self, part, filename):
        """Start a file: a temporary name in the images directory, so the final rename is atomic."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / owned_name(UPLOAD_PREFIX, uuid.uuid4().hex)
        received = ReceivedFile(
            path, filename, os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        )
        self.files[part] = received
        return received

    def write(self, received, chunk):
        received.file.write(chunk)
        self.sha256.update(chunk)
        received.size += len(chunk)

    def close(self):
        """Flush every file to disk: the upload is complete."""
        for received in self.files.values():
            received.file.close()

    @property
    def fingerprint(self):
        return self.sha256.hexdigest()

    @property
    def size(self):
        return sum(received.size for received in self.files.values())

    def discard(self):
        """Remove every temporary file."""
        for received in self.files.values():
            received.file.close()
            received.path.unlink(missing_ok=True)

    def stage(self, *targets):
        """Rename the files to ``.pending-<final name>``, inside the transaction that writes the row.

        A worker killed between the commit and ``install`` leaves the pending files, which
        ``recover_uploads`` installs when the worker's death is noticed, if their row committed.
        """
        self.targets = targets
        for received, target in zip(self.files.values(), targets, strict=True):
            pending = target.with_name(owned_name(PENDING_PREFIX, target.name))
            os.replace(received.path, pending)
            received.path = pending

    def install(self):
        """Rename the staged files to their final names (once the image row has committed)."""
        for received, target in zip(self.files.values(), self.targets, strict=True):
            os.replace(received.path, target)


class _UploadPartHandler(FileUploadHandler):
    """Django upload handler writing each multipart file straight into an ``ImageUpload``."""

    def __init__(self, upload):
        super().__init__()
        self.upload = upload
        self.current = None

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.current = self.upload.open(field_name, file_name)

    def receive_data_chunk(self, raw_data, start):
        self.upload.write(self.current, raw_data)

    def file_complete(self, file_size):
        return self.current


def lxd_header(request, name):
    """An ``X-LXD-*`` header as LXD reads it: its bytes as UTF-8 (WSGI hands them over as Latin-1)."""
    return request.META.get(name, "").encode("latin-1", "replace").decode("utf-8", "replace")


def _body_stream(request):
    """The raw request body, read as it arrives.

    lxc sends uploads chunked, without Content-Length; Django's request stream then reads
    nothing, so read the server's WSGI input, which ends where the chunked body ends.
    """
    meta = request.META
    if meta.get("CONTENT_LENGTH"):
        # DRF's view of the body; None when Content-Length is 0.
        stream = request.stream
    elif meta.get("wsgi.input_terminated"):
        stream = meta["wsgi.input"]
    else:
        stream = None
    if stream is None:
        raise ImageError("EOF")
    return stream


def receive_upload(request):
    """Stream the body of ``POST /1.0/images`` to temporary files: one file, or a multipart split image."""
    upload = ImageUpload(settings.LXDSITE_IMAGES_DIR)
    try:
        stream = _body_stream(request)
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            meta = {**request.META, "CONTENT_LENGTH": request.META.get("CONTENT_LENGTH") or str(sys.maxsize)}
            try:
                MultiPartParser(meta, stream, [_UploadPartHandler(upload)]).parse()
            except MultiPartParserError as exc:
                raise ImageError(f"Invalid multipart image upload: {exc}") from exc
            if "metadata" not in upload.files:
                raise ImageError("Invalid multipart image upload: no metadata part")
        else:
            received = upload.open("metadata", lxd_header(request, "HTTP_X_LXD_FILENAME"))
            while chunk := stream.read(CHUNK_SIZE):
                upload.write(received, chunk)
            expected = request.META.get("CONTENT_LENGTH")
            if expected and int(expected) != received.size:
                raise ImageError("Upload interrupted")
        upload.close()
    except BaseException:
        upload.discard()
        raise
    return upload
