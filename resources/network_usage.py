"""Who uses a network (lxd/network/network_utils.go UsedBy): other networks, profiles, instances.

LXD keeps devices as maps, so a network's users are found by reading every profile's and
instance's devices: a handful of queries for any number of networks, as a list needs.
"""

import ipaddress
from dataclasses import dataclass, field

from .config_keys.network_acl import acl_names_in
from .config_keys.network_zone import zone_names_in
from .go import go_quote
from .models import Instance, InstanceProfile, Network, NetworkACL, Profile, Project


def network_project(project_name, config):
    """The project whose networks a project uses: itself with ``features.networks``, else default."""
    project = Project(name=project_name, config=config)
    return project_name if project.has_feature("features.networks") else Project.DEFAULT_NAME


def host_device(parent, vlan):
    """The host interface a NIC's ``parent`` and ``vlan`` name (LXD's GetHostDevice, by its naming rule)."""
    return f"{parent}.{vlan}" if vlan else parent


def uses_network(device, name, network_type):
    """LXD's isInUseByDevice: a NIC naming the network, or (not for OVN) its interface as parent."""
    if device.get("type") != "nic":
        return False
    if device.get("network") and device["network"] == name:
        return True
    if network_type == "ovn":
        return False
    return bool(device.get("parent")) and host_device(device["parent"], device.get("vlan", "")) == name


@dataclass
class Usage:
    """The profiles and instances (with their expanded devices) of every project, read once."""

    projects: dict = field(default_factory=dict)
    profiles: list = field(default_factory=list)
    instances: list = field(default_factory=list)
    networks: list = field(default_factory=list)
    acls: list = field(default_factory=list)

    @classmethod
    def read(cls):
        projects = {
            pk: (name, network_project(name, config))
            for pk, name, config in Project.objects.values_list("id", "name", "config")
        }
        profile_rows = Profile.objects.order_by("project_id", "name").values_list("id", "name", "project_id", "devices")
        profile_devices = {}
        profiles = []
        for pk, name, project_id, devices in profile_rows:
            profile_devices[pk] = devices
            profiles.append((name, projects[project_id], devices))
        attached = {}
        for instance_id, profile_id in InstanceProfile.objects.order_by("id").values_list("instance_id", "profile_id"):
            attached.setdefault(instance_id, []).append(profile_id)
        instances = []
        rows = Instance.objects.order_by("project_id", "name").values_list(
            "id", "name", "project_id", "devices", "config"
        )
        for pk, name, project_id, devices, config in rows:
            expanded = {}
            for profile_id in attached.get(pk, []):
                expanded.update(profile_devices[profile_id])
            expanded.update(devices)
            instances.append((name, projects[project_id], expanded, config))
        networks = list(Network.objects.order_by("project_id", "id").values_list("name", "project__name", "config"))
        acls = list(NetworkACL.objects.order_by("id").values_list("name", "project__name", "ingress", "egress"))
        return cls(projects, profiles, instances, networks, acls)

    def instance_devices(self, name, network_type, project):
        """(instance name, its project, NIC name, NIC config, instance config) for each NIC using
        the network of ``project`` named ``name``."""
        for instance, (instance_project, uses_project), devices, config in self.instances:
            if uses_project != project:
                continue
            for nic_name, device in sorted(devices.items()):
                if uses_network(device, name, network_type):
                    yield instance, instance_project, nic_name, device, config

    def used_by(self, name, network_type, project):
        """LXD's UsedBy URLs for the network ``name`` of ``project`` (of type ``network_type``)."""
        urls = []
        if project == Project.DEFAULT_NAME:
            for other, other_project, config in self.networks:
                if (other, other_project) == (name, project):
                    continue
                if config.get("network") == name or config.get("parent") == name:
                    urls.append(f"/1.0/networks/{other}{Project.url_query(other_project)}")
        for profile, (profile_project, uses_project), devices in self.profiles:
            if uses_project == project and any(uses_network(d, name, network_type) for d in devices.values()):
                urls.append(f"/1.0/profiles/{profile}{Project.url_query(profile_project)}")
        for instance, instance_project, *_ in self.instance_devices(name, network_type, project):
            urls.append(f"/1.0/instances/{instance}{Project.url_query(instance_project)}")
        return urls

    def acl_used_by(self, name, project):
        """LXD's UsedBy of the ACL ``name`` of ``project``: networks, profiles, other ACLs' rules, instances."""
        query = Project.url_query(project)
        urls = [
            f"/1.0/networks/{network}{query}"
            for network, network_project, config in self.networks
            if network_project == project and name in acl_names_in(config.get("security.acls", ""))
        ]
        for profile, (profile_project, uses_project), devices in self.profiles:
            if uses_project != project:
                continue
            for _ in (d for _, d in sorted(devices.items()) if _uses_acl(d, name)):
                urls.append(f"/1.0/profiles/{profile}{Project.url_query(profile_project)}")
        for acl, acl_project, ingress, egress in self.acls:
            if acl_project != project or acl == name:
                continue
            subjects = [rule.get("source", "") for rule in ingress] + [rule.get("destination", "") for rule in egress]
            if any(name in (item.strip() for item in subject.split(",")) for subject in subjects):
                urls.append(f"/1.0/network-acls/{acl}{query}")
        for instance, (instance_project, uses_project), devices, _ in self.instances:
            if uses_project != project:
                continue
            for _ in (d for _, d in sorted(devices.items()) if _uses_acl(d, name)):
                urls.append(f"/1.0/instances/{instance}{Project.url_query(instance_project)}")
        return urls


