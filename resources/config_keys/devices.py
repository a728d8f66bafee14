"""Devices (lxd/device): the checks LXD runs on a profile's or an instance's devices."""

import ipaddress
import re
from collections.abc import Callable
from typing import NamedTuple

from ..go import go_quote
from .errors import ConfigError
from .go_parse import (
    _GO_SPACE,
    _atoi,
    _go_len,
    _is_ipv4,
    _parse_cidr,
    _parse_int,
    _parse_ip,
    _parse_uint,
    _split_host_port,
)
from .validators import (
    _BOOL,
    Validator,
    _is_true,
    is_any,
    is_device_id,
    is_infiniband_mac,
    is_interface_name,
    is_ip,
    is_ipv4,
    is_ipv6,
    is_mac,
    is_mtu,
    is_network_v4,
    is_network_v6,
    is_not_empty,
    is_pci_address,
    is_size,
    is_uint8,
    is_uint32,
    is_vlan,
    list_of,
    one_of,
    optional,
    required,
)

_UNSUPPORTED = "Unsupported device type"


def _check_rules(device: dict[str, str], rules: dict[str, Validator]) -> None:
    """LXD's deviceConfig.Device.Validate: run every rule, then refuse keys without one."""
    for key in sorted(rules):
        try:
            rules[key](device.get(key, ""))
        except ConfigError as exc:
            raise ConfigError(f"Invalid value for device option {go_quote(key)}: {exc}") from None
    kind = device.get("type", "")
    for key in sorted(device):
        implicit = (
            key == "type"
            or key.startswith("user.")
            or (key == "nictype" and kind in ("nic", "infiniband"))
            or (key == "gputype" and kind == "gpu")
        )
        if key not in rules and not implicit:
            raise ConfigError(f"Invalid device option {go_quote(key)}")


def _unix_number(message: str, base: int = 10) -> Validator:
    """LXD's unixValidDeviceNum / unixValidUserID / unixValidOctalFileMode."""

    def check(value: str) -> None:
        try:
            _parse_uint(value, base=base, bits=32)
        except ConfigError:
            raise ConfigError(message) from None

    return optional(check)


_UNIX_ID = _unix_number("Invalid value for a UNIX ID")
_UNIX_MODE = _unix_number("Invalid value for an octal file mode", base=8)
_UNIX_DEVICE_NUMBER = _unix_number("Invalid value for a UNIX device number")
_DISK_REQUIRED_AND_OPTIONAL = 'Cannot use both "required" and deprecated "optional" properties at the same time'
_DISK_RECURSIVE_READONLY = "Recursive read-only bind-mounts aren't currently supported by the kernel"
_CEPH = "ceph.cluster_name/ceph.user_name"
_PROPAGATIONS = ("", "private", "shared", "slave", "unbindable", "rshared", "rslave", "runbindable", "rprivate")


class NetworkLookup(NamedTuple):
    """The managed networks a NIC's ``network`` (or ``parent``) may name: those of ``project``
    (the network project of the device's project), found by ``find(name)`` as ``(type, config)``
    or None."""

    project: str
    find: Callable[[str], tuple[str, dict[str, str]] | None]


class _Context(NamedTuple):
    """What a device check may look at besides the device: LXD's instance.ConfigReader."""

    instance_type: str  # "any" for profiles, else "container" or "virtual-machine".
    devices: dict[str, dict[str, str]]
    networks: NetworkLookup | None = None


