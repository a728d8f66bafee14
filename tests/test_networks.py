"""Networks: LXD 5.0.2's network API, its rules and texts (checked against the daemon in
tests/test_networks_lxd.py; the macvlan, sriov, ovn and physical rules are from LXD 5.0.2's
lxd/network/driver_*.go, as the daemon here cannot make those networks)."""

import ipaddress
import re
import socket

import pytest

from resources.host_interfaces import interface_names, interface_type
from resources.models import Instance, InstanceProfile, Network, Profile, Project

NONE = {"ipv4.address": "none", "ipv6.address": "none"}


@pytest.fixture
def bridge(db):
    return Network.objects.create(name="br0", config=dict(NONE))


def _create(api, body, project=""):
    return api.post(f"/1.0/networks{project}", body)


@pytest.mark.django_db
def test_a_created_bridge_is_shown_as_lxd_shows_it(api):
    created = _create(api, {"name": "br0", "description": "d", "config": NONE})

    assert created.status_code == 201
    assert created.headers["Location"] == "/1.0/networks/br0"
    shown = api.get("/1.0/networks/br0")
    assert shown.status_code == 200
    assert shown.json()["metadata"] == {
        "config": NONE,
        "description": "d",
        "name": "br0",
        "type": "bridge",
        "used_by": None,
        "managed": True,
        "status": "Created",
        "locations": ["none"],
    }


@pytest.mark.django_db
def test_auto_addresses_are_filled_in_with_nat_and_never_clash(api):
    first = _create(api, {"name": "br0"})
    second = _create(api, {"name": "br1", "config": {"ipv6.address": "none"}})

    assert (first.status_code, second.status_code) == (201, 201)
    one, two = (Network.objects.get(name=name).config for name in ("br0", "br1"))
    assert (one["ipv4.nat"], two["ipv4.nat"]) == ("true", "true")
    for config in (one, two):
        address = ipaddress.ip_interface(config["ipv4.address"])
        assert address.network.prefixlen == 24
        assert address.ip in ipaddress.ip_network("10.0.0.0/8")
        assert str(address.ip).endswith(".1")
    assert ipaddress.ip_interface(one["ipv4.address"]).network != ipaddress.ip_interface(two["ipv4.address"]).network
    assert two["ipv6.address"] == "none"
    assert "ipv6.nat" not in two
    if one.get("ipv6.address"):
        assert re.fullmatch(r"fd42(:[0-9a-f]{1,4}){3}::1/64", one["ipv6.address"])
        assert one["ipv6.nat"] == "true"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "No name provided"),
        ({"name": "br1", "type": "foo"}, "Unknown driver"),
        ({"name": "b"}, "Network interface is too short (minimum 2 characters)"),
        ({"name": "br/1"}, "Network interface contains invalid characters"),
        ({"name": "br0"}, "The network already exists"),
        (
            {"name": "br1", "config": {**NONE, "ipv4.nat": "maybe"}},
            'Invalid value for network "br1" option "ipv4.nat": Invalid value for a boolean "maybe"',
        ),
        ({"name": "br1", "config": {**NONE, "foo": "1"}}, 'Invalid option for network "br1" option "foo"'),
        (
            {"name": "br1", "config": {"ipv4.address": "bad", "ipv6.address": "none"}},
            'Invalid value for network "br1" option "ipv4.address": invalid CIDR address: bad',
        ),
        (
            {"name": "br1", "config": {"ipv4.address": "10.0.0.0/24", "ipv6.address": "none"}},
            'Invalid value for network "br1" option "ipv4.address": Not a usable IPv4 address "10.0.0.0/24"',
        ),
        (
            {"name": "br1", "config": {**NONE, "bridge.mode": "fan"}},
            "IPv4 configuration may not be set when in 'fan' mode",
        ),
        # LXD 5.0.2 macvlan.Validate: parent is required.
        (
            {"name": "mv0", "type": "macvlan"},
            'Invalid value for network "mv0" option "parent": Required value',
        ),
        (
            {"name": "ph0", "type": "physical", "config": {"parent": "eth9", "ipv4.gateway": "10.0.0.1"}},
            'Invalid value for network "ph0" option "ipv4.gateway": invalid CIDR address: 10.0.0.1',
        ),
        (
            {"name": "sr0", "type": "sriov", "config": {"parent": "eth9", "gvrp": "true"}},
            'Invalid option for network "sr0" option "gvrp"',
        ),
    ],
)
@pytest.mark.django_db
def test_a_refused_create_is_400_with_lxds_text_and_makes_nothing(api, bridge, body, message):
    response = _create(api, body)

    assert response.status_code == 400
    assert response.json()["error"] == message
    assert list(Network.objects.values_list("name", flat=True)) == ["br0"]


