"""An image tarball scanned as one stream for metadata.yaml and the instance type."""

import tarfile

from .compression import _decompressed, detect_compression
from .errors import ImageError

# metadata.yaml is a few lines; a bigger one is not an image.
METADATA_LIMIT = 16 << 20
# Go's tar reader refuses a special header (a GNU long name or link, a PAX header) over 1 MiB.
SPECIAL_HEADER_LIMIT = 1 << 20
_SPECIAL_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE)
# What the special headers before one member may read in all: a few, each within the limit.
_CHAIN_LIMIT = 4 * SPECIAL_HEADER_LIMIT
_TOO_LONG = "archive/tar: header field too long"


class _BoundedReads:
    """The tar stream while one member's special headers are read: refuses to read past ``left`` bytes."""

    def __init__(self, stream, left):
        self.stream = stream
        self.left = left

    def read(self, size=-1):
        if size < 0 or size > self.left:
            raise ImageError(_TOO_LONG)
        self.left -= size
        return self.stream.read(size)

    def __getattr__(self, name):
        return getattr(self.stream, name)


class _GoTarInfo(tarfile.TarInfo):
    """A tar member whose special headers are read within Go's limit.

    Python's tarfile reads a special header's data into memory whole, whatever size its header
    claims, and keeps a chain of them (and an old GNU sparse map) in memory at once. It has no
    public hook for this, so the member's processing is wrapped.
    """

    def _proc_member(self, tar):
        if self.type in _SPECIAL_TYPES and self.size > SPECIAL_HEADER_LIMIT:
            raise ImageError(_TOO_LONG)
        if self.type not in (*_SPECIAL_TYPES, tarfile.GNUTYPE_SPARSE) or isinstance(tar.fileobj, _BoundedReads):
            return super()._proc_member(tar)
        stream = tar.fileobj
        tar.fileobj = _BoundedReads(stream, _CHAIN_LIMIT)
        try:
            return super()._proc_member(tar)
        finally:
            tar.fileobj = stream


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
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_GoTarInfo) as tar:
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
