"""Snapshots of an instance's configuration."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import go_quote, go_time
from ..instances import (
    expand_config,
    expand_devices,
)
from ..models import Profile, Snapshot
from .fields import (
    GoField,
    LXDModelSerializer,
    StringField,
    TimeField,
    lxd_error,
)

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

    lxd_recipe = ("expires_at",)

    expires_at = ExpiryField()
