"""An OVN network's uplink checks in-process, from LXD 5.0.2's source (the daemon here cannot make
OVN networks): lxd/network/driver_ovn.go Validate, validateUplinkNetwork, allowedUplinkNetworks."""

import pytest

from resources.models import Network

NONE = {"ipv4.address": "none", "ipv6.address": "none"}
ROUTED = {"parent": "eth9", "ipv4.routes": "192.0.2.0/24", "ovn.ingress_mode": "routed"}


@pytest.fixture
def uplinks(api):
    """``br0`` (a bridge routing 198.51.100.0/24, ingress not routed), ``phys0`` (physical, routed
    ingress of 192.0.2.0/24), ``mv0`` (macvlan: no uplink), and ``taken`` on phys0 routing 192.0.2.0/26."""
    for body in (
        {"name": "br0", "config": {**NONE, "ipv4.routes": "198.51.100.0/24"}},
        {"name": "phys0", "type": "physical", "config": ROUTED},
        {"name": "mv0", "type": "macvlan", "config": {"parent": "eth9"}},
        {"name": "taken", "type": "ovn", "config": {"network": "phys0", **NONE, "ipv4.address": "192.0.2.1/26"}},
    ):
        response = api.post("/1.0/networks", body)
        assert response.status_code == 201, response.json()["error"]


def _ovn(api, config, name="o1", project=""):
    return api.post(f"/1.0/networks{project}", {"name": name, "type": "ovn", "config": {**NONE, **config}})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"network": "mv0"}, 'Option "network" value "mv0" is not one of the allowed uplink networks in project'),
        ({"network": "nope"}, 'Option "network" value "nope" is not one of the allowed uplink networks in project'),
        ({}, 'Option "network" is required'),
        # Without NAT the network's subnet is external: it must lie in the uplink's routes.
        (
            {"network": "br0", "ipv4.address": "10.1.0.1/24"},
            'Uplink network doesn\'t contain "10.1.0.0/24" in its routes',
        ),
        (
            {"network": "br0", "ipv4.address": "10.1.0.1/24", "ipv4.nat": "true", "ipv4.nat.address": "198.51.100.1"},
            'Cannot specify "ipv4.nat.address" when uplink ovn.ingress_mode is not "routed"',
        ),
        (
            {"network": "phys0", "ipv4.nat.address": "203.0.113.1"},
            'Uplink network doesn\'t contain "203.0.113.1/32" in its routes',
        ),
        (
            {"network": "phys0", "ipv4.address": "192.0.2.33/27"},
            'External subnet "192.0.2.32/27" overlaps with another OVN network or NIC',
        ),
        (
            {"network": "phys0", "ipv4.nat.address": "192.0.2.5"},
            'NAT address "192.0.2.5" overlaps with another OVN network or NIC',
        ),
    ],
)
def test_an_ovn_networks_uplink_refusals_are_lxds(api, uplinks, config, message):
    response = _ovn(api, config)

    assert (response.status_code, response.json()["error"]) == (400, message)
    assert not Network.objects.filter(name="o1").exists()


@pytest.mark.django_db
def test_an_ovn_network_may_route_free_subnets_of_its_uplink(api, uplinks):
    assert (
        _ovn(api, {"network": "phys0", "ipv4.address": "192.0.2.65/26", "ipv4.nat.address": "192.0.2.200"}).status_code
        == 201
    )
    # Its own subnet and SNAT address do not stand in the way of its own update.
    assert api.patch("/1.0/networks/o1", {"config": {"ipv4.address": "192.0.2.66/26"}}).status_code == 200
    moved = api.patch("/1.0/networks/o1", {"config": {"ipv4.address": "192.0.2.2/26"}})
    assert (moved.status_code, moved.json()["error"]) == (
        400,
        'External subnet "192.0.2.0/26" overlaps with another OVN network or NIC',
    )


@pytest.mark.django_db
def test_a_restricted_project_uses_the_uplinks_it_allows(api, uplinks):
    config = {"features.networks": "true", "restricted": "true", "restricted.networks.uplinks": "phys0"}
    assert api.post("/1.0/projects", {"name": "r", "config": config}).status_code == 201
    assert (
        api.post("/1.0/projects", {"name": "none", "config": {**config, "restricted.networks.uplinks": ""}}).status_code
        == 201
    )

    refused = _ovn(api, {"network": "br0"}, project="?project=r")
    alone = _ovn(api, {}, project="?project=r")
    nothing = _ovn(api, {}, project="?project=none")

    assert (
        refused.json()["error"] == 'Option "network" value "br0" is not one of the allowed uplink networks in project'
    )
    # The one uplink the project may use need not be named.
    assert alone.status_code == 201
    assert (nothing.status_code, nothing.json()["error"]) == (400, "No allowed uplink networks in project")
