"""``/1.0/instances`` and ``/1.0/containers``: containers and VMs as records; writes are async, as in LXD."""

import uuid

from django.utils import timezone
from rest_framework import exceptions

from .. import events, instance_files, instance_imports
from ..envelope import SyncResponse
from ..instance_copies import copy_request, copy_source
from ..instance_moves import InstanceMoveSerializer, MoveRefused, is_move, move_instance
from ..instance_states import started_config
from ..instances import INSTANCE_FILTER_FIELDS, expand_devices
from ..models import Image, ImageAlias, Instance, Profile, Project
from ..operations import AsyncResponse, finished_operation
from ..project_limits import check_instance_create
from ..serializers import (
    InstanceCreateSerializer,
    InstanceETagSerializer,
    InstanceFullSerializer,
    InstanceRenameSerializer,
    InstanceSerializer,
    fails_in_operation,
    find_image,
    set_instance_profiles,
)
from ..serializers.fields import judged_by_project
from .async_writes import OperationMixin, instance_resources, instance_url
from .base import InProjectMixin, ListMixin, LXDViewSet, RetrieveMixin, recursion_level
from .cached_reads import CachedReadMixin
from .conditional import ConditionalUpdateMixin, atomic_write, conditional_schema
from .instance_backups import InstanceBackupsMixin
from .instance_files import InstanceFilesMixin
from .instance_metadata import InstanceMetadataMixin
from .instance_processes import InstanceProcessesMixin
from .instance_state import InstanceStateMixin, deletion_events
from .reads import InProject, Shown

