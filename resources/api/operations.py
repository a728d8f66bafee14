"""``/1.0/operations``: operations grouped by status, one operation, ``/wait``, and DELETE to cancel."""

import math
import time

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action

from ..config_keys import ConfigError, go_atoi
from ..envelope import SyncResponse
from ..models import Operation
from ..operations import cancel_operation, operation_url
from ..serializers import OperationSerializer
from .base import LXDViewSet, RetrieveMixin, recursion_level
from .reads import requested_project


def wait_timeout(request):
    """``/wait?timeout=N`` in seconds; absent or -1 waits as long as it takes.

    A non-integer is LXD's Go Atoi error text, as a 400: LXD answers 500, but it is the client's error.
    """
    value = request.query_params.get("timeout", "")
    if not value:
        return -1
    try:
        # Go's Atoi, digit by digit (Python's int() refuses more than 4,300 digits).
        return go_atoi(value)
    except ConfigError as exc:
        raise exceptions.ParseError(str(exc)) from exc


class OperationViewSet(RetrieveMixin, LXDViewSet):
    """``/1.0/operations``: live state, never kept (``/wait`` and cancellation change it)."""

    queryset = Operation.objects.all()
    serializer_class = OperationSerializer
    # A malformed id finds nothing: DRF's get_object_or_404 turns the UUID error into a 404.
    lookup_field = "id"
    collection_url = "/1.0/operations"
    # Cancelling changes an operation's status, and the row stays listed until it expires.
    permission_verbs = {"destroy": "change"}
    not_found_message = "Operation not found"
    # A restricted certificate reads operations (LXD lets any trusted client), never cancels one.
    restricted_read = True
    # How often /wait looks at the row again: the work may run in another worker process.
    wait_poll_interval = 0.05

    def get_queryset(self):
        # Reads hide expired operations; creating an operation deletes them (operations.start_operation).
        return super().get_queryset().unexpired()

    def list(self, request, *args, **kwargs):
        """LXD groups operations by lower-case status: ``{"success": [...], "failure": [...]}``; one
        operation is found by its id in any project."""
        full = recursion_level(request) >= 1
        groups = {}
        # The request's project's operations and the server's own, as LXD lists them.
        project = Q(project__isnull=True) | Q(project__name=requested_project(request))
        for operation in self.get_queryset().filter(project):
            entry = self.get_serializer(operation).data if full else operation_url(operation)
            groups.setdefault(operation.status.lower(), []).append(entry)
        return self.collection_response(groups)

    def destroy(self, request, *args, **kwargs):
        """Cancel a running operation that may be cancelled; LXD's 400 otherwise."""
        cancel_operation(self.get_object())
        return SyncResponse({})

    @extend_schema(parameters=[OpenApiParameter("timeout", OpenApiTypes.INT, description="Seconds; -1: no limit.")])
    @action(detail=True, methods=["get"])
    def wait(self, request, *args, **kwargs):
        """The operation once it is no longer running, or as it is when ``timeout`` runs out."""
        timeout = wait_timeout(request)
        operation = self.get_object()
        deadline = time.monotonic() + timeout if timeout >= 0 else math.inf
        while operation.running and time.monotonic() < deadline:
            time.sleep(min(self.wait_poll_interval, deadline - time.monotonic()))
            try:
                operation.refresh_from_db()
            except Operation.DoesNotExist:
                raise exceptions.NotFound(self.not_found_message) from None
        return self.object_response(operation)