@pytest.mark.django_db
def test_other_managed_types_keep_their_keys(api, bridge):
    macvlan = _create(api, {"name": "mv0", "type": "macvlan", "config": {"parent": "eth9", "vlan": "10"}})
    ovn = _create(api, {"name": "ovn0", "type": "ovn", "config": {"network": "br0", **NONE}})

    assert (macvlan.status_code, ovn.status_code) == (201, 201)
    assert api.get("/1.0/networks/mv0").json()["metadata"]["config"] == {"parent": "eth9", "vlan": "10"}
    assert api.get("/1.0/networks/ovn0").json()["metadata"]["type"] == "ovn"


@pytest.mark.django_db
def test_an_ovn_networks_auto_addresses_come_with_nat_as_lxd_fills_them(api, bridge):
    # lxd/network/driver_ovn.go populateAutoConfig: an ``auto`` address sets ``ipvN.nat`` unless given.
    # (Without NAT, the subnet would have to lie in the uplink's routes: not for a random one.)
    body = {"name": "ovn0", "type": "ovn", "config": {"network": "br0", "ipv6.address": "auto"}}
    assert _create(api, body).status_code == 201

    config = api.get("/1.0/networks/ovn0").json()["metadata"]["config"]
    assert (config["ipv4.nat"], config["ipv6.nat"]) == ("true", "true")
    assert config["ipv4.address"].endswith(".1/24")
    assert config["ipv6.address"].endswith("::1/64")


@pytest.mark.django_db
def test_a_host_interface_name_cannot_be_a_bridge(api):
    name = interface_names()[0]

    response = _create(api, {"name": name, "config": NONE})

    assert response.status_code == 400
    assert response.json()["error"] == f'Network interface "{name}" already exists'


@pytest.mark.django_db
def test_the_list_shows_managed_networks_then_the_host_interfaces(api, bridge):
    urls = api.get("/1.0/networks").json()["metadata"]
    objects = api.get("/1.0/networks?recursion=1").json()["metadata"]

    hosts = [name for name in interface_names() if name != "br0"]
    assert urls == ["/1.0/networks/br0"] + [f"/1.0/networks/{name}" for name in hosts]
    assert [(item["name"], item["managed"]) for item in objects] == [("br0", True)] + [(n, False) for n in hosts]
    host = objects[1]
    assert host == {
        "config": {},
        "description": "",
        "name": hosts[0],
        "type": interface_type(hosts[0]),
        "used_by": [] if interface_type(hosts[0]) == "loopback" else None,
        "managed": False,
        "status": "",
        "locations": None,
    }
    assert api.get(f"/1.0/networks/{hosts[0]}").json()["metadata"] == host


@pytest.mark.django_db
def test_put_replaces_and_patch_merges_config(api, bridge):
    etag = api.get("/1.0/networks/br0").headers["ETag"]

    put = api.put(
        "/1.0/networks/br0", {"config": {**NONE, "user.a": "1"}, "description": "x"}, headers={"If-Match": etag}
    )
    patch = api.patch("/1.0/networks/br0", {"config": {"user.b": "2"}})

    assert (put.status_code, patch.status_code) == (200, 200)
    assert put.json()["metadata"] == {}
    bridge.refresh_from_db()
    assert bridge.config == {**NONE, "user.a": "1", "user.b": "2"}
    assert bridge.description == "x"


