"""LXD 5.0.2's instance state machine: what each action does from each status.

``PUT /1.0/instances/NAME/state`` (and the bulk ``PUT /1.0/instances``) carry an action with
``force``, ``stateful`` and ``timeout``. LXD answers every request it can decode with an
operation; an impossible move fails that operation with the refusal the daemon sends. Which
refusal, which status, which lifecycle events (in LXD's order) and which ``volatile.*``
bookkeeping follow from each action and status was read off the real daemon (containers of
a busybox image on a ``dir`` pool): ``tests/test_lifecycle.py`` holds the table, and
``tests/test_lifecycle_lxd.py`` compares every move with the daemon's.
"""

from dataclasses import dataclass

from rest_framework import exceptions

from .models import Instance

STOPPED, RUNNING, FROZEN = Instance.STOPPED, Instance.RUNNING, Instance.FROZEN

# action: the operation's description (LXD's operationtype).
DESCRIPTIONS = {
    "start": "Starting instance",
    "stop": "Stopping instance",
    "restart": "Restarting instance",
    "freeze": "Freezing instance",
    "unfreeze": "Unfreezing instance",
}

# LXD's refusals, by what the instance is when the action finds it.
ALREADY_RUNNING = "The instance is already running"
ALREADY_STOPPED = "The instance is already stopped"
NOT_RUNNING = "Instance is not running"
CONTAINER_NOT_RUNNING = "The container isn't running"
CONTAINER_ALREADY_FROZEN = "The container is already frozen"
CONTAINER_ALREADY_RUNNING = "The container is already running"
NO_STATE_TO_RESTORE = "Container has no existing state to restore"
# Saving a container's state needs CRIU; LXD 5.0.2 without it answers this, and lxdsite keeps
# no state to save.
NO_LIVE_MIGRATION = "Unable to perform container live migration. CRIU isn't installed"

# Go's names for the JSON types a field may wrongly carry.
_GO_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "bool", type(None): "null"}
# InstanceStatePut's fields: (JSON field, Python type, Go type, the value LXD starts from).
_FIELDS = (
    ("action", str, "string", ""),
    ("timeout", int, "int", -1),
    ("force", bool, "bool", False),
    ("stateful", bool, "bool", False),
)


@dataclass(frozen=True)
class StateChange:
    """A decoded ``InstanceStatePut``: ``timeout`` -1 waits for a clean shutdown without limit."""

    action: str
    timeout: int = -1
    force: bool = False
    stateful: bool = False

    @property
    def description(self):
        return DESCRIPTIONS[self.action]

    @property
    def kills(self):
        """Whether a stop or restart kills the instance rather than asking it to shut down."""
        return self.force or self.timeout == 0


def decode_state_change(data, path=""):
    """An ``InstanceStatePut`` (at ``path`` in the body) as Go decodes it, with LXD's 400 texts.

    The action is checked apart (``check_action``): LXD looks the instance up in between.
    """
    if not isinstance(data, dict):
        struct = "Go struct field InstancesPut.state" if path else "Go value"
        found = go_json_type(data)
        raise exceptions.ParseError(f"json: cannot unmarshal {found} into {struct} of type api.InstanceStatePut")
    values = {}
    for field, kind, go_kind, zero in _FIELDS:
        value = data.get(field)
        if value is None:
            value = zero
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            shown = f"number {value}" if isinstance(value, float) and go_kind == "int" else go_json_type(value)
            raise exceptions.ParseError(
                f"json: cannot unmarshal {shown} into Go struct field InstanceStatePut.{path}{field} of type {go_kind}"
            )
        values[field] = value
    return StateChange(**values)


def check_action(change):
    """LXD's 400 for an action it does not know."""
    if change.action not in DESCRIPTIONS:
        raise exceptions.ParseError(f"Unknown action: '{change.action}'")


