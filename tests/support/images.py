"""Images for tests: rows made directly, and files uploaded through the API as lxc uploads them.

A row needs no file for what most tests read (lists, ETags, aliases, the admin, the commands);
a test of what is stored, served or exported uploads a file built by ``image_files``.
"""

from typing import NamedTuple

from resources.models import Image, ImageAlias, ImageProfile
from tests.support.image_files import multipart


def make_image(fingerprint, *, profiles=(), aliases=None, **fields):
    """An image row without files, linked to ``profiles`` in order, with ``aliases`` ({name: description}).

    ``fields`` are its other columns; the architecture is x86_64 unless given.
    """
    image = Image.objects.create(fingerprint=fingerprint, **{"architecture": "x86_64", **fields})
    for profile in profiles:
        ImageProfile.objects.create(image=image, profile=profile)
    for name, description in (aliases or {}).items():
        ImageAlias.objects.create(name=name, description=description, image=image)
    return image


class Upload(NamedTuple):
    """An upload's answer and its ended operation as JSON (None unless the answer was a 202)."""

    response: object
    operation: dict | None

    @property
    def fingerprint(self):
        """The uploaded image's fingerprint; fails the test unless the upload succeeded."""
        assert self.operation is not None, self.response.content
        assert self.operation["status"] == "Success", self.operation
        return self.operation["metadata"]["fingerprint"]


def upload_image(
    client, capture_on_commit, data, content_type="application/octet-stream", url="/1.0/images", **headers
):
    """POST an image file to ``url`` as lxc does and run what waits for the commit; an ``Upload``.

    ``data`` is the file, or (metadata, rootfs) for a split image, sent as multipart as lxc sends it.
    ``capture_on_commit`` is pytest-django's ``django_capture_on_commit_callbacks``.
    """
    if isinstance(data, tuple):
        content_type, data = multipart([("metadata", "meta.tar.gz", data[0]), ("rootfs", "rootfs.tar", data[1])])
    with capture_on_commit(execute=True):
        response = client.generic("POST", url, data, content_type=content_type, **headers)
    operation = client.get(response.headers["Location"]).json()["metadata"] if response.status_code == 202 else None
    return Upload(response, operation)
