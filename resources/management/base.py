"""What lxdsite's object commands (show, edit, export, import) share."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError


class DocumentCommand(BaseCommand):
    """A command that reports a database it cannot use in one line (CommandError), never a traceback."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DatabaseError as exc:
            raise CommandError(f"Database error: {exc} (is LXD_DIR or DATABASE_URL right?)") from exc
