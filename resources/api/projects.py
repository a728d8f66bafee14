"""``/1.0/projects``: LXD projects; a rename is an operation, as in LXD."""

from rest_framework import exceptions
from rest_framework.decorators import action

from ..envelope import SyncResponse
from ..go import go_quote
from ..models import Project, StoragePool, StorageVolume
from ..operations import AsyncResponse, finished_operation
from ..serializers import (
    ProjectCreateSerializer,
    ProjectETagSerializer,
    ProjectRenameSerializer,
    ProjectSerializer,
    check_project_deletable,
    project_state,
)
from .async_writes import OperationMixin
from .base import LXDModelViewSet
from .conditional import atomic_write, conditional_schema
from .reads import OwnProjects, Shown

RENAMING = "Renaming project"


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class ProjectViewSet(OperationMixin, LXDModelViewSet):
    """``/1.0/projects``: LXD projects."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    create_serializer_class = ProjectCreateSerializer
    rename_serializer_class = ProjectRenameSerializer
    etag_serializer_class = ProjectETagSerializer
    # used_by: the instances, profiles and images that live in the project.
    shown = (Shown("instances"), Shown("profiles"), Shown("images"))
    prepared_reads = True
    # A restricted certificate reads its own projects (lxc remote add looks them up).
    scope = OwnProjects()
    restricted_read = True
    restricted_names_project = True
    lifecycle_name = "project"
    collection_url = "/1.0/projects"
    not_found_message = "Project not found"
    not_found_messages = {
        "destroy": "Fetch project {name}: Project not found",
        "state": "Fetch project database object: Project not found",
    }

    @classmethod
    def read_models(cls):
        # used_by names each custom volume with its pool.
        return {*super().read_models(), StoragePool, StorageVolume}

    def perform_update(self, serializer):
        # OperationMixin's save (which LifecycleMixin's is not reached by: its event is sent
        # here), then the written object for the answer's ETag.
        super().perform_update(serializer)
        self.emit_lifecycle("updated", serializer.instance)
        self.written = serializer.instance

    def perform_destroy(self, instance):
        check_project_deletable(instance)
        super().perform_destroy(instance)

    @atomic_write
    def rename(self, request, *args, **kwargs):
        """LXD checks the new name and the project inside the operation: a refusal ends it in Failure."""
        data = self.request_data()
        try:
            project = self.get_object()
        except exceptions.NotFound:
            name = go_quote(self.kwargs["name"])
            err = f"Failed loading project {name}: Project not found"
            return AsyncResponse(finished_operation(RENAMING, err=err, project_id=None))
        old_name = project.name
        serializer = self.get_serializer(project, data=data)
        renamed = lambda: ("project-renamed", self.object_url(project), {"old_name": old_name})  # noqa: E731
        return self.operation_response(RENAMING, None, serializer, lifecycle=renamed)

    def operation_project_id(self):
        # A project's rename is the server's operation, as in LXD (listed in every project).
        return None

    @action(detail=True, methods=["get"])
    def state(self, request, *args, **kwargs):
        """The project's limits (-1: none) and what its instances use of them."""
        return SyncResponse(project_state(self.get_object()))
