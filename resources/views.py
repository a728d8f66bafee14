"""LXD's REST endpoints as DRF viewsets.

``LXDViewSet`` and the action mixins give every resource LXD's URLs, envelope and status
codes; a resource viewset is a list of mixins plus its queryset and serializers.
"""

import math
import re
import time
from collections import defaultdict
from urllib.parse import quote

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.permissions import SAFE_METHODS, AllowAny

from . import events, images
from .conditional import WRITE_SCHEMA, ConditionalUpdateMixin, conditional_schema
from .envelope import CreatedResponse, SyncResponse
from .exceptions import Conflict, first_message
from .instances import apply_filter
from .models import (
    Image,
    ImageAlias,
    ImageProfile,
    Instance,
    InstanceProfile,
    Operation,
    Profile,
    Server,
    Snapshot,
)
from .operations import AsyncResponse, cancel_operation, finished_operation, operation_url
from .prepared import PreparedQuery, prefetch_reverse, set_prefetched
from .response_cache import CachedReadMixin
from .serializers import (
    ImageAliasCreateSerializer,
    ImageAliasETagSerializer,
    ImageAliasRenameSerializer,
    ImageAliasSerializer,
    ImageETagSerializer,
    ImageSerializer,
    InstanceCreateSerializer,
    InstanceETagSerializer,
    InstanceFullSerializer,
    InstanceRenameSerializer,
    InstanceSerializer,
    OperationSerializer,
    ProfileCreateSerializer,
    ProfileETagSerializer,
    ProfileRenameSerializer,
    ProfileSerializer,
    ServerETagSerializer,
    ServerSerializer,
    SnapshotCreateSerializer,
    SnapshotETagSerializer,
    SnapshotRenameSerializer,
    SnapshotSerializer,
    check_profile_deletable,
    fails_in_operation,
    find_image,
    go_quote,
    instance_state,
    set_instance_profiles,
    untrusted_server_info,
)
from .trust import is_trusted

# Characters Go's url.URL leaves unescaped in a path segment.
_URL_SAFE = "!$&'()*+,;=:@"


def recursion_level(request):
    """LXD's ``recursion`` query parameter: a bad value counts as 0."""
    try:
        return int(request.query_params.get("recursion", "0"))
    except ValueError:
        return 0


