"""`manage.py export [--output FILE]`: every object, as stored, in one YAML document."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from resources.documents import dump_yaml, export_document


class Command(BaseCommand):
    """Write all objects to one YAML document, which `import` reads back."""

    help = "Export the server config and every profile to one YAML document (stdout or --output)."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="Write to this file instead of stdout.")

    def handle(self, *args, output, **options):
        text = dump_yaml(export_document())
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            output.write_text(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}") from exc
