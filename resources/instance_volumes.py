"""The volumes LXD keeps for instances (types ``container`` and ``virtual-machine``): one on the
pool each instance's root disk names, listed with the instance's snapshots, gone with it.

They are derived from the instances (a fixed number of queries for any number); a row is kept
only once a PUT changes one (its config or description), and goes with its instance.
"""

from collections import defaultdict

from .config_keys import storage_volume as volume_keys
from .models import Image, Instance, InstanceProfile, Profile, Project, Snapshot, StoragePool, StorageVolume
from .storage_usage import instance_pool

INSTANCE_TYPES = (StorageVolume.CONTAINER, StorageVolume.VIRTUAL_MACHINE)
# Pool ``volume.*`` keys LXD does not give an instance's volume (size is the root disk's; ids
# are shifted by the instance's own config).
_NOT_INHERITED = ("size", "security.shifted", "security.unmapped")


def instance_volume_defaults(pool):
    """The config LXD gives a new instance volume on ``pool`` from its ``volume.*`` keys."""
    rules = volume_keys.volume_rules(pool.driver, StorageVolume.FILESYSTEM)
    return {
        key.removeprefix("volume."): value
        for key, value in pool.config.items()
        if key.startswith("volume.")
        and key.removeprefix("volume.") in rules
        and key.removeprefix("volume.") not in _NOT_INHERITED
    }


def instance_volumes(pool, project_name, volume_type=None, name=None):
    """[(volume, [snapshot names])] of the instances with their root disk on ``pool``, of
    project ``project_name`` (``Project.ALL``: every project), of one type or name if given."""
    instances = Instance.objects.select_related("project").only(
        "id", "name", "type", "devices", "project__id", "project__name"
    )
    if project_name is not Project.ALL:
        instances = instances.filter(project__name=project_name)
    instances = instances.filter(type__in=[volume_type] if volume_type else INSTANCE_TYPES)
    if name is not None:
        instances = instances.filter(name=name)
    instances = list(instances)
    if not instances:
        return []
    ids = [instance.pk for instance in instances]
    profiles = {}
    links = defaultdict(list)
    link_rows = InstanceProfile.objects.filter(instance_id__in=ids).order_by("id")
    for instance_id, profile_id in link_rows.values_list("instance_id", "profile_id"):
        links[instance_id].append(profile_id)
    wanted = {pk for pks in links.values() for pk in pks}
    profiles = {profile.pk: profile for profile in Profile.objects.filter(pk__in=wanted).only("id", "devices")}
    kept = {row.instance_id: row for row in StorageVolume.objects.filter(pool=pool, instance_id__in=ids)}
    snapshots = defaultdict(list)
    for instance_id, snapshot in (
        Snapshot.objects.filter(instance_id__in=ids).order_by("id").values_list("instance_id", "name")
    ):
        snapshots[instance_id].append(snapshot)
    found = []
    defaults = instance_volume_defaults(pool)
    for instance in instances:
        if instance_pool([profiles[pk] for pk in links[instance.pk]], instance.devices) != pool.name:
            continue
        volume = kept.get(instance.pk) or StorageVolume(
            pool=pool, instance=instance, type=instance.type, config=dict(defaults)
        )
        # The instance's name and project, whatever they were when the row was kept.
        volume.name, volume.project, volume.type = instance.name, instance.project, instance.type
        found.append((volume, snapshots[instance.pk]))
    return found


# Drivers that keep an image's unpacked copy as a volume of the pool for its instances to clone
# (LXD's optimized images); ``dir`` and ``cephfs`` unpack the image for each instance.
OPTIMIZED_IMAGE_DRIVERS = ("btrfs", "ceph", "lvm", "zfs")


def keep_image_volume(instance, fingerprint):
    """The ``image`` volume LXD makes on an optimized pool when an instance is made from an image
    there (of the default project, named by the fingerprint), kept until the image goes."""
    pool_name = instance_pool(instance.profile_list(), instance.devices)
    pool = StoragePool.objects.filter(name=pool_name, driver__in=OPTIMIZED_IMAGE_DRIVERS).first()
    if pool is None or not fingerprint:
        return
    content_type = StorageVolume.BLOCK if instance.type == StorageVolume.VIRTUAL_MACHINE else StorageVolume.FILESYSTEM
    StorageVolume.objects.get_or_create(
        pool=pool,
        project_id=Project.DEFAULT_ID,
        type=StorageVolume.IMAGE,
        name=fingerprint,
        instance=None,
        defaults={"content_type": content_type, "config": instance_volume_defaults(pool)},
    )


def forget_image_volumes(sender, instance, **kwargs):
    """``post_delete`` of an image: its volumes go once no project holds the image any more."""
    if not Image.objects.filter(fingerprint=instance.fingerprint).exists():
        StorageVolume.objects.filter(type=StorageVolume.IMAGE, name=instance.fingerprint).delete()
