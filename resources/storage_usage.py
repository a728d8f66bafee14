"""What uses a storage pool (LXD's storagePools.UsedBy), read in a fixed number of queries.

An instance uses the pool its root disk names (its own ``root``-like disk, else its profiles'),
as LXD keeps the instance's volume there; its snapshots' volumes are there too. A profile uses
every pool one of its disk devices names.
"""

from collections import defaultdict

from .instances import expand_devices
from .models import Instance, InstanceProfile, Profile, Project, Snapshot


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
    return {pool: sorted(urls) for pool, urls in users.items()}
