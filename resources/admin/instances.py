"""The admin of ``/1.0/instances`` and their snapshots."""

from django import forms
from django.contrib import admin
from django.db.models import Prefetch

from ..models import Instance, InstanceProfile, Snapshot
from ..serializers import InstanceSerializer
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


def instance_links():
    """An instance's profile links with their profiles, for a whole page of instances in one query."""
    return Prefetch("profile_links", queryset=InstanceProfile.objects.select_related("profile"))


class InstanceForm(APIValidatedForm):
    """What an instance's PUT changes, checked by ``InstanceSerializer`` (volatile keys stay the server's)."""

    serializer_class = InstanceSerializer
    api_fields = ["architecture", "config", "devices", "ephemeral", "description"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys; volatile.* keys stay as stored.")
    devices = YAMLField(strings=True, help_text="YAML mapping of device names to their options.")
    # Not `profiles`: the admin refuses a form field named after a many-to-many with a through model.
    profile_names = YAMLField(
        label="Profiles", strings=True, empty=list, help_text="YAML list of profile names, applied in this order."
    )

    class Meta:
        model = Instance
        fields = ["architecture", "description", "ephemeral", "config", "devices"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["profile_names"] = [profile.name for profile in self.instance.profile_list()]

    def api_data(self, cleaned_data):
        return {**super().api_data(cleaned_data), "profiles": cleaned_data.get("profile_names", [])}


class SnapshotInline(admin.TabularInline):
    """An instance's snapshots, read only: taken and restored through the API."""

    model = Snapshot
    fields = ["name", "created_at", "expires_at", "stateful"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Instance)
class InstanceAdmin(APIValidatedAdmin):
    """Instances: created, started and stopped through the API (``lxc init``, ``lxc start``); edited here."""

    form = InstanceForm
    inlines = [SnapshotInline]
    list_display = [
        "name",
        "project",
        "status",
        "type",
        "architecture",
        "profile_list_display",
        "ephemeral",
        "created_at",
    ]
    list_filter = ["project", "status", "type", "architecture", "ephemeral"]
    search_fields = ["name", "description", "config", "devices", "profiles__name"]
    readonly_fields = ["name", "project", "status", "type", "stateful", "created_at", "last_used_at"]
    fields = [
        *readonly_fields,
        "architecture",
        "description",
        "ephemeral",
        "profile_names",
        "config",
        "devices",
        "version",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(instance_links())

    @admin.display(description="profiles")
    def profile_list_display(self, instance):
        return ", ".join(profile.name for profile in instance.profile_list())

    def has_add_permission(self, request):
        return False
