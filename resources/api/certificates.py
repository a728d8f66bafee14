"""``/1.0/certificates``: LXD's trust store, which decides whom a TLS client certificate trusts."""

from django.contrib.auth.hashers import check_password
from django.db import transaction
from rest_framework import exceptions

from ..certificate_tokens import decode_token, issue_token, redeem_token
from ..envelope import CreatedResponse
from ..models import Certificate, Project, Server
from ..operations import AsyncResponse
from ..serializers.certificates import (
    CertificateCreateSerializer,
    CertificateETagSerializer,
    CertificateSerializer,
    add_certificate,
    find_certificate,
)
from ..trust import CLIENT_CERTIFICATE_KEY, is_trusted, restricted_projects
from .base import DestroyMixin, LifecycleMixin, ListMixin, LXDViewSet, RetrieveMixin, UpdateMixin
from .cached_reads import CachedReadMixin
from .conditional import ConditionalUpdateMixin, conditional_schema
from .reads import Shown


def changes_anything(serializer):
    """Whether a validated PUT or PATCH would change the certificate's name, type, restrictions or projects."""
    instance, data = serializer.instance, serializer.validated_data
    if any(data[key] != getattr(instance, key) for key in ("name", "type", "restricted") if key in data):
        return True
    current = [link.project.name for link in instance.project_links.all()]
    return "project_links" in data and [project.name for project in data["project_links"]] != current


def trust_password_matches(password):
    """Whether ``password`` is ``core.trust_password`` (stored hashed, as LXD stores it)."""
    stored = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
    hashed = stored.get("core.trust_password", "")
    return bool(hashed) and check_password(password, hashed)


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class CertificateViewSet(
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
    DestroyMixin,
    LXDViewSet,
):
    """``/1.0/certificates``: trusted certificates, found by fingerprint or a unique prefix of it.

    ``POST`` is open to untrusted clients, as in LXD: with ``core.trust_password`` (or a
    certificate add token) it trusts the certificate the client's TLS handshake presented.
    """

    queryset = Certificate.objects.all()
    serializer_class = CertificateSerializer
    create_serializer_class = CertificateCreateSerializer
    etag_serializer_class = CertificateETagSerializer
    # A restricted certificate's projects, in its order (names only; the ETag hashes them).
    shown = (Shown("project_links", "project", ("name",), in_etag=True),)
    prepared_reads = True
    lifecycle_name = "certificate"
    lookup_field = "fingerprint"
    collection_url = "/1.0/certificates"
    not_found_message = "Certificate not found"
    # A restricted certificate reads the trust store, as in LXD, and may PUT/PATCH its own entry
    # with what it holds (``perform_update``); only unrestricted ones change the store.
    restricted_read = True
    restricted_updates_own = True

    def check_permissions(self, request):
        # Whom a POST trusts is decided by its password (``create``), as LXD does.
        if self.action != "create":
            super().check_permissions(request)

    def perform_update(self, serializer):
        if restricted_projects(self.request) is not None and changes_anything(serializer):
            raise exceptions.PermissionDenied("Only the certificate can be changed")
        super().perform_update(serializer)

    def read_prepared(self, value):
        # A prefix is looked up by LIKE (and refused when ambiguous).
        return len(value) == 64 and super().read_prepared(value)

    def lookup_object(self, value):
        return find_certificate(value, self.get_queryset())

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=self.request_data())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data["token"] and data["certificate"]:
            raise exceptions.ParseError("Can't use certificate if token is requested")
        if data["token"] and data["type"] != Certificate.CLIENT:
            raise exceptions.ParseError("Tokens can only be issued for client certificates")
        with transaction.atomic():
            if is_trusted(request):
                if not data["certificate"] and not data["token"]:
                    raise exceptions.ParseError("Client is already trusted")
            else:
                data.update(self.granted(data["password"]))
            if data["type"] not in Certificate.TYPES:
                raise exceptions.ParseError("Invalid certificate type")
            if data["token"]:
                grant = {key: data[key] for key in ("name", "type", "restricted")}
                grant["projects"] = [project.name for project in data["projects"]]
                return AsyncResponse(issue_token(grant))
            certificate = add_certificate(
                data["certificate"] or self.presented_certificate(),
                name=data["name"],
                type=data["type"],
                restricted=data["restricted"],
                projects=data["projects"],
                fallback_name=request.META.get("REMOTE_ADDR", ""),
            )
            self.emit_lifecycle("created", certificate)
        return CreatedResponse(self.object_url(certificate))

    def granted(self, password):
        """What an untrusted client's password grants: a token's request (the token is used up),
        or the body's own with ``core.trust_password``; LXD's 403 otherwise."""
        token = decode_token(password) if password else None
        if token is not None:
            grant = redeem_token(token)
            names = grant.get("projects") or []
            projects = Project.objects.in_bulk(names, field_name="name")
            # The token's request alone, as LXD: the client overrides nothing (its TLS certificate is trusted).
            return {
                "name": grant.get("name", ""),
                "type": grant.get("type", ""),
                "restricted": bool(grant.get("restricted")),
                "projects": [projects[name] for name in names if name in projects],
                "certificate": None,
                "token": False,
            }
        if not password or not trust_password_matches(password):
            # LXD's answer to a missing or wrong password (response.Forbidden(nil)).
            raise exceptions.PermissionDenied("not authorized")
        return {}

    def presented_certificate(self):
        """The certificate the client's TLS handshake presented, for a POST that names none."""
        meta = self.request.META
        if meta.get("wsgi.url_scheme") != "https":
            raise exceptions.ParseError("Can't use TLS data on non-TLS link")
        if not meta.get(CLIENT_CERTIFICATE_KEY):
            raise exceptions.ParseError("No client certificate provided")
        return meta[CLIENT_CERTIFICATE_KEY]
