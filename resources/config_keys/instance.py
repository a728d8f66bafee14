"""Instance and profile config keys (shared/instance.go)."""

from .errors import ConfigError
from .validators import (
    _BOOL,
    Validator,
    _is_true,
    is_any,
    is_cloud_init_user_data,
    is_cpu_allowance,
    is_cpu_set,
    is_cron,
    is_expiry,
    is_int64,
    is_memory_limit,
    is_priority,
    is_size,
    is_uint32,
    is_uuid,
    is_yaml,
    one_of,
    optional,
)

_SNAPSHOT_ALIASES = (
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@annually",
    "@yearly",
    "@startup",
    "@never",
)

# LXD: InstanceConfigKeysAny.
INSTANCE_KEYS_ANY: dict[str, Validator] = {
    "boot.autostart": _BOOL,
    "boot.autostart.delay": optional(is_int64),
    "boot.autostart.priority": optional(is_int64),
    "boot.stop.priority": optional(is_int64),
    "boot.host_shutdown_timeout": optional(is_int64),
    "cloud-init.network-config": optional(is_yaml),
    "cloud-init.user-data": optional(is_cloud_init_user_data),
    "cloud-init.vendor-data": optional(is_cloud_init_user_data),
    "cluster.evacuate": optional(one_of("auto", "migrate", "live-migrate", "stop")),
    "limits.cpu": optional(is_cpu_set),
    "limits.disk.priority": optional(is_priority),
    "limits.memory": optional(is_memory_limit),
    "limits.network.priority": optional(is_priority),
    "raw.apparmor": is_any,
    "raw.idmap": is_any,
    "security.devlxd": _BOOL,
    "security.protection.delete": _BOOL,
    "snapshots.schedule": optional(is_cron(*_SNAPSHOT_ALIASES)),
    "snapshots.schedule.stopped": _BOOL,
    "snapshots.pattern": is_any,
    "snapshots.expiry": is_expiry,
    "volatile.apply_template": is_any,
    "volatile.base_image": is_any,
    "volatile.cloud-init.instance-id": optional(is_uuid),
    "volatile.evacuate.origin": is_any,
    "volatile.last_state.idmap": is_any,
    "volatile.last_state.power": is_any,
    "volatile.idmap.base": is_any,
    "volatile.idmap.current": is_any,
    "volatile.idmap.next": is_any,
    "volatile.apply_quota": is_any,
    "volatile.uuid": optional(is_uuid),
    "volatile.vsock_id": optional(is_int64),
}

# LXD: InstanceConfigKeysContainer.
INSTANCE_KEYS_CONTAINER: dict[str, Validator] = {
    "limits.cpu.allowance": optional(is_cpu_allowance),
    "limits.cpu.priority": optional(is_priority),
    "limits.hugepages.64KB": optional(is_size),
    "limits.hugepages.1MB": optional(is_size),
    "limits.hugepages.2MB": optional(is_size),
    "limits.hugepages.1GB": optional(is_size),
    "limits.memory.enforce": optional(one_of("soft", "hard")),
    "limits.memory.swap": _BOOL,
    "limits.memory.swap.priority": optional(is_priority),
    "limits.processes": optional(is_int64),
    "linux.kernel_modules": is_any,
    "migration.incremental.memory": _BOOL,
    "migration.incremental.memory.iterations": optional(is_uint32),
    "migration.incremental.memory.goal": optional(is_uint32),
    "nvidia.runtime": _BOOL,
    "nvidia.driver.capabilities": is_any,
    "nvidia.require.cuda": is_any,
    "nvidia.require.driver": is_any,
    "raw.lxc": is_any,
    "raw.seccomp": is_any,
    "security.devlxd.images": _BOOL,
    "security.idmap.base": optional(is_uint32),
    "security.idmap.isolated": _BOOL,
    "security.idmap.size": optional(is_uint32),
    "security.nesting": _BOOL,
    "security.privileged": _BOOL,
    "security.protection.shift": _BOOL,
    "security.syscalls.allow": is_any,
    "security.syscalls.blacklist_default": _BOOL,
    "security.syscalls.blacklist_compat": _BOOL,
    "security.syscalls.blacklist": is_any,
    "security.syscalls.deny_default": _BOOL,
    "security.syscalls.deny_compat": _BOOL,
    "security.syscalls.deny": is_any,
    "security.syscalls.intercept.bpf": _BOOL,
    "security.syscalls.intercept.bpf.devices": _BOOL,
    "security.syscalls.intercept.mknod": _BOOL,
    "security.syscalls.intercept.mount": _BOOL,
    "security.syscalls.intercept.mount.allowed": is_any,
    "security.syscalls.intercept.mount.fuse": is_any,
    "security.syscalls.intercept.mount.shift": _BOOL,
    "security.syscalls.intercept.sched_setscheduler": _BOOL,
    "security.syscalls.intercept.setxattr": _BOOL,
    "security.syscalls.whitelist": is_any,
}

# LXD: InstanceConfigKeysVM.
INSTANCE_KEYS_VM: dict[str, Validator] = {
    "limits.memory.hugepages": _BOOL,
    "migration.stateful": _BOOL,
    "raw.qemu": is_any,
    "raw.qemu.conf": is_any,
    "security.agent.metrics": _BOOL,
    "security.secureboot": _BOOL,
    "agent.nic_config": _BOOL,
    "volatile.apply_nvram": _BOOL,
}

# LXD: the per-device volatile keys ConfigKeyChecker accepts ("volatile.eth0.hwaddr").
_VOLATILE_SUFFIXES = (
    ".hwaddr", ".name", ".host_name", ".mtu", ".created", ".id", ".vlan", ".spoofcheck",
    ".last_state.vf.parent", ".apply_quota", ".ceph_rbd", ".driver", ".uuid",
)  # fmt: skip


