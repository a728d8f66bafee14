"""Instance backups (``/1.0/instances/NAME/backups``): a row per backup and its tarball, a file
``LXD_DIR/backups/b<id>`` written once the row commits and removed once its deletion commits.

The tarball has LXD 5.0.2's layout for an instance on a ``dir`` pool: ``backup/index.yaml``
(what the backup holds), ``backup/container/`` (``backup.yaml``, ``metadata.yaml``, ``rootfs/``,
``templates/``) and, unless ``instance_only``, ``backup/snapshots/SNAP/rootfs/`` for each
snapshot. ``optimized_storage`` is refused, as LXD refuses it on a ``dir`` pool.
"""

import json
import logging
import os
import re
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


def default_name(instance):
    """LXD's next free ``backupN``: one more than the highest N in use (``backup0`` first)."""
    numbers = [
        int(m.group(1)) for m in map(_DEFAULT_NAME.fullmatch, instance.backups.values_list("name", flat=True)) if m
    ]
    return f"backup{max(numbers) + 1 if numbers else 0}"


def compression(algorithm):
    """The algorithm asked for, else the server's ``backups.compression_algorithm``, else gzip."""
    if not algorithm:
        server = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
        algorithm = server.get("backups.compression_algorithm") or "gzip"
    try:
        is_compression_algorithm(algorithm)
    except ConfigError as exc:
        raise exceptions.ParseError(str(exc)) from None
    name = algorithm.split()[0]
    if name not in _COMPRESSORS:
        raise exceptions.ParseError(f"Unsupported compression algorithm: {name}")
    return name


def write_after_commit(backup, rendered):
    """Once ``backup`` commits: its tarball. ``rendered`` is the backup.yaml content and index."""
    instance = backup.instance
    snapshots = [] if backup.instance_only else [(s.name, tree_path(s)) for s in instance.snapshots.order_by("id")]
    tree = ensure_tree(instance)
    templates = [(t.name, bytes(t.content)) for t in instance.templates.order_by("name")]
    metadata = instance.metadata
    target = backup_path(backup)

    def run():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".staging-{uuid.uuid4().hex}"
        try:
            with open(staging, "wb") as raw:
                _write(raw, backup.compression_algorithm, rendered, metadata, tree, templates, snapshots)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)

    transaction.on_commit(run)


def rendered(instance, backup, container, snapshots):
    """index.yaml and backup.yaml as LXD writes them for a dir pool."""
    pool_name = instance_pool(instance.profile_list(), instance.devices)
    pool = StoragePool.objects.filter(name=pool_name).first()
    index = {
        "name": instance.name,
        "backend": pool.driver if pool else "dir",
        "pool": pool_name,
        "snapshots": [] if backup.instance_only else [s["name"] for s in snapshots],
        "optimized": False,
        "optimized_header": False,
        "type": instance.type,
    }
    if not index["snapshots"]:
        del index["snapshots"]
    config = {
        # Plain dicts and lists (a serializer's are subclasses YAML will not write).
        "container": json.loads(json.dumps(container)),
        "snapshots": json.loads(json.dumps(snapshots)),
        "pool": {"name": pool_name, "driver": pool.driver if pool else "dir", "config": pool.config if pool else {}},
        "volume": {"name": instance.name, "type": "container", "content_type": "filesystem", "config": {}},
    }
    return yaml.safe_dump(index, sort_keys=False).encode(), yaml.safe_dump(config, sort_keys=False).encode()


def _write(raw, algorithm, documents, metadata, tree, templates, snapshots):
    import tarfile

    index, config = documents
    compressed = _COMPRESSORS[algorithm](raw)
    mtime = int(os.stat(tree).st_mtime)
    try:
        with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_info("backup", tarfile.DIRTYPE, 0o700, mtime))
            _add_bytes(tar, "backup/index.yaml", index, mtime)
            tar.addfile(_info("backup/container", tarfile.DIRTYPE, 0o100, mtime))
            _add_bytes(tar, "backup/container/backup.yaml", config, mtime)
            if metadata is not None:
                _add_bytes(tar, "backup/container/metadata.yaml", yaml.safe_dump(metadata).encode(), mtime)
            _add_tree(tar, tree, "backup/container/rootfs")
            if templates:
                tar.addfile(_info("backup/container/templates", tarfile.DIRTYPE, 0o755, mtime))
                for name, content in templates:
                    _add_bytes(tar, f"backup/container/templates/{name}", content, mtime)
            if snapshots:
                tar.addfile(_info("backup/snapshots", tarfile.DIRTYPE, 0o700, mtime))
            for name, path in snapshots:
                tar.addfile(_info(f"backup/snapshots/{name}", tarfile.DIRTYPE, 0o100, mtime))
                if path.is_dir():
                    _add_tree(tar, path, f"backup/snapshots/{name}/rootfs")
    finally:
        if compressed is not raw:
            compressed.close()


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
