"""Serializers: LXD's JSON shapes, and every rule a write must pass.

The API, the admin and the management commands all validate through these classes. LXD's
own error texts are raised with code ``lxd`` so the envelope shows them word for word.
"""

import datetime
import functools
import platform
import re
import socket

from django.contrib.auth.hashers import make_password
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from . import config_keys
from .architectures import ARCHITECTURE_IDS
from .etags import ETagSerializer
from .exceptions import AmbiguousPrefix, Conflict
from .extensions import API_EXTENSIONS
from .go import GO_ZERO_TIME, GoStruct, go_quote, go_time
from .instances import (
    expand_config,
    expand_devices,
    generated_name,
    hostname_error,
    initial_volatile,
    is_volatile,
    without_volatile,
)
from .models import Image, ImageAlias, ImageProfile, Instance, InstanceProfile, Operation, Profile, Server, Snapshot
from .prepared import PlannedRepresentationMixin

LXD_VERSION = "5.0.2"


def lxd_error(message):
    """A validation error whose text is LXD's own, shown without a field prefix."""
    return serializers.ValidationError(message, code="lxd")


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


HIDDEN_SERVER_KEYS = frozenset(key for key, spec in config_keys.SERVER_CLUSTER_KEYS.items() if spec.hidden)


def shown_server_config(config):
    """The server config as LXD shows it: hidden keys (the trust password's hash) as ``true``."""
    return {key: True if key in HIDDEN_SERVER_KEYS else value for key, value in sorted(config.items())}


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ServerConfigField(GoField):
    """The server's ``config``: LXD decodes it as map[string]any and checks each value's type itself."""

    def to_internal_value(self, data):
        return _json_object(data, "an object")

    def to_representation(self, value):
        return shown_server_config(value)


class ServerSerializer(LXDModelSerializer):
    """``GET /1.0``: the server's config and environment; PUT/PATCH change ``config`` only."""

    config = ServerConfigField(required=False)

    class Meta:
        model = Server
        fields = ["config"]

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        # A hidden key comes back from clients as the `true` LXD showed them: keep it.
        value = {
            key: current.get(key, "") if item is True and key in HIDDEN_SERVER_KEYS else item
            for key, item in value.items()
        }
        merged = {**current, **value} if self.partial else value
        try:
            config = config_keys.clean_server_config(merged)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        # LXD stores the trust password hashed, never as sent.
        return {
            key: make_password(item) if key in HIDDEN_SERVER_KEYS and item != current.get(key) else item
            for key, item in config.items()
        }

    def to_representation(self, instance):
        return {
            **super().to_representation(instance),
            **untrusted_server_info(),
            "auth": "trusted",
            "environment": server_environment(),
        }


def untrusted_server_info():
    """What ``GET /1.0`` tells any client, trusted or not (LXD's api.ServerUntrusted)."""
    return {
        "api_extensions": API_EXTENSIONS,
        "api_status": "stable",
        "api_version": "1.0",
        "auth": "untrusted",
        "public": False,
        "auth_methods": ["tls"],
    }


@functools.cache
def server_environment():
    """The ``environment`` block of ``GET /1.0``, in LXD's field order."""
    uname = platform.uname()
    return {
        "addresses": [],
        "architectures": ["x86_64", "i686"],
        "certificate": "",
        "certificate_fingerprint": "",
        "driver": "lxc",
        "driver_version": LXD_VERSION,
        "firewall": "xtables",
        "kernel": uname.system,
        "kernel_architecture": uname.machine,
        "kernel_features": {},
        "kernel_version": uname.release,
        "lxc_features": {},
        "os_name": "lxdsite",
        "os_version": LXD_VERSION,
        "project": "default",
        "server": "lxd",
        "server_clustered": False,
        "server_event_mode": "full-mesh",
        "server_name": socket.gethostname(),
        "server_pid": 0,
        "server_version": LXD_VERSION,
        "storage": "",
        "storage_version": "",
        "storage_supported_drivers": [],
    }


