"""The kinds of object ``show``/``edit`` name, each written through the API's serializers."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from rest_framework import exceptions

from ..exceptions import error_text
from ..models import Image, ImageAlias, Instance, Profile, Project, Server, StoragePool
from ..serializers import (
    ImageAliasCreateSerializer,
    ImageAliasSerializer,
    ImageSerializer,
    InstanceSerializer,
    ProfileCreateSerializer,
    ProfileSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ServerSerializer,
    find_image,
)
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

    def get(self, name=None):
        """The object named ``name`` (the singleton ignores it); DocumentError if there is none."""
        if self.singleton:
            return self.model.objects.get(pk=Server.SINGLETON_ID)
        if self.find is not None:
            try:
                return self.find(name)
            except exceptions.APIException as exc:
                raise DocumentError(f"{self.name.capitalize()} {name!r}: {error_text(exc)}") from exc
        objects = self.model.objects
        if self.model is not Project and any(field.name == "project" for field in self.model._meta.fields):
            # The commands name objects of the default project (``?project=`` is the API's).
            objects = objects.filter(project_id=Project.DEFAULT_ID)
        try:
            return objects.get(name=name)
        except self.model.DoesNotExist:
            raise DocumentError(f"{self.name.capitalize()} {name!r} not found") from None

    def document(self, instance):
        """The object as ``show`` prints it and ``edit`` opens it (the API's representation)."""
        data = self.serializer_class(instance).data
        return {key: data[key] for key in self.shown}

    @property
    def writable(self):
        """The fields a document may change: those the API's serializer lets a PUT write (the
        rest of a shown document is ignored)."""
        return tuple(name for name, field in self.serializer_class().fields.items() if not field.read_only)

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
    "profile": Kind("profile", Profile, ProfileSerializer, ProfileCreateSerializer, True),
    "server": Kind("server", Server, ServerSerializer, None, False, singleton=True),
    # Images are made by uploads (the API), never by a document; a fingerprint prefix finds one.
    "image": Kind(
        "image",
        Image,
        ImageSerializer,
        None,
        False,
        find=find_image,
    ),
    # Instances are created through the API (an operation); a document changes what a PUT does.
    "instance": Kind(
        "instance",
        Instance,
        InstanceSerializer,
        None,
        False,
    ),
    "alias": Kind("alias", ImageAlias, ImageAliasSerializer, ImageAliasCreateSerializer, True),
    "project": Kind("project", Project, ProjectSerializer, ProjectCreateSerializer, True),
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
