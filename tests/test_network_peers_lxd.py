"""``/1.0/networks/NAME/peers`` and ``lxc network peer`` beside the real LXD 5.0.2 daemon, for
what it can make here: a bridge (which does not peer), the host's ``lo`` and a network that does
not exist. Peers live on OVN networks only, which the daemon cannot make (no OVN here): their
behaviour follows LXD 5.0.2's source and is tested in tests/test_network_peers.py."""

import pytest

from tests.support.both_servers import same_refusal
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

NONE = {"ipv4.address": "none", "ipv6.address": "none"}


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """Send one request to each server: (LXD's answer, lxdsite's); each has the bridge ``pbr``
    while the test runs."""
    for server in (lambda *args: unix_request(real_lxd, *args), lxdsite_server.request):
        assert server("POST", "/1.0/networks", {"name": "pbr", "config": NONE}, None)[0] == 201
    yield lambda method, path, body=None: (
        unix_request(real_lxd, method, path, body),
        lxdsite_server.request(method, path, body),
    )
    for server in (lambda *args: unix_request(real_lxd, *args), lxdsite_server.request):
        server("DELETE", "/1.0/networks/pbr", None, None)
    assert unix_request(real_lxd, "GET", "/1.0/networks/pbr")[0] == 404


def test_peers_of_networks_that_do_not_peer_answer_as_the_daemon(both):
    peer = {"name": "p1", "target_network": "x"}
    for network, status in (("pbr", 400), ("nope", 404), ("lo", 404)):
        same_refusal(*both("GET", f"/1.0/networks/{network}/peers"), status)
        same_refusal(*both("GET", f"/1.0/networks/{network}/peers?recursion=1"), status)
        same_refusal(*both("POST", f"/1.0/networks/{network}/peers", peer), status)
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            same_refusal(*both(method, f"/1.0/networks/{network}/peers/p1", {}), status)
    same_refusal(*both("POST", "/1.0/networks/pbr/peers/p1", {}), 501)
    same_refusal(*both("GET", "/1.0/networks/pbr/peers?project=nope"), 404)


def test_lxc_network_peer_commands_print_what_they_print_against_lxd(real_lxd, lxdsite_server, both, tmp_path):
    def alike(*args, **kwargs):
        lxd = comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, **kwargs))
        ours = comparable(run_lxc(lxdsite_server.socket_path, tmp_path / "site", *args, **kwargs))
        assert ours == lxd, args

    for network in ("pbr", "nope"):
        alike("network", "peer", "list", network)
        alike("network", "peer", "create", network, "p1", "other")
        alike("network", "peer", "show", network, "p1")
        alike("network", "peer", "set", network, "p1", "user.a", "1")
        alike("network", "peer", "get", network, "p1", "user.a")
        alike("network", "peer", "unset", network, "p1", "user.a")
        alike("network", "peer", "edit", network, "p1", stdin="description: x\n")
        alike("network", "peer", "delete", network, "p1")
