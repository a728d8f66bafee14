"""Network config keys and names (lxd/network/driver_*.go, shared/validate at tag lxd-5.0.2).

The rules of the managed types ``bridge``, ``macvlan``, ``sriov``, ``ovn`` and ``physical``,
and what LXD fills in on create (``FillConfig``). Where LXD asks the host or OVN (a parent
interface, an uplink's routes, a DNS zone), these stay pure functions of their input.
"""

import contextlib
import ipaddress
import random

from ..go import go_quote
from .errors import ConfigError
from .go_parse import _is_ipv4, _parse_cidr
from .validators import (
    _BOOL,
    Validator,
    is_any,
    is_in_range,
    is_int64,
    is_interface_name,
    is_ip,
    is_ipv4,
    is_ipv6,
    is_mac,
    is_mtu,
    is_network_v4,
    is_network_v6,
    is_not_empty,
    is_uint8,
    is_vlan,
    list_of,
    one_of,
    optional,
    required,
)

NETWORK_TYPES = ("bridge", "macvlan", "sriov", "ovn", "physical")
# LXD: acl.ValidActions.
ACL_ACTIONS = ("allow", "drop", "reject")


def _cidr_address(version: int) -> Validator:
    """LXD: validate.IsNetworkAddressCIDRV4/V6 (an address with its prefix, not the network's own)."""

    def check(value: str) -> None:
        ip, is_network = _parse_cidr(value)
        if _is_ipv4(ip) != (version == 4):
            raise ConfigError(f"Not an IPv{version} address {go_quote(value)}")
        if is_network:
            raise ConfigError(f"Not a usable IPv{version} address {go_quote(value)}")

    return check


def _address_or_keyword(version: int) -> Validator:
    """A bridge's or OVN network's ``ipvN.address``: ``none``, ``auto`` or an address with its prefix."""
    cidr = _cidr_address(version)
    return optional(lambda value: None if value in ("none", "auto") else cidr(value))


def _range(version: int) -> Validator:
    """LXD: validate.IsNetworkRangeV4/V6 (``START-END``)."""
    single = is_ipv4 if version == 4 else is_ipv6

    def check(value: str) -> None:
        ips = value.split("-", 1)
        if len(ips) != 2:
            raise ConfigError("IP range must contain start and end IP addresses")
        for ip in ips:
            single(ip)

    return check


def _interface_list(value: str) -> None:
    """A bridge's ``bridge.external_interfaces``: interface names, comma separated."""
    for entry in value.split(","):
        entry = entry.strip()
        try:
            is_interface_name(entry)
        except ConfigError as exc:
            raise ConfigError(f"Invalid interface name {go_quote(entry)}: {exc}") from None


def _port(value: str) -> None:
    """LXD's networkValidPort."""
    if value == "":
        return
    try:
        port = int(value) if value.isdigit() else -1
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"Invalid value for a network port: {value}")


_ACLS = {
    "security.acls": is_any,
    "security.acls.default.ingress.action": optional(one_of(*ACL_ACTIONS)),
    "security.acls.default.egress.action": optional(one_of(*ACL_ACTIONS)),
    "security.acls.default.ingress.logged": _BOOL,
    "security.acls.default.egress.logged": _BOOL,
}


_ZONE_KEYS = ("dns.zone.forward", "dns.zone.reverse.ipv4", "dns.zone.reverse.ipv6")
# Checked against the zones by validate_network_config (LXD's validateZoneName).
_ZONES = dict.fromkeys(_ZONE_KEYS, is_any)

