"""``/1.0/network-zones`` and ``lxc network zone`` beside the real LXD 5.0.2 daemon: same answers,
ETags, refusal texts and output; nothing normalised. LXD answers 500 for names and config it
refuses and for a zone in use; lxdsite 400 with the same text."""

import pytest

from tests.support.both_servers import refused_alike, same, same_refusal
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

NONE = {"ipv4.address": "none", "ipv6.address": "none"}


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """Send one request to each server: (LXD's answer, lxdsite's); the test's zones are deleted afterwards."""
    yield lambda method, path, body=None, headers=None: (
        unix_request(real_lxd, method, path, body, headers),
        lxdsite_server.request(method, path, body, headers),
    )
    unix_request(real_lxd, "DELETE", "/1.0/networks/dzbr")
    for name in ("dz1.example.com", "dz2.example.com"):
        unix_request(real_lxd, "DELETE", f"/1.0/network-zones/{name}")
    assert unix_request(real_lxd, "GET", "/1.0/network-zones")[2]["metadata"] == []


def test_a_zones_life_equals_the_daemons(both):
    same(*both("GET", "/1.0/network-zones"), 200)
    body = {"name": "dz1.example.com", "description": "d", "config": {"peers.ns.address": "127.0.0.2"}}
    same(*both("POST", "/1.0/network-zones", body), 201)
    same(*both("POST", "/1.0/network-zones", {"name": "dz2.example.com"}), 201)
    same(*both("GET", "/1.0/network-zones/dz1.example.com"), 200)
    same(*both("GET", "/1.0/network-zones?recursion=1"), 200)
    same(*both("GET", "/1.0/network-zones"), 200)
    etag = both("GET", "/1.0/network-zones/dz1.example.com")[0][1]["ETag"]
    put = {"description": "x", "config": {"dns.nameservers": "ns1.example.com", "network.nat": "false"}}
    same(*both("PUT", "/1.0/network-zones/dz1.example.com", put, {"If-Match": etag}), 200)
    same(*both("GET", "/1.0/network-zones/dz1.example.com"), 200)
    same(*both("PATCH", "/1.0/network-zones/dz1.example.com", {"description": "x", "config": {"user.a": "1"}}), 200)
    same(*both("GET", "/1.0/network-zones/dz1.example.com"), 200)

    network = {"name": "dzbr", "config": {**NONE, "dns.zone.forward": "dz1.example.com"}}
    same(*both("POST", "/1.0/networks", network), 201)
    same(*both("GET", "/1.0/network-zones/dz1.example.com"), 200)
    refused_alike(*both("DELETE", "/1.0/network-zones/dz1.example.com"))
    same_refusal(*both("PATCH", "/1.0/networks/dzbr", {"config": {"dns.zone.reverse.ipv4": "nope"}}), 400)
    same(*both("DELETE", "/1.0/networks/dzbr"), 200)
    same(*both("DELETE", "/1.0/network-zones/dz1.example.com"), 200)
    same(*both("GET", "/1.0/network-zones?recursion=1"), 200)


def test_refusals_equal_the_daemons(both):
    same(*both("POST", "/1.0/network-zones", {"name": "dz1.example.com"}), 201)
    same_refusal(*both("POST", "/1.0/network-zones", {"name": "dz1.example.com"}), 400)
    for body in [
        {"name": ""},
        {"name": "/x"},
        {"name": "dz2.example.com", "config": {"peers.x": "1"}},
        {"name": "dz2.example.com", "config": {"peers.x.address": "nope"}},
        {"name": "dz2.example.com", "config": {"network.nat": "x"}},
        {"name": "dz2.example.com", "config": {"foo": "x"}},
    ]:
        refused_alike(*both("POST", "/1.0/network-zones", body))
    refused_alike(*both("PUT", "/1.0/network-zones/dz1.example.com", {"config": {"foo": "1"}}))
    for method in ("GET", "PUT", "DELETE"):
        same_refusal(*both(method, "/1.0/network-zones/nope", {}), 404)
    same_refusal(*both("POST", "/1.0/network-zones/dz1.example.com", {"name": "x"}), 501)


def test_lxc_network_zone_commands_print_what_they_print_against_lxd(real_lxd, lxdsite_server, both, tmp_path):
    def alike(*args, **kwargs):
        lxd = comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, **kwargs))
        ours = comparable(run_lxc(lxdsite_server.socket_path, tmp_path / "site", *args, **kwargs))
        assert ours == lxd, args

    alike("network", "zone", "list")
    alike("network", "zone", "create", "dz1.example.com", "peers.ns.address=127.0.0.2")
    alike("network", "zone", "create", "dz1.example.com")
    alike("network", "zone", "show", "dz1.example.com")
    alike("network", "zone", "set", "dz1.example.com", "user.k", "v")
    alike("network", "zone", "get", "dz1.example.com", "user.k")
    alike("network", "zone", "unset", "dz1.example.com", "user.k")
    alike("network", "zone", "set", "dz1.example.com", "foo", "v")
    alike("network", "zone", "edit", "dz1.example.com", stdin="description: e\nconfig:\n  network.nat: 'true'\n")
    alike("network", "zone", "list")
    alike("network", "zone", "delete", "dz1.example.com")
    alike("network", "zone", "show", "nope")
    alike("network", "zone", "list")
