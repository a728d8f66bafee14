"""Networks: LXD's network shape, its names and the rules of each managed type's config."""

from rest_framework import serializers

from .. import config_keys
from ..config_keys import network as network_keys
from ..config_keys.devices import NETWORK_NICTYPES
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import go_quote
from ..host_interfaces import interface_exists
from ..instances import expand_devices, nic_volatile
from ..models import InstanceProfile, Network, NetworkACL, NetworkZone, Project
from ..network_usage import network_project
from ..ovn_subnets import check_forward_targets
from ..ovn_uplink import validate_ovn_uplink
from .fields import ConfigField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Failed loading network: Network not found"


def _config_error(exc):
    return lxd_error(str(exc))


class NetworkSerializer(LXDModelSerializer):
    """A network as LXD shows it; PUT replaces config and description, PATCH merges config.

    Host interfaces are shown through unsaved rows (``managed`` false), as LXD shows them.
    """

    put_defaults = {"config": {}, "description": ""}

    config = ConfigField(required=False)
    description = StringField(required=False)
    managed = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    locations = serializers.SerializerMethodField()
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = Network
        fields = ["config", "description", "name", "type", "used_by", "managed", "status", "locations"]
        read_only_fields = ["name", "type"]

    def get_managed(self, network) -> bool:
        return network.pk is not None

    def get_status(self, network) -> str:
        return Network.CREATED if network.pk is not None else ""

    def get_locations(self, network) -> list[str] | None:
        # A standalone LXD names its one member "none".
        return ["none"] if network.pk is not None else None

    def get_used_by(self, network) -> list[str] | None:
        # LXD sends null for an unused network, [] for a loopback (which it never looks up).
        if network.type == "loopback":
            return []
        return getattr(network, "used_by", None) or None

    def validate_config(self, value):
        config = merge_config(self.instance.config, value, partial=self.partial)
        try:
            acls = project_acl_names(self.instance.project_id)
            zones = set(NetworkZone.objects.values_list("name", flat=True))
            network_keys.validate_network_config(self.instance.name, self.instance.type, config, acls, zones)
            if self.instance.type == "ovn":
                validate_ovn_uplink(self.instance.project, self.instance.name, config)
                check_forward_targets(self.instance, config)
        except config_keys.ConfigError as exc:
            raise _config_error(exc) from exc
        return config

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        if not self.partial and "config" not in data:
            # The keys LXD fills in on a config the PUT leaves out.
            validated["config"] = self.validate_config({})
        return validated


def network_lookup(project_name):
    """The managed networks a NIC of a profile or instance in ``project_name`` may name: those of
    its network project (itself with ``features.networks``, else the default project)."""
    config = Project.objects.filter(name=project_name).values_list("config", flat=True).first() or {}
    project = network_project(project_name, config)

    def find(name):
        return Network.objects.filter(project__name=project, name=name).values_list("type", "config").first()

    return config_keys.NetworkLookup(project, find)


def project_acl_names(project_id):
    """The names of a project's network ACLs, which a network's ``security.acls`` may list."""
    return set(NetworkACL.objects.filter(project_id=project_id).values_list("name", flat=True))


def fill_nic_volatile(instance, project_name, removed=()):
    """Store the ``volatile.*`` MAC and interface name LXD fills in for the instance's NICs, and
    drop the ``volatile.DEVICE.*`` keys of the devices among ``removed`` it no longer has."""
    # Its profiles as just stored (a read before the write may have kept older links).
    links = InstanceProfile.objects.filter(instance=instance).select_related("profile").order_by("id")
    expanded = expand_devices([link.profile for link in links], instance.devices)
    gone = tuple(f"volatile.{name}." for name in set(removed) - set(expanded))
    if gone and any(key.startswith(gone) for key in instance.config):
        instance.config = {key: value for key, value in instance.config.items() if not key.startswith(gone)}
        instance.save(update_fields=["config"])
    if not any(device.get("type") == "nic" for device in expanded.values()):
        return
    lookup = network_lookup(project_name)

    def nictype_of(device):
        if not device.get("network"):
            return device.get("nictype", "")
        found = lookup.find(device["network"])
        return NETWORK_NICTYPES.get(found[0], "") if found else ""

    filled = nic_volatile(expanded, instance.config, nictype_of)
    if filled:
        instance.config = {**instance.config, **filled}
        instance.save(update_fields=["config"])


