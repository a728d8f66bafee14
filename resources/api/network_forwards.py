"""``/1.0/networks/NAME/forwards``: address forwards of managed bridges and OVN networks (recorded, never applied)."""

from rest_framework import exceptions

from ..models import Instance, InstanceProfile, Network, NetworkForward, Profile
from ..serializers.network_forwards import (
    NOT_FOUND,
    NetworkForwardCreateSerializer,
    NetworkForwardETagSerializer,
    NetworkForwardSerializer,
)
from ..serializers.networks import NOT_FOUND as NETWORK_NOT_FOUND
from .base import (
    InProjectMixin,
    LXDCrudViewSet,
    escaped,
)
from .conditional import conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class NetworkForwardViewSet(InProjectMixin, LXDCrudViewSet):
    """``/1.0/networks/NAME/forwards``: the forwards of a managed bridge or OVN network of the project ``?project=``
    names (the default project's where it lacks ``features.networks``), by listen address."""

    queryset = NetworkForward.objects.all()
    scope = InProject(
        "features.networks", path="network__project", unknown="Failed to load project {name}: Project not found"
    )
    serializer_class = NetworkForwardSerializer
    create_serializer_class = NetworkForwardCreateSerializer
    etag_serializer_class = NetworkForwardETagSerializer
    lookup_field = "listen_address"
    lifecycle_name = "network-forward"
    # LXD's list names no project in its URLs.
    lists_name_project = False
    not_found_message = NOT_FOUND
    not_found_messages = {
        "update": f"Failed updating forward: {NOT_FOUND}",
        "partial_update": f"Failed updating forward: {NOT_FOUND}",
        "destroy": f"Failed deleting forward: {NOT_FOUND}",
    }
    selected = ("network",)

    @classmethod
    def read_models(cls):
        return {*super().read_models(), Network, Instance, InstanceProfile, Profile}

    @property
    def collection_url(self):
        return f"/1.0/networks/{escaped(self.kwargs['network_name'])}/forwards"

    def parent(self):
        """The network the URL names, in the effective project: LXD's 404 when there is none, its
        400 for a type without forwards. Read on every path that reads the database (kept answers
        need not)."""
        if "_parent" not in self.__dict__:
            network = Network.objects.filter(project__name=self.project_name(), name=self.kwargs["network_name"])
            self._parent = network.first()
            if self._parent is None:
                raise exceptions.NotFound(NETWORK_NOT_FOUND)
            if self._parent.type not in (Network.BRIDGE, "ovn"):
                message = f'Network driver "{self._parent.type}" does not support forwards'
                raise exceptions.ValidationError(message, code="lxd")
        return self._parent

    def get_queryset(self):
        return super().get_queryset().filter(network=self.parent())

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "network": self.parent()}