def _validate_disk(device: dict[str, str], ctx: _Context) -> None:
    """LXD's disk.validateConfig, minus its host file system and storage pool look-ups."""

    def propagation(_value: str) -> None:
        # LXD checks the "bind" key here, not "propagation" (lxd/device/disk.go).
        if device.get("bind", "") not in _PROPAGATIONS:
            raise ConfigError("Invalid propagation value. Must be one of: " + ", ".join(_PROPAGATIONS))

    flags = dict.fromkeys(["required", "optional", "readonly", "recursive", "shift"], _BOOL)
    free = ["source", "limits.read", "limits.write", "limits.max", "pool", "raw.mount.options", "path"]
    anything = dict.fromkeys([*free, "ceph.cluster_name", "ceph.user_name"], is_any)
    sizes = {"size": optional(is_size), "size.state": optional(is_size), "boot.priority": optional(is_uint32)}
    _check_rules(device, {**flags, **anything, **sizes, "propagation": propagation})
    get = device.get
    path, source, pool = get("path", ""), get("source", ""), get("pool", "")
    same_path = sum(d.get("type") == "disk" and d.get("path") == path for d in ctx.devices.values())
    ceph = get("ceph.cluster_name") or get("ceph.user_name")
    checks = [
        (get("required") and get("optional"), _DISK_REQUIRED_AND_OPTIONAL),
        (source == "" and path != "/", 'Disk entry is missing the required "source" or "path" property'),
        (path == "/" and source != "", 'Root disk entry may not have a "source" property set'),
        (path == "/" and pool == "", 'Root disk entry must have a "pool" property set'),
        (get("size") and path != "/", "Only the root disk may have a size quota"),
        (get("size.state") and path != "/", "Only the root disk may have a migration size quota"),
        # LXD also refuses "recursive" when the source is not a directory on the host; we cannot look.
        (get("recursive") and path == "/", "The recursive option is only supported for additional bind-mounted paths"),
        (_is_true(get("recursive", "")) and _is_true(get("readonly", "")), _DISK_RECURSIVE_READONLY),
        (
            ceph and not source.startswith(("ceph:", "cephfs:")),
            f"Invalid options {_CEPH} for source {go_quote(source)}",
        ),
        (path and same_path > 1, f"More than one disk device uses the same path {go_quote(path)}"),
    ]
    for failed, message in checks:
        if failed:
            raise ConfigError(message)
    local_source = (
        pool == "" and source not in ("", "cloud-init:config") and not source.startswith(("ceph:", "cephfs:"))
    )
    if local_source and not source.startswith("/"):
        raise ConfigError("Source path must be absolute for local sources")
    # LXD checks that local sources and pools exist only for instances; we take them as given.
    if pool and get("shift"):
        raise ConfigError(
            'The "shift" property cannot be used with custom storage volumes'
            ' (set "security.shifted=true" on the volume instead)'
        )
    if pool and source.startswith("/"):
        raise ConfigError("Storage volumes cannot be specified as absolute paths")


def _validate_unix(device: dict[str, str], ctx: _Context) -> None:
    """LXD's unixCommon.validateConfig (unix-char, unix-block)."""
    if ctx.instance_type not in ("any", "container"):
        raise ConfigError(_UNSUPPORTED)

    def source(value: str) -> None:
        if value and not value.startswith("/dev"):
            raise ConfigError("Path needs to be in /dev")

    rules = {"source": source, "path": is_any, "major": _UNIX_DEVICE_NUMBER, "minor": _UNIX_DEVICE_NUMBER}
    _check_rules(device, {**rules, "uid": _UNIX_ID, "gid": _UNIX_ID, "mode": _UNIX_MODE, "required": _BOOL})
    if not device.get("source") and not device.get("path"):
        raise ConfigError('Unix device entry is missing the required "source" or "path" property')


def _validate_usb(device: dict[str, str], ctx: _Context) -> None:
    """LXD's usb.validateConfig and unixHotplug.validateConfig."""
    if device.get("type") == "unix-hotplug" and ctx.instance_type not in ("any", "container"):
        raise ConfigError(_UNSUPPORTED)
    ids = {"vendorid": optional(is_device_id), "productid": optional(is_device_id)}
    _check_rules(device, {**ids, "uid": _UNIX_ID, "gid": _UNIX_ID, "mode": _UNIX_MODE, "required": _BOOL})
    if device.get("type") == "unix-hotplug" and not device.get("vendorid") and not device.get("productid"):
        raise ConfigError("Unix hotplug devices require a vendorid or a productid")


def _validate_none(device: dict[str, str], ctx: _Context) -> None:
    """LXD's none.validateConfig: no options at all."""
    _check_rules(device, {})


def _validate_tpm(device: dict[str, str], ctx: _Context) -> None:
    """LXD's tpm.validateConfig: containers need path and pathrm."""
    check = is_not_empty if ctx.instance_type == "container" else is_any
    try:
        _check_rules(device, {"path": check, "pathrm": check})
    except ConfigError as exc:
        raise ConfigError(f"Failed to validate config: {exc}") from None


