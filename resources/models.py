"""The LXD objects lxdsite stores.

Config maps and device maps are JSON objects of strings, as LXD keeps them; the rules for
their keys live in ``config_keys`` and are applied by the serializers, so the API, the admin
and the management commands share one copy.
"""

import datetime
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import default_project
from .watched import watched


@watched
class Server(models.Model):
    """The server's own configuration (``GET/PUT/PATCH /1.0``): one row, made by a migration."""

    SINGLETON_ID = 1

    config = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "server configuration"

    def __str__(self):
        return "server configuration"


@watched
class Project(models.Model):
    """An LXD project: the place profiles, instances, images and aliases live in.

    The ``default`` project is made by a migration (and again after a flush) with the id LXD
    gives it, so that objects made without naming a project land in it.
    """

    DEFAULT_NAME = default_project.DEFAULT_NAME
    # The project a list names when it asks for every project's objects (``all-projects=true``).
    ALL = None
    DEFAULT_ID = default_project.DEFAULT_ID
    # The features LXD 5.0.2 knows (lxd/db/cluster/projects.go ProjectFeatures); a project
    # without its own profiles or images uses the default project's.
    FEATURES = ("features.images", "features.networks", "features.profiles", "features.storage.volumes")
    DEFAULT_FEATURES = ("features.images", "features.profiles", "features.storage.volumes")

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    def delete(self, *args, **kwargs):
        """Delete the project with the profiles it holds: callers check first that it holds no
        other than the ``default`` profile it made for itself (LXD's projectIsEmpty). Its custom
        storage volumes go with it, as LXD 5.0.2's do."""
        Profile.objects.filter(project=self).delete()
        StorageVolume.objects.filter(project=self).delete()
        return super().delete(*args, **kwargs)

    @classmethod
    def url_query(cls, name):
        """The query LXD's URLs carry for an object of project ``name``: none in the default project."""
        return "" if name == cls.DEFAULT_NAME else "?" + urlencode({"project": name})

    @classmethod
    def holding(cls, name, feature):
        """The project whose objects of ``feature`` (``features.images``) project ``name`` uses:
        itself, or the default project when it lacks the feature (or does not exist)."""
        if name != cls.DEFAULT_NAME:
            project = cls.objects.filter(name=name).first()
            if project is not None and project.has_feature(feature):
                return project
        return cls(pk=cls.DEFAULT_ID, name=cls.DEFAULT_NAME)

    def has_feature(self, feature):
        """Whether the project keeps its own objects of ``feature`` (``features.profiles``)."""
        return self.config.get(feature, "").lower() in ("true", "1", "yes", "on")


def _project_field(related_name, **kwargs):
    """The project an object lives in; a project that still holds objects is not deleted."""
    return models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name=related_name, default=Project.DEFAULT_ID, **kwargs
    )


class InProjectQuerySet(models.QuerySet):
    """Rows of objects that live in projects."""

    def in_default_project(self):
        """The default project's rows: those of resources whose requests do not name a project yet."""
        return self.filter(project_id=Project.DEFAULT_ID)


