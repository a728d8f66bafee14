"""``POST /1.0/instances/NAME`` with ``migration: true`` and a ``pool`` or a ``project``: LXD
5.0.2's server-side move (``lxc move c1 -s POOL``, ``lxc move c1 --target-project P``, with a
new name or not), done on the record in place.

LXD copies the instance into its new pool or project and deletes the original. What a client
sees of that is kept: the record is new (``created_at``, never used); the root disk becomes a local device
naming the pool it now lives on (its snapshots' too on a pool move); a pool move draws a new
``volatile.cloud-init.instance-id``; snapshots come along unless ``instance_only``. Read off the
daemon; its refusals end the operation with these texts.
"""

import uuid

from django.utils import timezone
from rest_framework import serializers

from .instances import expand_devices
from .models import Instance, Project, StoragePool
from .project_limits import LimitError, Member, check_instance_create
from .serializers.fields import BoolField, StringField
from .serializers.instance_parts import resolve_profiles, set_instance_profiles
from .storage_usage import root_disk

_CREATE_PREFIX = "Failed creating instance record: "
_TAKEN = _CREATE_PREFIX + 'Add instance info to the database: This "instances" entry already exists'
_NO_POOL = _CREATE_PREFIX + "Failed initialising instance: Failed loading storage pool: Storage pool not found"
_NO_CRIU = "Unable to perform container live migration. CRIU isn't installed"


class MoveRefused(Exception):
    """What LXD's "Migrating instance" operation fails with; the text is LXD's."""


class InstanceMoveSerializer(serializers.Serializer):
    """The body ``lxc move`` sends (LXD's InstancePost) for a move on the same server."""

    name = StringField(default="")
    migration = BoolField(default=False)
    live = BoolField(default=False)
    instance_only = BoolField(default=False)
    container_only = BoolField(default=False)
    pool = StringField(default="")
    project = StringField(default="")


def is_move(data):
    """Whether a ``POST`` on an instance asks for a server-side move (else it renames)."""
    return isinstance(data, dict) and data.get("migration") is True and bool(data.get("pool") or data.get("project"))


def move_instance(instance, move):
    """Move ``instance`` as the validated ``move`` body asks; ``MoveRefused`` when LXD refuses."""
    name = move["name"] or instance.name
    instance_only = move["instance_only"] or move["container_only"]
    if instance.status != Instance.STOPPED:
        if move["live"]:
            raise MoveRefused(_NO_CRIU)
        between = "pools" if move["pool"] else "projects"
        raise MoveRefused(f"Instance must be stopped to move between {between} statelessly")
    if move["pool"]:
        _to_pool(instance, name, move["pool"], instance_only)
    else:
        _to_project(instance, name, move["project"], instance_only)


def _root(instance):
    """(name, device) of the instance's expanded root disk; LXD's own default where it has none."""
    return root_disk(expand_devices(instance.profile_list(), instance.devices)) or (
        "root",
        {"path": "/", "type": "disk"},
    )


def _to_pool(instance, name, pool, instance_only):
    if not StoragePool.objects.filter(name=pool).exists():
        raise MoveRefused(_NO_POOL)
    if name != instance.name and Instance.objects.filter(project_id=instance.project_id, name=name).exists():
        raise MoveRefused(_TAKEN)
    root_name, root = _root(instance)
    moved_root = {**root, "pool": pool}
    instance.devices = {**instance.devices, root_name: moved_root}
    instance.config = {**instance.config, "volatile.cloud-init.instance-id": str(uuid.uuid4())}
    _save_moved(instance, name, instance_only)
    for snapshot in instance.snapshots.all():
        snapshot.devices = {**snapshot.devices, root_name: moved_root}
        snapshot.save(update_fields=["devices"])


def _to_project(instance, name, project_name, instance_only):
    target = Project.objects.select_for_update().filter(name=project_name).first()
    if target is None:
        raise MoveRefused(_CREATE_PREFIX + "Project not found")
    if Instance.objects.filter(project=target, name=name).exists():
        raise MoveRefused(_TAKEN)
    profile_names = [profile.name for profile in instance.profile_list()]
    try:
        profiles = resolve_profiles(profile_names, target.name)
    except serializers.ValidationError as exc:
        raise MoveRefused(_CREATE_PREFIX + str(exc.detail[0])) from exc
    root_name, root = _root(instance)
    devices = {**instance.devices, root_name: root}
    try:
        check_instance_create(target, Member(name, instance.type, instance.config, devices, profile_names))
    except LimitError as exc:
        raise MoveRefused(_CREATE_PREFIX + str(exc)) from exc
    instance.devices = devices
    instance.project = target
    _save_moved(instance, name, instance_only)
    set_instance_profiles(instance, profiles)


def _save_moved(instance, name, instance_only):
    """Save the moved record under ``name``, as new (LXD made it anew), without its snapshots
    when only the instance moves."""
    instance.name = name
    instance.created_at = timezone.now()
    instance.last_used_at = None
    instance.save()
    if instance_only:
        instance.snapshots.all().delete()
