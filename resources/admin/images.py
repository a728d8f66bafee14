"""The admin of ``/1.0/images``."""

from django import forms
from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from ..images import IMAGE_PREFETCH, remove_unused_files
from ..models import Image
from ..serializers import ImageSerializer
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


def short_fingerprint(fingerprint):
    """The 12-character prefix ``lxc image list`` shows."""
    return fingerprint[:12]


class ImageForm(APIValidatedForm):
    """The fields an image's PUT changes, checked by ``ImageSerializer``."""

    serializer_class = ImageSerializer
    api_fields = ["auto_update", "properties", "public", "expires_at"]
    properties = YAMLField(strings=True, help_text="YAML mapping of property names to string values.")
    # Not `profiles`: the admin refuses a form field named after a many-to-many with a through model.
    profile_names = YAMLField(
        label="Profiles",
        strings=True,
        empty=list,
        help_text="YAML list of profile names, in the order instances apply them.",
    )
    expires_at = forms.CharField(
        required=False, help_text="RFC 3339 time (LXD's zero time 0001-01-01T00:00:00Z: never); blank keeps it."
    )

    class Meta:
        model = Image
        fields = ["public", "auto_update", "properties", "expires_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["profile_names"] = [link.profile.name for link in self.instance.profile_links.all()]

    def api_data(self, cleaned_data):
        data = super().api_data(cleaned_data)
        data["profiles"] = cleaned_data.get("profile_names", [])
        # Blank is null to the API: the expiry stays as it is.
        data["expires_at"] = data.get("expires_at") or None
        return data


@admin.register(Image)
class ImageAdmin(APIValidatedAdmin):
    """Images: uploaded through the API (``lxc image import``); edited and deleted here."""

    form = ImageForm
    list_display = [
        "fingerprint_prefix",
        "project",
        "alias_names",
        "architecture",
        "type",
        "file_size",
        "public",
        "profile_names",
        "uploaded_at",
    ]
    list_filter = ["project", "type", "architecture", "public", "auto_update", "cached"]
    search_fields = ["^fingerprint", "aliases__name", "filename", "properties"]
    readonly_fields = ["fingerprint", "project", "filename", "file_size", "architecture", "type", "split", "cached"]
    fields = [*readonly_fields, "public", "auto_update", "properties", "profile_names", "expires_at", "version"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*IMAGE_PREFETCH)

    @admin.display(description="fingerprint", ordering="fingerprint")
    def fingerprint_prefix(self, image):
        return short_fingerprint(image.fingerprint)

    @admin.display(description="size", ordering="size")
    def file_size(self, image):
        return filesizeformat(image.size)

    @admin.display(description="aliases")
    def alias_names(self, image):
        return ", ".join(alias.name for alias in image.aliases.all())

    @admin.display(description="profiles")
    def profile_names(self, image):
        return ", ".join(link.profile.name for link in image.profile_links.all())

    def has_add_permission(self, request):
        return False

    def delete_objects(self, images):
        # As the API deletes an image: the row, then its files once the deletion is committed.
        images = list(images)
        super().delete_objects(images)
        remove_unused_files(images)
