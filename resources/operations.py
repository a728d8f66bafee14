"""Background operations and the events stream, as far as finished work needs them.

LXD answers slow requests (image upload and delete, instance changes) with ``202`` and an
operation the client then polls. lxdsite does the work inside the request, so the operation
it answers with has already ended ``Success`` or ``Failure``; ``GET /1.0/operations/<id>``
and ``/wait`` return it at once. ``lxc`` opens ``/1.0/events`` before every such call: a
WebSocket that is accepted and then stays silent is all it needs.
"""

import contextlib

import simple_websocket
from django.db import connections
from django.http import HttpResponse
from rest_framework import status
from rest_framework.response import Response

from .envelope import to_json_bytes
from .exceptions import error_envelope
from .models import Operation
from .serializers import OperationSerializer
from .trust import LISTENER_KEY, BearerTokenAuthentication


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


def finished_operation(description, *, err="", resources=None, metadata=None):
    """Record work done within the request as an ended operation (``Failure`` when ``err`` is set)."""
    operation = Operation(description=description, resources=resources)
    operation.finish(err=err, metadata=metadata)
    operation.save()
    return operation


class _SilentWebSocketResponse(HttpResponse):
    """What a WebSocket view returns: the socket is already answered, so gunicorn must write nothing.

    Gunicorn closes the connection without writing when iterating the response raises
    ``StopIteration`` (as Flask-Sock does for simple-websocket).
    """

    def __iter__(self):
        raise StopIteration


JSON = "application/json"


def _trusted(request):
    """Events are for trusted clients: the unix socket, or TCP with an API token (see ``trust``)."""
    return request.META.get(LISTENER_KEY) == "unix" or BearerTokenAuthentication().authenticate(request) is not None


def events(request):
    """``GET /1.0/events``: accept the WebSocket, send nothing, return when the client closes.

    The thread stays on this connection as long as the client keeps it, so it first gives
    back its database connection: a parked listener must not hold one.
    """
    if not _trusted(request):
        return HttpResponse(to_json_bytes(error_envelope(403, "not authorized")), status=403, content_type=JSON)
    connections.close_all()
    if request.META.get("HTTP_UPGRADE", "").lower() != "websocket" or "gunicorn.socket" not in request.META:
        body = to_json_bytes(error_envelope(400, "Missing websocket upgrade"))
        return HttpResponse(body, status=400, content_type=JSON)
    ws = simple_websocket.Server.accept(request.environ)
    with contextlib.suppress(simple_websocket.ConnectionClosed):
        while ws.connected:
            ws.receive(timeout=60)
    return _SilentWebSocketResponse()
