"""``/1.0/networks`` and ``lxc network`` beside the real LXD 5.0.2 daemon: same answers, ETags, output.

lxdsite runs in a network namespace of its own (``own-netns``), as the daemon does, so both see
one host interface, ``lo``. Every network made on the daemon has explicit ``ipv4.address`` and
``ipv6.address`` (``none`` or a fixed address without NAT) and is deleted afterwards.

Normalised before comparing, and nothing else: a bridge's MAC address (and the bridge ID made
from it), which LXD draws at random and lxdsite derives from the name; ``lo``'s traffic counters.
"""

import re

import pytest

from tests.support.both_servers import refused_alike, same, same_refusal
from tests.support.live_server import running_server, unix_request
from tests.support.lxc import comparable, run_lxc, storage_pool
from tests.support.real_lxd import OWN_NETNS

pytestmark = [pytest.mark.live, pytest.mark.lxd]

NAMES = ("dbr0", "dbr1", "dbr2", "dbr9")
NONE = {"ipv4.address": "none", "ipv6.address": "none"}
# A fixed address without NAT: LXD makes the bridge (and its dnsmasq) inside its own namespace.
FIXED = {"ipv4.address": "10.213.7.1/24", "ipv6.address": "none"}
_MAC = re.compile(r"00:16:3e(:[0-9a-f]{2}){3}")
_BRIDGE_ID = re.compile(r"8000\.00163e[0-9a-f]{6}")
_USAGE = re.compile(r"((?:Bytes|Packets) (?:received|sent): ).*")


@pytest.fixture
def lxdsite_netns(tmp_path):
    """lxdsite in a network namespace of its own, as the daemon runs."""
    with running_server(tmp_path / "lxd", wrapper=[str(OWN_NETNS)]) as server:
        yield server


@pytest.fixture
def both(real_lxd, lxdsite_netns):
    """Send one request to each server: (LXD's answer, lxdsite's); the networks the test made
    are deleted from the daemon afterwards."""
    yield lambda method, path, body=None, headers=None: (
        unix_request(real_lxd, method, path, body, headers),
        lxdsite_netns.request(method, path, body, headers),
    )
    for name in NAMES:
        unix_request(real_lxd, "DELETE", f"/1.0/networks/{name}")
    assert [url for url in unix_request(real_lxd, "GET", "/1.0/networks")[2]["metadata"] if "dbr" in url] == []


def _normalised(body):
    """An answer with the randomly drawn MAC and the counters of ``lo`` replaced."""
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict) and "counters" in body["metadata"]:
        state = body["metadata"]
        if state["type"] == "loopback":
            state["counters"] = {}
        state["hwaddr"] = _MAC.sub("<mac>", state["hwaddr"])
        if state.get("bridge"):
            state["bridge"]["id"] = _BRIDGE_ID.sub("<id>", state["bridge"]["id"])
    return body


def _same(lxd, ours, status):
    same(lxd, ours, status, normalised=_normalised)


