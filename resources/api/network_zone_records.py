"""``/1.0/network-zones/ZONE/records``: a zone's DNS records (recorded, never served)."""

from rest_framework import exceptions

from ..models import NetworkZone, NetworkZoneRecord
from ..serializers.network_zone_records import (
    NOT_FOUND,
    NetworkZoneRecordCreateSerializer,
    NetworkZoneRecordETagSerializer,
    NetworkZoneRecordSerializer,
)
from ..serializers.network_zones import NOT_FOUND as ZONE_NOT_FOUND
from .base import InProjectMixin, LXDCrudViewSet, escaped
from .conditional import conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class NetworkZoneRecordViewSet(InProjectMixin, LXDCrudViewSet):
    """``/1.0/network-zones/ZONE/records``: the records of a zone of the project ``?project=`` names
    (the default project's where it lacks ``features.networks``), by name; LXD renames none."""

    queryset = NetworkZoneRecord.objects.all()
    scope = InProject(
        "features.networks", path="zone__project", unknown="Failed to load project {name}: Project not found"
    )
    serializer_class = NetworkZoneRecordSerializer
    create_serializer_class = NetworkZoneRecordCreateSerializer
    etag_serializer_class = NetworkZoneRecordETagSerializer
    lifecycle_name = "network-zone-record"
    # LXD's list names no project in its URLs.
    lists_name_project = False
    not_found_message = NOT_FOUND
    selected = ("zone",)

    @classmethod
    def read_models(cls):
        return {*super().read_models(), NetworkZone}

    @property
    def collection_url(self):
        return f"/1.0/network-zones/{escaped(self.kwargs['zone_name'])}/records"

    def url_segment(self, instance):
        # LXD escapes a record's name twice (api.NewURL().Path, then the URL's String()).
        return escaped(escaped(instance.name))

    def parent(self):
        """The zone the URL names, in the effective project, or LXD's 404."""
        if "_parent" not in self.__dict__:
            zone = NetworkZone.objects.filter(project__name=self.project_name(), name=self.kwargs["zone_name"])
            self._parent = zone.first()
            if self._parent is None:
                raise exceptions.NotFound(ZONE_NOT_FOUND)
        return self._parent

    def get_queryset(self):
        return super().get_queryset().filter(zone=self.parent())

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "zone": self.parent()}
