"""Network ACLs: LXD 5.0.2's ACL API in-process (rules, names, texts, projects, used_by); the same
requests are checked against the daemon in tests/test_network_acls_lxd.py."""

import pytest

from resources.models import Network, NetworkACL, Project

RULE = {"action": "allow", "state": "enabled"}


@pytest.mark.django_db
def test_an_acl_is_shown_as_lxd_shows_it_with_normalised_rules(api):
    ingress = [{"action": " allow", "source": " 10.0.0.0/8 , @internal", "protocol": "tcp", "state": "enabled"}]

    created = api.post("/1.0/network-acls", {"name": "a1", "description": "d", "ingress": ingress})
    shown = api.get("/1.0/network-acls/a1")

    assert (created.status_code, created.headers["Location"]) == (201, "/1.0/network-acls/a1")
    assert shown.json()["metadata"] == {
        "name": "a1",
        "description": "d",
        "egress": [],
        "ingress": [{"action": "allow", "source": "10.0.0.0/8,@internal", "protocol": "tcp", "state": "enabled"}],
        "config": {},
        "used_by": [],
    }
    assert NetworkACL.objects.get(name="a1").ingress == shown.json()["metadata"]["ingress"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "Name is required"),
        ({"name": "#a"}, "Name cannot start with reserved character '#'"),
        ({"name": "9a"}, "Name must not start with a number"),
        ({"name": "a.b"}, "Name can only contain alphanumeric and hyphen characters"),
        ({"name": "a1"}, "The network ACL already exists"),
        ({"name": "a2", "config": {"x": "1"}}, 'Invalid config option "x"'),
        (
            {"name": "a2", "ingress": [{"action": "allow"}]},
            "Invalid ingress rule 0: State must be one of: enabled, disabled, logged",
        ),
        (
            {"name": "a2", "egress": [{**RULE, "source": "a1"}]},
            'Invalid egress rule 0: Invalid Source: Named subjects not allowed in "Source" for "egress" rules',
        ),
        (
            {"name": "a2", "ingress": [{**RULE, "source": "10.0.0.1", "destination": "::1"}]},
            "Invalid ingress rule 0: Conflicting IP family types used for Source and Destination",
        ),
        (
            {"name": "a2", "ingress": [{**RULE, "protocol": "tcp", "destination_port": "9-1"}]},
            "Invalid ingress rule 0: Invalid Destination port: Start port 9 must be lower than end port 1",
        ),
        ({"name": "a2", "ingress": [RULE, RULE]}, "Duplicate of ingress rule 0"),
        (
            {"name": "a2", "ingress": [{**RULE, "source": "a2"}]},
            'Invalid ingress rule 0: Invalid Source: Invalid subject "a2"',
        ),
    ],
)
@pytest.mark.django_db
def test_a_refused_acl_is_400_with_lxds_text_and_makes_nothing(api, body, message):
    NetworkACL.objects.create(name="a1")

    response = api.post("/1.0/network-acls", body)

    assert (response.status_code, response.json()["error"]) == (400, message)
    assert list(NetworkACL.objects.values_list("name", flat=True)) == ["a1"]


@pytest.mark.django_db
def test_put_replaces_and_patch_merges(api):
    NetworkACL.objects.create(name="a1", description="d", ingress=[RULE], config={"user.a": "1"})

    put = api.put("/1.0/network-acls/a1", {"egress": [{"action": "drop", "state": "logged"}]})
    after_put = NetworkACL.objects.get(name="a1")
    patch = api.patch("/1.0/network-acls/a1", {"config": {"user.b": "2"}})
    after_patch = NetworkACL.objects.get(name="a1")

    assert (put.status_code, patch.status_code) == (200, 200)
    assert (after_put.description, after_put.ingress, after_put.config) == ("", [], {})
    assert after_patch.egress == [{"action": "drop", "state": "logged"}]
    assert after_patch.config == {"user.b": "2"}


@pytest.mark.django_db
def test_an_acl_in_use_is_neither_deleted_nor_renamed(api):
    NetworkACL.objects.create(name="a1")
    NetworkACL.objects.create(name="a2", ingress=[{**RULE, "source": "a1"}])
    Network.objects.create(name="br0", config={"ipv4.address": "none", "security.acls": "a1"})

    shown = api.get("/1.0/network-acls/a1").json()["metadata"]
    deleted = api.delete("/1.0/network-acls/a1")
    renamed = api.post("/1.0/network-acls/a1", {"name": "a3"})
    taken = api.post("/1.0/network-acls/a2", {"name": "a1"})

    assert shown["used_by"] == ["/1.0/networks/br0", "/1.0/network-acls/a2"]
    assert (deleted.status_code, deleted.json()["error"]) == (400, "Cannot delete an ACL that is in use")
    assert (renamed.status_code, renamed.json()["error"]) == (400, "Cannot rename an ACL that is in use")
    assert (taken.status_code, taken.json()["error"]) == (400, "An ACL by that name exists already")
    assert api.post("/1.0/network-acls/a2", {"name": "a4"}).status_code == 201
    assert api.delete("/1.0/network-acls/a4").status_code == 200


@pytest.mark.django_db
def test_acls_live_in_projects_with_features_networks(api):
    Project.objects.create(name="own", config={"features.networks": "true"})

    created = api.post("/1.0/network-acls?project=own", {"name": "a1"})

    assert created.headers["Location"] == "/1.0/network-acls/a1?project=own"
    assert api.get("/1.0/network-acls?project=own").json()["metadata"] == ["/1.0/network-acls/a1"]
    assert api.get("/1.0/network-acls").json()["metadata"] == []
    assert api.get("/1.0/network-acls/a1").status_code == 404
