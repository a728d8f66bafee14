"""The system checks refuse an incomplete resource declaration; the triggers follow the models."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from resources.api.base import DestroyMixin, LXDModelViewSet, LXDViewSet
from resources.api.cached_reads import CACHED_VIEWSETS, CachedReadMixin
from resources.api.reads import Shown
from resources.models import APIToken, Event, Instance, InstanceProfile, Operation, Profile, Snapshot
from resources.urls import router
from resources.watched import watched_models


def test_the_shipped_resources_pass_the_checks():
    call_command("check")


@pytest.mark.parametrize(
    ("declaration", "unwatched"),
    [
        # Its own model, a joined foreign key, a shown relation's rows and their targets.
        ({"queryset": Operation.objects.all()}, Operation),
        ({"queryset": Snapshot.objects.all(), "selected": ("instance",)}, Instance),
        ({"queryset": Instance.objects.all(), "shown": (Shown("snapshots"),)}, Snapshot),
        ({"queryset": Profile.objects.all(), "shown": (Shown("instance_links", "instance"),)}, InstanceProfile),
        ({"queryset": Profile.objects.all(), "shown": (Shown("instance_links", "instance"),)}, Instance),
    ],
)
def test_a_cached_viewset_that_reads_an_unwatched_table_fails_the_check(monkeypatch, declaration, unwatched):
    monkeypatch.setattr("resources.watched._WATCHED", [model for model in watched_models() if model is not unwatched])
    scratch = type("ScratchViewSet", (CachedReadMixin, LXDViewSet), dict(declaration))
    try:
        with pytest.raises(SystemCheckError, match=f"ScratchViewSet keeps answers that read {unwatched._meta.label},"):
            call_command("check")
    finally:
        CACHED_VIEWSETS.remove(scratch)
    monkeypatch.undo()
    call_command("check")


def test_a_conditional_write_outside_atomic_write_fails_the_check():
    class Unlocked(DestroyMixin):
        def destroy(self, request, *args, **kwargs):
            return super().destroy.__wrapped__(self, request, *args, **kwargs)

    scratch = type("ScratchViewSet", (Unlocked, LXDModelViewSet), {"queryset": Profile.objects.all()})
    router.registry.append(("1.0/scratch", scratch, "scratch"))
    try:
        with pytest.raises(SystemCheckError, match=r"ScratchViewSet\.destroy writes outside @atomic_write"):
            call_command("check")
    finally:
        router.registry.pop()
        CACHED_VIEWSETS.remove(scratch)


def _tables_with_triggers():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'lxdsite_%'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_exactly_the_watched_models_tables_have_triggers():
    assert _tables_with_triggers() == {model._meta.db_table for model in watched_models()}
    for model in (Operation, Event, APIToken):
        assert model._meta.db_table not in _tables_with_triggers()
