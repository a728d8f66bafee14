"""Network zone names and config (lxd/network/zone at tag lxd-5.0.2)."""

from ..go import go_quote
from .errors import ConfigError
from .validators import _BOOL, is_any, is_ip, list_of, optional


def validate_zone_name(name: str) -> None:
    """LXD's zone validateName."""
    if name == "":
        raise ConfigError("Name is required")
    if name.startswith("/"):
        raise ConfigError('Name cannot start with "/"')


def validate_zone_config(config: dict[str, str]) -> None:
    """LXD's zone validateConfig: the nameservers, NAT, and each peer's address and key."""
    rules = {"dns.nameservers": list_of(is_any), "network.nat": _BOOL}
    for key in sorted(config):
        if not key.startswith("peers."):
            continue
        fields = key.split(".")
        if len(fields) != 3:
            raise ConfigError(f"Invalid network zone configuration key {go_quote(key)}")
        if fields[2] == "address":
            rules[key] = optional(is_ip)
        elif fields[2] == "key":
            rules[key] = is_any
    for key in sorted(rules):
        try:
            rules[key](config.get(key, ""))
        except ConfigError as exc:
            raise ConfigError(f"Invalid value for config option {go_quote(key)}: {exc}") from None
    for key in sorted(config):
        if key not in rules and not key.startswith("user."):
            raise ConfigError(f"Invalid config option {go_quote(key)}")


def zone_names_in(config: dict[str, str]) -> list[str]:
    """The zones a network's ``dns.zone.*`` keys name."""
    keys = ("dns.zone.forward", "dns.zone.reverse.ipv4", "dns.zone.reverse.ipv6")
    return [item.strip() for key in keys for item in config.get(key, "").split(",") if item.strip()]
