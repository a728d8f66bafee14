"""Image aliases: create by fingerprint or prefix, LXD's texts and status codes, ETags in struct order."""

import json
from pathlib import Path

import pytest

from resources.etags import compute_etag
from resources.go import GoStruct
from resources.models import Image, ImageAlias
from tests.support.images import make_image

pytestmark = pytest.mark.django_db

VECTORS = json.loads((Path(__file__).parent / "data" / "lxd-5.0.2-etags.json").read_text())
FINGERPRINT = "e663db64de98efb6dc41a429591e26308fe4f2e54fdc29b7e931a858afb6cf62"


@pytest.fixture
def image(db):
    """The image LXD's alias vectors point at, in place of the suite's (a row only: aliases never read files)."""
    return make_image(FINGERPRINT)


@pytest.fixture
def alias(api, image):
    """An alias ``tiny`` with a description, made through the API."""
    assert (
        api.post("/1.0/images/aliases", {"name": "tiny", "description": "d", "target": FINGERPRINT}).status_code == 201
    )
    return "/1.0/images/aliases/tiny"


def _etag(description, name, target=FINGERPRINT):
    return f'"{compute_etag(GoStruct(description=description, target=target, name=name, type="container"))}"'


@pytest.mark.parametrize("target", [FINGERPRINT, FINGERPRINT[:6]])
def test_create_resolves_the_target_like_lxd(api, image, target):
    # lxc sends the target as typed and type "", the server fills both in.
    response = api.post("/1.0/images/aliases", {"description": "", "target": target, "name": "a1", "type": ""})

    assert response.status_code == 201
    assert response.headers["Location"] == "/1.0/images/aliases/a1"
    assert response.json() == {
        "type": "sync",
        "status": "Success",
        "status_code": 200,
        "operation": "",
        "error_code": 0,
        "error": "",
        "metadata": None,
    }
    shown = api.get("/1.0/images/aliases/a1")
    assert shown.json()["metadata"] == {"description": "", "target": FINGERPRINT, "name": "a1", "type": "container"}
    assert shown.headers["ETag"] == _etag("", "a1")


@pytest.mark.parametrize("entry", VECTORS["aliases"], ids=lambda entry: entry["metadata"]["name"])
def test_alias_etag_equals_lxd(api, image, entry):
    fields = entry["metadata"]
    api.post("/1.0/images/aliases", {key: fields[key] for key in ("name", "description", "target")})

    response = api.get(f"/1.0/images/aliases/{fields['name']}")

    assert response.status_code == 200
    assert response.headers["ETag"] == entry["etag"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"name": "tiny", "target": FINGERPRINT}, 409, 'Alias "tiny" already exists'),
        ({"name": "zz", "target": "deadbeef"}, 404, "Image not found"),
        ({"name": "zz", "target": "nosuch"}, 404, "Image not found"),
        ({"name": "", "target": FINGERPRINT}, 400, "name and target are required"),
        ({"name": "zz"}, 400, "name and target are required"),
        ({"name": "x/y", "target": FINGERPRINT}, 400, "Alias names may not contain slashes"),
    ],
)
def test_create_errors_are_lxds(api, alias, body, status, error):
    response = api.post("/1.0/images/aliases", body)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert list(ImageAlias.objects.values_list("name", flat=True)) == ["tiny"]


def test_list_and_recursion(api, alias):
    assert api.get("/1.0/images/aliases").json()["metadata"] == ["/1.0/images/aliases/tiny"]
    assert api.get("/1.0/images/aliases?recursion=1").json()["metadata"] == [
        {"description": "d", "target": FINGERPRINT, "name": "tiny", "type": "container"}
    ]


def test_list_query_count(api, image, django_assert_num_queries):
    for number in range(5):
        api.post("/1.0/images/aliases", {"name": f"a{number}", "target": FINGERPRINT})

    with django_assert_num_queries(1):
        assert len(api.get("/1.0/images/aliases?recursion=1").json()["metadata"]) == 5