@pytest.mark.django_db
def test_a_refused_update_is_lxds_400_and_changes_nothing(api, bridge):
    response = api.put("/1.0/networks/br0", {"config": {"ipv4.address": "bad"}})

    assert response.status_code == 400
    assert (
        response.json()["error"] == 'Invalid value for network "br0" option "ipv4.address": invalid CIDR address: bad'
    )
    bridge.refresh_from_db()
    assert bridge.config == NONE


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("get", "/1.0/networks/nope", "Network not found"),
        ("put", "/1.0/networks/nope", "Failed loading network: Network not found"),
        ("delete", "/1.0/networks/nope", "Failed loading network: Network not found"),
        ("post", "/1.0/networks/nope", "Failed loading network: Network not found"),
        ("get", "/1.0/networks/nope/leases", "Failed loading network: Network not found"),
        ("get", "/1.0/networks/nope/state", 'Network interface "nope" not found'),
    ],
)
@pytest.mark.django_db
def test_an_unknown_network_is_lxds_404(api, method, path, message):
    response = getattr(api, method)(path, {"name": "x"}) if method in ("put", "post") else getattr(api, method)(path)

    assert response.status_code == 404
    assert response.json()["error"] == message


@pytest.mark.django_db
def test_a_host_interface_cannot_be_written(api):
    name = interface_names()[0]

    response = api.put(f"/1.0/networks/{name}", {"config": {}})

    assert response.status_code == 404
    assert response.json()["error"] == "Failed loading network: Network not found"


@pytest.mark.django_db
def test_rename_answers_201_and_refuses_as_lxd_does(api, bridge):
    Network.objects.create(name="br1", config=dict(NONE))

    taken = api.post("/1.0/networks/br0", {"name": "br1"})
    empty = api.post("/1.0/networks/br0", {"name": ""})
    renamed = api.post("/1.0/networks/br0", {"name": "br2"})

    assert (taken.status_code, taken.json()["error"]) == (409, 'Network "br1" already exists')
    assert (empty.status_code, empty.json()["error"]) == (400, "New network name not provided")
    assert renamed.status_code == 201
    assert renamed.headers["Location"] == "/1.0/networks/br2"
    assert sorted(Network.objects.values_list("name", flat=True)) == ["br1", "br2"]


@pytest.mark.django_db
def test_used_by_lists_profiles_then_instances_and_blocks_delete_and_rename(api, bridge):
    nic = {"type": "nic", "network": "br0", "name": "eth0"}
    Profile.objects.create(name="net", devices={"eth0": nic})
    instance = Instance.objects.create(name="c1", devices={"eth1": {**nic, "name": "eth1"}})
    InstanceProfile.objects.create(instance=instance, profile=Profile.objects.get(name="net"))

    shown = api.get("/1.0/networks/br0").json()["metadata"]
    deleted = api.delete("/1.0/networks/br0")
    renamed = api.post("/1.0/networks/br0", {"name": "br9"})

    # One URL per NIC using it, as LXD lists them: the instance has two (its own and its profile's).
    assert shown["used_by"] == ["/1.0/profiles/net", "/1.0/instances/c1", "/1.0/instances/c1"]
    assert (deleted.status_code, deleted.json()["error"]) == (400, "The network is currently in use")
    assert (renamed.status_code, renamed.json()["error"]) == (400, "Network is currently in use")
    assert Network.objects.filter(name="br0").exists()


@pytest.mark.django_db
def test_delete_of_an_unused_network(api, bridge):
    response = api.delete("/1.0/networks/br0")

    assert (response.status_code, response.json()["metadata"]) == (200, {})
    assert not Network.objects.exists()


@pytest.mark.django_db
def test_state_and_leases_of_a_bridge(api):
    Network.objects.create(name="br0", config={"ipv4.address": "10.5.5.1/24", "ipv6.address": "fd42:1::1/64"})
    nic = {"type": "nic", "network": "br0", "ipv4.address": "10.5.5.7", "hwaddr": "00:16:3e:00:00:01"}
    Instance.objects.create(name="c1", devices={"eth0": nic})

    state = api.get("/1.0/networks/br0/state").json()["metadata"]
    leases = api.get("/1.0/networks/br0/leases").json()["metadata"]

    assert [(a["family"], a["address"], a["netmask"]) for a in state["addresses"]] == [
        ("inet", "10.5.5.1", "24"),
        ("inet6", "fd42:1::1", "64"),
    ]
    assert (state["mtu"], state["state"], state["type"]) == (1500, "up", "broadcast")
    assert state["bridge"]["id"] == "8000." + state["hwaddr"].replace(":", "")
    assert leases == [
        {"hostname": "br0.gw", "hwaddr": "", "address": "10.5.5.1", "type": "gateway", "location": ""},
        {"hostname": "br0.gw", "hwaddr": "", "address": "fd42:1::1", "type": "gateway", "location": ""},
        {"hostname": "c1", "hwaddr": "00:16:3e:00:00:01", "address": "10.5.5.7", "type": "static", "location": "none"},
        # SLAAC (EUI-64) of the NIC's MAC in the bridge's /64.
        {
            "hostname": "c1",
            "hwaddr": "00:16:3e:00:00:01",
            "address": "fd42:1::216:3eff:fe00:1",
            "type": "dynamic",
            "location": "none",
        },
    ]


