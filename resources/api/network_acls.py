"""``/1.0/network-acls``: network ACLs (rules recorded, never applied to traffic)."""

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS

from ..models import Instance, InstanceProfile, Network, NetworkACL, Profile, Project
from ..network_usage import Usage
from ..serializers.network_acls import (
    NOT_FOUND,
    NetworkACLCreateSerializer,
    NetworkACLETagSerializer,
    NetworkACLRenameSerializer,
    NetworkACLSerializer,
)
from .base import InProjectMixin, LXDModelViewSet
from .conditional import conditional_schema
from .reads import InProject


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class NetworkACLViewSet(InProjectMixin, LXDModelViewSet):
    """``/1.0/network-acls``: the ACLs of the project ``?project=`` names (the default project's
    where it lacks ``features.networks``)."""

    queryset = NetworkACL.objects.all()
    scope = InProject("features.networks", unknown="Failed to load project {name}: Project not found")
    serializer_class = NetworkACLSerializer
    create_serializer_class = NetworkACLCreateSerializer
    rename_serializer_class = NetworkACLRenameSerializer
    etag_serializer_class = NetworkACLETagSerializer
    lifecycle_name = "network-acl"
    collection_url = "/1.0/network-acls"
    # LXD's list names no project in its URLs.
    lists_name_project = False
    not_found_message = NOT_FOUND

    @classmethod
    def read_models(cls):
        # used_by reads networks and every profile's and instance's devices.
        return {*super().read_models(), Instance, InstanceProfile, Network, Profile, Project}

    def show_related(self, objects):
        objects = super().show_related(objects)
        if self.request.method in SAFE_METHODS and objects:
            usage = Usage.read()
            for acl in objects:
                acl.used_by = usage.acl_used_by(acl.name, self.project_name())
        return objects

    def in_use(self, acl):
        """Whether anything uses the ACL (LXD's isUsed)."""
        return bool(Usage.read().acl_used_by(acl.name, self.project_name()))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "in_use": self.in_use}

    def perform_destroy(self, instance):
        if self.in_use(instance):
            # LXD answers 500; an ACL in use is the client's mistake: 400.
            raise exceptions.ValidationError("Cannot delete an ACL that is in use", code="lxd")
        super().perform_destroy(instance)
