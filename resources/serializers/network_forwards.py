"""Network forwards: LXD's forward shape and the rules of its listen address and ports."""

import ipaddress

from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from .. import config_keys
from ..config_keys import network_forward
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import GoStruct, go_quote
from ..models import Instance, InstanceProfile, Network, NetworkForward, Profile
from ..ovn_subnets import UplinkNotFound, check_ovn_listen
from .fields import ConfigField, GoField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Network forward not found"


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}})
class PortsField(GoField):
    """A forward's port specifications (api.NetworkForwardPort), shown in LXD's field order."""

    def to_internal_value(self, data):
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(port, dict) for port in data):
            raise serializers.ValidationError("expected an array of port objects")
        for port in data:
            for key in network_forward.PORT_FIELDS:
                if not isinstance(port.get(key, ""), str):
                    raise serializers.ValidationError(f"port field {key} must be a string")
        return [network_forward.normalised_port(port) for port in data]

    def to_representation(self, value):
        return [GoStruct((key, port[key]) for key in network_forward.PORT_FIELDS) for port in value]


def _failed(verb, exc):
    # LXD answers 500 for a forward it refuses; it is the client's mistake: 400.
    return lxd_error(f"Failed {verb} forward: {exc}")


class NetworkForwardSerializer(LXDModelSerializer):
    """A forward as LXD shows it; PUT replaces, PATCH merges config and keeps ports it leaves out."""

    put_defaults = {"description": "", "config": {}, "ports": []}

    description = StringField(required=False)
    config = ConfigField(required=False)
    ports = PortsField(required=False)
    location = serializers.SerializerMethodField()

    class Meta:
        model = NetworkForward
        fields = ["description", "config", "ports", "listen_address", "location"]
        read_only_fields = ["listen_address"]

    def get_location(self, forward) -> str:
        return "none"

    verb = "updating"

    def network(self):
        return self.instance.network if self.instance else self.context["network"]

    def listen_of(self, attrs):
        """The forward's listen address."""
        return self.instance.listen_address

    def validate(self, attrs):
        current = self.instance
        config = merge_config(current.config if current else {}, attrs.get("config", {}), partial=self.partial)
        if config.get("target_address"):
            config["target_address"] = network_forward.canonical_ip(config["target_address"])
        ports = attrs.get("ports", current.ports if current else [])
        listen = self.listen_of(attrs)
        try:
            network_forward.validate_forward(listen, self.network().config, config, ports)
        except config_keys.ConfigError as exc:
            raise _failed(self.verb, exc) from exc
        return {**attrs, "description": attrs.get("description", "").strip(), "config": config, "ports": ports}


class NetworkForwardCreateSerializer(NetworkForwardSerializer):
    """``POST /1.0/networks/NAME/forwards``: a forward on a free listen address no other network or NIC uses."""

    listen_address = StringField(default="")
    verb = "creating"

    class Meta(NetworkForwardSerializer.Meta):
        read_only_fields = []

    def listen_of(self, attrs):
        return attrs["listen_address"]

    def validate_listen_address(self, value):
        value = network_forward.canonical_ip(value)
        if NetworkForward.objects.filter(network=self.network(), listen_address=value).exists():
            raise Conflict("Failed creating forward: A forward for that listen address already exists")
        try:
            network_forward.listen_network(value)
        except config_keys.ConfigError as exc:
            what = "" if self.network().type == "ovn" else "address forward listen address "
            raise _failed("creating", f"Failed parsing {what}{go_quote(value)}: {exc}") from exc
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        listen = network_forward.listen_network(attrs["listen_address"])
        if self.network().type == "ovn":
            try:
                check_ovn_listen(self.network(), listen)
            except UplinkNotFound as exc:
                raise exceptions.NotFound(f"Failed creating forward: {exc}") from exc
            except config_keys.ConfigError as exc:
                raise _failed("creating", exc) from exc
            return attrs
        for subnet in external_subnets_in_use(self.network()):
            if subnet.version == listen.version and (subnet.overlaps(listen)):
                raise _failed(
                    "creating", f"Forward listen address {go_quote(str(listen))} overlaps with another network or NIC"
                )
        return attrs

    def create(self, validated_data):
        # A forward lives in its network's project (the view names the project for every create).
        validated_data.pop("project", None)
        return NetworkForward.objects.create(network=self.network(), **validated_data)


def _subnet(value):
    """``value`` as a network (host bits allowed), or None."""
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _network_subnets(network_config, family):
    """A bridge's subnets other networks' forwards may not listen in (LXD's bridgeNetworkExternalSubnets)."""
    candidates = []
    if network_config.get(f"{family}.nat", "").lower() not in ("true", "1", "yes", "on"):
        candidates.append(network_config.get(f"{family}.address", ""))
    candidates.append(network_config.get(f"{family}.nat.address", ""))
    candidates += [item.strip() for item in network_config.get(f"{family}.routes", "").split(",")]
    return [subnet for subnet in map(_subnet, filter(None, candidates)) if subnet is not None]


def external_subnets_in_use(network):
    """LXD's getExternalSubnetInUse for a forward on ``network``: other bridges' external subnets,
    bridged NICs' external routes, and every bridge forward's listen address."""
    subnets = []
    bridges = list(Network.objects.filter(type=Network.BRIDGE).values_list("pk", "name", "config"))
    for pk, _, config in bridges:
        if pk != network.pk:
            subnets += _network_subnets(config, "ipv4") + _network_subnets(config, "ipv6")
    bridge_names = {name for _, name, _ in bridges}
    profiles = {pk: devices for pk, devices in Profile.objects.values_list("pk", "devices")}
    links = {}
    for instance_id, profile_id in InstanceProfile.objects.order_by("id").values_list("instance_id", "profile_id"):
        links.setdefault(instance_id, []).append(profile_id)
    for pk, devices in Instance.objects.values_list("pk", "devices"):
        expanded = {}
        for profile_id in links.get(pk, []):
            expanded.update(profiles[profile_id])
        expanded.update(devices)
        for device in expanded.values():
            on_bridge = device.get("network") in bridge_names or device.get("nictype") == "bridged"
            if device.get("type") != "nic" or not on_bridge:
                continue
            for key in ("ipv4.routes.external", "ipv6.routes.external"):
                routes = (_subnet(item.strip()) for item in device.get(key, "").split(",") if item.strip())
                subnets += [route for route in routes if route is not None]
    # LXD reads the forwards of this member (node_id set): bridges' only; OVN's belong to no member.
    for address in NetworkForward.objects.filter(network__type=Network.BRIDGE).values_list("listen_address", flat=True):
        subnets.append(network_forward.listen_network(address))
    return subnets


class NetworkForwardETagSerializer(ETagSerializer):
    """LXD hashes ``[listen_address, description, config, ports]``."""

    lxd_recipe = ("listen_address", "description", "config", "ports")

    listen_address = StringField()
    description = StringField()
    config = ConfigField()
    ports = PortsField()
