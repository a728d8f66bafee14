"""``/1.0/network-acls`` and ``lxc network acl`` beside the real LXD 5.0.2 daemon: same answers,
ETags, refusal texts and output. Nothing is normalised. LXD answers 500 for rules and names it
refuses; lxdsite 400 with the same text."""

import pytest

from tests.support.both_servers import refused_alike, same, same_refusal
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

NAMES = ("dacl2", "dacl1", "dacl3")


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """Send one request to each server: (LXD's answer, lxdsite's); the test's ACLs are deleted afterwards."""
    yield lambda method, path, body=None, headers=None: (
        unix_request(real_lxd, method, path, body, headers),
        lxdsite_server.request(method, path, body, headers),
    )
    unix_request(real_lxd, "DELETE", "/1.0/networks/daclbr")
    unix_request(real_lxd, "DELETE", "/1.0/profiles/daclp")
    for name in NAMES:
        unix_request(real_lxd, "DELETE", f"/1.0/network-acls/{name}")
    assert unix_request(real_lxd, "GET", "/1.0/network-acls")[2]["metadata"] == []


RULE = {"action": "allow", "source": " 10.0.0.0/8 , @internal", "protocol": "tcp", "destination_port": "22, 80-90"}


def test_an_acls_life_equals_the_daemons(both):
    same(*both("GET", "/1.0/network-acls"), 200)
    same(*both("POST", "/1.0/network-acls", {"name": "dacl1"}), 201)
    body = {
        "name": "dacl2",
        "description": "d",
        "ingress": [{**RULE, "state": "enabled"}, {"action": "reject", "state": "disabled", "source": "dacl1"}],
        "egress": [{"action": "drop", "state": "logged", "destination": "dacl1,10.1.0.1-10.1.0.9"}],
        "config": {"user.x": "1"},
    }
    same(*both("POST", "/1.0/network-acls", body), 201)
    same(*both("GET", "/1.0/network-acls/dacl1"), 200)
    same(*both("GET", "/1.0/network-acls/dacl2"), 200)
    same(*both("GET", "/1.0/network-acls?recursion=1"), 200)
    same(*both("GET", "/1.0/network-acls"), 200)

    etag = both("GET", "/1.0/network-acls/dacl2")[0][1]["ETag"]
    put = {
        "description": "x",
        "ingress": [{"action": "allow", "state": "enabled", "protocol": "icmp4", "icmp_type": "8"}],
    }
    same(*both("PUT", "/1.0/network-acls/dacl2", put, {"If-Match": etag}), 200)
    same(*both("GET", "/1.0/network-acls/dacl2"), 200)
    same(*both("PATCH", "/1.0/network-acls/dacl2", {**put, "config": {"user.y": "2"}}), 200)
    same(*both("GET", "/1.0/network-acls/dacl2"), 200)

    # Used by a network and another ACL's rule: not deleted nor renamed.
    same(
        *both(
            "PUT", "/1.0/network-acls/dacl2", {"ingress": [{"action": "allow", "state": "enabled", "source": "dacl1"}]}
        ),
        200,
    )
    network = {"name": "daclbr", "config": {"ipv4.address": "none", "ipv6.address": "none", "security.acls": "dacl1"}}
    same(*both("POST", "/1.0/networks", network), 201)
    # LXD 5.0.2's bridged NICs take no ACLs (only OVN NICs do).
    nic = {"type": "nic", "network": "daclbr", "security.acls": "dacl1"}
    same_refusal(*both("POST", "/1.0/profiles", {"name": "daclp", "devices": {"eth0": nic}}), 400)
    same(*both("GET", "/1.0/network-acls/dacl1"), 200)
    refused_alike(*both("DELETE", "/1.0/network-acls/dacl1"))
    refused_alike(*both("POST", "/1.0/network-acls/dacl1", {"name": "dacl3"}))
    same(*both("DELETE", "/1.0/networks/daclbr"), 200)

    same(*both("POST", "/1.0/network-acls/dacl2", {"name": "dacl3"}), 201)
    same(*both("GET", "/1.0/network-acls/dacl3"), 200)
    same(*both("DELETE", "/1.0/network-acls/dacl3"), 200)
    same(*both("DELETE", "/1.0/network-acls/dacl1"), 200)
    same(*both("GET", "/1.0/network-acls?recursion=1"), 200)


