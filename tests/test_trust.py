"""Trust: the unix socket is trusted; TCP needs a token or a staff session, whatever it claims."""

import io
import warnings

import pylxd
import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from resources.models import APIToken, Profile
from tests.support.certificates import self_signed
from tests.support.live_server import free_port, manage, running_server
from tests.support.lxc import ROOT_DISK

UNTRUSTED_SERVER = {
    "auth": "untrusted",
    "public": False,
    "api_status": "stable",
    "api_version": "1.0",
    "auth_methods": ["tls"],
}


def _token(name="ci", *, read_only=False):
    out = io.StringIO()
    call_command("createtoken", name, *(["--read-only"] if read_only else []), stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_untrusted_server_view_has_no_config_no_environment_no_etag(tcp_api):
    response = tcp_api.get("/1.0")

    assert response.status_code == 200
    metadata = response.json()["metadata"]
    assert set(metadata) == {*UNTRUSTED_SERVER, "api_extensions"}
    assert {key: metadata[key] for key in UNTRUSTED_SERVER} == UNTRUSTED_SERVER
    assert "ETag" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/1.0/profiles", None),
        ("get", "/1.0/profiles/default", None),
        ("get", "/1.0/profiles/nosuch", None),
        ("post", "/1.0/profiles", {"name": "x"}),
        ("put", "/1.0/profiles/default", {"description": "x"}),
        ("patch", "/1.0/profiles/default", {"description": "x"}),
        ("delete", "/1.0/profiles/p1", None),
        ("post", "/1.0/profiles/p1", {"name": "x"}),
        ("put", "/1.0", {"config": {"images.auto_update_interval": "0"}}),
        ("patch", "/1.0", {"config": {"images.auto_update_interval": "0"}}),
    ],
)
@pytest.mark.django_db
def test_untrusted_gets_lxds_403_and_changes_nothing(tcp_api, profile, method, path, body):
    before = list(Profile.objects.values_list("name", "description", "config"))

    response = getattr(tcp_api, method)(path, body)

    assert response.status_code == 403
    assert response.json()["error"] == "not authorized"
    assert list(Profile.objects.values_list("name", "description", "config")) == before


