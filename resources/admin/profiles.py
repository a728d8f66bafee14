"""The admin of ``/1.0/profiles``."""

from django import forms
from django.contrib import admin
from django.db.models import Q
from rest_framework import exceptions

from ..exceptions import error_text
from ..models import Profile
from ..serializers import ProfileCreateSerializer, ProfileSerializer, check_profile_deletable
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class ProfileForm(APIValidatedForm):
    """A profile as YAML config and devices, checked by the API's profile serializers."""

    serializer_class = ProfileSerializer
    create_serializer_class = ProfileCreateSerializer
    api_fields = ["name", "description", "config", "devices"]
    project_feature = "features.profiles"
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")
    devices = YAMLField(strings=True, help_text="YAML mapping of device names to their options.")

    class Meta:
        model = Profile
        fields = ["project", "name", "description", "config", "devices"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


class HasDevicesFilter(admin.SimpleListFilter):
    """Profiles with or without devices."""

    title = "devices"
    parameter_name = "has_devices"

    def lookups(self, request, model_admin):
        return [("yes", "With devices"), ("no", "Without devices")]

    def queryset(self, request, queryset):
        empty = Q(devices={})
        if self.value() == "yes":
            return queryset.exclude(empty)
        if self.value() == "no":
            return queryset.filter(empty)
        return queryset


class HasConfigFilter(HasDevicesFilter):
    """Profiles with or without config keys."""

    title = "config"
    parameter_name = "has_config"

    def lookups(self, request, model_admin):
        return [("yes", "With config"), ("no", "Without config")]

    def queryset(self, request, queryset):
        empty = Q(config={})
        if self.value() == "yes":
            return queryset.exclude(empty)
        if self.value() == "no":
            return queryset.filter(empty)
        return queryset


@admin.register(Profile)
class ProfileAdmin(APIValidatedAdmin):
    """LXD profiles: renamed through the API (``lxc profile rename``), edited here."""

    form = ProfileForm
    list_display = ["name", "project", "description", "config_count", "devices_count", "used_by_count"]
    list_filter = ["project", HasConfigFilter, HasDevicesFilter]
    search_fields = ["name", "description", "config", "devices"]

    def get_queryset(self, request):
        # used_by names each instance: one query for the whole page.
        return super().get_queryset(request).prefetch_related("instance_links__instance")

    def get_readonly_fields(self, request, obj=None):
        # A profile is renamed through the API and never moves between projects.
        return ["project", "name"] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The project and the read-only name come first, where the add form has its inputs.
        return ["project", "name", *(name for name in fields if name not in ("project", "name"))]

    @admin.display(description="config keys")
    def config_count(self, profile):
        return len(profile.config)

    @admin.display(description="devices")
    def devices_count(self, profile):
        return len(profile.devices)

    @admin.display(description="used by")
    def used_by_count(self, profile):
        """How many instances use the profile: the API's ``used_by``, so both say the same."""
        return len(ProfileSerializer().get_used_by(profile))

    def check_deletable(self, profile):
        check_profile_deletable(profile)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The API's rules: what it refuses to delete shows as protected, and is not deleted.
        for profile in objs:
            try:
                check_profile_deletable(profile)
            except exceptions.APIException as exc:
                protected.append(f"{profile}: {error_text(exc)}")
        return deleted, counts, perms_needed, protected
