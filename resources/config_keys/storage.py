"""Storage pools (lxd/storage): each driver's config keys, the defaults LXD fills in at create.

``dir`` was checked against the real daemon; ``btrfs``, ``lvm``, ``zfs``, ``ceph`` and
``cephfs`` are written from LXD 5.0.2's source (lxd/storage/utils.go validatePoolCommonRules,
lxd/storage/drivers/driver_*.go Validate and Create), as the daemon here lacks their tools.
"""

import os
from pathlib import Path

from ..go import go_quote
from .errors import ConfigError
from .validators import _BOOL, Validator, is_any, is_bool, is_cron, is_expiry, is_size, is_uint32, one_of, optional
from .validators import parse_byte_size as _parse_byte_size

DRIVERS = ("btrfs", "ceph", "cephfs", "dir", "lvm", "zfs")
_SNAPSHOT_ALIASES = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@annually", "@yearly")
_BLOCK_FILESYSTEMS = ("btrfs", "ext4", "xfs")
_MIN_ZFS_BLOCKSIZE, _MAX_ZFS_BLOCKSIZE = 512, 16 * 1024 * 1024


def _zfs_blocksize(value: str) -> None:
    """LXD's ValidateZfsBlocksize."""
    size = _parse_byte_size(value)
    if size < _MIN_ZFS_BLOCKSIZE or size > _MAX_ZFS_BLOCKSIZE or size & (size - 1):
        raise ConfigError("Value should be between 512 and 16MiB, and be power of 2")


def _clone_copy(value: str) -> None:
    if value != "rebase":
        is_bool(value)


# poolAndVolumeCommonRules(nil): what a pool sets as ``volume.*`` for its volumes.
_POOL_AND_VOLUME = {
    "size": optional(is_size),
    "snapshots.expiry": is_expiry,
    "snapshots.schedule": optional(is_cron(*_SNAPSHOT_ALIASES)),
    "snapshots.pattern": is_any,
    "security.shifted": _BOOL,
    "security.unmapped": _BOOL,
}
_POOL_COMMON = {
    "source": is_any,
    "volatile.initial_source": is_any,
    "rsync.bwlimit": optional(is_size),
    "rsync.compression": _BOOL,
}
# Each driver's own pool keys, and the volume keys it adds (offered as ``volume.*`` on the pool).
_DRIVER_RULES: dict[str, dict[str, Validator]] = {
    "dir": {},
    "btrfs": {"size": optional(is_size), "btrfs.mount_options": is_any},
    "lvm": {
        "size": optional(is_size),
        "lvm.vg_name": is_any,
        "lvm.thinpool_name": is_any,
        "lvm.thinpool_metadata_size": optional(is_size),
        "lvm.use_thinpool": _BOOL,
        "lvm.vg.force_reuse": _BOOL,
    },
    "zfs": {
        "size": optional(is_size),
        "zfs.pool_name": is_any,
        "zfs.clone_copy": optional(_clone_copy),
        "zfs.export": _BOOL,
    },
    "ceph": {
        "ceph.cluster_name": is_any,
        "ceph.osd.force_reuse": _BOOL,
        "ceph.osd.pg_num": is_any,
        "ceph.osd.pool_name": is_any,
        "ceph.osd.data_pool_name": is_any,
        "ceph.rbd.clone_copy": _BOOL,
        "ceph.rbd.du": _BOOL,
        "ceph.rbd.features": is_any,
        "ceph.user.name": is_any,
        "volatile.pool.pristine": is_any,
    },
    "cephfs": {
        "cephfs.cluster_name": is_any,
        "cephfs.fscache": _BOOL,
        "cephfs.path": is_any,
        "cephfs.user.name": is_any,
        "volatile.pool.pristine": is_any,
    },
}
_DRIVER_VOLUME_RULES: dict[str, dict[str, Validator]] = {
    "lvm": {
        "block.mount_options": is_any,
        "block.filesystem": optional(one_of(*_BLOCK_FILESYSTEMS)),
        "lvm.stripes": optional(is_uint32),
        "lvm.stripes.size": optional(is_size),
    },
    "zfs": {
        "zfs.blocksize": optional(_zfs_blocksize),
        "zfs.remove_snapshots": _BOOL,
        "zfs.use_refquota": _BOOL,
        "zfs.reserve_space": _BOOL,
    },
    "ceph": {"block.filesystem": optional(one_of(*_BLOCK_FILESYSTEMS)), "block.mount_options": is_any},
}


def pool_rules(driver: str) -> dict[str, Validator]:
    """Every key a pool of ``driver`` takes (``user.*`` aside), as LXD's validatePool merges them."""
    rules = {**_POOL_COMMON, **{f"volume.{key}": rule for key, rule in _POOL_AND_VOLUME.items()}}
    rules.update(_DRIVER_RULES[driver])
    rules.update({f"volume.{key}": rule for key, rule in _DRIVER_VOLUME_RULES.get(driver, {}).items()})
    return rules


