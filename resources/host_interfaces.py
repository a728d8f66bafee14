"""The host's own network interfaces, which LXD lists as unmanaged networks (lxd/networks.go).

Read from the kernel on each request (``socket.if_nameindex`` and ``/sys/class/net``), never
changed: lxdsite creates no interface.
"""

import os
import socket

# IFF_LOOPBACK in /sys/class/net/NAME/flags.
_IFF_LOOPBACK = 0x8


def interface_names():
    """The host's interfaces in index order, as Go's net.Interfaces lists them, without the
    veth pairs LXD skips."""
    try:
        interfaces = sorted(socket.if_nameindex())
    except OSError:
        return []
    return [name for _, name in interfaces if not name.startswith("veth")]


def interface_exists(name):
    """Whether the host has an interface ``name`` (LXD's net.InterfaceByName)."""
    return name in interface_names()


def _flags(name):
    try:
        with open(f"/sys/class/net/{name}/flags") as file:
            return int(file.read().strip(), 16)
    except (OSError, ValueError):
        return 0


def interface_type(name):
    """The type LXD shows for an unmanaged interface, by the same probes LXD makes."""
    if _flags(name) & _IFF_LOOPBACK:
        return "loopback"
    probes = [
        (f"/sys/class/net/{name}/bridge", "bridge"),
        (f"/proc/net/vlan/{name}", "vlan"),
        (f"/sys/class/net/{name}/device", "physical"),
        (f"/sys/class/net/{name}/bonding", "bond"),
    ]
    for path, kind in probes:
        if os.path.exists(path):
            return kind
    return "unknown"