@watched
class Profile(models.Model):
    """An LXD profile: config and devices that instances inherit in order."""

    DEFAULT_NAME = "default"

    project = _project_field("profiles")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    devices = models.JSONField(default=dict, blank=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_profile_name")]

    def __str__(self):
        return self.name


def _epoch():
    """LXD's "never" for an image's expiry: the Unix epoch."""
    return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@watched
class Image(models.Model):
    """An LXD image: a file (or a metadata and a rootfs file) under LXD_DIR/images, named by its SHA-256."""

    CONTAINER = "container"
    VIRTUAL_MACHINE = "virtual-machine"

    # Unique within a project; projects holding the same image share its files, named by the
    # fingerprint alone.
    project = _project_field("images")
    fingerprint = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(default=0)
    architecture = models.CharField(max_length=32)
    type = models.CharField(max_length=32, default=CONTAINER)
    # A split image keeps its rootfs beside the metadata tarball, as LXD does (<fingerprint>.rootfs).
    split = models.BooleanField(default=False)
    public = models.BooleanField(default=False)
    auto_update = models.BooleanField(default=False)
    cached = models.BooleanField(default=False)
    properties = models.JSONField(default=dict, blank=True)
    profiles = models.ManyToManyField(Profile, through="ImageProfile", related_name="images", blank=True)
    expires_at = models.DateTimeField(default=_epoch)
    created_at = models.DateTimeField(default=_epoch)
    last_used_at = models.DateTimeField(null=True, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["fingerprint"]
        constraints = [models.UniqueConstraint(fields=["project", "fingerprint"], name="unique_image_fingerprint")]

    def __str__(self):
        return self.fingerprint

    @property
    def path(self):
        """The image file, or the metadata tarball of a split image."""
        return settings.LXDSITE_IMAGES_DIR / self.fingerprint

    @property
    def rootfs_path(self):
        """A split image's rootfs file."""
        return settings.LXDSITE_IMAGES_DIR / f"{self.fingerprint}.rootfs"

    def files(self):
        """Every file this image keeps on disk."""
        return [self.path, self.rootfs_path] if self.split else [self.path]


@watched
class ImageProfile(models.Model):
    """An image's profile, in the order the image lists them (instances apply them in that order)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="profile_links")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="image_links")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["image", "profile"], name="unique_image_profile")]

    def __str__(self):
        return f"{self.image} {self.profile}"


@watched
class ImageAlias(models.Model):
    """A name for an image; deleting the image deletes its aliases."""

    project = _project_field("image_aliases")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "image aliases"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_image_alias_name")]

    def __str__(self):
        return self.name

    @property
    def target(self):
        return self.image.fingerprint

    @property
    def type(self):
        return self.image.type


class OperationQuerySet(models.QuerySet):
    """Operations as LXD lists them: a finished one is gone ``LXDSITE_OPERATION_EXPIRY`` seconds after it ended."""

    @staticmethod
    def _cutoff():
        return timezone.now() - datetime.timedelta(seconds=settings.LXDSITE_OPERATION_EXPIRY)

    def expired(self):
        return self.exclude(status=Operation.RUNNING).filter(updated_at__lt=self._cutoff())

    def unexpired(self):
        return self.filter(models.Q(status=Operation.RUNNING) | models.Q(updated_at__gte=self._cutoff()))


class Operation(models.Model):
    """A background operation (``/1.0/operations``); a row, so every worker process sees it.

    lxdsite mostly finishes the work within the request; the row then ends ``Success`` or
    ``Failure`` and expires a few seconds later, as LXD forgets finished operations.
    """

    RUNNING = "Running"
    SUCCESS = "Success"
    FAILURE = "Failure"
    CANCELLED = "Cancelled"
    # LXD's api.StatusCode values.
    STATUS_CODES = {RUNNING: 103, SUCCESS: 200, FAILURE: 400, CANCELLED: 401}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # None for the server's own operations (a project's rename); a project's go with it.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="operations", null=True, blank=True, default=Project.DEFAULT_ID
    )
    operation_class = models.CharField(max_length=16, default="task")
    description = models.CharField(max_length=255)
    status = models.CharField(max_length=16, default=RUNNING)
    status_code = models.IntegerField(default=STATUS_CODES[RUNNING])
    resources = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    err = models.TextField(blank=True, default="")
    may_cancel = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a finished operation ended: expiry counts from here.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.description} ({self.status})"

    def finish(self, err="", metadata=None):
        """End the operation: ``Success``, or ``Failure`` with LXD's error text."""
        self.status = self.FAILURE if err else self.SUCCESS
        self.status_code = self.STATUS_CODES[self.status]
        self.err = err
        if metadata is not None:
            self.metadata = metadata

    @property
    def running(self):
        return self.status == self.RUNNING


class Event(models.Model):
    """One message of the ``/1.0/events`` stream, kept briefly so every worker process can send it.

    Listeners read the rows newer than the last they saw (``resources/events.py``); rows
    older than ``LXDSITE_EVENTS_RETENTION`` seconds are pruned as new ones arrive.
    """

    type = models.CharField(max_length=32)
    # The message as sent: LXD's event JSON, newline-terminated.
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.type} event {self.pk}"


class APIToken(models.Model):
    """An API token for TCP clients (``Authorization: Bearer``), stored as a SHA-256 digest."""

    name = models.CharField(max_length=255, unique=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"

    def __str__(self):
        return self.name


@watched
class Instance(models.Model):
    """An LXD instance (container or VM): recorded, never run; its status is what clients set."""

    STOPPED = "Stopped"
    RUNNING = "Running"
    FROZEN = "Frozen"
    STATUS_CODES = {RUNNING: 103, STOPPED: 102, FROZEN: 110}

    project = _project_field("instances")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    architecture = models.CharField(max_length=32, default="x86_64")
    type = models.CharField(max_length=32, default="container")
    config = models.JSONField(default=dict, blank=True)
    devices = models.JSONField(default=dict, blank=True)
    ephemeral = models.BooleanField(default=False)
    stateful = models.BooleanField(default=False)
    status = models.CharField(max_length=16, default=STOPPED)
    profiles = models.ManyToManyField(Profile, through="InstanceProfile", related_name="instances", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The image metadata LXD keeps in the instance's metadata.yaml (``/metadata``): None for an
    # instance made without an image, which has no such file.
    metadata = models.JSONField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_instance_name")]

    def __str__(self):
        return self.name

    def profile_list(self):
        """The attached profiles in the order LXD applies them."""
        return [link.profile for link in self.profile_links.all()]


class InstanceTemplate(models.Model):
    """A file of an instance's ``templates`` directory (``/metadata/templates?path=NAME``)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=255)
    content = models.BinaryField(default=b"")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["instance", "name"], name="unique_instance_template")]

    def __str__(self):
        return f"{self.instance} {self.name}"


@watched
class InstanceProfile(models.Model):
    """An instance's profile, in order; a profile in use cannot be deleted (PROTECT)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="profile_links")
    profile = models.ForeignKey(Profile, on_delete=models.PROTECT, related_name="instance_links")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["instance", "profile"], name="unique_instance_profile")]

    def __str__(self):
        return f"{self.instance} {self.profile}"


@watched
class Snapshot(models.Model):
    """A snapshot of an instance's configuration (``/1.0/instances/NAME/snapshots/SNAP``)."""

    # LXD's "no expiry", and the form the ETag hashes (expires_at is kept as LXD renders it).
    NEVER = "0001-01-01T00:00:00Z"

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=255)
    architecture = models.CharField(max_length=32, default="x86_64")
    config = models.JSONField(default=dict, blank=True)
    devices = models.JSONField(default=dict, blank=True)
    # Profile names, as the snapshot recorded them.
    profiles = models.JSONField(default=list, blank=True)
    ephemeral = models.BooleanField(default=False)
    stateful = models.BooleanField(default=False)
    expires_at = models.CharField(max_length=64, default=NEVER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instance", "id"]
        constraints = [models.UniqueConstraint(fields=["instance", "name"], name="unique_snapshot_name")]

    def __str__(self):
        return f"{self.instance}/{self.name}"


@watched
class StoragePool(models.Model):
    """An LXD storage pool: its driver and config are recorded; no disk is made or measured."""

    CREATED = "Created"

    name = models.CharField(max_length=255, unique=True)
    driver = models.CharField(max_length=16)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, default=CREATED)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def delete(self, *args, **kwargs):
        """Delete the pool with its optimized images' volumes, as LXD does (callers check first
        that nothing else uses it)."""
        StorageVolume.objects.filter(pool=self, type=StorageVolume.IMAGE).delete()
        return super().delete(*args, **kwargs)