def taken_subnets():
    """The subnets every managed network holds, which ``auto`` avoids."""
    subnets = set()
    for config in Network.objects.values_list("config", flat=True):
        subnets |= network_keys.network_subnets(config)
    return subnets


class NetworkCreateSerializer(NetworkSerializer):
    """``POST /1.0/networks``: a network of a known type, with a free valid name and valid config.

    LXD fills in what ``auto`` and the type's defaults mean before it validates.
    """

    name = StringField(default="")
    type = StringField(default="")

    class Meta(NetworkSerializer.Meta):
        read_only_fields = []

    def validate_config(self, value):
        return value

    def validate(self, attrs):
        name, project = attrs.get("name", ""), self.context.get("project_name", Project.DEFAULT_NAME)
        if not name:
            raise lxd_error("No name provided")
        network_type = attrs.get("type") or ("bridge" if project == Project.DEFAULT_NAME else "ovn")
        if network_type not in network_keys.NETWORK_TYPES:
            raise lxd_error("Unknown driver")
        try:
            network_keys.validate_network_name(network_type, name)
        except config_keys.ConfigError as exc:
            raise _config_error(exc) from exc
        if project != Project.DEFAULT_NAME and network_type != "ovn":
            raise lxd_error("Network type does not support non-default projects")
        if Network.objects.filter(project__name=project, name=name).exists():
            raise lxd_error("The network already exists")
        config = network_keys.fill_network_config(network_type, attrs.get("config", {}), taken_subnets())
        try:
            acls = set(NetworkACL.objects.filter(project__name=project).values_list("name", flat=True))
            zones = set(NetworkZone.objects.values_list("name", flat=True))
            network_keys.validate_network_config(name, network_type, config, acls, zones)
            if network_type == "ovn":
                validate_ovn_uplink(Project.objects.get(name=project), name, config)
        except config_keys.ConfigError as exc:
            # LXD answers 500 for a config it refuses on create; it is the client's mistake: 400.
            raise _config_error(exc) from exc
        if network_type == "bridge" and interface_exists(name):
            raise lxd_error(f"Network interface {go_quote(name)} already exists")
        return {**attrs, "type": network_type, "config": config}


class NetworkRenameSerializer(LXDModelSerializer):
    """``POST /1.0/networks/NAME``: rename a network nothing uses to a free valid name."""

    name = StringField(default="")

    class Meta:
        model = Network
        fields = ["name"]

    def validate_name(self, name):
        if not name:
            raise lxd_error("New network name not provided")
        try:
            network_keys.validate_network_name(self.instance.type, name)
        except config_keys.ConfigError as exc:
            raise _config_error(exc) from exc
        if self.context["in_use"](self.instance):
            raise lxd_error("Network is currently in use")
        taken = Network.objects.filter(project_id=self.instance.project_id, name=name)
        if taken.exclude(pk=self.instance.pk).exists() or (name == self.instance.name):
            raise Conflict(f"Network {go_quote(name)} already exists")
        return name


class NetworkETagSerializer(ETagSerializer):
    """LXD hashes ``[name, managed, type, description, config]``."""

    lxd_recipe = ("name", "managed", "type", "description", "config")

    name = StringField()
    managed = serializers.SerializerMethodField()
    type = StringField()
    description = StringField()
    config = ConfigField()

    def get_managed(self, network) -> bool:
        return network.pk is not None
