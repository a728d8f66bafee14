"""The shared viewset: LXD's URLs, envelope, status codes and read path; the action mixins.

A resource viewset is a list of mixins plus its declaration: ``queryset``, serializers,
``lookup_field``, ``scope`` and ``shown`` (``reads.py``), its ETag serializer and LXD's texts.
"""

from urllib.parse import quote

from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, viewsets
from rest_framework.permissions import SAFE_METHODS

from .. import events, lxd_filter
from ..envelope import CreatedResponse, SyncResponse
from ..exceptions import Conflict
from ..go import go_quote
from ..models import Project
from ..prepared import PreparedQuery
from .cached_reads import CachedReadMixin
from .conditional import WRITE_SCHEMA, ConditionalUpdateMixin, atomic_write
from .reads import Scope, all_projects_requested

# Characters Go's url.URL leaves unescaped in a path segment.
URL_SAFE = "!$&'()*+,;=:@"


def recursion_level(request):
    """LXD's ``recursion`` query parameter: a bad value counts as 0."""
    try:
        return int(request.query_params.get("recursion", "0"))
    except ValueError:
        return 0


def escaped(name):
    """A name as a URL path segment, escaped as Go escapes one."""
    return quote(name, safe=URL_SAFE)


class LXDViewSet(viewsets.GenericViewSet):
    """Base for LXD resources: LXD's URLs, envelope, not-found texts and one read path.

    Set ``collection_url`` and ``not_found_message``; name per-action serializers as
    ``<action>_serializer_class`` (e.g. ``create_serializer_class``). ``scope`` decides which
    rows a client may see and ``shown`` which relations answers show; every read goes through
    ``get_queryset()`` (the scope) and ``show_related()`` (the relations).
    """

    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    collection_url = ""
    not_found_message = "not found"
    # LXD words the same 404 differently in each handler; {name} is the Go-quoted name.
    not_found_messages = {}
    scope = Scope()
    # Reverse relations answers show (``reads.Shown``), and forward foreign keys read with a join.
    shown = ()
    selected = ()
    # The field paths LXD's ``filter=`` may name on the list (``lxd_filter.Field``), or None.
    filter_fields = None
    # Whether the list takes ``all-projects=true`` (every project's objects, ``lxc list --all-projects``).
    lists_all_projects = False
    # GET of one object by prepared SQL (``prepared.py``): the request clients repeat most.
    prepared_reads = False
    # Django's permission word for an action where it is not the one its method implies
    # (``trust.permission_verb``: view, add, change, delete on the queryset's model).
    permission_verbs = {}
    _prepared_lookups = None

    def get_serializer_class(self):
        return getattr(self, f"{self.action}_serializer_class", None) or super().get_serializer_class()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # No name holds NUL (LXD refuses it, PostgreSQL cannot compare it): nothing to find.
        for value in self.kwargs.values():
            if "\x00" in str(value):
                raise self.not_found(value)

    def perform_authentication(self, request):
        """Authenticate only when trust is asked (``trust.is_trusted``), as DRF allows: a request
        on the unix socket is trusted without reading its session or token."""

    # Reading ------------------------------------------------------------------------------------

    def scope_key(self):
        """The key of what this client may see (``Scope.key``); kept answers are keyed by it."""
        if self.lists_all_projects and self.action == "list" and all_projects_requested(self.request):
            return self.scope.all_projects_key(self.request)
        return self.scope.key(self.request)

    def rows_key(self):
        """The scope key resolved (``Scope.resolve``: a project's features), once per request."""
        if "_rows_key" not in self.__dict__:
            self._rows_key = self.scope.resolve(self.scope_key())
        return self._rows_key

    def get_queryset(self):
        queryset = self.scope.rows(super().get_queryset(), self.rows_key())
        return queryset.select_related(*self.selected) if self.selected else queryset

    def filter_queryset(self, queryset):
        """LXD's ``filter=`` on the list, over ``filter_fields``; an object's URL ignores it, as in LXD."""
        if self.filter_fields is None or self.action != "list":
            return queryset
        return lxd_filter.filter_queryset(queryset, self.request.query_params.get("filter", ""), self.filter_fields)

    def shown_relations(self):
        """The relations this request's answer shows. Override where the request chooses them."""
        if self.request.method in SAFE_METHODS:
            return self.shown
        # A write's answer shows only its ETag: read what the ETag hashes.
        return [relation for relation in self.shown if relation.in_etag]

    def show_related(self, objects):
        """Read the shown relations of ``objects`` (a list): a query or two for any number."""
        for relation in self.shown_relations():
            relation.attach(objects)
        return objects

    def read_prepared(self, value):
        """Whether ``value`` may be read by prepared SQL. Override to refuse some values."""
        return self.prepared_reads

    def lookup_object(self, value):
        """The object named ``value``, through ``get_queryset()``. Override for other lookups."""
        return super().get_object()

    def get_object(self):
        """The object the URL names, with its shown relations; a write reads it through
        ``get_queryset()``, which locks it inside the write's transaction."""
        return self._read_object(prepared=self.request.method in SAFE_METHODS)

    def current_object(self):
        """The object as it stands, read without a lock: a write's early precondition check."""
        return self._read_object(prepared=True)

    def _read_object(self, *, prepared):
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            if prepared and self.read_prepared(value):
                instance = self._prepared_object(value)
                self.check_object_permissions(self.request, instance)
                return instance
            return self.show_related([self.lookup_object(value)])[0]
        except Http404:
            raise self.not_found(value) from None

    def not_found(self, value):
        """LXD's 404 for this action on the object named ``value``."""
        message = self.not_found_messages.get(self.action, self.not_found_message)
        return exceptions.NotFound(message.format(name=go_quote(str(value))))

    def _prepared_object(self, value):
        """The object and its shown relations by prepared SQL, built from the same declaration."""
        cache_key, build, parameters = self.scope.prepared(self.queryset.model, self.lookup_field, self.rows_key())
        lookups = type(self).__dict__.get("_prepared_lookups")
        if lookups is None:
            lookups = type(self)._prepared_lookups = {}
        query = lookups.get(cache_key)
        if query is None:
            query = lookups[cache_key] = PreparedQuery(build)
        instance = query.first(value, *parameters)
        if instance is None:
            raise Http404
        # The name alone may not say whose relations they are (a project's): the scope adds that.
        within = self.scope.within(self.rows_key())
        for relation in self.shown_relations():
            relation.attach_one(instance, self.lookup_field, value, within)
        return instance

    # Answering ----------------------------------------------------------------------------------

    def request_data(self):
        """The JSON body; an empty one is Go's ``EOF`` decode error, as LXD answers it."""
        if self.request.stream is None:
            raise exceptions.ParseError("EOF")
        return self.request.data

    def object_url(self, instance):
        """The object's LXD URL, its name escaped as Go escapes a path segment."""
        return f"{self.collection_url}/{self.url_segment(instance)}"

    def url_segment(self, instance):
        """The object's name as its URL's last segment. Override where LXD escapes it otherwise."""
        return escaped(getattr(instance, self.lookup_field))

    def listed_url(self, instance):
        """The object's URL in its collection's list."""
        return self.object_url(instance)

    def listed_rows(self, queryset):
        """The rows of a list of URLs, with only what ``listed_url`` reads."""
        return queryset.select_related(None).only(self.lookup_field)

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
            names = self.listed_rows(queryset)
            return self.collection_response([self.listed_url(obj) for obj in names])
        objects = self.show_related(list(queryset))
        return self.collection_response(self.get_serializer(objects, many=True).data)


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

    @atomic_write
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

    @atomic_write
    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object())
        return SyncResponse({})

    def perform_destroy(self, instance):
        instance.delete()


