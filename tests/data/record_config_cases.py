"""Record how the real LXD 5.0.2 daemon judges config keys and devices: lxd-config-cases.json.

It starts a scratch daemon of its own (never the system one), in a network namespace of its
own (``tests/support/own-netns``, through ``running_lxd``), and stops it afterwards:

    .venv/bin/python tests/data/record_config_cases.py   # writes tests/data/lxd-config-cases.json

Profile cases are POST /1.0/profiles with a fresh name (LXD answers 400 for bad config or
devices there); accepted profiles are deleted again. Server cases are PUT /1.0 {"config": ...}
from the default config, restored before and after each case; for
accepted ones the config GET /1.0 then shows is kept as "lxd_config".

Each case may carry "lxdsite_http" where lxdsite deliberately differs: it accepts storage pools
and storage volumes it does not model. LXD's 500 answers (listener start-up failures)
are 400 in lxdsite, which the tests derive themselves.
"""

import http.client
import json
import socket
import sys
from pathlib import Path

# Run as a script from the repository root: the daemon starter lives in the test support.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.real_lxd import running_lxd

OUT = Path(__file__).with_name("lxd-config-cases.json")

# (config, devices) for POST /1.0/profiles; devices may be None.
PROFILE_CASES = [
    ({}, None),
    ({"limits.cpu": "2"}, None),
    ({"limits.cpu": "0-3"}, None),
    ({"limits.cpu": "0,2,4-5"}, None),
    ({"limits.cpu": "5-2"}, None),
    ({"limits.cpu": ""}, None),
    ({"limits.cpu": "abc"}, None),
    ({"limits.cpu": "1-2-3"}, None),
    ({"limits.cpu": "1,2-3-4"}, None),
    ({"limits.cpu": "1-3,3"}, None),
    ({"limits.memory": "512MB"}, None),
    ({"limits.memory": "1GiB"}, None),
    ({"limits.memory": "10 bytes"}, None),
    ({"limits.memory": "50%"}, None),
    ({"limits.memory": "-5%"}, None),
    ({"limits.memory": "0"}, None),
    ({"limits.memory": "0%"}, None),
    ({"limits.memory": "abc%"}, None),
    ({"limits.memory": "1GQ"}, None),
    ({"limits.memory": "GB"}, None),
    ({"limits.memory": "99999999999999999999"}, None),
    ({"limits.memory": "9999999999EiB"}, None),
    ({"limits.memory.enforce": "x"}, None),
    ({"limits.processes": "500"}, None),
    ({"limits.processes": "abc"}, None),
    ({"limits.processes": "1.5"}, None),
    ({"limits.processes": "99999999999999999999"}, None),
    ({"limits.cpu.allowance": "50%"}, None),
    ({"limits.cpu.allowance": "25ms/100ms"}, None),
    ({"limits.cpu.allowance": "abc"}, None),
    ({"limits.cpu.allowance": "xms/100ms"}, None),
    ({"limits.disk.priority": "11"}, None),
    ({"limits.hugepages.2MB": "1x"}, None),
    ({"limits.kernel.nofile": "1024"}, None),
    ({"limits.kernel.": "1"}, None),
    ({"security.privileged": "true"}, None),
    ({"security.privileged": "false"}, None),
    ({"security.privileged": "YES"}, None),
    ({"security.privileged": "maybe"}, None),
    ({"security.nesting": "1", "security.idmap.isolated": "off"}, None),
    ({"security.idmap.size": "x"}, None),
    ({"security.secureboot": "false", "raw.qemu": "-m 1G", "agent.nic_config": "true"}, None),
    ({"security.secureboot": "x"}, None),
    ({"security.syscalls.allow": "a", "security.syscalls.deny": "b"}, None),
    ({"security.syscalls.deny": "a", "security.syscalls.blacklist": "b"}, None),
    ({"raw.seccomp": "x", "security.syscalls.deny": "b"}, None),
    ({"security.privileged": "true", "nvidia.runtime": "true"}, None),
    ({"nvidia.runtime": "true"}, None),
    ({"security.syscalls.intercept.mount": "true", "security.syscalls.intercept.mount.fuse": "ext4"}, None),
    ({"boot.autostart": "yes", "boot.autostart.priority": "10"}, None),
    ({"boot.autostart": "nah"}, None),
    ({"boot.autostart.delay": "1.5"}, None),
    ({"snapshots.schedule": "@daily"}, None),
    ({"snapshots.schedule": "@DAILY"}, None),
    ({"snapshots.schedule": "0 6 * * mon-fri"}, None),
    ({"snapshots.schedule": "@daily, 0 6 * * *"}, None),
    ({"snapshots.schedule": "*/15 * * jan,jul *"}, None),
    ({"snapshots.schedule": "bad"}, None),
    ({"snapshots.schedule": "@every 1h"}, None),
    ({"snapshots.schedule": "61 * * * *"}, None),
    ({"snapshots.schedule": "*/0 * * * *"}, None),
    ({"snapshots.schedule": "5-1 * * * *"}, None),
    ({"snapshots.schedule": "x * * * *"}, None),
    ({"snapshots.schedule": "-1 * * * *"}, None),
    ({"snapshots.schedule": "* * 0 * *"}, None),
    ({"snapshots.schedule": "1-2-3 * * * *"}, None),
    ({"snapshots.schedule": "* * * * \t"}, None),
    ({"snapshots.schedule": "@every 1h x y z"}, None),
    ({"snapshots.expiry": "1d 2w"}, None),
    ({"snapshots.expiry": "  3d  "}, None),
    ({"snapshots.expiry": "1q"}, None),
    ({"snapshots.expiry": "1d 1d"}, None),
    ({"snapshots.expiry": "99999999999999999999d"}, None),
    ({"user.foo": "any value <&>", "user.x.y.z": ""}, None),
    ({"environment.FOO": "bar", "environment.http_proxy": ""}, None),
    ({"raw.lxc": "lxc.apparmor.profile=unconfined\n# comment\n"}, None),
    ({"raw.lxc": "lxc.logfile=/x"}, None),
    ({"raw.lxc": "garbage"}, None),
    ({"raw.lxc": "lxc.prlimit.nofile=5"}, None),
    ({"raw.lxc": "lxc.net.0.ipv4.address=10.0.0.2/24\nlxc.net.0.type=veth"}, None),
    ({"linux.kernel_modules": "ip_tables,overlay"}, None),
    ({"linux.sysctl.net.ipv4.ip_forward": "1"}, None),
    ({"migration.incremental.memory.iterations": "-1"}, None),
    ({"cluster.evacuate": "x"}, None),
    ({"cloud-init.user-data": "#cloud-config\npackages: [vim]"}, None),
    ({"cloud-init.user-data": "#!/bin/sh\necho hi"}, None),
    ({"cloud-init.user-data": "#cloud-config\nfoo"}, None),
    ({"cloud-init.user-data": "#cloud-config\n- a"}, None),
    ({"cloud-init.user-data": "#cloud-config\nfoo: [1"}, None),
    ({"cloud-init.network-config": "version: 2"}, None),
    ({"cloud-init.network-config": "a very long scalar value"}, None),
    ({"cloud-init.network-config": "a: b: c"}, None),
    ({"cloud-init.network-config": "{"}, None),
    ({"no.such.key": "1"}, None),
    ({"limits.cpu": "1", "no.such.key": "1"}, None),
    ({"volatile.foo": "1"}, None),
    ({"volatile.eth0.hwaddr": "00:16:3e:00:00:01"}, None),
    ({"image.os": "ubuntu"}, None),
    # Devices.
    ({}, {"d": {}}),
    ({}, {"d": {"type": "foo"}}),
    ({"limits.cpu": "x"}, {"d": {"type": "foo"}}),
    ({}, {"d": {"type": "disk"}}),
    ({}, {"root": {"type": "disk", "path": "/", "pool": "default"}}),
    ({}, {"root": {"type": "disk", "path": "/", "pool": "default", "size": "10GiB"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/no/such/dir"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "vol1", "pool": "default"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "rel/path"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "pool": "default"}}),
    ({}, {"root": {"type": "disk", "path": "/", "source": "/srv"}}),
    ({}, {"root": {"type": "disk", "path": "/"}}),
    ({}, {"root": {"type": "disk", "path": "/", "pool": "default", "size": "10GQ"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "size": "10GB"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "readonly": "maybe"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "propagation": "bogus"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "bind": "bogus"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "foo": "1"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "user.note": "x"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "required": "true", "optional": "true"}}),
    ({}, {"root": {"type": "disk", "path": "/", "pool": "default", "recursive": "true"}}),
    ({}, {"data": {"type": "disk", "path": "/mnt", "source": "/srv", "ceph.user_name": "admin"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "lxdbr0"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "lxdbr0", "name": "eth0", "mtu": "1500"}}),
    ({}, {"eth0": {"type": "nic", "network": "lxdbr0"}}),
    ({}, {"eth0": {"type": "nic"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bogus"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "foo": "1"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "hwaddr": "zz"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "mtu": "100"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "name": "eth 0"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "vlan": "5000"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "ipv4.address": "10.0.0.5"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "macvlan", "parent": "eth0"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "macvlan", "parent": "eth0", "vlan": "5000"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "p2p"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "physical"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "ipvlan", "parent": "eth0", "mode": "l2", "ipv4.address": "10.0.0.5/24"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "ipvlan", "parent": "eth0", "mode": "l4"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "routed", "ipv4.address": "10.0.0.5,10.0.0.5"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "routed", "ipv4.routes": "10.1.0.0/16"}}),
    ({}, {"eth0": {"type": "nic", "nictype": "ovn"}}),
    ({}, {"ib0": {"type": "infiniband"}}),
    ({}, {"ib0": {"type": "infiniband", "nictype": "physical"}}),
    ({}, {"fuse": {"type": "unix-char", "path": "/dev/fuse"}}),
    ({}, {"d": {"type": "unix-char"}}),
    ({}, {"d": {"type": "unix-char", "path": "/dev/x", "major": "x"}}),
    ({}, {"d": {"type": "unix-char", "source": "relative"}}),
    ({}, {"d": {"type": "unix-block", "source": "/dev/sda", "mode": "999"}}),
    ({}, {"d": {"type": "unix-block", "source": "/dev/sda", "mode": "0660", "uid": "1000"}}),
    ({}, {"d": {"type": "unix-hotplug"}}),
    ({}, {"d": {"type": "usb", "vendorid": "046d"}}),
    ({}, {"d": {"type": "usb", "vendorid": "XYZ"}}),
    ({}, {"d": {"type": "gpu"}}),
    ({}, {"d": {"type": "gpu", "pci": "bad"}}),
    ({}, {"d": {"type": "gpu", "gputype": "mig"}}),
    ({}, {"d": {"type": "gpu", "id": "1", "vendorid": "10de"}}),
    ({}, {"d": {"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80"}}),
    ({}, {"d": {"type": "proxy", "listen": "foo:1", "connect": "tcp:127.0.0.1:80"}}),
    ({}, {"d": {"type": "proxy", "listen": "tcp:0.0.0.0", "connect": "tcp:127.0.0.1:80"}}),
    ({}, {"d": {"type": "proxy", "listen": "tcp:0.0.0.0:80-81", "connect": "tcp:127.0.0.1:80-82"}}),
    ({}, {"d": {"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80", "nat": "true"}}),
    ({}, {"d": {"type": "proxy", "listen": "tcp:1.2.3.4:80", "connect": "tcp:[::1]:80", "nat": "true"}}),
    ({}, {"d": {"type": "proxy", "listen": "tcp:1.2.3.4:80", "connect": "tcp:127.0.0.1:80", "uid": "5"}}),
    ({}, {"d": {"type": "none"}}),
    ({}, {"d": {"type": "none", "foo": "1"}}),
    ({}, {"d": {"type": "tpm"}}),
    ({}, {"d": {"type": "pci"}}),
    ({}, {"d": {"type": "pci", "address": "0000:00:02.0"}}),
    ({}, {"bad name!": {"type": "none"}}),
    ({}, {".d": {"type": "none"}}),
    ({}, {"a" * 64: {"type": "none"}}),
    ({}, {"a" * 65: {"type": "none"}}),
    ({}, {"ok": {"type": "none"}, "zz": {"type": "disk"}}),
]

SERVER_CASES = [
    {},
    {"no.such.key": "1"},
    {"no.such.key": "1", "a.b": "2"},
    {"user.foo": "bar"},
    {"images.auto_update_interval": "0"},
    {"images.auto_update_interval": "12"},
    {"images.auto_update_interval": "6"},
    {"images.auto_update_interval": "+6"},
    {"images.auto_update_interval": ""},
    {"images.auto_update_interval": "abc"},
    {"images.auto_update_interval": "1.5"},
    {"images.auto_update_interval": "abc", "no.such.key": "1"},
    {"images.auto_update_interval": 1},
    {"images.auto_update_interval": None},
    {"images.remote_cache_expiry": "5"},
    {"images.remote_cache_expiry": "10"},
    {"images.remote_cache_expiry": "x"},
    {"images.auto_update_cached": "false"},
    {"images.auto_update_cached": "no", "core.https_allowed_credentials": "yes"},
    {"images.auto_update_cached": "TRUE", "core.https_allowed_credentials": "0"},
    {"images.auto_update_cached": "maybe"},
    {"images.auto_update_cached": ""},
    {"core.https_allowed_credentials": ""},
    {"images.compression_algorithm": "xz"},
    {"images.compression_algorithm": "gzip"},
    {"images.compression_algorithm": "gzip -9"},
    {"images.compression_algorithm": "none"},
    {"images.compression_algorithm": "nope"},
    {"images.compression_algorithm": "/bin/sh"},
    {"images.compression_algorithm": '"unterminated'},
    {"images.compression_algorithm": "   "},
    {"backups.compression_algorithm": "'a"},
    {"backups.compression_algorithm": "bzip2"},
    {"core.https_address": "127.0.0.1:18443"},
    {"core.https_address": "nope.invalid:8443"},
    {"core.https_address": "127.0.0.1:99999"},
    {"core.https_address": "[::1"},
    {"core.https_address": "nope.invalid", "no.such.key": "1"},
    {"core.metrics_address": "127.0.0.1:99999"},
    {"cluster.https_address": "0.0.0.0:8443"},
    {"core.proxy_http": "http://proxy:3128", "core.proxy_ignore_hosts": "localhost"},
    {"core.trust_password": "sekrit"},
    {"core.trust_password": False},
    {"core.bgp_asn": "65000"},
    {"core.bgp_asn": "-1"},
    {"core.bgp_routerid": "x"},
    {"core.metrics_authentication": "maybe"},
    {"core.metrics_authentication": "false"},
    {"core.shutdown_timeout": "5"},
    # A valid cluster.offline_threshold is stored, but a standalone LXD 5.0.2 then drops the
    # connection without an answer (its heartbeat task is nil), so the table leaves it out.
    {"cluster.offline_threshold": "5"},
    {"cluster.max_voters": "4"},
    {"cluster.max_standby": "9"},
    {"cluster.images_minimal_replica": "0"},
    {"cluster.images_minimal_replica": "-1"},
    {"cluster.join_token_expiry": "3H"},
    {"core.remote_token_expiry": "1x"},
    {"core.remote_token_expiry": "1d 2H"},
    {"candid.api.url": "http://x", "rbac.api.url": "http://y"},
    {"maas.api.url": "http://maas"},
    {"storage.backups_volume": "nopool/vol"},
]

# What lxdsite does differently, by design, keyed by the case's JSON.
LXDSITE_ACCEPTS = {
    json.dumps({"storage.backups_volume": "nopool/vol"}): "no pool nopool; lxdsite does not model storage",
}


class UnixConnection(http.client.HTTPConnection):
    """HTTP over LXD's unix socket."""

    def __init__(self, path):
        super().__init__("lxd")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


# The scratch daemon's socket, set by main().
SOCKET = None


def call(method, url, body=None):
    """One request to the daemon: (status, decoded envelope)."""
    conn = UnixConnection(str(SOCKET))
    conn.request(method, url, body=None if body is None else json.dumps(body))
    response = conn.getresponse()
    status, envelope = response.status, json.loads(response.read())
    conn.close()
    return status, envelope


def reset_server():
    """Put every key back to its default: a PUT resets the keys it omits, except user.* keys."""
    _, envelope = call("GET", "/1.0")
    user_keys = [key for key in envelope["metadata"]["config"] if key.startswith("user.")]
    status, envelope = call("PUT", "/1.0", {"config": dict.fromkeys(user_keys, "")})
    assert status == 200, envelope


def record_profile(n, config, devices):
    """POST a profile with a fresh name; delete it again if LXD took it."""
    body = {"name": f"cfgcase{n}", "config": config, **({} if devices is None else {"devices": devices})}
    status, envelope = call("POST", "/1.0/profiles", body)
    if status == 201:
        call("DELETE", f"/1.0/profiles/cfgcase{n}")
    case = {"target": "profile", "config": config}
    case.update({} if devices is None else {"devices": devices})
    case.update({"lxd_http": status, "error": envelope["error"]})
    return case


def record_server(config):
    """PUT /1.0 from an empty config; keep what GET /1.0 shows afterwards."""
    reset_server()
    status, envelope = call("PUT", "/1.0", {"config": config})
    case = {"target": "server", "config": config, "lxd_http": status, "error": envelope["error"]}
    if status == 200:
        case["lxd_config"] = call("GET", "/1.0")[1]["metadata"]["config"]
    reset_server()
    return case


def main():
    """Start a fenced scratch daemon, record every case and write the table."""
    global SOCKET
    with running_lxd() as socket_path:
        SOCKET = socket_path
        record()


def record():
    """Record every case and write the table."""
    cases = [record_profile(n, config, devices) for n, (config, devices) in enumerate(PROFILE_CASES)]
    cases += [record_server(config) for config in SERVER_CASES]
    for case in cases:
        note = LXDSITE_ACCEPTS.get(json.dumps(case.get("devices", case["config"])))
        if note:
            case.update({"lxdsite_http": 200 if case["target"] == "server" else 201, "note": note})
    OUT.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
