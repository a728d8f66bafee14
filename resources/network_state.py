"""``/1.0/networks/NAME/state`` and ``/leases``: what LXD reads from the kernel and dnsmasq.

lxdsite makes no interface and runs no DHCP: a managed bridge's state is what its config says
(its addresses, MTU and MAC, no traffic), a host interface's is read from the kernel, and
leases are the bridge's gateway addresses and the addresses its instances' NICs fix.
"""

import fcntl
import hashlib
import ipaddress
import socket
import struct
from pathlib import Path

from .host_interfaces import interface_exists
from .models import Network

_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_IFF_UP, _IFF_BROADCAST, _IFF_LOOPBACK, _IFF_POINTOPOINT = 0x1, 0x2, 0x8, 0x10
_ZERO_COUNTERS = {"bytes_received": 0, "bytes_sent": 0, "packets_received": 0, "packets_sent": 0}


def _scope(ip):
    """LXD's scope of an address: local (loopback), link (link-local) or global."""
    if ip.is_loopback:
        return "local"
    if ip.is_link_local:
        return "link"
    return "global"


def _address(ip, prefix):
    family = "inet" if ip.version == 4 else "inet6"
    return {"family": family, "address": str(ip), "netmask": str(prefix), "scope": _scope(ip)}


def bridge_hwaddr(network):
    """A managed bridge's MAC: ``bridge.hwaddr``, else a stable one in LXD's 00:16:3e range."""
    if network.config.get("bridge.hwaddr"):
        return network.config["bridge.hwaddr"].lower()
    digest = hashlib.sha256(f"{network.project_id}/{network.name}".encode()).digest()
    return "00:16:3e:" + ":".join(f"{byte:02x}" for byte in digest[:3])


def _managed_state(network):
    """A managed bridge as LXD reports its interface, from its config alone."""
    addresses = []
    for key in ("ipv4.address", "ipv6.address"):
        value = network.config.get(key, "")
        if value not in ("", "none", "auto"):
            interface = ipaddress.ip_interface(value)
            addresses.append(_address(interface.ip, interface.network.prefixlen))
    hwaddr = bridge_hwaddr(network)
    return {
        "addresses": addresses,
        "counters": dict(_ZERO_COUNTERS),
        "hwaddr": hwaddr,
        "mtu": int(network.config.get("bridge.mtu") or 1500),
        "state": "up",
        "type": "broadcast",
        "bond": None,
        "bridge": {
            "id": "8000." + hwaddr.replace(":", ""),
            "stp": False,
            "forward_delay": 1500,
            "vlan_default": 0,
            "vlan_filtering": False,
            "upper_devices": [],
        },
        "vlan": None,
        "ovn": None,
    }


def _ovn_state(network):
    """An OVN network as LXD's ovn driver reports it (State): its router's addresses (scope ``link``),
    ``bridge.hwaddr`` or a MAC in LXD's range, ``bridge.mtu`` or 1500, this server as chassis."""
    addresses = []
    for key in ("ipv4.address", "ipv6.address"):
        value = network.config.get(key, "")
        if value not in ("", "none", "auto"):
            interface = ipaddress.ip_interface(value)
            addresses.append({**_address(interface.ip, interface.network.prefixlen), "scope": "link"})
    hwaddr = network.config["bridge.hwaddr"] if "bridge.hwaddr" in network.config else bridge_hwaddr(network)
    mtu = network.config.get("bridge.mtu", "")
    return {
        "addresses": addresses,
        "counters": dict(_ZERO_COUNTERS),
        "hwaddr": hwaddr,
        "mtu": int(mtu) if mtu.isdigit() and int(mtu) else 1500,
        "state": "up",
        "type": "broadcast",
        "bond": None,
        "bridge": None,
        "vlan": None,
        "ovn": {"chassis": socket.gethostname()},
    }


def _read(path, default=""):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _number(path):
    try:
        return int(_read(path, "0"), 0)
    except ValueError:
        return 0


def _ipv4_address(name):
    """The interface's IPv4 address and prefix length (its primary one), or None."""
    request = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            address = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)[20:24]
            netmask = fcntl.ioctl(sock.fileno(), _SIOCGIFNETMASK, request)[20:24]
        except OSError:
            return None
    prefix = bin(int.from_bytes(netmask, "big")).count("1")
    return ipaddress.IPv4Address(address), prefix