def _validate_pci(device: dict[str, str], ctx: _Context) -> None:
    """LXD's pci.validateConfig (virtual machines and profiles only)."""
    if ctx.instance_type == "container":
        raise ConfigError(_UNSUPPORTED)
    try:
        _check_rules(device, {"address": is_pci_address})
    except ConfigError as exc:
        raise ConfigError(f"Failed to validate config: {exc}") from None


_GPU_VALIDATORS: dict[str, Validator] = {
    "vendorid": optional(is_device_id),
    "productid": optional(is_device_id),
    "id": is_any,
    "pci": is_pci_address,
    "uid": _UNIX_ID,
    "gid": _UNIX_ID,
    "mode": _UNIX_MODE,
    "mig.gi": is_uint8,
    "mig.ci": is_uint8,
    "mig.uuid": is_any,
    "mdev": is_any,
}
# LXD: gpu_*.go, per gputype: (instance types, required fields, optional fields).
_GPU_TYPES = {
    "physical": (("any", "container", "virtual-machine"), [], ["vendorid", "productid", "id", "pci"]),
    "mig": (("any", "container"), [], ["vendorid", "productid", "id", "pci", "mig.gi", "mig.ci", "mig.uuid"]),
    "mdev": (("any", "virtual-machine"), ["mdev"], ["vendorid", "productid", "id", "pci"]),
    "sriov": (("any", "virtual-machine"), [], ["vendorid", "productid", "id", "pci"]),
}


def _validate_gpu(device: dict[str, str], ctx: _Context) -> None:
    """LXD's gpu*.validateConfig; an unknown gputype means a physical GPU."""
    gputype = device.get("gputype", "") if device.get("gputype") in _GPU_TYPES else "physical"
    types, required_fields, optional_fields = _GPU_TYPES[gputype]
    if ctx.instance_type not in types:
        raise ConfigError(_UNSUPPORTED)
    if gputype == "physical" and ctx.instance_type in ("any", "container"):
        optional_fields = [*optional_fields, "uid", "gid", "mode"]
    rules = {key: optional(_GPU_VALIDATORS[key]) for key in optional_fields}
    rules.update({key: required(is_not_empty, _GPU_VALIDATORS[key]) for key in required_fields})
    _check_rules(device, rules)
    for key, others in (("pci", ("id", "productid", "vendorid")), ("id", ("pci", "productid", "vendorid"))):
        for other in others:
            if device.get(key) and device.get(other):
                raise ConfigError(f'Cannot use "{other}" when when "{key}" is set')
    if gputype == "mig" and device.get("mig.uuid"):
        for other in ("mig.gi", "mig.ci"):
            if device.get(other):
                raise ConfigError(f'Cannot use "{other}" when "mig.uuid" is set')
    elif gputype == "mig" and not (device.get("mig.gi") and device.get("mig.ci")):
        raise ConfigError('Either "mig.uuid" or both "mig.gi" and "mig.ci" must be set')


def _gateway(value: str) -> None:
    """LXD's networkValidGateway."""
    if value not in ("none", "auto"):
        raise ConfigError(f"Invalid gateway: {value}")


