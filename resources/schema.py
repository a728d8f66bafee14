"""OpenAPI generation tuned to LXD's URLs."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class LXDAutoSchema(AutoSchema):
    """Operation ids from the viewset action: POST on a collection creates, on an object renames."""

    def get_operation_id(self):
        action = getattr(self.view, "action", None)
        if not action:
            return super().get_operation_id()
        # One action serving several methods (GET and PUT .../state) gets one id per method.
        if list(getattr(self.view, "action_map", {}).values()).count(action) > 1:
            action = f"{action}_{self.method.lower()}"
        return "_".join([*(token.replace("-", "_") for token in self._tokenize_path()), action])


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>`` (tokens from ``manage.py createtoken``)."""

    target_class = "resources.trust.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