class ChangeToken(models.Model):
    """One row whose ``token`` changes whenever a row an API answer shows changes.

    Database triggers (``watched.py``) set a fresh random token on every insert, update and
    delete of a ``@watched`` model's rows, whoever writes (API, admin, commands, raw SQL). ``response_cache`` keeps
    answers under the token they were read at. On PostgreSQL the trigger runs at commit
    (deferred), once per transaction, so it takes its lock last and cannot deadlock.
    """

    SINGLETON_ID = 1

    token = models.CharField(max_length=32)
    # PostgreSQL: the transaction that set the token (its later rows need not set it again).
    txid = models.BigIntegerField(null=True)

    def __str__(self):
        return self.token


@watched
class Network(models.Model):
    """A managed LXD network (``/1.0/networks``): its type and config, recorded; no interface is made."""

    BRIDGE = "bridge"
    # LXD's status of a network on a standalone server, and its one location.
    CREATED = "Created"

    project = _project_field("networks")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    type = models.CharField(max_length=32, default=BRIDGE)
    config = models.JSONField(default=dict, blank=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        # LXD lists networks in the order they were made.
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_network_name")]

    def __str__(self):
        return self.name


@watched
class NetworkACL(models.Model):
    """An LXD network ACL (``/1.0/network-acls``): rules recorded, never applied to traffic."""

    project = _project_field("network_acls")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    # Lists of rules, each as LXD shows it (api.NetworkACLRule, normalised).
    ingress = models.JSONField(default=list, blank=True)
    egress = models.JSONField(default=list, blank=True)
    config = models.JSONField(default=dict, blank=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        # LXD lists ACLs in the order they were made.
        ordering = ["id"]
        verbose_name = "network ACL"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_network_acl_name")]

    def __str__(self):
        return self.name


@watched
class NetworkZone(models.Model):
    """An LXD network zone (``/1.0/network-zones``): a DNS zone recorded, never served."""

    project = _project_field("network_zones")
    # Zone names are unique across projects, as in LXD, and of any length (PostgreSQL refused
    # one past 255 characters with a 500).
    name = models.TextField(unique=True)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        # LXD lists zones in the order they were made.
        ordering = ["id"]
        verbose_name = "network zone"

    def __str__(self):
        return self.name


@watched
class NetworkZoneRecord(models.Model):
    """A record of a network zone (``/1.0/network-zones/ZONE/records``): DNS entries recorded, never served."""

    zone = models.ForeignKey(NetworkZone, on_delete=models.CASCADE, related_name="records")
    # Any text, as LXD takes it (it checks no record name).
    name = models.TextField(blank=True)
    description = models.TextField(blank=True, default="")
    # Entries as LXD shows them (api.NetworkZoneRecordEntry); None where a client sent none (LXD's null).
    entries = models.JSONField(null=True, blank=True, default=None)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        # LXD lists a zone's records by name.
        ordering = ["name"]
        verbose_name = "network zone record"
        constraints = [models.UniqueConstraint(fields=["zone", "name"], name="unique_network_zone_record_name")]

    def __str__(self):
        return f"{self.name or '@'}.{self.zone}"


@watched
class NetworkPeer(models.Model):
    """A peering of an OVN network with another (``/1.0/networks/NAME/peers``): recorded, no router is linked.

    Until the target network peers back the peer names its target (``Pending``); then both sides
    point at each other's network and forget the names (``Created``), as LXD's database does.
    """

    PENDING, CREATED, ERRORED = "Pending", "Created", "Errored"

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="peers")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    # Any text until the peering links (LXD checks no target before then).
    target_project = models.TextField(blank=True, default="")
    target_network = models.TextField(blank=True, default="")
    # The target network once the peering is mutual (LXD's target_network_id).
    linked_network = models.ForeignKey(
        Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="peers_linked"
    )

    class Meta:
        ordering = ["id"]
        verbose_name = "network peer"
        constraints = [models.UniqueConstraint(fields=["network", "name"], name="unique_network_peer_name")]

    def __str__(self):
        return f"{self.network} {self.name}"


@watched
class NetworkForward(models.Model):
    """An address forward of a managed network (``/1.0/networks/NAME/forwards``): recorded, never applied."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="forwards")
    listen_address = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    # Port specifications as LXD shows them (api.NetworkForwardPort, normalised).
    ports = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "network forward"
        constraints = [
            models.UniqueConstraint(fields=["network", "listen_address"], name="unique_network_forward_address")
        ]

    def __str__(self):
        return f"{self.network} {self.listen_address}"


@watched
class Certificate(models.Model):
    """A certificate in LXD's trust store (``/1.0/certificates``): a TLS client presenting it is
    trusted (``client``; only within its ``projects`` when ``restricted``) or may read metrics."""

    CLIENT = "client"
    METRICS = "metrics"
    TYPES = (CLIENT, METRICS)

    # SHA-256 of the certificate's DER bytes, as LXD names certificates.
    fingerprint = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=16, choices=[(kind, kind) for kind in TYPES], default=CLIENT)
    name = models.CharField(max_length=255, blank=True, default="")
    # PEM, as LXD stores and shows it.
    certificate = models.TextField()
    restricted = models.BooleanField(default=False)
    projects = models.ManyToManyField(Project, through="CertificateProject", related_name="certificates", blank=True)

    class Meta:
        ordering = ["fingerprint"]

    def __str__(self):
        return f"{self.name} ({self.fingerprint[:12]})"


@watched
class CertificateProject(models.Model):
    """A project a restricted certificate may use, in the order the certificate lists them."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="project_links")
    # LXD drops the project from its certificates when the project is deleted.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="certificate_links")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["certificate", "project"], name="unique_certificate_project")]

    def __str__(self):
        return f"{self.certificate} {self.project}"


@watched
class StorageVolume(models.Model):
    """A volume of a storage pool (``/1.0/storage-pools/POOL/volumes/TYPE/NAME``): recorded, no
    disk is made. ``custom`` volumes are made through the API, the others with what holds them."""

    CUSTOM = "custom"
    CONTAINER = "container"
    VIRTUAL_MACHINE = "virtual-machine"
    IMAGE = "image"
    # In the order LXD lists them (its database's type codes).
    TYPES = (CONTAINER, IMAGE, CUSTOM, VIRTUAL_MACHINE)
    FILESYSTEM = "filesystem"
    BLOCK = "block"
    CONTENT_TYPES = (FILESYSTEM, BLOCK)

    pool = models.ForeignKey(StoragePool, on_delete=models.PROTECT, related_name="volumes")
    project = _project_field("storage_volumes")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, default=CUSTOM)
    content_type = models.CharField(max_length=16, default=FILESYSTEM)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    # An instance's own volume (``container``, ``virtual-machine``): listed while the instance's
    # root disk is on the pool (its name is the instance's); a row holds what a PUT changed.
    instance = models.ForeignKey(
        "Instance", on_delete=models.CASCADE, related_name="volumes", null=True, blank=True, default=None
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pool", "project", "type", "name"],
                condition=models.Q(instance__isnull=True),
                name="unique_storage_volume_name",
            ),
            models.UniqueConstraint(fields=["pool", "instance"], name="unique_instance_volume"),
        ]

    def __str__(self):
        return f"{self.pool}/{self.type}/{self.name}"