class LXDViewSet(viewsets.GenericViewSet):
    """Base for LXD resources: LXD's URLs, envelope and not-found texts.

    Set ``collection_url`` and ``not_found_message``; name per-action serializers as
    ``<action>_serializer_class`` (e.g. ``create_serializer_class``).
    """

    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    collection_url = ""
    not_found_message = "not found"
    # LXD words the same 404 differently in each handler; {name} is the Go-quoted name.
    not_found_messages = {}

    def get_serializer_class(self):
        return getattr(self, f"{self.action}_serializer_class", None) or super().get_serializer_class()

    def perform_authentication(self, request):
        """Authenticate only when trust is asked (``trust.is_trusted``), as DRF allows: a request
        on the unix socket is trusted without reading its session or token."""

    def read_object(self, value):
        """The object a GET names, or None; ``NotImplemented`` reads it through ``get_queryset()``.

        Override to read through prepared queries (``prepared.py``): one object's GET is the
        request clients repeat most, and compiling its SQL was most of its time.
        """
        return NotImplemented

    def read_etag_object(self, value):
        """Like ``read_object``, with at least what the ETag hashes (a write's early precondition check)."""
        return self.read_object(value)

    def lookup_object(self, value):
        """The object named ``value``, through ``get_queryset()``."""
        return super().get_object()

    def get_object(self):
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            instance = NotImplemented
            if self.action == "retrieve" and self.request.method in SAFE_METHODS:
                instance = self.read_object(value)
            if instance is NotImplemented:
                return self.lookup_object(value)
            if instance is None:
                raise Http404
            self.check_object_permissions(self.request, instance)
            return instance
        except Http404:
            message = self.not_found_messages.get(self.action, self.not_found_message)
            name = go_quote(str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")))
            raise exceptions.NotFound(message.format(name=name)) from None

    def request_data(self):
        """The JSON body; an empty one is Go's ``EOF`` decode error, as LXD answers it."""
        if self.request.stream is None:
            raise exceptions.ParseError("EOF")
        return self.request.data

    def object_url(self, instance):
        """The object's LXD URL, its name escaped as Go escapes a path segment."""
        return f"{self.collection_url}/{quote(getattr(instance, self.lookup_field), safe=_URL_SAFE)}"

    def object_response(self, instance):
        """The object in a sync envelope."""
        return SyncResponse(self.get_serializer(instance).data)

    def collection_response(self, metadata):
        """A list of URLs or objects in a sync envelope."""
        return SyncResponse(metadata)


class ListMixin:
    """GET on a collection: URLs, or objects with ``recursion=1``."""

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        if recursion_level(request) < 1:
            return self.collection_response([self.object_url(obj) for obj in queryset.only(self.lookup_field)])
        return self.collection_response(self.get_serializer(self.with_related(list(queryset)), many=True).data)

    def with_related(self, objects):
        """The listed objects with what their serializer reads of other tables (``prefetch_reverse``)."""
        return objects


class RetrieveMixin:
    """GET on an object."""

    def retrieve(self, request, *args, **kwargs):
        return self.object_response(self.get_object())


class CreateMixin:
    """POST on a collection: 201 + Location, as LXD answers a synchronous create."""

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=self.request_data())
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return CreatedResponse(self.object_url(serializer.instance))

    def perform_create(self, serializer):
        """Save; a name taken by a concurrent create is still a 409."""
        try:
            serializer.save()
        except IntegrityError as exc:
            raise Conflict(f"{serializer.validated_data.get(self.lookup_field)!r} already exists") from exc


class UpdateMixin:
    """PUT replaces and PATCH merges; LXD answers both with ``metadata: {}``."""

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=self.request_data(), partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return SyncResponse({})

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def perform_update(self, serializer):
        serializer.save()


class DestroyMixin:
    """DELETE: LXD answers 200 with ``metadata: {}``."""

    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object())
        return SyncResponse({})

    def perform_destroy(self, instance):
        instance.delete()


class RenameMixin:
    """POST on an object renames it: 201 + Location of the new name, as LXD does."""

    @WRITE_SCHEMA
    def rename(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=self.request_data())
        serializer.is_valid(raise_exception=True)
        self.perform_rename(serializer)
        return CreatedResponse(self.object_url(serializer.instance))

    def perform_rename(self, serializer):
        serializer.save()


class LifecycleMixin:
    """LXD's lifecycle events for each write: ``<lifecycle_name>-created``, ``-updated``, ``-renamed``, ``-deleted``.

    Set ``lifecycle_name`` to LXD's word for the resource (``profile``, ``image-alias``);
    override ``lifecycle_context`` where LXD's event carries a context. Place it left of
    the action mixins. The events go out once the write commits.
    """

    lifecycle_name = ""

    def lifecycle_context(self, verb, instance):
        """LXD's ``context`` for the event, or None. Override where LXD sends one."""
        return None

    def emit_lifecycle(self, verb, instance, context=None):
        context = context or self.lifecycle_context(verb, instance)
        action_name = f"{self.lifecycle_name}-{verb}"
        events.emit_lifecycle(action_name, self.object_url(instance), context=context, request=self.request)

    def perform_create(self, serializer):
        super().perform_create(serializer)
        self.emit_lifecycle("created", serializer.instance)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self.emit_lifecycle("updated", serializer.instance)

    def perform_rename(self, serializer):
        old_name = getattr(serializer.instance, self.lookup_field)
        super().perform_rename(serializer)
        self.emit_lifecycle("renamed", serializer.instance, {"old_name": old_name})

    def perform_destroy(self, instance):
        super().perform_destroy(instance)
        self.emit_lifecycle("deleted", instance)


