"""``/1.0/images``: images uploaded as files, found by fingerprint or a unique prefix of it."""

from rest_framework import exceptions
from rest_framework.decorators import action

from .. import images
from ..go import go_quote
from ..models import Image, Operation, Project
from ..operations import AsyncResponse, finished_operation
from ..serializers import ImageETagSerializer, ImageSerializer, find_image
from .async_writes import AsyncDestroyMixin
from .base import InProjectMixin, LifecycleMixin, ListMixin, LXDViewSet, RetrieveMixin, UpdateMixin
from .cached_reads import CachedReadMixin
from .conditional import ConditionalUpdateMixin, conditional_schema
from .reads import InProject, PublicToUntrusted, Shown, requested_project

# LXD's 404 for images and aliases of a project that does not exist.
NO_SUCH_PROJECT = "Check if project has images: fetch project: Project not found"


@conditional_schema(reads=["list", "retrieve", "export"], writes=["update", "partial_update", "destroy"])
class ImageViewSet(
    InProjectMixin,
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
    AsyncDestroyMixin,
    LXDViewSet,
):
    """``/1.0/images``: images uploaded as files, found by fingerprint or prefix (ambiguous: 400)."""

    queryset = Image.objects.all()
    serializer_class = ImageSerializer
    etag_serializer_class = ImageETagSerializer
    # The images of the project the request names (or the default project's, without
    # features.images); LXD shows untrusted clients the public ones only.
    scope = InProject("features.images", inner=PublicToUntrusted("public"), unknown=NO_SUCH_PROJECT)
    lists_name_project = False
    # The profiles in the image's order (names only; the ETag hashes them), and the aliases by age.
    shown = (Shown("profile_links", "profile", ("name",), in_etag=True), Shown("aliases"))
    filter_fields = images.IMAGE_FILTER_FIELDS
    prepared_reads = True
    lifecycle_name = "image"
    lookup_field = "fingerprint"
    collection_url = "/1.0/images"
    not_found_message = "Image not found"
    destroy_description = "Deleting image"
    resource_kind = "images"
    untrusted_read = True

    def read_prepared(self, value):
        # A prefix is found by find_image's LIKE (and its 400 when ambiguous).
        return len(value) == 64 and super().read_prepared(value)

    def lookup_object(self, value):
        return find_image(value, self.get_queryset())

    def create(self, request, *args, **kwargs):
        """Upload: LXD answers 202 and reports a refused file in the failed operation.

        Not one transaction: an upload streams for as long as the client sends, and on SQLite
        that would hold the write lock all that time; it writes its rows in a short one.
        """
        if not Project.objects.filter(name=requested_project(request)).exists():
            raise exceptions.NotFound("Fetch project database object: Project not found")
        operation = images.import_image(request, self.project())
        if operation.status == Operation.SUCCESS:
            image = Image.objects.get(project=self.project(), fingerprint=operation.metadata["fingerprint"])
            self.emit_lifecycle("created", image, {"type": image.type})
        return AsyncResponse(operation)

    def perform_destroy(self, instance):
        super().perform_destroy(instance)
        images.remove_unused_files([instance])

    @action(detail=True, methods=["get"])
    def export(self, request, *args, **kwargs):
        """The image file(s); If-None-Match with the fingerprint answers 304."""
        image = self.get_object()
        return self.conditional_read(image.fingerprint, lambda: images.export_response(image))

    @action(detail=True, methods=["post"])
    def refresh(self, request, *args, **kwargs):
        """lxdsite's images come from uploads, never from a source it could refresh them from."""
        self.get_object()
        name = go_quote(self.kwargs[self.lookup_field])
        err = f"Failed to update image {name} in project {go_quote(self.project_name())}: Image source not found"
        return AsyncResponse(finished_operation("Refreshing image", err=err, project_id=self.project().pk))
