"""What instances and their snapshots share: profile lists and the recorded state."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..go import go_quote
from ..models import Instance, InstanceProfile, Profile, Project
from .fields import (
    GoField,
    _type_name,
    lxd_operation_error,
)


@extend_schema_field({"type": "array", "items": {"type": "string"}, "nullable": True})
class ProfileNamesField(GoField):
    """An instance's ``profiles``: profile names in the order LXD applies them; null is none."""

    def to_internal_value(self, data):
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
            raise serializers.ValidationError(f"expected an array of profile names, got {_type_name(data)}")
        return data

    def to_representation(self, value):
        profiles = self.parent.profiles_of(value) if hasattr(self.parent, "profiles_of") else value.profile_list()
        return [profile.name for profile in profiles]


def resolve_profiles(names, project_name=Project.DEFAULT_NAME):
    """The named profiles of the instance's project, in the order given; an unknown one fails as LXD fails it."""
    profiles = Profile.objects.filter(project=Project.holding(project_name, "features.profiles"), name__in=names)
    found = {profile.name: profile for profile in profiles}
    for name in names:
        if name not in found:
            raise lxd_operation_error(f"Requested profile {go_quote(name)} doesn't exist")
    return [found[name] for name in dict.fromkeys(names)]


def set_instance_profiles(instance, profiles):
    """Attach ``profiles`` to ``instance`` in this order, replacing its links."""
    InstanceProfile.objects.filter(instance=instance).delete()
    InstanceProfile.objects.bulk_create(InstanceProfile(instance=instance, profile=profile) for profile in profiles)


def instance_state(instance):
    """``/1.0/instances/NAME/state``: the recorded status; nothing runs, so usage is zero."""
    return {
        "status": instance.status,
        "status_code": Instance.STATUS_CODES[instance.status],
        "disk": {},
        "memory": {"usage": 0, "usage_peak": 0, "swap_usage": 0, "swap_usage_peak": 0},
        "network": None,
        "pid": 0,
        "processes": 0,
        "cpu": {"usage": 0},
    }