# LXD: nicValidationRules' defaultValidators (lxd/device/nic.go).
_NIC_VALIDATORS: dict[str, Validator] = {
    "acceleration": optional(one_of("none", "sriov")),
    "name": optional(is_interface_name),
    "mtu": optional(is_mtu),
    "vlan": is_vlan,
    "gvrp": _BOOL,
    "hwaddr": is_mac,
    "security.port_isolation": _BOOL,
    "ipv4.address": optional(is_ipv4),
    "ipv6.address": optional(is_ipv6),
    "ipv4.routes": optional(list_of(is_network_v4)),
    "ipv6.routes": optional(list_of(is_network_v6)),
    "boot.priority": optional(is_uint32),
    "ipv4.gateway": _gateway,
    "ipv6.gateway": _gateway,
    "ipv4.host_address": optional(is_ipv4),
    "ipv6.host_address": optional(is_ipv6),
    "ipv4.host_table": optional(is_uint32),
    "ipv6.host_table": optional(is_uint32),
    "ipv4.routes.external": optional(list_of(is_network_v4)),
    "ipv6.routes.external": optional(list_of(is_network_v6)),
    "security.acls.default.ingress.action": optional(one_of("allow", "drop", "reject")),
    "security.acls.default.egress.action": optional(one_of("allow", "drop", "reject")),
    "security.acls.default.ingress.logged": _BOOL,
    "security.acls.default.egress.logged": _BOOL,
}
_LIMITS = ["limits.ingress", "limits.egress", "limits.max"]
_MAAS = ["maas.subnet.ipv4", "maas.subnet.ipv6"]
_ROUTES = ["ipv4.routes", "ipv6.routes"]
_HOST_TABLES = ["ipv4.host_table", "ipv6.host_table"]
_GATEWAYS = ["ipv4.gateway", "ipv6.gateway"]
_BRIDGED = ["ipv4.address", "ipv6.address", *_ROUTES, "ipv4.routes.external", "ipv6.routes.external"]
_BRIDGED += ["security.mac_filtering", "security.ipv4_filtering", "security.ipv6_filtering", "security.port_isolation"]
_BOOT_VLAN = [*_MAAS, "boot.priority", "vlan"]
_ROUTED = [*_GATEWAYS, *_ROUTES, "ipv4.host_address", "ipv6.host_address", *_HOST_TABLES, "gvrp"]
# LXD: nic_*.go, per nictype: (required fields, optional fields); containers and profiles.
_NIC_TYPES = {
    "physical": (["parent"], ["name", *_MAAS, "boot.priority", "gvrp", "mtu", "hwaddr", "vlan"]),
    "p2p": ([], ["name", "mtu", "hwaddr", "host_name", *_LIMITS, *_ROUTES, "boot.priority"]),
    "bridged": (
        ["parent"],
        ["name", "network", "parent", "mtu", "hwaddr", "host_name", *_LIMITS, *_BRIDGED, *_BOOT_VLAN],
    ),
    "macvlan": (["parent"], ["name", "network", "parent", "mtu", "hwaddr", "vlan", *_MAAS, "boot.priority", "gvrp"]),
    "ipvlan": (["parent"], ["name", "mtu", "hwaddr", "vlan", *_GATEWAYS, *_HOST_TABLES, "gvrp"]),
    "routed": ([], ["name", "parent", "mtu", "hwaddr", "host_name", "vlan", *_LIMITS, *_ROUTED]),
    "sriov": (
        ["parent"],
        ["name", "network", "parent", "hwaddr", "vlan", "security.mac_filtering", *_MAAS, "boot.priority", "mtu"],
    ),
}


def _nic_rules(required_fields: list[str], optional_fields: list[str]) -> dict[str, Validator]:
    """LXD's nicValidationRules: default validators, optional or required."""
    rules = {key: optional(_NIC_VALIDATORS.get(key, is_any)) for key in optional_fields}
    rules.update({key: required(is_not_empty, _NIC_VALIDATORS.get(key, is_any)) for key in required_fields})
    return rules


def _address_list(version: int, l2: bool) -> Validator:
    """ipvlan's ipv4/ipv6.address: addresses, or in l2 mode addresses with an optional prefix."""
    single = is_ipv4 if version == 4 else is_ipv6
    if not l2:
        return optional(list_of(single))

    def check(value: str) -> None:
        for item in value.split(","):
            item = item.strip(_GO_SPACE)
            try:
                single(item)
                item = f"{item}/{24 if version == 4 else 64}"
            except ConfigError:
                pass
            ip, _ = _parse_cidr(item)
            if _is_ipv4(ip) != (version == 4):
                raise ConfigError(f"Not an IPv{version} CIDR address: {item}")

    return optional(check)


def _vlan_range(value: str) -> None:
    """LXD's validate.ParseNetworkVLANRange."""
    try:
        is_vlan(value)
        return
    except ConfigError:
        pass
    bounds = value.split("-")
    if len(bounds) != 2:
        raise ConfigError(f"Invalid VLAN range input: {value}")
    try:
        start, end = is_vlan(bounds[0]) or _atoi(bounds[0]), is_vlan(bounds[1]) or _atoi(bounds[1])
    except ConfigError:
        raise ConfigError(f"Invalid VLAN range boundary. start:{bounds[0]}, end:{bounds[1]}") from None
    if start > end:
        raise ConfigError(f"Invalid VLAN range boundary. start:{start} is higher than end:{end}")


