"""``lxc import``: ``POST /1.0/instances`` with a backup tarball as the body (``application/octet-stream``).

The tarball is received into a scratch file beside the instance trees; its ``backup/index.yaml``
names the instance, its pool and snapshots (``X-LXD-name`` and ``X-LXD-pool`` override the
name and pool); the instance and its snapshots are made from the configuration it carries
(their ``volatile.*`` keys kept, as LXD keeps them on import), and their trees are unpacked
from ``backup/container/rootfs`` and ``backup/snapshots/SNAP/rootfs`` once the rows commit.
"""

import io
import tarfile

import yaml
from django.db import transaction
from rest_framework import exceptions

from . import instance_metadata
from .images.compression import _decompressed, detect_compression
from .images.tarballs import _GoTarInfo
from .instance_files.trees import _after_commit, scratch_file
from .instance_files.unpacking import unpack_rootfs
from .instances import hostname_error
from .models import Instance, InstanceTemplate, Profile, Project, Snapshot, StoragePool
from .serializers.instance_parts import set_instance_profiles
from .storage_usage import root_disk

CHUNK_SIZE = 1 << 20


class ImportRefused(Exception):
    """A backup LXD would refuse to import: the text is the failed operation's ``err``."""


def is_backup_upload(request):
    return (request.content_type or "").split(";")[0].strip() == "application/octet-stream"


def receive(request):
    """The request's body in a scratch file (``forget`` removes it)."""
    path = scratch_file()
    stream = _body(request)
    with open(path, "wb") as file:
        while chunk := stream.read(CHUNK_SIZE):
            file.write(chunk)
    return path


def _body(request):
    """The raw body: lxc sends the tarball chunked, without Content-Length (Django's stream then
    reads nothing), so the server's WSGI input, which ends where the chunked body ends."""
    meta = request.META
    if meta.get("CONTENT_LENGTH"):
        return request.stream or io.BytesIO()
    if meta.get("wsgi.input_terminated"):
        return meta["wsgi.input"]
    return io.BytesIO()


def forget(path):
    """Once the trees unpacked from ``path`` are built (callbacks run in order) or the write is
    rolled back: the scratch file goes."""
    transaction.on_commit(lambda: path.unlink(missing_ok=True))


def read_backup(path):
    """The YAML documents the tarball holds ({member name: parsed}) and its template files."""
    compression = detect_compression(path)
    if compression.tar_mode is None:
        raise ImportRefused("Unsupported compression")
    documents, templates = {}, {}
    with _decompressed(path, compression) as stream, tarfile.open(fileobj=stream, mode="r|", tarinfo=_GoTarInfo) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".yaml") and member.name.count("/") <= 3:
                documents[member.name] = yaml.safe_load(tar.extractfile(member).read())
            elif member.isfile() and member.name.startswith("backup/container/templates/"):
                templates[member.name.removeprefix("backup/container/templates/")] = tar.extractfile(member).read()
    return documents, templates


def import_backup(path, project, name_override, pool_override):
    """The instance the backup at ``path`` holds, made in ``project`` (its trees once it commits)."""
    if path.stat().st_size == 0:
        # LXD answers 500 with this text.
        raise exceptions.ParseError("EOF")
    try:
        documents, templates = read_backup(path)
    except ImportRefused:
        raise
    except Exception as exc:
        # Whatever the upload is, it is the client's bad input: never a 500.
        raise ImportRefused(f"Failed to read backup: {exc}") from None
    index = documents.get("backup/index.yaml")
    if not isinstance(index, dict):
        raise ImportRefused("Backup is missing index.yaml")
    config = index.get("config") or documents.get("backup/container/backup.yaml") or {}
    container = config.get("container") or {}
    name = name_override or index.get("name") or container.get("name")
    if not name:
        raise ImportRefused("Backup has no instance name")
    error = hostname_error(name)
    if error:
        raise ImportRefused(f"Failed importing backup: Failed creating instance record: Invalid instance name: {error}")
    if Instance.objects.filter(project=project, name=name).exists():
        raise ImportRefused("Create instance from backup: Cannot restore volume, already exists on target")
    pool = pool_override or index.get("pool") or ""
    if pool_override and not StoragePool.objects.filter(name=pool_override).exists():
        raise ImportRefused("Storage pool not found: Storage pool not found")
    instance = Instance.objects.create(
        project=project,
        name=name,
        description=container.get("description", ""),
        architecture=container.get("architecture", "x86_64"),
        type=index.get("type") or container.get("type", "container"),
        config=dict(container.get("config") or {}),
        devices=_devices(container.get("devices") or {}, pool, pool_override),
        ephemeral=bool(container.get("ephemeral")),
        stateful=bool(container.get("stateful")),
        metadata=_metadata(documents.get("backup/container/metadata.yaml")),
    )
    set_instance_profiles(instance, _profiles(project, container.get("profiles") or []))
    for template, content in sorted(templates.items()):
        InstanceTemplate.objects.create(instance=instance, name=template, content=content)
    _after_commit(instance, lambda staging: unpack_rootfs(path, True, staging, prefix="backup/container/rootfs"))
    for snapshot in config.get("snapshots") or []:
        _snapshot(instance, snapshot, path)
    return instance


def _devices(devices, pool, pool_override):
    """The instance's devices; an overridden pool is named by its root disk (added if a profile had it)."""
    devices = {key: dict(device) for key, device in devices.items()}
    if pool_override:
        found = root_disk(devices)
        if found:
            devices[found[0]]["pool"] = pool
        else:
            devices["root"] = {"path": "/", "pool": pool, "type": "disk"}
    return devices


def _metadata(document):
    if not isinstance(document, dict):
        return None
    return instance_metadata.written({}, document, partial=False)


def _profiles(project, names):
    """The profiles the backup names that exist here, in its order."""
    holder = Project.holding(project.name, "features.profiles")
    found = {profile.name: profile for profile in Profile.objects.filter(project=holder, name__in=names)}
    return [found[name] for name in names if name in found]


def _snapshot(instance, snapshot, path):
    name = snapshot.get("name", "")
    row = Snapshot.objects.create(
        instance=instance,
        name=name,
        architecture=snapshot.get("architecture", instance.architecture),
        config=dict(snapshot.get("config") or {}),
        devices=dict(snapshot.get("devices") or {}),
        profiles=list(snapshot.get("profiles") or []),
        ephemeral=bool(snapshot.get("ephemeral")),
        stateful=bool(snapshot.get("stateful")),
        expires_at=str(snapshot.get("expires_at") or Snapshot.NEVER),
    )
    prefix = f"backup/snapshots/{name}/rootfs"
    _after_commit(row, lambda staging: unpack_rootfs(path, True, staging, prefix=prefix))
