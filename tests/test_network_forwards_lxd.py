"""``/1.0/networks/NAME/forwards`` and ``lxc network forward`` beside the real LXD 5.0.2 daemon
(both in a network namespace of their own): same answers, ETags, refusal texts and output.
The daemon's bridge has a fixed address without NAT; its forwards become nftables rules inside
its namespace, and nothing is sent. LXD answers 500 for forwards it refuses; lxdsite 400."""

import pytest

from tests.support.both_servers import refused_alike, same, same_refusal
from tests.support.live_server import running_server, unix_request
from tests.support.lxc import comparable, run_lxc
from tests.support.real_lxd import OWN_NETNS

pytestmark = [pytest.mark.live, pytest.mark.lxd]

BRIDGE = {"name": "dfbr", "config": {"ipv4.address": "10.213.9.1/24", "ipv6.address": "none"}}
OTHER = {"name": "dfbr2", "config": {"ipv4.address": "10.213.10.1/24", "ipv6.address": "none"}}
FORWARDS = "/1.0/networks/dfbr/forwards"
PORT = {"protocol": "tcp", "listen_port": "80, 8080-8081", "target_address": "10.213.9.5", "target_port": "80"}


@pytest.fixture
def both(real_lxd, tmp_path):
    """lxdsite (in its own network namespace) and the daemon, each with the bridges ``dfbr`` and
    ``dfbr2``; both are deleted from the daemon afterwards (with their forwards)."""
    with running_server(tmp_path / "lxd", wrapper=[str(OWN_NETNS)]) as site:

        def send(method, path, body=None, headers=None):
            return unix_request(real_lxd, method, path, body, headers), site.request(method, path, body, headers)

        try:
            for bridge in (BRIDGE, OTHER):
                lxd, ours = send("POST", "/1.0/networks", bridge)
                assert (lxd[0], ours[0]) == (201, 201), (lxd[2], ours[2])
            yield send, site
        finally:
            for name in ("dfbr", "dfbr2"):
                for url in unix_request(real_lxd, "GET", f"/1.0/networks/{name}/forwards")[2].get("metadata") or []:
                    unix_request(real_lxd, "DELETE", url)
                unix_request(real_lxd, "DELETE", f"/1.0/networks/{name}")


def _same_listed(answers):
    """Both list the same forwards: LXD 5.0.2 walks a Go map for ``recursion=1``, in random order."""
    lxd, ours = answers
    assert (lxd[0], ours[0]) == (200, 200)
    key = lambda forward: forward["listen_address"]  # noqa: E731
    assert sorted(ours[2]["metadata"], key=key) == sorted(lxd[2]["metadata"], key=key)


def test_a_forwards_life_equals_the_daemons(both):
    send, _ = both
    same(*send("GET", FORWARDS), 200)
    body = {"listen_address": "192.0.2.1", "description": " d ", "config": {"target_address": "10.213.9.4"}}
    same(*send("POST", FORWARDS, body), 201)
    same(*send("POST", FORWARDS, {"listen_address": "192.0.2.2", "ports": [PORT]}), 201)
    same(*send("GET", f"{FORWARDS}/192.0.2.1"), 200)
    same(*send("GET", f"{FORWARDS}/192.0.2.2"), 200)
    same(*send("GET", FORWARDS), 200)
    _same_listed(send("GET", f"{FORWARDS}?recursion=1"))
    etag = send("GET", f"{FORWARDS}/192.0.2.1")[0][1]["ETag"]
    put = {"description": "x", "config": {"user.a": "1"}, "ports": [{**PORT, "listen_port": "22"}]}
    same(*send("PUT", f"{FORWARDS}/192.0.2.1", put, {"If-Match": etag}), 200)
    same(*send("GET", f"{FORWARDS}/192.0.2.1"), 200)
    same(*send("PATCH", f"{FORWARDS}/192.0.2.1", {"description": "x", "config": {"target_address": "10.213.9.7"}}), 200)
    same(*send("GET", f"{FORWARDS}/192.0.2.1"), 200)
    same(*send("DELETE", f"{FORWARDS}/192.0.2.1"), 200)
    same(*send("DELETE", f"{FORWARDS}/192.0.2.2"), 200)
    _same_listed(send("GET", f"{FORWARDS}?recursion=1"))


