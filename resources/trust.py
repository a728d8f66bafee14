"""Who may do what: LXD's trust model, decided by the listener that accepted the connection.

LXD trusts whoever can open its unix socket and gives everyone else a public view. lxdsite
does the same: ``manage.py serve`` marks each request with the kind of listener that
accepted it (``LISTENER_KEY`` in the WSGI environ, set from the socket itself, never from
anything the client sends). Over TCP a request is trusted only with a valid API token
(``Authorization: Bearer ...``) or a Django staff session.
"""

import hashlib
import secrets

from rest_framework import authentication, exceptions, permissions

# The WSGI environ key ``serve`` sets: "unix" or "tcp". Headers reach the environ as
# HTTP_*, so no client can set it.
LISTENER_KEY = "lxdsite.listener"
# The uid of the process at the other end of a unix-socket connection (SO_PEERCRED), which
# LXD names as a change's requestor; None over TCP.
PEER_UID_KEY = "lxdsite.peer_uid"
TOKEN_PREFIX = "lxds_"


def new_token():
    """A fresh API token (shown once) and the digest that is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token):
    """SHA-256 of a token: tokens are random, so a fast hash is enough and lookups stay exact."""
    return hashlib.sha256(token.encode()).hexdigest()


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a token made by ``manage.py createtoken``."""

    def authenticate(self, request):
        from .models import APIToken

        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        api_token = APIToken.objects.filter(digest=token_digest(token.strip())).first()
        if api_token is None:
            # A wrong token gets the public view, as LXD treats a client it does not know.
            return None
        return (None, api_token)


def is_trusted(request):
    """Whether the request may see and change everything, as a client of LXD's unix socket."""
    from .models import APIToken

    if request.META.get(LISTENER_KEY) == "unix":
        return True
    if isinstance(request.auth, APIToken):
        return request.method in permissions.SAFE_METHODS or not request.auth.read_only
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_staff)


class LXDTrust(permissions.BasePermission):
    """Trusted clients may do anything; others only read views that offer a public view.

    A view offers one with ``untrusted_read = True`` and then shows untrusted clients only
    what LXD shows them (``GET /1.0`` without config, public images).
    """

    def has_permission(self, request, view):
        if is_trusted(request):
            return True
        if request.method in permissions.SAFE_METHODS and getattr(view, "untrusted_read", False):
            return True
        # LXD's text for an untrusted client (response.Forbidden(nil)).
        raise exceptions.PermissionDenied("not authorized")
