"""``POST /1.0/instances`` with ``source.type: copy`` (``lxc copy``): a new instance from another
instance or one of its snapshots, with what LXD copies and what it makes anew.

The request's own config, devices and profiles win; what it leaves out comes from the source
(its local config without the server's ``volatile.*`` keys, its local devices, its profiles).
The copy gets fresh ``volatile.*`` keys, keeps the source's base image, and is marked
``volatile.apply_template: copy``; an instance's snapshots come along unless ``instance_only``.
"""

from rest_framework import exceptions

from . import instance_files
from .go import go_quote
from .instances import is_volatile
from .models import Instance, InstanceTemplate, Snapshot

# The volatile keys a copy keeps from its source (LXD's InstanceIncludeWhenCopying).
KEPT_VOLATILE = ("volatile.base_image",)


def copy_source(source, project_name):
    """The instance or snapshot ``source`` names (``NAME`` or ``NAME/SNAP``, in ``source.project``
    or the request's project); LXD's 404 when there is none."""
    name = source.get("source")
    project = source.get("project") or project_name
    if not isinstance(name, str) or not isinstance(project, str):
        raise exceptions.NotFound("Instance not found")
    instance_name, _, snapshot_name = name.partition("/")
    instance = Instance.objects.filter(project__name=project, name=instance_name).first()
    if instance is None:
        where = f"{go_quote(instance_name)} in project {go_quote(project)}"
        raise exceptions.NotFound(f"Failed to fetch instance {where}: Instance not found")
    if not snapshot_name:
        return instance
    snapshot = instance.snapshots.filter(name=snapshot_name).first()
    if snapshot is None:
        raise exceptions.NotFound(missing_snapshot(snapshot_name, instance_name, project))
    return snapshot


def missing_snapshot(snapshot, instance, project):
    """LXD's 404 for a snapshot an existing instance does not have."""
    where = f"{go_quote(snapshot)} of instance {go_quote(instance)} in project {go_quote(project)}"
    return f"Failed to fetch snapshot {where}: InstanceSnapshot not found"


def copy_request(data, source):
    """The create request with what it leaves out filled in from ``source``, as LXD fills it."""
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    devices = data.get("devices") if isinstance(data.get("devices"), dict) else {}
    kept = {key: value for key, value in source.config.items() if not is_volatile(key)}
    filled = {
        **data,
        "config": {**kept, **config},
        "devices": {**source.devices, **devices},
        "architecture": source.architecture,
    }
    if data.get("profiles") is None:
        filled["profiles"] = (
            source.profiles if isinstance(source, Snapshot) else [p.name for p in source.profile_list()]
        )
    if "ephemeral" not in data:
        filled["ephemeral"] = source.ephemeral
    return filled


def copied_volatile(source):
    """The source's volatile keys a copy keeps, and LXD's mark of a copy."""
    kept = {key: value for key, value in source.config.items() if key in KEPT_VOLATILE}
    return {**kept, "volatile.apply_template": "copy"}


def copy_contents(source, copy, *, instance_only):
    """What comes with the copy besides its config: metadata, template files and (for an
    instance, unless ``instance_only``) its snapshots, oldest first, with their own times."""
    instance = source.instance if isinstance(source, Snapshot) else source
    copy.metadata = instance.metadata
    copy.save(update_fields=["metadata"])
    instance_files.copy_tree(source, copy)
    InstanceTemplate.objects.bulk_create(
        InstanceTemplate(instance=copy, name=template.name, content=template.content)
        for template in instance.templates.all()
    )
    if isinstance(source, Snapshot) or instance_only:
        return
    for snapshot in source.snapshots.order_by("id"):
        made = Snapshot.objects.create(
            instance=copy,
            name=snapshot.name,
            architecture=snapshot.architecture,
            config=snapshot.config,
            devices=snapshot.devices,
            profiles=snapshot.profiles,
            ephemeral=snapshot.ephemeral,
            stateful=snapshot.stateful,
            expires_at=snapshot.expires_at,
        )
        Snapshot.objects.filter(pk=made.pk).update(created_at=snapshot.created_at)
        instance_files.copy_tree(snapshot, made)
