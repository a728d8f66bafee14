"""Writes LXD answers with 202 and an operation: the work is done before answering."""

from rest_framework import exceptions

from .. import events
from ..exceptions import first_message
from ..models import Project
from ..operations import AsyncResponse, finished_operation
from ..serializers import fails_in_operation
from .base import InProjectMixin, escaped
from .conditional import atomic_write


def instance_url(name, snapshot=None, project=Project.DEFAULT_NAME):
    """An instance's (or its snapshot's) URL as LXD's events name it, whichever prefix the request
    used: with ``?project=`` outside the default project (an operation's ``resources`` name none)."""
    path = f"/1.0/instances/{escaped(name)}" + (f"/snapshots/{escaped(snapshot)}" if snapshot else "")
    return path + Project.url_query(project)


def instance_resources(name, snapshot=None):
    """An operation's ``resources`` for an instance (LXD lists both URL forms)."""
    path = escaped(name) + (f"/snapshots/{escaped(snapshot)}" if snapshot else "")
    return {"containers": [f"/1.0/containers/{path}"], "instances": [f"/1.0/instances/{path}"]}


class OperationMixin:
    """Writes answered with 202 and the (ended) operation, as LXD answers them.

    Malformed requests and failed preconditions are answered at once (4xx), as LXD does;
    a request LXD accepts and then refuses ends its operation in ``Failure`` with LXD's
    text, and nothing is stored.
    """

    def operation_project_id(self):
        """The project the operations of this request belong to: the one the request names
        where the resource lives in projects (``InProjectMixin``), else the default project."""
        if isinstance(self, InProjectMixin) and self.project_name() != Project.DEFAULT_NAME:
            return self.project().pk
        return Project.DEFAULT_ID

    def operation_response(self, description, resources, serializer=None, save=None, lifecycle=None):
        """Validate and save through ``serializer`` (or run ``save``), answering with the operation.

        ``lifecycle`` is ``(action, source)`` or ``(action, source, context)``, a list of them, or a
        function of nothing returning either, for the lifecycle events LXD sends once the work
        succeeded (in LXD's order).
        """
        if serializer is not None:
            if not serializer.is_valid():
                if not fails_in_operation(serializer.errors):
                    raise exceptions.ValidationError(serializer.errors)
                err = first_message(serializer.errors)
                operation = finished_operation(
                    description, err=err, resources=resources, project_id=self.operation_project_id()
                )
                return AsyncResponse(operation)
            save = save or serializer.save
        save()
        lifecycle = lifecycle() if callable(lifecycle) else lifecycle
        for action_name, source, *context in [lifecycle] if isinstance(lifecycle, tuple) else lifecycle or []:
            events.emit_lifecycle(action_name, source, context=context[0] if context else None, request=self.request)
        return AsyncResponse(
            finished_operation(description, resources=resources, project_id=self.operation_project_id())
        )

    def perform_update(self, serializer):
        serializer.save()


class AsyncDestroyMixin:
    """DELETE answered with 202 and the (ended) operation, as LXD deletes images."""

    destroy_description = ""
    resource_kind = ""

    @atomic_write
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        url = self.object_url(instance)
        self.perform_destroy(instance)
        return AsyncResponse(finished_operation(self.destroy_description, resources={self.resource_kind: [url]}))

    def perform_destroy(self, instance):
        instance.delete()
