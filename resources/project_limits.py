"""What a project's ``limits.*`` and ``restricted.*`` keys let its instances and profiles be
(LXD 5.0.2's lxd/project/permissions.go), with LXD's texts.

Each check runs in the transaction of the write it judges, after locking the project's row, so
two writes in one project are judged one after the other and together can never pass a limit
that each alone would have met. LXD answers every refusal here with a 500; lxdsite with 400.
Where LXD walks a Go map (its order differs between runs), the keys are taken in sorted order.
"""

from dataclasses import dataclass, field

from .config_keys import ConfigError
from .config_keys.validators import _is_true, parse_byte_size
from .go import go_quote
from .models import Instance, Profile, Project

AGGREGATE_KEYS = ("limits.cpu", "limits.disk", "limits.memory", "limits.processes")
COUNT_KEYS = {"limits.containers": "container", "limits.virtual-machines": "virtual-machine"}

# The value each restriction takes when a restricted project does not set it.
RESTRICTION_DEFAULTS = {
    "restricted.containers.nesting": "block",
    "restricted.containers.lowlevel": "block",
    "restricted.containers.privilege": "unprivileged",
    "restricted.containers.interception": "block",
    "restricted.virtual-machines.lowlevel": "block",
    "restricted.devices.unix-char": "block",
    "restricted.devices.unix-block": "block",
    "restricted.devices.unix-hotplug": "block",
    "restricted.devices.infiniband": "block",
    "restricted.devices.gpu": "block",
    "restricted.devices.usb": "block",
    "restricted.devices.pci": "block",
    "restricted.devices.proxy": "block",
    "restricted.devices.nic": "managed",
    "restricted.devices.disk": "managed",
    "restricted.snapshots": "block",
    "restricted.backups": "block",
}
# Device types a restriction forbids unless it is "allow", and how LXD names them.
_BLOCKED_DEVICES = {
    "unix-char": "Unix character devices",
    "unix-block": "Unix block devices",
    "unix-hotplug": "Unix hotplug devices",
    "infiniband": "Infiniband devices",
    "gpu": "GPU devices",
    "usb": "USB devices",
    "pci": "PCI devices",
    "proxy": "Proxy devices",
}
_CONTAINER_LOW_LEVEL = {
    "boot.host_shutdown_timeout",
    "linux.kernel_modules",
    "raw.apparmor",
    "raw.idmap",
    "raw.lxc",
    "raw.seccomp",
    "security.devlxd.images",
    "security.idmap.base",
    "security.idmap.size",
}
_VM_LOW_LEVEL = {"boot.host_shutdown_timeout", "limits.memory.hugepages", "raw.qemu"}


class LimitError(Exception):
    """A write a project's limits or restrictions refuse; the text is LXD's."""


@dataclass
class Member:
    """An instance as the checks see it: its own config and devices, and its profiles by name."""

    name: str
    type: str
    config: dict
    devices: dict
    profiles: list = field(default_factory=list)


@dataclass
class ProjectView:
    """A locked project, the profiles its instances expand with, and its instances."""

    project: Project
    profiles: dict  # name -> (config, devices)
    members: list

    @property
    def config(self):
        return self.project.config

    def expanded(self, member):
        config, devices = {}, {}
        for name in member.profiles:
            profile_config, profile_devices = self.profiles.get(name, ({}, {}))
            config.update(profile_config)
            devices.update(profile_devices)
        return {**config, **member.config}, {**devices, **member.devices}


def has_limits_or_restrictions(config):
    """LXD judges nothing in a project without limits and unrestricted."""
    return any(key.startswith("limits.") for key in config) or _is_true(config.get("restricted", ""))


def _view(project, *, always=False, lock=True):
    """The project (locked for this transaction unless a read asks), with its profiles and
    instances; None when it has no limits or restrictions and ``always`` is not asked."""
    project = (Project.objects.select_for_update() if lock else Project.objects).get(pk=project.pk)
    if not always and not has_limits_or_restrictions(project.config):
        return None
    holder = Project.holding(project.name, "features.profiles")
    profiles = {p.name: (p.config, p.devices) for p in Profile.objects.filter(project=holder)}
    instances = Instance.objects.filter(project=project).order_by("id").prefetch_related("profile_links__profile")
    members = [Member(i.name, i.type, i.config, i.devices, [p.name for p in i.profile_list()]) for i in instances]
    return ProjectView(project, profiles, members)


# Creates and updates ------------------------------------------------------------------------------


def check_instance_create(project, member):
    """LXD's AllowInstanceCreation: the counts, then the aggregate limits and restrictions with
    ``member`` (the instance to create) added."""
    view = _view(project)
    if view is None:
        return
    name = go_quote(view.project.name)
    key = {kind: key for key, kind in COUNT_KEYS.items()}.get(member.type)
    if view.config.get(key):
        count = sum(other.type == member.type for other in view.members)
        if count >= int(view.config[key]):
            raise LimitError(f"Reached maximum number of instances of type {go_quote(member.type)} in project {name}")
    if view.config.get("limits.instances") and len(view.members) >= int(view.config["limits.instances"]):
        raise LimitError(f"Reached maximum number of instances in project {name}")
    view.members.append(member)
    _check_aggregates_and_restrictions(view, "Failed checking if instance creation allowed: ")


