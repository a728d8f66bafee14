"""``/1.0/instances/NAME/snapshots`` (and ``/1.0/containers/...``): snapshots; every write is async."""

from rest_framework import exceptions

from ..instance_copies import missing_snapshot
from ..models import Instance, Snapshot
from ..project_limits import check_snapshot_create
from ..serializers import (
    SnapshotCreateSerializer,
    SnapshotETagSerializer,
    SnapshotRenameSerializer,
    SnapshotSerializer,
)
from ..serializers.fields import judged_by_project
from .async_writes import OperationMixin, instance_resources, instance_url
from .base import InProjectMixin, ListMixin, LXDViewSet, RetrieveMixin, escaped
from .cached_reads import CachedReadMixin
from .conditional import ConditionalUpdateMixin, atomic_write, conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class SnapshotViewSet(
    InProjectMixin, CachedReadMixin, ConditionalUpdateMixin, OperationMixin, ListMixin, RetrieveMixin, LXDViewSet
):
    """``/1.0/instances/NAME/snapshots``: snapshots; every write is async, as in LXD."""

    queryset = Snapshot.objects.all()
    # The snapshots of the instance of the project the request names.
    scope = InProject(path="instance__project", unknown=None)
    serializer_class = SnapshotSerializer
    create_serializer_class = SnapshotCreateSerializer
    rename_serializer_class = SnapshotRenameSerializer
    etag_serializer_class = SnapshotETagSerializer
    # The parent instance, named by the URL.
    selected = ("instance",)
    prefix = "/1.0/instances"

    def not_found(self, value):
        """LXD's 404: the instance's when there is none, else naming the snapshot, instance and project."""
        # An instance name with NUL names none (PostgreSQL cannot even compare it).
        if "\x00" in self.kwargs["instance_name"] or not self._instances().exists():
            return exceptions.NotFound("Instance not found")
        return exceptions.NotFound(missing_snapshot(value, self.kwargs["instance_name"], self.project_name()))

    @property
    def collection_url(self):
        return f"{self.prefix}/{escaped(self.kwargs['instance_name'])}/snapshots"

    def parent(self):
        """The instance the URL names (404 when there is none), locked until the write commits:
        a concurrent delete of it then waits, or has happened (404)."""
        instance = self._instances().select_for_update().first()
        if instance is None:
            raise exceptions.NotFound("Instance not found")
        return instance

    def collection_response(self, metadata):
        # An instance without snapshots and no instance both list nothing: LXD answers the latter 404.
        if not metadata and not self._instances().exists():
            raise exceptions.NotFound("Instance not found")
        return super().collection_response(metadata)

    def _instances(self):
        """The instance the URL names, in the request's project."""
        return Instance.objects.filter(project__name=self.project_name(), name=self.kwargs["instance_name"])

    def get_queryset(self):
        return super().get_queryset().filter(instance__name=self.kwargs["instance_name"])

    @atomic_write
    def create(self, request, *args, **kwargs):
        instance = self.parent()
        judged_by_project(check_snapshot_create, instance.project)
        context = {**self.get_serializer_context(), "instance": instance}
        serializer = self.get_serializer(data=self.request_data(), context=context)

        def created():
            events = [
                (
                    "instance-snapshot-created",
                    instance_url(instance.name, serializer.instance.name, project=self.project_name()),
                )
            ]
            if instance.status == Instance.RUNNING:
                # LXD freezes a running container while it copies it (on dir pools), and reports it after.
                events += [
                    (name, instance_url(instance.name, project=self.project_name()))
                    for name in ("instance-paused", "instance-resumed")
                ]
            return events

        return self.operation_response(
            "Snapshotting instance", instance_resources(instance.name), serializer, lifecycle=created
        )

    @atomic_write
    def update(self, request, *args, **kwargs):
        snapshot = self.get_object()
        # LXD's PUT only touches what the body carries, like a PATCH.
        serializer = self.get_serializer(snapshot, data=self.request_data(), partial=True)
        resources = instance_resources(snapshot.instance.name, snapshot.name)
        lifecycle = (
            "instance-snapshot-updated",
            instance_url(snapshot.instance.name, snapshot.name, project=self.project_name()),
        )
        save = lambda: self.perform_update(serializer)  # noqa: E731
        return self.operation_response("Updating snapshot", resources, serializer, save, lifecycle=lifecycle)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    @atomic_write
    def destroy(self, request, *args, **kwargs):
        snapshot = self.get_object()
        resources = instance_resources(snapshot.instance.name, snapshot.name)
        lifecycle = (
            "instance-snapshot-deleted",
            instance_url(snapshot.instance.name, snapshot.name, project=self.project_name()),
        )
        return self.operation_response("Deleting snapshot", resources, save=snapshot.delete, lifecycle=lifecycle)

    @atomic_write
    def rename(self, request, *args, **kwargs):
        snapshot = self.get_object()
        old_name = snapshot.name
        serializer = self.get_serializer(snapshot, data=self.request_data())
        resources = instance_resources(snapshot.instance.name, old_name)
        # LXD names the old snapshot with its instance.
        context = {"old_name": f"{snapshot.instance.name}/{old_name}"}
        url = lambda: instance_url(snapshot.instance.name, serializer.instance.name, project=self.project_name())  # noqa: E731
        renamed = lambda: ("instance-snapshot-renamed", url(), context)  # noqa: E731
        return self.operation_response("Renaming snapshot", resources, serializer, lifecycle=renamed)


class ContainerSnapshotViewSet(SnapshotViewSet):
    """``/1.0/containers/NAME/snapshots``."""

    prefix = "/1.0/containers"
