"""Fixtures shared by the suite: API clients, objects, and real server processes.

The helpers behind them live in ``tests/support``; fixtures defined there are imported here.
"""

import functools

import pytest

from resources.models import Profile
from tests.support.api import api_client
from tests.support.both_servers import projects  # noqa: F401
from tests.support.images import make_image, upload_image
from tests.support.live_server import lxdsite_pg_server, lxdsite_server  # noqa: F401
from tests.support.lxc import meddling_editor  # noqa: F401
from tests.support.real_lxd import daemon_left_as_found, real_lxd  # noqa: F401
from tests.support.storage import make_default_pool


@pytest.fixture
def api():
    """A client on the unix socket: trusted, as LXD trusts its socket."""
    return api_client("unix")


@pytest.fixture
def tcp_api():
    """A client on a TCP listener: untrusted unless it brings a token or a staff session."""
    return api_client("tcp")


@pytest.fixture
def profile(db):
    """A profile with config and a device, as tests read and write it."""
    return Profile.objects.create(
        name="p1",
        description="test profile",
        config={"limits.cpu": "1", "user.note": "a<b>&c"},
        devices={"data": {"type": "disk", "path": "/mnt", "source": "/tmp"}},
    )


@pytest.fixture
def default_pool(db):
    """The pool instances are made in (``make_default_pool``)."""
    return make_default_pool()


@pytest.fixture
def images_dir(settings, tmp_path):
    """A fresh images directory for the test."""
    settings.LXDSITE_IMAGES_DIR = tmp_path / "images"
    return settings.LXDSITE_IMAGES_DIR


@pytest.fixture(autouse=True)
def instance_files_dir(settings, tmp_path):
    """Each test's instance trees in its own directory (on_commit writes them), never under ./var."""
    settings.LXDSITE_INSTANCE_FILES_DIR = tmp_path / "instance-files"
    return settings.LXDSITE_INSTANCE_FILES_DIR


@pytest.fixture
def image(profile):
    """An image row (fingerprint ``"ab12" * 16``, os Alpine) with profile p1 and the alias ``alpine``; no files.

    A module that needs another image overrides this fixture, building it with ``make_image``.
    """
    return make_image(
        "ab12" * 16,
        filename="alpine.tar.xz",
        size=3 * 1024 * 1024,
        properties={"os": "Alpine"},
        profiles=[profile],
        aliases={"alpine": "small"},
    )


@pytest.fixture
def upload(api, images_dir, django_capture_on_commit_callbacks):
    """Upload through ``api`` into a fresh images directory: ``upload(data, content_type, **headers)``,
    an ``Upload`` (response, ended operation)."""
    return functools.partial(upload_image, api, django_capture_on_commit_callbacks)