def go_json_type(value):
    """Go's name for the JSON type of a decoded value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return _GO_JSON_TYPES[type(value)]


class Refused(Exception):
    """LXD's refusal of a move: the operation fails with this text and nothing changes."""


@dataclass(frozen=True)
class Move:
    """What an accepted action does: the status it ends in (None: the instance is deleted),
    the lifecycle events LXD sends in its order, and whether the instance (re)starts."""

    status: str | None
    events: tuple
    starts: bool = False


def plan(status, change, *, ephemeral, saved_state=False):
    """The move ``change`` makes from ``status``, or ``Refused`` with LXD's text.

    ``saved_state``: the instance was stopped statefully (on LXD, before its import).
    """
    return _PLANNERS[change.action](status, change, ephemeral, saved_state)


def _start(status, change, ephemeral, saved_state):
    if status != STOPPED:
        raise Refused(ALREADY_RUNNING)
    if change.stateful and not saved_state:
        raise Refused(NO_STATE_TO_RESTORE)
    return Move(RUNNING, ("instance-started",), starts=True)


def _stop(status, change, ephemeral, saved_state):
    if status == STOPPED:
        raise Refused(ALREADY_STOPPED)
    if change.stateful:
        raise Refused(NO_LIVE_MIGRATION)
    if change.kills:
        events = ("instance-stopped",)
    else:
        # A clean shutdown thaws a frozen container first.
        events = ("instance-resumed",) * (status == FROZEN) + ("instance-shutdown",)
    if ephemeral:
        # LXD deletes an ephemeral instance as it stops, before it reports the stop.
        return Move(None, (*events[:-1], "instance-deleted", events[-1]))
    return Move(STOPPED, events)


def _restart(status, change, ephemeral, saved_state):
    if status == STOPPED:
        raise Refused(ALREADY_STOPPED)
    if status == FROZEN and not change.kills:
        raise Refused(NOT_RUNNING)
    # An ephemeral instance is made persistent for the restart, and LXD then reports its stop too.
    stopped = (("instance-stopped",) if change.kills else ("instance-shutdown",)) if ephemeral else ()
    return Move(RUNNING, (*stopped, "instance-restarted"), starts=True)


def _freeze(status, change, ephemeral, saved_state):
    if status == STOPPED:
        raise Refused(CONTAINER_NOT_RUNNING)
    if status == FROZEN:
        raise Refused(CONTAINER_ALREADY_FROZEN)
    return Move(FROZEN, ("instance-paused",))


def _unfreeze(status, change, ephemeral, saved_state):
    if status == STOPPED:
        raise Refused(CONTAINER_NOT_RUNNING)
    if status == RUNNING:
        raise Refused(CONTAINER_ALREADY_RUNNING)
    return Move(RUNNING, ("instance-resumed",))


_PLANNERS = {"start": _start, "stop": _stop, "restart": _restart, "freeze": _freeze, "unfreeze": _unfreeze}


# The statuses a bulk ``PUT /1.0/instances`` applies each action to: those it can move. (LXD
# 5.0.2 also freezes frozen instances and unfreezes stopped ones, failing them.)
BULK_APPLIES_TO = {
    "start": {STOPPED},
    "stop": {RUNNING, FROZEN},
    "restart": {RUNNING, FROZEN},
    "freeze": {RUNNING},
    "unfreeze": {FROZEN},
}


def started_config(config):
    """The config after a start: LXD applies the create template once, records the id map
    the container runs with, and the power state it comes back to after a host restart."""
    config = {key: value for key, value in config.items() if key != "volatile.apply_template"}
    idmap = config.get("volatile.idmap.next")
    if idmap is not None:
        config["volatile.idmap.current"] = idmap
        config["volatile.last_state.idmap"] = idmap
    config["volatile.last_state.power"] = "RUNNING"
    return config


def stopped_config(config):
    """The config after a stop: the power state LXD leaves it in after a host restart."""
    return {**config, "volatile.last_state.power": "STOPPED"}
