"""Network zone records: LXD's record shape and the checks of its entries and config."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import config_keys
from ..config_keys import dns_records
from ..etags import ETagSerializer
from ..go import GoStruct, go_quote
from ..models import NetworkZoneRecord
from .fields import ConfigField, GoField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Network zone record not found"
ENTRY_FIELDS = ("type", "ttl", "value")
MAX_TTL = 2**64 - 1


@extend_schema_field(
    {
        "type": "array",
        "nullable": True,
        "items": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "ttl": {"type": "integer"}, "value": {"type": "string"}},
        },
    }
)
class EntriesField(GoField):
    """A record's entries (api.NetworkZoneRecordEntry): type and value strings, a uint64 TTL that
    is left out when 0; null stays null, as LXD stores and shows it."""

    def validate_empty_values(self, data):
        if data is None:
            return (True, None)
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
            raise serializers.ValidationError("expected an array of entry objects")
        entries = []
        for entry in data:
            for key in ("type", "value"):
                if not isinstance(entry.get(key) or "", str):
                    raise serializers.ValidationError(f"entry field {key} must be a string")
            ttl = entry.get("ttl") or 0
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
                raise serializers.ValidationError("entry field ttl must be an integer from 0 to 2^64-1")
            shown = {"type": entry.get("type") or "", "value": entry.get("value") or ""}
            entries.append({**shown, "ttl": ttl} if ttl else shown)
        return entries

    def to_representation(self, value):
        if value is None:
            return None
        return [GoStruct((key, entry[key]) for key in ENTRY_FIELDS if key in entry) for entry in value]


class NetworkZoneRecordSerializer(LXDModelSerializer):
    """A record as LXD shows it; PUT replaces it, PATCH merges its config and keeps what it leaves out."""

    put_defaults = {"description": "", "entries": None, "config": {}}

    description = StringField(required=False)
    entries = EntriesField(required=False)
    config = ConfigField(required=False)

    class Meta:
        model = NetworkZoneRecord
        fields = ["description", "entries", "config", "name"]
        read_only_fields = ["name"]

    def validate(self, attrs):
        current = self.instance.config if self.instance else {}
        config = merge_config(current, attrs.get("config", {}), partial=self.partial)
        entries = attrs.get("entries", self.instance.entries if self.instance else None)
        try:
            # LXD checks config first (no key but user.* is known), then the entries.
            for key in sorted(config):
                if not key.startswith("user."):
                    raise config_keys.ConfigError(f"Invalid config option {go_quote(key)}")
            dns_records.validate_entries(entries or [])
        except config_keys.ConfigError as exc:
            # LXD answers 500 for a record it refuses; it is the client's mistake: 400.
            raise lxd_error(str(exc)) from exc
        return {**attrs, "config": config}


class NetworkZoneRecordCreateSerializer(NetworkZoneRecordSerializer):
    """``POST /1.0/network-zones/ZONE/records``: a new record, any name the zone has no record of."""

    name = StringField(default="")

    class Meta(NetworkZoneRecordSerializer.Meta):
        read_only_fields = []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if NetworkZoneRecord.objects.filter(zone=self.context["zone"], name=attrs.get("name", "")).exists():
            # LXD's database refuses it (500): the client's mistake, 400.
            raise lxd_error("UNIQUE constraint failed: networks_zones_records.name")
        return attrs

    def create(self, validated_data):
        # A record lives in its zone's project (the view names the project for every create).
        validated_data.pop("project", None)
        return NetworkZoneRecord.objects.create(zone=self.context["zone"], **validated_data)


class NetworkZoneRecordETagSerializer(ETagSerializer):
    """LXD hashes the record's writable struct (api.NetworkZoneRecordPut)."""

    lxd_recipe = ("description", "entries", "config")

    description = StringField()
    entries = EntriesField()
    config = ConfigField()

    def lxd_value(self, instance, shown):
        return GoStruct(shown.items())
