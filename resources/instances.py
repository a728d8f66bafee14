"""Instances as LXD derives them: expanded config and devices, volatile keys, names, filters.

lxdsite runs no containers: an instance is its configuration and a recorded status. What LXD
computes from the configuration (``expanded_*``, the keys it sets at creation) is computed
here the same way, so clients see what they would see on LXD.
"""

import json
import re
import uuid

from rest_framework import exceptions

# LXD's architecture ids (shared/osarch): the instance ETag hashes the number, not the name.
ARCHITECTURE_IDS = {
    "i686": 1,
    "x86_64": 2,
    "armv7l": 3,
    "aarch64": 4,
    "ppc": 5,
    "ppc64": 6,
    "ppc64le": 7,
    "s390x": 8,
    "mips": 9,
    "mips64": 10,
    "riscv32": 11,
    "riscv64": 12,
}

# The id map LXD gives an unprivileged container on a host with the default subuid range.
_IDMAP = [
    {"Isuid": True, "Isgid": False, "Hostid": 100000, "Nsid": 0, "Maprange": 10000001},
    {"Isuid": False, "Isgid": True, "Hostid": 100000, "Nsid": 0, "Maprange": 10000001},
]


def is_volatile(key):
    """``volatile.*`` keys belong to the server: clients cannot set or remove them."""
    return key.startswith("volatile.")


def without_volatile(config):
    """The config a client controls."""
    return {key: value for key, value in config.items() if not is_volatile(key)}


def initial_volatile(image=None):
    """The ``volatile.*`` keys LXD sets when it creates a container."""
    keys = {
        "volatile.apply_template": "create",
        "volatile.cloud-init.instance-id": str(uuid.uuid4()),
        "volatile.idmap.base": "0",
        "volatile.idmap.next": json.dumps(_IDMAP, separators=(",", ":")),
        "volatile.last_state.idmap": "[]",
        "volatile.uuid": str(uuid.uuid4()),
    }
    if image is not None:
        keys["volatile.base_image"] = image.fingerprint
    return keys


def expand_config(profiles, config):
    """Profiles' config in order, then the instance's own keys (LXD's expanded_config)."""
    expanded = {}
    for profile in profiles:
        expanded.update(profile.config)
    expanded.update(config)
    return dict(sorted(expanded.items()))


def expand_devices(profiles, devices):
    """Profiles' devices in order, each replaced whole by a later one of the same name."""
    expanded = {}
    for profile in profiles:
        expanded.update(profile.devices)
    expanded.update(devices)
    return {name: dict(sorted(options.items())) for name, options in sorted(expanded.items())}


def hostname_error(name):
    """LXD's hostname rules for instance and snapshot-less names (shared/validate IsHostname)."""
    if not 1 <= len(name) <= 63:
        return "Name must be 1-63 characters long"
    if name.startswith("-"):
        return 'Name must not start with "-" character'
    if name[0].isdigit():
        return "Name must not start with a number"
    if name.endswith("-"):
        return 'Name must not end with "-" character'
    if not re.fullmatch(r"[-a-zA-Z0-9]+", name):
        return "Name can only contain alphanumeric and hyphen characters"
    return None


def generated_name():
    """A name for an instance created without one (LXD picks a random petname)."""
    return f"instance-{uuid.uuid4().hex[:8]}"


# LXD's filter language, as much of it as clients use: `field eq value [and ...]`.
_FILTER_FIELDS = {"name": "name", "status": "status", "type": "type", "architecture": "architecture"}


def apply_filter(queryset, expression):
    """Narrow instances by LXD's ``filter=`` (``name eq c1 and status eq Stopped``)."""
    expression = expression.strip()
    if not expression:
        return queryset
    for clause in re.split(r"\s+and\s+", expression):
        parts = clause.split(None, 2)
        if len(parts) != 3 or parts[1] not in ("eq", "ne") or parts[0] not in _FILTER_FIELDS:
            raise exceptions.ParseError(f"Invalid filter: {clause!r}")
        field, operator, value = parts
        lookup = {
            f"{_FILTER_FIELDS[field]}__iexact" if field == "status" else _FILTER_FIELDS[field]: value.strip("\"'")
        }
        queryset = queryset.filter(**lookup) if operator == "eq" else queryset.exclude(**lookup)
    return queryset