def _key_validator(key: str, instance_type: str) -> Validator:
    """LXD's shared.ConfigKeyChecker: the validator for a key, or "Unknown configuration key"."""
    tables = [INSTANCE_KEYS_ANY]
    tables += [INSTANCE_KEYS_CONTAINER] if instance_type in ("any", "container") else []
    tables += [INSTANCE_KEYS_VM] if instance_type in ("any", "virtual-machine") else []
    for table in tables:
        if key in table:
            return table[key]
    free_prefixes = ["environment.", "user.", "image."] + (
        ["linux.sysctl."] if instance_type != "virtual-machine" else []
    )
    if (
        (key.startswith("volatile.") and key.endswith(_VOLATILE_SUFFIXES))
        or key.startswith(tuple(free_prefixes))
        or (key.startswith("limits.kernel.") and len(key) > len("limits.kernel."))
    ):
        return is_any
    raise ConfigError(f"Unknown configuration key: {key}")


def _check_raw_lxc(value: str) -> None:
    """LXD's lxcValidConfig: key=value lines, some keys refused."""
    for line in value.split("\n"):
        if line == "" or line.lstrip("\t ").startswith("#"):
            continue
        line = line.lstrip("\t ")
        if "=" not in line:
            raise ConfigError(f"Invalid raw.lxc line: {line}")
        key = line.split("=", 1)[0].strip(" \t").lower()
        if key in ("lxc.logfile", "lxc.log.file"):
            raise ConfigError("Setting lxc.logfile is not allowed")
        if key in ("lxc.syslog", "lxc.log.syslog"):
            raise ConfigError("Setting lxc.log.syslog is not allowed")
        if key == "lxc.ephemeral":
            raise ConfigError("Setting lxc.ephemeral is not allowed")
        if key.startswith("lxc.prlimit."):
            raise ConfigError(
                'Process limits should be set via "limits.kernel.[limit name]" and not '
                'directly via "lxc.prlimit.[limit name]"'
            )
        fields = key.split(".")
        if key.startswith("lxc.net.") and not (
            len(fields) == 5 and fields[3] in ("ipv4", "ipv6") and fields[4] in ("address", "gateway")
        ):
            raise ConfigError("Only interface-specific ipv4/ipv6 lxc.net. keys are allowed")


def _exclusive(config: dict[str, str], key1: str, key2: str) -> str | None:
    """LXD's exclusiveConfigKeys: the value of whichever key is set (None if neither)."""
    if config.get(key1, "") and config.get(key2, ""):
        raise ConfigError(f"Mutually exclusive keys {key1} and {key2} are set")
    return config.get(key1, config.get(key2))


def _check_syscalls(config: dict[str, str]) -> None:
    """LXD's ValidConfig checks across security.syscalls.* and nvidia.runtime."""
    allow = _exclusive(config, "security.syscalls.allow", "security.syscalls.whitelist") is not None
    deny = _exclusive(config, "security.syscalls.deny", "security.syscalls.blacklist") is not None
    deny_default = _is_true(
        _exclusive(config, "security.syscalls.deny_default", "security.syscalls.blacklist_default") or ""
    )
    deny_compat = _is_true(
        _exclusive(config, "security.syscalls.deny_compat", "security.syscalls.blacklist_compat") or ""
    )
    if "raw.seccomp" in config and (allow or deny or deny_default or deny_compat):
        raise ConfigError("raw.seccomp is mutually exclusive with security.syscalls*")
    if allow and (deny or deny_default or deny_compat):
        raise ConfigError("security.syscalls.allow is mutually exclusive with security.syscalls.deny*")
    if _is_true(config.get("security.syscalls.intercept.mount", "")):
        fused = {}
        for entry in filter(None, [config.get("security.syscalls.intercept.mount.fuse", "")]):
            for item in entry.split(","):
                if item.count("=") != 1:
                    raise ConfigError(
                        f"security.syscalls.intercept.mount.fuse is not of the form 'filesystem=fuse-binary': {item}"
                    )
                fused.update([item.split("=")])
        for allowed in filter(None, [config.get("security.syscalls.intercept.mount.allowed", "")]):
            for fs in allowed.split(","):
                if fused.get(fs):
                    raise ConfigError(
                        f"Filesystem {fs} cannot appear in security.syscalls.intercept.mount.allowed"
                        " and security.syscalls.intercept.mount.fuse"
                    )
                fused[fs] = ""
    if _is_true(config.get("security.privileged", "")) and _is_true(config.get("nvidia.runtime", "")):
        raise ConfigError("nvidia.runtime is incompatible with privileged containers")


def _validate_config(config: dict[str, str], instance_type: str) -> None:
    """LXD's instance.ValidConfig (not expanded) for the given instance type."""
    for key in sorted(config):
        if instance_type == "any" and key.startswith("volatile."):
            raise ConfigError("Volatile keys can only be set on instances")
        if instance_type == "any" and key.startswith("image."):
            raise ConfigError("Image keys can only be set on instances")
        _key_validator(key, instance_type)(config[key])
        if key == "raw.lxc":
            _check_raw_lxc(config[key])
    _check_syscalls(config)


def validate_profile_config(config: dict[str, str]) -> None:
    """Raise ConfigError with LXD's text if a profile may not hold this config."""
    _validate_config(config, "any")


def validate_instance_config(config: dict[str, str], *, instance_type: str = "container") -> None:
    """Raise ConfigError with LXD's text if an instance's local config is invalid."""
    _validate_config(config, instance_type)
