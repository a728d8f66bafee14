"""LXD's envelope on every answer, and bad input refused with a clear 400 that changes nothing."""

import json

import pytest

from resources.envelope import EncodedEnvelope, LXDJSONRenderer, to_json_bytes
from resources.models import Profile

ERROR_KEYS = ["type", "status", "status_code", "operation", "error_code", "error", "metadata"]


def _error(response):
    body = response.json()
    assert list(body) == ERROR_KEYS
    assert (body["type"], body["status"], body["status_code"], body["operation"], body["metadata"]) == (
        "error",
        "",
        0,
        "",
        None,
    )
    assert body["error_code"] == response.status_code
    return body["error"]


@pytest.mark.django_db
def test_root_lists_api_versions(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json() == {
        "type": "sync",
        "status": "Success",
        "status_code": 200,
        "operation": "",
        "error_code": 0,
        "error": "",
        "metadata": ["/1.0"],
    }
    assert response.content.endswith(b"}\n")


@pytest.mark.parametrize("path", ["/1.0/nonexistent", "/nonexistent", "/1.0/profiles/", "/1.0/profiles/default/"])
@pytest.mark.django_db
def test_unknown_path_is_lxd_not_found(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert _error(response) == "not found"


@pytest.mark.parametrize(("method", "path"), [("delete", "/1.0"), ("post", "/1.0"), ("put", "/1.0/profiles")])
@pytest.mark.django_db
def test_unsupported_method_is_501_not_405(api, method, path):
    response = getattr(api, method)(path, {})

    assert response.status_code == 501
    assert _error(response) == "not implemented"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "Invalid JSON"),
        ('{"config":', "Invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "Invalid JSON"),
        ('{"description": "\\ud800"}', "unpaired surrogate"),
        ('{"config": {"user.\\udfff": "x"}}', "unpaired surrogate"),
        ('{"devices": {"d": {"path": "/a\\u0000"}}}', "NUL character"),
        (b'{"description": "\xff"}', "not UTF-8"),
        ('{"config": "notamap"}', "config: expected an object of strings, got string"),
        ('{"config": {"limits.cpu": 2}}', 'config: value of "limits.cpu" must be a string, got number'),
        ('{"devices": {"d": "x"}}', 'devices: expected device "d" to be an object, got string'),
        ('{"devices": []}', "devices: expected an object of devices, got array"),
        ('{"description": 5}', "description: expected a string, got number"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_400_and_changes_nothing(api, profile, body, message):
    before = Profile.objects.get(name="p1")

    response = api.generic("PUT", "/1.0/profiles/p1", body, content_type="application/json")

    assert response.status_code == 400
    assert message in _error(response)
    after = Profile.objects.get(name="p1")
    assert (after.description, after.config, after.devices) == (before.description, before.config, before.devices)


@pytest.mark.django_db
def test_body_is_json_whatever_the_content_type(api, profile):
    response = api.generic(
        "PATCH", "/1.0/profiles/p1", '{"description":"via form"}', content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert Profile.objects.get(name="p1").description == "via form"


@pytest.mark.django_db
def test_read_only_fields_sent_back_are_ignored(api, profile):
    body = {"name": "renamed", "used_by": ["/1.0/instances/x"], "config": {}, "description": "d", "devices": {}}

    response = api.put("/1.0/profiles/p1", body)

    assert response.status_code == 200
    assert Profile.objects.filter(name="p1", description="d").exists()
    assert not Profile.objects.filter(name="renamed").exists()


@pytest.mark.django_db
def test_non_ascii_is_stored_and_answered_raw(api, profile):
    api.patch("/1.0/profiles/p1", {"description": "é <&> 😀"})

    response = api.get("/1.0/profiles/p1")

    assert "é <&> 😀".encode() in response.content


@pytest.mark.parametrize(
    "value",
    [
        {"text": 'x\u2028y<>&\x01\x7f\u00e9\U0001f600"\\/', "n": [1, -2, 3.5, 1e300, 0.1, True, None]},
        # Over 64 bits, and a key that is not a string: json encodes them, orjson does not.
        {"size": 2**70, "list": [{1: "a"}]},
    ],
)
def test_bodies_are_the_bytes_json_writes(value):
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    assert to_json_bytes(value) == expected
    assert LXDJSONRenderer().render(EncodedEnvelope(value)) == expected