class ServerETagSerializer(ETagSerializer):
    """LXD hashes the server's ``config`` map alone, as it shows it."""

    config = ServerConfigField()

    def to_representation(self, instance):
        return super().to_representation(instance)[0]


class ProfileSerializer(LXDModelSerializer):
    """A profile as LXD shows it; PUT replaces config, description and devices, PATCH merges."""

    config = ConfigField(required=False)
    description = StringField(required=False)
    devices = DevicesField(required=False)
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["config", "description", "devices", "name", "used_by"]
        read_only_fields = ["name"]

    def get_used_by(self, profile) -> list[str]:
        return [f"/1.0/instances/{link.instance.name}" for link in profile.instance_links.all()]

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        config = merge_config(current, value, partial=self.partial)
        try:
            config_keys.validate_profile_config(config)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return config

    def validate_devices(self, value):
        devices = {**self.instance.devices, **value} if self.partial and self.instance else value
        try:
            config_keys.validate_devices(devices, profile=True)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return devices

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        if not self.partial:
            # PUT is a full replace: what the body leaves out is reset, as LXD does.
            validated = {"config": {}, "description": "", "devices": {}, **validated}
        return validated


def validate_profile_name(name):
    """LXD's rules for a profile name (lxd/profiles.go)."""
    if not name:
        raise lxd_error("No name provided")
    if "/" in name:
        raise lxd_error("Profile names may not contain slashes")
    if name in (".", ".."):
        raise lxd_error(f"Invalid profile name {go_quote(name)}")
    return name


class ProfileCreateSerializer(ProfileSerializer):
    """``POST /1.0/profiles``: a new profile with a valid, unused name (409 when taken)."""

    name = StringField(default="")

    class Meta(ProfileSerializer.Meta):
        read_only_fields = []

    def validate_name(self, name):
        validate_profile_name(name)
        if Profile.objects.filter(name=name).exists():
            raise Conflict(f"Error inserting {go_quote(name)} into database: The profile already exists")
        return name


class ProfileRenameSerializer(LXDModelSerializer):
    """``POST /1.0/profiles/NAME``: rename; the default profile keeps its name (403)."""

    name = StringField(default="")

    class Meta:
        model = Profile
        fields = ["name"]

    def validate_name(self, name):
        if self.instance.name == Profile.DEFAULT_NAME:
            raise exceptions.PermissionDenied('The "default" profile cannot be renamed')
        validate_profile_name(name)
        if Profile.objects.filter(name=name).exclude(pk=self.instance.pk).exists():
            raise Conflict(f"Name {go_quote(name)} already in use")
        return name


class ProfileETagSerializer(ETagSerializer):
    """LXD hashes ``[config, description, devices]``; the name is left out."""

    config = ConfigField()
    description = StringField()
    devices = DevicesField()


def check_profile_deletable(profile):
    """LXD's rules for deleting a profile, shared by the API and the admin."""
    if profile.name == Profile.DEFAULT_NAME:
        raise exceptions.PermissionDenied('The "default" profile cannot be deleted')
    if profile.instance_links.exists():
        # LXD answers 500 with this text; a profile in use is the client's mistake: 400.
        raise lxd_error("Profile is currently in use")


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


@extend_schema_field({"type": "array", "items": {"type": "string"}, "nullable": True})
class ImageProfilesField(GoField):
    """An image's profiles by name, in order; null leaves them as they are (LXD's PUT does)."""

    def validate_empty_values(self, data):
        if data is None:
            raise serializers.SkipField()
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
            raise serializers.ValidationError(f"expected an array of strings, got {_type_name(data)}")
        profiles = {profile.name: profile for profile in Profile.objects.filter(name__in=data)}
        for name in data:
            if name not in profiles:
                raise lxd_error(f"Profile '{name}' doesn't exist")
        return [profiles[name] for name in dict.fromkeys(data)]

    def to_representation(self, links):
        return [link.profile.name for link in links.all()]


