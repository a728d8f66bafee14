"""Network zones in-process: LXD 5.0.2's zone API (checked against the daemon in
tests/test_network_zones_lxd.py); zone names are unique across projects, as in LXD."""

import pytest

from resources.models import Network, NetworkZone, Project


@pytest.mark.django_db
def test_a_zone_is_shown_as_lxd_shows_it_and_used_by_networks_naming_it(api):
    created = api.post("/1.0/network-zones", {"name": "z.example.com", "config": {"peers.a.address": "10.0.0.1"}})
    network = api.post(
        "/1.0/networks",
        {
            "name": "br0",
            "config": {"ipv4.address": "none", "ipv6.address": "none", "dns.zone.forward": "z.example.com"},
        },
    )

    assert (created.status_code, created.headers["Location"]) == (201, "/1.0/network-zones/z.example.com")
    assert network.status_code == 201
    assert api.get("/1.0/network-zones/z.example.com").json()["metadata"] == {
        "description": "",
        "config": {"peers.a.address": "10.0.0.1"},
        "name": "z.example.com",
        "used_by": ["/1.0/networks/br0"],
    }
    refused = api.delete("/1.0/network-zones/z.example.com")
    assert (refused.status_code, refused.json()["error"]) == (400, "Cannot delete a zone that is in use")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "Name is required"),
        ({"name": "/z"}, 'Name cannot start with "/"'),
        ({"name": "z.example.com"}, "The network zone already exists"),
        ({"name": "y", "config": {"peers.a.b.c": "1"}}, 'Invalid network zone configuration key "peers.a.b.c"'),
        (
            {"name": "y", "config": {"peers.a.address": "x"}},
            'Invalid value for config option "peers.a.address": Not an IP address "x"',
        ),
        ({"name": "y", "config": {"x": "1"}}, 'Invalid config option "x"'),
    ],
)
@pytest.mark.django_db
def test_a_refused_zone_is_400_with_lxds_text(api, body, message):
    NetworkZone.objects.create(name="z.example.com")

    response = api.post("/1.0/network-zones", body)

    assert (response.status_code, response.json()["error"]) == (400, message)
    assert list(NetworkZone.objects.values_list("name", flat=True)) == ["z.example.com"]


@pytest.mark.django_db
def test_zone_names_are_unique_across_projects(api):
    Project.objects.create(name="own", config={"features.networks": "true"})
    NetworkZone.objects.create(name="z.example.com")

    taken = api.post("/1.0/network-zones?project=own", {"name": "z.example.com"})
    created = api.post("/1.0/network-zones?project=own", {"name": "o.example.com"})

    assert (taken.status_code, taken.json()["error"]) == (400, "The network zone already exists")
    assert created.headers["Location"] == "/1.0/network-zones/o.example.com?project=own"
    assert api.get("/1.0/network-zones").json()["metadata"] == ["/1.0/network-zones/z.example.com"]
    assert not Network.objects.exists()
