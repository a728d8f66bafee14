"""LXD objects as YAML documents, and the stored version that makes editing them conflict-safe.

The admin and the ``show``/``edit``/``export``/``import`` commands read and write objects here,
always through the API's serializers, so there is one copy of the rules: ``kinds`` (what
``show``/``edit`` name, with the fields a document may change derived from the serializers),
``versions`` (the stored version and its locked re-check), ``yaml_text`` (YAML as LXD prints
and reads it), ``instance_records`` (instances as LXD's JSON) and ``transfer`` (export/import).
"""

from .errors import DocumentError, VersionConflict
from .instance_records import store_instance_record
from .kinds import KINDS, get_kind, save_edited
from .transfer import export_document, import_document
from .versions import lock_current, stored_version
from .yaml_text import dump_yaml, load_yaml

__all__ = [
    "KINDS",
    "DocumentError",
    "VersionConflict",
    "dump_yaml",
    "export_document",
    "get_kind",
    "import_document",
    "load_yaml",
    "lock_current",
    "save_edited",
    "store_instance_record",
    "stored_version",
]
