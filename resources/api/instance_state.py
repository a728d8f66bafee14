"""``/1.0/instances/NAME/state`` and the bulk ``PUT /1.0/instances``: LXD's state machine on records."""

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS

from .. import events
from ..envelope import SyncResponse
from ..instance_states import (
    BULK_APPLIES_TO,
    Refused,
    check_action,
    decode_state_change,
    go_json_type,
    plan,
    started_config,
    stopped_config,
)
from ..models import Instance
from ..operations import AsyncResponse, finished_operation
from ..serializers import instance_state
from .async_writes import instance_url
from .conditional import atomic_write


def state_resources(names):
    """A state operation's ``resources``: LXD lists the instances only."""
    return {"instances": [instance_url(name) for name in names] or None}


def deletion_events(instance, project):
    """The lifecycle events of deleting ``instance`` of ``project``: LXD deletes its snapshots
    first, the newest first, and reports each."""
    url = instance_url(instance.name, project=project)
    snapshots = instance.snapshots.order_by("-id").values_list("name", flat=True)
    return [
        *(("instance-snapshot-deleted", instance_url(instance.name, name, project)) for name in snapshots),
        ("instance-deleted", url),
    ]


class InstanceStateMixin:
    """PUT on ``/state`` moves one instance; PUT on the collection moves every instance it applies to.

    Each move is planned by ``instance_states.plan`` (LXD's refusals and events) and stored
    here: the status, the ``volatile.*`` keys LXD keeps, ``last_used_at``, and the deletion of
    an ephemeral instance that stops.
    """

    @action(detail=True, methods=["get", "put"])
    def state(self, request, *args, **kwargs):
        """The recorded status; PUT ``{"action": ...}`` moves it, as an async operation."""
        if request.method in SAFE_METHODS:
            # HEAD (and OPTIONS) answer as the GET would, whatever body they carry.
            return SyncResponse(instance_state(self.get_object()))
        return self.change_state(request)

    @atomic_write
    def change_state(self, request):
        """PUT on ``/state``: one move, or the operation failed with LXD's refusal."""
        change = decode_state_change(self.request_data())
        instance = self.get_object()
        check_action(change)
        resources = state_resources([instance.name])
        try:
            move = plan(instance.status, change, ephemeral=instance.ephemeral, saved_state=instance.stateful)
        except Refused as refusal:
            return AsyncResponse(
                finished_operation(
                    change.description, err=str(refusal), resources=resources, project_id=self.operation_project_id()
                )
            )
        self.make_move(instance, move)
        return AsyncResponse(
            finished_operation(change.description, resources=resources, project_id=self.operation_project_id())
        )

    @atomic_write
    def bulk_update(self, request, *args, **kwargs):
        """``PUT /1.0/instances {"state": {...}}``: the action on every instance it can move (LXD's instancesPut)."""
        data = self.request_data()
        if not isinstance(data, dict):
            found = go_json_type(data)
            raise exceptions.ParseError(f"json: cannot unmarshal {found} into Go value of type api.InstancesPut")
        change = decode_state_change(data.get("state") or {}, path="state.")
        check_action(change)
        chosen = self.get_queryset().filter(status__in=BULK_APPLIES_TO[change.action]).order_by("name")
        failures = {}
        for instance in chosen:
            try:
                self.make_move(
                    instance, plan(instance.status, change, ephemeral=instance.ephemeral, saved_state=instance.stateful)
                )
            except Refused as refusal:
                failures[instance.name] = str(refusal)
        err = ""
        if failures:
            err = "The following instances failed to update state:\n"
            err += "".join(f" - Instance: {name}: {text}\n" for name, text in failures.items())
        resources = state_resources([instance.name for instance in chosen])
        return AsyncResponse(
            finished_operation(change.description, err=err, resources=resources, project_id=self.operation_project_id())
        )

    def make_move(self, instance, move):
        """Store ``move`` and send its lifecycle events (on commit)."""
        url = instance_url(instance.name, project=self.project_name())
        happened = [(name, url) for name in move.events]
        if move.status is None:
            deleted = happened.index(("instance-deleted", url))
            happened[deleted : deleted + 1] = deletion_events(instance, self.project_name())
            instance.delete()
        else:
            instance.status = move.status
            if move.starts:
                instance.config = started_config(instance.config)
                instance.last_used_at = timezone.now()
                # A start restores the saved state or discards it, as LXD does.
                instance.stateful = False
            elif move.status == Instance.STOPPED:
                instance.config = stopped_config(instance.config)
            instance.save(update_fields=["status", "config", "last_used_at", "stateful"])
        for name, source in happened:
            events.emit_lifecycle(name, source, request=self.request)
