"""``/1.0``: the server's configuration and environment."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from ..envelope import SyncResponse
from ..models import Server
from ..serializers import ServerETagSerializer, ServerSerializer, untrusted_server_info
from ..trust import is_trusted, restricted_projects
from .base import LifecycleMixin, LXDViewSet, RetrieveMixin, UpdateMixin
from .conditional import ConditionalUpdateMixin, conditional_schema
from .reads import Everyone


@conditional_schema(reads=["retrieve"], writes=["update", "partial_update"])
class ServerViewSet(ConditionalUpdateMixin, LifecycleMixin, RetrieveMixin, UpdateMixin, LXDViewSet):
    """``/1.0``: the server's configuration and environment (its answer shows the host: not kept)."""

    queryset = Server.objects.all()
    lookup_field = "pk"
    serializer_class = ServerSerializer
    etag_serializer_class = ServerETagSerializer
    lifecycle_name = "config"
    # Untrusted clients read it too, and see its API facts only (object_response).
    scope = Everyone()
    untrusted_read = True
    # A restricted certificate reads it as a trusted client (``trust.restricted_allows``).
    restricted_read = True

    def object_url(self, instance):
        return "/1.0"

    def object_response(self, instance):
        if restricted_projects(self.request) is not None:
            # LXD shows a restricted certificate the server but not its config (null).
            return SyncResponse({**self.get_serializer(instance).data, "config": None})
        if is_trusted(self.request):
            return super().object_response(instance)
        # LXD shows untrusted clients its API facts only: no config, no environment, no ETag.
        return SyncResponse(untrusted_server_info())


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET", "HEAD"])
@permission_classes([AllowAny])
def api_root(request):
    """``GET /``: the API versions this server speaks, as LXD lists them."""
    return SyncResponse(["/1.0"])
