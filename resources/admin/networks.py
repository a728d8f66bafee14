"""The admin of ``/1.0/networks`` (managed networks; the host's interfaces are not stored)."""

from django import forms
from django.contrib import admin

from ..models import Network
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


@admin.register(Network)
class NetworkAdmin(APIValidatedAdmin):
    """LXD's managed networks: renamed through the API (``lxc network rename``), edited here."""

    form = NetworkForm
    list_display = ["name", "type", "description", "project"]
    list_filter = ["type"]
    search_fields = ["name", "description", "config"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "type"] if obj is not None else []

    def check_deletable(self, network):
        if Usage.read().used_by(network.name, network.type, network.project.name):
            raise lxd_error("The network is currently in use")