def _uses_acl(device, name):
    """LXD's acl isInUseByDevice: a NIC listing the ACL in its ``security.acls``."""
    return device.get("type") == "nic" and name in acl_names_in(device.get("security.acls", ""))


def zone_used_by(project):
    """LXD's zone UsedBy for every zone of ``project``: zone name to the URLs of the project's
    networks whose ``dns.zone.*`` keys name it (without ``?project=``, as LXD names them)."""
    used = {}
    for name, config in Network.objects.filter(project__name=project).order_by("id").values_list("name", "config"):
        for zone in dict.fromkeys(zone_names_in(config)):
            used.setdefault(zone, []).append(f"/1.0/networks/{name}")
    return used


def _bridge_of(device, find):
    """The managed bridge a NIC is on, ``(name, config)``, or None (LXD's nicBridged d.network)."""
    if device.get("type") != "nic":
        return None
    name = device.get("network") or (device.get("parent") if device.get("nictype") == "bridged" else "")
    found = find(name) if name else None
    return (name, found[1]) if found and found[0] == Network.BRIDGE else None


def address_conflict(instance_name, project, devices, config, device_name, find, usage):
    """LXD's nicBridged checkAddressConflict for the NIC ``device_name`` of ``devices`` (the
    instance's expanded devices): another NIC on the same bridge and VLAN with the instance's DNS
    name, its MAC or one of its static addresses. The message, or None."""
    device = devices[device_name]
    bridge = _bridge_of(device, find)
    if bridge is None:
        return None
    network, network_config = bridge
    ours = {key: _parse(device.get(key, "")) for key in ("ipv4.address", "ipv6.address")}
    mac = (device.get("hwaddr") or config.get(f"volatile.{device_name}.hwaddr", "")).lower()
    # Bridges live in the default project; the instance's own other NICs count too.
    others = [
        (name, nic_name, nic, nic_config)
        for name, nic_project, nic_name, nic, nic_config in usage.instance_devices(network, Network.BRIDGE, "default")
        if (name, nic_project) != (instance_name, project)
    ]
    others += [(instance_name, name, nic, config) for name, nic in sorted(devices.items()) if name != device_name]
    for other_name, nic_name, nic, nic_config in others:
        if not uses_network(nic, network, Network.BRIDGE) or device.get("vlan", "") != nic.get("vlan", ""):
            continue
        if network_config.get("dns.mode") != "none" and instance_name.lower() == other_name.lower():
            return f"Instance DNS name {go_quote(other_name.lower())} already used on network"
        other_mac = (nic.get("hwaddr") or nic_config.get(f"volatile.{nic_name}.hwaddr", "")).lower()
        if mac and mac == other_mac:
            return f"MAC address {go_quote(other_mac)} already defined on another NIC"
        for key, ip in ours.items():
            if ip is not None and ip == _parse(nic.get(key, "")):
                return f"IP address {go_quote(str(ip))} already defined on another NIC"
    return None


def _parse(address):
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def peer_used_by(network):
    """LXD's peerUsedBy for every peer of ``network``: peer name to the URLs of the ACLs of its
    project whose rules name ``@NETWORK/PEER`` as a source."""
    used = {}
    for name, ingress, egress in NetworkACL.objects.filter(project=network.project_id).values_list(
        "name", "ingress", "egress"
    ):
        named = set()
        for rule in [*ingress, *egress]:
            for subject in (item.strip() for item in rule.get("source", "").split(",")):
                parts = subject[1:].split("/", 1) if subject.startswith("@") else []
                if len(parts) == 2 and parts[0] == network.name:
                    named.add(parts[1])
        url = f"/1.0/network-acls/{name}{Project.url_query(network.project.name)}"
        for peer in named:
            used.setdefault(peer, []).append(url)
    return used
