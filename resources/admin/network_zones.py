"""The admin of ``/1.0/network-zones``."""

from django import forms
from django.contrib import admin

from ..models import NetworkZone, NetworkZoneRecord
from ..network_usage import zone_used_by
from ..serializers.fields import lxd_error
from ..serializers.network_zones import NetworkZoneCreateSerializer, NetworkZoneSerializer
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class NetworkZoneForm(APIValidatedForm):
    """A zone as YAML config, checked by the API's zone serializers."""

    serializer_class = NetworkZoneSerializer
    create_serializer_class = NetworkZoneCreateSerializer
    api_fields = ["name", "description", "config"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")

    class Meta:
        model = NetworkZone
        fields = ["name", "description", "config"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


class NetworkZoneRecordInline(admin.TabularInline):
    """A zone's records, shown; they are made and changed through the API (``lxc network zone record``)."""

    model = NetworkZoneRecord
    fields = ["name", "description", "entries", "config"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(NetworkZone)
class NetworkZoneAdmin(APIValidatedAdmin):
    """LXD's network zones (LXD renames none)."""

    form = NetworkZoneForm
    inlines = [NetworkZoneRecordInline]
    list_display = ["name", "description", "project"]
    search_fields = ["name", "description"]

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    def check_deletable(self, zone):
        if zone_used_by(zone.project.name).get(zone.name):
            raise lxd_error("Cannot delete a zone that is in use")