def _nic_extra_rules(device: dict[str, str], nictype: str) -> dict[str, Validator]:
    """The per-nictype rules LXD adds on top of nicValidationRules."""
    if nictype == "bridged":

        def tagged(value: str) -> None:
            # LXD: shared.SplitNTrimSpace keeps empty items ("1,,2") unless the whole value is blank.
            items = value.split(",") if value.strip(_GO_SPACE) else []
            for vlan in (item.strip(_GO_SPACE) for item in items):
                if vlan == device.get("vlan", ""):
                    raise ConfigError(f"Tagged VLAN ID {go_quote(vlan)} cannot be the same as untagged VLAN ID")
                _vlan_range(vlan)

        return {
            "vlan": lambda v: None if v in ("", "none") else is_vlan(v),
            "vlan.tagged": optional(tagged),
            "ipv4.address": lambda v: None if v in ("", "none") else is_ipv4(v),
            "ipv6.address": lambda v: None if v in ("", "none") else is_ipv6(v),
        }
    if nictype == "ipvlan":
        l2 = device.get("mode", "") == "l2"

        def mode(value: str) -> None:
            if value and value not in ("l3s", "l2"):
                raise ConfigError("Must be one of: l3s, l2")

        gateways = {"ipv4.gateway": optional(is_ipv4), "ipv6.gateway": optional(is_ipv6)} if l2 else {}
        return {"ipv4.address": _address_list(4, l2), "ipv6.address": _address_list(6, l2), "mode": mode, **gateways}
    if nictype == "routed":
        return {
            "ipv4.address": optional(list_of(is_ipv4)),
            "ipv6.address": optional(list_of(is_ipv6)),
            "ipv4.neighbor_probe": _BOOL,
            "ipv6.neighbor_probe": _BOOL,
        }
    return {}


def _check_routed(device: dict[str, str]) -> None:
    """LXD's nicRouted checks after the rules."""
    for key in ("ipv4.address", "ipv6.address"):
        seen: set[str] = set()
        for address in (item.strip(_GO_SPACE) for item in device.get(key, "").split(",") if device.get(key)):
            if address in seen:
                raise ConfigError(f"Duplicate address {go_quote(address)} in {go_quote(key)}")
            seen.add(address)
    for family in ("ipv4", "ipv6"):
        if device.get(f"{family}.routes") and not device.get(f"{family}.address"):
            raise ConfigError(f"{family}.routes requires {family}.address to be set")
    if not device.get("parent") and device.get("vlan"):
        raise ConfigError("The vlan setting can only be used when combined with a parent interface")


# LXD: nictype.NICType, the NIC type of a network's NICs.
NETWORK_NICTYPES = {"bridge": "bridged", "macvlan": "macvlan", "sriov": "sriov", "ovn": "ovn"}
# LXD: nic_bridged/nic_macvlan/nic_sriov validateConfig: what a NIC naming a network may not set,
# and what it takes from the network.
_BANNED_WITH_NETWORK = {
    "bridged": ["nictype", "parent", "mtu", "maas.subnet.ipv4", "maas.subnet.ipv6"],
    "macvlan": ["nictype", "parent", "mtu", "vlan", "maas.subnet.ipv4", "maas.subnet.ipv6", "gvrp"],
    "sriov": ["nictype", "parent", "mtu", "vlan", "maas.subnet.ipv4", "maas.subnet.ipv6"],
}
_INHERITED = {
    "bridged": ["maas.subnet.ipv4", "maas.subnet.ipv6"],
    "macvlan": ["mtu", "vlan", "maas.subnet.ipv4", "maas.subnet.ipv6", "gvrp"],
    "sriov": ["mtu", "vlan", "maas.subnet.ipv4", "maas.subnet.ipv6"],
}


def _dhcp_subnet(config: dict[str, str], family: str):
    """LXD's bridge DHCPv4Subnet/DHCPv6Subnet: the bridge's subnet unless its DHCP is off."""
    if config.get(f"{family}.dhcp", "").lower() in ("false", "0", "no", "off"):
        return None
    try:
        return ipaddress.ip_interface(config.get(f"{family}.address", "")).network
    except ValueError:
        return None


