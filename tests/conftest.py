"""Fixtures shared by the suite: API clients, objects, and real server processes."""

import pytest
from rest_framework.test import APIClient

from resources.models import Profile
from tests.live_server import lxdsite_pg_server, lxdsite_server  # noqa: F401
from tests.real_lxd import real_lxd  # noqa: F401


@pytest.fixture
def api():
    """A DRF client whose requests travel as JSON, as lxc and pylxd send them."""
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture
def profile(db):
    """A profile with config and a device, as tests read and write it."""
    return Profile.objects.create(
        name="p1",
        description="test profile",
        config={"limits.cpu": "1", "user.note": "a<b>&c"},
        devices={"data": {"type": "disk", "path": "/mnt", "source": "/tmp"}},
    )
