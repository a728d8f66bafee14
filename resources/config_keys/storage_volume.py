"""Storage volumes (lxd/storage/drivers): the config keys a volume takes, by driver and content type.

``dir`` was checked against the real daemon (values are checked before unknown keys, as LXD's
validateVolume does); the other drivers' own keys are those their pools offer as ``volume.*``
(``storage._DRIVER_VOLUME_RULES``, from LXD 5.0.2's source).
"""

from ..go import go_quote
from .errors import ConfigError
from .storage import _DRIVER_VOLUME_RULES, _SNAPSHOT_ALIASES
from .validators import _BOOL, Validator, is_any, is_cron, is_expiry, is_size, is_uuid, optional

FILESYSTEM = "filesystem"
BLOCK = "block"

# commonVolumeRules: what every volume of every driver takes.
_COMMON: dict[str, Validator] = {
    "size": optional(is_size),
    "snapshots.expiry": is_expiry,
    "snapshots.schedule": optional(is_cron(*_SNAPSHOT_ALIASES)),
    "snapshots.pattern": is_any,
    "volatile.idmap.last": is_any,
    "volatile.idmap.next": is_any,
    "volatile.uuid": optional(is_uuid),
}
# Filesystem volumes only: id shifting applies to a mounted file system.
_FILESYSTEM_ONLY: dict[str, Validator] = {"security.shifted": _BOOL, "security.unmapped": _BOOL}
# Keys of a block-backed driver that a block volume has no file system for.
_FILESYSTEM_KEYS_OF_BLOCK_DRIVERS = ("block.filesystem", "block.mount_options")


def volume_rules(driver: str, content_type: str) -> dict[str, Validator]:
    """Every key a volume of ``content_type`` on a ``driver`` pool takes (``user.*`` aside)."""
    rules = dict(_COMMON)
    if content_type == FILESYSTEM:
        rules.update(_FILESYSTEM_ONLY)
    for key, rule in _DRIVER_VOLUME_RULES.get(driver, {}).items():
        if content_type == FILESYSTEM or key not in _FILESYSTEM_KEYS_OF_BLOCK_DRIVERS:
            rules[key] = rule
    return rules


def validate_volume_config(driver: str, content_type: str, storage_name: str, config: dict[str, str]) -> None:
    """LXD's validateVolume: each rule on its value (absent is ""), then no key without a rule.
    ``storage_name`` is LXD's name for the volume in its messages (``PROJECT_NAME``)."""
    rules = volume_rules(driver, content_type)
    volume = go_quote(storage_name)
    for key in sorted(rules):
        try:
            rules[key](config.get(key, ""))
        except ConfigError as exc:
            raise ConfigError(f"Invalid value for volume {volume} option {go_quote(key)}: {exc}") from None
    for key in sorted(config):
        if key not in rules and not key.startswith("user."):
            raise ConfigError(f"Invalid option for volume {volume} option {go_quote(key)}")


def volume_defaults(driver: str, content_type: str, pool_config: dict[str, str], config: dict[str, str]) -> dict:
    """The config of a new custom volume: the pool's ``volume.*`` keys a volume of its content type
    takes fill those the request leaves out, as LXD's FillConfig does."""
    rules = volume_rules(driver, content_type)
    filled = dict(config)
    for key, value in pool_config.items():
        name = key.removeprefix("volume.")
        if key.startswith("volume.") and name in rules and name not in filled:
            filled[name] = value
    return filled