def _check_with_managed_bridge(device: dict[str, str], name: str, config: dict[str, str]) -> None:
    """LXD's checkWithManagedNetwork (nic_bridged.go): static addresses against the bridge's subnets."""
    for family in ("ipv4", "ipv6"):
        address = device.get(f"{family}.address", "")
        if not address:
            continue
        subnet = _dhcp_subnet(config, family)
        filtering = _is_true(device.get(f"security.{family}_filtering", ""))
        if family == "ipv4" and subnet is None and not filtering:
            raise ConfigError(
                f'Cannot specify "ipv4.address" when DHCP is disabled (unless using security.ipv4_filtering) '
                f"on network {go_quote(name)}"
            )
        stateful = _is_true(config.get("ipv6.dhcp.stateful", ""))
        if family == "ipv6" and (subnet is None or not stateful) and not filtering:
            raise ConfigError(
                'Cannot specify "ipv6.address" when DHCP or "ipv6.dhcp.stateful" are disabled '
                f"(unless using security.ipv6_filtering) on network {go_quote(name)}"
            )
        if subnet is not None and address != "none":
            ip = _parse_ip(address)
            if ip is None or ip.version != subnet.version or ip not in subnet:
                raise ConfigError(f"Device IP address {go_quote(address)} not within network {go_quote(name)} subnet")
        parent = config.get(f"{family}.address", "")
        if parent in ("", "none"):
            return
        if address == "none" and not filtering:
            raise ConfigError(f"Cannot have {family}.address as none unless using security.{family}_filtering")
        if _parse_ip(address) == ipaddress.ip_interface(parent).ip:
            parent_name = device.get("parent", "")
            raise ConfigError(
                f"IP address {go_quote(address)} is assigned to parent managed network device {go_quote(parent_name)}"
            )
    if config.get("bridge.driver", "") in ("", "native") and device.get("vlan") == "0":
        raise ConfigError("VLAN ID 0 is not allowed for native Linux bridges")


def _check_unmanaged_parent(device: dict[str, str]) -> None:
    """LXD's rules for static addresses on a NIC bridged to an unmanaged bridge."""
    for family, version in (("ipv4", "IPv4"), ("ipv6", "IPv6")):
        if _is_true(device.get(f"security.{family}_filtering", "")):
            if not device.get(f"{family}.address"):
                needs = f"a manually specified {family}.address when using an unmanaged parent bridge"
                raise ConfigError(f"{version} filtering requires {needs}")
        elif device.get(f"{family}.address") and not device.get(f"maas.subnet.{family}"):
            raise ConfigError(f"Cannot use manually specified {family}.address when using unmanaged parent bridge")


def _nic_with_network(device: dict[str, str], networks: NetworkLookup) -> tuple[str, dict[str, str]] | None:
    """A NIC naming a managed network: its nictype and its config as the network completes it
    (None for OVN NICs, whose rules need OVN)."""
    name = device["network"]
    found = networks.find(name)
    if found is None:
        message = f"Failed to load network {go_quote(name)} for project {go_quote(networks.project)}: Network not found"
        raise ConfigError(f"Failed loading device: {message}")
    network_type, config = found
    if network_type not in NETWORK_NICTYPES:
        raise ConfigError(f"Failed loading device: Unrecognised NIC network type for network {go_quote(name)}")
    nictype = NETWORK_NICTYPES[network_type]
    if nictype == "ovn":
        return None
    for key in _BANNED_WITH_NETWORK[nictype]:
        if device.get(key):
            raise ConfigError(f'Cannot use {go_quote(key)} property in conjunction with "network" property')
    completed = dict(device)
    if nictype == "bridged":
        _check_with_managed_bridge(device, name, config)
        completed["parent"] = name
        if config.get("bridge.mtu"):
            completed["mtu"] = config["bridge.mtu"]
    else:
        completed["parent"] = config.get("parent", "")
    for key in _INHERITED[nictype]:
        if key in config:
            completed[key] = config[key]
    return nictype, completed


