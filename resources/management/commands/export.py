"""`manage.py export [--output FILE] [--with-files DIR]`: every object, as stored, in one YAML document.

Images are named by fingerprint; `--with-files` copies their files into DIR for `import`.
Instances carry their snapshots and what the server keeps of them (volatile keys, status, times).
"""

from pathlib import Path

from django.core.management.base import CommandError

from resources.documents import DocumentError, dump_yaml, export_document
from resources.management.base import DocumentCommand


class Command(DocumentCommand):
    """Write all objects to one YAML document, which `import` reads back."""

    help = (
        "Export the server config, profiles, images, aliases, and instances with their snapshots "
        "to one YAML document (stdout or --output)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="Write to this file instead of stdout.")
        parser.add_argument("--with-files", type=Path, metavar="DIR", help="Copy the image files into DIR.")

    def handle(self, *args, output, with_files, **options):
        try:
            text = dump_yaml(export_document(files_dir=with_files))
        except DocumentError as exc:
            raise CommandError(str(exc)) from exc
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            output.write_text(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}") from exc
