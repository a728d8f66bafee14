"""Image files: uploads streamed to disk, LXD's fingerprints and metadata.yaml, exports.

An upload never sits in memory: each part is written in chunks to a temporary file in the
images directory while it is hashed, and renamed to ``<fingerprint>`` (and
``<fingerprint>.rootfs`` for a split image) only when the image row commits. Whatever fails
removes the temporary files, so a refused or interrupted upload leaves no file and no row.
Errors carry LXD 5.0.2's texts, which its failed operations show.
"""

import bz2
import contextlib
import datetime
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import yaml
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from .architectures import architecture_name
from .exceptions import NotImplementedMethod
from .lxd_filter import Kind, column, filter_queryset
from .models import Image, ImageAlias, ImageProfile, Profile
from .operations import finished_operation

CHUNK_SIZE = 1 << 20
# metadata.yaml is a few lines; a bigger one is not an image.
METADATA_LIMIT = 16 << 20


class ImageError(Exception):
    """An upload LXD refuses; the message is LXD's ``err`` text for the failed operation."""

    def __init__(self, message, metadata=None):
        super().__init__(message)
        # What the operation shows of the upload when LXD had got that far (fingerprint, size).
        self.metadata = metadata


@dataclass(frozen=True)
class Compression:
    """A file format LXD recognises by its first bytes, and the extension LXD exports it with."""

    name: str
    extension: str
    tar_mode: str | None


def _is_tar(header):
    return header[257:262] == b"ustar"


# LXD's archive.DetectCompressionFile, in its order.
_FORMATS = [
    (lambda h: h[:2] == b"BZ", Compression("bzip2", ".tar.bz2", "r|bz2")),
    (lambda h: h[:2] == b"\x1f\x8b", Compression("gzip", ".tar.gz", "r|gz")),
    (lambda h: h[1:5] == b"7zXZ" and h[:1] == b"\xfd", Compression("xz", ".tar.xz", "r|xz")),
    (lambda h: h[1:5] == b"7zXZ" or h[:3] == b"\x5d\x00\x00", Compression("lzma", ".tar.lzma", "r|xz")),
    (_is_tar, Compression("tar", ".tar", "r|")),
    (lambda h: h[:4] == b"hsqs", Compression("squashfs", ".squashfs", None)),
    (lambda h: h[:3] == b"QFI", Compression("qcow2", ".qcow2", None)),
    (lambda h: h[:4] == b"\x28\xb5\x2f\xfd", Compression("zstd", ".tar.zst", "r|")),
]


def detect_compression(path):
    """The format of a file by its first bytes, as LXD tells them apart."""
    with open(path, "rb") as file:
        header = file.read(262)
    if not header:
        raise ImageError("EOF")
    for test, compression in _FORMATS:
        if test(header):
            return compression
    raise ImageError("Unsupported compression")


class _Gunzip:
    """zlib's gzip decompressor with the interface of bz2's and lzma's (``max_length``, ``needs_input``)."""

    def __init__(self):
        self._zlib = zlib.decompressobj(wbits=31)
        self._tail = b""

    def decompress(self, data, max_length):
        data = self._tail + data
        out = self._zlib.decompress(data, max_length)
        self._tail = self._zlib.unconsumed_tail
        return out

    @property
    def needs_input(self):
        return not self._tail

    @property
    def eof(self):
        return self._zlib.eof

    @property
    def unused_data(self):
        return self._zlib.unused_data


_DECOMPRESSORS = {
    "gzip": _Gunzip,
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
    "lzma": lzma.LZMADecompressor,
}


class _PipeReader(io.RawIOBase):
    """Decompressed bytes that simply end where the data stops making sense.

    LXD reads a tarball through ``gzip -d`` (or xz, bzip2, zstd) piped into Go's tar reader,
    which sees a cut or corrupt file as a stream that ends after everything decodable.
    Output is produced a chunk at a time, so a compression bomb never fills memory.
    ``total`` counts the bytes produced.
    """

    def __init__(self, file, decompressor=None):
        super().__init__()
        self.file = file
        self.new_decompressor = decompressor
        self.decompressor = decompressor() if decompressor else None
        self.total = 0
        self.broken = False

    def readable(self):
        return True

    def _decompress(self, size):
        """(some output, whether more may follow)."""
        if self.decompressor.eof:
            # Concatenated streams (pigz, pbzip2) decode one after the other.
            rest = self.decompressor.unused_data or self.file.read(CHUNK_SIZE)
            if not rest:
                return b"", False
            self.decompressor = self.new_decompressor()
            return self.decompressor.decompress(rest, size), True
        chunk = b""
        if self.decompressor.needs_input:
            chunk = self.file.read(CHUNK_SIZE)
            if not chunk:
                return b"", False
        return self.decompressor.decompress(chunk, size), True

    def readinto(self, buffer):
        if self.decompressor is None:
            out = self.file.read(len(buffer))
        else:
            out, more = b"", True
            while not out and more and not self.broken:
                try:
                    out, more = self._decompress(len(buffer))
                except (EOFError, OSError, zlib.error, lzma.LZMAError):
                    self.broken = True
        buffer[: len(out)] = out
        self.total += len(out)
        return len(out)


