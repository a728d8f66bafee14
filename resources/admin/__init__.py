"""The admin: LXD objects edited as YAML, validated by the API's serializers, conflict-safe.

A change form carries the stored version of the object it was rendered from; saving re-reads
the row under the API's write lock (the admin wraps every POST in a transaction) and refuses,
overwriting nothing, if anyone changed it since. A delete confirmation carries the version too
(the change form's delete link passes it on) and is refused the same way. Deletes follow the
API's rules, checked under the row lock; the bulk delete action checks the rules (not versions:
the list shows none) and deletes all of the selection or nothing.

``base`` holds the shared machinery; each resource has its module, which registers its admin
when imported here (Django's autodiscovery imports this package; a new resource adds its import).
"""

from django.contrib import admin

from .base import APIValidatedAdmin, APIValidatedForm, DeleteRefused, YAMLField, delete_selected
from .certificates import CertificateAdmin
from .image_aliases import ImageAliasAdmin
from .images import ImageAdmin
from .instances import InstanceAdmin
from .network_acls import NetworkACLAdmin
from .network_zones import NetworkZoneAdmin
from .networks import NetworkAdmin
from .operations import OperationAdmin
from .profiles import ProfileAdmin
from .projects import ProjectAdmin
from .server import ServerAdmin
from .storage_pools import StoragePoolAdmin
from .storage_volumes import StorageVolumeAdmin
from .tokens import APITokenAdmin

admin.site.site_header = admin.site.site_title = "lxdsite administration"

__all__ = [
    "APITokenAdmin",
    "APIValidatedAdmin",
    "APIValidatedForm",
    "CertificateAdmin",
    "DeleteRefused",
    "ImageAdmin",
    "ImageAliasAdmin",
    "InstanceAdmin",
    "NetworkACLAdmin",
    "NetworkAdmin",
    "NetworkZoneAdmin",
    "OperationAdmin",
    "ProfileAdmin",
    "ProjectAdmin",
    "ServerAdmin",
    "StoragePoolAdmin",
    "StorageVolumeAdmin",
    "YAMLField",
    "delete_selected",
]
