"""OpenAPI generation tuned to LXD's URLs."""

from drf_spectacular.openapi import AutoSchema


class LXDAutoSchema(AutoSchema):
    """Operation ids from the viewset action: POST on a collection creates, on an object renames."""

    def get_operation_id(self):
        action = getattr(self.view, "action", None)
        if not action:
            return super().get_operation_id()
        return "_".join([*(token.replace("-", "_") for token in self._tokenize_path()), action])
