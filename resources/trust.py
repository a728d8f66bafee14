"""Who may do what: LXD's trust model, decided by the listener that accepted the connection.

LXD trusts whoever can open its unix socket and gives everyone else a public view. lxdsite
does the same: ``manage.py serve`` marks each request with the kind of listener that
accepted it (``LISTENER_KEY`` in the WSGI environ, set from the socket itself, never from
anything the client sends). Over TCP a request is trusted, as by LXD, when the TLS client
certificate it came with is in the trust store (``Certificate``, read on every request: a removed
one is refused at once; a restricted one only within its projects); and, as lxdsite's own
extras, with a valid API token (``Authorization: Bearer ...``) or a Django staff session, which
may do what its Django model permissions allow (``required_permission``).
"""

import hashlib
import secrets

from django.contrib.auth import get_permission_codename
from rest_framework import authentication, exceptions, permissions

# The WSGI environ key ``serve`` sets: "unix" or "tcp". Headers reach the environ as
# HTTP_*, so no client can set it.
LISTENER_KEY = "lxdsite.listener"
# The uid of the process at the other end of a unix-socket connection (SO_PEERCRED), which
# LXD names as a change's requestor; None over TCP.
PEER_UID_KEY = "lxdsite.peer_uid"
# The DER bytes of the certificate a TLS client presented (any: the TLS layer verifies none,
# resources/serving/tls.py), None without one or without TLS.
CLIENT_CERTIFICATE_KEY = "lxdsite.client_certificate"
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


def permission_verb(request, view):
    """Django's word for what the request does to the view's model: ``view`` for a read, ``add``
    for a POST on a collection, ``delete`` for DELETE, ``change`` for every other write (PUT,
    PATCH, a rename, an action such as an instance's state); a view's ``permission_verbs``
    names another word for one of its actions."""
    verb = getattr(view, "permission_verbs", {}).get(getattr(view, "action", None))
    if verb:
        return verb
    if request.method in permissions.SAFE_METHODS:
        return "view"
    if request.method == "DELETE":
        return "delete"
    if request.method == "POST" and not getattr(view, "detail", False):
        return "add"
    return "change"


def required_permission(request, view):
    """The Django model permission (``resources.change_profile``) a staff session needs for the
    request: the verb's permission on the model of the view's queryset, so every resource has
    them by its declaration alone. None for a view without a model."""
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        return None
    opts = queryset.model._meta
    return f"{opts.app_label}.{get_permission_codename(permission_verb(request, view), opts)}"


# Where a request keeps the trust-store row of its client certificate once read (None: not trusted).
TRUSTED_CERTIFICATE_KEY = "lxdsite.trusted_certificate"


def client_fingerprint(request):
    """LXD's fingerprint of the TLS client certificate the request came with, or None."""
    der = request.META.get(CLIENT_CERTIFICATE_KEY)
    return hashlib.sha256(der).hexdigest() if der else None


def trusted_certificate(request):
    """The ``client`` certificate of the trust store the request's TLS client presented, or None
    (read once per request; ``metrics`` certificates trust nothing the API serves)."""
    from .models import Certificate

    meta = request.META
    if TRUSTED_CERTIFICATE_KEY not in meta:
        fingerprint = client_fingerprint(request)
        trusted = Certificate.objects.filter(fingerprint=fingerprint, type=Certificate.CLIENT)
        meta[TRUSTED_CERTIFICATE_KEY] = trusted.first() if fingerprint else None
    return meta[TRUSTED_CERTIFICATE_KEY]


def allowed_projects(certificate):
    """The names of the projects a restricted certificate may use (read once per request)."""
    if "_allowed_projects" not in certificate.__dict__:
        names = certificate.project_links.values_list("project__name", flat=True)
        certificate._allowed_projects = frozenset(names)
    return certificate._allowed_projects


def restricted_projects(request):
    """The projects a restricted certificate confines the request to, or None when it is not one."""
    if request.META.get(LISTENER_KEY) == "unix":
        return None
    certificate = trusted_certificate(request)
    return allowed_projects(certificate) if certificate is not None and certificate.restricted else None


def restricted_allows(request, certificate):
    """Whether a restricted certificate may make the request, as LXD 5.0.2 decides: on a project's
    objects, in its projects only (LXD's allowProjectPermission); a view that offers
    ``restricted_read`` may be read (a project named in its URL must be one of them); nothing else."""
    from .api.reads import InProject, requested_project

    view = (getattr(request, "parser_context", None) or {}).get("view")
    if isinstance(getattr(view, "scope", None), InProject):
        return requested_project(request) in allowed_projects(certificate)
    if request.method in ("PUT", "PATCH") and getattr(view, "restricted_updates_own", False):
        # Its own trust-store entry, which it may not change in substance (the view's rule).
        named = view.kwargs.get(view.lookup_field) or ""
        return bool(named) and certificate.fingerprint.startswith(named)
    if request.method not in permissions.SAFE_METHODS or not getattr(view, "restricted_read", False):
        return False
    if getattr(view, "restricted_names_project", False) and view.kwargs.get(view.lookup_field) is not None:
        return view.kwargs[view.lookup_field] in allowed_projects(certificate)
    return True


def is_trusted(request):
    """Whether the request may see and do all it asks, as a client of LXD's unix socket.

    Over TCP: a trusted client certificate (a restricted one within its projects), a read-write
    token, a read-only one for reads, or an active staff user holding the request's
    ``required_permission`` (superusers hold every one).
    """
    from .models import APIToken

    if request.META.get(LISTENER_KEY) == "unix":
        return True
    certificate = trusted_certificate(request)
    if certificate is not None:
        return not certificate.restricted or restricted_allows(request, certificate)
    if isinstance(request.auth, APIToken):
        return request.method in permissions.SAFE_METHODS or not request.auth.read_only
    user = getattr(request, "user", None)
    if not (user and user.is_active and user.is_staff):
        return False
    # DRF's request names its view (the browsable API asks again with each form's method).
    view = (getattr(request, "parser_context", None) or {}).get("view")
    permission = required_permission(request, view) if view is not None else None
    return permission is not None and user.has_perm(permission)


class LXDTrust(permissions.BasePermission):
    """Trusted clients may do what they ask; others only read views that offer a public view.

    A view offers one with ``untrusted_read = True`` and then shows untrusted clients only
    what LXD shows them (``GET /1.0`` without config, public images): a staff session without
    the view permission sees that too, never less than an anonymous client.
    """

    def has_permission(self, request, view):
        if is_trusted(request):
            return True
        if request.method in permissions.SAFE_METHODS and getattr(view, "untrusted_read", False):
            return True
        # LXD's text for an untrusted client (response.Forbidden(nil)).
        raise exceptions.PermissionDenied("not authorized")