class ImageSerializer(LXDModelSerializer):
    """An image as LXD shows it. PUT replaces public, auto_update and properties and keeps
    profiles and expires_at unless sent; PATCH merges properties and ignores profiles."""

    auto_update = BoolField(required=False)
    properties = PropertiesField(required=False)
    public = BoolField(required=False)
    expires_at = TimeField(required=False)
    profiles = ImageProfilesField(source="profile_links", required=False)
    aliases = serializers.SerializerMethodField()
    created_at = TimeField(read_only=True)
    last_used_at = serializers.SerializerMethodField()
    uploaded_at = TimeField(read_only=True)

    class Meta:
        model = Image
        fields = [
            "auto_update",
            "properties",
            "public",
            "expires_at",
            "profiles",
            "aliases",
            "architecture",
            "cached",
            "filename",
            "fingerprint",
            "size",
            "type",
            "created_at",
            "last_used_at",
            "uploaded_at",
        ]
        read_only_fields = ["architecture", "cached", "filename", "fingerprint", "size", "type"]

    def get_last_used_at(self, image) -> str:
        # Never used is Go's zero time (DRF skips fields whose value is None).
        return go_time(image.last_used_at)

    def get_aliases(self, image) -> list[dict]:
        return [{"name": alias.name, "description": alias.description} for alias in image.aliases.all()]

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        if self.partial:
            validated.pop("profile_links", None)
            if "properties" in validated:
                validated["properties"] = {**self.instance.properties, **validated["properties"]}
        else:
            validated = {"auto_update": False, "properties": {}, "public": False, **validated}
        if validated.get("expires_at") == GO_ZERO_TIME:
            del validated["expires_at"]
        return validated

    def update(self, instance, validated_data):
        profiles = validated_data.pop("profile_links", None)
        image = super().update(instance, validated_data)
        if profiles is not None:
            image.profile_links.all().delete()
            ImageProfile.objects.bulk_create(ImageProfile(image=image, profile=profile) for profile in profiles)
        return image


class ImageETagSerializer(ETagSerializer):
    """LXD hashes ``[public, auto_update, properties]``."""

    public = BoolField()
    auto_update = BoolField()
    properties = PropertiesField()


@extend_schema_field(OpenApiTypes.STR)
class ImageTargetField(GoField):
    """An alias's target: a fingerprint or a unique prefix of one, resolved to the image (404 if none).

    An empty target counts as absent: the serializer says that it is required.
    """

    def validate_empty_values(self, data):
        if data in (None, ""):
            raise serializers.SkipField()
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(f"expected a string, got {_type_name(data)}")
        return find_image(data)

    def to_representation(self, image):
        return image.fingerprint


def find_image(prefix, queryset=None):
    """The image whose fingerprint is ``prefix`` or starts with it, as LXD looks images up."""
    queryset = Image.objects.all() if queryset is None else queryset
    # Fingerprints are lower-case hex; LIKE would also match other cases on SQLite.
    if not prefix or prefix.strip("0123456789abcdef"):
        raise exceptions.NotFound("Image not found")
    matches = list(queryset.filter(fingerprint__startswith=prefix)[:2])
    if len(matches) > 1:
        raise AmbiguousPrefix()
    if not matches:
        raise exceptions.NotFound("Image not found")
    return matches[0]


class ImageAliasSerializer(LXDModelSerializer):
    """An alias as LXD shows it: description, target, name, type. PUT needs the target; PATCH merges."""

    description = StringField(required=False)
    target = ImageTargetField(source="image", required=False)
    type = serializers.CharField(read_only=True)

    class Meta:
        model = ImageAlias
        fields = ["description", "target", "name", "type"]
        read_only_fields = ["name"]

    def validate(self, attrs):
        if not self.partial and "image" not in attrs:
            raise lxd_error("The target field is required")
        return attrs if self.partial else {"description": "", **attrs}


def validate_alias_name(name, instance=None):
    """LXD's rules for an alias name; a taken name is a 409."""
    if "/" in name:
        raise lxd_error("Alias names may not contain slashes")
    taken = ImageAlias.objects.filter(name=name)
    if instance is not None:
        taken = taken.exclude(pk=instance.pk)
    if taken.exists():
        raise Conflict(f"Alias {go_quote(name)} already exists")
    return name


