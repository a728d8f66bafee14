"""ETag values equal LXD 5.0.2's for the same content (vectors recorded from the daemon)."""

import json
from pathlib import Path

import pytest

from resources.etags import compute_etag
from resources.go import GoStruct, go_json
from resources.models import Profile, Server

VECTORS = json.loads((Path(__file__).parent / "data" / "lxd-5.0.2-etags.json").read_text())


def _id(entry):
    return entry["metadata"].get("name") or json.dumps(entry["metadata"], ensure_ascii=False)[:40]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
        ("ctl\b\f\x01\x1f\x7f", '"ctl\\u0008\\u000c\\u0001\\u001f\x7f"'),
        ("line\nbreak\ttab\r", '"line\\nbreak\\ttab\\r"'),
        ('quote"back\\slash', '"quote\\"back\\\\slash"'),
        ("sep\u2028\u2029", '"sep\\u2028\\u2029"'),
        ("é 中 😀", '"é 中 😀"'),
        ({"b": "1", "a": None}, '{"a":null,"b":"1"}'),
        (GoStruct(b=1, a=True), '{"b":1,"a":true}'),
        ([{}, "", False], '[{},"",false]'),
    ],
)
def test_go_json_encodes_like_go_1_19(value, encoded):
    assert go_json(value) == encoded


@pytest.mark.parametrize("entry", VECTORS["server"], ids=_id)
@pytest.mark.django_db
def test_server_etag_equals_lxd(api, entry):
    Server.objects.filter(pk=Server.SINGLETON_ID).update(config=entry["metadata"]["config"])

    response = api.get("/1.0")

    assert response.status_code == 200
    assert response.headers["ETag"] == entry["etag"]


@pytest.mark.parametrize("entry", VECTORS["profiles"], ids=_id)
@pytest.mark.django_db
def test_profile_etag_equals_lxd(api, entry):
    fields = entry["metadata"]
    Profile.objects.update_or_create(
        name=fields["name"],
        defaults={"description": fields["description"], "config": fields["config"], "devices": fields["devices"]},
    )

    response = api.get(f"/1.0/profiles/{fields['name']}")

    assert response.status_code == 200
    assert response.headers["ETag"] == entry["etag"]
    assert response.json()["metadata"]["description"] == fields["description"]


@pytest.mark.parametrize("entry", VECTORS["profiles"][:3], ids=_id)
@pytest.mark.django_db
def test_profile_created_through_api_has_lxd_etag(api, entry):
    fields = entry["metadata"]
    body = {key: fields[key] for key in ("name", "description", "config", "devices")}

    assert api.post("/1.0/profiles", body).status_code == 201
    response = api.get(f"/1.0/profiles/{fields['name']}")

    assert response.headers["ETag"] == entry["etag"]


@pytest.mark.parametrize("entry", VECTORS["images"], ids=_id)
def test_image_etag_shape_equals_lxd(entry):
    fields = entry["metadata"]
    value = [fields["public"], fields["auto_update"], fields["properties"]]

    assert f'"{compute_etag(value)}"' == entry["etag"]


@pytest.mark.parametrize("entry", VECTORS["aliases"], ids=_id)
def test_alias_etag_shape_is_a_go_struct(entry):
    fields = entry["metadata"]
    value = GoStruct((key, fields[key]) for key in ("description", "target", "name", "type"))

    assert f'"{compute_etag(value)}"' == entry["etag"]
    assert f'"{compute_etag(dict(value))}"' != entry["etag"]


@pytest.mark.parametrize("entry", VECTORS["snapshots"], ids=lambda entry: str(entry["sent"]))
def test_snapshot_etag_shape_equals_lxd(entry):
    assert f'"{compute_etag([entry["metadata"]["expires_at"]])}"' == entry["etag"]


@pytest.mark.django_db
def test_write_answers_with_the_new_etag(api, profile):
    etag = api.get("/1.0/profiles/p1").headers["ETag"]

    response = api.patch("/1.0/profiles/p1", {"description": "new"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.headers["ETag"] == api.get("/1.0/profiles/p1").headers["ETag"] != etag


@pytest.mark.django_db
def test_rename_keeps_the_profile_etag(api, profile):
    etag = api.get("/1.0/profiles/p1").headers["ETag"]

    assert api.post("/1.0/profiles/p1", {"name": "p2"}).status_code == 201

    assert api.get("/1.0/profiles/p2").headers["ETag"] == etag


@pytest.mark.django_db
def test_list_etag_follows_content(api, profile):
    first = api.get("/1.0/profiles?recursion=1").headers["ETag"]
    api.patch("/1.0/profiles/p1", {"description": "changed"})

    assert api.get("/1.0/profiles?recursion=1").headers["ETag"] != first
