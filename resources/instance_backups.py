"""Instance backups (``/1.0/instances/NAME/backups``): a row per backup and its tarball, a file
``LXD_DIR/backups/b<id>`` written once the row commits and removed once its deletion commits.

The tarball has LXD 5.0.2's layout for an instance on a ``dir`` pool: ``backup/index.yaml``
(what the backup holds), ``backup/container/`` (``backup.yaml``, ``metadata.yaml``, ``rootfs/``,
``templates/``) and, unless ``instance_only``, ``backup/snapshots/SNAP/rootfs/`` for each
snapshot. ``optimized_storage`` is refused, as LXD refuses it on a ``dir`` pool.
"""

import io
import logging
import os
import re
import tarfile
import time
import uuid

import yaml
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from rest_framework import exceptions

from .config_keys import ConfigError
from .config_keys.server import is_compression_algorithm
from .images.publishing import _COMPRESSORS, _add_bytes, _add_entry, _info, _walk
from .instance_files import ensure_tree, tree_path
from .models import InstanceBackup, Server, StoragePool
from .storage_usage import instance_pool

logger = logging.getLogger(__name__)
_DEFAULT_NAME = re.compile(r"backup(\d+)")


def backups_dir():
    """Beside the instances' trees, under ``LXD_DIR``."""
    return settings.LXDSITE_INSTANCE_FILES_DIR.parent / "backups"


def backup_path(backup):
    return backups_dir() / f"b{backup.pk}"


STAGING_PREFIX = ".staging-"


def recover_backups(pid=None):
    """Clean up after a killed worker ``pid`` (None: after a killed server, before serving): the
    tarballs it was writing, and (for a server) files whose backup row is gone."""
    directory = backups_dir()
    if not directory.is_dir():
        return
    owner = "*" if pid is None else f"{pid}-*"
    for path in directory.glob(STAGING_PREFIX + owner):
        path.unlink(missing_ok=True)
    if pid is None:
        kept = {f"b{pk}" for pk in InstanceBackup.objects.values_list("pk", flat=True)}
        for path in directory.iterdir():
            if not path.name.startswith(".") and path.name not in kept:
                path.unlink(missing_ok=True)


def default_name(instance):
    """LXD's next free ``backupN``: one more than the highest N in use (``backup0`` first)."""
    numbers = [
        int(m.group(1)) for m in map(_DEFAULT_NAME.fullmatch, instance.backups.values_list("name", flat=True)) if m
    ]
    return f"backup{max(numbers) + 1 if numbers else 0}"


def compression(algorithm, project):
    """The algorithm asked for, else the project's or the server's ``backups.compression_algorithm``, else gzip."""
    if not algorithm:
        server = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
        key = "backups.compression_algorithm"
        algorithm = project.config.get(key) or server.get(key) or "gzip"
    try:
        is_compression_algorithm(algorithm)
    except ConfigError:
        raise exceptions.ParseError(f'Invalid compression algorithm "{algorithm}"') from None
    name = algorithm.split()[0]
    if name not in _COMPRESSORS:
        raise exceptions.ParseError(f"Unsupported compression algorithm: {name}")
    return name


def write_after_commit(backup, documents):
    """Once ``backup`` commits: its tarball. ``documents`` is what ``rendered`` gives."""
    instance = backup.instance
    snapshots = [] if backup.instance_only else [(s.name, tree_path(s)) for s in instance.snapshots.order_by("id")]
    tree = ensure_tree(instance)
    templates = [(t.name, bytes(t.content)) for t in instance.templates.order_by("name")]
    metadata = None if instance.metadata is None else _metadata_yaml(instance.metadata)
    target = backup_path(backup)
    algorithm = backup.compression_algorithm

    def run():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Named by the worker that writes it: a killed worker's is removed when it dies.
        staging = target.parent / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        try:
            with open(staging, "wb") as raw:
                _write(raw, algorithm, documents, metadata, tree, templates, snapshots)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)

    transaction.on_commit(run)


