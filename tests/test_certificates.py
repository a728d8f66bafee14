"""The trust store (``/1.0/certificates``) and trust by TLS client certificate, as LXD decides it."""

import base64
import io
import json

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from resources.models import Certificate, Profile, Project
from resources.server_identity import fingerprint_of_der, generate_certificate
from resources.trust import CLIENT_CERTIFICATE_KEY, LISTENER_KEY


def _der():
    pem, _ = generate_certificate(client=True)
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def _b64(der):
    return base64.b64encode(der).decode()


class TLSClient(APIClient):
    """Every request over TLS (``wsgi.url_scheme`` https, as the HTTPS listener sets it)."""

    def generic(self, *args, **kwargs):
        return super().generic(*args, **{**kwargs, "secure": True})


def tls_client(der=None):
    """A client on the HTTPS listener presenting the certificate ``der`` (or none), as lxc does."""
    client = TLSClient(**{LISTENER_KEY: "tcp", CLIENT_CERTIFICATE_KEY: der})
    client.default_format = "json"
    return client


def _trust(api, der, **body):
    response = api.post("/1.0/certificates", {"type": "client", "certificate": _b64(der), **body})
    assert response.status_code == 201, response.json()
    return fingerprint_of_der(der)


@pytest.mark.django_db
def test_a_trusted_certificate_trusts_its_tls_client_and_a_removed_one_at_once_no_more(api):
    der = _der()
    client = tls_client(der)
    assert client.get("/1.0/profiles").status_code == 403

    fingerprint = _trust(api, der)

    assert client.get("/1.0").json()["metadata"]["auth"] == "trusted"
    assert client.get("/1.0/profiles").json()["metadata"] == ["/1.0/profiles/default"]
    assert client.post("/1.0/profiles", {"name": "over-tls"}).status_code == 201
    assert api.delete(f"/1.0/certificates/{fingerprint}").status_code == 200
    refused = client.get("/1.0/profiles")
    assert refused.status_code == 403
    assert refused.json()["error"] == "not authorized"
    assert client.get("/1.0").json()["metadata"]["auth"] == "untrusted"


@pytest.mark.django_db
def test_the_certificate_is_shown_as_lxd_shows_it_and_found_by_prefix(api):
    der = _der()
    fingerprint = _trust(api, der, name="laptop")

    listed = api.get("/1.0/certificates").json()["metadata"]
    shown = api.get(f"/1.0/certificates/{fingerprint[:6]}")

    assert listed == [f"/1.0/certificates/{fingerprint}"]
    assert shown.status_code == 200
    assert list(shown.json()["metadata"]) == ["name", "type", "restricted", "projects", "certificate", "fingerprint"]
    assert shown.json()["metadata"] == {
        "name": "laptop",
        "type": "client",
        "restricted": False,
        "projects": [],
        "certificate": x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode(),
        "fingerprint": fingerprint,
    }
    assert api.get("/1.0/certificates/0000").json()["error"] == "Certificate not found"


@pytest.mark.django_db
def test_a_metrics_certificate_trusts_nothing_the_api_serves(api):
    der = _der()
    _trust(api, der, type="metrics")
    assert tls_client(der).get("/1.0/profiles").status_code == 403


