"""``export`` and ``import``: every object in one document, with image files beside it."""

import base64
import datetime
import hashlib
import re
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from rest_framework import exceptions

from .. import images
from ..exceptions import error_text
from ..models import (
    Certificate,
    Image,
    ImageAlias,
    Instance,
    Network,
    NetworkACL,
    NetworkForward,
    NetworkPeer,
    NetworkZone,
    NetworkZoneRecord,
    Profile,
    Project,
    Server,
    StoragePool,
    StorageVolume,
)
from ..serializers import (
    HIDDEN_SERVER_KEYS,
    ImageSerializer,
    InstanceCreateSerializer,
    InstanceSerializer,
)
from ..serializers.certificates import (
    CertificateCreateSerializer,
    CertificateSerializer,
    add_certificate,
    parse_certificate_pem,
)
from ..serializers.network_forwards import NetworkForwardCreateSerializer, NetworkForwardSerializer
from ..serializers.network_peers import NetworkPeerCreateSerializer, NetworkPeerSerializer, shown_targets
from ..serializers.network_zone_records import NetworkZoneRecordCreateSerializer, NetworkZoneRecordSerializer
from ..serializers.storage_pools import StoragePoolCreateSerializer, StoragePoolSerializer
from ..serializers.storage_volume_snapshots import StorageVolumeSnapshotCreateSerializer
from ..serializers.storage_volumes import StorageVolumeCreateSerializer, StorageVolumeSerializer
from ..server_identity import fingerprint_of_der
from .errors import (
    DocumentError,
)
from .instance_records import (
    instance_document,
    store_instance_record,
)
from .kinds import (
    KINDS,
    save_serializer,
)

# What a project holds, in the order an import creates it; the default project's at the top
# level, every other project's under ``projects``.
# Zones and ACLs before the networks that name them, networks before their forwards, peers and
# the NICs that name them.
CONTENTS = (
    "network_zones",
    "network_zone_records",
    "network_acls",
    "networks",
    "network_forwards",
    "network_peers",
    # Before the instances: their disks attach volumes.
    "storage_volumes",
    "profiles",
    "images",
    "aliases",
    "instances",
)
# The fields of the network objects a document carries, as the API shows them.
NETWORK_SECTIONS = {
    "network_zones": (NetworkZone, ("name", "description", "config"), "network-zone"),
    "network_acls": (NetworkACL, ("name", "description", "ingress", "egress", "config"), "network-acl"),
    "networks": (Network, ("name", "description", "type", "config"), "network"),
}
FORWARD_FIELDS = ("listen_address", "description", "config", "ports")
RECORD_FIELDS = ("name", "description", "entries", "config")
PEER_FIELDS = ("name", "description", "config")
# Storage pools are the server's, made before what names them (root disks).
SECTIONS = ("server", "storage_pools", *CONTENTS, "projects", "certificates")


def export_document(files_dir=None):
    """Every object, as stored, in one document (the trust password stays hashed).

    Images are described by their fingerprint; with ``files_dir`` their files are copied there.
    Instances carry their snapshots and what the server keeps (volatile keys, status, times).
    """
    server = Server.objects.get(pk=Server.SINGLETON_ID)
    projects = Project.objects.order_by("name")
    default = next(project for project in projects if project.pk == Project.DEFAULT_ID)
    pools = [
        {"name": pool.name, "driver": pool.driver, "description": pool.description, "config": pool.config}
        for pool in StoragePool.objects.order_by("name")
    ]
    return {
        "server": {"config": dict(sorted(server.config.items()))},
        "storage_pools": pools,
        **_project_contents(default, files_dir),
        "projects": [
            {
                "name": project.name,
                "description": project.description,
                "config": project.config,
                **_project_contents(project, files_dir),
            }
            for project in projects
            if project.pk != Project.DEFAULT_ID
        ],
        "certificates": [
            {key: data[key] for key in ("name", "type", "restricted", "projects", "certificate")}
            for data in CertificateSerializer(
                Certificate.objects.prefetch_related("project_links__project"), many=True
            ).data
        ],
    }