@watched
class StorageVolumeSnapshot(models.Model):
    """A snapshot of a custom volume (``.../volumes/custom/NAME/snapshots/SNAP``): recorded."""

    NEVER = "0001-01-01T00:00:00Z"

    volume = models.ForeignKey(StorageVolume, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    # The volume's config when the snapshot was taken (a restore brings it back).
    config = models.JSONField(default=dict, blank=True)
    # As LXD renders it (the form its ETag hashes).
    expires_at = models.CharField(max_length=64, default=NEVER)

    class Meta:
        ordering = ["volume", "id"]
        verbose_name = "storage volume snapshot"
        constraints = [models.UniqueConstraint(fields=["volume", "name"], name="unique_storage_volume_snapshot")]

    def __str__(self):
        return f"{self.volume}/{self.name}"


class InstanceBackup(models.Model):
    """A backup of an instance (``/1.0/instances/NAME/backups/B``): its tarball is a file under
    ``LXD_DIR/backups`` (resources/instance_backups.py), written when the backup is made."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="backups")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    # As LXD renders it: "0001-01-01T00:00:00Z" for no expiry.
    expires_at = models.CharField(max_length=64, default=Snapshot.NEVER)
    instance_only = models.BooleanField(default=False)
    optimized_storage = models.BooleanField(default=False)
    compression_algorithm = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["instance", "id"]
        constraints = [models.UniqueConstraint(fields=["instance", "name"], name="unique_backup_name")]

    def __str__(self):
        return f"{self.instance}/{self.name}"
