"""LXD's architectures: the names it shows, the aliases it accepts, the ids it stores.

One table, LXD 5.0.2's ``shared/osarch/architectures.go`` as Debian builds it (Debian's
5.0.2-2 adds the ``mipsle`` and ``mips64le`` aliases, which the daemon we compare against
accepts). An image's ``metadata.yaml`` may name an architecture by an alias; LXD stores the id
and shows the name, and the instance ETag hashes the id.
"""

# Name → id, in osarch's order (the order LXD lists them in).
ARCHITECTURE_IDS = {
    "i686": 1,
    "x86_64": 2,
    "armv6l": 13,
    "armv7l": 3,
    "armv8l": 14,
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

ARCHITECTURE_ALIASES = {
    "i686": ("i386", "i586", "386", "x86", "generic_32"),
    "x86_64": ("amd64", "generic_64"),
    "armv6l": ("armel", "arm"),
    "armv7l": ("armhf", "armhfp", "armv7a_hardfp", "armv7", "armv7a_vfpv3_hardfp"),
    "armv8l": (),
    "aarch64": ("arm64", "arm64_generic"),
    "ppc": ("powerpc",),
    "ppc64": ("powerpc64", "ppc64"),
    "ppc64le": ("ppc64el",),
    "s390x": (),
    "mips": ("mipsel", "mipsle"),
    "mips64": ("mips64el", "mips64le"),
    "riscv32": (),
    "riscv64": (),
}

_NAMES = {spelling: name for name, aliases in ARCHITECTURE_ALIASES.items() for spelling in (name, *aliases)}


def architecture_name(spelling):
    """The name LXD shows for a name or alias (osarch.ArchitectureId, then ArchitectureName); None if unknown."""
    return _NAMES.get(spelling)
