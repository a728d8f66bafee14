"""Snapshots of custom storage volumes: LXD's shape, names, expiry and rename rules."""

import datetime
import json
import re

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import GO_ZERO_TIME, go_quote, go_time
from ..models import StorageVolumeSnapshot
from .fields import ConfigField, LXDModelSerializer, StringField, lxd_error
from .snapshots import ExpiryField

GO_RFC3339 = "2006-01-02T15:04:05Z07:00"


@extend_schema_field(OpenApiTypes.STR)
class VolumeExpiryField(ExpiryField):
    """A volume snapshot's ``expires_at``: LXD decodes it as a Go time and quotes the JSON text it
    could not parse."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            if not isinstance(data, str):
                raise
            text = json.dumps(data)
            raise lxd_error(
                f"parsing time {go_quote(text)} as {go_quote(json.dumps(GO_RFC3339))}: "
                f'cannot parse {go_quote(text[1:])} as "2006"'
            ) from None


_DURATIONS = {"S": "seconds", "M": "minutes", "H": "hours", "d": "days", "w": "weeks"}


def _add_months(when, months):
    """Go's AddDate(0, months, 0): the day carries over into the next month when it overflows."""
    index = when.month - 1 + months
    first = when.replace(year=when.year + index // 12, month=index % 12 + 1, day=1)
    return first + datetime.timedelta(days=when.day - 1)


def expiry_from(expression, now=None):
    """LXD's shared.GetExpiry: the time ``expression`` ("1d 2w", validated) after now, as LXD
    renders it; no expression is Go's zero time."""
    expression = expression.strip()
    if not expression:
        return go_time(GO_ZERO_TIME)
    when = now or timezone.now()
    for part in expression.split():
        count, unit = int(part[:-1]), part[-1]
        if unit in _DURATIONS:
            when += datetime.timedelta(**{_DURATIONS[unit]: count})
        else:
            when = _add_months(when, count * 12 if unit == "y" else count)
    return go_time(when.astimezone(datetime.UTC))


_SNAP = re.compile(r"snap(\d+)")


def next_snapshot_name(volume):
    """LXD 5.0.2's next name, ``snap%d`` one past the highest taken (it does not read the
    volume's ``snapshots.pattern`` here, as the daemon shows)."""
    taken = [_SNAP.fullmatch(name) for name in volume.snapshots.values_list("name", flat=True)]
    numbers = [int(match[1]) for match in taken if match]
    return f"snap{max(numbers) + 1 if numbers else 0}"


class StorageVolumeSnapshotSerializer(LXDModelSerializer):
    """A volume snapshot as LXD shows it; PUT sets description and expiry, PATCH what it carries."""

    description = StringField(required=False)
    expires_at = VolumeExpiryField(required=False)
    config = ConfigField(read_only=True)
    content_type = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField()

    class Meta:
        model = StorageVolumeSnapshot
        fields = ["description", "expires_at", "name", "config", "content_type", "created_at"]
        read_only_fields = ["name"]

    def get_content_type(self, snapshot) -> str:
        return snapshot.volume.content_type

    def get_created_at(self, snapshot) -> str:
        # LXD 5.0.2 records no creation time for volume snapshots.
        return go_time(GO_ZERO_TIME)

    def validate(self, attrs):
        if not self.partial:
            attrs = {"description": "", "expires_at": StorageVolumeSnapshot.NEVER, **attrs}
        return attrs


class StorageVolumeSnapshotCreateSerializer(StorageVolumeSnapshotSerializer):
    """``POST .../snapshots``: the volume's config kept under a new (or the pattern's next) name."""

    name = StringField(default="")
    expires_at = VolumeExpiryField(default=None)

    class Meta(StorageVolumeSnapshotSerializer.Meta):
        read_only_fields = []

    def validate_name(self, name):
        volume = self.context["volume"]
        name = name or next_snapshot_name(volume)
        if "/" in name:
            raise lxd_error('Storage name cannot contain "/"')
        if volume.snapshots.filter(name=name).exists():
            raise Conflict(f"Snapshot {go_quote(name)} already in use")
        return name

    def validate(self, attrs):
        volume = self.context["volume"]
        expires_at = self.initial_data.get("expires_at") if isinstance(self.initial_data, dict) else None
        if expires_at is None:
            attrs["expires_at"] = expiry_from(volume.config.get("snapshots.expiry", ""))
        return {"description": attrs.get("description", ""), **attrs}

    def create(self, validated_data):
        validated_data.pop("project", None)
        volume = self.context["volume"]
        return StorageVolumeSnapshot.objects.create(volume=volume, config=dict(volume.config), **validated_data)


class StorageVolumeSnapshotRenameSerializer(LXDModelSerializer):
    """``POST .../snapshots/SNAP``: a new name within the volume."""

    name = StringField(default="")

    class Meta:
        model = StorageVolumeSnapshot
        fields = ["name"]

    def validate_name(self, name):
        if not name:
            raise lxd_error("No name provided")
        if "/" in name:
            raise lxd_error("Storage volume names may not contain slashes")
        return name


class StorageVolumeSnapshotETagSerializer(ETagSerializer):
    """LXD hashes ``[description, expires_at]``."""

    lxd_recipe = ("description", "expires_at")

    description = StringField()
    expires_at = VolumeExpiryField()
