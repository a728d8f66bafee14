"""OpenAPI generation tuned to LXD's URLs, LXD's response envelope and lxdsite's ETags.

Every answer is documented in LXD's envelope (components ``SyncResponse``, ``AsyncResponse``
with its ``Operation``, ``ErrorResponse``); the ``ETag`` header where lxdsite sends one; the
``recursion`` and ``filter`` parameters where the view reads them; and ``/1.0/events``, a
WebSocket outside DRF, by a postprocessing hook (``document_events``).
"""

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from .api.reads import InProject
from .events import EVENT_TYPES

# LXD's envelope around every answer (lxd/response.go): ``sync`` and ``async`` for success,
# ``error`` for every failure.
_ENVELOPE_FIELDS = {
    "status": {"type": "string", "description": "`Success`, `Operation created` (async), or empty (error)."},
    "status_code": {"type": "integer", "description": "200 (sync), 100 (async), 0 (error)."},
    "operation": {"type": "string", "description": "The operation's URL (async), else empty."},
    "error_code": {"type": "integer", "description": "The HTTP status of an error, else 0."},
    "error": {"type": "string", "description": "LXD's error text, else empty."},
}
OPERATION = {
    "type": "object",
    "description": "A background operation (`/1.0/operations/{id}`).",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "class": {"type": "string", "enum": ["task", "websocket", "token"]},
        "description": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "example": "Running"},
        "status_code": {"type": "integer", "example": 103},
        "resources": {
            "type": "object",
            "nullable": True,
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "The URLs of what the operation works on, by kind.",
        },
        "metadata": {"type": "object", "nullable": True, "additionalProperties": {}},
        "may_cancel": {"type": "boolean"},
        "err": {"type": "string"},
        "location": {"type": "string"},
    },
}


def _envelope_schema(kind, description, **fields):
    return {
        "type": "object",
        "description": description,
        "required": ["type", *_ENVELOPE_FIELDS, "metadata"],
        "properties": {"type": {"type": "string", "enum": [kind]}, **_ENVELOPE_FIELDS, **fields},
    }


SYNC_ENVELOPE = _envelope_schema(
    "sync",
    "LXD's answer with data: `metadata` is the object, the list (URLs, or objects with "
    "`recursion=1`), or null after a create.",
    metadata={"nullable": True, "description": "What the request asked for."},
)
ASYNC_ENVELOPE = _envelope_schema(
    "async",
    "LXD's answer for work that goes on after it (HTTP 202): follow `operation` "
    "(`GET {operation}/wait`) or listen on `/1.0/events?type=operation`.",
    metadata={"$ref": "#/components/schemas/OperationMetadata"},
)
ERROR_ENVELOPE = _envelope_schema(
    "error",
    "LXD's answer for every failure; `error_code` is the HTTP status.",
    metadata={"nullable": True, "description": "null, or details of the failure."},
)
ENVELOPE_COMPONENTS = {
    "SyncResponse": SYNC_ENVELOPE,
    "AsyncResponse": ASYNC_ENVELOPE,
    "ErrorResponse": ERROR_ENVELOPE,
    "OperationMetadata": OPERATION,
}
ETAG_HEADER = {
    "ETag": {
        "description": "The version of what the answer shows (lists: of the whole list). Send it back as "
        "`If-Match` to write only over this version, or as `If-None-Match` to read only a newer one.",
        "schema": {"type": "string", "example": '"140e9b55a9dd8a71af6331a1d3d436da60bb5e6e70cb840e828077d4746fe60e"'},
    }
}
RECURSION = OpenApiParameter(
    "recursion",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    enum=[0, 1, 2],
    description="0 (default): the list's URLs. 1: the objects. 2: instances with their state and snapshots. "
    "On an instance, 1 adds its state and snapshots. A value that is not a number counts as 0.",
)
FILTER = OpenApiParameter(
    "filter",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="LXD's filter language over the list: `field eq value`, `ne`, `and`, `or`, `not`, parentheses; "
    "nested fields with dots (`config.image.os eq Alpine`). A bad filter answers 400.",
)
PROJECT = OpenApiParameter(
    "project",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="The project the objects live in (default: `default`). A project without its own profiles "
    "or images (`features.profiles`, `features.images` false) uses the default project's. An unknown "
    "project answers 404 with LXD's text (an instance list: an empty list).",
)
ALL_PROJECTS = OpenApiParameter(
    "all-projects",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description="Every project's objects (their URLs carry `?project=` outside the default project). "
    "Naming a `project` as well answers 400.",
)
# Success codes by action beyond the method's own: LXD answers a create or rename 201 when it
# is done at once and 202 with an operation when it runs as one (images, instances,
# snapshots), a delete 200 or 202, and instance state changes and refreshes 202.
_SUCCESS_CODES = {
    "create": ("201", "202"),
    "rename": ("201", "202"),
    "destroy": ("200", "202"),
    "state_put": ("202",),
    "refresh": ("202",),
}
# Answers with a body that is not JSON: image files.
_FILE_ACTIONS = {"export"}
# Swagger UI's one-line summaries; the description below them is the view's docstring.
_SUMMARIES = {
    "list": "List the {plural}",
    "retrieve": "Show {article} {singular}",
    "create": "Create {article} {singular}",
    "update": "Replace {article} {singular}'s writable fields (PUT)",
    "partial_update": "Change some fields of {article} {singular} (PATCH)",
    "destroy": "Delete {article} {singular}",
    "rename": "Rename {article} {singular}",
}
# Writes whose 200 carries the written object's ETag (a create, rename or delete has none).
_WRITES_WITH_ETAG = {"update", "partial_update"}