class ImageAliasCreateSerializer(ImageAliasSerializer):
    """``POST /1.0/images/aliases``: name and target are required; the target may be a prefix."""

    name = StringField(default="")

    class Meta(ImageAliasSerializer.Meta):
        read_only_fields = []

    def validate_name(self, name):
        return validate_alias_name(name) if name else name

    def validate(self, attrs):
        if not attrs.get("name") or "image" not in attrs:
            raise lxd_error("name and target are required")
        return super().validate(attrs)


class ImageAliasRenameSerializer(LXDModelSerializer):
    """``POST /1.0/images/aliases/NAME``: rename (409 when the new name is taken)."""

    name = StringField(default="")

    class Meta:
        model = ImageAlias
        fields = ["name"]

    def validate_name(self, name):
        if not name:
            raise lxd_error("No name provided")
        return validate_alias_name(name, self.instance)


class ImageAliasETagSerializer(ETagSerializer):
    """LXD hashes the whole alias as a Go struct: description, target, name, type in that order."""

    description = StringField()
    target = ImageTargetField(source="image")
    name = StringField()
    type = StringField()

    def to_representation(self, instance):
        return GoStruct(serializers.Serializer.to_representation(self, instance))


class OperationSerializer(LXDModelSerializer):
    """An operation in LXD's field order (``class`` is a Python keyword, hence ``operation_class``)."""

    id = serializers.CharField(read_only=True)
    operation_class = serializers.CharField(read_only=True)
    created_at = TimeField(read_only=True)
    updated_at = TimeField(read_only=True)
    location = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "id",
            "operation_class",
            "description",
            "created_at",
            "updated_at",
            "status",
            "status_code",
            "resources",
            "metadata",
            "may_cancel",
            "err",
            "location",
        ]

    def get_location(self, operation) -> str:
        return "none"

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {("class" if key == "operation_class" else key): value for key, value in data.items()}


# Instances and snapshots --------------------------------------------------------------------


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


@extend_schema_field({"type": "array", "items": {"type": "string"}, "nullable": True})
class ProfileNamesField(GoField):
    """An instance's ``profiles``: profile names in the order LXD applies them; null is none."""

    def to_internal_value(self, data):
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
            raise serializers.ValidationError(f"expected an array of profile names, got {_type_name(data)}")
        return data

    def to_representation(self, value):
        profiles = self.parent.profiles_of(value) if hasattr(self.parent, "profiles_of") else value.profile_list()
        return [profile.name for profile in profiles]


def resolve_profiles(names):
    """The named profiles, in the order given; an unknown one fails as LXD fails it."""
    found = {profile.name: profile for profile in Profile.objects.filter(name__in=names)}
    for name in names:
        if name not in found:
            raise lxd_operation_error(f"Requested profile {go_quote(name)} doesn't exist")
    return [found[name] for name in dict.fromkeys(names)]


def set_instance_profiles(instance, profiles):
    """Attach ``profiles`` to ``instance`` in this order, replacing its links."""
    InstanceProfile.objects.filter(instance=instance).delete()
    InstanceProfile.objects.bulk_create(InstanceProfile(instance=instance, profile=profile) for profile in profiles)


def instance_state(instance):
    """``/1.0/instances/NAME/state``: the recorded status; nothing runs, so usage is zero."""
    return {
        "status": instance.status,
        "status_code": Instance.STATUS_CODES[instance.status],
        "disk": {},
        "memory": {"usage": 0, "usage_peak": 0, "swap_usage": 0, "swap_usage_peak": 0},
        "network": None,
        "pid": 0,
        "processes": 0,
        "cpu": {"usage": 0},
    }


