"""Network forwards of OVN networks in-process. The daemon the tests run cannot make OVN networks,
so LXD 5.0.2's source is the reference: lxd/network_forwards.go (handlers, texts), the ovn
driver's ForwardCreate/ForwardUpdate/ForwardDelete, uplinkRoutes, validateExternalSubnet and
getExternalSubnetInUse (lxd/network/driver_ovn.go), the common forwardValidate (driver_common.go)."""

import pytest

from resources.etags import compute_etag
from resources.go import GoStruct
from resources.models import Instance, Network, NetworkForward

NONE = {"ipv4.address": "none", "ipv6.address": "none"}
PORT = {"protocol": "tcp", "listen_port": "80,81", "target_address": "10.9.0.5"}
# A physical uplink routing these to the OVN networks on it (SNAT addresses need routed ingress).
UPLINK = {
    "parent": "eth9",
    "ipv4.routes": "192.0.2.0/24",
    "ipv6.routes": "2001:db8:1::/64",
    "ovn.ingress_mode": "routed",
}


@pytest.fixture
def ovn(api):
    """The uplink ``up0`` and ``ovn1`` on it (10.9.0.1/24 and fd42:9::1/64 behind NAT: no external subnet)."""
    assert api.post("/1.0/networks", {"name": "up0", "type": "physical", "config": UPLINK}).status_code == 201
    config = {"network": "up0", "ipv4.address": "10.9.0.1/24", "ipv6.address": "fd42:9::1/64"}
    config |= {"ipv4.nat": "true", "ipv6.nat": "true"}
    assert api.post("/1.0/networks", {"name": "ovn1", "type": "ovn", "config": config}).status_code == 201


def _refused(response, status, message):
    assert (response.status_code, response.json()["error"]) == (status, message)


@pytest.mark.django_db
def test_an_ovn_forward_lives_as_lxd_shows_it(api, ovn):
    created = api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.10", "ports": [PORT]})

    assert (created.status_code, created.headers["Location"]) == (201, "/1.0/networks/ovn1/forwards/192.0.2.10")
    shown = api.get("/1.0/networks/ovn1/forwards/192.0.2.10")
    port = {
        "description": "",
        "protocol": "tcp",
        "listen_port": "80,81",
        "target_port": "",
        "target_address": "10.9.0.5",
    }
    assert shown.json()["metadata"] == {
        "description": "",
        "config": {},
        "ports": [port],
        "listen_address": "192.0.2.10",
        "location": "none",
    }
    # LXD's recipe: [listen_address, description, config, ports], a port a Go struct (fields in order).
    assert shown.headers["ETag"] == f'"{compute_etag(["192.0.2.10", "", {}, [GoStruct(port)]])}"'

    put = api.put("/1.0/networks/ovn1/forwards/192.0.2.10", {"config": {"target_address": "10.9.0.7"}})
    assert put.status_code == 200
    assert api.get("/1.0/networks/ovn1/forwards/192.0.2.10").json()["metadata"]["ports"] == []
    ipv6 = {"listen_address": "2001:db8:1::5", "config": {"target_address": "fd42:9::5"}}
    assert api.post("/1.0/networks/ovn1/forwards", ipv6).status_code == 201
    assert api.get("/1.0/networks/ovn1/forwards").json()["metadata"] == [
        "/1.0/networks/ovn1/forwards/192.0.2.10",
        "/1.0/networks/ovn1/forwards/2001:db8:1::5",
    ]
    assert api.delete("/1.0/networks/ovn1/forwards/192.0.2.10").status_code == 200
    _refused(api.get("/1.0/networks/ovn1/forwards/192.0.2.10"), 404, "Network forward not found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        # The listen address must lie in the uplink's routes (LXD's own 400).
        ({"listen_address": "198.51.100.1"}, 400, 'Uplink network doesn\'t contain "198.51.100.1/32" in its routes'),
        ({"listen_address": "2001:db8:2::1"}, 400, 'Uplink network doesn\'t contain "2001:db8:2::1/128" in its routes'),
        # The OVN driver's text, not the bridge's ("Failed parsing address forward listen address ...").
        ({"listen_address": "nope"}, 400, 'Failed parsing "nope": invalid CIDR address: nope/32'),
        (
            {"listen_address": "192.0.2.10", "ports": [{**PORT, "target_address": "10.8.0.5"}]},
            400,
            "Target address is not within the network subnet in port specification 0",
        ),
        (
            {"listen_address": "192.0.2.10", "config": {"target_address": "fd42:9::5"}},
            400,
            "Cannot mix IP versions in listen address and default target address",
        ),
        ({"listen_address": "192.0.2.10", "config": {"x": "1"}}, 400, 'Invalid option "x"'),
        ({"listen_address": "192.0.2.1"}, 409, "A forward for that listen address already exists"),
    ],
)
def test_ovn_forward_refusals_are_lxds(api, ovn, body, status, message):
    assert api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.1"}).status_code == 201

    _refused(api.post("/1.0/networks/ovn1/forwards", body), status, f"Failed creating forward: {message}")
    assert list(NetworkForward.objects.values_list("listen_address", flat=True)) == ["192.0.2.1"]


