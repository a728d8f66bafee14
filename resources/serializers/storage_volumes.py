"""Storage volumes: LXD's volume shape, its config rules by driver and content type, and its
create, rename and move rules (lxd/storage_volumes.go)."""

from rest_framework import serializers

from .. import config_keys
from ..config_keys import storage_volume as volume_keys
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import GO_ZERO_TIME, go_quote, go_time
from ..models import StorageVolume
from ..volume_usage import volume_users
from .fields import ConfigField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Storage pool volume not found"
POOL_NOT_FOUND = "Storage pool not found"
EXISTS = "Volume by that name already exists"


def storage_name(project_name, name):
    """LXD's name for a volume in its messages: ``PROJECT_NAME``."""
    return f"{project_name}_{name}"


def validated_config(pool, volume_type, content_type, project_name, name, config):
    """``config`` checked as LXD's driver checks a volume's (LXD answers 500; lxdsite 400)."""
    try:
        volume_keys.validate_volume_config(pool.driver, content_type, storage_name(project_name, name), config)
    except config_keys.ConfigError as exc:
        raise lxd_error(str(exc)) from exc
    if volume_type != StorageVolume.CUSTOM and config.get("size"):
        raise lxd_error('Volume "size" property is not valid for volume type')
    return config


def check_name(name):
    """LXD's checks of a new volume name."""
    if not name:
        raise lxd_error("No name provided")
    if "/" in name:
        raise lxd_error("Storage volume names may not contain slashes")
    return name


class StorageVolumeSerializer(LXDModelSerializer):
    """A volume as LXD shows it. PUT replaces config and description; PATCH merges config and,
    as LXD 5.0.2 does, sets the description the body carries (none: empty)."""

    config = ConfigField(required=False)
    description = StringField(required=False)
    used_by = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField()

    class Meta:
        model = StorageVolume
        fields = ["config", "description", "name", "type", "used_by", "location", "content_type", "project"]
        fields += ["created_at"]
        read_only_fields = ["name", "type", "content_type"]

    def get_used_by(self, volume) -> list[str]:
        if volume.type in (StorageVolume.CONTAINER, StorageVolume.VIRTUAL_MACHINE):
            return [f"/1.0/instances/{volume.name}{volume.project.url_query(volume.project.name)}"]
        if volume.type == StorageVolume.IMAGE:
            return [f"/1.0/images/{volume.name}{volume.project.url_query(volume.project.name)}"]
        if "_volume_users" not in self.context:
            # Read once for a whole list: the serializers of a list share its context.
            self.context["_volume_users"] = volume_users()
        return self.context["_volume_users"].get((volume.pool.name, volume.project_id, volume.name), [])

    def get_location(self, volume) -> str:
        return "none"

    def get_project(self, volume) -> str:
        return volume.project.name

    def get_created_at(self, volume) -> str:
        # LXD 5.0.2 records no creation time for volumes.
        return go_time(GO_ZERO_TIME)

    def validate(self, attrs):
        volume = self.instance
        config = merge_config(volume.config, attrs.get("config", {}), partial=self.partial)
        validated_config(volume.pool, volume.type, volume.content_type, volume.project.name, volume.name, config)
        return {"config": config, "description": attrs.get("description", "")}


class StorageVolumeCreateSerializer(StorageVolumeSerializer):
    """``POST .../volumes[/TYPE]``: a new custom volume (the URL's type wins over the body's); the
    pool's ``volume.*`` keys fill the config it leaves out."""

    name = StringField(default="")
    type = StringField(default="")
    content_type = StringField(default="")

    class Meta(StorageVolumeSerializer.Meta):
        read_only_fields = []

    def validate(self, attrs):
        name = check_name(attrs["name"])
        volume_type = self.context.get("volume_type") or attrs["type"]
        if not volume_type:
            raise lxd_error("You must provide a storage volume type of the storage volume")
        content_type = attrs["content_type"] or StorageVolume.FILESYSTEM
        if content_type not in StorageVolume.CONTENT_TYPES:
            raise lxd_error("Invalid volume content type name")
        if volume_type != StorageVolume.CUSTOM:
            raise lxd_error(f"Currently not allowed to create storage volumes of type {go_quote(volume_type)}")
        pool, project = self.context["pool"], self.context["project"]
        if StorageVolume.objects.filter(pool=pool, project=project, type=volume_type, name=name).exists():
            raise Conflict(EXISTS)
        config = volume_keys.volume_defaults(pool.driver, content_type, pool.config, attrs.get("config", {}))
        validated_config(pool, volume_type, content_type, project.name, name, config)
        return {
            "name": name,
            "type": volume_type,
            "content_type": content_type,
            "config": config,
            "description": attrs.get("description", ""),
        }

    def create(self, validated_data):
        validated_data.pop("project", None)
        return StorageVolume.objects.create(
            pool=self.context["pool"], project=self.context["project"], **validated_data
        )


class StorageVolumeETagSerializer(ETagSerializer):
    """LXD hashes ``[name, type, config]``; lxdsite adds the writable description."""

    lxd_recipe = ("name", "type", "config")
    additions = ("description",)

    name = StringField()
    type = StringField()
    config = ConfigField()
    description = StringField()


def check_volume_deletable(volume):
    """LXD's rules for deleting a volume, shared by the API and the admin."""
    if volume.type == StorageVolume.IMAGE:
        return  # an optimized image's copy: LXD unpacks the image again when it needs one
    if volume.type != StorageVolume.CUSTOM:
        raise lxd_error(f"Storage volumes of type {go_quote(volume.type)} cannot be deleted with the storage API")
    if volume_users().get((volume.pool.name, volume.project_id, volume.name)):
        raise lxd_error("The storage volume is still in use")