# used_by: which instances use a profile, their names only.
PROFILE_USER_LINKS = InstanceProfile.objects.select_related("instance").only("profile_id", "instance__name")
PROFILE_BY_NAME = PreparedQuery(lambda name: Profile.objects.filter(name=name))
# used_by: the instances in the order they took the profile, their names only.
PROFILE_USERS = PreparedQuery(
    lambda name: Instance.objects.filter(profile_links__profile__name=name).order_by("profile_links__id").only("name")
)


class LXDModelViewSet(
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    ListMixin,
    RetrieveMixin,
    CreateMixin,
    UpdateMixin,
    DestroyMixin,
    RenameMixin,
    LXDViewSet,
):
    """A resource with LXD's synchronous CRUD and rename, ETags and lifecycle events (as DRF's ModelViewSet)."""


@conditional_schema(reads=["retrieve"], writes=["update", "partial_update"])
class ServerViewSet(ConditionalUpdateMixin, LifecycleMixin, RetrieveMixin, UpdateMixin, LXDViewSet):
    """``/1.0``: the server's configuration and environment."""

    queryset = Server.objects.all()
    lookup_field = "pk"
    serializer_class = ServerSerializer
    etag_serializer_class = ServerETagSerializer
    lifecycle_name = "config"
    untrusted_read = True

    def object_url(self, instance):
        return "/1.0"

    def object_response(self, instance):
        if is_trusted(self.request):
            return super().object_response(instance)
        # LXD shows untrusted clients its API facts only: no config, no environment, no ETag.
        return SyncResponse(untrusted_server_info())


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class ProfileViewSet(LXDModelViewSet):
    """``/1.0/profiles``: LXD profiles."""

    queryset = Profile.objects.all()
    serializer_class = ProfileSerializer
    create_serializer_class = ProfileCreateSerializer
    rename_serializer_class = ProfileRenameSerializer
    etag_serializer_class = ProfileETagSerializer
    lifecycle_name = "profile"
    collection_url = "/1.0/profiles"
    not_found_message = "Profile not found"
    not_found_messages = {
        "retrieve": "Fetch profile: Profile not found",
        "update": "Failed to retrieve profile {name}: Profile not found",
        "partial_update": "Failed to retrieve profile={name}: Profile not found",
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "retrieve":
            # Writes answer without the profile; reading used_by was a fifth of a PUT.
            return queryset
        return queryset.prefetch_related(Prefetch("instance_links", queryset=PROFILE_USER_LINKS))

    def with_related(self, profiles):
        # used_by: every profile's instance names in one query (names, not model objects).
        links = InstanceProfile.objects.filter(profile__in=profiles).order_by("id")
        names = defaultdict(list)
        for profile_id, name in links.values_list("profile_id", "instance__name"):
            names[profile_id].append(name)
        for profile in profiles:
            profile.user_names = names[profile.pk]
        return profiles

    def read_object(self, name):
        profile = PROFILE_BY_NAME.first(name)
        if profile is not None:
            profile.user_names = [user.name for user in PROFILE_USERS(name)]
        return profile

    def read_etag_object(self, name):
        # The ETag hashes config, description and devices: used_by is not read.
        return PROFILE_BY_NAME.first(name)

    def perform_destroy(self, instance):
        check_profile_deletable(instance)
        super().perform_destroy(instance)


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request):
    """``GET /``: the API versions this server speaks, as LXD lists them."""
    return SyncResponse(["/1.0"])


class FingerprintLookupMixin:
    """Find an image by its fingerprint or a unique prefix of it, as LXD does (ambiguous: 400)."""

    def lookup_object(self, value):
        return find_image(value, self.get_queryset())


class AsyncDestroyMixin:
    """DELETE answered with 202 and the (ended) operation, as LXD deletes images."""

    destroy_description = ""
    resource_kind = ""

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        url = self.object_url(instance)
        self.perform_destroy(instance)
        return AsyncResponse(finished_operation(self.destroy_description, resources={self.resource_kind: [url]}))

    def perform_destroy(self, instance):
        instance.delete()