# LXD: bridge.Validate.
_BRIDGE = {
    "bgp.ipv4.nexthop": optional(is_ipv4),
    "bgp.ipv6.nexthop": optional(is_ipv6),
    "bridge.driver": optional(one_of("native", "openvswitch")),
    "bridge.external_interfaces": optional(_interface_list),
    "bridge.hwaddr": optional(is_mac),
    "bridge.mtu": optional(is_mtu),
    "bridge.mode": optional(one_of("standard", "fan")),
    "fan.overlay_subnet": optional(is_network_v4),
    "fan.underlay_subnet": optional(lambda value: None if value == "auto" else is_network_v4(value)),
    "fan.type": optional(one_of("vxlan", "ipip")),
    "ipv4.address": _address_or_keyword(4),
    "ipv4.firewall": _BOOL,
    "ipv4.nat": _BOOL,
    "ipv4.nat.order": optional(one_of("before", "after")),
    "ipv4.nat.address": optional(is_ipv4),
    "ipv4.dhcp": _BOOL,
    "ipv4.dhcp.gateway": optional(is_ipv4),
    "ipv4.dhcp.expiry": is_any,
    "ipv4.dhcp.ranges": optional(list_of(_range(4))),
    "ipv4.routes": optional(list_of(is_network_v4)),
    "ipv4.routing": _BOOL,
    "ipv4.ovn.ranges": optional(list_of(_range(4))),
    "ipv6.address": _address_or_keyword(6),
    "ipv6.firewall": _BOOL,
    "ipv6.nat": _BOOL,
    "ipv6.nat.order": optional(one_of("before", "after")),
    "ipv6.nat.address": optional(is_ipv6),
    "ipv6.dhcp": _BOOL,
    "ipv6.dhcp.expiry": is_any,
    "ipv6.dhcp.stateful": _BOOL,
    "ipv6.dhcp.ranges": optional(list_of(_range(6))),
    "ipv6.routes": optional(list_of(is_network_v6)),
    "ipv6.routing": _BOOL,
    "ipv6.ovn.ranges": optional(list_of(_range(6))),
    "dns.domain": is_any,
    "dns.mode": optional(one_of("dynamic", "managed", "none")),
    "dns.search": is_any,
    "raw.dnsmasq": is_any,
    "maas.subnet.ipv4": is_any,
    "maas.subnet.ipv6": is_any,
    **_ZONES,
    **_ACLS,
}
_PARENT = required(is_not_empty, is_interface_name)
_MAAS = {"maas.subnet.ipv4": is_any, "maas.subnet.ipv6": is_any}
# LXD: macvlan.Validate, sriov.Validate, physical.Validate, ovn.Validate.
_MACVLAN = {"parent": _PARENT, "mtu": optional(is_mtu), "vlan": optional(is_vlan), "gvrp": _BOOL, **_MAAS}
_SRIOV = {"parent": _PARENT, "mtu": optional(is_mtu), "vlan": optional(is_vlan), **_MAAS}
_PHYSICAL = {
    **_MACVLAN,
    "ipv4.gateway": optional(_cidr_address(4)),
    "ipv6.gateway": optional(_cidr_address(6)),
    "ipv4.ovn.ranges": optional(list_of(_range(4))),
    "ipv6.ovn.ranges": optional(list_of(_range(6))),
    "ipv4.routes": optional(list_of(is_network_v4)),
    "ipv4.routes.anycast": _BOOL,
    "ipv6.routes": optional(list_of(is_network_v6)),
    "ipv6.routes.anycast": _BOOL,
    "dns.nameservers": optional(list_of(is_ip)),
    "ovn.ingress_mode": optional(one_of("l2proxy", "routed")),
    "volatile.last_state.created": _BOOL,
}
_OVN = {
    "network": is_any,
    "bridge.hwaddr": optional(is_mac),
    "bridge.mtu": optional(is_mtu),
    "ipv4.address": _address_or_keyword(4),
    "ipv4.dhcp": _BOOL,
    "ipv6.address": _address_or_keyword(6),
    "ipv6.dhcp": _BOOL,
    "ipv6.dhcp.stateful": _BOOL,
    "ipv4.nat": _BOOL,
    "ipv4.nat.address": optional(is_ipv4),
    "ipv6.nat": _BOOL,
    "ipv6.nat.address": optional(is_ipv6),
    "dns.domain": is_any,
    "dns.search": is_any,
    "volatile.network.ipv4.address": optional(is_ipv4),
    "volatile.network.ipv6.address": optional(is_ipv6),
    **_ZONES,
    **_ACLS,
}
_RULES = {"bridge": _BRIDGE, "macvlan": _MACVLAN, "sriov": _SRIOV, "ovn": _OVN, "physical": _PHYSICAL}
# The types whose keys may name BGP peers (LXD: bgpValidationRules).
_BGP_TYPES = ("bridge", "physical")
_TUNNEL_RULES = {
    "protocol": optional(one_of("gre", "vxlan")),
    "local": optional(is_ip),
    "remote": optional(is_ip),
    "port": _port,
    "group": optional(is_ip),
    "id": optional(is_int64),
    "interface": is_interface_name,
    "ttl": optional(is_uint8),
}


