"""The admin of ``/1.0/images/aliases``."""

from django import forms
from django.contrib import admin

from ..models import ImageAlias
from ..serializers import ImageAliasCreateSerializer, ImageAliasSerializer
from .base import APIValidatedAdmin, APIValidatedForm
from .images import short_fingerprint


class ImageAliasForm(APIValidatedForm):
    """An alias: its target is a fingerprint or a unique prefix, as the API takes it."""

    serializer_class = ImageAliasSerializer
    create_serializer_class = ImageAliasCreateSerializer
    api_fields = ["name", "description", "target"]
    project_feature = "features.images"
    target = forms.CharField(help_text="The image's fingerprint, or a unique prefix of it.")

    class Meta:
        model = ImageAlias
        fields = ["project", "name", "description"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


@admin.register(ImageAlias)
class ImageAliasAdmin(APIValidatedAdmin):
    """Image aliases: renamed through the API (``lxc image alias rename``), edited here."""

    form = ImageAliasForm
    list_display = ["name", "project", "target_prefix", "image_type", "description"]
    list_filter = ["project", "image__type"]
    search_fields = ["name", "description", "^image__fingerprint"]
    list_select_related = ["image"]

    def get_readonly_fields(self, request, obj=None):
        return ["project", "name"] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return ["project", "name", *(name for name in fields if name not in ("project", "name"))]

    @admin.display(description="target", ordering="image__fingerprint")
    def target_prefix(self, alias):
        return short_fingerprint(alias.image.fingerprint)

    @admin.display(description="type", ordering="image__type")
    def image_type(self, alias):
        return alias.image.type
