"""``/1.0/networks/NAME/peers``: peerings of OVN networks (recorded, no router is linked).

The daemon the tests run cannot make OVN networks: the OVN behaviour follows LXD 5.0.2's source
(lxd/network_peer.go, the ovn driver's PeerCreate/PeerUpdate/PeerDelete, lxd/db/network_peers.go);
the answers for other network types are compared with the daemon."""

from rest_framework import exceptions

from ..models import Network, NetworkACL, NetworkPeer
from ..network_usage import peer_used_by
from ..serializers.network_peers import (
    NOT_FOUND,
    NetworkPeerCreateSerializer,
    NetworkPeerETagSerializer,
    NetworkPeerSerializer,
    shown_targets,
)
from ..serializers.networks import NOT_FOUND as NETWORK_NOT_FOUND
from .base import InProjectMixin, LXDCrudViewSet, escaped
from .conditional import conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class NetworkPeerViewSet(InProjectMixin, LXDCrudViewSet):
    """``/1.0/networks/NAME/peers``: the peers of an OVN network of the project ``?project=`` names
    (the default project's where it lacks ``features.networks``), by name; LXD renames none."""

    queryset = NetworkPeer.objects.all()
    scope = InProject(
        "features.networks", path="network__project", unknown="Failed to load project {name}: Project not found"
    )
    serializer_class = NetworkPeerSerializer
    create_serializer_class = NetworkPeerCreateSerializer
    etag_serializer_class = NetworkPeerETagSerializer
    lifecycle_name = "network-peer"
    # LXD's list names no project in its URLs.
    lists_name_project = False
    not_found_message = NOT_FOUND
    not_found_messages = {
        "update": f"Failed updating peer: {NOT_FOUND}",
        "partial_update": f"Failed updating peer: {NOT_FOUND}",
        "destroy": f"Failed deleting peer: {NOT_FOUND}",
    }
    selected = ("network",)

    @classmethod
    def read_models(cls):
        # The status reads the peering back; used_by reads the project's ACLs.
        return {*super().read_models(), Network, NetworkACL}

    @property
    def collection_url(self):
        return f"/1.0/networks/{escaped(self.kwargs['network_name'])}/peers"

    def parent(self):
        """The network the URL names, in the effective project: LXD's 404 when there is none, its
        400 for a type that does not peer (every type but ovn)."""
        if "_parent" not in self.__dict__:
            network = Network.objects.filter(project__name=self.project_name(), name=self.kwargs["network_name"])
            self._parent = network.select_related("project").first()
            if self._parent is None:
                raise exceptions.NotFound(NETWORK_NOT_FOUND)
            if self._parent.type != "ovn":
                message = f'Network driver "{self._parent.type}" does not support peering'
                raise exceptions.ValidationError(message, code="lxd")
        return self._parent

    def get_queryset(self):
        return super().get_queryset().filter(network=self.parent())

    def get_serializer_context(self):
        context = {**super().get_serializer_context(), "network": self.parent()}
        if self.action == "create":
            context["existing"] = shown_targets(list(self.get_queryset()))
        return context

    def show_related(self, objects):
        objects = shown_targets(super().show_related(objects))
        if objects:
            used = peer_used_by(self.parent())
            for peer in objects:
                peer.used_by = used.get(peer.name, [])
        return objects

    def perform_destroy(self, instance):
        if peer_used_by(self.parent()).get(instance.name):
            # LXD answers 500; a peer in use is the client's mistake: 400.
            raise exceptions.ValidationError("Failed deleting peer: Cannot delete a Peer that is in use", code="lxd")
        super().perform_destroy(instance)
