"""Contract-test data: a few lines per registered resource (``tests/test_contract.py``).

Each router basename needs a case; a resource registered without one fails the suite.
"""

from dataclasses import dataclass, field

from resources.host_interfaces import interface_names
from resources.models import (
    Image,
    ImageAlias,
    Instance,
    InstanceProfile,
    Network,
    NetworkACL,
    NetworkForward,
    NetworkPeer,
    NetworkZone,
    NetworkZoneRecord,
    Operation,
    Profile,
    Project,
    Snapshot,
    StoragePool,
    StorageVolume,
    StorageVolumeSnapshot,
)

FINGERPRINT = "a" * 64


@dataclass
class ResourceCase:
    """How to make one object of a resource and change it, for the contracts it owes."""

    # (index, public) -> the lookup value of a new object (index 0, 1, 2 make distinct ones);
    # ``public`` makes it visible to untrusted clients where the resource has public rows.
    make: object
    url_kwargs: dict = field(default_factory=dict)
    put: dict | None = None
    patch: dict | None = None
    rename: dict | None = None
    # A text column the answer shows under the same name: changed by the ORM and SQL.
    column: str | None = None
    # The API extensions `GET /1.0` must advertise for clients to use it.
    extensions: tuple = ()
    # The `show`/`edit`/`export` kind that carries it (snapshots travel in their instance's).
    document_kind: str | None = None
    # The collection `import_from_lxd` copies it with; "" for what is not stored state.
    lxd_import: str = ""
    # How many objects the collection lists before any is made (the default project).
    standing: int = 0


def _profile(index, public=False):
    Profile.objects.create(name=f"p{index + 1}", description="first", config={"limits.cpu": "1"})
    return f"p{index + 1}"


def _project(index, public=False):
    project = Project.objects.create(name=f"j{index + 1}", description="first", config={"features.profiles": "true"})
    Profile.objects.create(project=project, name="default")
    return f"j{index + 1}"


def _image(index, public=False):
    fingerprint = "abc"[index] * 64
    image = Image.objects.create(fingerprint=fingerprint, architecture="x86_64", filename="one.tar", public=public)
    image.profile_links.create(profile=Profile.objects.get_or_create(name="default")[0])
    return fingerprint


def _alias(index, public=False):
    image = Image.objects.get(fingerprint=_image(index, public))
    ImageAlias.objects.create(name=f"a{index + 1}", description="first", image=image)
    return f"a{index + 1}"


def _instance(index, public=False):
    default = Profile.objects.get_or_create(name="default")[0]
    instance = Instance.objects.create(name=f"c{index + 1}", description="first", config={"user.a": "1"})
    InstanceProfile.objects.create(instance=instance, profile=default)
    return f"c{index + 1}"


def _snapshot(index, public=False):
    instance = Instance.objects.filter(name="c1").first() or Instance.objects.get(name=_instance(0))
    Snapshot.objects.create(instance=instance, name=f"s{index + 1}", config={"user.a": "1"})
    return f"s{index + 1}"


def _network(index, public=False):
    Network.objects.create(name=f"n{index + 1}", description="first", config={"ipv4.address": "none"})
    return f"n{index + 1}"


def _network_acl(index, public=False):
    rule = {"action": "allow", "state": "enabled"}
    NetworkACL.objects.create(name=f"acl{index + 1}", description="first", ingress=[rule])
    return f"acl{index + 1}"


def _network_zone(index, public=False):
    NetworkZone.objects.create(name=f"z{index + 1}.example.com", description="first", config={"user.a": "1"})
    return f"z{index + 1}.example.com"


def _network_zone_record(index, public=False):
    zone = NetworkZone.objects.filter(name="rz.example.com").first() or NetworkZone.objects.create(
        name="rz.example.com"
    )
    entries = [{"type": "A", "value": f"192.0.2.{index + 1}"}]
    NetworkZoneRecord.objects.create(zone=zone, name=f"r{index + 1}", description="first", entries=entries)
    return f"r{index + 1}"


def _network_forward(index, public=False):
    network = Network.objects.filter(name="fbr").first() or Network.objects.create(
        name="fbr", config={"ipv4.address": "10.7.0.1/24", "ipv6.address": "none"}
    )
    port = {"description": "", "protocol": "tcp", "listen_port": "80", "target_port": "", "target_address": "10.7.0.5"}
    NetworkForward.objects.create(
        network=network, listen_address=f"192.0.2.{index + 1}", description="first", ports=[port]
    )
    return f"192.0.2.{index + 1}"