@contextlib.contextmanager
def _decompressed(path, compression):
    """The tarball inside ``path`` as a ``_PipeReader``; zstd goes through the zstd command, as in LXD."""
    with open(path, "rb") as file:
        if compression.name != "zstd":
            yield _PipeReader(file, _DECOMPRESSORS.get(compression.name))
            return
        if shutil.which("zstd") is None:
            raise ImageError("Unsupported compression: zstd images need the zstd command")
        process = subprocess.Popen(
            ["zstd", "-d", "-c", "-q"], stdin=file, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        try:
            yield _PipeReader(process.stdout)
        finally:
            process.stdout.close()
            process.kill()
            process.wait()


def _member_name(member):
    return member.name.removeprefix("./").rstrip("/")


def _data_end(member):
    """Where a member's data ends in the tar stream (data fills whole 512-byte blocks)."""
    return member.offset_data + -(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def scan_tarball(path, *, unified):
    """metadata.yaml's bytes and the instance type (None if no rootfs) of a tarball, read as one stream.

    It stops, as LXD does, once it has both. A stream that ends inside a header or a
    member's data is Go's ``unexpected EOF`` (inside metadata.yaml, Go yaml's version of it);
    one that ends cleanly between members is just the end of the archive.
    """
    compression = detect_compression(path)
    if compression.tar_mode is None:
        raise ImageError("Metadata tarball is missing metadata.yaml")
    with _decompressed(path, compression) as stream:
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                metadata, instance_type, end = _walk(tar, unified=unified)
        except tarfile.ReadError as exc:
            if stream.total:
                raise ImageError("unexpected EOF") from exc
            # Nothing at all: an empty archive.
            metadata = instance_type = end = None
        if end is not None and (stream.total % tarfile.BLOCKSIZE or stream.total < end):
            raise ImageError("unexpected EOF")
    if metadata is None:
        raise ImageError("Metadata tarball is missing metadata.yaml")
    return metadata, instance_type


def _walk(tar, *, unified):
    """(metadata.yaml, instance type, end of the last member's data, or None if it stopped early)."""
    metadata = instance_type = None
    end = 0
    for member in tar:
        end = _data_end(member)
        name = _member_name(member)
        if name == "metadata.yaml" and member.isfile():
            metadata = _read_metadata(tar, member)
        elif name.startswith("rootfs/") or (name == "rootfs" and member.isdir()):
            instance_type = "container"
        elif name == "rootfs.img":
            instance_type = "virtual-machine"
        if metadata is not None and (instance_type or not unified):
            return metadata, instance_type, None
    return metadata, instance_type, end


def _read_metadata(tar, member):
    """The bytes of metadata.yaml; a read cut short is Go yaml's EOF error, as LXD reports it."""
    if member.size > METADATA_LIMIT:
        raise ImageError("metadata.yaml is too large")
    try:
        data = tar.extractfile(member).read()
    except tarfile.ReadError:
        data = b""
    if len(data) < member.size:
        raise ImageError("yaml: input error: unexpected EOF")
    return data


def _go_string(value):
    """A YAML scalar as Go's yaml decodes it into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timestamp(value):
    """A Unix time from metadata.yaml; absent is the epoch, as LXD stores it."""
    try:
        return datetime.datetime.fromtimestamp(int(value or 0), tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ImageError(f"yaml: unmarshal errors: cannot unmarshal {value!r} into int64") from exc


@dataclass
class ImageMetadata:
    """What LXD takes from metadata.yaml."""

    architecture: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    properties: dict


def parse_metadata(raw):
    """metadata.yaml, checked as LXD checks it."""
    try:
        document = yaml.safe_load(raw) or {}
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ImageError(f"yaml: line {line}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ImageError(f"yaml: {exc}") from exc
    if not isinstance(document, dict):
        raise ImageError("yaml: unmarshal errors: metadata.yaml is not a map")
    architecture = _go_string(document.get("architecture"))
    if architecture_name(architecture) is None:
        raise ImageError(f"Architecture isn't supported: {architecture}")
    if not document.get("creation_date"):
        raise ImageError("Missing creation date")
    properties = document.get("properties") or {}
    if not isinstance(properties, dict):
        raise ImageError("yaml: unmarshal errors: properties is not a map")
    return ImageMetadata(
        architecture=architecture_name(architecture),
        created_at=_timestamp(document.get("creation_date")),
        expires_at=_timestamp(document.get("expiry_date")),
        properties={str(key): _go_string(value) for key, value in properties.items()},
    )


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
        path = self.directory / f".upload-{uuid.uuid4().hex}"
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

        A server killed between the commit and ``install`` leaves the pending files, which
        ``remove_stale_uploads`` installs at the next start when their row committed.
        """
        self.targets = targets
        for received, target in zip(self.files.values(), targets, strict=True):
            pending = target.with_name(PENDING_PREFIX + target.name)
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


def _body_stream(request):
    """The raw request body, read as it arrives.

    lxc sends uploads chunked, without Content-Length; Django's request stream then reads
    nothing, so read gunicorn's WSGI input, which ends where the chunked body ends.
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
            received = upload.open("metadata", request.META.get("HTTP_X_LXD_FILENAME", ""))
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


def upload_properties(request):
    """``X-LXD-properties``: URL-encoded ``key=value`` pairs laid over metadata.yaml's."""
    return dict(parse_qsl(request.META.get("HTTP_X_LXD_PROPERTIES", ""), keep_blank_values=True))


def upload_aliases(request):
    """``X-LXD-aliases``: ``name=NAME&description=TEXT`` or a bare name, comma-separated when folded."""
    value = request.META.get("HTTP_X_LXD_ALIASES", "")
    aliases = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        fields = dict(parse_qsl(item, keep_blank_values=True)) if "=" in item else {"name": item}
        if fields.get("name"):
            aliases.append((fields["name"], fields.get("description", "")))
    return aliases


def go_parse_bool(value):
    """Go's strconv.ParseBool, as LXD reads ``X-LXD-public``; anything else is false."""
    return value in ("1", "t", "T", "TRUE", "true", "True")


def _extension(path):
    with contextlib.suppress(ImageError):
        return detect_compression(path).extension
    return ""


def export_files(image):
    """(part name, download name, path) of each file ``lxc image export`` writes."""
    if not image.split:
        return [("metadata", f"{image.fingerprint}{_extension(image.path)}", image.path)]
    rootfs_extension = ".img" if image.type == "virtual-machine" else _extension(image.rootfs_path)
    return [
        ("metadata", f"meta-{image.fingerprint}{_extension(image.path)}", image.path),
        ("rootfs", f"{image.fingerprint}{rootfs_extension}", image.rootfs_path),
    ]


def _chunks(path):
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            yield chunk


def _multipart(parts, boundary):
    for name, filename, path in parts:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        yield from _chunks(path)
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def export_response(image):
    """The image's file as LXD sends it: the file itself, or a multipart of a split image's two files."""
    parts = export_files(image)
    if len(parts) == 1:
        _, filename, path = parts[0]
        response = StreamingHttpResponse(_chunks(path), content_type="application/octet-stream")
        response["Content-Length"] = str(path.stat().st_size)
        response["Content-Disposition"] = f"inline;filename={filename}"
        return response
    boundary = uuid.uuid4().hex + uuid.uuid4().hex
    return StreamingHttpResponse(_multipart(parts, boundary), content_type=f"multipart/form-data; boundary={boundary}")


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


# Files of an image whose row is being committed: ``.pending-<fingerprint>[.rootfs]``.
PENDING_PREFIX = ".pending-"


def remove_files(paths):
    """Remove an image's files (after its row is deleted)."""
    for path in paths:
        Path(path).unlink(missing_ok=True)


# What a full image answer shows besides its own row: its profiles in order, its aliases by age.
IMAGE_PREFETCH = [
    Prefetch("profile_links", queryset=ImageProfile.objects.select_related("profile")),
    Prefetch("aliases", queryset=ImageAlias.objects.order_by("id")),
]


def _split_parts(upload):
    """The rootfs part of a split upload and the type its part name gives; (None, None) if unified."""
    names = list(upload.files)
    if names == ["metadata"]:
        return None, None
    if names == ["metadata", "rootfs"]:
        return upload.files["rootfs"], Image.CONTAINER
    if names == ["metadata", "rootfs.img"]:
        return upload.files["rootfs.img"], Image.VIRTUAL_MACHINE
    raise ImageError("Invalid multipart image: expected a metadata part, then a rootfs part")


def _new_image(request, upload):
    """The image row an upload makes, checked as LXD checks it (ImageError with LXD's text)."""
    fingerprint = upload.fingerprint
    expected = request.META.get("HTTP_X_LXD_FINGERPRINT", "")
    if expected and expected != fingerprint:
        raise ImageError(f"fingerprints don't match, got {fingerprint} expected {expected}")
    rootfs, rootfs_type = _split_parts(upload)
    metadata_file = upload.files["metadata"]
    raw, instance_type = scan_tarball(metadata_file.path, unified=rootfs is None)
    metadata = parse_metadata(raw)
    if not (rootfs_type or instance_type):
        raise ImageError("Invalid instance type")
    return Image(
        fingerprint=fingerprint,
        # LXD names a split image after its rootfs file.
        filename=(rootfs or metadata_file).filename,
        size=upload.size,
        architecture=metadata.architecture,
        type=rootfs_type or instance_type,
        split=rootfs is not None,
        public=go_parse_bool(request.META.get("HTTP_X_LXD_PUBLIC", "")),
        properties={**metadata.properties, **upload_properties(request)},
        expires_at=metadata.expires_at,
        created_at=metadata.created_at,
    )


def _store(image, aliases, upload, operation_metadata):
    """Write the image, its default profile and aliases in one transaction; the files follow its commit."""
    duplicate = ImageError("Image with same fingerprint already exists", metadata=operation_metadata)
    try:
        with transaction.atomic():
            if Image.objects.filter(fingerprint=image.fingerprint).exists():
                raise duplicate
            image.save()
            ImageProfile.objects.create(image=image, profile=Profile.objects.get(name=Profile.DEFAULT_NAME))
            for name, description in aliases:
                if ImageAlias.objects.filter(name=name).exists():
                    raise ImageError(f"Alias {json.dumps(name)} already exists", metadata=operation_metadata)
                ImageAlias.objects.create(name=name, description=description, image=image)
            operation = finished_operation("Downloading image", metadata=operation_metadata)
            # Staged before the commit, installed after it: a kill in between is finished at the next start.
            upload.stage(*image.files())
            transaction.on_commit(upload.install)
    except IntegrityError as exc:
        # Another upload of the same file committed first.
        raise duplicate from exc
    return operation


def import_image(request):
    """``POST /1.0/images``: store an uploaded image and return the ended operation that reports it."""
    if request.META.get("CONTENT_TYPE", "").startswith("application/json"):
        raise NotImplementedMethod("Only image file uploads are supported, not image sources")
    try:
        upload = receive_upload(request)
    except ImageError as exc:
        return finished_operation("Downloading image", err=str(exc))
    try:
        image = _new_image(request, upload)
        operation_metadata = {"fingerprint": image.fingerprint, "size": str(image.size)}
        return _store(image, upload_aliases(request), upload, operation_metadata)
    except ImageError as exc:
        upload.discard()
        return finished_operation("Downloading image", err=str(exc), metadata=exc.metadata)
    except BaseException:
        upload.discard()
        raise


# The fields of LXD's api.Image a filter can name.
IMAGE_FILTER_FIELDS = {
    "auto_update": column(Kind.FLAG, "auto_update"),
    "properties": column(Kind.TEXT_MAP, "properties"),
    "public": column(Kind.FLAG, "public"),
    "architecture": column(Kind.TEXT, "architecture"),
    "cached": column(Kind.FLAG, "cached"),
    "filename": column(Kind.TEXT, "filename"),
    "fingerprint": column(Kind.TEXT, "fingerprint"),
    "size": column(Kind.NUMBER, "size"),
    "type": column(Kind.TEXT, "type"),
}


def filter_images(queryset, expression):
    """Narrow images by LXD's ``filter=`` (``properties.os eq tinyos and public eq true``); empty is no filter."""
    return filter_queryset(queryset, expression, IMAGE_FILTER_FIELDS)
