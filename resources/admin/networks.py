"""The admin of ``/1.0/networks`` (managed networks; the host's interfaces are not stored)."""

from django import forms
from django.contrib import admin

from ..models import Network, NetworkForward, NetworkPeer
from ..network_usage import Usage
from ..serializers.fields import lxd_error
from ..serializers.networks import NetworkCreateSerializer, NetworkSerializer
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class NetworkForm(APIValidatedForm):
    """A network as YAML config, checked by the API's network serializers."""

    serializer_class = NetworkSerializer
    create_serializer_class = NetworkCreateSerializer
    api_fields = ["name", "description", "type", "config"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")

    class Meta:
        model = Network
        fields = ["name", "description", "type", "config"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


class NetworkForwardInline(admin.TabularInline):
    """A bridge's address forwards, shown; they are made and changed through the API (``lxc network forward``)."""

    model = NetworkForward
    fields = ["listen_address", "description", "config", "ports"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class NetworkPeerInline(admin.TabularInline):
    """An OVN network's peers, shown; they are made and changed through the API (``lxc network peer``)."""

    model = NetworkPeer
    fk_name = "network"
    fields = ["name", "description", "config", "target_project", "target_network", "linked_network"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Network)
class NetworkAdmin(APIValidatedAdmin):
    """LXD's managed networks: renamed through the API (``lxc network rename``), edited here."""

    form = NetworkForm
    inlines = [NetworkForwardInline, NetworkPeerInline]
    list_display = ["name", "type", "description", "project"]
    list_filter = ["type"]
    search_fields = ["name", "description", "config"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "type"] if obj is not None else []

    def check_deletable(self, network):
        if Usage.read().used_by(network.name, network.type, network.project.name):
            raise lxd_error("The network is currently in use")