@pytest.mark.django_db
def test_state_and_leases_of_an_ovn_network(api):
    # lxd/network/driver_ovn.go State and Leases: the router's addresses with scope link, the
    # network's MTU or 1500, its chassis; leases: its gateways (instances' come from OVN ports).
    config = {"network": "br0", "ipv4.address": "10.6.6.1/24", "ipv6.address": "fd42:6::1/64", "bridge.mtu": "1400"}
    Network.objects.create(name="ovn0", type="ovn", config={**config, "bridge.hwaddr": "00:16:3E:AA:BB:CC"})
    nic = {"type": "nic", "network": "ovn0", "ipv4.address": "10.6.6.7"}
    Instance.objects.create(name="c1", devices={"eth0": nic})

    state = api.get("/1.0/networks/ovn0/state").json()["metadata"]
    leases = api.get("/1.0/networks/ovn0/leases").json()["metadata"]

    assert state == {
        "addresses": [
            {"family": "inet", "address": "10.6.6.1", "netmask": "24", "scope": "link"},
            {"family": "inet6", "address": "fd42:6::1", "netmask": "64", "scope": "link"},
        ],
        "counters": {"bytes_received": 0, "bytes_sent": 0, "packets_received": 0, "packets_sent": 0},
        "hwaddr": "00:16:3E:AA:BB:CC",
        "mtu": 1400,
        "state": "up",
        "type": "broadcast",
        "bond": None,
        "bridge": None,
        "vlan": None,
        "ovn": {"chassis": socket.gethostname()},
    }
    assert leases == [
        {"hostname": "ovn0.gw", "hwaddr": "", "address": "10.6.6.1", "type": "gateway", "location": ""},
        {"hostname": "ovn0.gw", "hwaddr": "", "address": "fd42:6::1", "type": "gateway", "location": ""},
    ]
    # Other managed types have no leases in LXD.
    Network.objects.create(name="mv0", type="macvlan", config={"parent": "eth9"})
    assert api.get("/1.0/networks/mv0/leases").status_code == 501


@pytest.mark.django_db
def test_networks_live_in_projects_with_features_networks(api, bridge):
    Project.objects.create(name="own", config={"features.networks": "true"})
    Project.objects.create(name="shared", config={})

    refused = _create(api, {"name": "br5", "type": "bridge", "config": NONE}, "?project=own")
    created = _create(api, {"name": "ovn5", "config": {"network": "br0", **NONE}}, "?project=own")

    assert (refused.status_code, refused.json()["error"]) == (400, "Network type does not support non-default projects")
    assert created.status_code == 201
    assert created.headers["Location"] == "/1.0/networks/ovn5?project=own"
    assert api.get("/1.0/networks?project=own").json()["metadata"] == ["/1.0/networks/ovn5"]
    assert api.get("/1.0/networks/ovn5?project=own").json()["metadata"]["type"] == "ovn"
    # A project without the feature uses the default project's networks, host interfaces included.
    assert api.get("/1.0/networks?project=shared").json()["metadata"] == api.get("/1.0/networks").json()["metadata"]
    unknown = api.get("/1.0/networks?project=nope")
    assert (unknown.status_code, unknown.json()["error"]) == (404, 'Failed to load project "nope": Project not found')
    # A project holding a network is not empty.
    assert api.delete("/1.0/projects/own").json()["error"] == "Only empty projects can be removed"


