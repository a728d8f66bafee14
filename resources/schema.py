"""OpenAPI generation tuned to LXD's URLs and LXD's response envelope."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object

# LXD's envelope around every answer (lxd/response.go): ``sync`` and ``async`` for success,
# ``error`` for every failure. Metadata is whatever the object, list or operation is.
_ENVELOPE_FIELDS = {
    "status": {"type": "string"},
    "status_code": {"type": "integer"},
    "operation": {"type": "string"},
    "error_code": {"type": "integer"},
    "error": {"type": "string"},
    "metadata": {},
}
SUCCESS_ENVELOPE = {
    "type": "object",
    "required": ["type", *_ENVELOPE_FIELDS],
    "properties": {"type": {"type": "string", "enum": ["sync", "async"]}, **_ENVELOPE_FIELDS},
}
ERROR_ENVELOPE = {
    "type": "object",
    "required": ["type", *_ENVELOPE_FIELDS],
    "properties": {"type": {"type": "string", "enum": ["error"]}, **_ENVELOPE_FIELDS},
}
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


class LXDAutoSchema(AutoSchema):
    """Operation ids from the viewset action (POST on a collection creates, on an object
    renames), and responses as LXD sends them: every body in LXD's envelope, every error the
    error envelope."""

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
                content = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
                if action not in _FILE_ACTIONS:
                    content = {"application/json": {"schema": SUCCESS_ENVELOPE}}
                response["content"] = content
            elif code != "304":
                response["content"] = {"application/json": {"schema": ERROR_ENVELOPE}}
        responses["default"] = {
            "description": "LXD's error envelope (`error_code` is the HTTP status).",
            "content": {"application/json": {"schema": ERROR_ENVELOPE}},
        }
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>`` (tokens from ``manage.py createtoken``)."""

    target_class = "resources.trust.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
