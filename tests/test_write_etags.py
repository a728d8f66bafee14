"""A write's answer carries the ETag of what it wrote: a client can chain writes with it."""

import pytest

from resources.models import Instance, InstanceProfile, Profile, Snapshot


@pytest.fixture
def c1(db):
    default = Profile.objects.get_or_create(name="default")[0]
    Profile.objects.create(name="extra", config={"limits.cpu": "2"})
    instance = Instance.objects.create(name="c1", config={"user.a": "1"})
    InstanceProfile.objects.create(instance=instance, profile=default)
    Snapshot.objects.create(instance=instance, name="snap0", profiles=["default", "extra"], config={"user.a": "0"})
    return instance


def _current(api):
    response = api.get("/1.0/instances/c1")
    assert response.status_code == 200
    return response.headers["ETag"]


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", {"profiles": ["default", "extra"]}),
        ("put", {"profiles": ["extra"], "config": {}, "devices": {}}),
        ("put", {"restore": "snap0"}),
    ],
)
def test_an_instance_write_that_changes_its_profiles_answers_the_new_etag(api, c1, method, body):
    written = getattr(api, method)("/1.0/instances/c1", body, headers={"If-Match": _current(api)})
    assert written.status_code in (200, 202)
    assert written.headers["ETag"] == _current(api)
    chained = api.patch("/1.0/instances/c1", {"description": "next"}, headers={"If-Match": written.headers["ETag"]})
    assert chained.status_code == 200