class LXDAutoSchema(AutoSchema):
    """Operation ids from the viewset action (POST on a collection creates, on an object
    renames), and responses as LXD sends them: every body in LXD's envelope, every error the
    error envelope, the ETag header where lxdsite sends one."""

    def get_operation_id(self):
        action = self._action_id()
        if not action:
            return super().get_operation_id()
        return "_".join([*(token.replace("-", "_") for token in self._tokenize_path()), action])

    def _action_id(self):
        """The viewset action; one action serving several methods (GET and PUT .../state) gets one per method."""
        action = getattr(self.view, "action", None)
        if action and list(getattr(self.view, "action_map", {}).values()).count(action) > 1:
            action = f"{action}_{self.method.lower()}"
        return action

    def get_summary(self):
        """``Show a profile``, ``Replace the server configuration's writable fields (PUT)``: what an operation does."""
        action = getattr(self.view, "action", None)
        queryset = getattr(self.view, "queryset", None)
        if action not in _SUMMARIES or queryset is None:
            return super().get_summary()
        meta = queryset.model._meta
        if (meta.model_name, action) == ("operation", "destroy"):
            return "Cancel a running operation"
        # A path naming no object is the singleton's (``/1.0``).
        article = "the"
        if "{" in self.path or action in ("list", "create"):
            article = "an" if meta.verbose_name[0] in "aeiou" else "a"
        return _SUMMARIES[action].format(article=article, singular=meta.verbose_name, plural=meta.verbose_name_plural)

    def get_tags(self):
        """The resource of a path (``/1.0/images/aliases``: ``images``); ``/`` and ``/1.0`` are the server."""
        segments = self.path.strip("/").split("/")
        return [segments[1] if len(segments) > 1 else "server"]

    def get_override_parameters(self):
        """``recursion`` where the view reads it (lists; an instance), ``filter`` on lists that have
        one, ``project`` on every route of a resource that lives in projects, ``all-projects`` on the
        lists that take it."""
        parameters = list(super().get_override_parameters())
        if isinstance(getattr(self.view, "scope", None), InProject):
            parameters.append(PROJECT)
        action = getattr(self.view, "action", None)
        if action == "list" and getattr(self.view, "lists_all_projects", False):
            parameters.append(ALL_PROJECTS)
        if action == "list" or (action == "retrieve" and hasattr(self.view, "full")):
            parameters.append(RECURSION)
        if action == "list" and getattr(self.view, "filter_fields", None) is not None:
            parameters.append(FILTER)
        return parameters

    def _envelope(self, name):
        """A reference to one of LXD's envelopes, registering the components once (copies: the
        enum hook rewrites the schemas it is given)."""
        for component_name, schema in ENVELOPE_COMPONENTS.items():
            self.registry.register_on_missing(
                ResolvedComponent(
                    component_name, ResolvedComponent.SCHEMA, object=component_name, schema=copy.deepcopy(schema)
                )
            )
        return {"$ref": f"#/components/schemas/{name}"}

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        action = self._action_id()
        codes = [code for code in responses if code.startswith("2")]
        for code in _SUCCESS_CODES.get(action, ()):
            responses.setdefault(code, {"description": ""})
        if action not in _SUCCESS_CODES:
            codes = codes or ["200"]
        else:
            # The serializer introspection documents the request body as the answer: drop it.
            for code in codes:
                if code not in _SUCCESS_CODES[action]:
                    del responses[code]
        for code, response in responses.items():
            if code.startswith("2"):
                if action in _FILE_ACTIONS:
                    schema = {"type": "string", "format": "binary"}
                    response["content"] = {"application/octet-stream": {"schema": schema}}
                else:
                    envelope = self._envelope("AsyncResponse" if code == "202" else "SyncResponse")
                    response["content"] = {"application/json": {"schema": envelope}}
                    if code == "202":
                        response["description"] = response.get("description") or "An operation was started."
            elif code != "304":
                response["content"] = {"application/json": {"schema": self._envelope("ErrorResponse")}}
        # Conditional reads (those that can answer 304) and PUT/PATCH send the ETag.
        if "200" in responses and action not in _FILE_ACTIONS and ("304" in responses or action in _WRITES_WITH_ETAG):
            responses["200"]["headers"] = ETAG_HEADER
        responses["default"] = {
            "description": "LXD's error envelope (`error_code` is the HTTP status).",
            "content": {"application/json": {"schema": self._envelope("ErrorResponse")}},
        }
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>`` (tokens from ``manage.py createtoken``)."""

    target_class = "resources.trust.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")


# /1.0/events --------------------------------------------------------------------------------

EVENT = {
    "type": "object",
    "description": "One WebSocket text message: one JSON object and a newline.",
    "properties": {
        "type": {"type": "string", "enum": list(EVENT_TYPES)},
        "timestamp": {"type": "string", "format": "date-time"},
        "metadata": {
            "type": "object",
            "additionalProperties": {},
            "description": "`operation`: the operation (as `OperationMetadata`). `lifecycle`: `action` "
            "(e.g. `profile-updated`), `source` (the object's URL), `context` and `requestor`.",
        },
        "location": {"type": "string", "example": "none"},
        "project": {"type": "string", "example": "default"},
    },
}


def _header(name, value, description):
    return {
        "in": "header",
        "name": name,
        "required": True,
        "schema": {"type": "string", "enum": [value]} if value else {"type": "string"},
        "description": description,
    }


EVENTS_OPERATION = {
    "operationId": "1.0_events",
    "summary": "LXD's event stream (WebSocket)",
    "description": (
        "A WebSocket (RFC 6455): the client sends a GET with `Upgrade: websocket`, the server "
        "answers 101 and then sends every event of the asked types as one text message each "
        "(schema `Event`), until either side closes. It sends no message of its own; what "
        "the client sends is ignored.\n\n"
        "`lxc monitor` and pylxd's `client.events()` speak it; with websocat: "
        "`websocat --unix-socket ws://localhost/1.0/events?type=lifecycle` on the unix socket. "
        "Swagger UI cannot open it: a browser's fetch cannot send the upgrade."
    ),
    "tags": ["events"],
    "parameters": [
        {
            "in": "query",
            "name": "type",
            "schema": {"type": "string", "example": "operation,lifecycle"},
            "description": "Comma-separated event types to receive: "
            + ", ".join(f"`{name}`" for name in EVENT_TYPES)
            + " (default: all). lxdsite sends no `logging` events. An unknown type answers 400.",
        },
        _header("Connection", "Upgrade", "With `Upgrade`."),
        _header("Upgrade", "websocket", "The protocol asked for."),
        _header("Sec-WebSocket-Version", "13", "RFC 6455's version."),
        _header("Sec-WebSocket-Key", "", "16 random bytes in base64 (RFC 6455)."),
    ],
    "security": [{"bearerToken": []}, {"cookieAuth": []}],
    "responses": {
        "101": {
            "description": "Switching Protocols: event messages follow, each an `Event`.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}},
        },
        "400": {
            "description": "Not a WebSocket upgrade (`Missing websocket upgrade`), or an unknown `type`.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        },
        "403": {
            "description": "Not trusted (a TCP client without a token or a staff session).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        },
    },
}


def document_events(result, generator, request, public):
    """drf-spectacular postprocessing hook: ``/1.0/events``, a plain Django view serving a WebSocket."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ENVELOPE_COMPONENTS.items():
        schemas.setdefault(name, copy.deepcopy(schema))
    schemas["Event"] = copy.deepcopy(EVENT)
    result["paths"]["/1.0/events"] = {"get": copy.deepcopy(EVENTS_OPERATION)}
    result["paths"] = dict(sorted(result["paths"].items()))
    return result
