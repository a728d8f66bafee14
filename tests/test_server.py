"""GET/PUT/PATCH /1.0: the server's config and environment."""

import json
from pathlib import Path

import pytest

from resources.etags import compute_etag
from resources.models import Server

LXD_EXTENSIONS = set(json.loads((Path(__file__).parent / "data" / "lxd-5.0.2-api-extensions.json").read_text()))


def _config():
    return Server.objects.get(pk=Server.SINGLETON_ID).config


@pytest.mark.django_db
def test_get_returns_lxd_fields_in_lxd_order(api):
    response = api.get("/1.0")

    assert response.status_code == 200
    metadata = response.json()["metadata"]
    assert list(metadata) == [
        "config",
        "api_extensions",
        "api_status",
        "api_version",
        "auth",
        "public",
        "auth_methods",
        "environment",
    ]
    assert {"etag", "patch"} <= set(metadata["api_extensions"]) <= LXD_EXTENSIONS
    assert (metadata["api_status"], metadata["api_version"], metadata["auth"]) == ("stable", "1.0", "trusted")
    assert metadata["environment"]["server_version"] == "5.0.2"
    assert response.headers["ETag"] == '"ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"'


@pytest.mark.django_db
def test_put_replaces_and_patch_merges(api):
    assert api.put("/1.0", {"config": {"images.auto_update_interval": "0"}}).status_code == 200
    assert api.patch("/1.0", {"config": {"images.remote_cache_expiry": "5"}}).status_code == 200
    assert _config() == {"images.auto_update_interval": "0", "images.remote_cache_expiry": "5"}

    assert api.put("/1.0", {"config": {"images.remote_cache_expiry": "6"}}).status_code == 200
    assert _config() == {"images.remote_cache_expiry": "6"}


@pytest.mark.django_db
def test_empty_value_removes_the_key(api):
    api.put("/1.0", {"config": {"images.auto_update_interval": "0", "images.remote_cache_expiry": "5"}})

    assert api.patch("/1.0", {"config": {"images.remote_cache_expiry": ""}}).status_code == 200

    assert _config() == {"images.auto_update_interval": "0"}


@pytest.mark.django_db
def test_setting_a_key_to_its_default_removes_it(api):
    api.put("/1.0", {"config": {"images.auto_update_interval": "0"}})

    assert api.patch("/1.0", {"config": {"images.auto_update_interval": "6"}}).status_code == 200

    assert _config() == {}


@pytest.mark.django_db
def test_unknown_key_is_400_with_lxd_text_and_changes_nothing(api):
    api.put("/1.0", {"config": {"images.auto_update_interval": "0"}})
    etag = api.get("/1.0").headers["ETag"]

    response = api.patch("/1.0", {"config": {"no.such.key": "1"}}, HTTP_IF_MATCH=etag)

    assert response.status_code == 400
    assert response.json()["error"] == "cannot set 'no.such.key' to '1': unknown key"
    assert _config() == {"images.auto_update_interval": "0"}
    assert api.get("/1.0").headers["ETag"] == etag


@pytest.mark.django_db
def test_server_has_no_delete(api):
    assert api.delete("/1.0").status_code == 501
    assert Server.objects.filter(pk=Server.SINGLETON_ID).exists()


@pytest.mark.django_db
def test_trust_password_is_stored_hashed_and_shown_as_true(api):
    assert api.put("/1.0", {"config": {"core.trust_password": "sekrit"}}).status_code == 200
    stored = _config()["core.trust_password"]

    response = api.get("/1.0")

    assert stored != "sekrit"
    assert response.json()["metadata"]["config"] == {"core.trust_password": True}
    assert response.headers["ETag"].strip('"') == compute_etag({"core.trust_password": True})
    assert api.put("/1.0", response.json()["metadata"], HTTP_IF_MATCH=response.headers["ETag"]).status_code == 200
    assert _config()["core.trust_password"] == stored
