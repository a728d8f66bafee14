"""``/1.0/profiles``: LXD profiles."""

from ..models import Profile
from ..serializers import (
    ProfileCreateSerializer,
    ProfileETagSerializer,
    ProfileRenameSerializer,
    ProfileSerializer,
    check_profile_deletable,
)
from .base import InProjectMixin, LXDModelViewSet
from .conditional import conditional_schema
from .reads import InProject, Shown


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class ProfileViewSet(InProjectMixin, LXDModelViewSet):
    """``/1.0/profiles``: LXD profiles, in the project ``?project=`` names (or the default
    project's, where that project has no profiles of its own)."""

    queryset = Profile.objects.all()
    scope = InProject("features.profiles")
    serializer_class = ProfileSerializer
    create_serializer_class = ProfileCreateSerializer
    rename_serializer_class = ProfileRenameSerializer
    etag_serializer_class = ProfileETagSerializer
    # used_by: the instances in the order they took the profile, their names only.
    shown = (Shown("instance_links", "instance", ("name",)),)
    prepared_reads = True
    lifecycle_name = "profile"
    collection_url = "/1.0/profiles"
    not_found_message = "Profile not found"
    not_found_messages = {
        "retrieve": "Fetch profile: Profile not found",
        "update": "Failed to retrieve profile {name}: Profile not found",
        "partial_update": "Failed to retrieve profile={name}: Profile not found",
    }

    def perform_destroy(self, instance):
        check_profile_deletable(instance)
        super().perform_destroy(instance)
