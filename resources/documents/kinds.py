"""The kinds of object ``show``/``edit`` name, each written through the API's serializers."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from rest_framework import exceptions

from ..exceptions import error_text
from ..models import (
    Certificate,
    Image,
    ImageAlias,
    Instance,
    Network,
    NetworkACL,
    NetworkZone,
    Profile,
    Project,
    Server,
    StoragePool,
)
from ..serializers import (
    ImageAliasCreateSerializer,
    ImageAliasSerializer,
    ImageSerializer,
    InstanceSerializer,
    NetworkACLCreateSerializer,
    NetworkACLSerializer,
    NetworkCreateSerializer,
    NetworkSerializer,
    NetworkZoneCreateSerializer,
    NetworkZoneSerializer,
    ProfileCreateSerializer,
    ProfileSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ServerSerializer,
    find_image,
)
from ..serializers.certificates import CertificateSerializer, find_certificate
from ..serializers.storage_pools import StoragePoolSerializer
from .errors import (
    DocumentError,
)
from .versions import (
    lock_current,
)


@dataclass(frozen=True)
class Kind:
    """One kind of LXD object as the commands name it, with the serializers that write it."""

    name: str
    model: type
    serializer_class: type
    create_serializer_class: type | None
    # Whether documents of this kind hold only strings (Go's map[string]string and string fields).
    strings: bool
    singleton: bool = False
    # How the API finds an object from the name in its URL (default: by ``name``).
    find: Callable | None = None
    # The feature without which a project uses the default project's objects of this kind.
    feature: str | None = None
    # Fields only a create takes (a network's ``type``).
    create_only: tuple = ()

    @property
    def in_projects(self):
        """Whether objects of this kind live in a project (and are named within it)."""
        return self.model is not Project and any(field.name == "project" for field in self.model._meta.fields)

    def get(self, name=None, project=None):
        """The object named ``name`` in ``project`` (default: the default project; the singleton
        ignores both); DocumentError if there is none."""
        if self.singleton:
            return self.model.objects.get(pk=Server.SINGLETON_ID)
        project = project or Project.objects.get(pk=Project.DEFAULT_ID)
        if self.feature:
            project = Project.holding(project.name, self.feature)
        objects = self.model.objects.filter(project=project) if self.in_projects else self.model.objects
        if self.find is not None:
            try:
                return self.find(name, objects)
            except exceptions.APIException as exc:
                raise DocumentError(f"{self.name.capitalize()} {name!r}: {error_text(exc)}") from exc
        try:
            return objects.get(name=name)
        except self.model.DoesNotExist:
            where = "" if project.pk == Project.DEFAULT_ID or not self.in_projects else f" in project {project.name!r}"
            raise DocumentError(f"{self.name.capitalize()} {name!r} not found{where}") from None

    def document(self, instance):
        """The object as ``show`` prints it and ``edit`` opens it (the API's representation)."""
        data = self.serializer_class(instance, context=_project_context(instance)).data
        return {key: data[key] for key in self.shown}

    @property
    def writable(self):
        """The fields a document may change: those the API's serializer lets a PUT write (the
        rest of a shown document is ignored)."""
        return tuple(name for name, field in self.serializer_class().fields.items() if not field.read_only)

    @property
    def shown(self):
        return ("config",) if self.singleton else tuple(self.serializer_class.Meta.fields)

    def write(self, instance, data, project=None):
        """Write a document onto ``instance`` through the API's serializer (a PUT), or create it in
        ``project`` (default: the default project); DocumentError if refused."""
        if not isinstance(data, dict):
            raise DocumentError("The document must be a YAML mapping")
        body = {key: data[key] for key in self.writable if key in data}
        if instance is None:
            project = project or Project.objects.get(pk=Project.DEFAULT_ID)
            context = {"project_name": project.name}
            extra = {key: data[key] for key in self.create_only if key in data}
            data = {"name": data.get("name", ""), **body, **extra}
            serializer = self.create_serializer_class(data=data, context=context)
            return save_serializer(serializer, **({"project": project} if self.in_projects else {}))
        return save_serializer(self.serializer_class(instance, data=body, context=_project_context(instance)))


def _project_context(instance):
    """The serializer context the API gives an object of a project: the project's name."""
    project = getattr(instance, "project", None)
    return {"project_name": project.name} if isinstance(project, Project) else {}


def save_serializer(serializer, **extra):
    """Validate and save as the API does (``extra`` as the view adds it); DocumentError with the
    API's message if refused."""
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.save(**extra)
    except exceptions.APIException as exc:
        raise DocumentError(error_text(exc)) from exc


KINDS = {
    "profile": Kind("profile", Profile, ProfileSerializer, ProfileCreateSerializer, True, feature="features.profiles"),
    "server": Kind("server", Server, ServerSerializer, None, False, singleton=True),
    # Images are made by uploads (the API), never by a document; a fingerprint prefix finds one.
    "image": Kind(
        "image",
        Image,
        ImageSerializer,
        None,
        False,
        find=find_image,
        feature="features.images",
    ),
    # Instances are created through the API (an operation); a document changes what a PUT does.
    "instance": Kind(
        "instance",
        Instance,
        InstanceSerializer,
        None,
        False,
    ),
    "alias": Kind(
        "alias", ImageAlias, ImageAliasSerializer, ImageAliasCreateSerializer, True, feature="features.images"
    ),
    "project": Kind("project", Project, ProjectSerializer, ProjectCreateSerializer, True),
    "network": Kind("network", Network, NetworkSerializer, NetworkCreateSerializer, True, create_only=("type",)),
    # Rules are lists of objects: not strings only.
    "network-zone": Kind("network-zone", NetworkZone, NetworkZoneSerializer, NetworkZoneCreateSerializer, True),
    "network-acl": Kind("network-acl", NetworkACL, NetworkACLSerializer, NetworkACLCreateSerializer, False),
    # Certificates are added by the API or `trust add` (a PEM); a document changes what a PUT does.
    "certificate": Kind("certificate", Certificate, CertificateSerializer, None, False, find=find_certificate),
    # Pools are made with their driver (the API's POST, or import); a document changes what a PUT does.
    "storage-pool": Kind("storage-pool", StoragePool, StoragePoolSerializer, None, True),
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
