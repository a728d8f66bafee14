"""Fixtures shared by the suite: API clients, objects, and real server processes."""

import pytest
from rest_framework.test import APIClient

from resources.models import Profile
from resources.trust import LISTENER_KEY
from tests.image_files import images_dir  # noqa: F401
from tests.live_server import lxdsite_pg_server, lxdsite_server  # noqa: F401
from tests.real_lxd import real_lxd  # noqa: F401


def _client(listener):
    """A DRF client sending JSON, as lxc and pylxd do, as if accepted by ``listener``."""
    client = APIClient(**{LISTENER_KEY: listener})
    client.default_format = "json"
    return client


@pytest.fixture
def api():
    """A client on the unix socket: trusted, as LXD trusts its socket."""
    return _client("unix")


@pytest.fixture
def tcp_api():
    """A client on a TCP listener: untrusted unless it brings a token or a staff session."""
    return _client("tcp")


@pytest.fixture
def profile(db):
    """A profile with config and a device, as tests read and write it."""
    return Profile.objects.create(
        name="p1",
        description="test profile",
        config={"limits.cpu": "1", "user.note": "a<b>&c"},
        devices={"data": {"type": "disk", "path": "/mnt", "source": "/tmp"}},
    )