REFUSED = [
    {"listen_address": "nope"},
    {"listen_address": "192.0.2.3", "config": {"foo": "1"}},
    {"listen_address": "192.0.2.3", "config": {"target_address": "x"}},
    {"listen_address": "192.0.2.3", "config": {"target_address": "fd00::1"}},
    {"listen_address": "192.0.2.3", "config": {"target_address": "10.9.9.9"}},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "protocol": "icmp"}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "target_address": "x"}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "target_address": "10.9.9.9"}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "listen_port": ""}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "listen_port": "x"}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "listen_port": "9-1"}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "listen_port": "1-2-3"}]},
    {"listen_address": "192.0.2.3", "ports": [PORT, PORT]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "target_port": "1,2"}]},
    {"listen_address": "192.0.2.3", "ports": [{**PORT, "target_port": "x"}]},
    {"listen_address": "192.0.2.3", "config": {"target_address": "10.213.9.5"}, "ports": [PORT]},
    # Inside the other bridge's subnet (no NAT there): in use.
    {"listen_address": "10.213.10.7"},
    # An IPv6 listen address on a bridge whose ipv6.address is none: LXD fails parsing "none".
    {"listen_address": "fd00::1"},
]


def test_refusals_equal_the_daemons(both):
    send, _ = both
    same(*send("POST", FORWARDS, {"listen_address": "192.0.2.1"}), 201)
    for body in REFUSED:
        refused_alike(*send("POST", FORWARDS, body))
    same_refusal(*send("POST", FORWARDS, {"listen_address": "192.0.2.1"}), 409)
    refused_alike(*send("PUT", f"{FORWARDS}/192.0.2.1", {"ports": [{**PORT, "protocol": "x"}]}))
    for method in ("GET", "PUT", "DELETE"):
        same_refusal(*send(method, f"{FORWARDS}/192.0.2.9", {}), 404)
    same_refusal(*send("GET", "/1.0/networks/nope/forwards"), 404)
    same(*send("GET", f"{FORWARDS}/192.0.2.1"), 200)


def test_lxc_network_forward_commands_print_what_they_print_against_lxd(real_lxd, both, tmp_path):
    _, site = both

    def alike(*args, **kwargs):
        lxd = comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, **kwargs))
        ours = comparable(run_lxc(site.socket_path, tmp_path / "site", *args, **kwargs))
        assert ours == lxd, args

    alike("network", "forward", "list", "dfbr")
    alike("network", "forward", "create", "dfbr", "192.0.2.1", "target_address=10.213.9.4")
    alike("network", "forward", "port", "add", "dfbr", "192.0.2.1", "tcp", "80,443", "10.213.9.5")
    alike("network", "forward", "port", "add", "dfbr", "192.0.2.1", "udp", "53", "10.213.9.6", "5353")
    alike("network", "forward", "port", "add", "dfbr", "192.0.2.1", "tcp", "80", "10.213.9.6")
    alike("network", "forward", "show", "dfbr", "192.0.2.1")
    alike("network", "forward", "list", "dfbr")
    alike("network", "forward", "set", "dfbr", "192.0.2.1", "user.k", "v")
    alike("network", "forward", "get", "dfbr", "192.0.2.1", "user.k")
    alike("network", "forward", "unset", "dfbr", "192.0.2.1", "user.k")
    alike("network", "forward", "port", "remove", "dfbr", "192.0.2.1", "tcp")
    alike("network", "forward", "edit", "dfbr", "192.0.2.1", stdin="description: e\nconfig: {}\nports: []\n")
    alike("network", "forward", "show", "dfbr", "192.0.2.1")
    alike("network", "forward", "delete", "dfbr", "192.0.2.1")
    alike("network", "forward", "show", "dfbr", "192.0.2.1")
    alike("network", "forward", "list", "dfbr")


@pytest.mark.parametrize("network_type", ["macvlan", "physical"])
def test_types_without_forwards_are_refused_as_the_daemon_refuses_them(both, real_lxd, network_type):
    # A macvlan or physical network on ``lo`` makes no interface: the daemon can hold one in its namespace.
    send, _ = both
    network = {"name": "dfnf", "type": network_type, "config": {"parent": "lo"}}
    try:
        lxd, ours = send("POST", "/1.0/networks", network)
        assert (lxd[0], ours[0]) == (201, 201), (lxd[2], ours[2])
        same_refusal(*send("GET", "/1.0/networks/dfnf/forwards"), 400)
        same_refusal(*send("POST", "/1.0/networks/dfnf/forwards", {"listen_address": "192.0.2.1"}), 400)
        same_refusal(*send("GET", "/1.0/networks/dfnf/forwards/192.0.2.1"), 400)
    finally:
        unix_request(real_lxd, "DELETE", "/1.0/networks/dfnf")
