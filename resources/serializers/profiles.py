"""Profiles: LXD's profile shape, names and the rules of their config and devices."""

from rest_framework import exceptions, serializers

from .. import config_keys
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import go_quote
from ..models import Profile, Project
from ..prepared import shown_rows
from ..project_limits import check_profile_update
from ..storage_usage import profile_root_change_error
from .fields import (
    MAX_NAME_LENGTH,
    ConfigField,
    DevicesField,
    LXDModelSerializer,
    StringField,
    judged_by_project,
    lxd_error,
    merge_config,
)
from .networks import network_lookup


class ProfileSerializer(LXDModelSerializer):
    """A profile as LXD shows it; PUT replaces config, description and devices, PATCH merges."""

    put_defaults = {"config": {}, "description": "", "devices": {}}

    config = ConfigField(required=False)
    description = StringField(required=False)
    devices = DevicesField(required=False)
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["config", "description", "devices", "name", "used_by"]
        read_only_fields = ["name"]

    def get_used_by(self, profile) -> list[str]:
        query = Project.url_query(self.context.get("project_name", Project.DEFAULT_NAME))
        return [f"/1.0/instances/{link.instance.name}{query}" for link in shown_rows(profile, "instance_links")]

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
            networks = network_lookup(self.context.get("project_name", Project.DEFAULT_NAME))
            config_keys.validate_devices(devices, profile=True, networks=networks)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return devices

    def update(self, instance, validated_data):
        config = validated_data.get("config", instance.config)
        judged_by_project(check_profile_update, instance, config, validated_data.get("devices", instance.devices))
        return super().update(instance, validated_data)

    def validate(self, attrs):
        if self.instance is not None and "devices" in attrs:
            error = profile_root_change_error(self.instance, attrs["devices"])
            if error:
                # LXD answers 500 with this text; the client's change is refused: 400.
                raise lxd_error(error)
        return attrs


def validate_profile_name(name):
    """LXD's rules for a profile name (lxd/profiles.go)."""
    if not name:
        raise lxd_error("No name provided")
    if "/" in name:
        raise lxd_error("Profile names may not contain slashes")
    if name in (".", ".."):
        raise lxd_error(f"Invalid profile name {go_quote(name)}")
    if len(name) > MAX_NAME_LENGTH:
        raise lxd_error(f"Profile names may not be longer than {MAX_NAME_LENGTH} characters")
    return name


class ProfileCreateSerializer(ProfileSerializer):
    """``POST /1.0/profiles``: a new profile with a valid, unused name (409 when taken)."""

    name = StringField(default="")

    class Meta(ProfileSerializer.Meta):
        read_only_fields = []

    def validate_name(self, name):
        validate_profile_name(name)
        project = self.context.get("project_name", Project.DEFAULT_NAME)
        if Profile.objects.filter(project__name=project, name=name).exists():
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
        taken = Profile.objects.filter(project_id=self.instance.project_id, name=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise Conflict(f"Name {go_quote(name)} already in use")
        return name


class ProfileETagSerializer(ETagSerializer):
    """LXD hashes ``[config, description, devices]``; the name is left out."""

    lxd_recipe = ("config", "description", "devices")

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