# The instance's profiles in the order LXD applies them: the ETag hashes them.
PROFILES = Shown("profile_links", "profile", in_etag=True, shared=True)
# Snapshots, in the full answer (recursion=1 on an instance, 2 on the list).
SNAPSHOTS = Shown("snapshots")


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class InstanceViewSet(
    InProjectMixin,
    InstanceStateMixin,
    InstanceProcessesMixin,
    InstanceMetadataMixin,
    InstanceFilesMixin,
    InstanceBackupsMixin,
    CachedReadMixin,
    ConditionalUpdateMixin,
    OperationMixin,
    ListMixin,
    RetrieveMixin,
    LXDViewSet,
):
    """``/1.0/instances``: containers and VMs as records; writes are async, as in LXD."""

    queryset = Instance.objects.all()
    # An instance lives in the project the request names; an unknown one holds none (as LXD lists it).
    scope = InProject(unknown=None)
    serializer_class = InstanceSerializer
    create_serializer_class = InstanceCreateSerializer
    rename_serializer_class = InstanceRenameSerializer
    etag_serializer_class = InstanceETagSerializer
    shown = (PROFILES, SNAPSHOTS)
    filter_fields = INSTANCE_FILTER_FIELDS
    lists_all_projects = True
    prepared_reads = True
    collection_url = "/1.0/instances"
    not_found_message = "Instance not found"

    def full(self):
        """Whether the answer is the full instance (state and snapshots), as ``recursion`` asks."""
        return recursion_level(self.request) >= (2 if self.action == "list" else 1)

    def get_serializer_class(self):
        if self.action in ("list", "retrieve") and self.full():
            return InstanceFullSerializer
        return super().get_serializer_class()

    def shown_relations(self):
        relations = super().shown_relations()
        return relations if self.full() else [relation for relation in relations if relation is not SNAPSHOTS]

    def create(self, request, *args, **kwargs):
        if not instance_imports.is_backup_upload(request):
            return self._create(request, *args, **kwargs)
        # ``lxc import``: the tarball is read whole before the write's transaction, so that a client
        # sending slowly holds no lock meanwhile (SQLite takes its write lock at BEGIN).
        self.project()
        return self.import_backup(request, instance_imports.receive(request))

    @atomic_write
    def _create(self, request, *args, **kwargs):
        self.project()
        data = self.request_data()
        source = data.get("source") if isinstance(data, dict) else None
        copied = None
        if isinstance(source, dict) and source.get("type") == "copy":
            copied = copy_source(source, self.project_name())
            data = copy_request(data, copied)
        image = None if copied is not None else self._source_image(source)
        context = {**self.get_serializer_context(), "image": image, "copy_of": copied}
        if copied is not None:
            context["instance_only"] = source.get("instance_only") is True
        serializer = self.get_serializer(data=data, context=context)
        # The operation names the instance it creates: the generated name when the request has none.
        requested = data.get("name") if isinstance(data, dict) else ""
        name = serializer.validated_data["name"] if serializer.is_valid() else requested
        if not serializer.errors or fails_in_operation(serializer.errors):
            member = serializer.requested_member(name if isinstance(name, str) else "")
            judged_by_project(check_instance_create, self.project(), member)
        resources = instance_resources(name if isinstance(name, str) else "")
        if copied is not None:
            # LXD lists the source instance after the copy.
            source_instance = getattr(copied, "instance", copied)
            for kind, urls in instance_resources(source_instance.name).items():
                resources[kind] = [*resources[kind], *urls]

        def created():
            return (
                "instance-created",
                instance_url(serializer.instance.name, project=self.project_name()),
                created_context(serializer.instance),
            )

        return self.operation_response("Creating instance", resources, serializer, lifecycle=created)

    def _source_image(self, source):
        """The image a create names (by alias or fingerprint prefix), or None for ``none``."""
        source = source if isinstance(source, dict) else {}
        if source.get("type", "none") in ("none", ""):
            return None
        if source.get("type") != "image":
            raise exceptions.ParseError(f"Unknown source type {source.get('type')}")
        # The images the instance's project uses: its own, or the default project's.
        project = Project.holding(self.project_name(), "features.images")
        if source.get("alias"):
            alias = ImageAlias.objects.select_related("image").filter(project=project, name=source["alias"]).first()
            if alias is None:
                raise exceptions.NotFound("Image alias not found")
            return alias.image
        return find_image(str(source.get("fingerprint", "")), Image.objects.filter(project=project))

    @atomic_write
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        data = self.request_data()
        if not partial and isinstance(data, dict) and data.get("restore"):
            return self._restore(instance, data["restore"])
        serializer = self.get_serializer(instance, data=data, partial=partial)
        lifecycle = ("instance-updated", instance_url(instance.name, project=self.project_name()))
        if partial:
            # LXD answers an instance PATCH synchronously.
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
            events.emit_lifecycle(*lifecycle, request=request)
            return SyncResponse({})
        save = lambda: self.perform_update(serializer)  # noqa: E731
        return self.operation_response(
            "Updating instance", instance_resources(instance.name), serializer, save, lifecycle=lifecycle
        )

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def _restore(self, instance, name):
        """``PUT {"restore": "SNAP"}``: the snapshot's config, devices, profiles and ephemeral flag."""
        # lxc names the snapshot as INSTANCE/SNAP, pylxd and others by its bare name.
        parent, _, bare = str(name).rpartition("/")
        snapshot = instance.snapshots.filter(name=bare).first() if parent in ("", instance.name) else None
        if snapshot is None:
            raise exceptions.NotFound("Snapshot not found")

        # LXD stops a running (or frozen) instance, restores it and starts it again.
        restarts = instance.status != Instance.STOPPED

        def restore():
            found = {
                profile.name: profile
                for profile in Profile.objects.in_default_project().filter(name__in=snapshot.profiles)
            }
            instance.config = started_config(snapshot.config) if restarts else snapshot.config
            instance.devices = snapshot.devices
            instance.ephemeral = snapshot.ephemeral
            if restarts:
                instance.status = Instance.RUNNING
                instance.last_used_at = timezone.now()
            instance.save(update_fields=["config", "devices", "ephemeral", "status", "last_used_at"])
            set_instance_profiles(instance, [found[name] for name in snapshot.profiles if name in found])
            instance_files.copy_tree(snapshot, instance)
            self.written = instance

        # LXD names the snapshot with its instance in the event.
        lifecycle = [
            (
                "instance-restored",
                instance_url(instance.name, project=self.project_name()),
                {"snapshot": f"{instance.name}/{snapshot.name}"},
            )
        ]
        if restarts:
            lifecycle.insert(0, ("instance-started", instance_url(instance.name, project=self.project_name())))
        return self.operation_response(
            "Restoring snapshot", instance_resources(instance.name), save=restore, lifecycle=lifecycle
        )

    @atomic_write
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        if instance.status != Instance.STOPPED:
            raise exceptions.ParseError("Instance is running")
        lifecycle = deletion_events(instance, self.project_name())
        return self.operation_response(
            "Deleting instance", instance_resources(instance.name), save=instance.delete, lifecycle=lifecycle
        )

    @atomic_write
    def rename(self, request, *args, **kwargs):
        if is_move(self.request_data()):
            return self._move(self.get_object())
        instance = self.get_object()
        old_name = instance.name
        project = self.project_name()
        resources = instance_resources(old_name)
        serializer = self.get_serializer(instance, data=self.request_data())
        if instance.status != Instance.STOPPED:
            # LXD checks the new name (400, 409) before its operation refuses the rename.
            serializer.is_valid(raise_exception=True)
            err = "Renaming of running container not allowed"
            operation = finished_operation(
                "Renaming instance", err=err, resources=resources, project_id=self.operation_project_id()
            )
            return AsyncResponse(operation)

        def renamed():
            return ("instance-renamed", instance_url(serializer.instance.name, project=project), {"old_name": old_name})

        return self.operation_response("Renaming instance", resources, serializer, lifecycle=renamed)

    def _move(self, instance):
        """``lxc move c1 -s POOL`` / ``--target-project P``: done in place (resources/instance_moves.py)."""
        move = InstanceMoveSerializer(data=self.request_data())
        move.is_valid(raise_exception=True)
        resources = instance_resources(instance.name)
        # LXD copies the instance (under a temporary name where a pool move keeps the name),
        # then deletes the original: the events of both, and of a rename back.
        old_name = instance.name
        deleted = deletion_events(instance, self.project_name())
        try:
            move_instance(instance, move.validated_data)
        except MoveRefused as exc:
            err = str(exc)
            return AsyncResponse(
                finished_operation(
                    "Migrating instance", err=err, resources=resources, project_id=self.operation_project_id()
                )
            )
        project = instance.project.name
        renamed = bool(move.validated_data["pool"]) and instance.name == old_name
        copy = f"lxd-move-of-{uuid.uuid4()}" if renamed else instance.name
        lifecycle = [
            ("instance-created", instance_url(copy, project=project), created_context(instance)),
            *(
                ("instance-snapshot-created", instance_url(copy, snapshot.name, project))
                for snapshot in instance.snapshots.order_by("id")
            ),
            *deleted,
        ]
        if renamed:
            lifecycle.append(("instance-renamed", instance_url(instance.name, project=project), {"old_name": copy}))
        return self.operation_response("Migrating instance", resources, save=lambda: None, lifecycle=lifecycle)


def created_context(instance):
    """LXD's context of ``instance-created``: the pool of the root disk, and the instance type."""
    expanded = expand_devices(instance.profile_list(), instance.devices)
    root = next(
        (device for device in expanded.values() if device.get("type") == "disk" and device.get("path") == "/"), {}
    )
    context = {"storage-pool": root["pool"]} if root.get("pool") else {}
    return {**context, "type": instance.type}


class ContainerViewSet(InstanceViewSet):
    """``/1.0/containers``: the same instances; list URLs follow the prefix used."""

    collection_url = "/1.0/containers"
