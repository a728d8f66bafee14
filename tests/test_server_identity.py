"""The server's TLS identity: made under LXD_DIR on the first start as LXD makes it, kept, served
by `serve --https`, shown in `GET /1.0`; `--tls-cert` replaces it; `--bind` stays plain HTTP."""

import hashlib
import ssl

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from resources.server_identity import ensure_server_certificate
from tests.support.certificates import self_signed
from tests.support.live_server import free_port, running_server


def test_the_identity_is_made_as_lxd_makes_it_and_kept(tmp_path):
    cert_path, key_path = ensure_server_certificate(tmp_path)

    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = load_pem_private_key(key_path.read_bytes(), None)
    assert key_path.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert isinstance(key.curve, ec.SECP384R1)
    assert certificate.public_key() == key.public_key()
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA384)
    assert certificate.issuer == certificate.subject
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "linuxcontainers.org"
    assert "@" in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(address) for address in names.get_values_for_type(x509.IPAddress)]
    years = (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days / 365
    assert years == pytest.approx(10, abs=0.1)
    # A second start keeps it: clients have pinned its fingerprint.
    assert ensure_server_certificate(tmp_path) == (cert_path, key_path)
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == certificate


def _fingerprint(pem):
    return hashlib.sha256(x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)).hexdigest()


@pytest.mark.live
def test_https_serves_the_generated_identity_and_get_1_0_shows_it(tmp_path):
    https, plain = free_port(), free_port()
    lxd_dir = tmp_path / "lxd"
    args = ["--https", f"127.0.0.1:{https}"]
    with running_server(lxd_dir, bind=f"127.0.0.1:{plain}", args=args) as server:
        status, _, trusted = server.request("GET", "/1.0")
        presented = ssl.get_server_certificate(("127.0.0.1", https))
        untrusted = requests.get(f"https://127.0.0.1:{https}/1.0", verify=str(lxd_dir / "server.crt"), timeout=10)
        plain_answer = requests.get(f"http://127.0.0.1:{plain}/1.0", timeout=10)

    assert status == 200
    environment = trusted["metadata"]["environment"]
    stored = (lxd_dir / "server.crt").read_text()
    assert environment["certificate"] == stored
    assert environment["certificate_fingerprint"] == _fingerprint(stored) == _fingerprint(presented)
    assert (lxd_dir / "server.key").stat().st_mode & 0o777 == 0o600
    # Untrusted clients see what LXD shows them: no environment, so no certificate.
    assert untrusted.status_code == 200
    assert untrusted.json()["metadata"]["auth"] == "untrusted"
    assert "environment" not in untrusted.json()["metadata"]
    # --bind stays plain HTTP.
    assert plain_answer.status_code == 200
    assert plain_answer.json()["metadata"]["auth"] == "untrusted"


@pytest.mark.live
def test_tls_cert_replaces_the_generated_identity(tmp_path):
    cert, key = self_signed(tmp_path, "own")
    port = free_port()
    args = ["--https", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)]
    with running_server(tmp_path / "lxd", args=args) as server:
        _, _, answer = server.request("GET", "/1.0")
        presented = ssl.get_server_certificate(("127.0.0.1", port))

    assert _fingerprint(presented) == _fingerprint(cert.read_text())
    assert answer["metadata"]["environment"]["certificate_fingerprint"] == _fingerprint(cert.read_text())
