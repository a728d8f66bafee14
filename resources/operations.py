"""Background operations: the rows behind ``/1.0/operations`` and LXD's async answers.

LXD answers slow requests (image upload and delete, instance changes) with ``202`` and an
operation the client then polls or waits for. lxdsite mostly does the work inside the
request, so the operation it answers with has already ended ``Success`` or ``Failure``
(``finished_operation``); work that outlives the request uses ``start_operation`` and
``end_operation``. Every start and end is an ``operation`` event on ``/1.0/events``.
"""

from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response

from . import events
from .models import Operation, Project
from .serializers import OperationSerializer


def operation_url(operation):
    return f"/1.0/operations/{operation.id}"


class AsyncResponse(Response):
    """202 + Location: LXD's async envelope around the operation doing the work."""

    def __init__(self, operation):
        url = operation_url(operation)
        body = {
            "type": "async",
            "status": "Operation created",
            "status_code": 100,
            "operation": url,
            "error_code": 0,
            "error": "",
            "metadata": OperationSerializer(operation).data,
        }
        super().__init__(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


def start_operation(
    description,
    *,
    resources=None,
    may_cancel=False,
    project_id=Project.DEFAULT_ID,
    operation_class="task",
    metadata=None,
):
    """A new ``Running`` operation of project ``project_id`` (None: the server's own, listed in
    every project, as LXD lists them); finished operations past their expiry are deleted on the way."""
    Operation.objects.expired().delete()
    operation = Operation.objects.create(
        description=description,
        resources=resources,
        may_cancel=may_cancel,
        project_id=project_id,
        operation_class=operation_class,
        metadata=metadata,
    )
    events.emit_operation(operation)
    return operation


def end_operation(operation, *, err="", metadata=None):
    """End a running operation ``Success`` (``Failure`` with ``err``); a cancelled one stays cancelled."""
    operation.finish(err=err, metadata=metadata)
    operation.updated_at = timezone.now()
    ended = Operation.objects.filter(pk=operation.pk, status=Operation.RUNNING).update(
        status=operation.status,
        status_code=operation.status_code,
        err=operation.err,
        metadata=operation.metadata,
        updated_at=operation.updated_at,
    )
    if ended:
        events.emit_operation(operation)
    else:
        operation.refresh_from_db()
    return operation


def finished_operation(description, *, err="", resources=None, metadata=None, project_id=Project.DEFAULT_ID):
    """Record work done within the request as an ended operation (``Failure`` when ``err`` is set)."""
    operation = start_operation(description, resources=resources, project_id=project_id)
    return end_operation(operation, err=err, metadata=metadata)


def cancel_operation(operation):
    """``DELETE /1.0/operations/<id>``: cancel it, or refuse with LXD's 400 texts."""
    if operation.may_cancel and operation.running:
        cancelled = Operation.objects.filter(pk=operation.pk, status=Operation.RUNNING).update(
            status=Operation.CANCELLED,
            status_code=Operation.STATUS_CODES[Operation.CANCELLED],
            updated_at=timezone.now(),
        )
        operation.refresh_from_db()
        if cancelled:
            events.emit_operation(operation)
            return
    if not operation.running:
        raise exceptions.ParseError("Only running operations can be cancelled")
    raise exceptions.ParseError("This operation can't be cancelled")