def _validate_nic(device: dict[str, str], ctx: _Context) -> None:
    """LXD's nic*.validateConfig for NICs given by nictype, or by a managed network.

    Without a ``NetworkLookup`` a NIC naming a network is taken as given.
    """
    by_network = bool(device.get("network"))
    if by_network:
        resolved = None if ctx.networks is None else _nic_with_network(device, ctx.networks)
        if resolved is None:
            return
        nictype, device = resolved
    else:
        nictype = device.get("nictype", "")
    if nictype == "bridged" and ctx.networks is not None and not by_network:
        managed = ctx.networks.find(device.get("parent", "")) if device.get("parent") else None
        if managed is not None and managed[0] == "bridge":
            _check_with_managed_bridge(device, device["parent"], managed[1])
        elif managed is None:
            _check_unmanaged_parent(device)
    if nictype == "ovn":
        raise ConfigError('Error loading network config for "": Network not found')
    if nictype not in _NIC_TYPES:
        raise ConfigError(f"Failed loading device: {_UNSUPPORTED}")  # Rewritten by the caller.
    if nictype == "ipvlan" and ctx.instance_type not in ("any", "container"):
        raise ConfigError(_UNSUPPORTED)
    filtering = _is_true(device.get("security.ipv4_filtering", "")) or _is_true(
        device.get("security.ipv6_filtering", "")
    )
    if nictype == "bridged" and filtering and (device.get("vlan") or device.get("vlan.tagged")):
        raise ConfigError("IP filtering cannot be used with VLAN filtering")
    required_fields, optional_fields = _NIC_TYPES[nictype]
    # A NIC naming a network needs that, not a parent (the network gave it one).
    required_fields = ["network"] if by_network else required_fields
    _check_rules(device, {**_nic_rules(required_fields, optional_fields), **_nic_extra_rules(device, nictype)})
    if nictype == "routed":
        _check_routed(device)


def _validate_infiniband(device: dict[str, str], ctx: _Context) -> None:
    """LXD's infinibandPhysical/infinibandSRIOV.validateConfig."""
    if device.get("nictype") not in ("physical", "sriov"):
        raise ConfigError(f"Failed loading device: {_UNSUPPORTED}")
    rules = _nic_rules(["parent"], ["name", "mtu", "hwaddr"])
    _check_rules(device, {**rules, "hwaddr": optional(is_infiniband_mac)})


class _ProxyAddress(NamedTuple):
    """A parsed proxy listen/connect address (LXD: deviceConfig.ProxyAddress)."""

    conn_type: str
    address: str
    ports: int


def _proxy_address(value: str) -> _ProxyAddress:
    """LXD's ProxyParseAddr: "tcp:1.2.3.4:80,90-95", "udp:...", "unix:/path" or "unix:@abstract"."""
    conn_type, _, rest = value.partition(":")
    if conn_type not in ("tcp", "udp", "unix"):
        raise ConfigError(f"Unknown protocol type {go_quote(conn_type)}")
    if rest == "":
        raise ConfigError("Missing address")
    if conn_type == "unix":
        return _ProxyAddress(conn_type, rest, 0)
    host, port = _split_host_port(rest)
    optional(is_ip)(host)
    count = 0
    for item in port.split(","):
        bounds = item.split("-")
        if len(bounds) > 2:
            raise ConfigError(f"Invalid port range {go_quote(item)}")
        first, last = _parse_int(bounds[0]), _parse_int(bounds[-1])
        if len(bounds) == 2 and last <= first:
            raise ConfigError("End port should be higher than start port")
        count += last - first + 1
    return _ProxyAddress(conn_type, host, count)


def _check_proxy_nat(device: dict[str, str], listen: _ProxyAddress, connect: _ProxyAddress) -> None:
    """LXD's proxy checks for nat=true."""
    if device.get("bind", "") not in ("", "host"):
        raise ConfigError("Only host-bound proxies can use NAT")
    if "unix" in (listen.conn_type, connect.conn_type) or listen.conn_type != connect.conn_type:
        raise ConfigError(f"Proxying {listen.conn_type} <-> {connect.conn_type} is not supported when using NAT")
    listen_ip, connect_ip = _parse_ip(listen.address), _parse_ip(connect.address)
    if listen_ip is not None and int(listen_ip) in (0, 0xFFFF_0000_0000):  # Go's IP.Equal(IPv4zero/IPv6zero)
        shown = "::" if int(listen_ip) == 0 and listen_ip.version == 6 else "0.0.0.0"
        raise ConfigError(f"Cannot listen on wildcard address {go_quote(shown)} when in nat mode")
    if bool(listen_ip and _is_ipv4(listen_ip)) != bool(connect_ip and _is_ipv4(connect_ip)):
        raise ConfigError("Cannot mix IP versions between listen and connect in nat mode")