def _project_contents(project, files_dir):
    """The profiles, images, aliases and instances that live in ``project``."""
    profiles = [
        {"name": p.name, "description": p.description, "config": p.config, "devices": p.devices}
        for p in Profile.objects.filter(project=project).order_by("name")
    ]
    images = []
    context = {"project_name": project.name}
    stored = Image.objects.filter(project=project).order_by("fingerprint")
    for image in stored.prefetch_related("profile_links__profile"):
        data = dict(ImageSerializer(image, context=context).data)
        del data["aliases"]  # exported with the aliases, which name their target
        images.append({**data, "split": image.split})
        if files_dir is not None:
            _copy_files(image.files(), files_dir)
    aliases = [
        {"name": alias.name, "description": alias.description, "target": alias.image.fingerprint}
        for alias in ImageAlias.objects.filter(project=project).order_by("name").select_related("image")
    ]
    instances = [
        instance_document(instance)
        for instance in Instance.objects.filter(project=project)
        .order_by("name")
        .prefetch_related("profile_links__profile", "snapshots")
    ]
    network_sections = {
        section: [
            {key: getattr(row, key) for key in fields} for row in model.objects.filter(project=project).order_by("id")
        ]
        for section, (model, fields, _) in NETWORK_SECTIONS.items()
    }
    forwards = NetworkForward.objects.filter(network__project=project).select_related("network").order_by("id")
    network_sections["network_forwards"] = [
        {"network": forward.network.name, **{key: getattr(forward, key) for key in FORWARD_FIELDS}}
        for forward in forwards
    ]
    records = NetworkZoneRecord.objects.filter(zone__project=project).select_related("zone").order_by("id")
    network_sections["network_zone_records"] = [
        {"zone": record.zone.name, **{key: getattr(record, key) for key in RECORD_FIELDS}} for record in records
    ]
    # A peer carries the target it shows (a linked one's too): imported, it links again once the
    # peering back is imported.
    # One whose target is gone (Errored) names none and could not be made again, by LXD either: left out.
    peers = shown_targets(list(NetworkPeer.objects.filter(network__project=project).select_related("network")))
    network_sections["network_peers"] = [
        {
            "network": peer.network.name,
            **{key: getattr(peer, key) for key in PEER_FIELDS},
            "target_project": peer.shown_target[0],
            "target_network": peer.shown_target[1],
        }
        for peer in peers
        if peer.shown_target[2] != NetworkPeer.ERRORED
    ]
    return {
        **network_sections,
        "storage_volumes": _volumes_of(project),
        "profiles": profiles,
        "images": images,
        "aliases": aliases,
        "instances": instances,
    }


VOLUME_FIELDS = ("name", "content_type", "description", "config")
VOLUME_SNAPSHOT_FIELDS = ("name", "description", "expires_at", "config")


def _volumes_of(project):
    """The custom volumes of ``project``, each with its pool and snapshots."""
    volumes = StorageVolume.objects.filter(project=project, type=StorageVolume.CUSTOM, instance__isnull=True)
    return [
        {
            "pool": volume.pool.name,
            **{key: getattr(volume, key) for key in VOLUME_FIELDS},
            "snapshots": [
                {key: getattr(snapshot, key) for key in VOLUME_SNAPSHOT_FIELDS} for snapshot in volume.snapshots.all()
            ],
        }
        for volume in volumes.select_related("pool").prefetch_related("snapshots").order_by("pool__name", "name")
    ]


