"""What uses a storage pool (LXD's storagePools.UsedBy), read in a fixed number of queries, and
LXD's rules for the root disks that name pools.

An instance uses the pool its root disk names (its own ``root``-like disk, else its profiles'),
as LXD keeps the instance's volume there; its snapshots' volumes are there too. A profile uses
every pool one of its disk devices names.
"""

from collections import defaultdict

from .go import go_quote
from .instances import expand_devices
from .models import (
    Instance,
    InstanceProfile,
    Profile,
    Project,
    Snapshot,
    StoragePool,
    StorageVolume,
    StorageVolumeSnapshot,
)


def root_disk(devices):
    """(name, device) of the root disk among ``devices`` (LXD's GetRootDiskDevice), or None."""
    for name, device in sorted(devices.items()):
        if device.get("type") == "disk" and device.get("path") == "/" and not device.get("source"):
            return name, device
    return None


def instance_pool(profiles, devices):
    """The pool name an instance's expanded root disk names, or ""."""
    found = root_disk(expand_devices(profiles, devices))
    return found[1].get("pool", "") if found else ""


def pool_users():
    """{pool name: sorted URLs of what uses it}."""
    users = defaultdict(list)
    projects = dict(Project.objects.values_list("id", "name"))
    profiles = {profile.id: profile for profile in Profile.objects.all()}
    for profile in profiles.values():
        for device in profile.devices.values():
            if device.get("type") == "disk" and device.get("pool"):
                query = Project.url_query(projects[profile.project_id])
                users[device["pool"]].append(f"/1.0/profiles/{profile.name}{query}")
    links = defaultdict(list)
    for instance_id, profile_id in InstanceProfile.objects.order_by("id").values_list("instance_id", "profile_id"):
        links[instance_id].append(profiles[profile_id])
    instance_urls = {}
    for instance in Instance.objects.only("id", "name", "project_id", "devices"):
        pool = instance_pool(links[instance.id], instance.devices)
        if pool:
            url = f"/1.0/instances/{instance.name}"
            instance_urls[instance.id] = (pool, url, Project.url_query(projects[instance.project_id]))
            users[pool].append(url + instance_urls[instance.id][2])
    for instance_id, name in Snapshot.objects.values_list("instance_id", "name"):
        if instance_id in instance_urls:
            pool, url, query = instance_urls[instance_id]
            users[pool].append(f"{url}/snapshots/{name}{query}")
    users_of_volumes(users, projects)
    return {pool: sorted(urls) for pool, urls in users.items()}


def users_of_volumes(users, projects):
    """Add each custom volume and its snapshots to ``users`` of its pool, as LXD lists them (the
    names escaped twice, as in LXD's volume lists)."""
    from .api.base import escaped

    def url(pool, project_id, name, snapshot=None):
        path = f"/1.0/storage-pools/{pool}/volumes/custom/{escaped(escaped(name))}"
        path += f"/snapshots/{escaped(escaped(snapshot))}" if snapshot else ""
        return path + Project.url_query(projects[project_id])

    images = StorageVolume.objects.filter(type=StorageVolume.IMAGE)
    for pool, name in images.values_list("pool__name", "name"):
        users[pool].append(f"/1.0/images/{name}")
    custom = StorageVolume.objects.filter(type=StorageVolume.CUSTOM)
    for pool, project_id, name in custom.values_list("pool__name", "project_id", "name"):
        users[pool].append(url(pool, project_id, name))
    snapshots = StorageVolumeSnapshot.objects.filter(volume__type=StorageVolume.CUSTOM)
    for pool, project_id, name, snapshot in snapshots.values_list(
        "volume__pool__name", "volume__project_id", "volume__name", "name"
    ):
        users[pool].append(url(pool, project_id, name, snapshot))


# The rules LXD applies to root disks when instances are made and changed.

_CREATE_PREFIX = "Failed creating instance record: Failed initialising instance: "


def new_instance_root_error(profiles, devices):
    """LXD's refusal of a new instance whose root disk resolves to no pool, or None."""
    found = root_disk(expand_devices(profiles, devices))
    if found is None:
        return _CREATE_PREFIX + "Failed getting root disk: No root device could be found"
    pool = found[1].get("pool", "")
    if pool and not StoragePool.objects.filter(name=pool).exists():
        return _CREATE_PREFIX + "Failed loading storage pool: Storage pool not found"
    return None


def root_pool_change_error(old_profiles, old_devices, new_profiles, new_devices):
    """LXD's refusal of an instance update that moves its root disk to another pool, or None."""
    old = root_disk(expand_devices(old_profiles, old_devices))
    new = root_disk(expand_devices(new_profiles, new_devices))
    if old is not None and new is not None and old[1].get("pool", "") != new[1].get("pool", ""):
        return f"Cannot update root disk device pool name to {go_quote(new[1].get('pool', ''))}"
    return None


def profile_root_change_error(profile, new_devices):
    """LXD's doProfileUpdate: a profile whose root disk pool changes (or goes) while an instance
    takes its root disk from this profile is refused; None when the change may go ahead."""
    old = root_disk(profile.devices)
    new = root_disk(new_devices)
    old_key, old_pool = (old[0], old[1].get("pool", "")) if old else ("", "")
    if old_pool == (new[1].get("pool", "") if new else ""):
        return None
    for link in InstanceProfile.objects.filter(profile=profile).select_related("instance"):
        local = root_disk(link.instance.devices)
        if local is not None and local[1].get("pool"):
            continue
        # The last of its profiles holding a device of that name gives it its root disk.
        for taken in reversed(link.instance.profile_list()):
            if old_key in taken.devices:
                if taken.pk == profile.pk:
                    return "At least one instance relies on this profile's root disk device"
                break
    return None