@pytest.mark.django_db
def test_an_ovn_forward_may_not_listen_where_another_ovn_network_or_nic_on_the_uplink_does(api, ovn):
    # ovn2 routes its own subnet without NAT, and SNATs through 192.0.2.200: both external.
    config = {"network": "up0", "ipv4.address": "192.0.2.17/28", "ipv4.nat": "false", "ipv6.address": "none"}
    config["ipv4.nat.address"] = "192.0.2.200"
    assert api.post("/1.0/networks", {"name": "ovn2", "type": "ovn", "config": config}).status_code == 201
    assert api.post("/1.0/networks/ovn2/forwards", {"listen_address": "192.0.2.100"}).status_code == 201
    nic = {"type": "nic", "network": "ovn1", "ipv4.routes.external": "192.0.2.64/27"}
    Instance.objects.create(name="c1", devices={"eth0": nic})

    for listen in ("192.0.2.20", "192.0.2.200", "192.0.2.100", "192.0.2.70"):
        _refused(
            api.post("/1.0/networks/ovn1/forwards", {"listen_address": listen}),
            400,
            f'Failed creating forward: Forward listen address "{listen}/32" overlaps with another OVN network or NIC',
        )
    # Its own subnet and SNAT address do not stand in a network's way (LXD skips them).
    assert api.post("/1.0/networks/ovn2/forwards", {"listen_address": "192.0.2.20"}).status_code == 201
    assert api.post("/1.0/networks/ovn2/forwards", {"listen_address": "192.0.2.200"}).status_code == 201
    # An OVN NIC's external route stands in the way of its own network too.
    _refused(
        api.post("/1.0/networks/ovn2/forwards", {"listen_address": "192.0.2.70"}),
        400,
        'Failed creating forward: Forward listen address "192.0.2.70/32" overlaps with another OVN network or NIC',
    )
    assert api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.130"}).status_code == 201


@pytest.mark.django_db
def test_an_ovn_forward_update_is_checked_and_a_refusal_changes_nothing(api, ovn):
    api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.10", "ports": [PORT]})
    before = api.get("/1.0/networks/ovn1/forwards/192.0.2.10").json()["metadata"]

    bad_port = {**PORT, "target_address": "10.8.0.5"}
    put = api.put("/1.0/networks/ovn1/forwards/192.0.2.10", {"ports": [bad_port]})
    patch = api.patch("/1.0/networks/ovn1/forwards/192.0.2.10", {"config": {"target_address": "10.9.0.5"}})

    _refused(
        put, 400, "Failed updating forward: Target address is not within the network subnet in port specification 0"
    )
    _refused(
        patch,
        400,
        "Failed updating forward: Target address is same as default target address in port specification 0",
    )
    assert api.get("/1.0/networks/ovn1/forwards/192.0.2.10").json()["metadata"] == before


@pytest.mark.django_db
def test_an_ovn_networks_forwards_go_with_it_and_its_uplink_stays_in_use(api, ovn):
    api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.10"})

    assert api.delete("/1.0/networks/up0").status_code == 400
    assert api.delete("/1.0/networks/ovn1").status_code == 200
    assert not NetworkForward.objects.exists()
    assert api.delete("/1.0/networks/up0").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("network_type", ["macvlan", "sriov", "physical"])
