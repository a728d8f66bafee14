"""Requests sent to the real LXD 5.0.2 daemon and to lxdsite alike, in the projects a test makes.

Import the fixture into ``tests/conftest.py``.
"""

import pytest

from tests.support.live_server import unix_request

NAMES = ("dp1", "dp2", "dp3")


def both(real_lxd, lxdsite_server, method, path, body=None, headers=None):
    """Send one request to each server: (LXD's answer, lxdsite's answer)."""
    return unix_request(real_lxd, method, path, body, headers), lxdsite_server.request(method, path, body, headers)


def ended(server_request, answer):
    """The operation an async answer started, once it ended: (status, err, description)."""
    status, _, body = answer
    assert status == 202, body
    done = server_request("GET", f"{body['operation']}/wait?timeout=10")[2]["metadata"]
    return done["status"], done["err"], done["description"]


@pytest.fixture
def projects(real_lxd, lxdsite_server):
    """The two servers; the projects the test made are deleted from the daemon afterwards."""
    yield lambda *args: both(real_lxd, lxdsite_server, *args)
    for name in NAMES:
        for url in unix_request(real_lxd, "GET", f"/1.0/instances?project={name}")[2].get("metadata") or []:
            ended(lambda *args: unix_request(real_lxd, *args), unix_request(real_lxd, "DELETE", url))
        listed = unix_request(real_lxd, "GET", f"/1.0/profiles?project={name}")[2].get("metadata") or []
        for url in listed:
            if name in url and not url.startswith("/1.0/profiles/default?"):
                unix_request(real_lxd, "DELETE", url)
        unix_request(real_lxd, "DELETE", f"/1.0/projects/{name}")
    unix_request(real_lxd, "DELETE", "/1.0/profiles/shared")


def same(lxd, ours, status, normalised=lambda body: body):
    """Both answered ``status`` with the same body (once ``normalised``), Location, and ETag where
    LXD sends one (lxdsite also tags lists: docs/compatibility.md)."""
    assert (lxd[0], ours[0]) == (status, status), (lxd[2], ours[2])
    assert normalised(ours[2]) == normalised(lxd[2])
    if lxd[1].get("ETag") is not None:
        assert ours[1].get("ETag") == lxd[1].get("ETag")
    assert ours[1].get("Location") == lxd[1].get("Location")


def same_refusal(lxd, ours, status, lxd_status=None):
    """Both refused with the same text: lxdsite with ``status``, LXD with ``lxd_status`` (the same
    unless given)."""
    assert (lxd[0], ours[0]) == (lxd_status or status, status), (lxd[2], ours[2])
    assert ours[2]["error"] == lxd[2]["error"]


def refused_alike(lxd, ours):
    """Both refused with the same text: LXD with its 500, lxdsite with 400 (docs/compatibility.md)."""
    same_refusal(lxd, ours, 400, lxd_status=500)