def _validate_proxy(device: dict[str, str], ctx: _Context) -> None:
    """LXD's proxy.validateConfig."""

    def bind(_value: str) -> None:
        if device.get("bind") not in ("host", "instance", "guest", "container"):
            raise ConfigError('Invalid binding side given. Must be "host" or "instance"')

    ids = dict.fromkeys(["gid", "uid", "security.uid", "security.gid"], _UNIX_ID)
    flags = {"nat": _BOOL, "proxy_protocol": _BOOL, "mode": _UNIX_MODE, "bind": optional(bind)}
    addresses = {"listen": required(_proxy_address), "connect": required(_proxy_address)}
    _check_rules(device, {**addresses, **flags, **ids})
    if ctx.instance_type == "virtual-machine" and not _is_true(device.get("nat", "")):
        raise ConfigError("Only NAT mode is supported for proxies on VM instances")
    listen, connect = _proxy_address(device["listen"]), _proxy_address(device["connect"])
    if connect.ports > (1 if listen.conn_type == "unix" else listen.ports):
        raise ConfigError("Mismatch between listen port(s) and connect port(s) count")
    nat = _is_true(device.get("nat", ""))
    if _is_true(device.get("proxy_protocol", "")) and (not device["connect"].startswith("tcp") or nat):
        raise ConfigError("The PROXY header can only be sent to tcp servers in non-nat mode")
    abstract_or_inet = not device["listen"].startswith("unix:") or device["listen"].startswith("unix:@")
    if abstract_or_inet and (device.get("uid") or device.get("gid") or device.get("mode")):
        raise ConfigError("Only proxy devices for non-abstract unix sockets can carry uid, gid, or mode properties")
    if nat:
        _check_proxy_nat(device, listen, connect)


# LXD: device.newByType, the device types it knows.
DEVICE_TYPES: dict[str, Callable[[dict[str, str], _Context], None]] = {
    "disk": _validate_disk,
    "nic": _validate_nic,
    "infiniband": _validate_infiniband,
    "gpu": _validate_gpu,
    "proxy": _validate_proxy,
    "usb": _validate_usb,
    "unix-char": _validate_unix,
    "unix-block": _validate_unix,
    "unix-hotplug": _validate_usb,
    "none": _validate_none,
    "tpm": _validate_tpm,
    "pci": _validate_pci,
}


def is_device_name(name: str) -> None:
    """LXD: validate.IsDeviceName."""
    if not 1 <= _go_len(name) <= 63:
        raise ConfigError("Name must be 1-63 characters long")
    if name.startswith("."):
        raise ConfigError('Name must not start with "." character')
    if not re.fullmatch(r"[/.\-:_a-zA-Z0-9]+", name):
        raise ConfigError(
            "Name can only contain alphanumeric, forward slash, hyphen, colon, underscore and full stop characters"
        )


def _validate_device(name: str, device: dict[str, str], ctx: _Context) -> None:
    """LXD's device.Validate: name, then type, then the type's own checks."""
    is_device_name(name)
    loading = f"Failed loading device {go_quote(name)}: "
    if device.get("type", "") == "":
        raise ConfigError(loading + "Missing device type in config")
    if device["type"] not in DEVICE_TYPES:
        raise ConfigError(loading + _UNSUPPORTED)
    try:
        DEVICE_TYPES[device["type"]](device, ctx)
    except ConfigError as exc:
        message = str(exc)
        # Errors of loading the device (its type, its network) name the device.
        failed = "Failed loading device: "
        raise ConfigError(loading + message.removeprefix(failed) if message.startswith(failed) else message) from None


def validate_devices(
    devices: dict[str, dict[str, str]], *, profile: bool, networks: NetworkLookup | None = None
) -> None:
    """Raise ConfigError with LXD's text for the first invalid device (a profile's or an instance's);
    ``networks`` finds the managed networks NICs name."""
    ctx = _Context("any" if profile else "container", devices, networks)
    for name in sorted(devices):
        # LXD: instance/drivers/load.go validDevices.
        if _go_len(name) > 64:
            raise ConfigError("The maximum device name length is 64 characters")
        try:
            _validate_device(name, devices[name], ctx)
        except ConfigError as exc:
            raise ConfigError(f"Device validation failed for {go_quote(name)}: {exc}") from None