def rendered(instance, backup, container, snapshots):
    """(index.yaml, the instance's backup.yaml, {snapshot: its backup.yaml}) as LXD 5.0.2 writes them.

    ``container`` and ``snapshots`` are the instance and its snapshots as the API shows them.
    A snapshot's backup.yaml holds the instance as it is now (LXD's holds it as it was then).
    """
    pool_name = instance_pool(instance.profile_list(), instance.devices)
    pool = StoragePool.objects.filter(name=pool_name).first()
    shared = {
        "pool": {
            "config": pool.config if pool else {},
            "description": pool.description if pool else "",
            "name": pool_name,
            "driver": pool.driver if pool else "dir",
            "used_by": [],
            "status": pool.status if pool else "Created",
            "locations": ["none"],
        },
        "profiles": [
            {
                "config": profile.config,
                "description": profile.description,
                "devices": profile.devices,
                "name": profile.name,
                "used_by": [],
            }
            for profile in instance.profile_list()
        ],
        "volume": {
            "config": {},
            "description": "",
            "name": instance.name,
            "type": "container" if instance.type == "container" else "virtual-machine",
            "used_by": [],
            "location": "none",
            "content_type": "filesystem" if instance.type == "container" else "block",
            "project": instance.project.name,
            "created_at": GO_ZERO,
        },
    }
    container = _plain(container)
    snapshots = _plain(snapshots)
    config = {
        "container": container,
        "snapshots": snapshots,
        **shared,
        "volume_snapshots": [
            {
                "description": "",
                "expires_at": snapshot["expires_at"],
                "name": snapshot["name"],
                "config": {},
                "content_type": shared["volume"]["content_type"],
                "created_at": GO_ZERO,
            }
            for snapshot in snapshots
        ],
    }
    if not snapshots:
        del config["snapshots"], config["volume_snapshots"]
    index = {
        "name": instance.name,
        "backend": shared["pool"]["driver"],
        "pool": pool_name,
        "snapshots": [snapshot["name"] for snapshot in snapshots],
        "optimized": False,
        "optimized_header": False,
        "type": instance.type,
        "config": config,
    }
    if not snapshots:
        del index["snapshots"]
    per_snapshot = {snapshot["name"]: _dump({"container": container, **shared}) for snapshot in snapshots}
    return _dump(index), _dump(config), per_snapshot


GO_ZERO = "0001-01-01T00:00:00Z"
_TIME_KEYS = {"created_at", "last_used_at", "expires_at"}


class _GoTime(str):
    """A time, written unquoted as Go's YAML writes a time.Time."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_GoTime, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:timestamp", value))


def _plain(value):
    """Plain dicts and lists (a serializer's are subclasses YAML will not write), times marked."""
    if isinstance(value, dict):
        return {
            key: _GoTime(item) if key in _TIME_KEYS and isinstance(item, str) else _plain(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _metadata_yaml(metadata):
    """The instance's metadata.yaml: an image's file usually has no expiry_date, so none when it is 0."""
    if not metadata.get("expiry_date"):
        metadata = {key: value for key, value in metadata.items() if key != "expiry_date"}
    return _dump(metadata)


def _dump(document):
    return yaml.dump(_plain(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True).encode()


def _write(raw, algorithm, documents, metadata, tree, templates, snapshots):
    """The members in LXD's order: index.yaml, each snapshot, then the instance."""
    index, config, snapshot_configs = documents
    compressed = _COMPRESSORS[algorithm](raw)
    now = time.time()
    try:
        with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "backup/index.yaml", index, now)
            for name, path in snapshots:
                prefix = f"backup/snapshots/{name}"
                _add_volume(tar, prefix, snapshot_configs.get(name, b""), metadata, path, templates, now)
            _add_volume(tar, "backup/container", config, metadata, tree, templates, now)
    finally:
        if compressed is not raw:
            compressed.close()


def _add_volume(tar, prefix, config, metadata, tree, templates, now):
    """What LXD's dir driver keeps of an instance or snapshot: backup.yaml, metadata.yaml, rootfs, templates."""
    tar.addfile(_info(prefix, tarfile.DIRTYPE, 0o100, now))
    info = _info(f"{prefix}/backup.yaml", tarfile.REGTYPE, 0o400, now)
    info.size = len(config)
    tar.addfile(info, io.BytesIO(config))
    if metadata is not None:
        _add_bytes(tar, f"{prefix}/metadata.yaml", metadata, now)
    if tree.is_dir():
        _add_tree(tar, tree, f"{prefix}/rootfs")
    if templates:
        tar.addfile(_info(f"{prefix}/templates", tarfile.DIRTYPE, 0o755, now))
        for name, content in templates:
            _add_bytes(tar, f"{prefix}/templates/{name}", content, now)


def _add_tree(tar, tree, root):
    for directory, names, files in _walk(tree):
        relative = os.path.relpath(directory, tree)
        prefix = root if relative == "." else f"{root}/{relative}"
        _add_entry(tar, prefix, directory)
        for name in files:
            _add_entry(tar, f"{prefix}/{name}", os.path.join(directory, name))
        del names


@receiver(post_delete, sender=InstanceBackup)
def _remove_deleted_file(sender, instance, **kwargs):
    path = backup_path(instance)
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