@pytest.mark.django_db
def test_network_extensions_are_advertised(api):
    extensions = api.get("/1.0").json()["metadata"]["api_extensions"]

    assert {"network", "network_state", "network_leases"} <= set(extensions)


@pytest.mark.parametrize(
    ("device", "message"),
    [
        (
            {"type": "nic", "network": "nope", "name": "eth0"},
            'Failed loading device "eth0": Failed to load network "nope" for project "default": Network not found',
        ),
        (
            {"type": "nic", "network": "br0", "nictype": "bridged"},
            'Cannot use "nictype" property in conjunction with "network" property',
        ),
        (
            {"type": "nic", "network": "br0", "parent": "x"},
            'Cannot use "parent" property in conjunction with "network" property',
        ),
        (
            {"type": "nic", "network": "br0", "mtu": "1400"},
            'Cannot use "mtu" property in conjunction with "network" property',
        ),
        (
            {"type": "nic", "network": "br0", "ipv4.address": "10.0.0.1"},
            'Cannot specify "ipv4.address" when DHCP is disabled (unless using security.ipv4_filtering) '
            'on network "br0"',
        ),
        ({"type": "nic", "network": "br0", "vlan": "0"}, "VLAN ID 0 is not allowed for native Linux bridges"),
        ({"type": "nic", "network": "br0", "foo": "1"}, 'Invalid device option "foo"'),
        (
            {"type": "nic", "network": "fixed", "ipv4.address": "10.9.0.1"},
            'IP address "10.9.0.1" is assigned to parent managed network device ""',
        ),
        (
            {"type": "nic", "network": "fixed", "ipv4.address": "10.8.0.1"},
            'Device IP address "10.8.0.1" not within network "fixed" subnet',
        ),
        (
            {"type": "nic", "nictype": "bridged", "parent": "br9", "ipv4.address": "10.0.0.5"},
            "Cannot use manually specified ipv4.address when using unmanaged parent bridge",
        ),
        (
            {"type": "nic", "network": "phys"},
            'Failed loading device "eth0": Unrecognised NIC network type for network "phys"',
        ),
    ],
)
@pytest.mark.django_db
def test_a_profile_nic_naming_a_network_is_checked_against_it(api, bridge, device, message):
    Network.objects.create(name="fixed", config={"ipv4.address": "10.9.0.1/24", "ipv6.address": "none"})
    Network.objects.create(name="phys", type="physical", config={"parent": "eth9"})

    response = api.post("/1.0/profiles", {"name": "p", "devices": {"eth0": device}})

    assert response.status_code == 400
    assert response.json()["error"] == f'Device validation failed for "eth0": {message}'
    assert not Profile.objects.filter(name="p").exists()


@pytest.mark.django_db
def test_nics_naming_managed_networks_are_taken(api, bridge):
    Network.objects.create(name="fixed", config={"ipv4.address": "10.9.0.1/24", "ipv6.address": "none"})
    Network.objects.create(name="mv0", type="macvlan", config={"parent": "eth9"})
    devices = {
        "eth0": {"type": "nic", "network": "br0", "name": "eth0"},
        "eth1": {"type": "nic", "network": "fixed", "ipv4.address": "10.9.0.7"},
        "eth2": {"type": "nic", "network": "mv0"},
    }

    response = api.post("/1.0/profiles", {"name": "p", "devices": devices})

    assert response.status_code == 201, response.json()
    assert api.get("/1.0/networks/fixed").json()["metadata"]["used_by"] == ["/1.0/profiles/p"]