class InstanceSerializer(LXDModelSerializer):
    """An instance as LXD shows it. PUT replaces config, devices, profiles, ephemeral and
    description; PATCH merges config and devices. ``volatile.*`` keys stay the server's."""

    architecture = StringField(required=False)
    config = ConfigField(required=False)
    devices = DevicesField(required=False)
    ephemeral = BoolField(required=False)
    profiles = ProfileNamesField(source="*", required=False)
    description = StringField(required=False)
    created_at = TimeField(read_only=True)
    expanded_config = serializers.SerializerMethodField()
    expanded_devices = serializers.SerializerMethodField()
    status_code = serializers.SerializerMethodField()
    last_used_at = TimeField(read_only=True)
    location = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()

    class Meta:
        model = Instance
        fields = [
            "architecture",
            "config",
            "devices",
            "ephemeral",
            "profiles",
            "stateful",
            "description",
            "created_at",
            "expanded_config",
            "expanded_devices",
            "name",
            "status",
            "status_code",
            "last_used_at",
            "location",
            "type",
            "project",
        ]
        read_only_fields = ["stateful", "name", "status", "type"]

    def profiles_of(self, instance):
        """The instance's profiles, read once for the three fields that show them (a list shows many)."""
        shown, profiles = getattr(self, "_shown_profiles", (None, None))
        if shown is not instance:
            profiles = instance.profile_list()
            self._shown_profiles = (instance, profiles)
        return profiles

    def get_expanded_config(self, instance) -> dict:
        return expand_config(self.profiles_of(instance), instance.config)

    def get_expanded_devices(self, instance) -> dict:
        return expand_devices(self.profiles_of(instance), instance.devices)

    def get_status_code(self, instance) -> int:
        return Instance.STATUS_CODES[instance.status]

    def get_location(self, instance) -> str:
        return "none"

    def get_project(self, instance) -> str:
        return "default"

    def validate_architecture(self, value):
        if value and value not in ARCHITECTURE_IDS:
            raise lxd_operation_error(f"Requested architecture isn't supported: {go_quote(value)}")
        return value or (self.instance.architecture if self.instance else "x86_64")

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        local = without_volatile(current) if self.partial else {}
        local = {**local, **without_volatile(value)}
        local = {key: item for key, item in local.items() if item != ""}
        try:
            config_keys.validate_instance_config(local)
        except config_keys.ConfigError as exc:
            raise lxd_operation_error(self.config_error_prefix + str(exc)) from exc
        # Clients send volatile keys back (lxc, pylxd); the stored ones are kept.
        volatile = {key: item for key, item in current.items() if is_volatile(key)}
        return {**local, **volatile}

    def validate_devices(self, value):
        devices = {**self.instance.devices, **value} if self.partial and self.instance else value
        try:
            config_keys.validate_devices(devices, profile=False)
        except config_keys.ConfigError as exc:
            raise lxd_operation_error(self.devices_error_prefix + str(exc)) from exc
        return devices

    def validate_profiles(self, value):
        return {"profiles": resolve_profiles(value)}

    # How LXD words a refused update (instancePut); a create words it its own way.
    config_error_prefix = "Invalid config: "
    devices_error_prefix = "Invalid devices: "

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        if not self.partial:
            # PUT is a full replace of what a client controls, as LXD does.
            defaults = {"devices": {}, "ephemeral": False, "description": "", "profiles": []}
            if "config" not in validated:
                validated["config"] = self.validate_config({})
            validated = {**defaults, **validated}
        return validated

    def update(self, instance, validated_data):
        profiles = validated_data.pop("profiles", None)
        instance = super().update(instance, validated_data)
        if profiles is not None:
            set_instance_profiles(instance, profiles)
        return instance


class InstanceFullSerializer(InstanceSerializer):
    """``recursion=1`` on an instance, ``recursion=2`` on the list: plus state and snapshots."""

    backups = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    snapshots = serializers.SerializerMethodField()

    class Meta(InstanceSerializer.Meta):
        fields = [*InstanceSerializer.Meta.fields, "backups", "state", "snapshots"]

    def get_backups(self, instance) -> None:
        return None

    def get_state(self, instance) -> dict:
        return instance_state(instance)

    def get_snapshots(self, instance) -> list | None:
        snapshots = list(instance.snapshots.all())
        if "answer_snapshots" not in self.context:
            # The snapshots of every instance shown: their profiles are read once (prefetched in lists).
            shown = self.parent.instance if isinstance(self.parent, serializers.ListSerializer) else [instance]
            self.context["answer_snapshots"] = [each for item in shown for each in item.snapshots.all()]
        return SnapshotSerializer(snapshots, many=True, context=self.context).data if snapshots else None


