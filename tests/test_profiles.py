"""Profiles: LXD's CRUD, rename, texts and status codes (correct HTTP where LXD's are not)."""

from urllib.parse import quote

import pytest

from resources.models import Instance, InstanceProfile, Profile


@pytest.mark.django_db
def test_default_profile_exists_from_the_start(api):
    response = api.get("/1.0/profiles/default")

    assert response.status_code == 200
    assert response.json()["metadata"] == {
        "config": {},
        "description": "Default LXD profile",
        "devices": {},
        "name": "default",
        "used_by": [],
    }
    assert response.headers["ETag"] == '"0be6a87776a61ffd5357c45f5dce6e9abc0d4d4bbdb520bab9a7528f2548e9d5"'


@pytest.mark.django_db
def test_list_gives_urls_and_objects_with_recursion(api, profile):
    urls = api.get("/1.0/profiles").json()["metadata"]
    objects = api.get("/1.0/profiles?recursion=1").json()["metadata"]

    assert urls == ["/1.0/profiles/default", "/1.0/profiles/p1"]
    assert [item["name"] for item in objects] == ["default", "p1"]
    assert api.get("/1.0/profiles?recursion=bad").json()["metadata"] == urls


@pytest.mark.django_db
def test_create_answers_201_with_location(api):
    response = api.post("/1.0/profiles", {"name": "web", "description": "d", "config": {"limits.cpu": "1"}})

    assert response.status_code == 201
    assert response.headers["Location"] == "/1.0/profiles/web"
    assert response.json()["metadata"] is None
    assert response.json()["status_code"] == 200
    created = Profile.objects.get(name="web")
    assert (created.description, created.config, created.devices) == ("d", {"limits.cpu": "1"}, {})


@pytest.mark.django_db
def test_duplicate_name_is_409_with_lxd_text(api, profile):
    response = api.post("/1.0/profiles", {"name": "p1"})

    assert response.status_code == 409
    assert response.json()["error"] == 'Error inserting "p1" into database: The profile already exists'
    assert Profile.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad/name", "Profile names may not contain slashes"),
        ("", "No name provided"),
        (".", 'Invalid profile name "."'),
        ("..", 'Invalid profile name ".."'),
    ],
)
@pytest.mark.django_db
def test_bad_names_are_refused(api, name, message):
    response = api.post("/1.0/profiles", {"name": name})

    assert response.status_code == 400
    assert response.json()["error"] == message
    assert Profile.objects.count() == 1


@pytest.mark.django_db
def test_put_replaces_and_patch_merges(api, profile):
    api.patch("/1.0/profiles/p1", {"config": {"limits.memory": "1GB"}, "devices": {"eth0": {"type": "none"}}})
    patched = Profile.objects.get(name="p1")
    assert patched.config == {"limits.cpu": "1", "limits.memory": "1GB", "user.note": "a<b>&c"}
    assert set(patched.devices) == {"data", "eth0"}
    assert patched.description == "test profile"

    api.put("/1.0/profiles/p1", {"config": {"limits.cpu": "2"}})
    replaced = Profile.objects.get(name="p1")
    assert (replaced.config, replaced.description, replaced.devices) == ({"limits.cpu": "2"}, "", {})


@pytest.mark.django_db
def test_patch_with_empty_value_removes_the_key(api, profile):
    api.patch("/1.0/profiles/p1", {"config": {"user.note": ""}})

    assert Profile.objects.get(name="p1").config == {"limits.cpu": "1"}


@pytest.mark.django_db
def test_null_maps_are_empty(api, profile):
    response = api.put("/1.0/profiles/p1", {"config": None, "description": None, "devices": None})

    assert response.status_code == 200
    assert api.get("/1.0/profiles/p1").json()["metadata"]["config"] == {}


@pytest.mark.django_db
def test_rename_answers_201_and_moves_the_profile(api, profile):
    response = api.post("/1.0/profiles/p1", {"name": "p2"})

    assert response.status_code == 201
    assert response.headers["Location"] == "/1.0/profiles/p2"
    assert api.get("/1.0/profiles/p1").status_code == 404
    assert api.get("/1.0/profiles/p2").json()["metadata"]["description"] == "test profile"


@pytest.mark.django_db
def test_rename_onto_a_taken_name_is_409(api, profile):
    response = api.post("/1.0/profiles/p1", {"name": "default"})

    assert response.status_code == 409
    assert Profile.objects.filter(name="p1").exists()


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("delete", None, 'The "default" profile cannot be deleted'),
        ("post", {"name": "x"}, 'The "default" profile cannot be renamed'),
        ("post", {}, 'The "default" profile cannot be renamed'),
    ],
)
@pytest.mark.django_db
def test_default_profile_cannot_be_deleted_or_renamed(api, method, body, message):
    response = getattr(api, method)("/1.0/profiles/default", body)

    assert response.status_code == 403
    assert response.json()["error"] == message
    assert Profile.objects.filter(name="default").exists()


@pytest.mark.django_db
def test_delete_removes_the_profile(api, profile):
    response = api.delete("/1.0/profiles/p1")

    assert response.status_code == 200
    assert response.json()["metadata"] == {}
    assert not Profile.objects.filter(name="p1").exists()


@pytest.mark.parametrize("count", [1, 20])
@pytest.mark.parametrize("recursion", ["0", "1"])
@pytest.mark.django_db
def test_list_query_count_does_not_grow(api, django_assert_num_queries, count, recursion):
    Profile.objects.bulk_create(Profile(name=f"q{index}") for index in range(count))

    # The profiles; with recursion, one more for every profile's used_by.
    with django_assert_num_queries(1 if recursion == "0" else 2):
        response = api.get(f"/1.0/profiles?recursion={recursion}")

    assert len(response.json()["metadata"]) == count + 1


@pytest.mark.django_db
def test_one_profile_reads_as_the_list_shows_it(api, profile, django_assert_num_queries):
    # Instances take the profile in an order unlike their names: used_by keeps that order.
    for name in ["zz", "aa", "mm"]:
        instance = Instance.objects.create(name=name)
        InstanceProfile.objects.create(instance=instance, profile=profile)
    listed = {entry["name"]: entry for entry in api.get("/1.0/profiles?recursion=1").json()["metadata"]}

    # The profile and its users: two queries, however many instances use it.
    with django_assert_num_queries(2):
        response = api.get("/1.0/profiles/p1")
    head = api.head("/1.0/profiles/p1")

    assert response.json()["metadata"] == listed["p1"]
    assert listed["p1"]["used_by"] == ["/1.0/instances/zz", "/1.0/instances/aa", "/1.0/instances/mm"]
    assert head.status_code == 200
    assert head.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize("name", ["it's", "50%", "a_b", "ünï", "x" * 63])
@pytest.mark.django_db
def test_a_name_finds_exactly_its_profile(api, name):
    # The read path runs SQL compiled once: quotes, LIKE wildcards and non-ASCII stay values.
    for other in ["its", "500", "axb", "uni", "x" * 62]:
        Profile.objects.create(name=other)
    Profile.objects.create(name=name, description=name)

    found = api.get(f"/1.0/profiles/{quote(name)}")
    missing = api.get(f"/1.0/profiles/{quote(name + '-')}")

    assert found.json()["metadata"]["description"] == name
    assert missing.status_code == 404
    assert missing.json()["error"] == "Fetch profile: Profile not found"
