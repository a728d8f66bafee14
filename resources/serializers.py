"""Serializers: LXD's JSON shapes, and every rule a write must pass.

The API, the admin and the management commands all validate through these classes. LXD's
own error texts are raised with code ``lxd`` so the envelope shows them word for word.
"""

import copy
import functools
import json
import platform
import socket

from django.contrib.auth.hashers import make_password
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from . import config_keys
from .conditional import ETagSerializer
from .exceptions import Conflict
from .extensions import API_EXTENSIONS
from .models import Profile, Server

LXD_VERSION = "5.0.2"


def go_quote(text):
    """Go's %q of a string, as LXD formats names into its messages."""
    return json.dumps(text, ensure_ascii=False)


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


class LXDModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that introspects its model once per class, not on every request.

    Each instance still gets its own copies of the fields, so nothing is shared between
    requests; only the (expensive) building of the field set is cached.
    """

    def get_fields(self):
        cls = type(self)
        if "_field_templates" not in cls.__dict__:
            cls._field_templates = super().get_fields()
        return copy.deepcopy(cls._field_templates)


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
        return []

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
