"""LXD objects as YAML documents, and the stored version that makes editing them conflict-safe.

The admin and the ``show``/``edit``/``export``/``import`` commands read and write objects here,
always through the API's serializers, so there is one copy of the rules. A *version* is a hash
of every stored field: LXD's ETag leaves some fields out, and an editor must notice any change.
"""

import datetime
import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from rest_framework import exceptions, serializers

from . import images
from .etags import compute_etag
from .exceptions import error_text
from .go import GO_ZERO_TIME
from .instances import is_volatile, without_volatile
from .models import Image, ImageAlias, Instance, Profile, Server, Snapshot
from .serializers import (
    HIDDEN_SERVER_KEYS,
    BoolField,
    ConfigField,
    DevicesField,
    ImageAliasCreateSerializer,
    ImageAliasSerializer,
    ImageSerializer,
    InstanceCreateSerializer,
    InstanceSerializer,
    ProfileCreateSerializer,
    ProfileNamesField,
    ProfileSerializer,
    ServerSerializer,
    SnapshotCreateSerializer,
    SnapshotSerializer,
    StringField,
    TimeField,
    find_image,
)


def stored_version(instance):
    """A hash of every stored field of ``instance`` (not LXD's ETag, which hashes a subset).

    Many-to-many links count too, in their stored order (an image's profiles apply in order).
    """
    values = {field.attname: field.value_from_object(instance) for field in instance._meta.concrete_fields}
    for field in instance._meta.many_to_many:
        links = field.remote_field.through.objects.filter(**{field.m2m_field_name(): instance.pk})
        values[field.name] = list(links.order_by("pk").values_list(field.m2m_reverse_name(), flat=True))
    # Round trip through JSON so dates, decimals and UUIDs hash as the text they store.
    return compute_etag(json.loads(json.dumps(values, cls=DjangoJSONEncoder)))


class VersionConflict(Exception):
    """The stored object changed since the version the editor started from; ``current`` is
    the object as it is now, or None if it was deleted."""

    def __init__(self, current):
        super().__init__(f"{current} was changed by someone else since it was read")
        self.current = current


class DocumentError(ValueError):
    """A document that cannot be read or does not pass the API's rules; str() says why."""


def lock_current(instance, version):
    """Re-read ``instance``'s row under the API's write lock; VersionConflict if it changed.

    Call inside ``transaction.atomic()``: the lock is ``select_for_update`` on PostgreSQL, and
    on SQLite the write lock taken at BEGIN IMMEDIATE; either way it lasts until the commit.
    """
    current = type(instance)._default_manager.select_for_update().filter(pk=instance.pk).first()
    if current is None or stored_version(current) != version:
        raise VersionConflict(current)
    return current


def dump_yaml(data):
    """Readable block YAML, keys sorted as LXD's ``show`` prints them."""
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1000)


class _StringScalarLoader(yaml.SafeLoader):
    """YAML where every scalar is the string it spells, as Go decodes YAML into map[string]string."""


_StringScalarLoader.yaml_implicit_resolvers = {}
# Only null keeps its meaning: Go leaves the zero value ("" or an empty map) for it.
_StringScalarLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), [*"~nN", ""]
)


class _JSONLoader(yaml.SafeLoader):
    """YAML's JSON types only: a date stays the text it spells, as in a JSON body."""


_JSONLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text, *, strings=False):
    """Parse a YAML document into JSON values; ``strings`` keeps ``limits.cpu: 2`` as "2", as ``lxc edit`` does."""
    try:
        data = yaml.load(text, Loader=_StringScalarLoader if strings else _JSONLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: e.g. an explicit !!timestamp
        raise DocumentError(f"Invalid YAML: {exc}") from exc
    try:
        # What the API would decode from JSON: string keys, no NaN, no binary or sets.
        return json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"Invalid YAML: {exc} (only JSON's types can be stored)") from exc


