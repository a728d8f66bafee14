"""Small real LXD image files, built the way image builders make them (tar + a compressor).

They also serve scripts (``bench/workloads.py``).
"""

import hashlib
import io
import subprocess
import tarfile
import uuid

METADATA = (
    "architecture: x86_64\n"
    "creation_date: 1700000000\n"
    "properties:\n"
    "  description: tiny test image\n"
    "  os: tinyos\n"
    '  release: "1"\n'
    "templates: {}\n"
)


def _add(tar, name, data=None):
    """Add a file (bytes) or, with ``data`` None, a directory."""
    info = tarfile.TarInfo(name)
    info.mtime = 1700000000
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    else:
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))


def tarball(files, compression="gz"):
    """A tar archive of ``{name: bytes or None for a directory}``, compressed with gz, bz2, xz, zst or ''."""
    buffer = io.BytesIO()
    mode = "w" if compression in ("", "zst") else f"w:{compression}"
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            _add(tar, name, data)
    raw = buffer.getvalue()
    if compression == "zst":
        raw = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    return raw


def unified_image(metadata=METADATA, compression="gz", marker=None):
    """A unified image: metadata.yaml and rootfs/; ``marker`` makes the fingerprint unique."""
    marker = marker or uuid.uuid4().hex
    return tarball(
        {
            "metadata.yaml": metadata.encode(),
            "rootfs": None,
            "rootfs/etc": None,
            "rootfs/etc/hostname": marker.encode(),
        },
        compression,
    )


def split_image(metadata=METADATA, marker=None):
    """A split image: (metadata tarball, rootfs tarball)."""
    marker = marker or uuid.uuid4().hex
    meta = tarball({"metadata.yaml": metadata.encode()})
    rootfs = tarball({"etc": None, "etc/hostname": marker.encode()}, "")
    return meta, rootfs


def sha256(*parts):
    """LXD's fingerprint: SHA-256 of the file, or of metadata then rootfs."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def multipart(parts, boundary="lxdsiteboundary0123456789"):
    """A multipart/form-data body as lxc's Go client writes it: (content type, body)."""
    body = b""
    for name, filename, data in parts:
        body += (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body