class RenameMixin:
    """POST on an object renames it: 201 + Location of the new name, as LXD does."""

    @WRITE_SCHEMA
    @atomic_write
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


class InProjectMixin:
    """A resource whose objects live in projects (its ``scope`` is a ``reads.InProject``).

    Its URLs carry ``?project=`` outside the default project, as LXD's do; its serializers
    get the effective project's name (``project_name`` in their context) and a create writes
    into that project.
    """

    def project_name(self):
        """The effective project: the one the request names, or the default project whose
        objects it uses (a feature it lacks)."""
        return self.rows_key()[1]

    # LXD's 404 for a write into a project that does not exist, where reads find nothing in it.
    unknown_project_message = "Failed loading project: Project not found"

    def project(self):
        """The effective project's row, read once per request (a write into it)."""
        if "_project" not in self.__dict__:
            self._project = Project.objects.filter(name=self.project_name()).first()
            if self._project is None:
                raise exceptions.NotFound(self.unknown_project_message)
        return self._project

    # Whether its list's URLs name the project (LXD's image and alias lists do not).
    lists_name_project = True

    def across_projects(self):
        """Whether the request lists every project's objects (``all-projects=true``)."""
        return self.project_name() is Project.ALL

    def get_queryset(self):
        queryset = super().get_queryset()
        # Each object's project names its URL and its ``project`` field.
        return queryset.select_related("project") if self.across_projects() else queryset

    def object_url(self, instance):
        name = instance.project.name if self.across_projects() else self.project_name()
        return super().object_url(instance) + Project.url_query(name)

    def listed_url(self, instance):
        return super().listed_url(instance) if self.lists_name_project else LXDViewSet.object_url(self, instance)

    def listed_rows(self, queryset):
        if not self.across_projects():
            return super().listed_rows(queryset)
        named = queryset.select_related(None).select_related("project")
        return named.only(self.lookup_field, "project", "project__name")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "project_name": self.project_name()}

    def perform_create(self, serializer):
        serializer.validated_data["project"] = self.project()
        super().perform_create(serializer)


class LXDCrudViewSet(
    CachedReadMixin,
    ConditionalUpdateMixin,
    LifecycleMixin,
    ListMixin,
    RetrieveMixin,
    CreateMixin,
    UpdateMixin,
    DestroyMixin,
    LXDViewSet,
):
    """A resource with LXD's synchronous CRUD, ETags, lifecycle events and kept answers, which
    LXD does not rename (a POST on one answers 501, as every unrouted method)."""


class LXDModelViewSet(LXDCrudViewSet, RenameMixin):
    """A resource with LXD's synchronous CRUD and rename (as DRF's ModelViewSet). RenameMixin
    comes last so that LifecycleMixin's perform_rename wraps its own."""