def _network_peer(index, public=False):
    network = Network.objects.filter(name="ovn1").first() or Network.objects.create(name="ovn1", type="ovn")
    NetworkPeer.objects.create(
        network=network,
        name=f"peer{index + 1}",
        description="first",
        target_project="default",
        target_network=f"o{index}",
    )
    return f"peer{index + 1}"


def _storage_pool(index, public=False):
    # btrfs: its /resources are the recorded size (a dir pool's follow a live file system).
    config = {"source": "/x", "size": "5GiB"}
    StoragePool.objects.create(name=f"pool{index + 1}", driver="btrfs", description="first", config=config)
    return f"pool{index + 1}"


def _storage_volume(index, public=False):
    # btrfs: a volume's /state reports its recorded size (a dir pool's is LXD's "Not supported").
    pool = StoragePool.objects.filter(name="vpool").first() or StoragePool.objects.create(
        name="vpool", driver="btrfs", config={"source": "/x", "size": "5GiB"}
    )
    StorageVolume.objects.create(pool=pool, name=f"vol{index + 1}", description="first", config={"user.a": "1"})
    return f"vol{index + 1}"


def _storage_volume_snapshot(index, public=False):
    volume = StorageVolume.objects.filter(name="vol1").first() or StorageVolume.objects.get(name=_storage_volume(0))
    StorageVolumeSnapshot.objects.create(volume=volume, name=f"snap{index + 1}", description="first")
    return f"snap{index + 1}"


def _operation(index, public=False):
    return str(Operation.objects.create(description="Creating instance", status=Operation.SUCCESS).id)


INSTANCE = ResourceCase(
    _instance,
    put={"config": {"user.a": "2"}, "devices": {}, "profiles": ["default"], "description": "put"},
    patch={"description": "patched", "config": {"user.b": "3"}},
    rename={"name": "c2"},
    column="description",
    extensions=("instances", "container_full"),
    document_kind="instance",
    lxd_import="/1.0/instances",
)
SNAPSHOT = ResourceCase(
    _snapshot,
    url_kwargs={"instance_name": "c1"},
    put={"expires_at": "2030-01-01T00:00:00Z"},
    patch={"expires_at": "2031-01-01T00:00:00Z"},
    rename={"name": "s2"},
    column="expires_at",
    extensions=("instances",),
    document_kind="instance",
    lxd_import="/1.0/instances",
)

