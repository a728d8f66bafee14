"""Compression formats told apart by their first bytes, as LXD does, and tarballs decompressed as a stream."""

import bz2
import contextlib
import io
import lzma
import shutil
import subprocess
import zlib
from dataclasses import dataclass

from .errors import ImageError
from .files import CHUNK_SIZE


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
