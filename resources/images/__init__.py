"""Image files: uploads streamed to disk, LXD's fingerprints and metadata.yaml, exports.

An upload never sits in memory: each part is written in chunks to a temporary file in the
images directory while it is hashed, and renamed to ``<fingerprint>`` (and
``<fingerprint>.rootfs`` for a split image) only when the image row commits. Whatever fails
removes the temporary files, so a refused or interrupted upload leaves no file and no row.
Errors carry LXD 5.0.2's texts, which its failed operations show.

``uploads`` receives the files, ``compression``, ``tarballs`` and ``metadata`` read them,
``importing`` makes the image row, ``exports`` sends the files back, ``files`` keeps the
directory clean, ``queries`` reads and filters image rows; ``errors`` holds ``ImageError``.
"""

from .errors import ImageError
from .exports import export_response
from .files import recover_uploads, remove_unused_files
from .importing import import_image, upload_filename
from .metadata import parse_metadata
from .queries import IMAGE_FILTER_FIELDS, IMAGE_PREFETCH
from .tarballs import scan_tarball

__all__ = [
    "IMAGE_FILTER_FIELDS",
    "IMAGE_PREFETCH",
    "ImageError",
    "export_response",
    "import_image",
    "parse_metadata",
    "recover_uploads",
    "remove_unused_files",
    "scan_tarball",
    "upload_filename",
]
