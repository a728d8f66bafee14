"""`manage.py edit KIND [NAME]`: change an object in $EDITOR, as a careful `lxc edit` would.

The file opens with the object as YAML; the save writes through the API's serializer inside a
locked transaction, and only if the object is still at the version the editor opened. If it
changed meanwhile, nothing is written and the editor re-opens with the current object.
"""

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from django.core.management.base import CommandError

from resources.documents import KINDS, DocumentError, VersionConflict, dump_yaml, get_kind, load_yaml, save_edited
from resources.documents import stored_version as version_of
from resources.management.base import DocumentCommand, named_project

HEADER = (
    "### This is a YAML representation of the {kind}.\n"
    "### Any line starting with a '#' will be ignored.\n"
    "### Saving an unchanged file changes nothing; a file that cannot be saved opens again.\n"
)


def editor_command():
    """The user's editor, as lxc picks it: $VISUAL, then $EDITOR, then vi."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


class Command(DocumentCommand):
    """Edit one object as YAML in $EDITOR, conflict-safe."""

    help = (
        "Edit an LXD object as YAML in $EDITOR: edit profile|instance|alias NAME, edit server, edit image FINGERPRINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS), help="What to edit.")
        parser.add_argument("name", nargs="?", default=None, help="The object's name (not for the server).")
        parser.add_argument("--project", default=None, help="The project the object lives in (default: default).")

    def handle(self, *args, kind, name, project, **options):
        try:
            kind = get_kind(kind)
            if not kind.singleton and not name:
                raise DocumentError(f"edit {kind.name} needs a NAME")
            instance = kind.get(name, named_project(project))
        except DocumentError as exc:
            raise CommandError(str(exc)) from exc
        with tempfile.TemporaryDirectory(prefix="lxdsite-edit-") as directory:
            self.edit_loop(kind, instance, Path(directory) / f"{kind.name}.yaml")

    def edit_loop(self, kind, instance, path):
        """Open, read and save until the save succeeds, the file is unchanged, or the user gives up."""
        version = version_of(instance)
        opened = HEADER.format(kind=kind.name) + dump_yaml(kind.document(instance))
        refused = None  # why the text opened again for fixing could not be saved
        while True:
            edited = self.run_editor(path, opened)
            if edited == opened:
                if refused is not None:
                    # Closed again without fixing it: the user gives up, as with ctrl+c in lxc.
                    raise CommandError(f"Edit abandoned, nothing saved: {refused}")
                self.stdout.write("No changes.")
                return
            try:
                instance = save_edited(kind, instance, load_yaml(edited, strings=kind.strings), version)
            except VersionConflict as conflict:
                if conflict.current is None:
                    raise CommandError(f"The {kind.name} was deleted while you edited it; nothing saved.") from None
                instance, version = conflict.current, version_of(conflict.current)
                self.stderr.write(
                    f"The {kind.name} was changed by someone else while you edited it; nothing was saved.\n"
                    "Opening the editor again with the current version: make your change again."
                )
                opened, refused = HEADER.format(kind=kind.name) + dump_yaml(kind.document(instance)), None
                continue
            except DocumentError as error:
                self.stderr.write(f"Could not save: {error}\nOpening the editor again: fix it, or close it unchanged.")
                opened, refused = edited, error
                continue
            self.stdout.write(f"Saved {kind.name}" + ("." if kind.singleton else f" {instance}."))
            return

    def run_editor(self, path, text):
        """Write ``text`` to ``path``, run the editor on it, and return what it left there."""
        path.write_text(text)
        command = [*editor_command(), str(path)]
        try:
            result = subprocess.run(command, check=False)
        except OSError as exc:
            raise CommandError(f"Cannot run the editor {command[0]!r}: {exc.strerror}") from exc
        if result.returncode != 0:
            raise CommandError(f"The editor {command[0]!r} exited with status {result.returncode}; nothing saved.")
        return path.read_text()