def check_instance_update(project, member):
    """LXD's AllowInstanceUpdate: ``member`` replaces the stored instance of its name."""
    view = _view(project)
    if view is None:
        return
    view.members = [member if other.name == member.name else other for other in view.members]
    _check_aggregates_and_restrictions(view, "Failed checking if instance update allowed: ")


def check_profile_update(profile, config, devices):
    """LXD's AllowProfileUpdate: every instance of the profile's project as it would expand.

    A project without its own profiles uses the default project's; LXD judges such a profile
    in the default project only.
    """
    view = _view(profile.project)
    if view is None:
        return
    view.profiles[profile.name] = (config, devices)
    _check_aggregates_and_restrictions(view, "Failed checking if profile update allowed: ")


def check_snapshot_create(project):
    """``restricted.snapshots`` (LXD's AllowSnapshotCreation)."""
    config = Project.objects.select_for_update().get(pk=project.pk).config
    if _is_true(config.get("restricted", "")) and _restriction(config, "restricted.snapshots") == "block":
        raise LimitError(f"Project {go_quote(project.name)} doesn't allow for snapshot creation")


def check_backup_create(project):
    """``restricted.backups`` (LXD's AllowBackupCreation)."""
    config = Project.objects.select_for_update().get(pk=project.pk).config
    if _is_true(config.get("restricted", "")) and _restriction(config, "restricted.backups") == "block":
        raise LimitError(f"Project {go_quote(project.name)} doesn't allow for backup creation")


def check_project_update(project, config):
    """LXD's AllowProjectUpdate: a limit set below what the instances use, or a restriction
    they break, refuses the change of ``config``."""
    view = _view(project, always=True)
    name = go_quote(view.project.name)
    changed = sorted(key for key in {*view.config, *config} if view.config.get(key) != config.get(key))
    aggregates = []
    for key in changed:
        value = config.get(key, "")
        if key.startswith("restricted."):
            try:
                _check_restrictions(view, config)
            except LimitError as exc:
                raise LimitError(f"Conflict detected when changing {go_quote(key)} in project {name}: {exc}") from None
        elif key == "limits.instances" and value and int(value) < len(view.members):
            raise LimitError(
                f"Can't change limits.instances in project {name}: {go_quote(key)} is too low: "
                f"there currently are {len(view.members)} total instances in project {name}"
            )
        elif key in COUNT_KEYS and value:
            count = sum(member.type == COUNT_KEYS[key] for member in view.members)
            if int(value) < count:
                raise LimitError(
                    f"Can't change {go_quote(key)} in project {name}: {go_quote(key)} is too low: "
                    f"there currently are {count} instances of type {COUNT_KEYS[key]} in project {name}"
                )
        elif key in AGGREGATE_KEYS and value:
            aggregates.append(key)
    totals = _totals(view, aggregates, skip_unset=False)
    for key in aggregates:
        if _parse_limit(key, config[key]) < totals[key]:
            raise LimitError(f"{go_quote(key)} is too low: current total is {go_quote(_printed(key, totals[key]))}")


# Aggregate limits ---------------------------------------------------------------------------------


def _check_aggregates_and_restrictions(view, prefix):
    keys = sorted(key for key in AGGREGATE_KEYS if view.config.get(key))
    try:
        totals = _totals(view, keys, skip_unset=False)
    except LimitError as exc:
        raise LimitError(f"{prefix}Failed getting usage of project entities: {exc}") from None
    for key in keys:
        if totals[key] > _parse_limit(key, view.config[key]):
            raise LimitError(
                f"{prefix}Reached maximum aggregate value {go_quote(view.config[key])} "
                f"for {go_quote(key)} in project {go_quote(view.project.name)}"
            )
    if _is_true(view.config.get("restricted", "")):
        try:
            _check_restrictions(view, view.config)
        except LimitError as exc:
            raise LimitError(f"{prefix}{exc}") from None


def usage(project):
    """What the project's instances use of each aggregate limit (LXD's state: unset values skipped)."""
    view = _view(project, always=True, lock=False)
    return _totals(view, AGGREGATE_KEYS, skip_unset=True)


def _totals(view, keys, *, skip_unset):
    """Each key's sum over the instances' expanded values; LXD's texts for one that lacks a value."""
    totals = dict.fromkeys(keys, 0)
    project = go_quote(view.project.name)
    for member in view.members:
        config, devices = view.expanded(member)
        instance = go_quote(member.name)
        for key in keys:
            if key == "limits.disk":
                value = _root_disk(devices).get("size", "")
                missing = (
                    f'Instance {instance} in project {project} has no "size" config set on the root device '
                    "either directly or via a profile"
                )
            else:
                value = config.get(key, "")
                missing = (
                    f"Instance {instance} in project {project} has no {go_quote(key)} config, "
                    "either directly or via a profile"
                )
            if value == "":
                if skip_unset:
                    continue
                raise LimitError(missing)
            try:
                totals[key] += _parse_limit(key, value)
            except (ConfigError, ValueError):
                if skip_unset:
                    continue
                raise LimitError(
                    f"Failed parsing {go_quote(key)} for instance {instance} in project {project}"
                ) from None
    return totals


