"""Reads worked out once per process: querysets compiled to SQL, serializers' field plans.

Django compiles a queryset to SQL every time it runs one. For ``GET`` of one profile that
compile, and the prefetch machinery around a second query, were about 60% of the request
(py-spy on a ``serve`` worker; see docs/performance.md). A ``PreparedQuery`` builds its
queryset once, with placeholder values, keeps the SQL and the column converters Django made
of it, and runs that SQL again with each request's values, building model objects as the
ORM does. Writes keep the ORM: they lock rows and are not repeated as often.

Lists keep the ORM's querysets but group their related rows in one pass
(``prefetch_reverse``), and serializers show objects through a field plan
(``PlannedRepresentationMixin``).
"""

import functools
import threading
from collections import defaultdict
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.expressions import Col
from django.db.models.sql import Query
from django.db.models.sql.compiler import SQLCompiler


def _placeholder(index):
    """A string no client value can equal (the API refuses NUL), marking parameter ``index``."""
    return f"\x00lxdsite-parameter-{index}\x00"


@dataclass
class _Compiled:
    """One thread's compiled query: the compiler holds that thread's connection."""

    compiler: SQLCompiler
    sql: str
    slots: list
    attnames: list
    converters: dict


class PreparedQuery:
    """A model queryset of string parameters, compiled once per thread and database.

    ``build`` takes placeholder strings and returns the queryset, e.g.
    ``PreparedQuery(lambda name: Profile.objects.filter(name=name))``. Each value must reach
    the SQL as it is (exact lookups, not ``startswith``), and the queryset selects model
    columns only (``only()`` may narrow them). Calling the prepared query with the real
    values returns the model objects in the queryset's order, converted as the ORM does.
    """

    def __init__(self, build):
        self.build = build
        self.arity = build.__code__.co_argcount
        self.local = threading.local()

    def compile(self, using):
        """The SQL Django makes of the queryset, and where each value goes in its parameters."""
        placeholders = [_placeholder(index) for index in range(self.arity)]
        compiler = self.build(*placeholders).query.get_compiler(using)
        sql, params = compiler.as_sql()
        slots = [(placeholders.index(param), None) if param in placeholders else (None, param) for param in params]
        assert sum(index is not None for index, _ in slots) == self.arity, "each value must reach the SQL as it is"
        columns = [expression for expression, _, _ in compiler.select[: compiler.col_count]]
        assert all(isinstance(column, Col) for column in columns), "select model columns only"
        attnames = [column.target.attname for column in columns]
        return _Compiled(compiler, sql, slots, attnames, compiler.get_converters(columns))

    def __call__(self, *values, using=DEFAULT_DB_ALIAS):
        compiled = getattr(self.local, using, None)
        if compiled is None:
            compiled = self.compile(using)
            setattr(self.local, using, compiled)
        params = [values[index] if index is not None else constant for index, constant in compiled.slots]
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        model = compiled.compiler.query.model
        return [model.from_db(using, compiled.attnames, row) for row in rows]

    def first(self, *values, using=DEFAULT_DB_ALIAS):
        """The first object, or None."""
        return next(iter(self(*values, using=using)), None)


# Where an object keeps the rows of its relations that answers show by a few fields.
SHOWN = "_shown_rows"


def shown_rows(instance, relation):
    """The rows of ``relation`` an API read attached (plain records), else the relation's rows.

    A list shows hundreds of them: reading them here, not through the related manager Django
    builds on each access, keeps a list of 200 profiles' ``used_by`` as fast as their names.
    """
    rows = instance.__dict__.get(SHOWN, {}).get(relation)
    return getattr(instance, relation).all() if rows is None else rows


@functools.cache
def _matching_nothing(model):
    """A query of ``model`` that matches no row, shared: querysets clone their query before
    changing it, so it is never changed in place (building one was most of a list's relations)."""
    query = Query(model)
    query.set_empty()
    return query


def set_prefetched(instance, relation, objects):
    """Make ``instance.<relation>.all()`` give ``objects`` without a query, as prefetch_related does.

    The queryset's SQL matches nothing: a ``delete()`` or ``update()`` through it (which would
    run its SQL, not use the objects) changes no row, where an unfiltered one would change every
    object's rows. Writes name their rows by the foreign key.
    """
    model = getattr(type(instance), relation).rel.related_model
    queryset = model._default_manager._queryset_class(model=model, query=_matching_nothing(model))
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[relation] = queryset


def prefetch_reverse(objects, relation, queryset=None):
    """``prefetch_related(relation)`` for a reverse foreign key: one query for all ``objects``.

    Django's prefetch also builds a filtered queryset for every object, which was half of
    listing 200 instances (cProfile); this groups the rows and stores them with
    ``set_prefetched``. ``queryset`` narrows or orders the rows; returns every row read.
    """
    if not objects:
        return []
    field = getattr(type(objects[0]), relation).rel.field
    queryset = field.model._default_manager.all() if queryset is None else queryset
    rows = list(queryset.filter(**{f"{field.name}__in": [obj.pk for obj in objects]}))
    grouped = defaultdict(list)
    parents = {obj.pk: obj for obj in objects}
    for row in rows:
        parent_id = getattr(row, field.attname)
        # Each row knows its parent, as after prefetch_related: showing it reads no more.
        setattr(row, field.name, parents[parent_id])
        grouped[parent_id].append(row)
    for obj in objects:
        set_prefetched(obj, relation, grouped[obj.pk])
    return rows


class PlannedRepresentationMixin:
    """A serializer that shows objects through a field plan worked out once per serializer.

    DRF looks every field up again for each object (``_readable_fields``, ``get_attribute``):
    about half of listing 200 instances, and a share of every ETag. The plan reads each
    field's source path with ``getattr``; a None value stays None, as DRF shows it.
    """

    @functools.cached_property
    def _representation_plan(self):
        return [(field.field_name, field.source_attrs, field) for field in self._readable_fields]

    def to_representation(self, instance):
        shown = {}
        for name, path, field in self._representation_plan:
            value = instance
            for attr in path:
                value = getattr(value, attr)
            shown[name] = None if value is None else field.to_representation(value)
        return shown