def _copy_files(paths, directory):
    """Copy image files into ``directory``; DocumentError naming a file that cannot be read."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in paths:
            if Path(path).parent.resolve() != directory.resolve():
                shutil.copyfile(path, directory / Path(path).name)
    except OSError as exc:
        raise DocumentError(f"Cannot copy {exc.filename}: {exc.strerror}") from exc


def import_document(document, files_dir=None):
    """Load an exported document through the serializers, in one transaction; DocumentError on the first refusal.

    An image not yet stored needs its files, in ``files_dir`` or already in the images directory.
    """
    if not isinstance(document, dict):
        raise DocumentError(f"The document must be a YAML mapping with {', '.join(map(repr, SECTIONS))}")
    unknown = set(document) - set(SECTIONS)
    if unknown:
        raise DocumentError(f"Unknown sections: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if "server" in document:
            _import_server(document["server"] or {})
        for item in _items(document, "storage_pools"):
            _import_pool(item)
        _import_contents(document, Project.objects.get(pk=Project.DEFAULT_ID), files_dir)
        for item in _items(document, "projects"):
            _import_project(item, files_dir)
        # After the projects: a restricted certificate names its projects.
        for item in _items(document, "certificates"):
            _import_certificate(item)


def _import_project(item, files_dir):
    """A project (created or replaced through its serializers), then what it holds."""
    unknown = set(item) - {"name", "description", "config", *CONTENTS}
    name = item.get("name", "")
    if unknown:
        raise DocumentError(f"Project {name!r}: unknown keys: {', '.join(sorted(map(str, unknown)))}")
    if name == Project.DEFAULT_NAME:
        raise DocumentError("The default project's objects belong at the top level of the document")
    project = _import_named(KINDS["project"], Project, {key: item[key] for key in item if key not in CONTENTS})
    try:
        _import_contents(item, project, files_dir)
    except DocumentError as exc:
        raise DocumentError(f"Project {name!r}: {exc}") from exc


def _import_contents(document, project, files_dir):
    for section, (model, _, kind) in NETWORK_SECTIONS.items():
        for item in _items(document, section):
            _import_named(KINDS[kind], model, item, project)
    for item in _items(document, "network_forwards"):
        _import_forward(item, project)
    for item in _items(document, "network_zone_records"):
        _import_record(item, project)
    for item in _items(document, "network_peers"):
        _import_peer(item, project)
    for item in _items(document, "storage_volumes"):
        _import_volume(item, project)
    for item in _items(document, "profiles"):
        _import_named(KINDS["profile"], Profile, item, project)
    for item in _items(document, "images"):
        _import_image(item, files_dir, project)
    for item in _items(document, "aliases"):
        _import_named(KINDS["alias"], ImageAlias, item, project)
    for item in _items(document, "instances"):
        _import_instance(item, project)


def _items(document, section):
    """The mappings of a section; DocumentError for anything else."""
    items = document.get(section) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DocumentError(f"'{section}' must be a list of mappings")
    return items


def _import_named(kind, model, item, project=None):
    """Create or replace (PUT) the object named in ``item`` through its serializers (in ``project``,
    for what lives in one); the object written."""
    name = item.get("name", "")
    if not isinstance(name, str):
        raise DocumentError(f"{kind.name.capitalize()} name {name!r} is not a string")
    stored = model.objects.select_for_update().filter(name=name)
    if kind.in_projects:
        stored = stored.filter(project=project)
    try:
        return kind.write(stored.first(), item, project)
    except DocumentError as exc:
        raise DocumentError(f"{kind.name.capitalize()} {name!r}: {exc}") from exc


def _import_pool(item):
    """Create (POST, with its driver) or replace (PUT) a storage pool through the API's serializers."""
    name = item.get("name", "")
    if not isinstance(name, str):
        raise DocumentError(f"Storage pool name {name!r} is not a string")
    pool = StoragePool.objects.select_for_update().filter(name=name).first()
    body = {key: item[key] for key in KINDS["storage-pool"].writable if key in item}
    try:
        if pool is None:
            save_serializer(StoragePoolCreateSerializer(data={"name": name, "driver": item.get("driver", ""), **body}))
        elif item.get("driver", pool.driver) != pool.driver:
            raise DocumentError(f"Its driver is {pool.driver}, not {item['driver']}; delete it first to replace it")
        else:
            save_serializer(StoragePoolSerializer(pool, data=body))
    except DocumentError as exc:
        raise DocumentError(f"Storage pool {name!r}: {exc}") from exc


