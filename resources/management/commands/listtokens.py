"""``manage.py listtokens``: the API tokens by name (their values are never stored)."""

from django.core.management.base import BaseCommand

from resources.models import APIToken


class Command(BaseCommand):
    """List API tokens: name, access and creation time."""

    help = "List API tokens."

    def handle(self, *args, **options):
        for token in APIToken.objects.all():
            access = "read-only" if token.read_only else "read-write"
            self.stdout.write(f"{token.name}\t{access}\t{token.created_at:%Y-%m-%dT%H:%M:%SZ}")
