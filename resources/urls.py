"""LXD's URLs: exactly LXD's paths, no trailing slash."""

from django.urls import path
from rest_framework.routers import DynamicRoute, Route, SimpleRouter

from . import events
from .api.certificates import CertificateViewSet
from .api.image_aliases import ImageAliasViewSet
from .api.images import ImageViewSet
from .api.instances import ContainerViewSet, InstanceViewSet
from .api.network_acls import NetworkACLViewSet
from .api.network_forwards import NetworkForwardViewSet
from .api.network_peers import NetworkPeerViewSet
from .api.network_zone_records import NetworkZoneRecordViewSet
from .api.network_zones import NetworkZoneViewSet
from .api.networks import NetworkViewSet
from .api.operations import OperationViewSet
from .api.profiles import ProfileViewSet
from .api.projects import ProjectViewSet
from .api.server import ServerViewSet, api_root
from .api.snapshots import ContainerSnapshotViewSet, SnapshotViewSet
from .api.storage_pools import StoragePoolViewSet
from .api.storage_volume_snapshots import StorageVolumeSnapshotViewSet
from .api.storage_volumes import AllTypesStorageVolumeViewSet, StorageVolumeViewSet
from .models import Server


class LXDRouter(SimpleRouter):
    """DRF's router with LXD's verbs: POST on an object renames it."""

    routes = [
        Route(
            url=r"^{prefix}{trailing_slash}$",
            # PUT on a collection changes all of it at once (LXD's instancesPut).
            mapping={"get": "list", "post": "create", "put": "bulk_update"},
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        Route(
            url=r"^{prefix}/{lookup}{trailing_slash}$",
            mapping={
                "get": "retrieve",
                "put": "update",
                "patch": "partial_update",
                "delete": "destroy",
                "post": "rename",
            },
            name="{basename}-detail",
            detail=True,
            initkwargs={"suffix": "Instance"},
        ),
        # Actions on an object: /1.0/images/<fingerprint>/export, /1.0/operations/<id>/wait.
        DynamicRoute(
            url=r"^{prefix}/{lookup}/{url_path}{trailing_slash}$",
            name="{basename}-{url_name}",
            detail=True,
            initkwargs={},
        ),
    ]

    def __init__(self):
        super().__init__(trailing_slash="")


router = LXDRouter()
router.register("1.0/profiles", ProfileViewSet, basename="profile")
router.register("1.0/certificates", CertificateViewSet, basename="certificate")
router.register("1.0/projects", ProjectViewSet, basename="project")
router.register(r"1.0/networks/(?P<network_name>[^/]+)/forwards", NetworkForwardViewSet, basename="network-forward")
router.register(r"1.0/networks/(?P<network_name>[^/]+)/peers", NetworkPeerViewSet, basename="network-peer")
router.register("1.0/networks", NetworkViewSet, basename="network")
router.register("1.0/network-acls", NetworkACLViewSet, basename="network-acl")
router.register(
    r"1.0/network-zones/(?P<zone_name>[^/]+)/records", NetworkZoneRecordViewSet, basename="network-zone-record"
)
router.register("1.0/network-zones", NetworkZoneViewSet, basename="network-zone")
# Before the images: /1.0/images/aliases would otherwise be read as an image fingerprint.
router.register("1.0/images/aliases", ImageAliasViewSet, basename="image-alias")
router.register("1.0/images", ImageViewSet, basename="image")
router.register("1.0/operations", OperationViewSet, basename="operation")
# Snapshots first: their prefix would otherwise read as an instance action.
router.register(r"1.0/instances/(?P<instance_name>[^/]+)/snapshots", SnapshotViewSet, basename="snapshot")
router.register(
    r"1.0/containers/(?P<instance_name>[^/]+)/snapshots", ContainerSnapshotViewSet, basename="container-snapshot"
)
router.register("1.0/instances", InstanceViewSet, basename="instance")
router.register("1.0/containers", ContainerViewSet, basename="container")
# Snapshots first: their prefix would otherwise read as a volume action.
router.register(
    r"1.0/storage-pools/(?P<pool_name>[^/]+)/volumes/(?P<volume_type>[^/]+)/(?P<volume_name>[^/]+)/snapshots",
    StorageVolumeSnapshotViewSet,
    basename="storage-volume-snapshot",
)
router.register(
    r"1.0/storage-pools/(?P<pool_name>[^/]+)/volumes/(?P<volume_type>[^/]+)",
    StorageVolumeViewSet,
    basename="storage-volume",
)
router.register("1.0/storage-pools", StoragePoolViewSet, basename="storage-pool")

urlpatterns = [
    path("", api_root, name="root"),
    path(
        "1.0",
        ServerViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"}),
        {"pk": Server.SINGLETON_ID},
        name="server",
    ),
    path("1.0/events", events.events, name="events"),
    # Every type's volumes: the list, and a create that names its type in the body.
    path(
        "1.0/storage-pools/<str:pool_name>/volumes",
        AllTypesStorageVolumeViewSet.as_view({"get": "list", "post": "create"}),
        name="storage-volumes",
    ),
    *router.urls,
]
