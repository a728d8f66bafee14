"""LXD's ETag values.

LXD 5.0.2 hashes a per-type subset of each object with Go's ``encoding/json`` encoder and
sends the SHA-256 as a strong, quoted ETag. A resource names that subset with an
``ETagSerializer``; ``etag_of`` computes the value LXD would send for the same content.
"""

import functools
import hashlib

from rest_framework import serializers

from .go import GoStruct, go_json
from .prepared import PlannedRepresentationMixin


def compute_etag(value):
    """LXD's ETag of a value: SHA-256 of its Go JSON encoding plus the Encoder's newline."""
    return hashlib.sha256((go_json(value) + "\n").encode()).hexdigest()


class ETagSerializer(PlannedRepresentationMixin, serializers.Serializer):
    """What an ETag hashes: LXD's recipe for the resource, and lxdsite's additions to it.

    ``lxd_recipe`` names the API fields LXD 5.0.2 hashes; ``lxd_value`` gives them in LXD's
    shape (by default the declared fields as a Go ``[]any`` in order; override for a struct
    or a map). ``additions`` names fields a PUT or PATCH can change that LXD's recipe leaves
    out: lxdsite hashes them too, after LXD's value, so that no concurrent write of them is
    lost; the ETag then differs from LXD's (docs/compatibility.md lists these). The contract
    tests check that every field a PUT may write is in one or the other.
    """

    lxd_recipe = ()
    additions = ()

    def to_representation(self, instance):
        shown = super().to_representation(instance)
        value = self.lxd_value(instance, shown)
        if not self.additions:
            return value
        return [value, GoStruct((name, shown[name]) for name in self.additions)]

    def lxd_value(self, instance, shown):
        """LXD's recipe, as LXD shapes it. Override where LXD hashes a struct or a map."""
        return [value for name, value in shown.items() if name not in self.additions]


def lxd_etag_of(serializer_class, instance):
    """The ETag LXD 5.0.2 would send for ``instance`` (its recipe alone), to compare with the daemon."""
    serializer = _etag_serializer(serializer_class)
    shown = PlannedRepresentationMixin.to_representation(serializer, instance)
    return compute_etag(serializer.lxd_value(instance, shown))


@functools.cache
def _etag_serializer(serializer_class):
    """One instance per ETag serializer class: it holds no request state, and building
    its fields on every request is a measurable share of a GET."""
    return serializer_class()


def etag_of(serializer_class, instance):
    """``instance``'s ETag under ``serializer_class`` (bare hex, as LXD's 412 message shows it)."""
    return compute_etag(_etag_serializer(serializer_class).to_representation(instance))
