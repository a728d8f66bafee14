"""``/1.0/storage-pools``: LXD storage pools, recorded with no disks behind them."""

import os
from pathlib import Path

from django.conf import settings
from rest_framework.decorators import action

from ..config_keys.validators import parse_byte_size
from ..envelope import SyncResponse
from ..models import (
    Instance,
    InstanceProfile,
    Profile,
    Project,
    Snapshot,
    StoragePool,
    StorageVolume,
    StorageVolumeSnapshot,
)
from ..serializers.storage_pools import (
    StoragePoolCreateSerializer,
    StoragePoolETagSerializer,
    StoragePoolSerializer,
    check_pool_deletable,
)
from .base import LXDCrudViewSet
from .conditional import conditional_schema


def pool_resources(pool):
    """``/resources``: a ``dir`` pool's figures are those of the file system holding its source
    (or LXD_DIR, as nothing is made on disk); other drivers report their recorded size, unused."""
    if pool.driver == "dir":
        path = Path(pool.config.get("source", ""))
        while not path.exists() and path != path.parent:
            path = path.parent
        stat = os.statvfs(path if path.exists() else settings.LXD_DIR)
        total = stat.f_frsize * stat.f_blocks
        return {
            "space": {"used": total - stat.f_frsize * stat.f_bfree, "total": total},
            "inodes": {"used": stat.f_files - stat.f_ffree, "total": stat.f_files},
        }
    return {"space": {"used": 0, "total": parse_byte_size(pool.config.get("size", ""))}}


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class StoragePoolViewSet(LXDCrudViewSet):
    """``/1.0/storage-pools``: storage pools (global, as in LXD: no project has its own). No
    rename: LXD 5.0.2 answers a POST on a pool 501, as every unrouted method."""

    queryset = StoragePool.objects.all()
    serializer_class = StoragePoolSerializer
    create_serializer_class = StoragePoolCreateSerializer
    etag_serializer_class = StoragePoolETagSerializer
    prepared_reads = True
    lifecycle_name = "storage-pool"
    collection_url = "/1.0/storage-pools"
    not_found_message = "Storage pool not found"

    @classmethod
    def read_models(cls):
        # used_by reads every profile's devices, every instance's root disk and snapshots, and
        # the custom volumes and their snapshots.
        models = {Instance, InstanceProfile, Profile, Project, Snapshot, StorageVolume, StorageVolumeSnapshot}
        return {*super().read_models(), *models}

    def perform_destroy(self, instance):
        check_pool_deletable(instance)
        super().perform_destroy(instance)

    @action(detail=True, methods=["get"])
    def resources(self, request, *args, **kwargs):
        """The pool's space and inodes."""
        return SyncResponse(pool_resources(self.get_object()))
