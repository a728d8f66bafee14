"""Safe methods never write, and answer as the GET of their URL would (RFC 9110 §9.2.1, §9.3.2)."""

import pytest

from resources.models import Instance


@pytest.fixture
def c1(db):
    return Instance.objects.create(name="c1")


@pytest.mark.parametrize("method", ["head", "options"])
def test_a_safe_method_with_a_write_body_changes_nothing(api, c1, method):
    response = getattr(api, method)("/1.0/instances/c1/state", {"action": "start"}, format="json")
    assert response.status_code == 200
    assert Instance.objects.get(name="c1").status == Instance.STOPPED


def test_head_of_the_root_answers_as_its_get(api):
    get, head = api.get("/"), api.head("/")
    assert head.status_code == get.status_code == 200
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


@pytest.mark.parametrize(
    "path",
    [
        "/1.0/profiles/a%00b",
        "/1.0/images/aliases/a%00",
        "/1.0/instances/c%001",
        "/1.0/instances/c%001/snapshots",
        "/1.0/instances/c1/snapshots/s%00",
    ],
)
@pytest.mark.django_db
def test_a_name_with_nul_is_not_found(api, path):
    for method in ("get", "put", "delete"):
        response = getattr(api, method)(path, {})
        assert response.status_code == 404, (method, response.content)
        assert response.json()["type"] == "error"