def _import_volume(item, project):
    """Create or replace (PUT) a custom volume and its snapshots through the API's serializers."""
    name, pool_name = item.get("name", ""), item.get("pool", "")
    unknown = set(item) - {"pool", "snapshots", *VOLUME_FIELDS}
    if unknown:
        raise DocumentError(f"Storage volume {name!r}: unknown keys: {', '.join(sorted(map(str, unknown)))}")
    pool = StoragePool.objects.filter(name=pool_name).first() if isinstance(pool_name, str) else None
    if pool is None:
        raise DocumentError(f"Storage volume {name!r}: no storage pool {pool_name!r}")
    volume = (
        StorageVolume.objects.select_for_update()
        .filter(pool=pool, project=project, type=StorageVolume.CUSTOM, name=name, instance__isnull=True)
        .select_related("pool", "project")
        .first()
    )
    body = {key: item[key] for key in ("description", "config") if key in item}
    try:
        if volume is None:
            context = {"pool": pool, "project": project, "volume_type": StorageVolume.CUSTOM}
            data = {"name": name, "content_type": item.get("content_type", ""), **body}
            volume = save_serializer(StorageVolumeCreateSerializer(data=data, context=context))
        else:
            volume = save_serializer(StorageVolumeSerializer(volume, data=body))
        for snapshot in _items(item, "snapshots"):
            _import_volume_snapshot(volume, snapshot)
    except DocumentError as exc:
        raise DocumentError(f"Storage volume {name!r}: {exc}") from exc


def _import_volume_snapshot(volume, item):
    """A volume's snapshot, made again (through the API's serializer) with its recorded config."""
    volume.snapshots.filter(name=item.get("name")).delete()
    body = {key: item[key] for key in ("name", "description", "expires_at") if key in item}
    snapshot = save_serializer(StorageVolumeSnapshotCreateSerializer(data=body, context={"volume": volume}))
    config = item.get("config", snapshot.config)
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        raise DocumentError(f"Snapshot {snapshot.name!r}: config must be a mapping of strings")
    snapshot.config = config
    snapshot.save(update_fields=["config"])


def _import_forward(item, project):
    """Create or replace (PUT) a bridge's or OVN network's forward through the API's serializers."""
    name, address = item.get("network", ""), item.get("listen_address", "")
    network = Network.objects.filter(project=project, name=name).first()
    if network is None or network.type not in (Network.BRIDGE, "ovn"):
        found = "not found" if network is None else "does not forward (only bridge and ovn networks do)"
        raise DocumentError(f"Forward {address!r}: network {name!r} {found}")
    forward = NetworkForward.objects.select_for_update().filter(network=network, listen_address=address).first()
    body = {key: item[key] for key in FORWARD_FIELDS if key in item}
    if forward is None:
        serializer = NetworkForwardCreateSerializer(data=body, context={"network": network})
    else:
        body.pop("listen_address", None)
        serializer = NetworkForwardSerializer(forward, data=body)
    try:
        save_serializer(serializer)
    except DocumentError as exc:
        raise DocumentError(f"Forward {address!r}: {exc}") from exc


