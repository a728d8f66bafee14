"""The admin of storage pools: made and changed through the API's rules, kept while in use."""

import html
import re

import pytest

from resources.models import Instance, StoragePool
from tests.support.lxc import ROOT_DISK

pytestmark = pytest.mark.django_db


@pytest.fixture
def lxd_dir(settings, tmp_path):
    settings.LXD_DIR = tmp_path
    return tmp_path


def _version(response):
    match = re.search(r'name="version" value="([0-9a-f]+)"', response.content.decode())
    assert match
    return match.group(1)


def test_add_fills_in_lxds_defaults_and_refuses_what_the_api_refuses(admin_client, lxd_dir):
    refused = admin_client.post(
        "/admin/resources/storagepool/add/", {"name": "p", "driver": "dir", "description": "", "config": "size: 1GB"}
    )
    assert refused.status_code == 200
    assert 'Invalid option "size"' in html.unescape(refused.content.decode())
    assert not StoragePool.objects.exists()

    added = admin_client.post(
        "/admin/resources/storagepool/add/", {"name": "p", "driver": "dir", "description": "d", "config": ""}
    )
    assert added.status_code == 302
    assert StoragePool.objects.get(name="p").config == {"source": f"{lxd_dir}/storage-pools/p"}


def test_change_keeps_the_source_as_lxd_does(admin_client, lxd_dir):
    pool = StoragePool.objects.create(name="p", driver="dir", config={"source": "/x"})
    url = f"/admin/resources/storagepool/{pool.pk}/change/"
    version = _version(admin_client.get(url))
    form = {"description": "", "version": version, "_save": "Save"}

    refused = admin_client.post(url, {**form, "config": "source: /y"})
    assert "Pool source cannot be changed when not in pending state" in html.unescape(refused.content.decode())
    saved = admin_client.post(url, {**form, "config": "source: /x\nuser.a: 1"})
    assert saved.status_code == 302
    assert StoragePool.objects.get(pk=pool.pk).config == {"source": "/x", "user.a": "1"}


def test_a_pool_in_use_is_not_deleted(admin_client):
    pool = StoragePool.objects.create(name="default", driver="dir", config={"source": "/x"})
    Instance.objects.create(name="c1", devices=ROOT_DISK)
    url = f"/admin/resources/storagepool/{pool.pk}/delete/"

    refused = admin_client.post(url, {"post": "yes", "version": _version(admin_client.get(url))}, follow=True)

    assert "The storage pool is currently in use" in html.unescape(refused.content.decode())
    assert StoragePool.objects.filter(pk=pool.pk).exists()