def test_a_networks_life_equals_the_daemons(both):
    _same(*both("GET", "/1.0/networks?recursion=1"), 200)
    _same(*both("GET", "/1.0/networks/lo"), 200)
    _same(*both("GET", "/1.0/networks/lo/state"), 200)

    _same(*both("POST", "/1.0/networks", {"name": "dbr0", "description": "d", "config": NONE}), 201)
    _same(*both("POST", "/1.0/networks", {"name": "dbr1", "type": "bridge", "config": FIXED}), 201)
    _same(*both("GET", "/1.0/networks/dbr0"), 200)
    _same(*both("GET", "/1.0/networks/dbr1"), 200)
    _same(*both("GET", "/1.0/networks"), 200)
    _same(*both("GET", "/1.0/networks?recursion=1"), 200)
    _same(*both("GET", "/1.0/networks/dbr1/state"), 200)
    _same(*both("GET", "/1.0/networks/dbr1/leases"), 200)
    _same(*both("GET", "/1.0/networks/dbr0/leases"), 200)

    etag = both("GET", "/1.0/networks/dbr0")[0][1]["ETag"]
    put = {"config": {**NONE, "user.k": "v", "ipv4.dhcp": "false"}, "description": "x"}
    _same(*both("PUT", "/1.0/networks/dbr0", put, {"If-Match": etag}), 200)
    _same(*both("GET", "/1.0/networks/dbr0"), 200)
    _same(*both("PATCH", "/1.0/networks/dbr0", {"config": {"user.j": "w"}, "description": "x"}), 200)
    _same(*both("GET", "/1.0/networks/dbr0"), 200)
    _same(*both("PUT", "/1.0/networks/dbr0", {"config": NONE}), 200)
    _same(*both("GET", "/1.0/networks/dbr0"), 200)

    _same(*both("POST", "/1.0/networks/dbr0", {"name": "dbr2"}), 201)
    _same(*both("GET", "/1.0/networks/dbr2"), 200)
    _same(*both("DELETE", "/1.0/networks/dbr2"), 200)
    _same(*both("DELETE", "/1.0/networks/dbr1"), 200)
    _same(*both("GET", "/1.0/networks?recursion=1"), 200)


def test_refusals_equal_the_daemons(both):
    _same(*both("POST", "/1.0/networks", {"name": "dbr0", "config": NONE}), 201)
    # LXD answers 500 for config it refuses on create and for a taken interface name: 400 here.
    bad_values = [
        {"name": "dbr1", "config": {**NONE, "ipv4.nat": "maybe"}},
        {"name": "dbr1", "config": {**NONE, "foo": "1"}},
        {"name": "dbr1", "config": {**NONE, "bridge.mtu": "99"}},
        {"name": "dbr1", "config": {**NONE, "ipv4.dhcp.ranges": "10.0.0.1"}},
        {"name": "dbr1", "config": {**NONE, "dns.mode": "x"}},
        {"name": "dbr1", "config": {"ipv4.address": "10.1.0.0/24", "ipv6.address": "none"}},
        {"name": "dbr1", "config": {"ipv4.address": "none", "ipv6.address": "fd42::/64"}},
        {"name": "lo", "config": NONE},
        {"name": "dbr1", "config": {**NONE, "security.acls": "nope"}},
        {"name": "dbr1", "config": {**NONE, "dns.zone.forward": "example.com"}},
    ]
    for body in bad_values:
        refused_alike(*both("POST", "/1.0/networks", body))
    for body in [
        {"config": {}},
        {"name": "dbr0", "config": NONE},
        {"name": "d"},
        {"name": "d/x"},
        {"name": "x", "type": "y"},
    ]:
        same_refusal(*both("POST", "/1.0/networks", body), 400)
    same_refusal(*both("PUT", "/1.0/networks/dbr0", {"config": {"ipv4.address": "bad"}}), 400)
    same_refusal(*both("PUT", "/1.0/networks/dbr0", {"config": {"ipv4.routes": "10.0.0.1/24"}}), 400)
    same_refusal(*both("POST", "/1.0/networks/dbr0", {"name": ""}), 400)
    same_refusal(*both("POST", "/1.0/networks/dbr0", {"name": "dbr0"}), 409)
    for method, path in [
        ("GET", "/1.0/networks/nope"),
        ("PUT", "/1.0/networks/nope"),
        ("DELETE", "/1.0/networks/nope"),
        ("POST", "/1.0/networks/nope"),
        ("GET", "/1.0/networks/nope/state"),
        ("GET", "/1.0/networks/nope/leases"),
        ("GET", "/1.0/networks/lo/leases"),
        ("PUT", "/1.0/networks/lo"),
        ("GET", "/1.0/networks?project=nope"),
    ]:
        same_refusal(*both(method, path, {"name": "x", "config": {}}), 404)
    stale = '"0000000000000000000000000000000000000000000000000000000000000000"'
    same_refusal(*both("PUT", "/1.0/networks/dbr0", {"config": NONE}, {"If-Match": stale}), 412)
    _same(*both("GET", "/1.0/networks/dbr0"), 200)


