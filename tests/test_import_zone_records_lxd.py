"""``manage.py import_from_lxd`` copies a zone's records with the zone: lxc then shows the same
records, with the same ETags."""

import pytest

from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc
from tests.test_import_from_lxd import _import

pytestmark = [pytest.mark.live, pytest.mark.lxd]

RECORDS = "/1.0/network-zones/iz.example.com/records"


@pytest.fixture
def zone_on_lxd(real_lxd):
    """The daemon holding a zone with two records (removed afterwards)."""
    assert unix_request(real_lxd, "POST", "/1.0/network-zones", {"name": "iz.example.com"})[0] == 201
    try:
        entries = [{"type": "A", "value": "192.0.2.1"}, {"type": "MX", "value": "10 mail", "ttl": 60}]
        body = {"name": "www", "description": "d", "entries": entries, "config": {"user.a": "1"}}
        assert unix_request(real_lxd, "POST", RECORDS, body)[0] == 201
        assert unix_request(real_lxd, "POST", RECORDS, {"name": "bare"})[0] == 201
        yield real_lxd
    finally:
        unix_request(real_lxd, "DELETE", "/1.0/network-zones/iz.example.com")


def test_import_copies_a_zones_records(zone_on_lxd, lxdsite_server, tmp_path):
    for _ in range(2):  # a second run leaves them equal
        done = _import(lxdsite_server, zone_on_lxd)
        assert done.returncode == 0, done.stderr

    ours = lxdsite_server.socket_path
    for args in (
        ("network", "zone", "record", "list", "iz.example.com"),
        ("network", "zone", "record", "show", "iz.example.com", "www"),
        ("network", "zone", "record", "show", "iz.example.com", "bare"),
    ):
        mine = comparable(run_lxc(ours, tmp_path / "site", *args))
        assert mine == comparable(run_lxc(zone_on_lxd, tmp_path / "lxd", *args)), args
    for name in ("www", "bare"):
        mine, theirs = (unix_request(socket, "GET", f"{RECORDS}/{name}")[1]["ETag"] for socket in (ours, zone_on_lxd))
        assert mine == theirs
