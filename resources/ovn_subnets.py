"""OVN external subnets (lxd/network/driver_ovn.go getExternalSubnetInUse at tag lxd-5.0.2), and where
an OVN network's forward may listen (ForwardCreate): inside its uplink's ``ipv4.routes``/``ipv6.routes``,
and on no external subnet another OVN network on that uplink, an OVN NIC's external route or a
forward of such a network already uses."""

import ipaddress

from .config_keys import network_forward
from .config_keys.errors import ConfigError
from .go import go_quote
from .models import Network, NetworkForward, Project
from .network_usage import Usage


class UplinkNotFound(ConfigError):
    """The OVN network's uplink is not a network of the default project (LXD's 404)."""


def _subnet(value):
    """Go's net.ParseCIDR network of ``value``, or None."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False) if "/" in value else None
    except ValueError:
        return None


def contains(outer, inner) -> bool:
    """LXD's SubnetContains: ``inner`` wholly inside ``outer``, of the same family."""
    return outer.version == inner.version and inner.subnet_of(outer)


def uplink_routes(uplink: Network) -> list:
    routes = []
    for key in ("ipv4.routes", "ipv6.routes"):
        items = [item.strip() for item in uplink.config.get(key, "").split(",") if item.strip()]
        routes += [route for route in map(_subnet, items) if route is not None]
    return routes


def _is_false_or_empty(value: str) -> bool:
    return value.lower() in ("", "false", "0", "no", "off")


NETWORK, SNAT, INSTANCE, FORWARD = "network", "snat", "instance", "forward"


def external_usages(uplink_name: str) -> list:
    """LXD's getExternalSubnetInUse: (subnet, project, network name, usage) for every external
    subnet the OVN networks on ``uplink_name``, their OVN NICs' routes and their forwards use."""
    on_uplink = [
        other
        for other in Network.objects.filter(type="ovn").select_related("project")
        if other.config.get("network") == uplink_name
    ]
    usages = []
    for other in on_uplink:
        where = (other.project.name, other.name)
        for family, size in (("ipv4", 32), ("ipv6", 128)):
            if _is_false_or_empty(other.config.get(f"{family}.nat", "")):
                subnet = _subnet(other.config.get(f"{family}.address", ""))
                if subnet is not None:
                    usages.append((subnet, *where, NETWORK))
            nat_address = other.config.get(f"{family}.nat.address", "")
            if nat_address:
                usages.append((ipaddress.ip_network(f"{nat_address}/{size}", strict=False), *where, SNAT))
    names_by_project = {}
    for other in on_uplink:
        names_by_project.setdefault(other.project.name, set()).add(other.name)
    for _, (_, uses_project), devices, _ in Usage.read().instances:
        names = names_by_project.get(uses_project, set())
        for device in devices.values():
            used = {device.get("network"), device.get("parent")} & names
            if device.get("type") != "nic" or not used:
                continue
            for key in ("ipv4.routes.external", "ipv6.routes.external"):
                routes = (_subnet(item) for item in device.get(key, "").split(",") if item.strip())
                name = device.get("network") if device.get("network") in names else device.get("parent")
                usages += [(route, uses_project, name, INSTANCE) for route in routes if route is not None]
    forwards = NetworkForward.objects.filter(network__in=on_uplink).select_related("network__project")
    for forward in forwards:
        where = (forward.network.project.name, forward.network.name)
        usages.append((network_forward.listen_network(forward.listen_address), *where, FORWARD))
    return usages


def _subnets_in_use(network: Network, uplink_name: str) -> list:
    """The external subnets a forward of ``network`` may not overlap: all but its own addresses."""
    own = (network.project.name, network.name)
    return [
        subnet
        for subnet, project, name, usage in external_usages(uplink_name)
        if not ((project, name) == own and usage in (NETWORK, SNAT))
    ]


def check_ovn_listen(network: Network, listen) -> None:
    """ConfigError with LXD's text where the OVN ``network`` may not take a forward on ``listen``
    (a single-address network)."""
    uplink_name = network.config.get("network", "")
    uplink = Network.objects.filter(project__name=Project.DEFAULT_NAME, name=uplink_name).first()
    if uplink is None:
        raise UplinkNotFound(f"Failed to load uplink network {go_quote(uplink_name)}: Network not found")
    # LXD checks the project's restricted.networks.subnets first; lxdsite refuses that key (no
    # uplink route is checked on projects), so no project here holds it.
    if not any(contains(route, listen) for route in uplink_routes(uplink)):
        raise ConfigError(f"Uplink network doesn't contain {go_quote(str(listen))} in its routes")
    for subnet in _subnets_in_use(network, uplink_name):
        if contains(subnet, listen) or contains(listen, subnet):
            # LXD's text is vague on purpose: it names nothing outside the network's project.
            quoted = go_quote(str(listen))
            raise ConfigError(f"Forward listen address {quoted} overlaps with another OVN network or NIC")


def _subnet_of(config, ip):
    """The network's subnet of ``ip``'s family (``ipvN.address``), or None."""
    value = config.get("ipv4.address" if ip.version == 4 else "ipv6.address", "")
    return _subnet(value)


def check_forward_targets(network: Network, config: dict[str, str]) -> None:
    """ConfigError with LXD's text where an OVN network's new ``config`` leaves one of its forwards'
    target addresses outside its subnets (the end of the ovn driver's Validate)."""
    for forward in NetworkForward.objects.filter(network=network).order_by("id"):
        targets = [("default target", forward.config.get("target_address", ""))]
        targets += [("port target", port["target_address"]) for port in forward.ports]
        for kind, target in targets:
            ip = _parse_target(target)
            if ip is None:
                continue
            subnet = _subnet_of(config, ip)
            if subnet is None or not contains(subnet, ipaddress.ip_network(ip)):
                raise ConfigError(
                    f"Network forward for {go_quote(forward.listen_address)} has a {kind} address "
                    f"{go_quote(str(ip))} that is not within the network subnet"
                )


def _parse_target(value):
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped is not None else ip
