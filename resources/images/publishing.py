"""``POST /1.0/images`` with ``source.type: instance`` or ``snapshot`` (``lxc publish``): a
unified image tarball built from the instance's files, stored like any upload.

The tarball holds metadata.yaml (the instance's metadata, with the request's properties and
expiry laid over it, as LXD writes it), ``rootfs/`` (the tree, with the owners and modes the
instance sees) and ``templates/`` (the instance's template files). Its members are written in
a fixed order with the files' own times and compressed without a timestamp, so publishing an
unchanged instance again gives the same fingerprint (LXD then answers "The image already
exists"). The file is hashed as it is written (``ImageUpload``) and stored as uploads are.
"""

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

from ..config_keys import ConfigError
from ..config_keys.server import is_compression_algorithm
from ..go import GO_ZERO_TIME
from ..instance_files import ensure_tree
from ..instance_files.metadata import owner
from ..models import Image, Instance, Server
from ..operations import finished_operation
from ..serializers.fields import TimeField
from .errors import ImageError
from .importing import _store, upload_aliases_from
from .uploads import ImageUpload

DESCRIPTION = "Downloading image"
INSTANCE_TYPES = ("instance", "container", "virtual-machine")
# LXD's compressors lxdsite runs in-process (closed by _write_tarball); the others are refused
# in the operation.
_COMPRESSORS = {
    "none": lambda raw: raw,
    "gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="wb", mtime=0),
    "pigz": lambda raw: gzip.GzipFile(fileobj=raw, mode="wb", mtime=0),
    "bzip2": lambda raw: bz2.BZ2File(raw, mode="wb"),
    "xz": lambda raw: lzma.LZMAFile(raw, mode="wb", format=lzma.FORMAT_XZ),  # noqa: SIM115
    "lzma": lambda raw: lzma.LZMAFile(raw, mode="wb", format=lzma.FORMAT_ALONE),  # noqa: SIM115
}


def is_publish(data):
    """Whether a JSON ``POST /1.0/images`` asks to publish an instance or a snapshot."""
    source = data.get("source") if isinstance(data, dict) else None
    return isinstance(source, dict) and source.get("type") in (*INSTANCE_TYPES, "snapshot")


def publish_image(data, project):
    """Publish what ``data["source"]`` names in ``project``; the ended operation."""
    algorithm = _compression(data, project)
    source = data["source"]
    name = source.get("name")
    if not isinstance(name, str) or not name:
        return finished_operation(DESCRIPTION, err="No source provided", project_id=project.pk)
    if source["type"] == "snapshot" and "/" not in name:
        return finished_operation(DESCRIPTION, err="Not a snapshot", project_id=project.pk)
    row = _source_row(project, name)
    instance = getattr(row, "instance", row)
    if row is instance and instance.status != Instance.STOPPED:
        err = "Cannot export a running instance as an image"
        return finished_operation(DESCRIPTION, err=err, project_id=project.pk)
    if algorithm not in _COMPRESSORS:
        err = f"lxdsite cannot compress images with {algorithm}"
        return finished_operation(DESCRIPTION, err=err, project_id=project.pk)
    try:
        aliases = upload_aliases_from(data.get("aliases"))
        metadata = _image_metadata(instance, data)
    except ImageError as exc:
        return finished_operation(DESCRIPTION, err=str(exc), project_id=project.pk)
    upload = ImageUpload(settings.LXDSITE_IMAGES_DIR)
    try:
        with transaction.atomic():
            # The instance's row lock: no file write (which takes it too) changes the tree while it is read.
            Instance.objects.select_for_update().filter(pk=instance.pk).first()
            return _publish(data, project, row, instance, algorithm, aliases, metadata, upload)
    except ImageError as exc:
        upload.discard()
        return finished_operation(DESCRIPTION, err=str(exc), metadata=exc.metadata, project_id=project.pk)
    except BaseException:
        upload.discard()
        raise


def _publish(data, project, row, instance, algorithm, aliases, metadata, upload):
    """Write the tarball through ``upload`` and store the image; the ended operation."""
    received = upload.open("metadata", "")
    _write_tarball(upload, received, algorithm, metadata, ensure_tree(row), instance)
    upload.close()
    image = Image(
        project=project,
        fingerprint=upload.fingerprint,
        size=upload.size,
        architecture=instance.architecture,
        type=instance.type,
        public=data.get("public") is True,
        properties=metadata["properties"],
        expires_at=_expiry(data) or GO_ZERO_TIME,
        created_at=timezone.now(),
    )
    operation_metadata = {"fingerprint": image.fingerprint, "size": str(image.size)}
    if Image.objects.filter(project=project, fingerprint=image.fingerprint).exists():
        raise ImageError(f"The image already exists: {image.fingerprint}", metadata=operation_metadata)
    return _store(image, aliases, upload, operation_metadata)


def _compression(data, project):
    """The compression the request asks for (else the project's, the server's, gzip); LXD's 400 for a bad name."""
    algorithm = data.get("compression_algorithm")
    if not algorithm:
        server = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
        algorithm = (
            project.config.get("images.compression_algorithm") or server.get("images.compression_algorithm") or "gzip"
        )
    if not isinstance(algorithm, str):
        raise exceptions.ParseError("json: cannot unmarshal into Go struct field of type string")
    try:
        is_compression_algorithm(algorithm)
    except ConfigError as exc:
        raise exceptions.ParseError(str(exc)) from None
    return algorithm.split()[0] if algorithm.split() else algorithm


