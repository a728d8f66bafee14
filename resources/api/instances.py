"""``/1.0/instances`` and ``/1.0/containers``: containers and VMs as records; writes are async, as in LXD."""

from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS

from ..envelope import SyncResponse
from ..instances import INSTANCE_FILTER_FIELDS
from ..models import ImageAlias, Instance, Profile
from ..operations import AsyncResponse, finished_operation
from ..serializers import (
    InstanceCreateSerializer,
    InstanceETagSerializer,
    InstanceFullSerializer,
    InstanceRenameSerializer,
    InstanceSerializer,
    find_image,
    instance_state,
    set_instance_profiles,
)
from .async_writes import OperationMixin, instance_resources
from .base import ListMixin, LXDViewSet, RetrieveMixin, recursion_level
from .cached_reads import CachedReadMixin
from .conditional import ConditionalUpdateMixin, atomic_write, conditional_schema
from .reads import Shown

# The instance's profiles in the order LXD applies them: the ETag hashes them.
PROFILES = Shown("profile_links", "profile", in_etag=True, shared=True)
# Snapshots, in the full answer (recursion=1 on an instance, 2 on the list).
SNAPSHOTS = Shown("snapshots")


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class InstanceViewSet(
    CachedReadMixin,
    ConditionalUpdateMixin,
    OperationMixin,
    ListMixin,
    RetrieveMixin,
    LXDViewSet,
):
    """``/1.0/instances``: containers and VMs as records; writes are async, as in LXD."""

    queryset = Instance.objects.all()
    serializer_class = InstanceSerializer
    create_serializer_class = InstanceCreateSerializer
    rename_serializer_class = InstanceRenameSerializer
    etag_serializer_class = InstanceETagSerializer
    shown = (PROFILES, SNAPSHOTS)
    filter_fields = INSTANCE_FILTER_FIELDS
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
        data = self.request_data()
        image = self._source_image(data.get("source") if isinstance(data, dict) else None)
        serializer = self.get_serializer(data=data, context={**self.get_serializer_context(), "image": image})
        name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else ""
        created = lambda: ("instance-created", self.object_url(serializer.instance))  # noqa: E731
        return self.operation_response("Creating instance", instance_resources(name), serializer, lifecycle=created)

    def _source_image(self, source):
        """The image a create names (by alias or fingerprint prefix), or None for ``none``."""
        source = source if isinstance(source, dict) else {}
        if source.get("type", "none") in ("none", ""):
            return None
        if source.get("type") != "image":
            raise exceptions.ParseError(f"Unknown source type {source.get('type')}")
        if source.get("alias"):
            alias = ImageAlias.objects.select_related("image").filter(name=source["alias"]).first()
            if alias is None:
                raise exceptions.NotFound("Image alias not found")
            return alias.image
        return find_image(str(source.get("fingerprint", "")))

    @atomic_write
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        data = self.request_data()
        if not partial and isinstance(data, dict) and data.get("restore"):
            return self._restore(instance, data["restore"])
        serializer = self.get_serializer(instance, data=data, partial=partial)
        if partial:
            # LXD answers an instance PATCH synchronously.
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
            return SyncResponse({})
        save = lambda: self.perform_update(serializer)  # noqa: E731
        lifecycle = ("instance-updated", self.object_url(instance))
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

        def restore():
            found = {profile.name: profile for profile in Profile.objects.filter(name__in=snapshot.profiles)}
            instance.config = snapshot.config
            instance.devices = snapshot.devices
            instance.ephemeral = snapshot.ephemeral
            instance.save(update_fields=["config", "devices", "ephemeral"])
            set_instance_profiles(instance, [found[name] for name in snapshot.profiles if name in found])
            self.written = instance

        lifecycle = ("instance-restored", self.object_url(instance), {"snapshot": snapshot.name})
        return self.operation_response(
            "Restoring snapshot", instance_resources(instance.name), save=restore, lifecycle=lifecycle
        )

    @atomic_write
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        lifecycle = ("instance-deleted", self.object_url(instance))
        return self.operation_response(
            "Deleting instance", instance_resources(instance.name), save=instance.delete, lifecycle=lifecycle
        )

    @atomic_write
    def rename(self, request, *args, **kwargs):
        instance = self.get_object()
        old_name = instance.name
        serializer = self.get_serializer(instance, data=self.request_data())
        renamed = lambda: ("instance-renamed", self.object_url(serializer.instance), {"old_name": old_name})  # noqa: E731
        return self.operation_response("Renaming instance", instance_resources(old_name), serializer, lifecycle=renamed)

    @action(detail=True, methods=["get"])
    def backups(self, request, *args, **kwargs):
        """Always empty: nothing runs, so nothing is backed up (``lxc info`` lists backups)."""
        self.get_object()
        return SyncResponse([])

    @action(detail=True, methods=["get", "put"])
    def state(self, request, *args, **kwargs):
        """The recorded status; PUT ``{"action": ...}`` moves it, as an async operation."""
        if request.method in SAFE_METHODS:
            # HEAD (and OPTIONS) answer as the GET would, whatever body they carry.
            return SyncResponse(instance_state(self.get_object()))
        return self.change_state(request)

    @atomic_write
    def change_state(self, request):
        """PUT on ``/state``: LXD's start, stop, restart, freeze and unfreeze."""
        instance = self.get_object()
        data = self.request_data()
        action_name = data.get("action") if isinstance(data, dict) else None
        if action_name not in STATE_ACTIONS:
            raise exceptions.ParseError(f"Unknown action {action_name}")
        description, allowed, target, refusal, event = STATE_ACTIONS[action_name]
        resources = instance_resources(instance.name)
        if instance.status not in allowed:
            return AsyncResponse(finished_operation(description, err=refusal, resources=resources))

        def move():
            instance.status = target
            instance.save(update_fields=["status"])

        return self.operation_response(description, resources, save=move, lifecycle=(event, self.object_url(instance)))


# action: (operation description, statuses it starts from, status it ends in, LXD's refusal,
# LXD's lifecycle event)
STATE_ACTIONS = {
    "start": (
        "Starting instance",
        {Instance.STOPPED},
        Instance.RUNNING,
        "The instance is already running",
        "instance-started",
    ),
    "stop": (
        "Stopping instance",
        {Instance.RUNNING, Instance.FROZEN},
        Instance.STOPPED,
        "The instance is already stopped",
        "instance-stopped",
    ),
    "restart": (
        "Restarting instance",
        {Instance.RUNNING},
        Instance.RUNNING,
        "The instance isn't running",
        "instance-restarted",
    ),
    "freeze": (
        "Freezing instance",
        {Instance.RUNNING},
        Instance.FROZEN,
        "The instance isn't running",
        "instance-paused",
    ),
    "unfreeze": (
        "Unfreezing instance",
        {Instance.FROZEN},
        Instance.RUNNING,
        "The instance isn't frozen",
        "instance-resumed",
    ),
}


class ContainerViewSet(InstanceViewSet):
    """``/1.0/containers``: the same instances; list URLs follow the prefix used."""

    collection_url = "/1.0/containers"
