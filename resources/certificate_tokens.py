"""Certificate add tokens, as LXD issues them (``lxc config trust add``) and clients redeem them
(``lxc remote add NAME TOKEN``).

A token is a running operation of class ``token`` holding a random secret, the server's
certificate fingerprint, the addresses it listens on and the request it grants (name, type,
restrictions). The client gets the base64 of ``{client_name, fingerprint, addresses, secret,
expires_at}``, connects to one of the addresses, checks the fingerprint, and sends the token as
its ``password``; the server trusts the certificate the client presented with the token's
request and cancels the operation: a token is used once. ``lxc config trust list-tokens`` lists
the running token operations; ``revoke-token`` cancels one.
"""

import base64
import binascii
import hmac
import json
import secrets

from django.utils import timezone
from rest_framework import exceptions

from . import events
from .models import Operation, Server
from .operations import start_operation
from .server_identity import https_addresses, served_certificate

TOKEN_CLASS = "token"
# LXD's description of its token operations (it gives them no description of their own).
TOKEN_DESCRIPTION = "Executing operation"


def issue_token(request_fields):
    """A running token operation granting ``request_fields`` (name, type, restricted, projects)."""
    config = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
    addresses = https_addresses(config)
    if not addresses:
        raise exceptions.ParseError("Can't issue token when server isn't listening on network")
    metadata = {
        "addresses": addresses,
        "fingerprint": served_certificate()[1],
        # LXD's CertificatesPost, in its field order, as the token's grant.
        "request": {**request_fields, "certificate": "", "password": "", "token": True},
        "secret": secrets.token_hex(32),
    }
    return start_operation(TOKEN_DESCRIPTION, may_cancel=True, operation_class=TOKEN_CLASS, metadata=metadata)


def decode_token(text):
    """The fields of a certificate add token (LXD's CertificateTokenDecode), or None if ``text`` is not one."""
    try:
        fields = json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(fields, dict):
        return None
    if not fields.get("addresses") or not fields.get("secret") or not fields.get("fingerprint"):
        return None
    return fields


def redeem_token(fields):
    """The request a token grants, its operation cancelled (a second use finds none); LXD's 403 if none matches."""
    secret = str(fields["secret"])
    for operation in Operation.objects.filter(operation_class=TOKEN_CLASS, status=Operation.RUNNING):
        stored = (operation.metadata or {}).get("secret", "")
        if not hmac.compare_digest(stored.encode(), secret.encode()):
            continue
        # Only the request that moves it from Running uses it: two redeeming at once, one wins.
        if not Operation.objects.filter(pk=operation.pk, status=Operation.RUNNING).update(
            status=Operation.CANCELLED,
            status_code=Operation.STATUS_CODES[Operation.CANCELLED],
            updated_at=timezone.now(),
        ):
            break
        operation.refresh_from_db()
        events.emit_operation(operation)
        return operation.metadata["request"]
    raise exceptions.PermissionDenied("No matching certificate add operation found")
