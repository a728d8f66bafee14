"""The admin of ``/1.0/storage-pools``."""

from django import forms
from django.contrib import admin

from ..models import StoragePool
from ..serializers.storage_pools import StoragePoolCreateSerializer, StoragePoolSerializer, check_pool_deletable
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class StoragePoolForm(APIValidatedForm):
    """A pool as YAML config, checked by the API's pool serializers (the driver's rules)."""

    serializer_class = StoragePoolSerializer
    create_serializer_class = StoragePoolCreateSerializer
    api_fields = ["name", "driver", "description", "config"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")

    class Meta:
        model = StoragePool
        fields = ["name", "driver", "description", "config"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


@admin.register(StoragePool)
class StoragePoolAdmin(APIValidatedAdmin):
    """LXD storage pools: name and driver are fixed once made, as in LXD."""

    form = StoragePoolForm
    list_display = ["name", "driver", "description", "status"]
    list_filter = ["driver"]
    search_fields = ["name", "description", "config"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "driver"] if obj is not None else []

    def check_deletable(self, pool):
        check_pool_deletable(pool)
