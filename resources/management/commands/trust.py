"""``manage.py trust list|add|remove``: the trust store, as ``lxc config trust`` manages it."""

import base64

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework import exceptions

from resources.exceptions import error_text
from resources.models import Certificate
from resources.serializers.certificates import (
    CertificateCreateSerializer,
    add_certificate,
    find_certificate,
    parse_certificate_pem,
)


def _find(prefix):
    """The certificate whose fingerprint starts with ``prefix`` (LXD's lookup); CommandError otherwise."""
    try:
        return find_certificate(prefix.lower())
    except exceptions.APIException as exc:
        raise CommandError(error_text(exc)) from None


class Command(BaseCommand):
    """List, add and remove trusted client certificates (``lxc config trust list/add/remove``)."""

    help = "Manage the certificates TLS clients are trusted by: list, add CERT.crt, remove FINGERPRINT."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="List trusted certificates.")
        add = actions.add_parser("add", help="Trust a client certificate (a PEM file).")
        add.add_argument("file", help="The client's certificate, PEM (lxc: ~/.config/lxc/client.crt).")
        add.add_argument("--name", default="", help="Its name (default: the certificate's common name).")
        add.add_argument("--type", default=Certificate.CLIENT, choices=Certificate.TYPES)
        add.add_argument("--restricted", action="store_true", help="Confine it to --projects.")
        add.add_argument("--projects", default="", help="Comma-separated projects a restricted certificate may use.")
        remove = actions.add_parser("remove", help="Stop trusting a certificate.")
        remove.add_argument("fingerprint", help="Its fingerprint, or a unique prefix of it.")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_list(self, **options):
        for certificate in Certificate.objects.all():
            parsed = x509.load_pem_x509_certificate(certificate.certificate.encode())
            common_names = parsed.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            self.stdout.write(
                "\t".join(
                    [
                        certificate.type,
                        certificate.name,
                        common_names[0].value if common_names else "",
                        certificate.fingerprint[:12],
                        f"{parsed.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}",
                        f"{parsed.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
                    ]
                )
            )

    def handle_add(self, *, file, name, type, restricted, projects, **options):
        try:
            with open(file, "rb") as pem:
                der = parse_certificate_pem(pem.read())
        except (OSError, ValueError) as exc:
            raise CommandError(f"{file}: {exc}") from None
        body = {
            "name": name,
            "type": type,
            "restricted": restricted,
            "projects": [project for project in projects.split(",") if project],
            "certificate": base64.b64encode(der).decode(),
        }
        # The API's rules (its serializer, its 409), in one transaction.
        serializer = CertificateCreateSerializer(data=body)
        try:
            serializer.is_valid(raise_exception=True)
            with transaction.atomic():
                data = serializer.validated_data
                certificate = add_certificate(
                    data["certificate"], name=name, type=type, restricted=restricted, projects=data["projects"]
                )
        except exceptions.APIException as exc:
            raise CommandError(error_text(exc)) from None
        self.stdout.write(certificate.fingerprint)

    def handle_remove(self, *, fingerprint, **options):
        _find(fingerprint).delete()
