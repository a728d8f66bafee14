"""Where an OVN network's forward may listen (lxd/network/driver_ovn.go ForwardCreate at tag lxd-5.0.2):
inside its uplink's ``ipv4.routes``/``ipv6.routes``, and on no external subnet another OVN network
on that uplink, an OVN NIC's external route or a forward of such a network already uses."""

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


def _contains(outer, inner) -> bool:
    """LXD's SubnetContains: ``inner`` wholly inside ``outer``, of the same family."""
    return outer.version == inner.version and inner.subnet_of(outer)


def _uplink_routes(uplink: Network) -> list:
    routes = []
    for key in ("ipv4.routes", "ipv6.routes"):
        items = [item.strip() for item in uplink.config.get(key, "").split(",") if item.strip()]
        routes += [route for route in map(_subnet, items) if route is not None]
    return routes


def _is_false_or_empty(value: str) -> bool:
    return value.lower() in ("", "false", "0", "no", "off")


def _network_external_subnets(network: Network) -> list:
    """An OVN network's own external subnets: its addresses without NAT, its SNAT addresses."""
    subnets = []
    for family, size in (("ipv4", 32), ("ipv6", 128)):
        if _is_false_or_empty(network.config.get(f"{family}.nat", "")):
            subnet = _subnet(network.config.get(f"{family}.address", ""))
            if subnet is not None:
                subnets.append(subnet)
        nat_address = network.config.get(f"{family}.nat.address", "")
        if nat_address:
            subnets.append(ipaddress.ip_network(f"{nat_address}/{size}", strict=False))
    return subnets


def _subnets_in_use(network: Network, uplink_name: str) -> list:
    """LXD's getExternalSubnetInUse for ``network``, leaving out its own addresses (LXD skips them)."""
    on_uplink = [
        other
        for other in Network.objects.filter(type="ovn").select_related("project")
        if other.config.get("network") == uplink_name
    ]
    subnets = []
    for other in on_uplink:
        if other.pk != network.pk:
            subnets += _network_external_subnets(other)
    names_by_project = {}
    for other in on_uplink:
        names_by_project.setdefault(other.project.name, set()).add(other.name)
    for _, (_, uses_project), devices, _ in Usage.read().instances:
        names = names_by_project.get(uses_project, set())
        for device in devices.values():
            if device.get("type") != "nic" or not ({device.get("network"), device.get("parent")} & names):
                continue
            for key in ("ipv4.routes.external", "ipv6.routes.external"):
                routes = (_subnet(item) for item in device.get(key, "").split(",") if item.strip())
                subnets += [route for route in routes if route is not None]
    listens = NetworkForward.objects.filter(network__in=on_uplink).values_list("listen_address", flat=True)
    subnets += [network_forward.listen_network(address) for address in listens]
    return subnets


def check_ovn_listen(network: Network, listen) -> None:
    """ConfigError with LXD's text where the OVN ``network`` may not take a forward on ``listen``
    (a single-address network)."""
    uplink_name = network.config.get("network", "")
    uplink = Network.objects.filter(project__name=Project.DEFAULT_NAME, name=uplink_name).first()
    if uplink is None:
        raise UplinkNotFound(f"Failed to load uplink network {go_quote(uplink_name)}: Network not found")
    # LXD checks the project's restricted.networks.subnets first; lxdsite refuses that key (no
    # uplink route is checked on projects), so no project here holds it.
    if not any(_contains(route, listen) for route in _uplink_routes(uplink)):
        raise ConfigError(f"Uplink network doesn't contain {go_quote(str(listen))} in its routes")
    for subnet in _subnets_in_use(network, uplink_name):
        if _contains(subnet, listen) or _contains(listen, subnet):
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
            if subnet is None or not _contains(subnet, ipaddress.ip_network(ip)):
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
