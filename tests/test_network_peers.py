"""Network peers of OVN networks in-process. The daemon the tests run cannot make OVN networks,
so LXD 5.0.2's source is the reference here: lxd/network_peer.go (handlers and their texts), the
ovn driver's PeerCreate/PeerUpdate/PeerDelete and the common peerValidate/peerUsedBy
(lxd/network/driver_ovn.go, driver_common.go), and lxd/db/network_peers.go (how a peering back
links both sides, and the status it shows). tests/test_network_peers_lxd.py compares the
answers for networks that do not peer with the daemon."""

import pytest

from resources.etags import compute_etag
from resources.models import NetworkPeer

NONE = {"ipv4.address": "none", "ipv6.address": "none"}


@pytest.fixture
def ovn(api):
    """A bridge uplink and two OVN networks on it, ``ovn1`` and ``ovn2``."""
    assert api.post("/1.0/networks", {"name": "br0", "config": NONE}).status_code == 201
    for name in ("ovn1", "ovn2"):
        body = {"name": name, "type": "ovn", "config": {"network": "br0", **NONE}}
        assert api.post("/1.0/networks", body).status_code == 201


def _peer(api, network, name):
    return api.get(f"/1.0/networks/{network}/peers/{name}")


@pytest.mark.django_db
def test_a_peering_is_pending_until_the_target_peers_back_then_created_on_both_sides(api, ovn):
    created = api.post("/1.0/networks/ovn1/peers", {"name": "to2", "description": "d", "target_network": "ovn2"})

    assert (created.status_code, created.headers["Location"]) == (201, "/1.0/networks/ovn1/peers/to2")
    pending = _peer(api, "ovn1", "to2")
    assert pending.json()["metadata"] == {
        "description": "d",
        "config": {},
        "name": "to2",
        "target_project": "default",
        "target_network": "ovn2",
        "status": "Pending",
        "used_by": [],
    }
    # LXD's recipe: [name, description, config].
    assert pending.headers["ETag"] == f'"{compute_etag(["to2", "d", {}])}"'

    back = api.post("/1.0/networks/ovn2/peers", {"name": "to1", "target_project": "default", "target_network": "ovn1"})

    assert back.status_code == 201
    for network, name, target in (("ovn1", "to2", "ovn2"), ("ovn2", "to1", "ovn1")):
        shown = _peer(api, network, name).json()["metadata"]
        assert (shown["target_project"], shown["target_network"], shown["status"]) == ("default", target, "Created")
    assert api.get("/1.0/networks/ovn1/peers").json()["metadata"] == ["/1.0/networks/ovn1/peers/to2"]
    listed = api.get("/1.0/networks/ovn1/peers?recursion=1").json()["metadata"]
    assert [(peer["name"], peer["status"]) for peer in listed] == [("to2", "Created")]

    # Deleting one side leaves the other linked to nothing, with no target: LXD shows it Errored.
    assert api.delete("/1.0/networks/ovn2/peers/to1").status_code == 200
    shown = _peer(api, "ovn1", "to2").json()["metadata"]
    assert (shown["target_project"], shown["target_network"], shown["status"]) == ("", "", "Errored")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "p"}, 400, "Failed creating peer: Target network is required"),
        ({"name": "first", "target_network": "x"}, 409, "Failed creating peer: A peer for that name already exists"),
        (
            {"name": "p", "target_project": "default", "target_network": "ovn2"},
            409,
            "Failed creating peer: A peer for that target network already exists",
        ),
        (
            {"name": "internal", "target_network": "x"},
            400,
            "Failed creating peer: Name cannot be one of the reserved network subjects: [internal external]",
        ),
        ({"name": "1p", "target_network": "x"}, 400, "Failed creating peer: Name must not start with a number"),
        ({"name": "", "target_network": "x"}, 400, "Failed creating peer: Name is required"),
        (
            {"name": "p", "target_network": "x", "config": {"foo": "1"}},
            400,
            'Failed creating peer: Invalid option "foo"',
        ),
    ],
)
def test_refused_peers_get_lxds_texts_and_change_nothing(api, ovn, body, status, message):
    assert api.post("/1.0/networks/ovn1/peers", {"name": "first", "target_network": "ovn2"}).status_code == 201

    refused = api.post("/1.0/networks/ovn1/peers", body)

    assert (refused.status_code, refused.json()["error"]) == (status, message)
    assert list(NetworkPeer.objects.values_list("name", flat=True)) == ["first"]


@pytest.mark.django_db
def test_updates_check_config_and_an_acl_naming_the_peer_keeps_it(api, ovn):
    body = {"name": "p", "target_network": "ovn2", "config": {"target_address": "192.0.2.1"}}
    assert api.post("/1.0/networks/ovn1/peers", body).status_code == 201

    refused = api.put("/1.0/networks/ovn1/peers/p", {"config": {"foo": "1"}})
    missing = api.put("/1.0/networks/ovn1/peers/nope", {})
    patched = api.patch("/1.0/networks/ovn1/peers/p", {"config": {"user.a": "1"}})

    assert (refused.status_code, refused.json()["error"]) == (400, 'Failed updating peer: Invalid option "foo"')
    assert (missing.status_code, missing.json()["error"]) == (404, "Failed updating peer: Network peer not found")
    assert patched.status_code == 200
    assert _peer(api, "ovn1", "p").json()["metadata"]["config"] == {"target_address": "192.0.2.1", "user.a": "1"}

    rule = {"action": "allow", "source": "@ovn1/p", "state": "enabled"}
    assert api.post("/1.0/network-acls", {"name": "a1", "ingress": [rule]}).status_code == 201
    assert _peer(api, "ovn1", "p").json()["metadata"]["used_by"] == ["/1.0/network-acls/a1"]
    in_use = api.delete("/1.0/networks/ovn1/peers/p")
    assert (in_use.status_code, in_use.json()["error"]) == (
        400,
        "Failed deleting peer: Cannot delete a Peer that is in use",
    )
    assert NetworkPeer.objects.filter(name="p").exists()
    gone = api.get("/1.0/networks/ovn1/peers/nope")
    assert (gone.status_code, gone.json()["error"]) == (404, "Network peer not found")