def _dynamic_rules(name: str, network_type: str, config: dict[str, str]) -> dict[str, Validator]:
    """The rules of keys that carry a name: a bridge's ``tunnel.NAME.*`` and ``bgp.peers.NAME.*``."""
    rules = {}
    for key in config:
        fields = key.split(".")
        if network_type == "bridge" and key.startswith("tunnel."):
            if len(fields) != 3:
                raise ConfigError(f"Invalid network configuration key: {key}")
            if len(name) + len(fields[1]) > 14:
                raise ConfigError(f"Network name too long for tunnel interface: {name}-{fields[1]}")
            if fields[2] in _TUNNEL_RULES:
                rules[key] = _TUNNEL_RULES[fields[2]]
        if network_type in _BGP_TYPES and key.startswith("bgp."):
            if len(fields) != 4:
                raise ConfigError(f"Invalid network configuration key: {key}")
            bgp = {"address": optional(is_ip), "asn": optional(is_in_range(1, 4294967294)), "password": is_any}
            if fields[3] in bgp:
                rules[key] = bgp[fields[3]]
    return rules


def _check_bridge(name: str, config: dict[str, str]) -> None:
    """The checks bridge.Validate makes after the rules."""
    fan = config.get("bridge.mode", "") == "fan"
    if fan and len(name) > 11:
        raise ConfigError("Network name too long to use with the FAN (must be 11 characters or less)")
    fan_ipv4 = ("ipv4.dhcp.expiry", "ipv4.firewall", "ipv4.nat", "ipv4.nat.order")
    for key, value in sorted(config.items()):
        if fan and key.startswith("ipv4.") and key not in fan_ipv4 and value:
            raise ConfigError("IPv4 configuration may not be set when in 'fan' mode")
        if fan and key.startswith("ipv6.") and value:
            raise ConfigError("IPv6 configuration may not be set when in 'fan' mode")
        if not fan and key.startswith("fan.") and value:
            raise ConfigError("FAN configuration may only be set when in 'fan' mode")
    mtu = config.get("bridge.mtu", "")
    if mtu:
        value = int(mtu)
        if config.get("ipv6.address", "") not in ("", "none") and value < 1280:
            raise ConfigError("The minimum MTU for an IPv6 network is 1280")
        if fan and config.get("fan.type") == "ipip" and value > 1480:
            raise ConfigError("Maximum MTU for an IPIP FAN bridge is 1480")
        if fan and config.get("fan.type") != "ipip" and value > 1450:
            raise ConfigError("Maximum MTU for a VXLAN FAN bridge is 1450")
    if config.get("bridge.hwaddr"):
        if fan:
            raise ConfigError('Cannot use static "bridge.hwaddr" MAC address in fan mode')
        no_addresses = config.get("ipv4.address") == "none" and config.get("ipv6.address") == "none"
        if config.get("bridge.external_interfaces") and no_addresses:
            raise ConfigError(
                'Cannot use static "bridge.hwaddr" MAC address when bridge has no IP addresses '
                "and has external interfaces set"
            )


def _check_ovn(config: dict[str, str]) -> None:
    """The checks ovn.Validate makes after the rules that need no OVN database."""
    address = config.get("ipv6.address", "")
    if address not in ("", "none", "auto") and ipaddress.ip_interface(address).network.prefixlen < 64:
        raise ConfigError("IPv6 subnet must be at least a /64")


def _check_acls(value: str, acls: set[str]) -> None:
    """LXD's acl.Exists for a network's ``security.acls``."""
    seen = set()
    for name in (item.strip() for item in value.split(",") if item.strip()):
        if name not in acls:
            raise ConfigError(f"Network ACL {go_quote(name)} does not exist")
        if name in seen:
            raise ConfigError(f"Network ACL {go_quote(name)} specified multiple times")
        seen.add(name)


def _zone_exists(zones: set[str]) -> Validator:
    """LXD's validateZoneName: a zone of that name exists (in any project)."""

    def check(value: str) -> None:
        if value not in zones:
            raise ConfigError(f"Network zone {go_quote(value)} doesn't exist")

    return optional(check)