IMAGE_BY_FINGERPRINT = PreparedQuery(lambda fingerprint: Image.objects.filter(fingerprint=fingerprint))
# An image's profiles in its order, and its aliases by age (images.IMAGE_PREFETCH for lists).
IMAGE_PROFILES = PreparedQuery(
    lambda fingerprint: (
        Profile.objects.filter(image_links__image__fingerprint=fingerprint).order_by("image_links__id").only("name")
    )
)
IMAGE_ALIASES = PreparedQuery(
    lambda fingerprint: ImageAlias.objects.filter(image__fingerprint=fingerprint).order_by("id")
)


@conditional_schema(reads=["list", "retrieve", "export"], writes=["update", "partial_update", "destroy"])
class ImageViewSet(
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    FingerprintLookupMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
    AsyncDestroyMixin,
    LXDViewSet,
):
    """``/1.0/images``: images uploaded as files, found by fingerprint or prefix."""

    queryset = Image.objects.all()
    serializer_class = ImageSerializer
    etag_serializer_class = ImageETagSerializer
    lifecycle_name = "image"
    lookup_field = "fingerprint"
    collection_url = "/1.0/images"
    not_found_message = "Image not found"
    destroy_description = "Deleting image"
    resource_kind = "images"
    untrusted_read = True
    # An upload streams for as long as the client sends; on SQLite the request's transaction
    # would hold the write lock all that time. It writes its rows in its own short transaction.
    unlocked_actions = ("create",)

    def get_queryset(self):
        queryset = super().get_queryset()
        if not is_trusted(self.request):
            # LXD shows untrusted clients its public images only.
            queryset = queryset.filter(public=True)
        if self.action == "retrieve" or (self.action == "list" and recursion_level(self.request) >= 1):
            # The profile and alias lists, in one query each for the whole page.
            return queryset.prefetch_related(*images.IMAGE_PREFETCH)
        return queryset

    def filter_queryset(self, queryset):
        return images.filter_images(queryset, self.request.query_params.get("filter", ""))

    def read_object(self, fingerprint):
        if len(fingerprint) != 64:
            # A prefix: find_image's LIKE, and its 400 when it is ambiguous.
            return NotImplemented
        image = IMAGE_BY_FINGERPRINT.first(fingerprint)
        if image is None or not (image.public or is_trusted(self.request)):
            return None
        profiles = IMAGE_PROFILES(fingerprint)
        set_prefetched(image, "profile_links", [ImageProfile(image=image, profile=profile) for profile in profiles])
        set_prefetched(image, "aliases", IMAGE_ALIASES(fingerprint))
        return image

    def create(self, request, *args, **kwargs):
        """Upload: LXD answers 202 and reports a refused file in the failed operation."""
        operation = images.import_image(request)
        if operation.status == Operation.SUCCESS:
            image = Image.objects.get(fingerprint=operation.metadata["fingerprint"])
            self.emit_lifecycle("created", image, {"type": image.type})
        return AsyncResponse(operation)

    def perform_destroy(self, instance):
        paths = instance.files()
        super().perform_destroy(instance)
        transaction.on_commit(lambda: images.remove_files(paths))

    @action(detail=True, methods=["get"])
    def export(self, request, *args, **kwargs):
        """The image file(s); If-None-Match with the fingerprint answers 304."""
        image = self.get_object()
        return self.conditional_read(image.fingerprint, lambda: images.export_response(image))

    @action(detail=True, methods=["post"])
    def refresh(self, request, *args, **kwargs):
        """lxdsite's images come from uploads, never from a source it could refresh them from."""
        self.get_object()
        name = go_quote(self.kwargs[self.lookup_field])
        err = f'Failed to update image {name} in project "default": Image source not found'
        return AsyncResponse(finished_operation("Refreshing image", err=err))


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class ImageAliasViewSet(LXDModelViewSet):
    """``/1.0/images/aliases``: names for images."""

    queryset = ImageAlias.objects.all()
    serializer_class = ImageAliasSerializer
    create_serializer_class = ImageAliasCreateSerializer
    rename_serializer_class = ImageAliasRenameSerializer
    etag_serializer_class = ImageAliasETagSerializer
    lifecycle_name = "image-alias"
    collection_url = "/1.0/images/aliases"
    not_found_message = "Image alias not found"
    untrusted_read = True

    def lifecycle_context(self, verb, instance):
        # LXD names the target image when an alias is created or updated.
        if verb in ("created", "updated"):
            return {"target": instance.image.fingerprint}
        return None

    def get_queryset(self):
        queryset = super().get_queryset()
        if not is_trusted(self.request):
            # Untrusted clients see the aliases of public images only, as LXD shows them.
            queryset = queryset.filter(image__public=True)
        if self.action == "list" and recursion_level(self.request) < 1:
            return queryset
        # The target is the image's fingerprint: one join, not a query per alias.
        return queryset.select_related("image")


