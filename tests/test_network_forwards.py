"""Network forwards in-process (the same requests are checked against the daemon in
tests/test_network_forwards_lxd.py): only bridges take them; a listen address another network uses is refused."""

import pytest

from resources.models import Network, NetworkForward

PORT = {"protocol": "tcp", "listen_port": " 80 ", "target_address": "10.7.0.5"}


@pytest.fixture
def bridge(db):
    return Network.objects.create(name="br0", config={"ipv4.address": "10.7.0.1/24", "ipv6.address": "none"})


@pytest.mark.django_db
def test_a_forward_is_shown_as_lxd_shows_it(api, bridge):
    created = api.post("/1.0/networks/br0/forwards", {"listen_address": "192.0.2.1", "ports": [PORT]})

    assert (created.status_code, created.headers["Location"]) == (201, "/1.0/networks/br0/forwards/192.0.2.1")
    assert api.get("/1.0/networks/br0/forwards").json()["metadata"] == ["/1.0/networks/br0/forwards/192.0.2.1"]
    assert api.get("/1.0/networks/br0/forwards/192.0.2.1").json()["metadata"] == {
        "description": "",
        "config": {},
        "ports": [
            {"description": "", "protocol": "tcp", "listen_port": "80", "target_port": "", "target_address": "10.7.0.5"}
        ],
        "listen_address": "192.0.2.1",
        "location": "none",
    }


@pytest.mark.django_db
def test_forwards_need_a_bridge_and_a_free_listen_address(api, bridge):
    Network.objects.create(name="mv0", type="macvlan", config={"parent": "eth9"})
    Network.objects.create(name="br1", config={"ipv4.address": "10.8.0.1/24", "ipv6.address": "none"})

    macvlan = api.get("/1.0/networks/mv0/forwards")
    unknown = api.get("/1.0/networks/nope/forwards")
    in_use = api.post("/1.0/networks/br0/forwards", {"listen_address": "10.8.0.9"})

    assert (macvlan.status_code, macvlan.json()["error"]) == (400, 'Network driver "macvlan" does not support forwards')
    assert (unknown.status_code, unknown.json()["error"]) == (404, "Failed loading network: Network not found")
    assert (in_use.status_code, in_use.json()["error"]) == (
        400,
        'Failed creating forward: Forward listen address "10.8.0.9/32" overlaps with another network or NIC',
    )
    assert not NetworkForward.objects.exists()


@pytest.mark.django_db
def test_a_networks_forwards_go_with_it(api, bridge):
    api.post("/1.0/networks/br0/forwards", {"listen_address": "192.0.2.1"})

    assert api.delete("/1.0/networks/br0").status_code == 200
    assert not NetworkForward.objects.exists()
