"""`manage.py import FILE [--with-files DIR]`: load a document written by `export`, through the API's serializers.

Objects in the file are created or replaced (a PUT); objects not in it are left alone. The
whole file is one transaction: the first object the API's rules refuse stops it, nothing saved.
A new image is made from its files (in DIR, or already in the images directory), checked
against its fingerprint and read as an upload is. An instance is created or replaced through
the API's instance serializers, then given its volatile keys, status and times; its snapshots
are created or replaced by name (others it has are left alone).
"""

import sys
from pathlib import Path

from django.core.management.base import CommandError

from resources.documents import DocumentError, import_document, load_yaml
from resources.management.base import DocumentCommand


class Command(DocumentCommand):
    """Read back an `export` document into the database."""

    help = "Import a YAML document written by `export` (a FILE, or - for stdin)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The document to import, or - for stdin.")
        parser.add_argument(
            "--with-files", type=Path, metavar="DIR", help="Where `export --with-files` put the images."
        )

    def handle(self, *args, file, with_files, **options):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        try:
            import_document(load_yaml(text), files_dir=with_files)
        except DocumentError as exc:
            raise CommandError(f"Nothing imported: {exc}") from exc
        self.stdout.write("Imported.")
