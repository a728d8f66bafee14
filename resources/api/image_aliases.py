"""``/1.0/images/aliases``: names for images."""

from ..models import ImageAlias
from ..serializers import (
    ImageAliasCreateSerializer,
    ImageAliasETagSerializer,
    ImageAliasRenameSerializer,
    ImageAliasSerializer,
)
from .base import InProjectMixin, LXDModelViewSet
from .conditional import conditional_schema
from .images import NO_SUCH_PROJECT
from .reads import InProject, PublicToUntrusted


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class ImageAliasViewSet(InProjectMixin, LXDModelViewSet):
    """``/1.0/images/aliases``: names for images."""

    queryset = ImageAlias.objects.all()
    serializer_class = ImageAliasSerializer
    create_serializer_class = ImageAliasCreateSerializer
    rename_serializer_class = ImageAliasRenameSerializer
    etag_serializer_class = ImageAliasETagSerializer
    # The aliases of the project the request names (or the default project's, without
    # features.images); untrusted clients see those of public images only, as LXD shows them.
    scope = InProject("features.images", inner=PublicToUntrusted("image__public"), unknown=NO_SUCH_PROJECT)
    lists_name_project = False
    # The target is the image's fingerprint: one join, not a query per alias.
    selected = ("image",)
    lifecycle_name = "image-alias"
    collection_url = "/1.0/images/aliases"
    not_found_message = "Image alias not found"
    untrusted_read = True

    def lifecycle_context(self, verb, instance):
        # LXD names the target image when an alias is created or updated.
        if verb in ("created", "updated"):
            return {"target": instance.image.fingerprint}
        return None
