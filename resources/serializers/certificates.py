"""The trust store: certificates as LXD shows them, and LXD's rules for adding and changing them."""

import base64
import binascii
import string

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from ..etags import ETagSerializer
from ..exceptions import AmbiguousPrefix, Conflict
from ..go import GoStruct
from ..models import Certificate, CertificateProject, Project
from ..server_identity import fingerprint_of_der
from .fields import BoolField, GoField, LXDModelSerializer, StringField, _type_name, lxd_error

HEX = frozenset("0123456789abcdef")
BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=\r\n")


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class CertificateProjectsField(GoField):
    """A restricted certificate's projects by name, in its order; every one must exist (LXD's 404)."""

    def to_internal_value(self, data):
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
            raise serializers.ValidationError(f"expected an array of strings, got {_type_name(data)}")
        projects = Project.objects.in_bulk(data, field_name="name")
        if any(name not in projects for name in data):
            raise exceptions.NotFound("Project not found")
        return [projects[name] for name in dict.fromkeys(data)]

    def to_representation(self, links):
        return [link.project.name for link in links.all()]


class CertificateSerializer(LXDModelSerializer):
    """A certificate as LXD shows it. PUT replaces name, restricted and projects (its type cannot
    change, its certificate is the one it was added with); PATCH merges them."""

    # PUT is a full replace, as LXD decodes it into an empty CertificatePut.
    put_defaults = {"name": "", "type": "", "restricted": False, "project_links": []}

    name = StringField(required=False)
    type = StringField(required=False)
    restricted = BoolField(required=False)
    projects = CertificateProjectsField(source="project_links", required=False)

    class Meta:
        model = Certificate
        fields = ["name", "type", "restricted", "projects", "certificate", "fingerprint"]
        read_only_fields = ["certificate", "fingerprint"]

    def validate(self, attrs):
        if self.instance is not None and attrs.get("type", self.instance.type) != self.instance.type:
            raise exceptions.PermissionDenied("The certificate type cannot be changed")
        return attrs

    def update(self, instance, validated_data):
        projects = validated_data.pop("project_links", None)
        certificate = super().update(instance, validated_data)
        if projects is not None:
            set_certificate_projects(certificate, projects)
        return certificate


def set_certificate_projects(certificate, projects):
    """Replace the certificate's projects (by the foreign key: a prefetched relation is only what was read)."""
    CertificateProject.objects.filter(certificate=certificate).delete()
    CertificateProject.objects.bulk_create(CertificateProject(certificate=certificate, project=p) for p in projects)


class CertificateCreateSerializer(serializers.Serializer):
    """``POST /1.0/certificates`` (LXD's CertificatesPost): the certificate (base64 DER) to trust,
    or none for the TLS client's own; its name defaults to the certificate's common name."""

    name = StringField(required=False, default="")
    type = StringField(required=False, default="")
    restricted = BoolField(required=False, default=False)
    projects = CertificateProjectsField(required=False, default=list)
    certificate = StringField(required=False, default="")
    password = StringField(required=False, default="")
    token = BoolField(required=False, default=False)

    def validate_certificate(self, value):
        """The certificate's DER bytes (None when the body names none)."""
        if not value:
            return None
        try:
            # Go's decoder skips line breaks (pylxd sends the PEM body's lines).
            der = base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
        except binascii.Error:
            raise lxd_error(f"illegal base64 data at input byte {_bad_base64_offset(value)}") from None
        try:
            x509.load_der_x509_certificate(der)
        except ValueError:
            raise lxd_error("Invalid certificate material: x509: malformed certificate") from None
        return der


def _bad_base64_offset(value):
    """Where Go's base64 decoder stops on ``value``: its first byte outside the alphabet, or its end."""
    for index, char in enumerate(value):
        if char not in BASE64_ALPHABET:
            return index
    return len(value) - len(value) % 4 if len(value) % 4 else max(len(value.rstrip("=")) - 1, 0)


def parse_certificate_pem(text):
    """The DER bytes of the first certificate in PEM ``text``; ValueError says what is wrong."""
    try:
        certificate = x509.load_pem_x509_certificates(text.encode() if isinstance(text, str) else text)[0]
    except (ValueError, IndexError):
        raise ValueError("Not a PEM certificate") from None
    return certificate.public_bytes(Encoding.DER)


def add_certificate(der, *, name, type, restricted=False, projects=(), fallback_name=""):
    """Trust ``der`` (a certificate's DER bytes): the stored row; LXD's 409 if it is trusted already.

    Without a name it takes the certificate's common name, or else ``fallback_name`` (LXD: the
    client's address)."""
    certificate = x509.load_der_x509_certificate(der)
    fingerprint = fingerprint_of_der(der)
    if Certificate.objects.filter(fingerprint=fingerprint).exists():
        raise Conflict("Certificate already in trust store")
    if not name:
        common_names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        name = common_names[0].value if common_names else fallback_name
    row = Certificate.objects.create(
        fingerprint=fingerprint,
        type=type,
        name=name,
        restricted=restricted,
        certificate=certificate.public_bytes(Encoding.PEM).decode(),
    )
    set_certificate_projects(row, projects)
    return row


def find_certificate(prefix, queryset=None):
    """The certificate whose fingerprint is ``prefix`` or starts with it, as LXD looks one up."""
    queryset = Certificate.objects.all() if queryset is None else queryset
    if not prefix or not HEX.issuperset(prefix):
        raise exceptions.NotFound("Certificate not found")
    matches = list(queryset.filter(fingerprint__startswith=prefix)[:2])
    if len(matches) > 1:
        raise AmbiguousPrefix("More than one certificate matches")
    if not matches:
        raise exceptions.NotFound("Certificate not found")
    return matches[0]


class CertificateETagSerializer(ETagSerializer):
    """LXD hashes the whole certificate as it shows it (api.Certificate, in its field order)."""

    lxd_recipe = ("name", "type", "restricted", "projects", "certificate", "fingerprint")
    name = StringField()
    type = StringField()
    restricted = BoolField()
    projects = CertificateProjectsField(source="project_links")
    certificate = StringField()
    fingerprint = StringField()

    def lxd_value(self, instance, shown):
        return GoStruct(shown.items())
