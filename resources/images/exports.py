"""``GET /1.0/images/<fingerprint>/export``: an image's files named and sent as LXD sends them."""

import contextlib
import uuid

from django.http import StreamingHttpResponse

from .compression import detect_compression
from .errors import ImageError
from .files import CHUNK_SIZE


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