class InstanceCreateSerializer(InstanceSerializer):
    """``POST /1.0/instances``: LXD's name rules (400), a free name (409), profiles by name."""

    name = StringField(default="")
    profiles = ProfileNamesField(source="*", required=False, allow_null=True)
    config_error_prefix = devices_error_prefix = "Failed creating instance record: "

    class Meta(InstanceSerializer.Meta):
        read_only_fields = ["stateful", "status"]

    def validate_name(self, name):
        name = name or generated_name()
        error = hostname_error(name)
        if error:
            raise lxd_error(f"Invalid instance name: {error}")
        if Instance.objects.filter(name=name).exists():
            raise Conflict(
                "Failed creating instance record: Add instance info to the database: "
                'This "instances" entry already exists'
            )
        return name

    def validate_type(self, value):
        return value or "container"

    def create(self, validated_data):
        profiles = validated_data.pop("profiles", None)
        image = self.context.get("image")
        config = validated_data.get("config", {})
        if image is not None:
            image_keys = {f"image.{key}": value for key, value in image.properties.items()}
            config = {**image_keys, **config}
            validated_data.setdefault("architecture", image.architecture)
        validated_data["config"] = {**config, **initial_volatile(image)}
        instance = Instance.objects.create(**validated_data)
        if profiles is None:
            # LXD: no profiles in the request means the image's, or "default".
            profiles = (
                [link.profile for link in image.profile_links.select_related("profile")]
                if image is not None
                else resolve_profiles([Profile.DEFAULT_NAME])
            )
        set_instance_profiles(instance, profiles)
        return instance

    def validate_profiles(self, value):
        if self.initial_data.get("profiles") is None:
            # LXD: null profiles mean the image's (or "default"), chosen in create().
            return {}
        return super().validate_profiles(value)

    def to_internal_value(self, data):
        # A create fills in what it is not given itself; PUT's full-replace defaults don't apply.
        return serializers.ModelSerializer.to_internal_value(self, data)


class InstanceRenameSerializer(LXDModelSerializer):
    """``POST /1.0/instances/NAME``: rename, with LXD's name rules."""

    name = StringField(default="")

    class Meta:
        model = Instance
        fields = ["name"]

    def validate_name(self, name):
        error = hostname_error(name)
        if error:
            raise lxd_error(f"Invalid instance name: {error}")
        if Instance.objects.filter(name=name).exclude(pk=self.instance.pk).exists():
            raise Conflict(f"Name {go_quote(name)} already in use")
        return name


class InstanceETagSerializer(ETagSerializer):
    """LXD hashes ``[architecture id, local config, local devices, ephemeral, attached profiles]``.

    Unlike LXD, the ``volatile.*`` keys are left out: the server changes them (on start and
    stop), and a client's ETag must not go stale because of that.
    """

    def to_representation(self, instance):
        profiles = [
            GoStruct(config=p.config, description=p.description, devices=p.devices, name=p.name, used_by=None)
            for p in instance.profile_list()
        ]
        return [
            ARCHITECTURE_IDS.get(instance.architecture, 0),
            without_volatile(instance.config),
            instance.devices or None,
            instance.ephemeral,
            profiles,
        ]


_EXPIRY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


@extend_schema_field(OpenApiTypes.STR)
class ExpiryField(GoField):
    """A snapshot's ``expires_at``, kept as the client wrote it (LXD hashes it as rendered)."""

    def to_internal_value(self, data):
        if data is None:
            return Snapshot.NEVER
        if not isinstance(data, str) or not _EXPIRY.fullmatch(data):
            raise serializers.ValidationError(f"parsing time {go_quote(str(data))}: not an RFC 3339 time")
        return data

    def to_representation(self, value):
        return value