def test_other_managed_types_take_no_forwards(api, network_type):
    assert (
        api.post("/1.0/networks", {"name": "n0", "type": network_type, "config": {"parent": "eth9"}}).status_code == 201
    )

    for response in (
        api.get("/1.0/networks/n0/forwards"),
        api.post("/1.0/networks/n0/forwards", {"listen_address": "192.0.2.1"}),
    ):
        _refused(response, 400, f'Network driver "{network_type}" does not support forwards')


@pytest.mark.django_db
def test_a_bridge_forward_may_listen_where_an_ovn_forward_does(api):
    # A bridge checks the forwards of its own cluster member; an OVN forward belongs to none
    # (lxd/db/network_forwards.go GetProjectNetworkForwardListenAddressesOnMember).
    uplink = {"parent": "eth9", "ipv4.routes": "198.51.100.0/24"}
    assert api.post("/1.0/networks", {"name": "phys0", "type": "physical", "config": uplink}).status_code == 201
    config = {"network": "phys0", **NONE}
    assert api.post("/1.0/networks", {"name": "ovn3", "type": "ovn", "config": config}).status_code == 201
    # forwardValidate parses the network's ipv4.address as a CIDR: ``none`` fails (LXD answers 500).
    _refused(
        api.post("/1.0/networks/ovn3/forwards", {"listen_address": "198.51.100.10"}),
        400,
        "Failed creating forward: invalid CIDR address: none",
    )
    patch = {"config": {"ipv4.address": "10.10.0.1/24", "ipv4.nat": "true"}}
    assert api.patch("/1.0/networks/ovn3", patch).status_code == 200
    assert api.post("/1.0/networks/ovn3/forwards", {"listen_address": "198.51.100.10"}).status_code == 201
    bridge = {"ipv4.address": "10.11.0.1/24", "ipv6.address": "none"}
    assert api.post("/1.0/networks", {"name": "br1", "config": bridge}).status_code == 201

    assert api.post("/1.0/networks/br1/forwards", {"listen_address": "198.51.100.10"}).status_code == 201


@pytest.mark.django_db
def test_an_ovn_network_keeps_its_forwards_targets_in_its_subnets(api, ovn):
    # The end of the ovn driver's Validate: every forward's target address stays in the new subnet.
    api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.10", "ports": [PORT]})
    api.post("/1.0/networks/ovn1/forwards", {"listen_address": "192.0.2.11", "config": {"target_address": "10.9.0.9"}})

    moved = api.patch("/1.0/networks/ovn1", {"config": {"ipv4.address": "10.8.0.1/24"}})
    emptied = api.patch("/1.0/networks/ovn1", {"config": {"ipv4.address": "none"}})

    message = (
        'Network forward for "192.0.2.10" has a port target address "10.9.0.5" that is not within the network subnet'
    )
    _refused(moved, 400, message)
    _refused(emptied, 400, message)
    assert api.delete("/1.0/networks/ovn1/forwards/192.0.2.10").status_code == 200
    _refused(
        api.patch("/1.0/networks/ovn1", {"config": {"ipv4.address": "10.8.0.1/24"}}),
        400,
        'Network forward for "192.0.2.11" has a default target address "10.9.0.9" that is not within the network'
        " subnet",
    )
    assert api.get("/1.0/networks/ovn1").json()["metadata"]["config"]["ipv4.address"] == "10.9.0.1/24"
    assert api.patch("/1.0/networks/ovn1", {"config": {"ipv4.address": "10.9.0.1/16"}}).status_code == 200


@pytest.mark.django_db
def test_an_ovn_forward_needs_its_uplink(api):
    # An OVN network whose uplink is gone (the API keeps a used uplink; a row written otherwise):
    # its forwards load the uplink, and LXD keeps the 404 of the lookup.
    config = {"network": "gone", "ipv4.address": "10.9.0.1/24", "ipv4.nat": "true", "ipv6.address": "none"}
    Network.objects.create(name="ovn9", type="ovn", config=config)

    _refused(
        api.post("/1.0/networks/ovn9/forwards", {"listen_address": "192.0.2.1"}),
        404,
        'Failed creating forward: Failed to load uplink network "gone": Network not found',
    )
    assert not NetworkForward.objects.exists()
