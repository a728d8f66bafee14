"""``/1.0/storage-pools/POOL/volumes[/TYPE[/NAME]]``: storage volumes, recorded with no disks."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.decorators import action

from .. import events
from ..config_keys.validators import parse_byte_size
from ..envelope import CreatedResponse, SyncResponse
from ..exceptions import Conflict
from ..go import go_quote
from ..instance_volumes import INSTANCE_TYPES, instance_volumes
from ..models import (
    Instance,
    InstanceProfile,
    Profile,
    Project,
    Server,
    Snapshot,
    StoragePool,
    StorageVolume,
    StorageVolumeSnapshot,
)
from ..operations import AsyncResponse, finished_operation
from ..serializers.fields import lxd_error
from ..serializers.storage_volumes import (
    EXISTS,
    NOT_FOUND,
    POOL_NOT_FOUND,
    StorageVolumeCreateSerializer,
    StorageVolumeETagSerializer,
    StorageVolumeSerializer,
    check_name,
    check_volume_deletable,
    storage_name,
    validated_config,
)
from ..volume_usage import FEATURE, rename_volume_users
from .async_writes import OperationMixin
from .base import (
    CreateMixin,
    DestroyMixin,
    InProjectMixin,
    LifecycleMixin,
    ListMixin,
    LXDViewSet,
    RetrieveMixin,
    UpdateMixin,
    escaped,
)
from .cached_reads import CachedReadMixin
from .conditional import WRITE_SCHEMA, ConditionalUpdateMixin, atomic_write, conditional_schema
from .reads import InProject, requested_project
from .storage_volume_lists import VolumeListMixin


def _bool(value):
    return value is True


def _text(body, key):
    """A string field of a JSON body; another type counts as empty, as no name matches it."""
    value = body.get(key)
    return value if isinstance(value, str) else ""


class VolumeParentMixin:
    """The pool and volume type a volume URL names: LXD's 404 for a missing pool, its 400 for an
    unknown type."""

    def pool(self):
        if "_pool" not in self.__dict__:
            self._pool = StoragePool.objects.filter(name=self.kwargs["pool_name"]).first()
            if self._pool is None:
                raise exceptions.NotFound(POOL_NOT_FOUND)
        return self._pool

    # The actions whose unknown project is the scope's plain 404 (``Project not found``).
    plain_unknown_project = ("list",)

    def rows_key(self):
        try:
            return super().rows_key()
        except exceptions.NotFound:
            if self.action in self.plain_unknown_project:
                raise
            # LXD words an unknown project its own way on the other volume URLs.
            name = go_quote(requested_project(self.request))
            raise exceptions.NotFound(f"Failed to load project {name}: Project not found") from None

    def volume_type(self):
        """The type the URL names (None for ``/volumes``); an unknown one is LXD's 400."""
        volume_type = self.kwargs.get("volume_type")
        if volume_type is not None and volume_type not in StorageVolume.TYPES:
            raise exceptions.ValidationError("Invalid storage volume type name", code="lxd")
        return volume_type


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class StorageVolumeViewSet(
    VolumeParentMixin,
    InProjectMixin,
    VolumeListMixin,
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    OperationMixin,
    ListMixin,
    RetrieveMixin,
    CreateMixin,
    UpdateMixin,
    DestroyMixin,
    LXDViewSet,
):
    """``/1.0/storage-pools/POOL/volumes/TYPE``: the volumes of a pool in the project ``?project=``
    names (the default project's where it lacks ``features.storage.volumes``). Lists show each
    custom volume's snapshots after it, as LXD 5.0.2's do."""

    queryset = StorageVolume.objects.all()
    scope = InProject(FEATURE, unknown="Project not found")
    serializer_class = StorageVolumeSerializer
    create_serializer_class = StorageVolumeCreateSerializer
    etag_serializer_class = StorageVolumeETagSerializer
    lifecycle_name = "storage-volume"
    lists_all_projects = True
    not_found_message = NOT_FOUND
    selected = ("pool", "project")

    @classmethod
    def read_models(cls):
        # used_by reads every instance's and profile's devices and every project's features;
        # lists show snapshots.
        models = {Instance, InstanceProfile, Profile, Project, Server, Snapshot, StorageVolumeSnapshot}
        return {*super().read_models(), *models}

    @property
    def collection_url(self):
        return f"/1.0/storage-pools/{escaped(self.kwargs['pool_name'])}/volumes"

    def object_url(self, instance):
        url = f"{self.collection_url}/{instance.type}/{escaped(instance.name)}"
        return url + Project.url_query(instance.project.name if self.across_projects() else self.project_name())

    def get_queryset(self):
        queryset = super().get_queryset().filter(pool=self.pool())
        volume_type = self.volume_type()
        return queryset.filter(type=volume_type) if volume_type else queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "create":
            context.update(pool=self.pool(), project=self.project(), volume_type=self.kwargs.get("volume_type"))
        return context

    # Reading ------------------------------------------------------------------------------------

    def lookup_object(self, value):
        """An instance's volume is found through its instance; a custom volume by its row."""
        volume_type = self.volume_type()
        if volume_type not in INSTANCE_TYPES:
            return super().lookup_object(value)
        found = instance_volumes(self.pool(), self.project_name(), volume_type, value)
        if not found:
            raise Http404
        return found[0][0]

    # Writing ------------------------------------------------------------------------------------

    @atomic_write
    def create(self, request, *args, **kwargs):
        body = self.request_data()
        source = body.get("source") if isinstance(body, dict) else None
        if source is not None and not isinstance(source, dict):
            raise exceptions.ParseError(
                "json: cannot unmarshal into Go struct field StorageVolumesPost.source of type api.StorageVolumeSource"
            )
        source_type = source.get("type", "") if isinstance(source, dict) else ""
        if source_type not in ("", "copy"):
            raise lxd_error(f"Unknown source type {go_quote(source_type)}")
        if source_type == "copy":
            return self._copy(body, source)
        serializer = self.get_serializer(data=body)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        # LXD answers a volume's create with 200 and no Location.
        return SyncResponse({})

    def _copy(self, body, source):
        """``source.type: copy``: a new custom volume from another (or a snapshot's ``VOL/SNAP``)."""
        serializer = self.get_serializer(data={key: value for key, value in body.items() if key != "source"})
        serializer.is_valid(raise_exception=True)
        description = "Copying storage volume"
        source_pool = StoragePool.objects.filter(name=_text(source, "pool")).first()
        if source_pool is None:
            return self._failed(description, POOL_NOT_FOUND)
        name = _text(source, "name")
        volume_name, _, snapshot_name = name.partition("/")
        project_name = _text(source, "project") or self.project_name()
        project = Project.holding(project_name, FEATURE)
        original = StorageVolume.objects.filter(
            pool=source_pool, project__name=project.name, type=StorageVolume.CUSTOM, name=volume_name
        ).first()
        snapshot = original and snapshot_name and original.snapshots.filter(name=snapshot_name).first()
        if original is None or (snapshot_name and not snapshot):
            missing = (
                f'Storage volume {go_quote(name)} in project {go_quote(project.name)} of type "custom" '
                f"does not exist on pool {go_quote(source_pool.name)}: Storage volume not found"
            )
            return self._failed(description, f"Failed generating volume copy config: {missing}")
        data = serializer.validated_data
        copied = snapshot or original
        config = {**copied.config, **(body.get("config") or {})}
        validated_config(
            self.pool(), StorageVolume.CUSTOM, original.content_type, self.project_name(), data["name"], config
        )
        volume = StorageVolume.objects.create(
            pool=self.pool(),
            project=self.project(),
            name=data["name"],
            type=StorageVolume.CUSTOM,
            content_type=original.content_type,
            description=data["description"] or copied.description,
            config=config,
        )
        if not snapshot and not _bool(source.get("volume_only")):
            _copy_snapshots(original, volume)
        self.emit_lifecycle("created", volume)
        return AsyncResponse(finished_operation(description, project_id=self.operation_project_id()))

    def _failed(self, description, err):
        return AsyncResponse(finished_operation(description, err=err, project_id=self.operation_project_id()))

    @atomic_write
    def update(self, request, *args, **kwargs):
        body = self.request_data()
        if request.method == "PUT" and isinstance(body, dict) and body.get("restore"):
            return self._restore(body["restore"])
        return super().update(request, *args, **kwargs)

    def emit_lifecycle(self, verb, instance, context=None):
        """LXD's volume events name the volume as its storage does (``PROJECT_NAME``); a new one's
        context gives its type."""
        if verb == "created":
            context = {"type": instance.type}
        events.emit_lifecycle(f"storage-volume-{verb}", lifecycle_url(instance), context=context, request=self.request)

    def _restore(self, snapshot_name):
        """PUT with ``restore``: the volume goes back to its snapshot (a record: nothing else changes)."""
        volume = self.get_object()
        if not isinstance(snapshot_name, str) or not volume.snapshots.filter(name=snapshot_name).exists():
            # LXD answers 500; naming a snapshot that does not exist is the client's mistake: 400.
            raise lxd_error("Snapshot not found")
        self.written = volume
        self.emit_lifecycle("restored", volume, {"snapshot": snapshot_name})
        return SyncResponse({})

    def perform_destroy(self, instance):
        check_volume_deletable(instance)
        super().perform_destroy(instance)

    @WRITE_SCHEMA
    @atomic_write
    def rename(self, request, *args, **kwargs):
        """POST on a volume: rename it, or move it to another pool or project."""
        volume = self.get_object()
        body = self.request_data()
        if not isinstance(body, dict):
            raise exceptions.ParseError("json: cannot unmarshal into Go value of type api.StorageVolumePost")
        if volume.type != StorageVolume.CUSTOM:
            raise lxd_error(f"Renaming storage volumes of type {go_quote(volume.type)} is not allowed")
        name = check_name(_text(body, "name"))
        pool_name, project_name = _text(body, "pool"), _text(body, "project")
        pool = volume.pool
        if pool_name and pool_name != pool.name:
            pool = StoragePool.objects.filter(name=pool_name).first()
            if pool is None:
                raise exceptions.NotFound(POOL_NOT_FOUND)
        project = volume.project
        if project_name and not pool_name:
            # LXD 5.0.2 moves between projects only with the pool named (lxc names it).
            raise exceptions.NotFound(POOL_NOT_FOUND)
        if project_name and project_name != volume.project.name:
            target = Project.objects.filter(name=project_name).first()
            if target is None:
                # LXD 5.0.2 fails the move's operation with its database's refusal.
                err = (
                    f"Error inserting volume {go_quote(name)} for project {go_quote(project_name)} in pool "
                    f'{go_quote(pool.name)} of type "custom" into database '
                    '"NOT NULL constraint failed: storage_volumes.project_id"'
                )
                return self._failed("Moving storage volume", err)
            # LXD 5.0.2 stores it in the named project, even one without features.storage.volumes.
            project = target
        moved = pool.pk != volume.pool_id or project.pk != volume.project_id
        if StorageVolume.objects.filter(pool=pool, project=project, type=volume.type, name=name).exists():
            raise Conflict(EXISTS)
        if pool.pk != volume.pool_id:
            # The keys of the pool's driver it goes to.
            validated_config(pool, volume.type, volume.content_type, project.name, name, volume.config)
        old_name, old_pool = volume.name, volume.pool.name
        before = lifecycle_url(volume)
        rename_volume_users(old_pool, volume.project_id, old_name, pool.name, name)
        StorageVolume.objects.filter(pk=volume.pk).update(name=name, pool=pool, project=project)
        volume.name, volume.pool, volume.project = name, pool, project
        if moved:
            # LXD makes the volume where it goes and deletes it where it was.
            self.emit_lifecycle("created", volume)
            events.emit_lifecycle("storage-volume-deleted", before, request=request)
            return AsyncResponse(finished_operation("Moving storage volume", project_id=self.operation_project_id()))
        self.emit_lifecycle("renamed", volume, {"old_name": old_name})
        return CreatedResponse(self.object_url(volume))

    @action(detail=True, methods=["get"])
    def state(self, request, *args, **kwargs):
        """The volume's usage: LXD's dir driver cannot tell it (``Not supported``)."""
        try:
            volume = self.get_object()
        except exceptions.NotFound:
            missing = (
                f"Storage volume {go_quote(self.kwargs['name'])} in project {go_quote(self.project_name())} "
                f"of type {go_quote(self.kwargs['volume_type'])} does not exist on pool "
                f"{go_quote(self.kwargs['pool_name'])}: Storage volume not found"
            )
            raise exceptions.NotFound(missing) from None
        if volume.pool.driver in ("dir", "cephfs"):
            # LXD answers 500; the driver's limitation is no server fault: 400 with its text.
            raise lxd_error("Not supported")
        size = volume.config.get("size", "")
        total = parse_byte_size(size) if size else -1
        return SyncResponse({"usage": {"used": 0, "total": total}})


def lifecycle_url(volume, snapshot=None):
    """A volume's (or its snapshot's) URL as LXD's lifecycle events give it: named as its storage
    names it (``PROJECT_NAME``), with ``?project=`` outside the default project."""
    storage = escaped(storage_name(volume.project.name, volume.name))
    url = f"/1.0/storage-pools/{escaped(volume.pool.name)}/volumes/{volume.type}/{storage}"
    url += f"/snapshots/{escaped(snapshot)}" if snapshot else ""
    return url + Project.url_query(volume.project.name)


def _copy_snapshots(original, volume):
    StorageVolumeSnapshot.objects.bulk_create(
        StorageVolumeSnapshot(
            volume=volume,
            name=snapshot.name,
            description=snapshot.description,
            config=snapshot.config,
            expires_at=snapshot.expires_at,
        )
        for snapshot in original.snapshots.order_by("id")
    )


@extend_schema_view(
    list=extend_schema(operation_id="storage_pools_volumes_list_all_types"),
    create=extend_schema(operation_id="storage_pools_volumes_create_typed_in_body"),
)
class AllTypesStorageVolumeViewSet(StorageVolumeViewSet):
    """``/1.0/storage-pools/POOL/volumes``: every type's volumes; a create names its type in the body."""
