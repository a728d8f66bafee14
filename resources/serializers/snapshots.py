"""Snapshots of an instance's configuration."""

import calendar
import json
import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import instance_files
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import go_quote, go_time
from ..instances import (
    expand_config,
    expand_devices,
)
from ..models import Instance, Profile, Snapshot
from .fields import (
    BoolField,
    GoField,
    LXDModelSerializer,
    StringField,
    TimeField,
    lxd_error,
    lxd_operation_error,
)

_EXPIRY = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(\.\d{1,9})?(Z|[+-](?P<zone_hour>\d{2}):(?P<zone_minute>\d{2}))"
)
# What Go's time.Parse checks of an RFC 3339 time, in its order: (part, bound) for the
# parts that must stay under a bound; the day's bound is the month's length.
_TIME_PARTS_BELOW = (("hour", 24), ("minute", 60), ("second", 60), ("zone_hour", 24), ("zone_minute", 60))


def _out_of_range(match):
    """The part of a well-formed time Go refuses as out of range, or None."""
    parts = {name: int(value) for name, value in match.groupdict().items() if value is not None}
    if not 1 <= parts["month"] <= 12:
        return "month"
    if not 1 <= parts["day"] <= calendar.monthrange(parts["year"], parts["month"])[1]:
        return "day"
    for name, bound in _TIME_PARTS_BELOW:
        if parts.get(name, 0) >= bound:
            return name.replace("_", " ").replace("zone", "time zone offset")
    return None


@extend_schema_field(OpenApiTypes.STR)
class ExpiryField(GoField):
    """A snapshot's ``expires_at``, kept as the client wrote it (LXD hashes it as rendered)."""

    def to_internal_value(self, data):
        if data is None:
            return Snapshot.NEVER
        match = _EXPIRY.fullmatch(data) if isinstance(data, str) else None
        if match is None:
            raise serializers.ValidationError(f"parsing time {go_quote(str(data))}: not an RFC 3339 time")
        part = _out_of_range(match)
        if part:
            # Go quotes the JSON text it could not decode, quotes included.
            raise lxd_error(f"parsing time {go_quote(json.dumps(data))}: {part} out of range")
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
            found = {profile.name: profile for profile in Profile.objects.in_default_project().filter(name__in=names)}
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


def snapshot_name_error(name):
    """Why LXD cannot keep a snapshot under ``name`` (an answer of its own, 400), or None.

    LXD 5.0.2 creates ``.`` and ``..`` (which no URL can then name) and fails names too long
    for a file name in the operation, after announcing the snapshot; lxdsite refuses them.
    """
    if "/" in name:
        return "Snapshot names may not contain slashes"
    if name in (".", ".."):
        return 'Invalid instance snapshot name: Cannot be "." or ".."'
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"Invalid instance snapshot name: Cannot be longer than {MAX_NAME_BYTES} bytes"
    return None


# A snapshot is a directory on LXD's storage: its name is one file name.
MAX_NAME_BYTES = 255


class SnapshotCreateSerializer(SnapshotSerializer):
    """``POST .../snapshots``: a copy of the instance's configuration under a new name."""

    name = StringField(default="")
    stateful = BoolField(default=False)

    class Meta(SnapshotSerializer.Meta):
        read_only_fields = ["architecture", "config", "devices", "ephemeral", "profiles"]

    def validate_name(self, name):
        instance = self.context["instance"]
        if not name:
            taken = set(instance.snapshots.values_list("name", flat=True))
            name = next(f"snap{index}" for index in range(len(taken) + 1) if f"snap{index}" not in taken)
        error = snapshot_name_error(name)
        if error:
            raise lxd_error(error)
        if " " in name:
            raise lxd_operation_error(
                f"Failed creating instance snapshot record {go_quote(name)}: "
                "Invalid instance snapshot name: Cannot contain space or / characters"
            )
        if instance.snapshots.filter(name=name).exists():
            raise Conflict(f"Snapshot {go_quote(name)} already exists")
        return name

    def validate_stateful(self, stateful):
        # Saving a running container's state needs CRIU, which LXD 5.0.2 reports missing.
        if stateful and self.context["instance"].status == Instance.STOPPED:
            raise lxd_operation_error("Unable to create a stateful snapshot. The instance isn't running")
        if stateful:
            raise lxd_operation_error("Unable to create a stateful snapshot. CRIU isn't installed")
        return stateful

    def create(self, validated_data):
        instance = self.context["instance"]
        snapshot = Snapshot.objects.create(
            instance=instance,
            architecture=instance.architecture,
            config=instance.config,
            devices=instance.devices,
            profiles=[profile.name for profile in instance.profile_list()],
            ephemeral=instance.ephemeral,
            **validated_data,
        )
        instance_files.copy_tree(instance, snapshot)
        return snapshot


class SnapshotRenameSerializer(LXDModelSerializer):
    """``POST .../snapshots/SNAP``: rename within the instance."""

    name = StringField(default="")

    class Meta:
        model = Snapshot
        fields = ["name"]

    def validate_name(self, name):
        if not name:
            raise lxd_error("No name provided")
        error = snapshot_name_error(name)
        if error:
            raise lxd_error(error)
        if self.instance.instance.snapshots.filter(name=name).exclude(pk=self.instance.pk).exists():
            raise Conflict(f"Name {go_quote(name)} already in use")
        return name


class SnapshotETagSerializer(ETagSerializer):
    """LXD hashes ``[expires_at]`` as it renders it."""

    lxd_recipe = ("expires_at",)

    expires_at = ExpiryField()
