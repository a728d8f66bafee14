"""What uses a storage volume (LXD's VolumeUsedByInstanceDevices and profiles' disks), read in a
fixed number of queries.

A disk device names a custom volume by ``pool`` and ``source`` (a bare name, no path); the
volume is looked up in the project that holds the device's storage volumes (its own with
``features.storage.volumes``, else the default project). LXD lists the instances whose own
devices name it and the profiles that do.
"""

from collections import defaultdict

from .go import go_quote
from .models import Instance, Profile, Project, Server

FEATURE = "features.storage.volumes"


def volumes_projects():
    """{project id: (name, id of the project holding its storage volumes)}."""
    projects = {}
    for pk, name, config in Project.objects.values_list("id", "name", "config"):
        holder = pk if pk == Project.DEFAULT_ID or Project(config=config).has_feature(FEATURE) else Project.DEFAULT_ID
        projects[pk] = (name, holder)
    return projects


def custom_volume_disks(devices):
    """(device name, pool, volume name) of each disk device attaching a custom volume."""
    for name, device in devices.items():
        source = device.get("source", "")
        if device.get("type") == "disk" and device.get("pool") and source and "/" not in source:
            yield name, device["pool"], source


def volume_users():
    """{(pool name, volumes project id, volume name): sorted URLs of what uses it}."""
    users = defaultdict(list)
    projects = volumes_projects()
    for model, collection in ((Instance, "instances"), (Profile, "profiles")):
        for name, project_id, devices in model.objects.values_list("name", "project_id", "devices"):
            project_name, holder = projects[project_id]
            url = f"/1.0/{collection}/{name}{Project.url_query(project_name)}"
            for _, pool, volume in custom_volume_disks(devices):
                if url not in users[(pool, holder, volume)]:
                    users[(pool, holder, volume)].append(url)
    # The server itself uses the volumes its storage.*_volume keys name (LXD lists it as /1.0).
    server = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
    for key in DAEMON_VOLUME_KEYS:
        pool, _, volume = server.get(key, "").partition("/")
        if volume:
            users[(pool, Project.DEFAULT_ID, volume)].append("/1.0")
    return {key: sorted(urls) for key, urls in users.items()}


def rename_volume_users(pool, project_id, old_name, new_pool, new_name):
    """Point the disks that attach a renamed (or moved) volume at its new name, as LXD updates
    the devices of its users."""
    projects = volumes_projects()
    for model in (Instance, Profile):
        for row in model.objects.only("id", "project_id", "devices"):
            if projects[row.project_id][1] != project_id:
                continue
            changed = False
            for device_name, device_pool, volume in custom_volume_disks(row.devices):
                if (device_pool, volume) == (pool, old_name):
                    row.devices[device_name] = {**row.devices[device_name], "pool": new_pool, "source": new_name}
                    changed = True
            if changed:
                model.objects.filter(pk=row.pk).update(devices=row.devices)


def volume_disk_error(instance_type, project_name, before, after):
    """LXD's refusal of a disk device that attaches a custom volume (its disk device's
    validateConfig with the instance), for the devices ``after`` adds or changes, as
    ``(message, missing)`` (``missing``: LXD's 404, a pool or volume not found); or None.
    ``before`` and ``after`` are expanded device maps; the volume is looked up in the project
    that holds ``project_name``'s volumes."""
    from .models import StoragePool, StorageVolume

    holder = Project.holding(project_name, FEATURE)
    for name, pool_name, volume_name in custom_volume_disks(after):
        if after[name] == before.get(name):
            continue
        prefix = f"Failed {'update' if name in before else 'add'} validation for device {go_quote(name)}: "
        pool = StoragePool.objects.filter(name=pool_name).first()
        if pool is None:
            return prefix + f"Failed to get storage pool {go_quote(pool_name)}: Storage pool not found", True
        volume = StorageVolume.objects.filter(
            pool=pool, project_id=holder.pk, type=StorageVolume.CUSTOM, name=volume_name
        ).first()
        if volume is None:
            return prefix + "Failed loading custom volume: Storage volume not found", True
        if volume.content_type == StorageVolume.BLOCK and instance_type == "container":
            return prefix + "Custom block volumes cannot be used on containers", False
        if volume.content_type == StorageVolume.FILESYSTEM and not after[name].get("path"):
            return prefix + "Custom filesystem volumes require a path to be defined", False
    return None


DAEMON_VOLUME_KEYS = ("storage.backups_volume", "storage.images_volume")


def daemon_volume_error(target):
    """LXD's daemonStorageValidate of ``storage.backups_volume``/``storage.images_volume``
    (``POOL/VOLUME``, a custom volume of the default project without snapshots), as
    ``(message, missing)`` (``missing``: LXD's 404, a pool or volume not found); or None."""
    from .models import StoragePool, StorageVolume

    if not target:
        return None
    fields = target.split("/")
    if len(fields) != 2:
        return "Invalid syntax for volume, must be <pool>/<volume>", False
    pool = StoragePool.objects.filter(name=fields[0]).first()
    if pool is None:
        return f"Unable to load storage pool {go_quote(fields[0])}: Storage pool not found", True
    if pool.driver in ("ceph", "cephfs"):
        return "Server storage volumes cannot be stored on Ceph", False
    volume = StorageVolume.objects.filter(
        pool=pool, project_id=Project.DEFAULT_ID, type=StorageVolume.CUSTOM, name=fields[1], instance__isnull=True
    ).first()
    if volume is None:
        return f'Failed loading storage volume {go_quote(target)} in "default" project: Storage volume not found', True
    if volume.content_type != StorageVolume.FILESYSTEM:
        return f'Storage volume {go_quote(target)} in "default" project is not filesystem content type', False
    if volume.snapshots.exists():
        return "Storage volumes for use by LXD itself cannot have snapshots", False
    return None
