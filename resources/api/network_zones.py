"""``/1.0/network-zones``: network zones (DNS zones recorded, never served)."""

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS

from ..models import Network, NetworkZone
from ..network_usage import zone_used_by
from ..serializers.network_zones import (
    NOT_FOUND,
    NetworkZoneCreateSerializer,
    NetworkZoneETagSerializer,
    NetworkZoneSerializer,
)
from .base import InProjectMixin, LXDCrudViewSet
from .conditional import conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class NetworkZoneViewSet(InProjectMixin, LXDCrudViewSet):
    """``/1.0/network-zones``: the zones of the project ``?project=`` names (the default
    project's where it lacks ``features.networks``); LXD 5.0.2 renames no zone."""

    queryset = NetworkZone.objects.all()
    scope = InProject("features.networks", unknown="Failed to load project {name}: Project not found")
    serializer_class = NetworkZoneSerializer
    create_serializer_class = NetworkZoneCreateSerializer
    etag_serializer_class = NetworkZoneETagSerializer
    lifecycle_name = "network-zone"
    collection_url = "/1.0/network-zones"
    # LXD's list names no project in its URLs.
    lists_name_project = False
    not_found_message = NOT_FOUND

    @classmethod
    def read_models(cls):
        # used_by reads the networks of the zone's project.
        return {*super().read_models(), Network}

    def show_related(self, objects):
        objects = super().show_related(objects)
        if self.request.method in SAFE_METHODS and objects:
            used = zone_used_by(self.project_name())
            for zone in objects:
                zone.used_by = used.get(zone.name, [])
        return objects

    def perform_destroy(self, instance):
        if zone_used_by(self.project_name()).get(instance.name):
            # LXD answers 500; a zone in use is the client's mistake: 400.
            raise exceptions.ValidationError("Cannot delete a zone that is in use", code="lxd")
        super().perform_destroy(instance)