def _lxc_both(real_lxd, lxdsite_netns, tmp_path, *args, **kwargs):
    lxd = comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, **kwargs))
    ours = comparable(run_lxc(lxdsite_netns.socket_path, tmp_path / "site", *args, **kwargs))
    return lxd, ours


def test_lxc_network_commands_print_what_they_print_against_lxd(real_lxd, lxdsite_netns, both, tmp_path):
    def alike(*args, **kwargs):
        lxd, ours = _lxc_both(real_lxd, lxdsite_netns, tmp_path, *args, **kwargs)
        lxd = (lxd[0], _BRIDGE_ID.sub("<id>", _MAC.sub("<mac>", lxd[1])), lxd[2])
        ours = (ours[0], _BRIDGE_ID.sub("<id>", _MAC.sub("<mac>", ours[1])), ours[2])
        assert ours == lxd
        return ours

    alike("network", "list")
    assert alike("network", "create", "dbr0", "ipv4.address=none", "ipv6.address=none")[0] == 0
    fixed = ("ipv4.address=10.213.7.1/24", "ipv6.address=none")
    alike("network", "create", "dbr1", *fixed, "--description", "fixed")
    alike("network", "list")
    alike("network", "list", "--format", "yaml")
    alike("network", "show", "dbr1")
    alike("network", "set", "dbr0", "user.a", "1")
    alike("network", "set", "dbr0", "ipv4.dhcp=false", "user.b=2")
    alike("network", "get", "dbr0", "user.a")
    alike("network", "unset", "dbr0", "user.a")
    alike("network", "show", "dbr0")
    alike("network", "set", "dbr0", "ipv4.nat", "maybe")
    edited = "config:\n  ipv4.address: none\n  ipv6.address: none\ndescription: e\n"
    alike("network", "edit", "dbr0", stdin=edited)
    alike("network", "show", "dbr0")
    alike("network", "info", "dbr1")
    lxd, ours = _lxc_both(real_lxd, lxdsite_netns, tmp_path, "network", "info", "lo")
    # The daemon's namespace carries the HTTPS tests' traffic on lo; lxdsite's carries none.
    assert (ours[0], _USAGE.sub(r"\1<n>", ours[1]), ours[2]) == (lxd[0], _USAGE.sub(r"\1<n>", lxd[1]), lxd[2])
    alike("network", "list-leases", "dbr1")
    alike("network", "rename", "dbr0", "dbr2")
    alike("network", "rename", "dbr2", "dbr1")
    alike("network", "show", "nope")
    alike("network", "delete", "dbr2")
    alike("network", "delete", "dbr1")
    alike("network", "delete", "dbr1")
    alike("network", "list")


