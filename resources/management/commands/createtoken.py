"""``manage.py createtoken NAME [--read-only]``: an API token for TCP clients, printed once."""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from resources.models import APIToken
from resources.trust import new_token


class Command(BaseCommand):
    """Create an API token; only its digest is stored, so it is shown this once."""

    help = "Create an API token for TCP clients (Authorization: Bearer TOKEN) and print it."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the token.")
        parser.add_argument("--read-only", action="store_true", help="Allow GET and HEAD only.")

    def handle(self, *args, name, read_only, **options):
        token, digest = new_token()
        try:
            APIToken.objects.create(name=name, digest=digest, read_only=read_only)
        except IntegrityError:
            raise CommandError(f"A token named {name!r} already exists") from None
        self.stdout.write(token)