@pytest.mark.django_db
def test_a_restricted_certificate_is_confined_to_its_projects(api):
    Project.objects.create(name="mine", config={"features.profiles": "true"})
    Profile.objects.create(project=Project.objects.get(name="mine"), name="default")
    Project.objects.create(name="theirs", config={"features.profiles": "true"})
    der = _der()
    _trust(api, der, restricted=True, projects=["mine"])
    client = tls_client(der)

    server = client.get("/1.0").json()["metadata"]
    assert (server["auth"], server["config"]) == ("trusted", None)
    assert client.get("/1.0/profiles?project=mine").json()["metadata"] == ["/1.0/profiles/default?project=mine"]
    assert client.post("/1.0/profiles?project=mine", {"name": "p"}).status_code == 201
    # As LXD: its own projects listed, the trust store and operations readable.
    assert client.get("/1.0/projects").json()["metadata"] == ["/1.0/projects/mine"]
    assert client.get("/1.0/projects/mine").status_code == 200
    assert client.get("/1.0/certificates").status_code == 200
    assert client.get("/1.0/operations").status_code == 200
    for refused in (
        client.get("/1.0/profiles?project=theirs"),
        client.get("/1.0/profiles"),
        client.post("/1.0/profiles?project=theirs", {"name": "p"}),
        client.get("/1.0/projects/theirs"),
        client.delete("/1.0/certificates/" + fingerprint_of_der(der)),
        client.patch("/1.0", {"config": {"user.x": "1"}}),
    ):
        assert refused.status_code == 403
        assert refused.json()["error"] == "not authorized"
    assert not Profile.objects.filter(project__name="theirs").exists()


@pytest.mark.django_db
def test_the_trust_password_adds_the_tls_clients_own_certificate(api):
    assert api.patch("/1.0", {"config": {"core.trust_password": "sekret"}}).status_code == 200
    der = _der()
    client = tls_client(der)

    wrong = client.post("/1.0/certificates", {"type": "client", "password": "nope"})
    missing = client.post("/1.0/certificates", {"type": "client"})
    plain = APIClient(**{LISTENER_KEY: "tcp"}).post(
        "/1.0/certificates", {"type": "client", "password": "sekret"}, format="json"
    )
    added = client.post("/1.0/certificates", {"type": "client", "password": "sekret", "name": "pw"})
    again = client.post("/1.0/certificates", {"type": "client", "password": "sekret"})

    assert (wrong.status_code, wrong.json()["error"]) == (403, "not authorized")
    assert (missing.status_code, missing.json()["error"]) == (403, "not authorized")
    assert (plain.status_code, plain.json()["error"]) == (400, "Can't use TLS data on non-TLS link")
    assert added.status_code == 201
    assert added["Location"] == f"/1.0/certificates/{fingerprint_of_der(der)}"
    assert Certificate.objects.get().name == "pw"
    assert client.get("/1.0/profiles").status_code == 200
    assert (again.status_code, again.json()["error"]) == (400, "Client is already trusted")


@pytest.mark.django_db
def test_without_a_trust_password_no_password_is_right(api):
    client = tls_client(_der())
    response = client.post("/1.0/certificates", {"type": "client", "password": ""})
    assert response.status_code == 403
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"type": "bogus", "certificate": "VALID"}, 400, "Invalid certificate type"),
        ({"type": "", "certificate": "VALID"}, 400, "Invalid certificate type"),
        ({"type": "client", "certificate": "!!!"}, 400, "illegal base64 data at input byte 0"),
        (
            {"type": "client", "certificate": "anVuaw=="},
            400,
            "Invalid certificate material: x509: malformed certificate",
        ),
        ({"type": "client"}, 400, "Client is already trusted"),
        ({"type": "metrics", "token": True}, 400, "Tokens can only be issued for client certificates"),
        ({"type": "client", "token": True, "certificate": "VALID"}, 400, "Can't use certificate if token is requested"),
        ({"type": "client", "certificate": "VALID", "projects": ["nope"]}, 404, "Project not found"),
    ],
)
@pytest.mark.django_db
def test_a_refused_add_is_lxds_error_and_adds_nothing(api, body, status, error):
    if body.get("certificate") == "VALID":
        body = {**body, "certificate": _b64(_der())}
    response = api.post("/1.0/certificates", body)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_a_certificate_is_trusted_once(api):
    der = _der()
    _trust(api, der)
    response = api.post("/1.0/certificates", {"type": "client", "certificate": _b64(der)})
    assert (response.status_code, response.json()["error"]) == (409, "Certificate already in trust store")


