"""pylxd (2.4.2, from PyPI) against a live lxdsite over the unix socket: it never sends If-Match."""

import warnings

import pylxd
import pytest
from pylxd.exceptions import Conflict, LXDAPIException, NotFound

pytestmark = pytest.mark.live


@pytest.fixture
def client(lxdsite_server):
    """A pylxd client on lxdsite's unix socket."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield pylxd.Client(endpoint=str(lxdsite_server.socket_path))


def test_profile_lifecycle(client):
    created = client.profiles.create("web", config={"limits.cpu": "1"}, devices={}, description="via pylxd")
    created.description = "saved"
    created.config["user.note"] = "é <&>"
    created.save()

    fetched = client.profiles.get("web")
    assert (fetched.description, fetched.config) == ("saved", {"limits.cpu": "1", "user.note": "é <&>"})
    fetched.rename("web2")
    assert sorted(profile.name for profile in client.profiles.all()) == ["default", "web2"]
    client.profiles.get("web2").delete()
    assert not client.profiles.exists("web2")


def test_profile_errors_surface_as_pylxd_exceptions(client):
    client.profiles.create("dup")

    with pytest.raises(Conflict):
        client.profiles.create("dup")
    with pytest.raises(NotFound):
        client.profiles.get("nosuch")
    with pytest.raises(LXDAPIException, match=r"Unknown configuration key: no\.such\.key"):
        client.profiles.create("bad", config={"no.such.key": "1"})
    with pytest.raises(LXDAPIException, match='The "default" profile cannot be deleted'):
        client.profiles.get("default").delete()
