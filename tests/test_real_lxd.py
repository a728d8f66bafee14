"""The suite's real daemon is fenced in: it sees no network but its own loopback."""

import pytest

from tests.support.live_server import unix_request

pytestmark = pytest.mark.live


def test_real_lxd_sees_only_its_own_loopback(real_lxd):
    status, _, body = unix_request(real_lxd, "GET", "/1.0/networks")
    assert status == 200
    assert body["metadata"] == ["/1.0/networks/lo"]
