"""How a resource is read: who may see which rows (``Scope``) and what related rows its answers
show (``Shown``). A viewset declares both once; its list, its object reads (by the ORM or by
prepared SQL), its writes' ETags and its kept answers are all derived from that declaration.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from rest_framework import exceptions

from ..go import go_quote
from ..models import Project
from ..prepared import SHOWN, PreparedQuery, prefetch_reverse, set_prefetched
from ..trust import is_trusted, restricted_projects

TRUSTED = "trusted"
UNTRUSTED = "untrusted"


class Scope:
    """What a client may see: everything when trusted, nothing otherwise.

    ``key`` names the client's view of the resource: kept answers are keyed by it, so two
    clients that may see different rows never get each other's answer. Projects and
    restricted certificates are further keys.
    """

    def key(self, request):
        """The key of what this request's client may see."""
        return TRUSTED if is_trusted(request) else UNTRUSTED

    def rows(self, queryset, key):
        """The rows a client of ``key`` may see."""
        return queryset if key == TRUSTED else queryset.none()

    def resolve(self, key):
        """The key ``rows`` reads with, from the request's ``key``; may read the database (a
        project's features) and refuse (an unknown project). Kept answers need not call it."""
        return key

    def prepared(self, model, field, key):
        """(cache key, build, parameters) of the prepared read of one object by ``field``, for
        the resolved ``key``: the cache key is bounded, whatever the request names."""
        return key, lambda value: self.rows(model.objects.filter(**{field: value}), key), ()

    def within(self, key):
        """The condition a shown relation of one object adds to its name, or None."""
        return None


class Everyone(Scope):
    """Every client sees every row (the server's own record, which its views show in part)."""

    def rows(self, queryset, key):
        return queryset


@dataclass(frozen=True)
class PublicToUntrusted(Scope):
    """Untrusted clients see the rows whose ``public_field`` is true, as LXD shows public images."""

    public_field: str

    def rows(self, queryset, key):
        return queryset if key == TRUSTED else queryset.filter(**{self.public_field: True})


class OwnProjects(Scope):
    """Projects as a client sees them: a restricted certificate its own (LXD lists those), every
    other client as ``Scope`` decides."""

    def key(self, request):
        names = restricted_projects(request)
        return super().key(request) if names is None else ("restricted", tuple(sorted(names)))

    def rows(self, queryset, key):
        if isinstance(key, tuple):
            return queryset.filter(name__in=key[1])
        return super().rows(queryset, key)


def requested_project(request):
    """The project a request names (``?project=``), ``default`` when it names none, as LXD reads
    it (Go's ``FormValue``: the first of repeated values)."""
    return next(iter(request.query_params.getlist("project")), "") or Project.DEFAULT_NAME


def all_projects_requested(request):
    """Whether the request asks for every project's objects (``all-projects=``, read as LXD's
    ``IsTrue`` reads the first value)."""
    value = next(iter(request.query_params.getlist("all-projects")), "")
    return value.lower() in ("true", "1", "yes", "on")


@dataclass(frozen=True)
class InProject(Scope):
    """The rows of the project the request names, seen through ``inner``.

    ``feature`` is the project feature (``features.profiles``) without which a project uses
    the default project's objects, as in LXD. The request's key is the project it names (no
    query: kept answers are looked up by it); ``resolve`` reads that project once and gives the
    effective one, or raises LXD's 404 (``unknown``, with the Go-quoted name) for a project
    that does not exist.
    """

    feature: str | None = None
    inner: Scope = field(default_factory=Scope)
    path: str = "project"
    # None: an unknown project holds nothing (LXD lists no instances of it).
    unknown: str | None = "Failed loading project {name}: Project not found"

    def key(self, request):
        return (self.inner.key(request), requested_project(request))

    def all_projects_key(self, request):
        """The key of a list of every project's rows (``all-projects=true``); a request that also
        names a project is refused with LXD's 400."""
        if next(iter(request.query_params.getlist("project")), ""):
            raise exceptions.ParseError("Cannot specify a project when requesting all projects")
        return (self.inner.key(request), Project.ALL)

    def resolve(self, key):
        inner_key, name = key
        if name in (Project.DEFAULT_NAME, Project.ALL):
            return key
        config = Project.objects.filter(name=name).values_list("config", flat=True).first()
        if config is None:
            if self.unknown is None:
                return key
            raise exceptions.NotFound(self.unknown.format(name=go_quote(name)))
        if self.feature is not None and not Project(config=config).has_feature(self.feature):
            return (inner_key, Project.DEFAULT_NAME)
        return key

    def rows(self, queryset, key):
        inner_key, project = key
        if project is Project.ALL:
            # The model's order, then the project's: a name may be in several projects.
            ordered = queryset.order_by(*queryset.model._meta.ordering, f"{self.path}__name")
            return self.inner.rows(ordered, inner_key)
        return self.inner.rows(queryset.filter(**{f"{self.path}__name": project}), inner_key)

    def prepared(self, model, field, key):
        inner_key, project = key

        def build(value, project):
            return self.rows(model.objects.filter(**{field: value}), (inner_key, project))

        return ("project", inner_key), build, (project,)

    def within(self, key):
        """The condition a shown relation of one object adds: the object's project, by name."""
        return (f"{self.path}__name", key[1])


