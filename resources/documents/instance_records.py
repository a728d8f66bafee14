"""Instances as LXD's JSON.

`import` (an exported document) and `import_from_lxd` (a running LXD) both hand an instance's
JSON, with its snapshots, to store_instance_record(): one copy of what the server keeps.
"""

import base64
import json

from rest_framework import serializers

from .. import instance_metadata
from ..go import GO_ZERO_TIME, go_json
from ..instances import is_volatile, without_volatile
from ..models import Instance, InstanceTemplate, Snapshot
from ..serializers import (
    BoolField,
    ConfigField,
    DevicesField,
    InstanceSerializer,
    ProfileNamesField,
    SnapshotCreateSerializer,
    SnapshotSerializer,
    StringField,
    TimeField,
)
from .errors import (
    DocumentError,
)
from .kinds import (
    save_serializer,
)

# An instance's stored fields, as the API shows them; the rest of its JSON is derived.
INSTANCE_FIELDS = (
    "name",
    "type",
    "architecture",
    "config",
    "devices",
    "ephemeral",
    "stateful",
    "profiles",
    "description",
    "status",
    "created_at",
    "last_used_at",
)
SNAPSHOT_FIELDS = (
    "name",
    "architecture",
    "config",
    "devices",
    "profiles",
    "ephemeral",
    "stateful",
    "expires_at",
    "created_at",
)


def instance_document(instance):
    """An instance's stored fields and its snapshots (oldest first), as the API shows them; its
    image metadata and template files (base64) where it has them."""
    data = InstanceSerializer(instance).data
    snapshots = [SnapshotSerializer(snapshot).data for snapshot in instance.snapshots.all()]
    document = {
        **{key: data[key] for key in INSTANCE_FIELDS},
        "snapshots": [{key: snapshot[key] for key in SNAPSHOT_FIELDS} for snapshot in snapshots],
    }
    if instance.metadata is not None:
        document["metadata"] = json.loads(go_json(instance_metadata.shown(instance.metadata)))
    templates = {template.name: base64.b64encode(template.content).decode() for template in instance.templates.all()}
    if templates:
        document["templates"] = templates
    return document


def _store_metadata(instance, data):
    """The metadata (as a PUT writes it) and template files an exported instance carries."""
    if "metadata" in data:
        serializer = instance_metadata.MetadataSerializer(data=data["metadata"])
        if not isinstance(data["metadata"], dict) or not serializer.is_valid():
            raise DocumentError(f"'metadata' is not an instance's metadata: {serializer.errors or data['metadata']!r}")
        instance.metadata = instance_metadata.written(None, serializer.validated_data, partial=False)
        instance.save(update_fields=["metadata"])
    templates = data.get("templates") or {}
    if not isinstance(templates, dict):
        raise DocumentError("'templates' must map file names to their base64 content")
    for name, content in templates.items():
        if not isinstance(name, str) or not instance_metadata.is_template_name(name):
            raise DocumentError(f"Invalid template filename {name!r}")
        try:
            raw = base64.b64decode(content, validate=True)
        except (TypeError, ValueError):
            raise DocumentError(f"Template {name!r} is not base64") from None
        InstanceTemplate.objects.update_or_create(instance=instance, name=name, defaults={"content": raw})


def _known_time(value):
    """Go's zero time (the API's "never") is no time at all."""
    return None if value == GO_ZERO_TIME else value


class InstanceRecordSerializer(serializers.ModelSerializer):
    """What the server keeps of an instance and no client PUT sets: volatile keys, status, times."""

    config = ConfigField(required=False)
    status = serializers.ChoiceField(choices=list(Instance.STATUS_CODES), required=False)
    stateful = BoolField(required=False)
    created_at = TimeField(required=False)
    last_used_at = TimeField(required=False)

    class Meta:
        model = Instance
        fields = ["config", "status", "stateful", "created_at", "last_used_at"]

    def validate_config(self, value):
        # The keys a client controls were set through InstanceSerializer; only volatile.* come from here.
        volatile = {key: item for key, item in value.items() if is_volatile(key)}
        return {**without_volatile(self.instance.config), **volatile}

    def validate_created_at(self, value):
        return _known_time(value) or self.instance.created_at

    def validate_last_used_at(self, value):
        return _known_time(value)


class SnapshotRecordSerializer(SnapshotCreateSerializer):
    """A snapshot as exported: the API's name and expiry rules, and the configuration it recorded."""

    architecture = StringField(required=False)
    config = ConfigField(required=False)
    devices = DevicesField(required=False)
    # Names as recorded: a snapshot may name a profile deleted since, as in LXD.
    profiles = ProfileNamesField(required=False, write_only=True)
    ephemeral = BoolField(required=False)
    stateful = BoolField(required=False)
    created_at = TimeField(required=False)

    class Meta(SnapshotCreateSerializer.Meta):
        read_only_fields = []

    def validate_architecture(self, value):
        # The instance serializer's rule (LXD's architectures); with no instance, "" is x86_64.
        return InstanceSerializer.validate_architecture(self, value)

    def create(self, validated_data):
        created_at = _known_time(validated_data.pop("created_at", None))
        snapshot = Snapshot.objects.create(instance=self.context["instance"], **validated_data)
        if created_at is not None:
            # auto_now_add sets the time of the row's insert; keep the recorded one.
            Snapshot.objects.filter(pk=snapshot.pk).update(created_at=created_at)
            snapshot.created_at = created_at
        return snapshot


def store_instance_record(instance, data):
    """Set what the server keeps of ``instance`` from LXD's JSON ``data``: volatile keys, status,
    stateful flag, times, and the snapshots in ``data["snapshots"]`` (created, or replaced by name).

    Call inside ``transaction.atomic()`` after the client's part went through the API's
    serializers. DocumentError with the API's message on a refusal (a duplicate snapshot name).
    """
    save_serializer(InstanceRecordSerializer(instance, data=data, partial=True))
    _store_metadata(instance, data)
    snapshots = data.get("snapshots") or []
    if not isinstance(snapshots, list) or not all(isinstance(item, dict) for item in snapshots):
        raise DocumentError("'snapshots' must be a list of mappings")
    # Replaced snapshots go first: a name twice in ``data`` is then the API's Conflict.
    names = [item.get("name") for item in snapshots]
    instance.snapshots.filter(name__in=[name for name in names if isinstance(name, str)]).delete()
    for item in snapshots:
        try:
            save_serializer(SnapshotRecordSerializer(data=item, context={"instance": instance}))
        except DocumentError as exc:
            raise DocumentError(f"Snapshot {item.get('name')!r}: {exc}") from exc
