"""System checks: the declarations that keep kept answers and writes correct are complete.

pytest-django runs no system checks; ``tests/test_checks.py`` runs ``check`` itself.
"""

from django.core import checks

from .api.cached_reads import CACHED_VIEWSETS
from .watched import is_watched


@checks.register()
def cached_views_read_watched_tables(app_configs, **kwargs):
    """A cached viewset's declared reads must all be watched, or its GETs would answer stale."""
    errors = []
    for viewset in CACHED_VIEWSETS:
        if getattr(viewset, "queryset", None) is None:
            continue  # A base class: its subclasses declare what they read.
        for model in sorted(viewset.read_models(), key=lambda model: model._meta.label):
            if not is_watched(model):
                errors.append(
                    checks.Error(
                        f"{viewset.__qualname__} keeps answers that read {model._meta.label}, which is not watched",
                        hint="Declare the model @watched (resources/watched.py), or leave CachedReadMixin out.",
                        obj=viewset,
                        id="lxdsite.E001",
                    )
                )
    return errors


# The write actions of LXD's routes (``urls.LXDRouter``); custom write actions check themselves.
WRITE_ACTIONS = ("update", "destroy", "rename")


@checks.register()
def conditional_writes_are_atomic(app_configs, **kwargs):
    """A conditional viewset's writes must run in ``@atomic_write``: check and write under one lock."""
    from .api.conditional import ConditionalUpdateMixin
    from .urls import router

    errors = []
    for _prefix, viewset, _basename in router.registry:
        if not issubclass(viewset, ConditionalUpdateMixin):
            continue
        for name in WRITE_ACTIONS:
            action = getattr(viewset, name, None)
            if action is not None and not getattr(action, "atomic_write", False):
                errors.append(
                    checks.Error(
                        f"{viewset.__qualname__}.{name} writes outside @atomic_write: its If-Match check is not atomic",
                        hint="Decorate it with resources.api.conditional.atomic_write.",
                        obj=viewset,
                        id="lxdsite.E002",
                    )
                )
    return errors
