"""Network address forwards (lxd/network/driver_common.go forwardValidate, driver_bridge.go
ForwardCreate, shared/api/network_forward.go at tag lxd-5.0.2)."""

import ipaddress

from ..go import go_quote
from .errors import ConfigError
from .go_parse import _is_ipv4, _parse_cidr, _parse_int, _parse_ip

PORT_FIELDS = ("description", "protocol", "listen_port", "target_port", "target_address")


def canonical_ip(value: str) -> str:
    """Go's net.ParseIP(value).String() where it parses, else the value (LXD's Normalise)."""
    ip = _parse_ip(value)
    if ip is None:
        return value
    return str(ip.ipv4_mapped) if ip.version == 6 and ip.ipv4_mapped is not None else str(ip)


def _trimmed_list(value: str) -> str:
    return ",".join(item.strip() for item in value.split(","))


def normalised_port(port: dict[str, str]) -> dict[str, str]:
    """api.NetworkForwardPort.Normalise, in LXD's field order."""
    return {
        "description": port.get("description", "").strip(),
        "protocol": port.get("protocol", "").strip(),
        "listen_port": _trimmed_list(port.get("listen_port", "")),
        "target_port": _trimmed_list(port.get("target_port", "")),
        "target_address": canonical_ip(port.get("target_address", "").strip()),
    }


def listen_network(address: str):
    """LXD's ParseIPToNet: the listen address as a single-address network, or ConfigError."""
    size = 128 if ":" in address else 32
    ip, _ = _parse_cidr(f"{address}/{size}")
    return ipaddress.ip_network(f"{ip}/{128 if ip.version == 6 else 32}")


def _port_range(value: str) -> tuple[int, int]:
    """LXD's ParsePortRange: (first port, count)."""
    entries = value.split("-")
    if len(entries) > 2:
        raise ConfigError(f"Invalid port range {go_quote(value)}")
    base = _parse_int(entries[0], fn="ParseInt")
    if len(entries) == 1:
        return base, 1
    end = _parse_int(entries[1], fn="ParseInt")
    if end <= base:
        raise ConfigError("End port should be higher than start port")
    return base, end - base + 1


def _split(value: str) -> list[str]:
    """LXD's SplitNTrimSpace(value, ",", -1, true): no items for a blank value."""
    return [item.strip() for item in value.split(",")] if value.strip() else []


def _subnet_of(config: dict[str, str], key: str):
    """The bridge's subnet of the listen address's family; Go's error for a value such as ``none``."""
    value = config.get(key, "")
    if not value:
        return None
    _parse_cidr(value)
    return ipaddress.ip_interface(value).network


def validate_forward(listen_address: str, network_config: dict[str, str], config: dict[str, str], ports: list) -> None:
    """LXD's forwardValidate of a forward's config and port specifications on a bridge."""
    listen = _parse_ip(listen_address)
    if listen is None:
        raise ConfigError("Invalid listen address")
    listen4 = _is_ipv4(listen)
    subnet = _subnet_of(network_config, "ipv4.address" if listen4 else "ipv6.address")
    for key in sorted(config):
        if key != "target_address" and not key.startswith("user."):
            raise ConfigError(f"Invalid option {go_quote(key)}")
    default_target = _parse_ip(config.get("target_address", ""))
    if config.get("target_address"):
        if default_target is None:
            raise ConfigError("Invalid default target address")
        if listen4 != _is_ipv4(default_target):
            raise ConfigError("Cannot mix IP versions in listen address and default target address")
        if subnet is not None and not _contains(subnet, default_target):
            raise ConfigError("Default target address is not within the network subnet")
    listened = {"tcp": set(), "udp": set()}
    for index, port in enumerate(ports):
        if port["protocol"] not in listened:
            raise ConfigError(f"Invalid port protocol in port specification {index}, protocol must be one of: tcp, udp")
        target = _parse_ip(port["target_address"])
        if target is None:
            raise ConfigError(f"Invalid target address in port specification {index}")
        if default_target is not None and target == default_target:
            raise ConfigError(f"Target address is same as default target address in port specification {index}")
        if listen4 != _is_ipv4(target):
            raise ConfigError(f"Cannot mix IP versions in listen address and port specification {index} target address")
        if subnet is not None and not _contains(subnet, target):
            raise ConfigError(f"Target address is not within the network subnet in port specification {index}")
        listen_ranges = _split(port["listen_port"])
        if not listen_ranges:
            raise ConfigError(f"Missing listen port in port specification {index}")
        count = 0
        for entry in listen_ranges:
            try:
                first, size = _port_range(entry)
            except ConfigError as exc:
                raise ConfigError(f"Invalid listen port in port specification {index}: {exc}") from None
            for number in range(first, first + size):
                if number in listened[port["protocol"]]:
                    raise ConfigError(
                        f"Duplicate listen port {number} for protocol {go_quote(port['protocol'])} "
                        f"in port specification {index}"
                    )
                listened[port["protocol"]].add(number)
            count += size
        targets = 0
        for entry in _split(port["target_port"]):
            try:
                targets += _port_range(entry)[1]
            except ConfigError:
                raise ConfigError(f"Invalid target port in port specification {index}") from None
        if _split(port["target_port"]) and targets != 1 and targets != count:
            raise ConfigError(f"Mismatch of listen port(s) and target port(s) count in port specification {index}")


def _contains(subnet, ip) -> bool:
    """LXD's SubnetContainsIP (an IPv4-mapped address counts as IPv4)."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.version == subnet.version and ip in subnet