REFUSED_RULES = [
    {"action": "bad", "state": "enabled"},
    {"action": "allow"},
    {"action": "allow", "state": "enabled", "source": "nope"},
    {"action": "allow", "state": "enabled", "source": "dacl1", "destination": "dacl1"},
    {"action": "allow", "state": "enabled", "source": "10.0.0.1", "destination": "::1"},
    {"action": "allow", "state": "enabled", "source": "10.0.0.9-10.0.0.1"},
    {"action": "allow", "state": "enabled", "protocol": "sctp"},
    {"action": "allow", "state": "enabled", "protocol": "tcp", "icmp_type": "1"},
    {"action": "allow", "state": "enabled", "protocol": "tcp", "source_port": "x"},
    {"action": "allow", "state": "enabled", "protocol": "udp", "destination_port": "90-80"},
    {"action": "allow", "state": "enabled", "protocol": "udp", "destination_port": "80-x"},
    {"action": "allow", "state": "enabled", "protocol": "icmp4", "source_port": "1"},
    {"action": "allow", "state": "enabled", "protocol": "icmp4", "source": "::1"},
    {"action": "allow", "state": "enabled", "protocol": "icmp6", "destination": "10.0.0.1"},
    {"action": "allow", "state": "enabled", "protocol": "icmp6", "icmp_code": "300"},
    {"action": "allow", "state": "enabled", "source_port": "22"},
    {"action": "allow", "state": "enabled", "icmp_code": "1"},
]


def test_refusals_equal_the_daemons(both):
    same(*both("POST", "/1.0/network-acls", {"name": "dacl1"}), 201)
    for rule in REFUSED_RULES:
        refused_alike(*both("POST", "/1.0/network-acls", {"name": "dacl2", "ingress": [rule]}))
        refused_alike(*both("POST", "/1.0/network-acls", {"name": "dacl2", "egress": [rule]}))
    twice = [{"action": "allow", "state": "enabled"}, {"action": " allow", "state": "enabled "}]
    refused_alike(*both("POST", "/1.0/network-acls", {"name": "dacl2", "ingress": twice}))
    for name in ["", "@x", "a_b", "1a", "-a", "a-", "x" * 64]:
        refused_alike(*both("POST", "/1.0/network-acls", {"name": name}))
    refused_alike(*both("POST", "/1.0/network-acls", {"name": "dacl2", "config": {"foo": "1"}}))
    same_refusal(*both("POST", "/1.0/network-acls", {"name": "dacl1"}), 400)
    refused_alike(*both("PUT", "/1.0/network-acls/dacl1", {"ingress": [{"action": "x", "state": "enabled"}]}))
    refused_alike(*both("POST", "/1.0/network-acls/dacl1", {"name": ""}))
    for method in ("GET", "PUT", "DELETE", "POST"):
        same_refusal(*both(method, "/1.0/network-acls/nope", {"name": "x"}), 404)
    same(*both("GET", "/1.0/network-acls/dacl1"), 200)


def test_lxc_network_acl_commands_print_what_they_print_against_lxd(real_lxd, lxdsite_server, both, tmp_path):
    def alike(*args, **kwargs):
        lxd = comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, **kwargs))
        ours = comparable(run_lxc(lxdsite_server.socket_path, tmp_path / "site", *args, **kwargs))
        assert ours == lxd, args

    alike("network", "acl", "list")
    alike("network", "acl", "create", "dacl1")
    alike("network", "acl", "create", "dacl2", "user.a=1")
    alike(
        "network", "acl", "rule", "add", "dacl2", "ingress", "action=allow", "source=10.0.0.0/8,dacl1", "state=enabled"
    )
    alike("network", "acl", "rule", "add", "dacl2", "egress", "action=drop", "destination=@external", "protocol=udp")
    alike("network", "acl", "rule", "add", "dacl2", "egress", "action=x")
    alike("network", "acl", "show", "dacl2")
    alike("network", "acl", "list")
    alike("network", "acl", "list", "--format", "yaml")
    alike("network", "acl", "set", "dacl2", "user.k", "v")
    alike("network", "acl", "get", "dacl2", "user.k")
    alike("network", "acl", "unset", "dacl2", "user.k")
    alike("network", "acl", "set", "dacl2", "foo", "v")
    alike("network", "acl", "edit", "dacl1", stdin="description: e\negress:\n- action: reject\n  state: enabled\n")
    alike("network", "acl", "show", "dacl1")
    alike("network", "acl", "rename", "dacl2", "dacl1")
    alike("network", "acl", "delete", "dacl1")
    alike("network", "acl", "rule", "remove", "dacl2", "ingress", "action=allow")
    alike("network", "acl", "rename", "dacl2", "dacl3")
    alike("network", "acl", "delete", "dacl3")
    alike("network", "acl", "delete", "dacl1")
    alike("network", "acl", "show", "nope")
    alike("network", "acl", "list")
