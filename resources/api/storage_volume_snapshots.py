"""``/1.0/storage-pools/POOL/volumes/TYPE/NAME/snapshots``: snapshots of custom volumes, recorded,
and (read-only) those of instances' volumes, which are their instances' snapshots."""

from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS

from .. import events
from ..go import go_quote
from ..instance_volumes import INSTANCE_TYPES, instance_volumes
from ..models import Instance, InstanceProfile, Profile, Project, Snapshot, StorageVolume, StorageVolumeSnapshot
from ..operations import AsyncResponse, finished_operation
from ..serializers.fields import lxd_error
from ..serializers.storage_volume_snapshots import (
    StorageVolumeSnapshotCreateSerializer,
    StorageVolumeSnapshotETagSerializer,
    StorageVolumeSnapshotRenameSerializer,
    StorageVolumeSnapshotSerializer,
)
from ..serializers.storage_volumes import NOT_FOUND
from ..volume_usage import FEATURE
from .async_writes import OperationMixin
from .base import (
    InProjectMixin,
    LifecycleMixin,
    ListMixin,
    LXDViewSet,
    RetrieveMixin,
    UpdateMixin,
    escaped,
    recursion_level,
)
from .cached_reads import CachedReadMixin
from .conditional import WRITE_SCHEMA, ConditionalUpdateMixin, atomic_write, conditional_schema
from .reads import InProject
from .storage_volumes import VolumeParentMixin, lifecycle_url


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class StorageVolumeSnapshotViewSet(
    VolumeParentMixin,
    InProjectMixin,
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    OperationMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
    LXDViewSet,
):
    """Snapshots of a custom volume: create, rename and delete answer with an operation, PUT and
    PATCH (description, expiry) at once, as LXD 5.0.2 does."""

    queryset = StorageVolumeSnapshot.objects.all()
    scope = InProject(FEATURE, path="volume__project", unknown="Project not found")
    serializer_class = StorageVolumeSnapshotSerializer
    create_serializer_class = StorageVolumeSnapshotCreateSerializer
    rename_serializer_class = StorageVolumeSnapshotRenameSerializer
    etag_serializer_class = StorageVolumeSnapshotETagSerializer
    lifecycle_name = "storage-volume-snapshot"
    not_found_message = NOT_FOUND
    selected = ("volume",)
    plain_unknown_project = ()
    # LXD's list names no project in its URLs.
    lists_name_project = False

    @classmethod
    def read_models(cls):
        # An instance volume's snapshots are its instance's.
        return {*super().read_models(), Instance, InstanceProfile, Profile, Project, Snapshot, StorageVolume}

    @property
    def collection_url(self):
        pool, volume_type, name = (self.kwargs[key] for key in ("pool_name", "volume_type", "volume_name"))
        return f"/1.0/storage-pools/{escaped(pool)}/volumes/{volume_type}/{escaped(name)}/snapshots"

    def get_queryset(self):
        self.pool()
        self.volume_type()
        return (
            super()
            .get_queryset()
            .filter(
                volume__pool__name=self.kwargs["pool_name"],
                volume__type=self.kwargs["volume_type"],
                volume__name=self.kwargs["volume_name"],
            )
        )

    def volume(self):
        """The volume the URL names, locked until the write commits (LXD's 404 when there is none)."""
        volume = (
            StorageVolume.objects.select_for_update()
            .filter(
                pool=self.pool(),
                project__name=self.project_name(),
                type=self.volume_type(),
                name=self.kwargs["volume_name"],
            )
            .select_related("project")
            .first()
        )
        if volume is None:
            raise exceptions.NotFound(NOT_FOUND)
        return volume

    def _resources(self, kind):
        """An operation's ``resources`` as LXD 5.0.2 names them (its odd ``/1.0/storage_volumes`` URLs)."""
        return {kind: [f"/1.0/{kind}/{escaped(self.kwargs['volume_name'])}"]}

    def instance_snapshots(self, name=None):
        """An instance volume's snapshots (its instance's, one if ``name``), as unsaved rows: the
        volume's config, the instance snapshot's expiry."""
        found = instance_volumes(self.pool(), self.project_name(), self.volume_type(), self.kwargs["volume_name"])
        if not found:
            return []
        volume = found[0][0]
        snapshots = Snapshot.objects.filter(instance=volume.instance).order_by("id")
        if name is not None:
            snapshots = snapshots.filter(name=name)
        return [
            StorageVolumeSnapshot(
                volume=volume, name=snapshot.name, config=dict(volume.config), expires_at=snapshot.expires_at
            )
            for snapshot in snapshots.only("name", "expires_at")
        ]

    def lookup_object(self, value):
        if self.volume_type() not in INSTANCE_TYPES:
            return super().lookup_object(value)
        if self.request.method not in SAFE_METHODS:
            # An instance's snapshots change through the instance (its snapshot's expiry).
            raise lxd_error("Storage volume snapshots of instances are changed through their instance")
        found = self.instance_snapshots(value)
        if not found:
            raise Http404
        return found[0]

    def listed_snapshots(self):
        """The snapshots a list shows."""
        if self.volume_type() in INSTANCE_TYPES:
            return self.instance_snapshots()
        return list(self.get_queryset())

    def list(self, request, *args, **kwargs):
        if recursion_level(request) < 1:
            if self.volume_type() in INSTANCE_TYPES:
                return self.cached_read(
                    lambda: self.collection_response([self.listed_url(row) for row in self.listed_snapshots()])
                )
            return super().list(request, *args, **kwargs)
        return self.cached_read(self._recursive_list)

    def _recursive_list(self):
        # LXD 5.0.2's recursive list: "VOL/SNAP" names, a null expiry and no content type.
        shown = []
        for data in self.get_serializer(self.listed_snapshots(), many=True).data:
            name = f"{self.kwargs['volume_name']}/{data['name']}"
            shown.append({**data, "name": name, "expires_at": None, "content_type": ""})
        return self.collection_response(shown)

    @atomic_write
    def create(self, request, *args, **kwargs):
        volume = self.volume()
        context = {**self.get_serializer_context(), "volume": volume}
        serializer = self.get_serializer(data=self.request_data(), context=context)
        serializer.is_valid(raise_exception=True)

        def created():
            url = lifecycle_url(volume, serializer.instance.name)
            return ("storage-volume-snapshot-created", url, {"type": volume.type})

        return self.operation_response(
            "Creating storage volume snapshot", self._resources("storage_volumes"), serializer, lifecycle=created
        )

    @atomic_write
    def destroy(self, request, *args, **kwargs):
        snapshot = self.get_object()
        lifecycle = ("storage-volume-snapshot-deleted", lifecycle_url(snapshot.volume, snapshot.name))
        return self.operation_response(
            "Deleting storage volume snapshot",
            self._resources("storage_volume_snapshots"),
            save=snapshot.delete,
            lifecycle=lifecycle,
        )

    @WRITE_SCHEMA
    @atomic_write
    def rename(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=self.request_data())
        serializer.is_valid(raise_exception=True)
        description, resources = "Renaming storage volume snapshot", self._resources("storage_volume_snapshots")
        old_name, new_name = self.kwargs["name"], serializer.validated_data["name"]
        if not self.get_queryset().filter(name=old_name).exists():
            missing = (
                f"Storage volume {go_quote(self.kwargs['volume_name'] + '/' + old_name)} in project "
                f"{go_quote(self.project_name())} of type {go_quote(self.kwargs['volume_type'])} does not "
                f"exist on pool {go_quote(self.kwargs['pool_name'])}: Storage volume not found"
            )
            return self._failed(description, resources, missing)
        snapshot = self.get_object()
        if snapshot.volume.snapshots.filter(name=new_name).exclude(pk=snapshot.pk).exists():
            return self._failed(description, resources, self._rename_clash(snapshot, new_name))

        def renamed():
            snapshot.name = new_name
            snapshot.save(update_fields=["name"])

        # LXD 5.0.2 names the snapshot by its old name in the event, and in its context.
        lifecycle = (
            "storage-volume-snapshot-renamed",
            lifecycle_url(snapshot.volume, old_name),
            {"old_name": old_name},
        )
        return self.operation_response(description, resources, save=renamed, lifecycle=lifecycle)

    def emit_lifecycle(self, verb, instance, context=None):
        # An update's event names the volume plainly (its other events as its storage does).
        url = f"{self.collection_url}/{escaped(instance.name)}" + Project.url_query(self.project_name())
        events.emit_lifecycle(f"storage-volume-snapshot-{verb}", url, context=context, request=self.request)

    def _failed(self, description, resources, err):
        """An operation LXD starts and then fails with ``err``."""
        operation = finished_operation(
            description, err=err, resources=resources, project_id=self.operation_project_id()
        )
        return AsyncResponse(operation)

    def _rename_clash(self, snapshot, new_name):
        """LXD's dir driver's failure to rename onto a snapshot that exists (its paths on disk)."""
        volume = snapshot.volume
        directory = f"{self.pool().config.get('source', '')}/custom-snapshots/{volume.project.name}_{volume.name}"
        old, new = f"{directory}/{snapshot.name}", f"{directory}/{new_name}"
        return f"Failed to rename {go_quote(old)} to {go_quote(new)}: rename {old} {new}: file exists"

    def object_url(self, instance):
        return f"{self.collection_url}/{escaped(instance.name)}" + Project.url_query(self.project_name())
