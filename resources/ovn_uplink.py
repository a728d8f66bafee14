"""The uplink checks of an OVN network's config (lxd/network/driver_ovn.go Validate,
validateUplinkNetwork and allowedUplinkNetworks at tag lxd-5.0.2): its ``network`` names a bridge
or physical network of the default project the project may use; subnets it routes without NAT and
its SNAT addresses lie in the uplink's routes and overlap nothing another OVN network on that
uplink uses."""

import ipaddress

from .config_keys.errors import ConfigError
from .go import go_quote
from .models import Network, Project
from .ovn_subnets import INSTANCE, contains, external_usages, uplink_routes

_TRUE = ("true", "1", "yes", "on")


def _allowed_uplinks(project_config: dict[str, str]) -> list[str]:
    names = list(
        Network.objects.filter(project__name=Project.DEFAULT_NAME, type__in=("bridge", "physical"))
        .order_by("id")
        .values_list("name", flat=True)
    )
    if project_config.get("restricted", "").lower() not in _TRUE:
        return names
    allowed = [item.strip() for item in project_config.get("restricted.networks.uplinks", "").split(",")]
    return [name for name in allowed if name and name in names]


def _uplink_name(project_config: dict[str, str], name: str) -> str:
    allowed = _allowed_uplinks(project_config)
    if name:
        if name not in allowed:
            raise ConfigError(
                f'Option "network" value {go_quote(name)} is not one of the allowed uplink networks in project'
            )
        return name
    if not allowed:
        raise ConfigError("No allowed uplink networks in project")
    if len(allowed) == 1:
        return allowed[0]
    raise ConfigError('Option "network" is required')


def _in_routes(routes, subnet) -> None:
    if not any(contains(route, subnet) for route in routes):
        raise ConfigError(f"Uplink network doesn't contain {go_quote(str(subnet))} in its routes")


def validate_ovn_uplink(project: Project, name: str, config: dict[str, str]) -> None:
    """ConfigError with LXD's text where the OVN network ``name`` of ``project`` may not have ``config``."""
    uplink_name = _uplink_name(project.config, config.get("network", ""))
    uplink = Network.objects.get(project__name=Project.DEFAULT_NAME, name=uplink_name)
    routes = uplink_routes(uplink)
    external, snat = [], []
    for family in ("ipv4", "ipv6"):
        address = config.get(f"{family}.address", "")
        without_nat = config.get(f"{family}.nat", "").lower() in ("", "false", "0", "no", "off")
        if address not in ("", "none", "auto") and without_nat:
            external.append(ipaddress.ip_network(address, strict=False))
    for family, size in (("ipv4", 32), ("ipv6", 128)):
        key = f"{family}.nat.address"
        if config.get(key):
            if uplink.config.get("ovn.ingress_mode") != "routed":
                raise ConfigError(f'Cannot specify {go_quote(key)} when uplink ovn.ingress_mode is not "routed"')
            snat.append(ipaddress.ip_network(f"{config[key]}/{size}", strict=False))
    if not external and not snat:
        return
    usages = external_usages(config.get("network", ""))
    routed = uplink.config.get("ovn.ingress_mode") == "routed"
    anycast = {
        4: routed and uplink.config.get("ipv4.routes.anycast", "").lower() in _TRUE,
        6: routed and uplink.config.get("ipv6.routes.anycast", "").lower() in _TRUE,
    }
    own = (project.name, name)
    for subnet in external:
        _in_routes(routes, subnet)
        if anycast[subnet.version]:
            continue
        for used, used_project, used_name, usage in usages:
            if usage != INSTANCE and (used_project, used_name) == own:
                continue
            if contains(used, subnet) or contains(subnet, used):
                raise ConfigError(f"External subnet {go_quote(str(subnet))} overlaps with another OVN network or NIC")
    for subnet in snat:
        _in_routes(routes, subnet)
        if anycast[subnet.version]:
            continue
        for used, used_project, used_name, _ in usages:
            if (used_project, used_name) == own:
                continue
            if contains(used, subnet) or contains(subnet, used):
                address = subnet.network_address
                raise ConfigError(f"NAT address {go_quote(str(address))} overlaps with another OVN network or NIC")