@dataclass(frozen=True)
class Shown:
    """A reverse relation an answer shows: its rows in id order, each with its ``target`` row.

    ``Shown("profile_links", "profile", ("name",))`` gives ``image.profile_links.all()``
    with each link's profile, joined (its name only: the links are plain records). ``shared``
    targets (a few profiles for many instances) are read in a second query, each once.
    ``in_etag`` says the ETag hashes the relation, so writes read it too.
    """

    relation: str
    target: str | None = None
    fields: tuple = ()
    in_etag: bool = False
    shared: bool = False
    _prepared: dict = field(default_factory=dict, compare=False, repr=False)

    def _link(self, model):
        """The relation's foreign key, on the link model."""
        return getattr(model, self.relation).rel.field

    def models(self, model):
        """The models whose rows this relation shows, for ``model``'s answers."""
        link = self._link(model).model
        return (link, link._meta.get_field(self.target).related_model) if self.target else (link,)

    def attach(self, objects):
        """Read the relation for any number of objects: one query, and one for the targets."""
        if not objects:
            return
        link = self._link(type(objects[0]))
        if self.target is not None and self.fields:
            self._attach_fields(objects, link)
            return
        rows = link.model.objects.order_by("id")
        if self.target is not None and not self.shared:
            rows = rows.select_related(self.target)
        links = prefetch_reverse(objects, self.relation, rows)
        if self.target is None or not self.shared:
            return
        target = link.model._meta.get_field(self.target)
        queryset = target.related_model._default_manager.all()
        # Objects share targets (a few profiles for many instances): each is read and built once.
        targets = (queryset.only(*self.fields) if self.fields else queryset).in_bulk(
            {getattr(link, target.attname) for link in links}
        )
        for link in links:
            setattr(link, self.target, targets[getattr(link, target.attname)])

    def _attach_fields(self, objects, link):
        """Links as plain records holding the target's named fields: a list shows hundreds of
        them, and building model objects for each was most of its time."""
        columns = [f"{self.target}__{name}" for name in self.fields]
        rows = link.model.objects.filter(**{f"{link.attname}__in": [obj.pk for obj in objects]}).order_by("id")
        grouped = defaultdict(list)
        for parent_id, *values in rows.values_list(link.attname, *columns):
            grouped[parent_id].append(
                SimpleNamespace(**{self.target: SimpleNamespace(**dict(zip(self.fields, values, strict=True)))})
            )
        for obj in objects:
            self._store(obj, grouped[obj.pk])

    def _store(self, instance, rows):
        """Attach ``rows``: as the prefetched relation, and by name for ``shown_rows``."""
        set_prefetched(instance, self.relation, rows)
        instance.__dict__.setdefault(SHOWN, {})[self.relation] = rows

    def attach_one(self, instance, lookup_field, value, within=None):
        """Read the relation for one object found by ``lookup_field == value``, by prepared SQL;
        ``within`` is ``(field, value)`` for the scope's further condition (its project's name)."""
        model = type(instance)
        key = (model, lookup_field, within and within[0])
        query = self._prepared.get(key)
        if query is None:
            query = self._prepared[key] = PreparedQuery(self._one_query(model, lookup_field, within and within[0]))
        link = self._link(model)
        rows = query(value, within[1]) if within else query(value)
        if self.target is not None and self.fields:
            self._store(instance, [SimpleNamespace(**{self.target: row}) for row in rows])
            return
        if self.target is not None:
            rows = [link.model(**{link.name: instance, self.target: row}) for row in rows]
        else:
            for row in rows:
                setattr(row, link.name, instance)
        set_prefetched(instance, self.relation, rows)

    def _one_query(self, model, lookup_field, within_field=None):
        link = self._link(model)

        def condition(prefix, value, within_value):
            fields = {f"{prefix}{link.name}__{lookup_field}": value}
            if within_field is not None:
                fields[f"{prefix}{link.name}__{within_field}"] = within_value
            return fields

        if self.target is None:

            def build_links(value, within_value=None):
                return link.model.objects.filter(**condition("", value, within_value)).order_by("id")

            return build_links if within_field else lambda value: build_links(value)
        through = link.model._meta.get_field(self.target).related_query_name()
        target_model = link.model._meta.get_field(self.target).related_model

        def build(value, within_value=None):
            queryset = target_model._default_manager.filter(**condition(f"{through}__", value, within_value))
            queryset = queryset.order_by(f"{through}__id")
            return queryset.only(*self.fields) if self.fields else queryset

        return build if within_field else lambda value: build(value)