@pytest.mark.django_db
def test_put_and_patch_follow_lxds_rules(api):
    fingerprint = _trust(api, _der(), name="first")
    url = f"/1.0/certificates/{fingerprint}"

    type_change = api.patch(url, {"type": "metrics"})
    unknown_project = api.patch(url, {"restricted": True, "projects": ["nope"]})
    put = api.put(url, {"type": "client", "restricted": True, "projects": ["default"]})
    shown = api.get(url).json()["metadata"]

    assert (type_change.status_code, type_change.json()["error"]) == (403, "The certificate type cannot be changed")
    assert (unknown_project.status_code, unknown_project.json()["error"]) == (404, "Project not found")
    assert put.status_code == 200
    # PUT replaces: the name it leaves out is emptied, as LXD does.
    assert (shown["name"], shown["restricted"], shown["projects"]) == ("", True, ["default"])
    assert api.patch(url, {"name": "again"}).status_code == 200
    assert api.get(url).json()["metadata"]["projects"] == ["default"]
    # PUT without a type asks to change it.
    assert api.put(url, {"name": "x"}).status_code == 403


@pytest.mark.django_db
def test_a_token_needs_an_https_listener(api):
    response = api.post("/1.0/certificates", {"type": "client", "token": True, "name": "t"})
    assert (response.status_code, response.json()["error"]) == (
        400,
        "Can't issue token when server isn't listening on network",
    )


@pytest.mark.django_db
def test_a_token_is_a_running_operation_that_trusts_one_client_once(api, settings):
    settings.LXDSITE_HTTPS_ADDRESSES = ["127.0.0.1:8443"]
    issued = api.post(
        "/1.0/certificates", {"type": "client", "token": True, "name": "t", "restricted": True, "projects": ["default"]}
    )
    assert issued.status_code == 202
    operation = issued.json()["metadata"]
    assert (operation["class"], operation["status"], operation["may_cancel"]) == ("token", "Running", True)
    metadata = operation["metadata"]
    assert list(metadata) == ["addresses", "fingerprint", "request", "secret"]
    assert metadata["addresses"] == ["127.0.0.1:8443"]
    assert metadata["request"] == {
        "name": "t",
        "type": "client",
        "restricted": True,
        "projects": ["default"],
        "certificate": "",
        "password": "",
        "token": True,
    }
    token = base64.b64encode(
        json.dumps(
            {
                "client_name": "t",
                "fingerprint": metadata["fingerprint"] or "none",
                "addresses": metadata["addresses"],
                "secret": metadata["secret"],
                "expires_at": "0001-01-01T00:00:00Z",
            }
        ).encode()
    ).decode()
    der = _der()

    redeemed = tls_client(der).post("/1.0/certificates", {"type": "client", "password": token})
    reused = tls_client(_der()).post("/1.0/certificates", {"type": "client", "password": token})

    assert redeemed.status_code == 201
    certificate = Certificate.objects.get()
    assert (certificate.fingerprint, certificate.name, certificate.restricted) == (fingerprint_of_der(der), "t", True)
    assert [link.project.name for link in certificate.project_links.all()] == ["default"]
    assert (reused.status_code, reused.json()["error"]) == (403, "No matching certificate add operation found")
    assert api.get(operation["id"].join(["/1.0/operations/", ""])).json()["metadata"]["status"] == "Cancelled"


@pytest.mark.django_db
def test_manage_trust_lists_adds_and_removes_as_lxc_config_trust_does(tmp_path, api):
    pem, _ = generate_certificate(client=True)
    path = tmp_path / "client.crt"
    path.write_bytes(pem)
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    fingerprint = fingerprint_of_der(der)

    def trust(*args):
        out = io.StringIO()
        call_command("trust", *args, stdout=out)
        return out.getvalue()

    assert trust("add", str(path), "--name", "ops", "--restricted", "--projects", "default") == fingerprint + "\n"
    with pytest.raises(CommandError, match="Certificate already in trust store"):
        trust("add", str(path))
    other = tmp_path / "other.crt"
    other.write_bytes(generate_certificate(client=True)[0])
    with pytest.raises(CommandError, match="Project not found"):
        trust("add", str(other), "--restricted", "--projects", "nope")
    (row,) = trust("list").splitlines()
    assert row.split("\t")[:4] == [
        "client",
        "ops",
        x509.load_pem_x509_certificate(pem).subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value,
        fingerprint[:12],
    ]
    # The API sees what the command did.
    shown = api.get(f"/1.0/certificates/{fingerprint}").json()["metadata"]
    assert (shown["name"], shown["restricted"], shown["projects"]) == ("ops", True, ["default"])
    trust("remove", fingerprint[:8])
    assert trust("list") == ""
    with pytest.raises(CommandError, match="Certificate not found"):
        trust("remove", fingerprint)


