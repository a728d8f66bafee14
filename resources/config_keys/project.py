"""Project config (lxd/api_project.go projectValidateConfig): the keys of ``/1.0/projects/NAME``."""

from ..architectures import ARCHITECTURE_IDS
from ..go import go_quote
from .errors import ConfigError
from .go_parse import _GO_SPACE, _parse_cidr, _parse_uint
from .server import is_compression_algorithm
from .validators import (
    Validator,
    _is_true,
    is_any,
    is_bool,
    is_int64,
    is_size,
    is_uint32,
    list_of,
    one_of,
    optional,
)

_ALLOW_OR_BLOCK = optional(one_of("block", "allow"))
_ALLOW_BLOCK_OR_MANAGED = optional(one_of("block", "allow", "managed"))
_BOOL = optional(is_bool)
_UINT32 = optional(is_uint32)


def is_uint32_range(value: str) -> None:
    """LXD: validate.IsUint32Range ("number" or "start-end")."""
    start, dash, end = value.partition("-")
    try:
        first = _parse_uint(start, bits=32)
    except ConfigError:
        raise ConfigError(f"Invalid number {go_quote(value)}") from None
    if dash:
        try:
            last = _parse_uint(end, bits=32)
        except ConfigError:
            raise ConfigError(f"Invalid end number {go_quote(value)}") from None
        if first >= last:
            raise ConfigError(f"Start number {first} must be lower than end number {last}")


def is_abs_file_path(value: str) -> None:
    """LXD: validate.IsAbsFilePath."""
    if not value.startswith("/"):
        raise ConfigError("Must be absolute file path")


def _restricted_subnets(value: str) -> None:
    """LXD checks each ``<uplink>:<subnet>`` against the uplink network's routes; lxdsite has
    no networks yet, so a well-formed entry names an uplink LXD would not find."""
    for entry in (item.strip(_GO_SPACE) for item in value.split(",")):
        uplink, colon, subnet = entry.partition(":")
        if not colon:
            raise ConfigError(f'Subnet {go_quote(entry)} invalid, must be in the format of "<uplink network>:<subnet>"')
        _, is_network = _parse_cidr(subnet)
        if not is_network:
            raise ConfigError(f"Not an IP network address {go_quote(subnet)}")
        raise ConfigError(f"Invalid uplink network {go_quote(uplink)}: Network not found")


PROJECT_KEYS: dict[str, Validator] = {
    "backups.compression_algorithm": is_compression_algorithm,
    "features.profiles": _BOOL,
    "features.images": _BOOL,
    "features.storage.volumes": _BOOL,
    "features.networks": _BOOL,
    "images.auto_update_cached": _BOOL,
    "images.auto_update_interval": optional(is_int64),
    "images.compression_algorithm": is_compression_algorithm,
    "images.default_architecture": optional(one_of(*ARCHITECTURE_IDS)),
    "images.remote_cache_expiry": optional(is_int64),
    "limits.instances": _UINT32,
    "limits.containers": _UINT32,
    "limits.virtual-machines": _UINT32,
    "limits.memory": optional(is_size),
    "limits.processes": _UINT32,
    "limits.cpu": _UINT32,
    "limits.disk": optional(is_size),
    "limits.networks": _UINT32,
    "restricted": _BOOL,
    "restricted.backups": _ALLOW_OR_BLOCK,
    "restricted.cluster.groups": optional(list_of(is_any)),
    "restricted.cluster.target": _ALLOW_OR_BLOCK,
    "restricted.containers.interception": optional(one_of("allow", "block", "full")),
    "restricted.containers.nesting": _ALLOW_OR_BLOCK,
    "restricted.containers.lowlevel": _ALLOW_OR_BLOCK,
    "restricted.containers.privilege": optional(one_of("allow", "unprivileged", "isolated")),
    "restricted.virtual-machines.lowlevel": _ALLOW_OR_BLOCK,
    "restricted.devices.unix-char": _ALLOW_OR_BLOCK,
    "restricted.devices.unix-block": _ALLOW_OR_BLOCK,
    "restricted.devices.unix-hotplug": _ALLOW_OR_BLOCK,
    "restricted.devices.infiniband": _ALLOW_OR_BLOCK,
    "restricted.devices.gpu": _ALLOW_OR_BLOCK,
    "restricted.devices.usb": _ALLOW_OR_BLOCK,
    "restricted.devices.pci": _ALLOW_OR_BLOCK,
    "restricted.devices.proxy": _ALLOW_OR_BLOCK,
    "restricted.devices.nic": _ALLOW_BLOCK_OR_MANAGED,
    "restricted.devices.disk": _ALLOW_BLOCK_OR_MANAGED,
    "restricted.devices.disk.paths": optional(list_of(is_abs_file_path)),
    "restricted.idmap.uid": optional(list_of(is_uint32_range)),
    "restricted.idmap.gid": optional(list_of(is_uint32_range)),
    "restricted.networks.access": optional(list_of(is_any)),
    "restricted.networks.uplinks": optional(list_of(is_any)),
    "restricted.networks.subnets": optional(_restricted_subnets),
    "restricted.networks.zones": list_of(is_any),
    "restricted.snapshots": _ALLOW_OR_BLOCK,
}


def validate_project_config(config: dict[str, str]) -> None:
    """LXD's checks of a project's config, with its texts; ConfigError on the first bad key."""
    for key in sorted(config):
        if key.startswith("user."):
            continue
        validator = PROJECT_KEYS.get(key)
        if validator is None:
            raise ConfigError(f"Invalid project configuration key {go_quote(key)}")
        try:
            validator(config[key])
        except ConfigError as exc:
            raise ConfigError(f"Invalid project configuration key {go_quote(key)} value: {exc}") from None
    # LXD: restrictions could be bypassed through the default project's profiles.
    own_profiles = config.get("features.profiles", "").lower() not in ("false", "0", "no", "off")
    if _is_true(config.get("restricted", "")) and not own_profiles:
        raise ConfigError("Projects without their own profiles cannot be restricted")