def validate_network_config(
    name: str,
    network_type: str,
    config: dict[str, str],
    acls: set[str] | None = None,
    zones: set[str] | None = None,
) -> None:
    """LXD's ``Validate`` of a managed network's config (keys in sorted order); ``acls`` are the
    names of its project's network ACLs, which ``security.acls`` may list, and ``zones`` those of
    every network zone, which ``dns.zone.*`` may name (None: not checked)."""
    rules = {**_RULES[network_type], **_dynamic_rules(name, network_type, config)}
    if zones is not None:
        rules.update({key: _zone_exists(zones) for key in _ZONE_KEYS if key in rules})
    for key in sorted(rules):
        try:
            rules[key](config.get(key, ""))
        except ConfigError as exc:
            raise ConfigError(f"Invalid value for network {go_quote(name)} option {go_quote(key)}: {exc}") from None
    for key in sorted(config):
        if key not in rules and not key.startswith("user."):
            raise ConfigError(f"Invalid option for network {go_quote(name)} option {go_quote(key)}")
    if network_type == "bridge":
        _check_bridge(name, config)
    if network_type == "ovn":
        _check_ovn(config)
    if network_type in ("bridge", "ovn") and config.get("security.acls") and acls is not None:
        _check_acls(config["security.acls"], acls)


def validate_network_name(network_type: str, name: str) -> None:
    """LXD's ``ValidateName``: an interface name for the types that make one, and URL-safe."""
    if network_type in ("bridge", "macvlan", "sriov", "physical"):
        is_interface_name(name)
    for char in ("/", "?", "&", "+"):
        if char in name:
            raise ConfigError(f"Cannot contain {go_quote(char)}")
    if ":" in name:
        raise ConfigError('Cannot contain ":"')


def _ipv6_enabled() -> bool:
    """Whether the host enables IPv6 on new interfaces, as LXD reads it before filling in ``auto``."""
    try:
        with open("/proc/sys/net/ipv6/conf/default/disable_ipv6") as file:
            return file.read() == "0\n"
    except OSError:
        return False


def _random_subnet(version: int, taken: set[str]) -> str:
    """A private subnet for ``auto``, as LXD's randomSubnetV4/V6 shape it, unused by other networks.

    LXD probes each candidate with pings and routes; lxdsite never sends traffic for a network,
    so it only avoids the subnets its own networks hold.
    """
    generator = random.SystemRandom()
    for _ in range(100):
        if version == 4:
            candidate = f"10.{generator.randrange(256)}.{generator.randrange(256)}.1/24"
        else:
            groups = ":".join(f"{generator.randrange(0x10000):x}" for _ in range(3))
            candidate = f"fd42:{groups}::1/64"
        if str(ipaddress.ip_interface(candidate).network) not in taken:
            return candidate
    raise ConfigError("Failed to automatically find an unused IPv4 subnet, manual configuration required")


def fill_network_config(network_type: str, config: dict[str, str], taken: set[str]) -> dict[str, str]:
    """LXD's ``FillConfig`` for a new network: ``auto`` addresses and NAT, for bridge and OVN.

    ``taken`` holds the subnets other managed networks use.
    """
    config = dict(config)
    if network_type == "bridge" and config.get("bridge.mode") == "fan":
        # LXD replaces ``auto`` with the default gateway's subnet; lxdsite keeps the keyword.
        if not config.get("fan.underlay_subnet"):
            config["fan.underlay_subnet"] = "auto"
        if not config.get("ipv4.nat"):
            config["ipv4.nat"] = "true"
    elif network_type in ("bridge", "ovn"):
        if not config.get("ipv4.address"):
            config["ipv4.address"] = "auto"
        if config["ipv4.address"] == "auto" and not config.get("ipv4.nat"):
            config["ipv4.nat"] = "true"
        if not config.get("ipv6.address") and _ipv6_enabled():
            config["ipv6.address"] = "auto"
        if config.get("ipv6.address") == "auto" and not config.get("ipv6.nat"):
            config["ipv6.nat"] = "true"
    for version in (4, 6):
        if config.get(f"ipv{version}.address") == "auto":
            config[f"ipv{version}.address"] = _random_subnet(version, taken)
    return config


def network_subnets(config: dict[str, str]) -> set[str]:
    """The subnets a network's ``ipv4.address`` and ``ipv6.address`` hold."""
    subnets = set()
    for key in ("ipv4.address", "ipv6.address"):
        value = config.get(key, "")
        if value not in ("", "none", "auto"):
            with contextlib.suppress(ValueError):
                subnets.add(str(ipaddress.ip_interface(value).network))
    return subnets