def wait_timeout(request):
    """``/wait?timeout=N`` in seconds; absent or -1 waits as long as it takes.

    A non-integer is LXD's Go Atoi error text, as a 400: LXD answers 500, but it is the client's error.
    """
    value = request.query_params.get("timeout", "")
    if not value:
        return -1
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise exceptions.ParseError(f"strconv.Atoi: parsing {go_quote(value)}: invalid syntax")
    return int(value)


class OperationViewSet(RetrieveMixin, LXDViewSet):
    """``/1.0/operations``: operations grouped by status, one operation, ``/wait``, and DELETE to cancel."""

    queryset = Operation.objects.all()
    serializer_class = OperationSerializer
    # A malformed id finds nothing: DRF's get_object_or_404 turns the UUID error into a 404.
    lookup_field = "id"
    collection_url = "/1.0/operations"
    not_found_message = "Operation not found"
    # How often /wait looks at the row again: the work may run in another worker process.
    wait_poll_interval = 0.05

    def get_queryset(self):
        # Reads hide expired operations; creating an operation deletes them (operations.start_operation).
        return super().get_queryset().unexpired()

    def list(self, request, *args, **kwargs):
        """LXD groups operations by lower-case status: ``{"success": [...], "failure": [...]}``."""
        full = recursion_level(request) >= 1
        groups = {}
        for operation in self.get_queryset():
            entry = self.get_serializer(operation).data if full else operation_url(operation)
            groups.setdefault(operation.status.lower(), []).append(entry)
        return self.collection_response(groups)

    def destroy(self, request, *args, **kwargs):
        """Cancel a running operation that may be cancelled; LXD's 400 otherwise."""
        cancel_operation(self.get_object())
        return SyncResponse({})

    @extend_schema(parameters=[OpenApiParameter("timeout", OpenApiTypes.INT, description="Seconds; -1: no limit.")])
    @action(detail=True, methods=["get"])
    def wait(self, request, *args, **kwargs):
        """The operation once it is no longer running, or as it is when ``timeout`` runs out."""
        timeout = wait_timeout(request)
        operation = self.get_object()
        deadline = time.monotonic() + timeout if timeout >= 0 else math.inf
        while operation.running and time.monotonic() < deadline:
            time.sleep(min(self.wait_poll_interval, deadline - time.monotonic()))
            try:
                operation.refresh_from_db()
            except Operation.DoesNotExist:
                raise exceptions.NotFound(self.not_found_message) from None
        return self.object_response(operation)


# Instances and snapshots --------------------------------------------------------------------


def instance_resources(name, snapshot=None):
    """An operation's ``resources`` for an instance (LXD lists both URL forms)."""
    path = quote(name, safe=_URL_SAFE) + (f"/snapshots/{quote(snapshot, safe=_URL_SAFE)}" if snapshot else "")
    return {"containers": [f"/1.0/containers/{path}"], "instances": [f"/1.0/instances/{path}"]}


