"""``/1.0/networks``: managed networks (recorded, no interface is made) and the host's interfaces."""

from django.http import Http404
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS

from .. import network_state
from ..envelope import SyncResponse
from ..exceptions import NotImplementedMethod
from ..go import go_quote
from ..host_interfaces import interface_exists, interface_names, interface_type
from ..models import Instance, InstanceProfile, Network, Profile, Project
from ..network_usage import Usage
from ..serializers.networks import (
    NOT_FOUND,
    NetworkCreateSerializer,
    NetworkETagSerializer,
    NetworkRenameSerializer,
    NetworkSerializer,
)
from .base import InProjectMixin, LXDModelViewSet, recursion_level
from .conditional import conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class NetworkViewSet(InProjectMixin, LXDModelViewSet):
    """``/1.0/networks``: the networks of the project ``?project=`` names (the default project's
    where it lacks ``features.networks``), and in the default project the host's interfaces,
    shown as unmanaged networks."""

    queryset = Network.objects.all()
    scope = InProject("features.networks", unknown="Failed to load project {name}: Project not found")
    serializer_class = NetworkSerializer
    create_serializer_class = NetworkCreateSerializer
    rename_serializer_class = NetworkRenameSerializer
    etag_serializer_class = NetworkETagSerializer
    lifecycle_name = "network"
    collection_url = "/1.0/networks"
    # LXD's list names no project in its URLs.
    lists_name_project = False
    not_found_message = NOT_FOUND
    not_found_messages = {"retrieve": "Network not found", "state": "Network interface {name} not found"}

    @classmethod
    def read_models(cls):
        # used_by reads every profile's and instance's devices.
        return {*super().read_models(), Instance, InstanceProfile, Profile, Project}

    def host_networks(self, managed_names=()):
        """The host's interfaces as unmanaged networks, where the effective project is the default."""
        if self.project_name() != Project.DEFAULT_NAME:
            return []
        return [
            Network(name=name, type=interface_type(name)) for name in interface_names() if name not in managed_names
        ]

    def lookup_object(self, value):
        try:
            return super().lookup_object(value)
        except Http404:
            # Only reads find a host interface: LXD loads a managed network for every write.
            unmanaged = self.action in ("retrieve", "state") and self.project_name() == Project.DEFAULT_NAME
            if unmanaged and not value.startswith("veth") and interface_exists(value):
                return Network(name=value, type=interface_type(value))
            raise

    def show_related(self, objects):
        objects = super().show_related(objects)
        if self.request.method in SAFE_METHODS and self.action != "state":
            usage = Usage.read()
            for network in objects:
                if network.type != "loopback":
                    network.used_by = usage.used_by(network.name, network.type, self.project_name())
        return objects

    def list(self, request, *args, **kwargs):
        return self.cached_read(lambda: self.list_networks(request))

    def list_networks(self, request):
        """Managed networks in the order they were made, then the host's other interfaces."""
        managed = list(self.get_queryset())
        networks = managed + self.host_networks({network.name for network in managed})
        if recursion_level(request) < 1:
            return self.collection_response([self.listed_url(network) for network in networks])
        return self.collection_response(self.get_serializer(self.show_related(networks), many=True).data)

    def in_use(self, network):
        """Whether anything uses the network (LXD's IsUsed)."""
        return bool(Usage.read().used_by(network.name, network.type, self.project_name()))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "in_use": self.in_use}

    def perform_destroy(self, instance):
        if self.in_use(instance):
            raise exceptions.ValidationError("The network is currently in use", code="lxd")
        super().perform_destroy(instance)

    @action(detail=True, methods=["get"])
    def state(self, request, *args, **kwargs):
        """The network's interface as LXD reports it: made up for a managed bridge, read for a host interface."""
        network = self.get_object()
        state = network_state.state(network)
        if state is None:
            raise exceptions.NotFound(f"Network interface {go_quote(network.name)} not found")
        return SyncResponse(state)

    @action(detail=True, methods=["get"])
    def leases(self, request, *args, **kwargs):
        """A bridge's or OVN network's gateway addresses, a bridge's instances' static addresses; no DHCP runs here."""
        network = self.get_object()
        if network.type not in (Network.BRIDGE, "ovn"):
            raise NotImplementedMethod("Not implemented")
        return SyncResponse(network_state.leases(network, self.requested_project(), Usage.read()))

    def requested_project(self):
        """The project the request names (leases are filtered by it, not by the effective one)."""
        return self.scope_key()[1]