def test_missing_alias_is_lxds_404(api, image):
    for method in ("get", "put", "patch", "delete", "post"):
        response = getattr(api, method)("/1.0/images/aliases/nosuch", {"name": "q", "target": FINGERPRINT})
        assert response.status_code == 404, method
        assert response.json()["error"] == "Image alias not found"


def test_put_needs_the_target_and_replaces_the_description(api, alias):
    missing = api.put(alias, {"description": "no target"})
    replaced = api.put(alias, {"target": FINGERPRINT[:4]})

    assert missing.status_code == 400
    assert missing.json()["error"] == "The target field is required"
    assert replaced.status_code == 200
    assert api.get(alias).json()["metadata"]["description"] == ""
    assert replaced.headers["ETag"] == _etag("", "tiny")


def test_put_to_unknown_image_is_404(api, alias):
    response = api.put(alias, {"target": "0000"})

    assert response.status_code == 404
    assert response.json()["error"] == "Image not found"


def test_patch_merges(api, alias):
    # LXD 5.0.2 hangs 20 s and answers 500 here; lxdsite applies the merge.
    other = make_image("ab" * 32)

    assert api.patch(alias, {"description": "patched"}).status_code == 200
    assert api.get(alias).json()["metadata"]["target"] == FINGERPRINT
    assert api.patch(alias, {"target": "abab"}).status_code == 200
    assert api.get(alias).json()["metadata"] == {
        "description": "patched",
        "target": other.fingerprint,
        "name": "tiny",
        "type": "container",
    }


@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_stale_if_match_is_412_on_every_write(api, alias, method):
    etag = api.get(alias).headers["ETag"]

    response = getattr(api, method)(alias, {"name": "t2", "target": FINGERPRINT}, HTTP_IF_MATCH='"stale"')

    assert response.status_code == 412
    assert response.json()["error"] == f"ETag doesn't match: {etag.strip(chr(34))} vs stale"
    assert api.get(alias).json()["metadata"]["description"] == "d"


def test_rename_changes_the_etag_and_honours_if_match(api, alias):
    etag = api.get(alias).headers["ETag"]

    response = api.post(alias, {"name": "tiny2"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 201
    assert response.headers["Location"] == "/1.0/images/aliases/tiny2"
    assert api.get(alias).status_code == 404
    # The name is part of LXD's alias ETag.
    assert api.get("/1.0/images/aliases/tiny2").headers["ETag"] == _etag("d", "tiny2") != etag


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [("taken", 409, 'Alias "taken" already exists'), ("", 400, "No name provided"), ("a/b", 400, None)],
)
def test_rename_errors(api, alias, name, status, error):
    api.post("/1.0/images/aliases", {"name": "taken", "target": FINGERPRINT})

    response = api.post(alias, {"name": name})

    assert response.status_code == status
    assert error is None or response.json()["error"] == error
    assert api.get(alias).status_code == 200


def test_delete(api, alias):
    etag = api.get(alias).headers["ETag"]

    response = api.delete(alias, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["metadata"] == {}
    assert not ImageAlias.objects.exists()


def test_deleting_the_image_deletes_its_aliases(api, alias, image):
    response = api.delete(f"/1.0/images/{FINGERPRINT}")

    assert response.status_code == 202
    assert api.get(alias).status_code == 404


def test_image_lists_its_aliases_oldest_first(api, alias):
    api.post("/1.0/images/aliases", {"name": "a-newer", "description": "n", "target": FINGERPRINT})

    shown = api.get(f"/1.0/images/{FINGERPRINT}").json()["metadata"]

    assert shown["aliases"] == [{"name": "tiny", "description": "d"}, {"name": "a-newer", "description": "n"}]


def test_untrusted_clients_see_aliases_of_public_images_only(api, tcp_api, alias, image):
    assert tcp_api.get("/1.0/images/aliases").json()["metadata"] == []

    Image.objects.filter(pk=image.pk).update(public=True)

    assert tcp_api.get("/1.0/images/aliases").json()["metadata"] == ["/1.0/images/aliases/tiny"]
    assert tcp_api.post("/1.0/images/aliases", {"name": "x", "target": FINGERPRINT}).status_code == 403