@pytest.mark.django_db
def test_the_admin_adds_and_changes_certificates_by_the_apis_rules(admin_client, api):
    pem, _ = generate_certificate(client=True)
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    default = Project.objects.get(name="default")
    form = {"pem": pem.decode(), "name": "from-admin", "type": "client", "restricted": "on"}

    added = admin_client.post("/admin/resources/certificate/add/", {**form, "project_choices": [default.pk]})
    again = admin_client.post("/admin/resources/certificate/add/", form)
    garbage = admin_client.post("/admin/resources/certificate/add/", {**form, "pem": "not a certificate"})

    assert added.status_code == 302
    shown = api.get(f"/1.0/certificates/{fingerprint_of_der(der)}").json()["metadata"]
    assert (shown["name"], shown["restricted"], shown["projects"]) == ("from-admin", True, ["default"])
    assert "Certificate already in trust store" in again.content.decode()
    assert "Not a PEM certificate" in garbage.content.decode()
    assert Certificate.objects.count() == 1

    certificate = Certificate.objects.get()
    changed = admin_client.post(
        f"/admin/resources/certificate/{certificate.pk}/change/", {"name": "renamed", "project_choices": []}
    )
    assert changed.status_code == 302
    shown = api.get(f"/1.0/certificates/{certificate.fingerprint}").json()["metadata"]
    assert (shown["name"], shown["restricted"], shown["projects"]) == ("renamed", False, [])


@pytest.mark.django_db
def test_show_prints_a_certificate_as_lxc_config_trust_show_does(api):
    fingerprint = _trust(api, _der(), name="shown", restricted=True, projects=["default"])
    out = io.StringIO()
    call_command("show", "certificate", fingerprint[:10], stdout=out)
    document = yaml.safe_load(out.getvalue())
    assert (document["name"], document["restricted"], document["projects"]) == ("shown", True, ["default"])
    assert document["fingerprint"] == fingerprint


@pytest.mark.django_db
def test_a_tls_client_costs_one_query_more_than_the_socket(api):
    der = _der()
    _trust(api, der)
    client = tls_client(der)
    api.get("/1.0/profiles/default")  # warm the kept answers

    with CaptureQueriesContext(connection) as over_socket:
        assert api.get("/1.0/profiles/default").status_code == 200
    with CaptureQueriesContext(connection) as over_tls:
        assert client.get("/1.0/profiles/default").status_code == 200
    assert len(over_tls) == len(over_socket) + 1


@pytest.mark.django_db
def test_a_restricted_certificate_may_resend_its_own_entry_but_change_nothing(api):
    der = _der()
    fingerprint = _trust(api, der, name="own", restricted=True, projects=["default"])
    other = _trust(api, _der(), name="other")
    client = tls_client(der)
    own = f"/1.0/certificates/{fingerprint}"

    same = client.put(own, {"name": "own", "type": "client", "restricted": True, "projects": ["default"]})
    empty = client.patch(own, {})
    renamed = client.patch(own, {"name": "changed"})
    unrestricted = client.patch(own, {"restricted": False})
    elsewhere = client.patch(f"/1.0/certificates/{other}", {"name": "x"})

    assert (same.status_code, empty.status_code) == (200, 200)
    for refused in (renamed, unrestricted):
        assert (refused.status_code, refused.json()["error"]) == (403, "Only the certificate can be changed")
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (403, "not authorized")
    shown = api.get(own).json()["metadata"]
    assert (shown["name"], shown["restricted"]) == ("own", True)
