"""The admin of ``/1.0``: the server config."""

from django.contrib import admin
from django.shortcuts import redirect

from ..models import Server
from ..serializers import ServerSerializer
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class ServerForm(APIValidatedForm):
    """The server config as YAML, checked by ``ServerSerializer``."""

    serializer_class = ServerSerializer
    api_fields = ["config"]
    config = YAMLField(help_text="YAML mapping of server config keys (the trust password shows as true).")

    class Meta:
        model = Server
        fields = ["config"]


@admin.register(Server)
class ServerAdmin(APIValidatedAdmin):
    """The one server configuration row: changed, never added or deleted."""

    form = ServerForm
    list_display = ["__str__", "config_count"]

    @admin.display(description="config keys")
    def config_count(self, server):
        return len(server.config)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # A list of one row: go straight to it.
        return redirect("admin:resources_server_change", Server.SINGLETON_ID)
