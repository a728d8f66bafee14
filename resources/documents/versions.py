"""The stored version: a hash of every stored field, checked again under the API's row lock.

LXD's ETag leaves some fields out, and an editor must notice any change.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from ..etags import compute_etag
from .errors import (
    VersionConflict,
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


def lock_current(instance, version):
    """Re-read ``instance``'s row under the API's write lock; VersionConflict if it changed.

    Call inside ``transaction.atomic()``: the lock is ``select_for_update`` on PostgreSQL, and
    on SQLite the write lock taken at BEGIN IMMEDIATE; either way it lasts until the commit.
    """
    current = type(instance)._default_manager.select_for_update().filter(pk=instance.pk).first()
    if current is None or stored_version(current) != version:
        raise VersionConflict(current)
    return current