class SnapshotSerializer(LXDModelSerializer):
    """A snapshot as LXD 5.0.2 shows it; PUT and PATCH change ``expires_at`` only."""

    expires_at = ExpiryField(required=False)
    created_at = TimeField(read_only=True)
    expanded_config = serializers.SerializerMethodField()
    expanded_devices = serializers.SerializerMethodField()
    last_used_at = serializers.SerializerMethodField()
    size = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = [
            "expires_at",
            "architecture",
            "config",
            "created_at",
            "devices",
            "ephemeral",
            "expanded_config",
            "expanded_devices",
            "last_used_at",
            "name",
            "profiles",
            "stateful",
            "size",
        ]
        read_only_fields = ["architecture", "config", "devices", "ephemeral", "name", "profiles", "stateful"]

    def _profiles(self, snapshot):
        """The profiles the snapshot names, as stored now: one query for every snapshot in the answer."""
        found = self.context.get("snapshot_profiles")
        if found is None:
            names = {name for shown in self._answer_snapshots(snapshot) for name in shown.profiles}
            found = {profile.name: profile for profile in Profile.objects.filter(name__in=names)}
            self.context["snapshot_profiles"] = found
        return [found[name] for name in snapshot.profiles if name in found]

    def _answer_snapshots(self, snapshot):
        """Every snapshot the answer shows: an instance list's, this list's, or this one."""
        if "answer_snapshots" in self.context:
            return self.context["answer_snapshots"]
        return self.parent.instance if isinstance(self.parent, serializers.ListSerializer) else [snapshot]

    def get_expanded_config(self, snapshot) -> dict:
        return expand_config(self._profiles(snapshot), snapshot.config)

    def get_expanded_devices(self, snapshot) -> dict:
        return expand_devices(self._profiles(snapshot), snapshot.devices)

    def get_last_used_at(self, snapshot) -> str:
        return go_time(None)

    def get_size(self, snapshot) -> int:
        return -1


class SnapshotCreateSerializer(SnapshotSerializer):
    """``POST .../snapshots``: a copy of the instance's configuration under a new name."""

    name = StringField(default="")

    class Meta(SnapshotSerializer.Meta):
        read_only_fields = ["architecture", "config", "devices", "ephemeral", "profiles", "stateful"]

    def validate_name(self, name):
        instance = self.context["instance"]
        if not name:
            taken = set(instance.snapshots.values_list("name", flat=True))
            name = next(f"snap{index}" for index in range(len(taken) + 1) if f"snap{index}" not in taken)
        if "/" in name:
            raise lxd_error("Snapshot names may not contain slashes")
        if instance.snapshots.filter(name=name).exists():
            raise Conflict(f"Snapshot {go_quote(name)} already exists")
        return name

    def create(self, validated_data):
        instance = self.context["instance"]
        return Snapshot.objects.create(
            instance=instance,
            architecture=instance.architecture,
            config=instance.config,
            devices=instance.devices,
            profiles=[profile.name for profile in instance.profile_list()],
            ephemeral=instance.ephemeral,
            stateful=instance.stateful,
            **validated_data,
        )


class SnapshotRenameSerializer(LXDModelSerializer):
    """``POST .../snapshots/SNAP``: rename within the instance."""

    name = StringField(default="")

    class Meta:
        model = Snapshot
        fields = ["name"]

    def validate_name(self, name):
        if not name:
            raise lxd_error("No name provided")
        if "/" in name:
            raise lxd_error("Snapshot names may not contain slashes")
        if self.instance.instance.snapshots.filter(name=name).exclude(pk=self.instance.pk).exists():
            raise Conflict(f"Name {go_quote(name)} already in use")
        return name


class SnapshotETagSerializer(ETagSerializer):
    """LXD hashes ``[expires_at]`` as it renders it."""

    expires_at = ExpiryField()