def _import_record(item, project):
    """Create or replace (PUT) a zone's record through the API's serializers."""
    zone_name, name = item.get("zone", ""), item.get("name", "")
    zone = NetworkZone.objects.filter(project=project, name=zone_name).first()
    if zone is None:
        raise DocumentError(f"Zone record {name!r}: zone {zone_name!r} not found")
    record = NetworkZoneRecord.objects.select_for_update().filter(zone=zone, name=name).first()
    body = {key: item[key] for key in RECORD_FIELDS if key in item}
    if record is None:
        serializer = NetworkZoneRecordCreateSerializer(data=body, context={"zone": zone})
    else:
        body.pop("name", None)
        serializer = NetworkZoneRecordSerializer(record, data=body)
    try:
        save_serializer(serializer)
    except DocumentError as exc:
        raise DocumentError(f"Zone record {name!r}: {exc}") from exc


def _import_peer(item, project):
    """Create or replace (PUT) an OVN network's peer through the API's serializers; a new one links
    with its target's peering back, as in the API."""
    network_name, name = item.get("network", ""), item.get("name", "")
    network = Network.objects.filter(project=project, name=network_name).select_related("project").first()
    if network is None or network.type != "ovn":
        found = "not found" if network is None else "does not peer (only ovn networks do)"
        raise DocumentError(f"Peer {name!r}: network {network_name!r} {found}")
    peer = NetworkPeer.objects.select_for_update().filter(network=network, name=name).first()
    if peer is None:
        body = {key: item[key] for key in (*PEER_FIELDS, "target_project", "target_network") if key in item}
        existing = shown_targets(list(NetworkPeer.objects.filter(network=network)))
        serializer = NetworkPeerCreateSerializer(data=body, context={"network": network, "existing": existing})
    else:
        serializer = NetworkPeerSerializer(peer, data={key: item[key] for key in PEER_FIELDS[1:] if key in item})
    try:
        save_serializer(serializer)
    except DocumentError as exc:
        raise DocumentError(f"Peer {name!r}: {exc}") from exc


def _import_certificate(item):
    """Trust the certificate (its PEM) as the item says, or replace (PUT) what an existing one says."""
    try:
        der = parse_certificate_pem(str(item.get("certificate", "")))
    except ValueError as exc:
        raise DocumentError(f"Certificate {item.get('name', '')!r}: {exc}") from None
    existing = Certificate.objects.select_for_update().filter(fingerprint=fingerprint_of_der(der)).first()
    if existing is not None:
        KINDS["certificate"].write(existing, item)
        return
    body = {key: item[key] for key in ("name", "type", "restricted", "projects") if key in item}
    serializer = CertificateCreateSerializer(data={**body, "certificate": base64.b64encode(der).decode()})
    try:
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["type"] not in Certificate.TYPES:
            raise DocumentError(f"Certificate {data['name']!r}: Invalid certificate type")
        add_certificate(
            der, name=data["name"], type=data["type"], restricted=data["restricted"], projects=data["projects"]
        )
    except exceptions.APIException as exc:
        raise DocumentError(f"Certificate {body.get('name', '')!r}: {error_text(exc)}") from exc


def _import_instance(item, project):
    """Create (POST) or replace (PUT) an instance through the API's serializers, then its record and snapshots."""
    name = item.get("name", "")
    if not isinstance(name, str):
        raise DocumentError(f"Instance name {name!r} is not a string")
    instance = Instance.objects.select_for_update().filter(project=project, name=name).first()
    context = {"project_name": project.name}
    body = {key: item[key] for key in KINDS["instance"].writable if key in item}
    # No type: a new instance is a container, as the API creates one; a stored one keeps its own.
    instance_type = item.get("type", instance.type if instance else Image.CONTAINER)
    try:
        if instance_type not in (Image.CONTAINER, Image.VIRTUAL_MACHINE):
            raise DocumentError(f"Invalid instance type {instance_type!r}")
        if instance is None:
            data = {"name": name, "type": instance_type, **body}
            instance = save_serializer(InstanceCreateSerializer(data=data, context=context))
        elif instance.type != instance_type:
            raise DocumentError(f"It is a {instance.type}, not a {instance_type}; delete it first to replace it")
        else:
            instance = save_serializer(InstanceSerializer(instance, data=body, context=context))
        store_instance_record(instance, item)
    except DocumentError as exc:
        raise DocumentError(f"Instance {name!r}: {exc}") from exc


