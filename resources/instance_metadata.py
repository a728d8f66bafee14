"""An instance's image metadata (LXD's metadata.yaml in its directory) and its template files.

An instance made from an image starts with the image's metadata; one made empty has none, and
LXD then shows Go's zero ``api.ImageMetadata`` (null maps). A PUT replaces the metadata, a
PATCH decodes onto it as Go's json.Unmarshal does (maps merged key by key). The ETag is LXD's:
the hash of the metadata as it encodes it.
"""

import hashlib
import re

from rest_framework import serializers

from .go import GoStruct, go_json
from .serializers.fields import BoolField, ConfigField, GoField, StringField, _json_object, _type_name

# LXD refuses template names that could leave the templates directory (a path, a dot file).
_TEMPLATE_NAME = re.compile(r"[^/\\]+")


class Int64Field(GoField):
    """A JSON number that fits Go's int64; null is 0."""

    def to_internal_value(self, data):
        if data is None:
            return 0
        if isinstance(data, bool) or not isinstance(data, int) or not -(2**63) <= data < 2**63:
            raise serializers.ValidationError(f"expected a 64-bit integer, got {_type_name(data)}")
        return data


class TemplateSerializer(serializers.Serializer):
    """One entry of ``templates``: when a file is rendered, from which template."""

    when = serializers.ListField(child=StringField(), required=False, allow_null=True)
    create_only = BoolField(required=False)
    template = StringField(required=False)
    properties = ConfigField(required=False)


class TemplatesField(GoField):
    """``templates``: a file's path to how it is rendered."""

    def to_internal_value(self, data):
        templates = {}
        for path, entry in _json_object(data, "an object of templates").items():
            serializer = TemplateSerializer(data=_json_object(entry, f"template {path!r} to be an object"))
            serializer.is_valid(raise_exception=True)
            templates[path] = _template({**serializer.validated_data})
        return templates


class MetadataSerializer(serializers.Serializer):
    """The body of a metadata PUT or PATCH (Go's ``api.ImageMetadata``)."""

    architecture = StringField(required=False)
    creation_date = Int64Field(required=False)
    expiry_date = Int64Field(required=False)
    properties = ConfigField(required=False)
    templates = TemplatesField(required=False)


def _template(entry):
    return GoStruct(
        when=entry.get("when"),
        create_only=entry.get("create_only", False),
        template=entry.get("template", ""),
        properties=dict(sorted((entry.get("properties") or {}).items())),
    )


def shown(metadata):
    """The metadata as LXD encodes it (its field order; none stored: Go's zero value)."""
    metadata = metadata or {}
    return GoStruct(
        architecture=metadata.get("architecture", ""),
        creation_date=metadata.get("creation_date", 0),
        expiry_date=metadata.get("expiry_date", 0),
        properties=metadata.get("properties"),
        templates={path: _template(entry) for path, entry in metadata["templates"].items()}
        if metadata.get("templates") is not None
        else None,
    )


def metadata_etag(instance):
    """LXD's ETag of ``/metadata``: the hash of what it answers."""
    return hashlib.sha256((go_json(shown(instance.metadata)) + "\n").encode()).hexdigest()


def written(current, body, *, partial):
    """The metadata a PUT (``partial=False``) or PATCH of ``body`` stores: as LXD writes its
    metadata.yaml and reads it back, unset maps become empty ones."""
    validated = dict(body)
    if partial:
        base = shown(current)
        for key in ("properties", "templates"):
            if key in validated:
                validated[key] = {**(base[key] or {}), **validated[key]}
        validated = {**base, **validated}
    metadata = {
        "architecture": validated.get("architecture", ""),
        "creation_date": validated.get("creation_date", 0),
        "expiry_date": validated.get("expiry_date", 0),
        "properties": dict(validated.get("properties") or {}),
        "templates": {path: dict(entry) for path, entry in (validated.get("templates") or {}).items()},
    }
    return metadata


def from_image(image):
    """The metadata an instance made from ``image`` starts with (metadata.yaml's fields LXD keeps)."""
    return {
        "architecture": image.architecture,
        "creation_date": int(image.created_at.timestamp()),
        "expiry_date": int(image.expires_at.timestamp()),
        "properties": dict(image.properties),
        "templates": {},
    }


def is_template_name(name):
    return bool(_TEMPLATE_NAME.fullmatch(name)) and name not in (".", "..")