class OperationMixin:
    """Writes LXD answers with 202 and an operation; the work is done before answering.

    Malformed requests and failed preconditions are answered at once (4xx), as LXD does;
    a request LXD accepts and then refuses ends its operation in ``Failure`` with LXD's
    text, and nothing is stored.
    """

    def operation_response(self, description, resources, serializer=None, save=None, lifecycle=None):
        """Validate and save through ``serializer`` (or run ``save``), answering with the operation.

        ``lifecycle`` is ``(action, source)`` or a function of nothing returning it, for the
        lifecycle event LXD sends once the work succeeded.
        """
        if serializer is not None:
            if not serializer.is_valid():
                if not fails_in_operation(serializer.errors):
                    raise exceptions.ValidationError(serializer.errors)
                err = first_message(serializer.errors)
                return AsyncResponse(finished_operation(description, err=err, resources=resources))
            save = save or serializer.save
        save()
        if lifecycle is not None:
            action_name, source, *context = lifecycle() if callable(lifecycle) else lifecycle
            events.emit_lifecycle(action_name, source, context=context[0] if context else None, request=self.request)
        return AsyncResponse(finished_operation(description, resources=resources))

    def perform_update(self, serializer):
        serializer.save()


class InstanceQuerysetMixin:
    """Instances with their profiles in order: two more queries for any number of rows."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            return apply_filter(queryset, self.request.query_params.get("filter", ""))
        # Links, then each profile once.
        return queryset.prefetch_related("profile_links__profile")

    def with_related(self, instances):
        links = prefetch_reverse(instances, "profile_links")
        # Each profile read once: instances share a few profiles, and each holds parsed JSON.
        profiles = Profile.objects.in_bulk({link.profile_id for link in links})
        for link in links:
            link.profile = profiles[link.profile_id]
        return instances


INSTANCE_BY_NAME = PreparedQuery(lambda name: Instance.objects.filter(name=name))
# The instance's profiles in the order LXD applies them.
INSTANCE_PROFILES = PreparedQuery(
    lambda name: Profile.objects.filter(instance_links__instance__name=name).order_by("instance_links__id")
)


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class InstanceViewSet(
    CachedReadMixin,
    InstanceQuerysetMixin,
    ConditionalUpdateMixin,
    OperationMixin,
    ListMixin,
    RetrieveMixin,
    LXDViewSet,
):
    """``/1.0/instances``: containers and VMs as records; writes are async, as in LXD."""

    queryset = Instance.objects.all()
    serializer_class = InstanceSerializer
    create_serializer_class = InstanceCreateSerializer
    rename_serializer_class = InstanceRenameSerializer
    etag_serializer_class = InstanceETagSerializer
    collection_url = "/1.0/instances"
    not_found_message = "Instance not found"

    def get_serializer_class(self):
        full = recursion_level(self.request) >= (2 if self.action == "list" else 1)
        if self.action in ("list", "retrieve") and full:
            return InstanceFullSerializer
        return super().get_serializer_class()

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list" and recursion_level(self.request) >= 2:
            queryset = queryset.prefetch_related("snapshots")
        return queryset

    def read_object(self, name):
        if recursion_level(self.request) >= 1:
            # The full answer adds snapshots and state: get_queryset() reads them.
            return NotImplemented
        instance = INSTANCE_BY_NAME.first(name)
        if instance is not None:
            profiles = INSTANCE_PROFILES(name)
            links = [InstanceProfile(instance=instance, profile=profile) for profile in profiles]
            set_prefetched(instance, "profile_links", links)
        return instance

    def create(self, request, *args, **kwargs):
        data = self.request_data()
        image = self._source_image(data.get("source") if isinstance(data, dict) else None)
        serializer = self.get_serializer(data=data, context={**self.get_serializer_context(), "image": image})
        name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else ""
        created = lambda: ("instance-created", self.object_url(serializer.instance))  # noqa: E731
        return self.operation_response("Creating instance", instance_resources(name), serializer, lifecycle=created)

    def _source_image(self, source):
        """The image a create names (by alias or fingerprint prefix), or None for ``none``."""
        source = source if isinstance(source, dict) else {}
        if source.get("type", "none") in ("none", ""):
            return None
        if source.get("type") != "image":
            raise exceptions.ParseError(f"Unknown source type {source.get('type')}")
        if source.get("alias"):
            alias = ImageAlias.objects.select_related("image").filter(name=source["alias"]).first()
            if alias is None:
                raise exceptions.NotFound("Image alias not found")
            return alias.image
        return find_image(str(source.get("fingerprint", "")))

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        data = self.request_data()
        if not partial and isinstance(data, dict) and data.get("restore"):
            return self._restore(instance, data["restore"])
        serializer = self.get_serializer(instance, data=data, partial=partial)
        if partial:
            # LXD answers an instance PATCH synchronously.
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
            return SyncResponse({})
        save = lambda: self.perform_update(serializer)  # noqa: E731
        lifecycle = ("instance-updated", self.object_url(instance))
        return self.operation_response(
            "Updating instance", instance_resources(instance.name), serializer, save, lifecycle=lifecycle
        )

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def _restore(self, instance, name):
        """``PUT {"restore": "SNAP"}``: the snapshot's config, devices, profiles and ephemeral flag."""
        # lxc names the snapshot as INSTANCE/SNAP, pylxd and others by its bare name.
        parent, _, bare = str(name).rpartition("/")
        snapshot = instance.snapshots.filter(name=bare).first() if parent in ("", instance.name) else None
        if snapshot is None:
            raise exceptions.NotFound("Snapshot not found")

        def restore():
            found = {profile.name: profile for profile in Profile.objects.filter(name__in=snapshot.profiles)}
            instance.config = snapshot.config
            instance.devices = snapshot.devices
            instance.ephemeral = snapshot.ephemeral
            instance.save(update_fields=["config", "devices", "ephemeral"])
            set_instance_profiles(instance, [found[name] for name in snapshot.profiles if name in found])
            self.updated_object = instance

        lifecycle = ("instance-restored", self.object_url(instance), {"snapshot": snapshot.name})
        return self.operation_response(
            "Restoring snapshot", instance_resources(instance.name), save=restore, lifecycle=lifecycle
        )

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        lifecycle = ("instance-deleted", self.object_url(instance))
        return self.operation_response(
            "Deleting instance", instance_resources(instance.name), save=instance.delete, lifecycle=lifecycle
        )

    def rename(self, request, *args, **kwargs):
        instance = self.get_object()
        old_name = instance.name
        serializer = self.get_serializer(instance, data=self.request_data())
        renamed = lambda: ("instance-renamed", self.object_url(serializer.instance), {"old_name": old_name})  # noqa: E731
        return self.operation_response("Renaming instance", instance_resources(old_name), serializer, lifecycle=renamed)

    @action(detail=True, methods=["get"])
    def backups(self, request, *args, **kwargs):
        """Always empty: nothing runs, so nothing is backed up (``lxc info`` lists backups)."""
        self.get_object()
        return SyncResponse([])

    @action(detail=True, methods=["get", "put"])
    def state(self, request, *args, **kwargs):
        """The recorded status; PUT ``{"action": ...}`` moves it, as an async operation."""
        instance = self.get_object()
        if request.method == "GET":
            return SyncResponse(instance_state(instance))
        data = self.request_data()
        action_name = data.get("action") if isinstance(data, dict) else None
        if action_name not in STATE_ACTIONS:
            raise exceptions.ParseError(f"Unknown action {action_name}")
        description, allowed, target, refusal, event = STATE_ACTIONS[action_name]
        resources = instance_resources(instance.name)
        if instance.status not in allowed:
            return AsyncResponse(finished_operation(description, err=refusal, resources=resources))

        def move():
            instance.status = target
            instance.save(update_fields=["status"])

        return self.operation_response(description, resources, save=move, lifecycle=(event, self.object_url(instance)))


