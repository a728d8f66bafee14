"""Network peers: LXD's peer shape, its create-time checks and the mutual link of two peerings."""

from rest_framework import serializers

from .. import config_keys
from ..config_keys import network_peer
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..models import NetworkPeer
from .fields import ConfigField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Network peer not found"


def _failed(verb, message):
    # LXD answers 500 for a peer it refuses; it is the client's mistake: 400.
    return lxd_error(f"Failed {verb} peer: {message}")


class NetworkPeerSerializer(LXDModelSerializer):
    """A peer as LXD shows it (its target and status as ``show_related`` found them); PUT
    replaces description and config, PATCH merges config and keeps what it leaves out."""

    put_defaults = {"description": "", "config": {}}

    description = StringField(required=False)
    config = ConfigField(required=False)
    target_project = serializers.SerializerMethodField()
    target_network = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = NetworkPeer
        fields = ["description", "config", "name", "target_project", "target_network", "status", "used_by"]
        read_only_fields = ["name"]

    def get_target_project(self, peer) -> str:
        return peer.shown_target[0]

    def get_target_network(self, peer) -> str:
        return peer.shown_target[1]

    def get_status(self, peer) -> str:
        return peer.shown_target[2]

    def get_used_by(self, peer) -> list[str]:
        return getattr(peer, "used_by", [])

    verb = "updating"

    def name_of(self, attrs):
        return self.instance.name

    def validate(self, attrs):
        current = self.instance.config if self.instance else {}
        config = merge_config(current, attrs.get("config", {}), partial=self.partial)
        try:
            network_peer.validate_peer(self.name_of(attrs), config)
        except config_keys.ConfigError as exc:
            raise _failed(self.verb, exc) from exc
        return {**attrs, "config": config}


class NetworkPeerCreateSerializer(NetworkPeerSerializer):
    """``POST /1.0/networks/NAME/peers``: a peering of this OVN network with a target network
    (in this network's project unless ``target_project`` names another), linked to the target's
    peering back when there is one."""

    name = StringField(default="")
    target_project = StringField(default="")
    target_network = StringField(default="")
    verb = "creating"

    class Meta(NetworkPeerSerializer.Meta):
        read_only_fields = []

    def name_of(self, attrs):
        return attrs.get("name", "")

    def validate(self, attrs):
        network = self.context["network"]
        target = (attrs.get("target_project") or network.project.name, attrs.get("target_network", ""))
        if not target[1]:
            raise lxd_error("Failed creating peer: Target network is required")
        for peer in self.context["existing"]:
            if peer.name == attrs.get("name", ""):
                raise Conflict("Failed creating peer: A peer for that name already exists")
            if peer.shown_target[:2] == target:
                raise Conflict("Failed creating peer: A peer for that target network already exists")
        attrs = super().validate(attrs)
        return {**attrs, "target_project": target[0], "target_network": target[1]}

    def create(self, validated_data):
        validated_data.pop("project", None)
        network = self.context["network"]
        peer = NetworkPeer.objects.create(network=network, **validated_data)
        # LXD's CreateNetworkPeer: a peering of the target network back to this one, not yet linked.
        mutual = (
            NetworkPeer.objects.select_for_update()
            .filter(
                network__project__name=peer.target_project,
                network__name=peer.target_network,
                target_project=network.project.name,
                target_network=network.name,
                linked_network__isnull=True,
            )
            .select_related("network")
            .first()
        )
        if mutual is not None:
            for side, other in ((peer, mutual.network), (mutual, network)):
                side.linked_network, side.target_project, side.target_network = other, "", ""
                side.save(update_fields=["linked_network", "target_project", "target_network"])
        return peer


def shown_targets(peers):
    """LXD's networkPeerPopulatePeerInfo for each of ``peers``: (target project, target network,
    status), from the peering back that links to it, if any (one query for any number)."""
    linked = {peer.linked_network_id for peer in peers if peer.linked_network_id}
    backs = {}
    if linked:
        rows = NetworkPeer.objects.filter(network_id__in=linked, linked_network__isnull=False).values_list(
            "network_id", "linked_network_id", "network__name", "network__project__name"
        )
        backs = {(network, target): (project, name) for network, target, name, project in rows}
    for peer in peers:
        back = backs.get((peer.linked_network_id, peer.network_id))
        named = bool(peer.target_project or peer.target_network)
        if back is not None:
            peer.shown_target = (
                (peer.target_project, peer.target_network, NetworkPeer.ERRORED)
                if named
                else (*back, NetworkPeer.CREATED)
            )
        else:
            status = NetworkPeer.PENDING if named else NetworkPeer.ERRORED
            peer.shown_target = (peer.target_project, peer.target_network, status)
    return peers


class NetworkPeerETagSerializer(ETagSerializer):
    """LXD hashes ``[name, description, config]``."""

    lxd_recipe = ("name", "description", "config")

    name = StringField()
    description = StringField()
    config = ConfigField()