@dataclass(frozen=True)
class Kind:
    """One kind of LXD object as the commands name it, with the serializers that write it."""

    name: str
    model: type
    serializer_class: type
    create_serializer_class: type | None
    # The fields a document may change (a PUT body); the rest of a shown document is ignored.
    writable: tuple[str, ...]
    # Whether documents of this kind hold only strings (Go's map[string]string and string fields).
    strings: bool
    singleton: bool = False
    # How the API finds an object from the name in its URL (default: by ``name``).
    find: Callable | None = None

    def get(self, name=None):
        """The object named ``name`` (the singleton ignores it); DocumentError if there is none."""
        if self.singleton:
            return self.model.objects.get(pk=Server.SINGLETON_ID)
        if self.find is not None:
            try:
                return self.find(name)
            except exceptions.APIException as exc:
                raise DocumentError(f"{self.name.capitalize()} {name!r}: {error_text(exc)}") from exc
        try:
            return self.model.objects.get(name=name)
        except self.model.DoesNotExist:
            raise DocumentError(f"{self.name.capitalize()} {name!r} not found") from None

    def document(self, instance):
        """The object as ``show`` prints it and ``edit`` opens it (the API's representation)."""
        data = self.serializer_class(instance).data
        return {key: data[key] for key in self.shown}

    @property
    def shown(self):
        return ("config",) if self.singleton else tuple(self.serializer_class.Meta.fields)

    def write(self, instance, data):
        """Write a document onto ``instance`` through the API's serializer (a PUT); DocumentError if refused."""
        if not isinstance(data, dict):
            raise DocumentError("The document must be a YAML mapping")
        body = {key: data[key] for key in self.writable if key in data}
        if instance is None:
            serializer = self.create_serializer_class(data={"name": data.get("name", ""), **body})
        else:
            serializer = self.serializer_class(instance, data=body)
        return save_serializer(serializer)


def save_serializer(serializer):
    """Validate and save as the API does; DocumentError with the API's message if refused."""
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.save()
    except exceptions.APIException as exc:
        raise DocumentError(error_text(exc)) from exc


KINDS = {
    "profile": Kind(
        "profile", Profile, ProfileSerializer, ProfileCreateSerializer, ("config", "description", "devices"), True
    ),
    "server": Kind("server", Server, ServerSerializer, None, ("config",), False, singleton=True),
    # Images are made by uploads (the API), never by a document; a fingerprint prefix finds one.
    "image": Kind(
        "image",
        Image,
        ImageSerializer,
        None,
        ("auto_update", "properties", "public", "expires_at", "profiles"),
        False,
        find=find_image,
    ),
    # Instances are created through the API (an operation); a document changes what a PUT does.
    "instance": Kind(
        "instance",
        Instance,
        InstanceSerializer,
        None,
        ("architecture", "config", "devices", "ephemeral", "profiles", "description"),
        False,
    ),
    "alias": Kind(
        "alias", ImageAlias, ImageAliasSerializer, ImageAliasCreateSerializer, ("description", "target"), True
    ),
}


