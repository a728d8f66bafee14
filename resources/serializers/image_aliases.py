"""Image aliases: names for images, their targets and renames."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import GoStruct, go_quote
from ..models import Image, ImageAlias, Project
from .fields import (
    MAX_NAME_LENGTH,
    GoField,
    LXDModelSerializer,
    StringField,
    _type_name,
    lxd_error,
)
from .images import (
    find_image,
    lock_image,
)


@extend_schema_field(OpenApiTypes.STR)
class ImageTargetField(GoField):
    """An alias's target: a fingerprint or a unique prefix of one, resolved to the image (404 if none).

    An empty target counts as absent: the serializer says that it is required.
    """

    def validate_empty_values(self, data):
        if data in (None, ""):
            raise serializers.SkipField()
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(f"expected a string, got {_type_name(data)}")
        project_name = self.parent.context.get("project_name", Project.DEFAULT_NAME)
        return find_image(data, Image.objects.filter(project__name=project_name))

    def to_representation(self, image):
        return image.fingerprint


class ImageAliasSerializer(LXDModelSerializer):
    """An alias as LXD shows it: description, target, name, type. PUT needs the target; PATCH merges."""

    description = StringField(required=False)
    target = ImageTargetField(source="image", required=False)
    type = serializers.CharField(read_only=True)

    class Meta:
        model = ImageAlias
        fields = ["description", "target", "name", "type"]
        read_only_fields = ["name"]

    def validate(self, attrs):
        if not self.partial and "image" not in attrs:
            raise lxd_error("The target field is required")
        return attrs if self.partial else {"description": "", **attrs}

    def save(self, **kwargs):
        """Write with a new target image's row locked, so a concurrent image delete either
        commits first (the target is then not found) or waits and deletes this alias with it.

        An unchanged target is not locked: a delete of that image already waits for this alias's
        row, and locking the image after the alias would deadlock with it.
        """
        target = self.validated_data.get("image")
        with transaction.atomic():
            if target is not None and (self.instance is None or target.pk != self.instance.image_id):
                self.validated_data["image"] = lock_image(target)
            return super().save(**kwargs)


def check_alias_name(name):
    """The rules for an alias name that can be stored and addressed by URL (LXD checks only for
    a slash, and only on rename)."""
    if "/" in name:
        raise lxd_error("Alias names may not contain slashes")
    if name in (".", ".."):
        raise lxd_error(f"Invalid alias name {go_quote(name)}")
    if len(name) > MAX_NAME_LENGTH:
        raise lxd_error(f"Alias names may not be longer than {MAX_NAME_LENGTH} characters")
    return name


def validate_alias_name(name, instance=None, project_name=Project.DEFAULT_NAME):
    """LXD's rules for an alias name; a name taken in its project is a 409."""
    check_alias_name(name)
    taken = ImageAlias.objects.filter(project__name=project_name, name=name)
    if instance is not None:
        taken = taken.exclude(pk=instance.pk)
    if taken.exists():
        raise Conflict(f"Alias {go_quote(name)} already exists")
    return name


class ImageAliasCreateSerializer(ImageAliasSerializer):
    """``POST /1.0/images/aliases``: name and target are required; the target may be a prefix."""

    name = StringField(default="")

    class Meta(ImageAliasSerializer.Meta):
        read_only_fields = []

    def validate_name(self, name):
        project_name = self.context.get("project_name", Project.DEFAULT_NAME)
        return validate_alias_name(name, project_name=project_name) if name else name

    def validate(self, attrs):
        if not attrs.get("name") or "image" not in attrs:
            raise lxd_error("name and target are required")
        return super().validate(attrs)


class ImageAliasRenameSerializer(LXDModelSerializer):
    """``POST /1.0/images/aliases/NAME``: rename (409 when the new name is taken)."""

    name = StringField(default="")

    class Meta:
        model = ImageAlias
        fields = ["name"]

    def validate_name(self, name):
        if not name:
            raise lxd_error("No name provided")
        return validate_alias_name(name, self.instance, self.context.get("project_name", Project.DEFAULT_NAME))


class ImageAliasETagSerializer(ETagSerializer):
    """LXD hashes the whole alias as a Go struct: description, target, name, type in that order."""

    lxd_recipe = ("description", "target", "name", "type")
    description = StringField()
    target = ImageTargetField(source="image")
    name = StringField()
    type = StringField()

    def lxd_value(self, instance, shown):
        return GoStruct(shown)