def _source_row(project, name):
    """The instance, or the snapshot ``INSTANCE/SNAP``; LXD's 404 for either missing."""
    instance_name, _, snapshot_name = name.partition("/")
    instance = Instance.objects.filter(project=project, name=instance_name).first()
    if instance is None:
        raise exceptions.NotFound("Instance not found")
    if not snapshot_name:
        return instance
    snapshot = instance.snapshots.filter(name=snapshot_name).first()
    if snapshot is None:
        raise exceptions.NotFound("Instance not found")
    return snapshot


def _expiry(data):
    """The request's ``expires_at``, or None for never."""
    value = data.get("expires_at")
    if not value:
        return None
    try:
        expiry = TimeField().to_internal_value(value)
    except Exception as exc:
        raise exceptions.ParseError(f"Invalid expires_at: {value}") from exc
    # lxc sends Go's zero time for "never".
    return None if expiry == GO_ZERO_TIME else expiry


def _image_metadata(instance, data):
    """metadata.yaml's fields: the instance's metadata, the request's properties and expiry over it."""
    current = instance.metadata or {}
    properties = data.get("properties")
    if properties is not None and not (
        isinstance(properties, dict) and all(isinstance(v, str) for v in properties.values())
    ):
        raise ImageError("json: cannot unmarshal properties into Go struct field of type map[string]string")
    metadata = {
        "architecture": current.get("architecture") or instance.architecture,
        "creation_date": current.get("creation_date") or int(timezone.now().timestamp()),
        "expiry_date": current.get("expiry_date", 0),
        "properties": dict(properties) if properties else dict(current.get("properties") or {}),
        "templates": current.get("templates") or {},
    }
    expiry = _expiry(data)
    if expiry is not None:
        metadata["expiry_date"] = int(expiry.timestamp())
    return metadata


def _metadata_yaml(metadata):
    """metadata.yaml as LXD marshals api.ImageMetadata (its field order)."""
    document = {
        "architecture": metadata["architecture"],
        "creation_date": metadata["creation_date"],
        "expiry_date": metadata["expiry_date"],
        "properties": metadata["properties"],
        "templates": {
            path: {
                "when": list(entry.get("when") or []),
                "create_only": bool(entry.get("create_only", False)),
                "template": entry.get("template", ""),
                "properties": dict(entry.get("properties") or {}),
            }
            for path, entry in metadata["templates"].items()
        },
    }
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).encode()


class _HashedWriter(io.RawIOBase):
    """The upload's file as a writable stream: every byte hashed as it is written."""

    def __init__(self, upload, received):
        self.upload = upload
        self.received = received

    def writable(self):
        return True

    def write(self, data):
        self.upload.write(self.received, bytes(data))
        return len(data)


def _write_tarball(upload, received, algorithm, metadata, tree, instance):
    raw = _HashedWriter(upload, received)
    compressed = _COMPRESSORS[algorithm](raw)
    try:
        with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "metadata.yaml", _metadata_yaml(metadata), metadata["creation_date"])
            _add_tree(tar, tree)
            templates = list(instance.templates.order_by("name"))
            if templates:
                tar.addfile(_info("templates", tarfile.DIRTYPE, 0o711, metadata["creation_date"]))
                for template in templates:
                    _add_bytes(tar, f"templates/{template.name}", bytes(template.content), metadata["creation_date"])
    finally:
        if compressed is not raw:
            compressed.close()


def _info(name, kind, mode, mtime, uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, int(mtime), uid, gid
    info.uname = info.gname = "root" if uid == 0 else ""
    return info


def _add_bytes(tar, name, data, mtime):
    info = _info(name, tarfile.REGTYPE, 0o644, mtime)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_tree(tar, tree):
    """``rootfs/`` and everything under it, sorted, links as links, never following one."""
    for directory, names, files in _walk(tree):
        relative = os.path.relpath(directory, tree)
        prefix = "rootfs" if relative == "." else f"rootfs/{relative}"
        _add_entry(tar, prefix, directory)
        for name in files:
            _add_entry(tar, f"{prefix}/{name}", os.path.join(directory, name))
        del names


def _walk(tree):
    for directory, names, files in os.walk(tree, followlinks=False):
        names.sort()
        # Symlinks to directories are listed with the directories: add them as links.
        links = sorted(name for name in names if os.path.islink(os.path.join(directory, name)))
        names[:] = [name for name in names if name not in links]
        yield directory, names, sorted(files + links)


def _add_entry(tar, name, path):
    status = os.lstat(path)
    uid, gid, mode = owner(path, status)
    if stat.S_ISLNK(status.st_mode):
        info = _info(name, tarfile.SYMTYPE, 0o777, status.st_mtime)
        info.linkname = os.readlink(path)
        tar.addfile(info)
    elif stat.S_ISDIR(status.st_mode):
        tar.addfile(_info(name, tarfile.DIRTYPE, mode, status.st_mtime, uid, gid))
    elif stat.S_ISREG(status.st_mode):
        info = _info(name, tarfile.REGTYPE, mode, status.st_mtime, uid, gid)
        info.size = status.st_size
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            tar.addfile(info, file)