def _import_server(data):
    """The server config; a hashed trust password is carried over as the hash, never re-hashed."""
    server = Server.objects.select_for_update().get(pk=Server.SINGLETON_ID)
    config = data.get("config") if isinstance(data, dict) else None
    if isinstance(config, dict):
        hidden = {key: value for key, value in config.items() if key in HIDDEN_SERVER_KEYS}
        # The serializer keeps a hidden key sent back as `true` (as LXD shows it) at its
        # current value: present the exported hash as the current value, send `true`.
        server.config = {**server.config, **hidden}
        data = {"config": {**config, **dict.fromkeys(hidden, True)}}
    try:
        KINDS["server"].write(server, data)
    except DocumentError as exc:
        raise DocumentError(f"Server: {exc}") from exc


def _import_image(item, files_dir, project):
    """An image: its row from its files (checked as an upload is), then its settings through the serializer."""
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
        raise DocumentError(f"Image fingerprint {fingerprint!r} is not a SHA-256 in hex")
    image = Image.objects.select_for_update().filter(project=project, fingerprint=fingerprint).first()
    try:
        if image is None:
            image = _image_from_files(item, fingerprint, Path(files_dir or settings.LXDSITE_IMAGES_DIR), project)
        KINDS["image"].write(image, item)
    except (DocumentError, images.ImageError) as exc:
        raise DocumentError(f"Image {fingerprint[:12]}: {exc}") from exc


def _image_from_files(item, fingerprint, source, project):
    """Store an image found as files in ``source``: the fingerprint and metadata come from the files."""
    split = item.get("split") is True
    paths = [source / fingerprint, source / f"{fingerprint}.rootfs"][: 2 if split else 1]
    digest = hashlib.sha256()
    for path in paths:
        try:
            with path.open("rb") as file:
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise DocumentError(f"Cannot read {path}: {exc.strerror} (export and import with --with-files)") from exc
    if digest.hexdigest() != fingerprint:
        raise DocumentError(f"The files in {source} do not match the fingerprint")
    raw, instance_type = images.scan_tarball(paths[0], unified=not split)
    metadata = images.parse_metadata(raw)
    instance_type = item.get("type") if split else instance_type
    if instance_type not in (Image.CONTAINER, Image.VIRTUAL_MACHINE):
        raise DocumentError("Invalid instance type")
    image = Image.objects.create(
        project=project,
        fingerprint=fingerprint,
        filename=images.upload_filename(str(item.get("filename") or "")),
        size=sum(path.stat().st_size for path in paths),
        architecture=metadata.architecture,
        type=instance_type,
        split=split,
        cached=item.get("cached") is True,
        properties=metadata.properties,
        expires_at=metadata.expires_at,
        created_at=metadata.created_at,
    )
    # What no serializer writes: when the image was uploaded and last used, as exported.
    Image.objects.filter(pk=image.pk).update(
        uploaded_at=_exported_time(item.get("uploaded_at")) or image.uploaded_at,
        last_used_at=_exported_time(item.get("last_used_at")),
    )
    image.refresh_from_db()
    if source.resolve() != Path(settings.LXDSITE_IMAGES_DIR).resolve():
        copies = list(zip(paths, image.files(), strict=True))
        transaction.on_commit(lambda: _install(copies))
    return image


def _exported_time(text):
    """A time as exported (Go's format); Go's zero time and anything else unreadable are None."""
    try:
        value = datetime.datetime.fromisoformat(text)
        # Stored in UTC: an instant outside years 1-9999 there could not be read back.
        value.astimezone(datetime.UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if value.year == 1 else value


def _install(copies):
    """Copy imported image files into the images directory (after the rows commit)."""
    for source, target in copies:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(source, target)