def _ipv6_addresses(name):
    """The interface's IPv6 addresses and prefix lengths (/proc/net/if_inet6)."""
    found = []
    for line in _read("/proc/net/if_inet6").splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[5] == name:
            found.append((ipaddress.IPv6Address(int(fields[0], 16)), int(fields[2], 16)))
    return found


def _bridge_info(name):
    base = f"/sys/class/net/{name}/bridge"
    if not Path(base).exists():
        return None
    upper = sorted(path.name for path in Path(f"/sys/class/net/{name}/brif").glob("*"))
    return {
        "id": _read(f"{base}/bridge_id"),
        "stp": _read(f"{base}/stp_state") == "1",
        "forward_delay": _number(f"{base}/forward_delay"),
        "vlan_default": _number(f"{base}/default_pvid"),
        "vlan_filtering": _read(f"{base}/vlan_filtering") == "1",
        "upper_devices": upper,
    }


def _host_state(name):
    """A host interface's state, read from the kernel as LXD's GetNetworkState reads it."""
    base = f"/sys/class/net/{name}"
    flags = _number(f"{base}/flags")
    addresses = []
    ipv4 = _ipv4_address(name)
    if ipv4 is not None:
        addresses.append(_address(*ipv4))
    addresses += [_address(ip, prefix) for ip, prefix in _ipv6_addresses(name)]
    kind = "unknown"
    for flag, word in (
        (_IFF_LOOPBACK, "loopback"),
        (_IFF_POINTOPOINT, "point-to-point"),
        (_IFF_BROADCAST, "broadcast"),
    ):
        if flags & flag:
            kind = word
            break
    return {
        "addresses": addresses,
        "counters": {
            "bytes_received": _number(f"{base}/statistics/rx_bytes"),
            "bytes_sent": _number(f"{base}/statistics/tx_bytes"),
            "packets_received": _number(f"{base}/statistics/rx_packets"),
            "packets_sent": _number(f"{base}/statistics/tx_packets"),
        },
        "hwaddr": "" if kind == "loopback" else _read(f"{base}/address"),
        "mtu": _number(f"{base}/mtu"),
        "state": "up" if flags & _IFF_UP else "down",
        "type": kind,
        "bond": None,
        "bridge": _bridge_info(name),
        "vlan": None,
        "ovn": None,
    }


def state(network):
    """The network's state, or None where LXD finds no interface of that name."""
    if network.pk is not None and network.type == Network.BRIDGE:
        return _managed_state(network)
    if network.pk is not None and network.type == "ovn":
        return _ovn_state(network)
    if interface_exists(network.name):
        return _host_state(network.name)
    return None


def _lease(hostname, address, hwaddr="", kind="static", location=""):
    return {"hostname": hostname, "hwaddr": hwaddr, "address": address, "type": kind, "location": location}


def _eui64(prefix, mac):
    """The SLAAC address a MAC takes in a /64 (RFC 4291 appendix A)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface_id = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
    return ipaddress.IPv6Address(prefix.network_address.packed[:8] + interface_id)


def leases(network, requested_project, usage):
    """A bridge's or OVN network's leases as LXD lists them, without the dynamic ones no DHCP server
    (or OVN) handed out."""
    found = []
    if requested_project == network.project.name:
        for key in ("ipv4.address", "ipv6.address"):
            value = network.config.get(key, "")
            if value not in ("", "none", "auto"):
                found.append(_lease(f"{network.name}.gw", str(ipaddress.ip_interface(value).ip), kind="gateway"))
    if network.type == "ovn":
        # LXD asks OVN for its instances' port addresses: there is no OVN here, so none.
        return found
    ipv6 = network.config.get("ipv6.address", "")
    ipv6_network = ipaddress.ip_interface(ipv6).network if ipv6 not in ("", "none", "auto") else None
    stateful = network.config.get("ipv6.dhcp.stateful", "").lower() in ("true", "1", "yes", "on")
    devices = usage.instance_devices(network.name, network.type, network.project.name)
    for instance, instance_project, nic_name, device, config in devices:
        if instance_project != requested_project:
            continue
        hwaddr = (device.get("hwaddr") or config.get(f"volatile.{nic_name}.hwaddr", "")).lower()
        for key in ("ipv4.address", "ipv6.address"):
            if device.get(key):
                found.append(_lease(instance, device[key], hwaddr, "static", "none"))
        if ipv6_network is not None and hwaddr and not stateful:
            found.append(_lease(instance, str(_eui64(ipv6_network, hwaddr)), hwaddr, "dynamic", "none"))
    return found
