"""Storage pools: LXD's pool shape, drivers, config rules and what uses a pool."""

from django.conf import settings
from rest_framework import serializers

from .. import config_keys
from ..config_keys import storage as storage_keys
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..models import StoragePool
from ..storage_usage import pool_users
from .fields import ConfigField, LXDModelSerializer, StringField, lxd_error, merge_config

# Keys a driver's Update refuses to change once the pool exists (lxd/storage/drivers/driver_*.go).
_FIXED_KEYS = {
    "lvm": {
        "lvm.use_thinpool": "lvm.use_thinpool cannot be changed",
        "lvm.thinpool_metadata_size": "lvm.thinpool_metadata_size cannot be changed",
    },
    "zfs": {"zfs.pool_name": "zfs.pool_name cannot be modified"},
}


class StoragePoolSerializer(LXDModelSerializer):
    """A pool as LXD shows it; PUT replaces config and description, PATCH merges them."""

    put_defaults = {"config": {}, "description": ""}

    config = ConfigField(required=False)
    description = StringField(required=False)
    used_by = serializers.SerializerMethodField()
    locations = serializers.SerializerMethodField()

    class Meta:
        model = StoragePool
        fields = ["config", "description", "name", "driver", "used_by", "status", "locations"]
        read_only_fields = ["name", "driver", "status"]

    def get_used_by(self, pool) -> list[str] | None:
        """What uses it, sorted as LXD sorts it; LXD sends null for none."""
        if "_pool_users" not in self.context:
            # Read once for a whole list: the serializers of a list share its context.
            self.context["_pool_users"] = pool_users()
        return self.context["_pool_users"].get(pool.name) or None

    def get_locations(self, pool) -> list[str]:
        return ["none"]

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        # LXD's PATCH keeps the keys the body leaves out; PUT replaces the map.
        config = merge_config(current, value, partial=self.partial)
        driver = self.instance.driver if self.instance else self.initial_data.get("driver")
        if driver not in storage_keys.DRIVERS:
            return config
        try:
            storage_keys.validate_pool_config(driver, config)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return config

    def validate(self, attrs):
        if self.instance is not None and "config" in attrs:
            _check_update(self.instance, attrs["config"])
        return attrs


def _check_update(pool, config):
    """LXD's lxdBackend.Update and the drivers' Update: what a created pool may not change."""
    if config.get("source", "") != pool.config.get("source", ""):
        raise lxd_error("Pool source cannot be changed when not in pending state")
    for key, message in _FIXED_KEYS.get(pool.driver, {}).items():
        if config.get(key, "") != pool.config.get(key, ""):
            raise lxd_error(message)


def validate_pool_name(name):
    """LXD's quick checks on a new pool's name (lxd/storage_pools.go storagePoolsPost)."""
    if not name:
        raise lxd_error("No name provided")
    if "/" in name:
        raise lxd_error("Storage pool names may not contain slashes")
    return name


class StoragePoolCreateSerializer(StoragePoolSerializer):
    """``POST /1.0/storage-pools``: a new pool; LXD's driver fills in its defaults (``source``)."""

    name = StringField(default="")
    driver = StringField(default="")

    class Meta(StoragePoolSerializer.Meta):
        read_only_fields = ["status"]

    def validate_config(self, value):
        return value  # checked in validate(), after LXD's quick checks of name and driver

    def validate(self, attrs):
        name = validate_pool_name(attrs["name"])
        driver = attrs["driver"]
        if not driver:
            raise lxd_error("No driver provided")
        if StoragePool.objects.filter(name=name).exists():
            raise Conflict("The storage pool already exists: The record already exists")
        if driver not in storage_keys.DRIVERS:
            # LXD answers 500; an unknown driver is the client's mistake: 400.
            raise lxd_error("Unknown driver")
        try:
            storage_keys.validate_pool_config(driver, attrs.get("config", {}))
            attrs["config"] = storage_keys.pool_defaults(driver, name, attrs.get("config", {}), settings.LXD_DIR)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return attrs


class StoragePoolETagSerializer(ETagSerializer):
    """LXD hashes ``[name, driver, config]``; lxdsite adds the writable description."""

    lxd_recipe = ("name", "driver", "config")
    additions = ("description",)

    name = StringField()
    driver = StringField()
    config = ConfigField()
    description = StringField()


def check_pool_deletable(pool):
    """LXD's rule for deleting a pool, shared by the API and the admin."""
    # An optimized image's volume does not keep its pool (LXD deletes it with the pool).
    if [url for url in pool_users().get(pool.name, []) if not url.startswith("/1.0/images/")]:
        raise lxd_error("The storage pool is currently in use")
