"""The admin of ``/1.0/network-acls``."""

from django import forms
from django.contrib import admin

from ..models import NetworkACL
from ..network_usage import Usage
from ..serializers.fields import lxd_error
from ..serializers.network_acls import NetworkACLCreateSerializer, NetworkACLSerializer
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class NetworkACLForm(APIValidatedForm):
    """An ACL as YAML rules and config, checked by the API's ACL serializers."""

    serializer_class = NetworkACLSerializer
    create_serializer_class = NetworkACLCreateSerializer
    api_fields = ["name", "description", "ingress", "egress", "config"]
    ingress = YAMLField(help_text="YAML list of rules (action, state, source, destination, protocol, ...).")
    egress = YAMLField(help_text="YAML list of rules (action, state, source, destination, protocol, ...).")
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")

    class Meta:
        model = NetworkACL
        fields = ["name", "description", "ingress", "egress", "config"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


@admin.register(NetworkACL)
class NetworkACLAdmin(APIValidatedAdmin):
    """LXD's network ACLs: renamed through the API (``lxc network acl rename``), edited here."""

    form = NetworkACLForm
    list_display = ["name", "description", "project"]
    search_fields = ["name", "description"]

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    def check_deletable(self, acl):
        if Usage.read().acl_used_by(acl.name, acl.project.name):
            raise lxd_error("Cannot delete an ACL that is in use")