def get_kind(name):
    """The Kind called ``name``; DocumentError naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise DocumentError(f"Unknown kind {name!r}; expected one of: {', '.join(KINDS)}") from None


def save_edited(kind, instance, data, version):
    """Write an edited document if the object is still at ``version``, all under the row lock.

    Raises VersionConflict (nothing written) or DocumentError (the API's message).
    """
    with transaction.atomic():
        current = lock_current(instance, version)
        return kind.write(current, data)


# Instances as LXD's JSON -------------------------------------------------------------------------
# `import` (an exported document) and `import_from_lxd` (a running LXD) both hand an instance's
# JSON, with its snapshots, to store_instance_record(): one copy of what the server keeps.

# An instance's stored fields, as the API shows them; the rest of its JSON is derived.
INSTANCE_FIELDS = (
    "name",
    "type",
    "architecture",
    "config",
    "devices",
    "ephemeral",
    "stateful",
    "profiles",
    "description",
    "status",
    "created_at",
    "last_used_at",
)
SNAPSHOT_FIELDS = (
    "name",
    "architecture",
    "config",
    "devices",
    "profiles",
    "ephemeral",
    "stateful",
    "expires_at",
    "created_at",
)


def instance_document(instance):
    """An instance's stored fields and its snapshots (oldest first), as the API shows them."""
    data = InstanceSerializer(instance).data
    snapshots = [SnapshotSerializer(snapshot).data for snapshot in instance.snapshots.all()]
    return {
        **{key: data[key] for key in INSTANCE_FIELDS},
        "snapshots": [{key: snapshot[key] for key in SNAPSHOT_FIELDS} for snapshot in snapshots],
    }


def _known_time(value):
    """Go's zero time (the API's "never") is no time at all."""
    return None if value == GO_ZERO_TIME else value


class InstanceRecordSerializer(serializers.ModelSerializer):
    """What the server keeps of an instance and no client PUT sets: volatile keys, status, times."""

    config = ConfigField(required=False)
    status = serializers.ChoiceField(choices=list(Instance.STATUS_CODES), required=False)
    stateful = BoolField(required=False)
    created_at = TimeField(required=False)
    last_used_at = TimeField(required=False)

    class Meta:
        model = Instance
        fields = ["config", "status", "stateful", "created_at", "last_used_at"]

    def validate_config(self, value):
        # The keys a client controls were set through InstanceSerializer; only volatile.* come from here.
        volatile = {key: item for key, item in value.items() if is_volatile(key)}
        return {**without_volatile(self.instance.config), **volatile}

    def validate_created_at(self, value):
        return _known_time(value) or self.instance.created_at

    def validate_last_used_at(self, value):
        return _known_time(value)


class SnapshotRecordSerializer(SnapshotCreateSerializer):
    """A snapshot as exported: the API's name and expiry rules, and the configuration it recorded."""

    architecture = StringField(required=False)
    config = ConfigField(required=False)
    devices = DevicesField(required=False)
    # Names as recorded: a snapshot may name a profile deleted since, as in LXD.
    profiles = ProfileNamesField(required=False, write_only=True)
    ephemeral = BoolField(required=False)
    stateful = BoolField(required=False)
    created_at = TimeField(required=False)

    class Meta(SnapshotCreateSerializer.Meta):
        read_only_fields = []

    def validate_architecture(self, value):
        # The instance serializer's rule (LXD's architectures); with no instance, "" is x86_64.
        return InstanceSerializer.validate_architecture(self, value)

    def create(self, validated_data):
        created_at = _known_time(validated_data.pop("created_at", None))
        snapshot = Snapshot.objects.create(instance=self.context["instance"], **validated_data)
        if created_at is not None:
            # auto_now_add sets the time of the row's insert; keep the recorded one.
            Snapshot.objects.filter(pk=snapshot.pk).update(created_at=created_at)
            snapshot.created_at = created_at
        return snapshot


def store_instance_record(instance, data):
    """Set what the server keeps of ``instance`` from LXD's JSON ``data``: volatile keys, status,
    stateful flag, times, and the snapshots in ``data["snapshots"]`` (created, or replaced by name).

    Call inside ``transaction.atomic()`` after the client's part went through the API's
    serializers. DocumentError with the API's message on a refusal (a duplicate snapshot name).
    """
    save_serializer(InstanceRecordSerializer(instance, data=data, partial=True))
    snapshots = data.get("snapshots") or []
    if not isinstance(snapshots, list) or not all(isinstance(item, dict) for item in snapshots):
        raise DocumentError("'snapshots' must be a list of mappings")
    # Replaced snapshots go first: a name twice in ``data`` is then the API's Conflict.
    names = [item.get("name") for item in snapshots]
    instance.snapshots.filter(name__in=[name for name in names if isinstance(name, str)]).delete()
    for item in snapshots:
        try:
            save_serializer(SnapshotRecordSerializer(data=item, context={"instance": instance}))
        except DocumentError as exc:
            raise DocumentError(f"Snapshot {item.get('name')!r}: {exc}") from exc


# Export and import ------------------------------------------------------------------------------

SECTIONS = ("server", "profiles", "images", "aliases", "instances")


def export_document(files_dir=None):
    """Every object, as stored, in one document (the trust password stays hashed).

    Images are described by their fingerprint; with ``files_dir`` their files are copied there.
    Instances carry their snapshots and what the server keeps (volatile keys, status, times).
    """
    server = Server.objects.get(pk=Server.SINGLETON_ID)
    profiles = [
        {"name": p.name, "description": p.description, "config": p.config, "devices": p.devices}
        for p in Profile.objects.order_by("name")
    ]
    images = []
    for image in Image.objects.order_by("fingerprint").prefetch_related("profile_links__profile"):
        data = dict(ImageSerializer(image).data)
        del data["aliases"]  # exported with the aliases, which name their target
        images.append({**data, "split": image.split})
        if files_dir is not None:
            _copy_files(image.files(), files_dir)
    aliases = [
        {"name": alias.name, "description": alias.description, "target": alias.image.fingerprint}
        for alias in ImageAlias.objects.order_by("name").select_related("image")
    ]
    instances = [
        instance_document(instance)
        for instance in Instance.objects.order_by("name").prefetch_related("profile_links__profile", "snapshots")
    ]
    return {
        "server": {"config": dict(sorted(server.config.items()))},
        "profiles": profiles,
        "images": images,
        "aliases": aliases,
        "instances": instances,
    }


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
        for item in _items(document, "profiles"):
            _import_named(KINDS["profile"], Profile, item)
        for item in _items(document, "images"):
            _import_image(item, files_dir)
        for item in _items(document, "aliases"):
            _import_named(KINDS["alias"], ImageAlias, item)
        for item in _items(document, "instances"):
            _import_instance(item)


def _items(document, section):
    """The mappings of a section; DocumentError for anything else."""
    items = document.get(section) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DocumentError(f"'{section}' must be a list of mappings")
    return items


def _import_named(kind, model, item):
    """Create or replace (PUT) the object named in ``item`` through its serializers."""
    name = item.get("name", "")
    if not isinstance(name, str):
        raise DocumentError(f"{kind.name.capitalize()} name {name!r} is not a string")
    instance = model.objects.select_for_update().filter(name=name).first()
    try:
        kind.write(instance, item)
    except DocumentError as exc:
        raise DocumentError(f"{kind.name.capitalize()} {name!r}: {exc}") from exc


def _import_instance(item):
    """Create (POST) or replace (PUT) an instance through the API's serializers, then its record and snapshots."""
    name = item.get("name", "")
    if not isinstance(name, str):
        raise DocumentError(f"Instance name {name!r} is not a string")
    instance = Instance.objects.select_for_update().filter(name=name).first()
    body = {key: item[key] for key in KINDS["instance"].writable if key in item}
    # No type: a new instance is a container, as the API creates one; a stored one keeps its own.
    instance_type = item.get("type", instance.type if instance else Image.CONTAINER)
    try:
        if instance_type not in (Image.CONTAINER, Image.VIRTUAL_MACHINE):
            raise DocumentError(f"Invalid instance type {instance_type!r}")
        if instance is None:
            instance = save_serializer(InstanceCreateSerializer(data={"name": name, "type": instance_type, **body}))
        elif instance.type != instance_type:
            raise DocumentError(f"It is a {instance.type}, not a {instance_type}; delete it first to replace it")
        else:
            instance = save_serializer(InstanceSerializer(instance, data=body))
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


def _import_image(item, files_dir):
    """An image: its row from its files (checked as an upload is), then its settings through the serializer."""
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
        raise DocumentError(f"Image fingerprint {fingerprint!r} is not a SHA-256 in hex")
    image = Image.objects.select_for_update().filter(fingerprint=fingerprint).first()
    try:
        if image is None:
            image = _image_from_files(item, fingerprint, Path(files_dir or settings.LXDSITE_IMAGES_DIR))
        KINDS["image"].write(image, item)
    except (DocumentError, images.ImageError) as exc:
        raise DocumentError(f"Image {fingerprint[:12]}: {exc}") from exc


def _image_from_files(item, fingerprint, source):
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
        fingerprint=fingerprint,
        filename=str(item.get("filename") or ""),
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
    except (TypeError, ValueError):
        return None
    return None if value.year == 1 else value


def _install(copies):
    """Copy imported image files into the images directory (after the rows commit)."""
    for source, target in copies:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(source, target)