def _root_disk(devices):
    return next((d for d in devices.values() if d.get("type") == "disk" and d.get("path") == "/"), {})


def _parse_limit(key, value):
    """A limit's value as LXD adds them up: bytes for memory and disk, counts otherwise."""
    if key in ("limits.memory", "limits.disk"):
        if value.endswith("%"):
            raise ValueError("Value can't be a percentage")
        return parse_byte_size(value)
    if key == "limits.cpu" and ("," in value or "-" in value):
        raise ValueError("CPUs can't be pinned if project limits are used")
    return int(value, 10)


def _printed(key, total):
    """LXD's units.GetByteSizeStringIEC(total, 1) for sizes, the number otherwise."""
    if key not in ("limits.memory", "limits.disk"):
        return str(total)
    if total < 1024:
        return f"{total}B"
    value = float(total)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f}{unit}"
    return f"{value:.1f}EB"


# Restrictions -------------------------------------------------------------------------------------


def _restriction(config, key):
    return config.get(key) or RESTRICTION_DEFAULTS.get(key, "")


def _check_restrictions(view, config):
    """LXD's checkRestrictions: each instance's expanded config and devices, then each profile's."""
    project = go_quote(view.project.name)
    for member in view.members:
        expanded_config, expanded_devices = view.expanded(member)
        _check_entity(config, member.type, member.name, expanded_config, expanded_devices, project)
    for name, (profile_config, profile_devices) in sorted(view.profiles.items()):
        # LXD 5.0.2 names a profile's entity type with an empty string.
        _check_entity(config, "", name, profile_config, profile_devices, project)


def _check_entity(config, entity, name, entity_config, devices, project):
    where = f"on {entity} {go_quote(name)} of project {project}"
    container, vm = entity in ("container", ""), entity in ("virtual-machine", "")
    for key in sorted(entity_config):
        value = entity_config[key]
        if _is_low_level(config, key, container=container, vm=vm):
            # LXD 5.0.2 judges raw.idmap line by line against restricted.idmap.*, which no
            # line meets while they are unset: the first one is refused.
            what = 'low-level "raw.idmap" element 0' if key == "raw.idmap" else f"low-level config {go_quote(key)}"
            raise LimitError(f"Use of {what} {where} is forbidden")
        if not container:
            continue
        refusal = _container_config_refusal(config, key, value)
        if refusal:
            raise LimitError(f"Invalid value {go_quote(value)} for config {go_quote(key)} {where}: {refusal}")
    for device_name in sorted(devices):
        refusal = _device_refusal(config, devices[device_name])
        if refusal:
            raise LimitError(f"Invalid device {go_quote(device_name)} {where}: {refusal}")


def _is_low_level(config, key, *, container, vm):
    """A key only a project that allows low-level options may set (raw.*, security.idmap.*, ...)."""
    if container and key in _CONTAINER_LOW_LEVEL:
        return _restriction(config, "restricted.containers.lowlevel") != "allow"
    if vm and key in _VM_LOW_LEVEL:
        return _restriction(config, "restricted.virtual-machines.lowlevel") != "allow"
    return False


def _container_config_refusal(config, key, value):
    if key == "security.nesting" and _restriction(config, "restricted.containers.nesting") == "block":
        return "Container nesting is forbidden" if _is_true(value) else None
    if key == "security.privileged" and _restriction(config, "restricted.containers.privilege") != "allow":
        return "Privileged containers are forbidden" if _is_true(value) else None
    if key == "security.idmap.isolated" and _restriction(config, "restricted.containers.privilege") == "isolated":
        return None if _is_true(value) else "Non-isolated containers are forbidden"
    intercepting = key.startswith("security.syscalls.intercept") and _is_true(value)
    if intercepting and _restriction(config, "restricted.containers.interception") == "block":
        return "Container syscall interception is forbidden"
    return None


def _device_refusal(config, device):
    kind = device.get("type", "")
    if kind in _BLOCKED_DEVICES:
        return (
            None
            if _restriction(config, f"restricted.devices.{kind}") == "allow"
            else f"{_BLOCKED_DEVICES[kind]} are forbidden"
        )
    if kind == "nic":
        restriction = _restriction(config, "restricted.devices.nic")
        if restriction == "block":
            return "Network devices are forbidden"
        if restriction == "managed" and not device.get("network"):
            return "Only managed network devices are allowed"
    if kind == "disk":
        # The root disk and cloud-init's config drive are always allowed.
        if (device.get("path") == "/" and device.get("pool")) or (
            not device.get("path") and device.get("source") == "cloud-init:config"
        ):
            return None
        restriction = _restriction(config, "restricted.devices.disk")
        if restriction == "block":
            return "Disk devices are forbidden"
        if restriction == "managed" and not device.get("pool"):
            return "Attaching disks not backed by a pool is forbidden"
    return None