# action: (operation description, statuses it starts from, status it ends in, LXD's refusal,
# LXD's lifecycle event)
STATE_ACTIONS = {
    "start": (
        "Starting instance",
        {Instance.STOPPED},
        Instance.RUNNING,
        "The instance is already running",
        "instance-started",
    ),
    "stop": (
        "Stopping instance",
        {Instance.RUNNING, Instance.FROZEN},
        Instance.STOPPED,
        "The instance is already stopped",
        "instance-stopped",
    ),
    "restart": (
        "Restarting instance",
        {Instance.RUNNING},
        Instance.RUNNING,
        "The instance isn't running",
        "instance-restarted",
    ),
    "freeze": (
        "Freezing instance",
        {Instance.RUNNING},
        Instance.FROZEN,
        "The instance isn't running",
        "instance-paused",
    ),
    "unfreeze": (
        "Unfreezing instance",
        {Instance.FROZEN},
        Instance.RUNNING,
        "The instance isn't frozen",
        "instance-resumed",
    ),
}


class ContainerViewSet(InstanceViewSet):
    """``/1.0/containers``: the same instances; list URLs follow the prefix used."""

    collection_url = "/1.0/containers"


@conditional_schema(reads=["list", "retrieve"], writes=["update", "partial_update", "destroy"])
class SnapshotViewSet(CachedReadMixin, ConditionalUpdateMixin, OperationMixin, ListMixin, RetrieveMixin, LXDViewSet):
    """``/1.0/instances/NAME/snapshots``: snapshots; every write is async, as in LXD."""

    queryset = Snapshot.objects.all()
    serializer_class = SnapshotSerializer
    create_serializer_class = SnapshotCreateSerializer
    rename_serializer_class = SnapshotRenameSerializer
    etag_serializer_class = SnapshotETagSerializer
    not_found_message = "Snapshot not found"
    prefix = "/1.0/instances"

    @property
    def collection_url(self):
        return f"{self.prefix}/{quote(self.kwargs['instance_name'], safe=_URL_SAFE)}/snapshots"

    def parent(self):
        """The instance the URL names (404 when there is none)."""
        instance = Instance.objects.filter(name=self.kwargs["instance_name"]).first()
        if instance is None:
            raise exceptions.NotFound("Instance not found")
        return instance

    def get_queryset(self):
        return super().get_queryset().filter(instance__name=self.kwargs["instance_name"])

    def create(self, request, *args, **kwargs):
        instance = self.parent()
        context = {**self.get_serializer_context(), "instance": instance}
        serializer = self.get_serializer(data=self.request_data(), context=context)
        created = lambda: ("instance-snapshot-created", self.object_url(serializer.instance))  # noqa: E731
        return self.operation_response(
            "Snapshotting instance", instance_resources(instance.name), serializer, lifecycle=created
        )

    def update(self, request, *args, **kwargs):
        snapshot = self.get_object()
        # LXD's PUT only touches what the body carries, like a PATCH.
        serializer = self.get_serializer(snapshot, data=self.request_data(), partial=True)
        resources = instance_resources(snapshot.instance.name, snapshot.name)
        lifecycle = ("instance-snapshot-updated", self.object_url(snapshot))
        save = lambda: self.perform_update(serializer)  # noqa: E731
        return self.operation_response("Updating snapshot", resources, serializer, save, lifecycle=lifecycle)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        snapshot = self.get_object()
        resources = instance_resources(snapshot.instance.name, snapshot.name)
        lifecycle = ("instance-snapshot-deleted", self.object_url(snapshot))
        return self.operation_response("Deleting snapshot", resources, save=snapshot.delete, lifecycle=lifecycle)

    def rename(self, request, *args, **kwargs):
        snapshot = self.get_object()
        old_name = snapshot.name
        serializer = self.get_serializer(snapshot, data=self.request_data())
        resources = instance_resources(snapshot.instance.name, old_name)
        renamed = lambda: ("instance-snapshot-renamed", self.object_url(serializer.instance), {"old_name": old_name})  # noqa: E731
        return self.operation_response("Renaming snapshot", resources, serializer, lifecycle=renamed)


class ContainerSnapshotViewSet(SnapshotViewSet):
    """``/1.0/containers/NAME/snapshots``."""

    prefix = "/1.0/containers"
