"""LXD's ETag values.

LXD 5.0.2 hashes a per-type subset of each object with Go's ``encoding/json`` encoder and
sends the SHA-256 as a strong, quoted ETag. A resource names that subset with an
``ETagSerializer``; ``etag_of`` computes the value LXD would send for the same content.
"""

import functools
import hashlib

from rest_framework import serializers

from .go import go_json
from .prepared import PlannedRepresentationMixin


def compute_etag(value):
    """LXD's ETag of a value: SHA-256 of its Go JSON encoding plus the Encoder's newline."""
    return hashlib.sha256((go_json(value) + "\n").encode()).hexdigest()


class ETagSerializer(PlannedRepresentationMixin, serializers.Serializer):
    """The user-modifiable fields LXD hashes, encoded as a Go ``[]any`` in field order.

    Override ``to_representation`` where LXD hashes another shape (a struct, a bare map).
    """

    def to_representation(self, instance):
        return list(super().to_representation(instance).values())


@functools.cache
def _etag_serializer(serializer_class):
    """One instance per ETag serializer class: it holds no request state, and building
    its fields on every request is a measurable share of a GET."""
    return serializer_class()


def etag_of(serializer_class, instance):
    """``instance``'s ETag under ``serializer_class`` (bare hex, as LXD's 412 message shows it)."""
    return compute_etag(_etag_serializer(serializer_class).to_representation(instance))
