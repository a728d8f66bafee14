"""Network zones: LXD's zone shape, names and config rules."""

from rest_framework import serializers

from .. import config_keys
from ..config_keys import network_zone
from ..etags import ETagSerializer
from ..models import NetworkZone
from .fields import ConfigField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Network zone not found"


class NetworkZoneSerializer(LXDModelSerializer):
    """A zone as LXD shows it; PUT replaces config and description, PATCH merges config."""

    put_defaults = {"description": "", "config": {}}

    description = StringField(required=False)
    config = ConfigField(required=False)
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = NetworkZone
        fields = ["description", "config", "name", "used_by"]
        read_only_fields = ["name"]

    def get_used_by(self, zone) -> list[str]:
        return getattr(zone, "used_by", [])

    def validate(self, attrs):
        current = self.instance.config if self.instance else {}
        config = merge_config(current, attrs.get("config", {}), partial=self.partial)
        try:
            network_zone.validate_zone_config(config)
        except config_keys.ConfigError as exc:
            # LXD answers 500 for config it refuses; it is the client's mistake: 400.
            raise lxd_error(str(exc)) from exc
        return {**attrs, "config": config}


class NetworkZoneCreateSerializer(NetworkZoneSerializer):
    """``POST /1.0/network-zones``: a new zone with a name no project's zone has."""

    name = StringField(default="")

    class Meta(NetworkZoneSerializer.Meta):
        read_only_fields = []

    def validate(self, attrs):
        name = attrs.get("name", "")
        if NetworkZone.objects.filter(name=name).exists():
            raise lxd_error("The network zone already exists")
        try:
            network_zone.validate_zone_name(name)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return super().validate(attrs)


class NetworkZoneETagSerializer(ETagSerializer):
    """LXD hashes ``[name, description, config]``."""

    lxd_recipe = ("name", "description", "config")

    name = StringField()
    description = StringField()
    config = ConfigField()
