"""Images: their shape, the fields a PUT may change, and lookup by fingerprint prefix."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from ..etags import ETagSerializer
from ..exceptions import AmbiguousPrefix
from ..go import GO_ZERO_TIME, go_time
from ..models import Image, ImageProfile, Profile, Project
from .fields import (
    BoolField,
    GoField,
    LXDModelSerializer,
    PropertiesField,
    TimeField,
    _type_name,
    lxd_error,
)


@extend_schema_field({"type": "array", "items": {"type": "string"}, "nullable": True})
class ImageProfilesField(GoField):
    """An image's profiles by name, in order; null leaves them as they are (LXD's PUT does)."""

    def validate_empty_values(self, data):
        if data is None:
            raise serializers.SkipField()
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
            raise serializers.ValidationError(f"expected an array of strings, got {_type_name(data)}")
        project_name = self.parent.context.get("project_name", Project.DEFAULT_NAME)
        in_project = Profile.objects.filter(project=Project.holding(project_name, "features.profiles"))
        profiles = {profile.name: profile for profile in in_project.filter(name__in=data)}
        for name in data:
            if name not in profiles:
                raise lxd_error(f"Profile '{name}' doesn't exist")
        return [profiles[name] for name in dict.fromkeys(data)]

    def to_representation(self, links):
        return [link.profile.name for link in links.all()]


def lock_profiles(profiles):
    """Lock the profiles' rows against a delete (FOR NO KEY UPDATE) before linking them, so a
    concurrent profile delete either commits first (400, as if it never existed) or waits and
    removes the new link with the profile."""
    locked = set(
        Profile.objects.select_for_update(no_key=True)
        .filter(pk__in=[p.pk for p in profiles])
        .values_list("pk", flat=True)
    )
    for profile in profiles:
        if profile.pk not in locked:
            raise lxd_error(f"Profile '{profile.name}' doesn't exist")


class ImageSerializer(LXDModelSerializer):
    """An image as LXD shows it. PUT replaces public, auto_update and properties and keeps
    profiles and expires_at unless sent; PATCH merges properties and ignores profiles."""

    auto_update = BoolField(required=False)
    properties = PropertiesField(required=False)
    public = BoolField(required=False)
    expires_at = TimeField(required=False)
    profiles = ImageProfilesField(source="profile_links", required=False)
    aliases = serializers.SerializerMethodField()
    created_at = TimeField(read_only=True)
    last_used_at = serializers.SerializerMethodField()
    uploaded_at = TimeField(read_only=True)

    class Meta:
        model = Image
        fields = [
            "auto_update",
            "properties",
            "public",
            "expires_at",
            "profiles",
            "aliases",
            "architecture",
            "cached",
            "filename",
            "fingerprint",
            "size",
            "type",
            "created_at",
            "last_used_at",
            "uploaded_at",
        ]
        read_only_fields = ["architecture", "cached", "filename", "fingerprint", "size", "type"]

    def get_last_used_at(self, image) -> str:
        # Never used is Go's zero time (DRF skips fields whose value is None).
        return go_time(image.last_used_at)

    def get_aliases(self, image) -> list[dict]:
        return [{"name": alias.name, "description": alias.description} for alias in image.aliases.all()]

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        if self.partial:
            validated.pop("profile_links", None)
            if "properties" in validated:
                validated["properties"] = {**self.instance.properties, **validated["properties"]}
        else:
            validated = {"auto_update": False, "properties": {}, "public": False, **validated}
        if validated.get("expires_at") == GO_ZERO_TIME:
            del validated["expires_at"]
        return validated

    def update(self, instance, validated_data):
        profiles = validated_data.pop("profile_links", None)
        if profiles is not None:
            lock_profiles(profiles)
        image = super().update(instance, validated_data)
        if profiles is not None:
            # By the foreign key, not the relation: a prefetched relation is only what was read.
            ImageProfile.objects.filter(image=image).delete()
            ImageProfile.objects.bulk_create(ImageProfile(image=image, profile=profile) for profile in profiles)
        return image


class ImageETagSerializer(ETagSerializer):
    """LXD hashes ``[public, auto_update, properties]``; a PUT also sets the expiry and the
    profiles, which lxdsite hashes too."""

    lxd_recipe = ("public", "auto_update", "properties")
    additions = ("expires_at", "profiles")
    public = BoolField()
    auto_update = BoolField()
    properties = PropertiesField()
    expires_at = TimeField()
    profiles = ImageProfilesField(source="profile_links")


def lock_image(image):
    """``image`` read again with its row locked against a delete (FOR NO KEY UPDATE), inside the
    caller's transaction; 404 if a concurrent delete removed it."""
    locked = Image.objects.select_for_update(no_key=True).filter(pk=image.pk).first()
    if locked is None:
        raise exceptions.NotFound("Image not found")
    return locked


def find_image(prefix, queryset=None):
    """The image whose fingerprint is ``prefix`` or starts with it, as LXD looks images up."""
    queryset = Image.objects.all() if queryset is None else queryset
    # Fingerprints are lower-case hex; LIKE would also match other cases on SQLite.
    if not prefix or prefix.strip("0123456789abcdef"):
        raise exceptions.NotFound("Image not found")
    matches = list(queryset.filter(fingerprint__startswith=prefix)[:2])
    if len(matches) > 1:
        raise AmbiguousPrefix()
    if not matches:
        raise exceptions.NotFound("Image not found")
    return matches[0]
