"""What lxdsite's object commands (show, edit, export, import) share."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from resources.documents import DocumentError
from resources.models import Project


class DocumentCommand(BaseCommand):
    """A command that reports a database it cannot use in one line (CommandError), never a traceback."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DatabaseError as exc:
            raise CommandError(f"Database error: {exc} (is LXD_DIR or DATABASE_URL right?)") from exc


def named_project(name):
    """The project ``--project`` names (None: the default project); DocumentError if there is none."""
    if name is None:
        return None
    project = Project.objects.filter(name=name).first()
    if project is None:
        raise DocumentError(f"Project {name!r} not found")
    return project
