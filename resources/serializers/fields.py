"""The building blocks of every serializer: Go-typed fields, LXD's error texts, the model base."""

import copy
import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..go import GO_ZERO_TIME, go_quote, go_time
from ..prepared import PlannedRepresentationMixin
from ..project_limits import LimitError

# The length of the name columns: PostgreSQL refuses a longer name (LXD's SQLite has no limit),
# and a Linux file name, which lxc sends as an upload's file name, is never longer.
MAX_NAME_LENGTH = 255


def lxd_error(message):
    """A validation error whose text is LXD's own, shown without a field prefix."""
    return serializers.ValidationError(message, code="lxd")


def judged_by_project(check, *args):
    """Run one of ``project_limits``' checks; its refusal is answered at once with LXD's text."""
    try:
        check(*args)
    except LimitError as exc:
        raise lxd_error(str(exc)) from exc


def _type_name(value):
    """The JSON type of a decoded value, for type-mismatch messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _json_object(data, what):
    """A JSON object (a Go map); null decodes to an empty map."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise serializers.ValidationError(f"expected {what}, got {_type_name(data)}")
    return dict(data)


def _string_map(data, what):
    """A JSON object of strings (Go's map[string]string); null decodes to an empty map."""
    data = _json_object(data, what)
    for key, value in data.items():
        if not isinstance(value, str):
            raise serializers.ValidationError(f"value of {go_quote(key)} must be a string, got {_type_name(value)}")
    return data


class GoField(serializers.Field):
    """A field decoded as Go decodes JSON: null leaves the zero value, never an error."""

    def validate_empty_values(self, data):
        if data is None:
            return (False, None)
        return super().validate_empty_values(data)


def _shallow_copy(field):
    """A new field object sharing the template's attributes (``copy.copy`` would re-run DRF's ``Field.__new__``)."""
    new = object.__new__(type(field))
    new.__dict__.update(field.__dict__)
    return new


class LXDModelSerializer(PlannedRepresentationMixin, serializers.ModelSerializer):
    """A ModelSerializer that introspects its model once per class, not on every request.

    Each instance gets its own shallow copy of each field, which binding then fills in, so
    nothing bound is shared between requests. Shallow is enough: no field here nests a
    serializer, and DRF's deep copy re-runs every field's ``__init__`` (about a tenth of a
    profile GET).
    """

    # What a PUT, a full replace as in LXD, resets when its body leaves it out.
    put_defaults = {}

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        # Copied: a default map must not be shared between requests that fill it in.
        return validated if self.partial else {**copy.deepcopy(self.put_defaults), **validated}

    def get_fields(self):
        cls = type(self)
        if "_field_templates" not in cls.__dict__:
            cls._field_templates = super().get_fields()
            assert not any(isinstance(field, serializers.BaseSerializer) for field in cls._field_templates.values())
        return {name: _shallow_copy(field) for name, field in cls._field_templates.items()}


@extend_schema_field(OpenApiTypes.STR)
class StringField(GoField):
    """A JSON string and nothing else (DRF's CharField turns 2 into "2"); null is ""."""

    def to_internal_value(self, data):
        if data is None:
            return ""
        if not isinstance(data, str):
            raise serializers.ValidationError(f"expected a string, got {_type_name(data)}")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class ConfigField(GoField):
    """LXD's ``config``: a JSON object of string values, sorted by key as Go encodes maps."""

    def to_internal_value(self, data):
        return _string_map(data, "an object of strings")

    def to_representation(self, value):
        return dict(sorted(value.items()))


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}}
)
class DevicesField(GoField):
    """LXD's ``devices``: device name to a JSON object of string options."""

    def to_internal_value(self, data):
        devices = _json_object(data, "an object of devices")
        return {
            name: _string_map(options, f"device {go_quote(name)} to be an object") for name, options in devices.items()
        }

    def to_representation(self, value):
        return {name: dict(sorted(options.items())) for name, options in sorted(value.items())}


def merge_config(current, sent, *, partial):
    """PUT replaces a config map; PATCH merges into it. A key set to "" is removed."""
    merged = {**current, **sent} if partial else sent
    return {key: value for key, value in merged.items() if value != ""}


@extend_schema_field(OpenApiTypes.BOOL)
class BoolField(GoField):
    """A JSON boolean and nothing else (DRF's BooleanField takes "yes"); null is false."""

    def to_internal_value(self, data):
        if data is None:
            return False
        if not isinstance(data, bool):
            raise serializers.ValidationError(f"expected a boolean, got {_type_name(data)}")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.DATETIME)
class TimeField(GoField):
    """An RFC 3339 time, shown as Go shows it; null is Go's zero time."""

    def to_internal_value(self, data):
        if data is None:
            return GO_ZERO_TIME
        if not isinstance(data, str):
            raise serializers.ValidationError(f"expected an RFC 3339 time, got {_type_name(data)}")
        try:
            value = datetime.datetime.fromisoformat(data)
        except ValueError as exc:
            raise serializers.ValidationError(f"parsing time {go_quote(data)}: not an RFC 3339 time") from exc
        if value.tzinfo is None:
            raise serializers.ValidationError(f"parsing time {go_quote(data)}: no time zone")
        try:
            # Stored in UTC: an instant outside years 1-9999 there could never be read back.
            value.astimezone(datetime.UTC)
        except OverflowError as exc:
            message = f"parsing time {go_quote(data)}: out of range (years 1 to 9999 in UTC)"
            raise serializers.ValidationError(message) from exc
        return value

    def to_representation(self, value):
        return go_time(value)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class PropertiesField(GoField):
    """An image's ``properties``: a JSON object of strings, sorted by key as Go encodes maps."""

    def to_internal_value(self, data):
        return _string_map(data, "an object of strings")

    def to_representation(self, value):
        return dict(sorted(value.items()))


def lxd_operation_error(message):
    """LXD's text for a request LXD accepts (202) and then fails in its operation."""
    return serializers.ValidationError(message, code="lxd_operation")


def fails_in_operation(errors):
    """Whether every error of a serializer is one LXD reports in a failed operation."""
    if isinstance(errors, dict):
        return all(fails_in_operation(value) for value in errors.values())
    if isinstance(errors, list):
        return all(fails_in_operation(value) for value in errors)
    return getattr(errors, "code", None) == "lxd_operation"