@pytest.mark.django_db
def test_token_makes_tcp_trusted(tcp_api):
    token = _token()

    response = tcp_api.patch(
        "/1.0/profiles/default", {"description": "via token"}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code == 200
    assert Profile.objects.get(name="default").description == "via token"
    assert tcp_api.get("/1.0", HTTP_AUTHORIZATION=f"Bearer {token}").json()["metadata"]["auth"] == "trusted"
    assert APIToken.objects.get(name="ci").digest != token


@pytest.mark.django_db
def test_read_only_token_reads_but_cannot_write(tcp_api):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {_token(read_only=True)}"}

    assert tcp_api.get("/1.0/profiles/default", **headers).status_code == 200
    assert tcp_api.patch("/1.0/profiles/default", {"description": "x"}, **headers).status_code == 403
    assert Profile.objects.get(name="default").description == "Default LXD profile"


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Basic Zm9vOmJhcg==", "bearer lxds_x"])
@pytest.mark.django_db
def test_bad_credentials_are_untrusted(tcp_api, header):
    _token()

    assert tcp_api.get("/1.0/profiles", HTTP_AUTHORIZATION=header).status_code == 403


@pytest.mark.django_db
def test_revoked_token_stops_working(tcp_api):
    token = _token()
    call_command("revoketoken", "ci", stdout=io.StringIO())

    assert tcp_api.get("/1.0/profiles", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403


@pytest.mark.django_db
def test_staff_session_is_trusted_and_writes_need_csrf(tcp_api):
    staff = User.objects.create_user("admin", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=["view_profile", "change_profile"]))
    tcp_api.force_login(staff)
    tcp_api.handler.enforce_csrf_checks = True

    assert tcp_api.get("/1.0/profiles/default").status_code == 200
    response = tcp_api.patch("/1.0/profiles/default", {"description": "no csrf"})

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert Profile.objects.get(name="default").description == "Default LXD profile"


@pytest.mark.django_db
def test_non_staff_session_is_untrusted(tcp_api):
    tcp_api.force_login(User.objects.create_user("user", password="pw"))

    assert tcp_api.get("/1.0/profiles").status_code == 403


@pytest.mark.django_db
def test_body_over_the_limit_is_413(api, settings):
    settings.LXDSITE_MAX_BODY_SIZE = 100

    response = api.patch("/1.0/profiles/default", {"description": "x" * 200})

    assert response.status_code == 413
    assert response.json()["error_code"] == 413
    assert Profile.objects.get(name="default").description == "Default LXD profile"


# Every way a TCP client can pretend to be local: headers, Host, an environ-like name.
CLAIMS_TO_BE_LOCAL = {
    "Host": "unix.socket",
    "X-Forwarded-For": "127.0.0.1",
    "X-Real-IP": "127.0.0.1",
    "Forwarded": "for=unix;proto=http",
    "X-Forwarded-Host": "unix.socket",
    "X-Forwarded-Proto": "unix",
    "lxdsite.listener": "unix",
    "Lxdsite-Listener": "unix",
    "User-Agent": "LXD 5.0.2",
}


@pytest.mark.live
def test_tcp_is_untrusted_whatever_the_client_claims(tmp_path):
    port = free_port()
    with running_server(tmp_path / "lxd", bind=f"127.0.0.1:{port}") as server:
        base = f"http://127.0.0.1:{port}"
        profiles = requests.get(f"{base}/1.0/profiles", headers=CLAIMS_TO_BE_LOCAL, timeout=10)
        write = requests.put(f"{base}/1.0", json={"config": {}}, headers=CLAIMS_TO_BE_LOCAL, timeout=10)
        server_info = requests.get(f"{base}/1.0", headers=CLAIMS_TO_BE_LOCAL, timeout=10).json()
        over_unix = server.request("GET", "/1.0/profiles")

    assert (profiles.status_code, profiles.json()["error"]) == (403, "not authorized")
    assert write.status_code == 403
    assert server_info["metadata"]["auth"] == "untrusted"
    assert over_unix[0] == 200


@pytest.mark.live
def test_pylxd_over_tcp_with_a_token(tmp_path):
    port = free_port()
    lxd_dir = tmp_path / "lxd"
    with running_server(lxd_dir, bind=f"127.0.0.1:{port}"):
        token = manage(lxd_dir, "createtoken", "pylxd").strip()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = pylxd.Client(endpoint=f"http://127.0.0.1:{port}", session=session)
            client.profiles.create("tcp-profile", config={"limits.cpu": "1"})
            profile = client.profiles.get("tcp-profile")
            profile.description = "over tcp"
            profile.save()

            assert client.profiles.get("tcp-profile").description == "over tcp"
            assert client.host_info["auth"] == "trusted"
            client.storage_pools.create({"name": "default", "driver": "dir"})
            instance = client.instances.create(
                {"name": "c1", "source": {"type": "none"}, "devices": ROOT_DISK}, wait=True
            )
            instance.snapshots.create("s1", wait=True)
            assert [snapshot.name for snapshot in client.instances.get("c1").snapshots.all()] == ["s1"]
            instance.delete(wait=True)
            assert client.instances.all() == []


@pytest.mark.live
def test_tls_on_tcp_and_plain_http_on_the_unix_socket(tmp_path):
    cert, key = self_signed(tmp_path, "server")
    port = free_port()
    args = ["--https", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)]
    with running_server(tmp_path / "lxd", args=args) as server:
        over_unix = server.request("GET", "/1.0/profiles")
        untrusted = requests.get(f"https://127.0.0.1:{port}/1.0", verify=str(cert), timeout=10)
        # As lxc does: a self-signed client certificate the server has never seen.
        presented = requests.get(
            f"https://127.0.0.1:{port}/1.0", verify=str(cert), cert=self_signed(tmp_path, "client"), timeout=10
        )
        refused = requests.get(f"https://127.0.0.1:{port}/1.0/profiles", verify=str(cert), timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/1.0", timeout=10)

    assert over_unix[0] == 200
    assert untrusted.json()["metadata"]["auth"] == "untrusted"
    assert presented.json()["metadata"]["auth"] == "untrusted"
    assert refused.status_code == 403
