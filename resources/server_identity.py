"""The server's TLS identity, as LXD keeps its own: ``LXD_DIR/server.crt`` and ``server.key``.

LXD makes them on its first start (lxd/util: FindOrGenCert): an EC P-384 key (PEM ``EC PRIVATE
KEY``, mode 0600), and a self-signed certificate for ten years, signed with SHA-384, subject
``O=linuxcontainers.org, CN=USER@HOST``, for server authentication, naming the host and its
addresses. Clients pin its SHA-256 fingerprint (``lxc remote add`` asks to accept it), so it is
made once and kept. ``serve --tls-cert/--tls-key`` serve another identity instead; ``GET /1.0``
shows the certificate served (``settings.LXDSITE_TLS_CERT``).
"""

import datetime
import functools
import getpass
import hashlib
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

CERTIFICATE_NAME = "server.crt"
KEY_NAME = "server.key"
VALIDITY = datetime.timedelta(days=10 * 365)
# The addresses LXD's certificate names besides its interfaces': these are what tests reach.
LOOPBACK = ("127.0.0.1", "::1")


def server_certificate_paths(lxd_dir):
    """(certificate, key) paths of the identity kept under ``lxd_dir``."""
    return Path(lxd_dir) / CERTIFICATE_NAME, Path(lxd_dir) / KEY_NAME


def ensure_server_certificate(lxd_dir):
    """The server's identity under ``lxd_dir``, made as LXD makes it if it is not there yet."""
    cert_path, key_path = server_certificate_paths(lxd_dir)
    if cert_path.exists() and key_path.exists():
        key_path.chmod(0o600)
        return cert_path, key_path
    certificate_pem, key_pem = generate_certificate()
    # The key is born private: never a moment readable by others.
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_pem)
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate_pem)
    cert_path.chmod(0o644)
    return cert_path, key_path


def generate_certificate(*, client=False):
    """A self-signed certificate and its key (PEM bytes each), as LXD's GenerateMemCert makes them."""
    key = ec.generate_private_key(ec.SECP384R1())
    try:
        user = getpass.getuser() or "UNKNOWN"
    except (KeyError, OSError):
        user = "UNKNOWN"
    host = socket.gethostname() or "UNKNOWN"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "linuxcontainers.org"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{user}@{host}"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    names = [x509.DNSName(host), *(x509.IPAddress(ipaddress.ip_address(address)) for address in LOOPBACK)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(os.urandom(16)) or 1)
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA384())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def fingerprint_of_der(der):
    """LXD's certificate fingerprint: the SHA-256 of its DER bytes, in lowercase hex."""
    return hashlib.sha256(der).hexdigest()


def served_certificate():
    """(PEM text, fingerprint) of the certificate the HTTPS listeners present, ("", "") without one."""
    path = getattr(settings, "LXDSITE_TLS_CERT", None) or server_certificate_paths(settings.LXD_DIR)[0]
    try:
        stat = Path(path).stat()
    except OSError:
        return "", ""
    return _read_certificate(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_certificate(path, mtime_ns, size):
    """The first certificate of a PEM file (a chain names the server's first), as LXD shows it."""
    try:
        certificate = x509.load_pem_x509_certificates(Path(path).read_bytes())[0]
    except (OSError, ValueError, IndexError):
        return "", ""
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return pem, fingerprint_of_der(certificate.public_bytes(serialization.Encoding.DER))


def https_addresses(config):
    """The addresses the HTTPS listeners serve: ``serve --https``'s and the server ``config``'s
    ``core.https_address`` (what LXD lists in ``environment.addresses`` and puts in tokens)."""
    addresses = list(getattr(settings, "LXDSITE_HTTPS_ADDRESSES", None) or [])
    configured = config.get("core.https_address", "")
    if configured and configured not in addresses:
        addresses.append(configured)
    return addresses
