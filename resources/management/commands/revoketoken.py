"""``manage.py revoketoken NAME``: the token stops working at once."""

from django.core.management.base import BaseCommand, CommandError

from resources.models import APIToken


class Command(BaseCommand):
    """Revoke (delete) an API token."""

    help = "Revoke an API token by name."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        deleted, _ = APIToken.objects.filter(name=name).delete()
        if not deleted:
            raise CommandError(f"No token named {name!r}")
        self.stdout.write(f"Token {name!r} revoked")