def test_nics_naming_networks_are_judged_as_the_daemon_judges_them(both):
    _same(*both("POST", "/1.0/networks", {"name": "dbr0", "config": NONE}), 201)
    _same(*both("POST", "/1.0/networks", {"name": "dbr1", "config": FIXED}), 201)
    refused = [
        {"type": "nic", "network": "nope", "name": "eth0"},
        {"type": "nic", "network": "dbr0", "nictype": "bridged"},
        {"type": "nic", "network": "dbr0", "parent": "x"},
        {"type": "nic", "network": "dbr0", "mtu": "1400"},
        {"type": "nic", "network": "dbr0", "ipv4.address": "10.0.0.1"},
        {"type": "nic", "network": "dbr0", "vlan": "0"},
        {"type": "nic", "network": "dbr1", "ipv4.address": "10.213.7.1"},
        {"type": "nic", "network": "dbr1", "ipv4.address": "10.213.8.1"},
        {"type": "nic", "network": "dbr1", "ipv6.address": "fd42::5"},
        {"type": "nic", "nictype": "bridged", "parent": "dbr0", "ipv4.address": "10.0.0.1"},
        {"type": "nic", "nictype": "bridged", "parent": "br9", "ipv4.address": "10.0.0.5"},
    ]
    for device in refused:
        same_refusal(*both("POST", "/1.0/profiles", {"name": "dbr9", "devices": {"eth0": device}}), 400)
    taken = {
        "eth0": {"type": "nic", "network": "dbr0", "name": "eth0"},
        "eth1": {"type": "nic", "network": "dbr1", "ipv4.address": "10.213.7.9"},
    }
    try:
        _same(*both("POST", "/1.0/profiles", {"name": "dbr9", "devices": taken}), 201)
        _same(*both("GET", "/1.0/networks/dbr1"), 200)
        _same(*both("GET", "/1.0/networks?recursion=1"), 200)
        same_refusal(*both("DELETE", "/1.0/networks/dbr1"), 400)
        same_refusal(*both("POST", "/1.0/networks/dbr1", {"name": "dbr2"}), 400)
    finally:
        both("DELETE", "/1.0/profiles/dbr9")
    _same(*both("DELETE", "/1.0/networks/dbr1"), 200)


def test_lxc_init_and_network_attach_print_what_they_print_against_lxd(real_lxd, lxdsite_netns, both, tmp_path):
    def alike(*args):
        lxd, ours = _lxc_both(real_lxd, lxdsite_netns, tmp_path, *args)
        # The MACs both servers draw for NICs (volatile.NAME.hwaddr).
        lxd, ours = ((status, _MAC.sub("<mac>", out), err) for status, out, err in (lxd, ours))
        assert ours == lxd, args
        return ours

    # lxc's first-run hint depends on the servers' storage pools (none yet): spent here.
    alike("network", "list")
    with storage_pool(real_lxd), storage_pool(lxdsite_netns.socket_path):
        try:
            alike("network", "create", "dbr0", "ipv4.address=none", "ipv6.address=none")
            alike("init", "--empty", "dc1", "-n", "nope")
            alike("init", "--empty", "dc1", "-n", "dbr0")
            alike("config", "device", "show", "dc1")
            alike("config", "show", "dc1")
            alike("network", "show", "dbr0")
            alike("network", "delete", "dbr0")
            alike("network", "rename", "dbr0", "dbr2")
            alike("profile", "create", "dbr9")
            alike("profile", "device", "add", "dbr9", "eth0", "nic", "network=nope")
            alike("network", "attach-profile", "dbr0", "dbr9", "eth0")
            alike("profile", "show", "dbr9")
            alike("network", "list")
            alike("network", "detach-profile", "dbr0", "dbr9", "eth0")
            # A second NIC of dc1 on dbr0: its DNS name is taken there. (LXD then keeps the MAC
            # and name it drew for the refused NIC in dc1's volatile keys; lxdsite does not.)
            alike("network", "attach", "dbr0", "dc1", "eth1")
            alike("init", "--empty", "dc2")
            alike("network", "attach", "dbr0", "dc2", "eth1")
            alike("config", "device", "show", "dc2")
            alike("config", "show", "dc2")
            alike("config", "device", "add", "dc2", "e2", "nic", "nictype=macvlan", "parent=lo")
            alike("config", "show", "dc2")
            alike("network", "show", "dbr0")
            alike("network", "detach", "dbr0", "dc2", "eth1")
            alike("config", "show", "dc2")
            alike("delete", "dc1")
            alike("delete", "dc2")
            alike("profile", "delete", "dbr9")
            alike("network", "delete", "dbr0")
        finally:
            run_lxc(real_lxd, tmp_path / "lxd", "delete", "--force", "dc1")
            run_lxc(real_lxd, tmp_path / "lxd", "delete", "--force", "dc2")
            run_lxc(real_lxd, tmp_path / "lxd", "profile", "delete", "dbr9")
