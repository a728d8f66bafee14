"""The admin of custom storage volumes: made, changed and deleted through the API's rules."""

from django import forms
from django.contrib import admin

from ..models import Project, StorageVolume, StorageVolumeSnapshot
from ..serializers.storage_volumes import (
    StorageVolumeCreateSerializer,
    StorageVolumeSerializer,
    check_volume_deletable,
)
from ..volume_usage import FEATURE
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class StorageVolumeForm(APIValidatedForm):
    """A custom volume as YAML config, checked by the API's volume serializers (its pool's driver)."""

    serializer_class = StorageVolumeSerializer
    create_serializer_class = StorageVolumeCreateSerializer
    api_fields = ["name", "content_type", "description", "config"]
    project_feature = FEATURE
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")
    content_type = forms.ChoiceField(choices=[(kind, kind) for kind in StorageVolume.CONTENT_TYPES], required=False)

    class Meta:
        model = StorageVolume
        fields = ["pool", "project", "name", "content_type", "description", "config"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}

    def project_context(self, project=None):
        if self.instance.pk is not None:
            return super().project_context(project)
        # A new volume: the pool and project the API's URL would name.
        project = project or Project.objects.get(pk=Project.DEFAULT_ID)
        pool = self.cleaned_data.get("pool")
        return {"project_name": project.name, "pool": pool, "project": project, "volume_type": StorageVolume.CUSTOM}

    def clean(self):
        pool = self.cleaned_data.get("pool")
        cleaned_data = super().clean()
        if self.instance.pk is None and pool is not None and not self.errors:
            # The pool is the URL's in the API, not the serializer's: kept for the new row.
            cleaned_data["pool"] = pool
        return cleaned_data


class StorageVolumeSnapshotInline(admin.TabularInline):
    """A volume's snapshots (made through the API: ``lxc storage volume snapshot``)."""

    model = StorageVolumeSnapshot
    fields = ["name", "description", "expires_at", "config"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StorageVolume)
class StorageVolumeAdmin(APIValidatedAdmin):
    """Custom storage volumes: pool, project, name and content type are fixed once made (a rename
    or move is the API's); instances' volumes go with their instances."""

    form = StorageVolumeForm
    list_display = ["name", "pool", "content_type", "project", "description"]
    list_filter = ["pool", "content_type", "project"]
    search_fields = ["name", "description"]
    inlines = [StorageVolumeSnapshotInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(type=StorageVolume.CUSTOM, instance__isnull=True)

    def get_readonly_fields(self, request, obj=None):
        return ["pool", "project", "name", "content_type"] if obj is not None else []

    def check_deletable(self, volume):
        check_volume_deletable(volume)
