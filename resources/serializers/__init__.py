"""Serializers: LXD's JSON shapes, and every rule a write must pass.

The API, the admin and the management commands all validate through these classes. LXD's
own error texts are raised with code ``lxd`` so the envelope shows them word for word.
``fields`` holds the shared building blocks; each resource has its module (a new one adds
its module here).
"""

from .fields import BoolField, ConfigField, DevicesField, StringField, TimeField, fails_in_operation, lxd_error
from .image_aliases import (
    ImageAliasCreateSerializer,
    ImageAliasETagSerializer,
    ImageAliasRenameSerializer,
    ImageAliasSerializer,
)
from .images import ImageETagSerializer, ImageSerializer, find_image
from .instance_parts import ProfileNamesField, instance_state, set_instance_profiles
from .instances import (
    InstanceCreateSerializer,
    InstanceETagSerializer,
    InstanceFullSerializer,
    InstanceRenameSerializer,
    InstanceSerializer,
)
from .network_acls import (
    NetworkACLCreateSerializer,
    NetworkACLETagSerializer,
    NetworkACLRenameSerializer,
    NetworkACLSerializer,
)
from .network_zones import NetworkZoneCreateSerializer, NetworkZoneETagSerializer, NetworkZoneSerializer
from .networks import NetworkCreateSerializer, NetworkETagSerializer, NetworkRenameSerializer, NetworkSerializer
from .operations import OperationSerializer
from .profiles import (
    ProfileCreateSerializer,
    ProfileETagSerializer,
    ProfileRenameSerializer,
    ProfileSerializer,
    check_profile_deletable,
)
from .projects import (
    ProjectCreateSerializer,
    ProjectETagSerializer,
    ProjectRenameSerializer,
    ProjectSerializer,
    check_project_deletable,
    project_state,
)
from .server import HIDDEN_SERVER_KEYS, ServerETagSerializer, ServerSerializer, untrusted_server_info
from .snapshots import SnapshotCreateSerializer, SnapshotETagSerializer, SnapshotRenameSerializer, SnapshotSerializer

__all__ = [
    "HIDDEN_SERVER_KEYS",
    "BoolField",
    "ConfigField",
    "DevicesField",
    "ImageAliasCreateSerializer",
    "ImageAliasETagSerializer",
    "ImageAliasRenameSerializer",
    "ImageAliasSerializer",
    "ImageETagSerializer",
    "ImageSerializer",
    "InstanceCreateSerializer",
    "InstanceETagSerializer",
    "InstanceFullSerializer",
    "InstanceRenameSerializer",
    "InstanceSerializer",
    "NetworkACLCreateSerializer",
    "NetworkACLETagSerializer",
    "NetworkACLRenameSerializer",
    "NetworkACLSerializer",
    "NetworkCreateSerializer",
    "NetworkETagSerializer",
    "NetworkRenameSerializer",
    "NetworkSerializer",
    "NetworkZoneCreateSerializer",
    "NetworkZoneETagSerializer",
    "NetworkZoneSerializer",
    "OperationSerializer",
    "ProfileCreateSerializer",
    "ProfileETagSerializer",
    "ProfileNamesField",
    "ProfileRenameSerializer",
    "ProfileSerializer",
    "ProjectCreateSerializer",
    "ProjectETagSerializer",
    "ProjectRenameSerializer",
    "ProjectSerializer",
    "ServerETagSerializer",
    "ServerSerializer",
    "SnapshotCreateSerializer",
    "SnapshotETagSerializer",
    "SnapshotRenameSerializer",
    "SnapshotSerializer",
    "StringField",
    "TimeField",
    "check_profile_deletable",
    "check_project_deletable",
    "fails_in_operation",
    "find_image",
    "instance_state",
    "lxd_error",
    "project_state",
    "set_instance_profiles",
    "untrusted_server_info",
]