@pytest.mark.django_db
def test_an_instance_nic_naming_an_unknown_network_fails_its_operation_with_lxds_text(api):
    body = {"name": "c1", "source": {"type": "none"}, "devices": {"eth0": {"type": "nic", "network": "nope"}}}

    response = api.post("/1.0/instances", body)
    operation = api.get(response.json()["operation"] + "/wait?timeout=10").json()["metadata"]

    assert operation["status"] == "Failure"
    assert operation["err"] == (
        "Failed creating instance record: Failed initialising instance: Invalid devices: "
        'Device validation failed for "eth0": Failed loading device "eth0": '
        'Failed to load network "nope" for project "default": Network not found'
    )
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"security.acls": "nope"}, 'Network ACL "nope" does not exist'),
        ({"security.acls": "a1,a1"}, 'Network ACL "a1" specified multiple times'),
        (
            {"dns.zone.forward": "example.com"},
            'Invalid value for network "br0" option "dns.zone.forward": Network zone "example.com" doesn\'t exist',
        ),
    ],
)
@pytest.mark.django_db
def test_a_network_names_acls_and_zones_that_exist(api, bridge, config, message):
    api.post("/1.0/network-acls", {"name": "a1"})

    response = api.patch("/1.0/networks/br0", {"config": config})

    assert (response.status_code, response.json()["error"]) == (400, message)
    assert api.patch("/1.0/networks/br0", {"config": {"security.acls": "a1"}}).status_code == 200
    assert api.get("/1.0/network-acls/a1").json()["metadata"]["used_by"] == ["/1.0/networks/br0"]


@pytest.mark.django_db
def test_nics_get_lxds_volatile_mac_and_interface_name(api, bridge, default_pool):
    devices = {"eth0": {"type": "nic", "network": "br0", "name": "eth0"}, "e2": {"type": "nic", "network": "br0"}}
    body = {"name": "c1", "source": {"type": "none"}, "devices": devices}

    api.get(api.post("/1.0/instances", body).json()["operation"] + "/wait?timeout=10")
    config = Instance.objects.get(name="c1").config
    added = api.patch(
        "/1.0/instances/c1", {"devices": {"p0": {"type": "nic", "nictype": "physical", "parent": "eth9"}}}
    )
    api.get(added.json()["operation"] + "/wait?timeout=10")
    after = Instance.objects.get(name="c1").config

    assert re.fullmatch(r"00:16:3e(:[0-9a-f]{2}){3}", config["volatile.eth0.hwaddr"])
    assert re.fullmatch(r"00:16:3e(:[0-9a-f]{2}){3}", config["volatile.e2.hwaddr"])
    # e2 has no interface name: the first one no other NIC takes.
    assert (config["volatile.e2.name"], "volatile.eth0.name" in config) == ("eth1", False)
    # A physical NIC keeps its parent's MAC; the others keep theirs.
    assert "volatile.p0.hwaddr" not in after
    assert after["volatile.p0.name"] == "eth2"
    assert after["volatile.eth0.hwaddr"] == config["volatile.eth0.hwaddr"]


@pytest.mark.django_db
def test_a_nic_added_to_an_instance_may_not_clash_with_another_on_its_bridge(api):
    Network.objects.create(name="br0", config={"ipv4.address": "10.5.0.1/24", "ipv6.address": "none"})
    Network.objects.create(name="br1", config={"ipv4.address": "none", "ipv6.address": "none", "dns.mode": "none"})
    nic = {"type": "nic", "network": "br0", "ipv4.address": "10.5.0.7", "hwaddr": "00:16:3e:00:00:07"}
    Instance.objects.create(name="c1", devices={"eth0": nic})
    Instance.objects.create(name="c2")

    def added(instance, devices):
        # LXD answers an instance PATCH synchronously.
        response = api.patch(f"/1.0/instances/{instance}", {"devices": devices})
        return response.json()["error"]

    same_ip = added("c2", {"eth0": {"type": "nic", "network": "br0", "ipv4.address": "10.5.0.7"}})
    same_mac = added("c2", {"eth0": {"type": "nic", "network": "br0", "hwaddr": "00:16:3E:00:00:07"}})
    same_name = added("c1", {"eth1": {"type": "nic", "network": "br0"}})
    other_vlan = added("c1", {"eth1": {"type": "nic", "network": "br0", "vlan": "5"}})
    no_dns = added("c2", {"eth5": {"type": "nic", "network": "br1"}, "eth6": {"type": "nic", "network": "br1"}})

    assert same_ip == 'Failed add validation for device "eth0": IP address "10.5.0.7" already defined on another NIC'
    assert same_mac == (
        'Failed add validation for device "eth0": MAC address "00:16:3e:00:00:07" already defined on another NIC'
    )
    assert same_name == 'Failed add validation for device "eth1": Instance DNS name "c1" already used on network'
    assert (other_vlan, no_dns) == ("", "")
    assert set(Instance.objects.get(name="c2").devices) == {"eth5", "eth6"}