def validate_pool_config(driver: str, config: dict[str, str]) -> None:
    """LXD's validatePool: each rule on its value (absent is ""), then no key without a rule."""
    rules = pool_rules(driver)
    for key in sorted(rules):
        try:
            rules[key](config.get(key, ""))
        except ConfigError as exc:
            raise ConfigError(f"Invalid value for option {go_quote(key)}: {exc}") from None
    for key in sorted(config):
        if key not in rules and not key.startswith("user."):
            raise ConfigError(f"Invalid option {go_quote(key)}")
    if driver == "lvm" and config.get("lvm.use_thinpool", "").lower() in ("false", "0", "no", "off"):
        for key in ("lvm.thinpool_name", "lvm.thinpool_metadata_size"):
            if config.get(key):
                raise ConfigError(f"The key lvm.use_thinpool cannot be set to false when {key} is set")


def _loop_size(lxd_dir: Path) -> str:
    """LXD's loopFileSizeDefault: a fifth of LXD_DIR's file system, 5 to 30 GiB."""
    stat = os.statvfs(lxd_dir) if lxd_dir.exists() else None
    gib = (stat.f_frsize * stat.f_blocks // (1024**3) // 5) if stat else 0
    return f"{min(max(gib, 5), 30)}GiB"


def _check_dir_source(source: Path, lxd_dir: Path, own: str) -> None:
    """LXD's dir Create on a source the client names: an empty directory outside LXD_DIR."""
    if not source.exists():
        raise ConfigError(f"Source path '{source}' doesn't exist")
    clean = os.path.normpath(source)
    if clean.startswith(str(lxd_dir)) and clean != own:
        raise ConfigError(f"Source path '{clean}' is within the LXD directory")
    if source.is_dir() and any(source.iterdir()):
        raise ConfigError(f"Source path '{source}' isn't empty")


def pool_defaults(driver: str, name: str, config: dict[str, str], lxd_dir: Path) -> dict[str, str]:
    """The config LXD's driver Create fills in (recorded, nothing is made on disk)."""
    filled = dict(config)
    source = filled.get("source", "")
    if driver == "dir":
        own = str(lxd_dir / "storage-pools" / name)
        # A pool's own place in an LXD directory (this one's, or another LXD's as an import
        # carries it) is recorded as it is: no directory is made or read there.
        if source and not source.endswith(f"/storage-pools/{name}"):
            _check_dir_source(Path(source), lxd_dir, own)
        filled["source"] = source or own
        return filled
    # What the client named as source; a record carried by an import keeps its own.
    filled.setdefault("volatile.initial_source", source)
    loop = str(lxd_dir / "disks" / f"{name}.img")
    if driver in ("btrfs", "zfs"):
        if source in ("", loop):
            filled["source"] = loop
            filled["size"] = filled.get("size") or _loop_size(lxd_dir)
            if driver == "zfs":
                filled["zfs.pool_name"] = filled.get("zfs.pool_name") or name
        elif driver == "zfs":
            filled["zfs.pool_name"] = filled.get("zfs.pool_name") or source
    elif driver == "lvm":
        if filled.get("lvm.use_thinpool", "true").lower() not in ("false", "0", "no", "off"):
            filled["lvm.thinpool_name"] = filled.get("lvm.thinpool_name") or "LXDThinPool"
        filled["lvm.vg_name"] = filled.get("lvm.vg_name") or (source if source and not source.startswith("/") else name)
        if not source:
            filled["source"] = loop
            filled["size"] = filled.get("size") or _loop_size(lxd_dir)
        elif not source.startswith("/"):
            filled["source"] = filled["lvm.vg_name"]
    elif driver == "ceph":
        filled["ceph.cluster_name"] = filled.get("ceph.cluster_name") or "ceph"
        filled["ceph.user.name"] = filled.get("ceph.user.name") or "admin"
        filled["ceph.osd.pg_num"] = filled.get("ceph.osd.pg_num") or "32"
        filled["ceph.osd.pool_name"] = filled.get("ceph.osd.pool_name") or source or name
        filled["source"] = source or filled["ceph.osd.pool_name"]
        filled["volatile.pool.pristine"] = "true"
    elif driver == "cephfs":
        if not source:
            raise ConfigError("Missing required source name/path")
        filled["cephfs.cluster_name"] = filled.get("cephfs.cluster_name") or "ceph"
        filled["cephfs.user.name"] = filled.get("cephfs.user.name") or "admin"
        filled["cephfs.path"] = source
    return filled
