"""``GET /1.0/images/<fingerprint>/export``: an image's files named and sent as LXD sends them."""

import contextlib
import logging
import uuid

from django.http import StreamingHttpResponse
from rest_framework.exceptions import NotFound

from .compression import detect_compression
from .errors import ImageError
from .files import CHUNK_SIZE

logger = logging.getLogger(__name__)


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


def _check_present(image):
    """Refuse an export whose file is gone (removed or damaged outside lxdsite), before any byte is sent.

    LXD answers 500 with the failed open's text; the image exists but its file is not found:
    404 with that text, and the server's log names the damage.
    """
    for path in image.files():
        if not path.is_file():
            logger.error("Image file missing: %s (the image's row exists; re-upload or delete the image)", path)
            raise NotFound(f"open {path}: no such file or directory")


def export_response(image):
    """The image's file as LXD sends it: the file itself, or a multipart of a split image's two files."""
    _check_present(image)
    parts = export_files(image)
    if len(parts) == 1:
        _, filename, path = parts[0]
        response = StreamingHttpResponse(_chunks(path), content_type="application/octet-stream")
        response["Content-Length"] = str(path.stat().st_size)
        response["Content-Disposition"] = f"inline;filename={filename}"
        return response
    boundary = uuid.uuid4().hex + uuid.uuid4().hex
    return StreamingHttpResponse(_multipart(parts, boundary), content_type=f"multipart/form-data; boundary={boundary}")
