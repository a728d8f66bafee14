"""``/1.0/instances/NAME/metadata`` and ``/metadata/templates``: what LXD keeps of an instance's
image metadata and template files (``lxc config metadata``, ``lxc config template``)."""

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS

from .. import instance_metadata
from ..envelope import SyncResponse
from ..go import go_quote
from ..models import InstanceTemplate
from ..serializers.fields import _type_name, lxd_error
from .conditional import atomic_write


class InstanceMetadataMixin:
    """Metadata with LXD's ETag and If-Match (checked under the instance's row lock), templates as files."""

    def get_etag(self, instance):
        # The metadata's own ETag for its requests: its writes' preconditions are checked on it.
        if self.action == "metadata":
            return instance_metadata.metadata_etag(instance)
        return super().get_etag(instance)

    @action(detail=True, methods=["get", "put", "patch"])
    def metadata(self, request, *args, **kwargs):
        """GET the metadata; PUT replaces it, PATCH merges into it."""
        if request.method in SAFE_METHODS:
            instance = self.get_object()
            body = instance_metadata.shown(instance.metadata)
            return self.conditional_read(self.get_etag(instance), lambda: SyncResponse(body))
        return self._write_metadata(request, partial=request.method == "PATCH")

    @atomic_write
    def _write_metadata(self, request, partial):
        data = self.request_data()
        if not isinstance(data, dict):
            kind = _type_name(data)
            raise exceptions.ParseError(f"json: cannot unmarshal {kind} into Go value of type api.ImageMetadata")
        instance = self.get_object()
        serializer = instance_metadata.MetadataSerializer(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance.metadata = instance_metadata.written(instance.metadata, serializer.validated_data, partial=partial)
        instance.save(update_fields=["metadata"])
        self.written = instance
        return SyncResponse({})

    @action(detail=True, methods=["get", "post", "delete"], url_path="metadata/templates")
    def templates(self, request, *args, **kwargs):
        """Without ``?path=``: the template files' names. With it: GET the file, POST its new
        content (the body, as it is), DELETE it."""
        path = request.query_params.get("path")
        if path is None:
            if request.method != "GET":
                raise lxd_error("missing path argument")
            return SyncResponse(sorted(self.get_object().templates.values_list("name", flat=True)))
        if not instance_metadata.is_template_name(path):
            # LXD answers 500 with this text.
            raise lxd_error("Invalid template filename")
        if request.method == "POST":
            return self._store_template(request, path)
        if request.method == "DELETE":
            return self._delete_template(request, path)
        template = self._template(self.get_object(), path)
        response = HttpResponse(bytes(template.content), content_type="application/octet-stream")
        response["Content-Disposition"] = f"inline;filename={path}"
        return response

    @atomic_write
    def _store_template(self, request, path):
        instance = self.get_object()
        InstanceTemplate.objects.update_or_create(instance=instance, name=path, defaults={"content": request.body})
        return SyncResponse({})

    @atomic_write
    def _delete_template(self, request, path):
        self._template(self.get_object(), path).delete()
        return SyncResponse({})

    @staticmethod
    def _template(instance, path):
        template = instance.templates.filter(name=path).first()
        if template is None:
            raise exceptions.NotFound(f"Template {go_quote(path)} not found")
        return template
