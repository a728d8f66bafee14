"""`manage.py show KIND [NAME]`: an object as YAML, as `lxc profile|config|image show` prints it."""

from django.core.management.base import CommandError

from resources.documents import KINDS, DocumentError, dump_yaml, get_kind
from resources.management.base import DocumentCommand, named_project


class Command(DocumentCommand):
    """Print one object as YAML."""

    help = "Print an LXD object as YAML: show profile|instance|alias NAME, show server, show image FINGERPRINT."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS), help="What to show.")
        parser.add_argument("name", nargs="?", default=None, help="The object's name (not for the server).")
        parser.add_argument("--project", default=None, help="The project the object lives in (default: default).")

    def handle(self, *args, kind, name, project, **options):
        try:
            kind = get_kind(kind)
            if not kind.singleton and not name:
                raise DocumentError(f"show {kind.name} needs a NAME")
            self.stdout.write(dump_yaml(kind.document(kind.get(name, named_project(project)))), ending="")
        except DocumentError as exc:
            raise CommandError(str(exc)) from exc