CASES = {
    "profile": ResourceCase(
        _profile,
        put={"config": {"limits.cpu": "2"}, "devices": {}, "description": "put"},
        patch={"description": "patched"},
        rename={"name": "p2"},
        column="description",
        extensions=("profile_usedby", "entity_description"),
        document_kind="profile",
        lxd_import="/1.0/profiles",
    ),
    "project": ResourceCase(
        _project,
        put={"config": {"features.profiles": "true", "user.a": "2"}, "description": "put"},
        patch={"description": "patched"},
        rename={"name": "j2"},
        column="description",
        extensions=("projects", "project_usage"),
        document_kind="project",
        lxd_import="/1.0/projects",
        standing=1,
    ),
    "image": ResourceCase(
        _image,
        put={"public": True, "auto_update": False, "properties": {"os": "put"}},
        patch={"properties": {"os": "patched"}},
        column="filename",
        extensions=("image_profiles", "images_expiry", "image_types"),
        document_kind="image",
        lxd_import="/1.0/images",
    ),
    "image-alias": ResourceCase(
        _alias,
        put={"target": FINGERPRINT, "description": "put"},
        patch={"description": "patched"},
        rename={"name": "a2"},
        column="description",
        document_kind="alias",
        lxd_import="/1.0/images/aliases",
    ),
    "network": ResourceCase(
        _network,
        put={"config": {"ipv4.address": "none", "user.a": "2"}, "description": "put"},
        patch={"description": "patched"},
        rename={"name": "n2"},
        column="description",
        extensions=("network",),
        document_kind="network",
        lxd_import="/1.0/networks",
        # The host's interfaces are listed as unmanaged networks.
        standing=len(interface_names()),
    ),
    "network-acl": ResourceCase(
        _network_acl,
        put={"ingress": [{"action": "drop", "state": "logged"}], "config": {"user.a": "2"}, "description": "put"},
        patch={"description": "patched"},
        rename={"name": "acl2"},
        column="description",
        extensions=("network_acl",),
        document_kind="network-acl",
        lxd_import="/1.0/network-acls",
    ),
    "network-zone": ResourceCase(
        _network_zone,
        put={"config": {"network.nat": "false"}, "description": "put"},
        patch={"description": "patched"},
        column="description",
        extensions=("network_dns",),
        document_kind="network-zone",
        lxd_import="/1.0/network-zones",
    ),
    "network-zone-record": ResourceCase(
        _network_zone_record,
        url_kwargs={"zone_name": "rz.example.com"},
        put={"entries": [{"type": "TXT", "value": "put", "ttl": 60}], "config": {"user.a": "2"}, "description": "put"},
        patch={"description": "patched"},
        column="description",
        extensions=("network_dns_records",),
        # Carried by its zone (import_from_lxd copies a zone's records with it).
        lxd_import="/1.0/network-zones",
    ),
    "network-forward": ResourceCase(
        _network_forward,
        url_kwargs={"network_name": "fbr"},
        put={"config": {"target_address": "10.7.0.9"}, "description": "put"},
        patch={"description": "patched"},
        column="description",
        extensions=("network_forward",),
        # Carried by its network (import_from_lxd copies a bridge's forwards with it).
        lxd_import="/1.0/networks",
    ),
    "network-peer": ResourceCase(
        _network_peer,
        url_kwargs={"network_name": "ovn1"},
        put={"config": {"user.a": "2"}, "description": "put"},
        patch={"description": "patched"},
        column="description",
        extensions=("network_peer",),
        # Carried by its network (import_from_lxd copies an OVN network's peers with it).
        lxd_import="/1.0/networks",
    ),
    "storage-pool": ResourceCase(
        _storage_pool,
        put={"config": {"source": "/x", "size": "6GiB"}, "description": "put"},
        patch={"description": "patched"},
        column="description",
        extensions=("storage", "resources"),
        document_kind="storage-pool",
        lxd_import="/1.0/storage-pools",
    ),
    "storage-volume": ResourceCase(
        _storage_volume,
        url_kwargs={"pool_name": "vpool", "volume_type": "custom"},
        put={"config": {"user.a": "2"}, "description": "put"},
        patch={"description": "patched", "config": {"user.b": "3"}},
        rename={"name": "vol2"},
        column="description",
        extensions=("storage_api_volume_rename", "custom_block_volumes", "storage_volume_project_move"),
        # Carried by its pool (import_from_lxd copies a pool's custom volumes with it).
        lxd_import="/1.0/storage-pools",
    ),
    "storage-volume-snapshot": ResourceCase(
        _storage_volume_snapshot,
        url_kwargs={"pool_name": "vpool", "volume_type": "custom", "volume_name": "vol1"},
        put={"description": "put", "expires_at": "2030-01-01T00:00:00Z"},
        patch={"description": "patched"},
        rename={"name": "snap9"},
        column="description",
        extensions=("storage_api_volume_snapshots", "custom_volume_snapshot_expiry"),
        # Carried by its volume, which its pool carries.
        lxd_import="/1.0/storage-pools",
    ),
    "operation": ResourceCase(_operation, extensions=("operation_description",)),
    "instance": INSTANCE,
    "container": INSTANCE,
    "snapshot": SNAPSHOT,
    "container-snapshot": SNAPSHOT,
}
# Changes to these columns by the ORM or SQL must show; values the serializer shows as given.
CHANGED_VALUES = {"expires_at": ["2032-01-01T00:00:00Z", "2033-01-01T00:00:00Z", "2034-01-01T00:00:00Z"]}


def _certificate(index, public=False):
    from resources.serializers.certificates import add_certificate, parse_certificate_pem
    from resources.server_identity import generate_certificate

    pem, _ = generate_certificate(client=True)
    return add_certificate(parse_certificate_pem(pem), name=f"cert{index + 1}", type="client").fingerprint


CASES["certificate"] = ResourceCase(
    _certificate,
    put={"name": "put", "type": "client", "restricted": True, "projects": ["default"]},
    patch={"name": "patched"},
    column="name",
    extensions=("certificate_update", "certificate_project"),
    lxd_import="/1.0/certificates",
    document_kind="certificate",
)
