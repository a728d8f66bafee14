"""Network ACL names, config and rules (lxd/network/acl at tag lxd-5.0.2)."""

import ipaddress

from ..go import go_quote
from .errors import ConfigError
from .go_parse import _is_ipv4, _parse_cidr, _parse_ip
from .validators import is_uint8

ACTIONS = ("allow", "drop", "reject")
STATES = ("enabled", "disabled", "logged")
PROTOCOLS = ("icmp4", "icmp6", "tcp", "udp")
# The subjects every rule may name besides addresses and the project's ACLs.
RESERVED_SUBJECTS = ("@internal", "#internal", "@external", "#external")
# api.NetworkACLRule's fields in declaration order; all but action and state are omitempty.
RULE_FIELDS = (
    "action",
    "source",
    "destination",
    "protocol",
    "source_port",
    "destination_port",
    "icmp_type",
    "icmp_code",
    "description",
    "state",
)
_ALWAYS_SHOWN = ("action", "state")


def validate_acl_name(name: str) -> None:
    """LXD's acl.ValidName (validate.IsHostname after the reserved first characters)."""
    if name == "":
        raise ConfigError("Name is required")
    if name[0] in "@%#":
        raise ConfigError(f"Name cannot start with reserved character '{name[0]}'")
    if not 1 <= len(name.encode()) <= 63:
        raise ConfigError("Name must be 1-63 characters long")
    if name.startswith("-"):
        raise ConfigError('Name must not start with "-" character')
    if name.endswith("-"):
        raise ConfigError('Name must not end with "-" character')
    if name[0].isdigit() and name[0].isascii():
        raise ConfigError("Name must not start with a number")
    if not all(char.isascii() and (char.isalnum() or char == "-") for char in name):
        raise ConfigError("Name can only contain alphanumeric and hyphen characters")


def normalised_rule(rule: dict[str, str]) -> dict[str, str]:
    """api.NetworkACLRule.Normalise: trimmed fields, and trimmed items of the comma lists."""
    shown = {}
    for field in RULE_FIELDS:
        value = rule.get(field, "")
        if field in ("source", "destination", "source_port", "destination_port"):
            value = ",".join(item.strip() for item in value.split(","))
        else:
            value = value.strip()
        if value or field in _ALWAYS_SHOWN:
            shown[field] = value
    return shown


def _subject_family(subject: str) -> int | None:
    """The IP family of an address, CIDR or range subject, or None for anything else."""
    ip = _parse_ip(subject)
    if ip is not None:
        return 4 if _is_ipv4(ip) else 6
    try:
        ip, _ = _parse_cidr(subject)
        return 4 if _is_ipv4(ip) else 6
    except ConfigError:
        pass
    ips = subject.split("-", 1)
    if len(ips) == 2:
        start, end = _parse_ip(ips[0]), _parse_ip(ips[1])
        if start is not None and end is not None and _is_ipv4(start) == _is_ipv4(end):
            as_v6 = [
                ipaddress.IPv6Address(ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed)
                for ip in (start, end)
            ]
            if as_v6[0] <= as_v6[1]:
                return 4 if _is_ipv4(start) else 6
    return None


def _subjects(field: str, direction: str, value: str, names: set[str]) -> tuple[bool, bool, bool]:
    """LXD's validateRuleSubjects: (has a name, has IPv4, has IPv6)."""
    named_allowed = (field, direction) in (("Source", "ingress"), ("Destination", "egress"))
    has = {0: False, 4: False, 6: False}
    for subject in (item.strip() for item in value.split(",")):
        family = _subject_family(subject)
        if family is None:
            if subject in names or subject.startswith("@"):
                if not named_allowed:
                    raise ConfigError(f'Named subjects not allowed in "{field}" for "{direction}" rules')
                family = 0
            else:
                raise ConfigError(f"Invalid subject {go_quote(subject)}")
        has[family] = True
    return has[0], has[4], has[6]


def _ports(value: str) -> None:
    """LXD's validatePorts (validate.IsNetworkPortRange for each)."""
    for port in (item.strip() for item in value.split(",")):
        bounds = port.split("-", 1)
        if not bounds[0].isdigit() or not bounds[0].isascii() or int(bounds[0]) > 0xFFFFFFFF:
            raise ConfigError(f"Invalid port number {go_quote(port)}")
        if len(bounds) == 2:
            if not bounds[1].isdigit() or not bounds[1].isascii() or int(bounds[1]) > 0xFFFFFFFF:
                raise ConfigError(f"Invalid end port number {go_quote(port)}")
            if int(bounds[0]) >= int(bounds[1]):
                raise ConfigError(f"Start port {int(bounds[0])} must be lower than end port {int(bounds[1])}")


def _check_rule(direction: str, rule: dict[str, str], names: set[str]) -> None:
    """LXD's validateRule."""
    if rule["action"] not in ACTIONS:
        raise ConfigError(f"Action must be one of: {', '.join(ACTIONS)}")
    if rule["state"] not in STATES:
        raise ConfigError(f"State must be one of: {', '.join(STATES)}")
    src = dst = (False, False, False)
    try:
        if rule.get("source"):
            src = _subjects("Source", direction, rule["source"], names)
    except ConfigError as exc:
        raise ConfigError(f"Invalid Source: {exc}") from None
    try:
        if rule.get("destination"):
            dst = _subjects("Destination", direction, rule["destination"], names)
    except ConfigError as exc:
        raise ConfigError(f"Invalid Destination: {exc}") from None
    (src_name, src4, src6), (dst_name, dst4, dst6) = src, dst
    if (
        rule.get("source")
        and rule.get("destination")
        and (
            (src4 and not dst4 and not dst_name)
            or (dst4 and not src4 and not src_name)
            or (src6 and not dst6 and not dst_name)
            or (dst6 and not src6 and not src_name)
        )
    ):
        raise ConfigError("Conflicting IP family types used for Source and Destination")
    protocol = rule.get("protocol", "")
    if protocol and protocol not in PROTOCOLS:
        raise ConfigError(f"Protocol must be one of: {', '.join(PROTOCOLS)}")
    if protocol in ("tcp", "udp"):
        if rule.get("icmp_type"):
            raise ConfigError("ICMP type cannot be used with non-ICMP protocol")
        if rule.get("icmp_code"):
            raise ConfigError("ICMP code cannot be used with non-ICMP protocol")
        for key, word in (("source_port", "Source"), ("destination_port", "Destination")):
            if rule.get(key):
                try:
                    _ports(rule[key])
                except ConfigError as exc:
                    raise ConfigError(f"Invalid {word} port: {exc}") from None
    elif protocol in ("icmp4", "icmp6"):
        for key, word in (("source_port", "Source"), ("destination_port", "Destination")):
            if rule.get(key):
                raise ConfigError(f"{word} port cannot be used with {go_quote(protocol)} protocol")
        other, families = (6, (src6, dst6)) if protocol == "icmp4" else (4, (src4, dst4))
        for has, word in zip(families, ("source", "destination"), strict=True):
            if has:
                raise ConfigError(f"Cannot use IPv{other} {word} addresses with {go_quote(protocol)} protocol")
        for key, word in (("icmp_type", "type"), ("icmp_code", "code")):
            if rule.get(key):
                try:
                    is_uint8(rule[key])
                except ConfigError as exc:
                    raise ConfigError(f"Invalid ICMP {word}: {exc}") from None
    else:
        for key, words in (
            ("icmp_type", "ICMP type"),
            ("icmp_code", "ICMP code"),
            ("source_port", "Source port"),
            ("destination_port", "Destination port"),
        ):
            if rule.get(key):
                raise ConfigError(f"{words} cannot be used without specifying protocol")


def validate_acl(config: dict[str, str], ingress: list, egress: list, names: set[str]) -> tuple[list, list]:
    """LXD's validateConfig of an ACL: its config keys, then each rule (normalised) and duplicates.

    ``names`` are the ACLs of its project (rules may name them). Returns the normalised rules.
    """
    for key in sorted(config):
        if not key.startswith("user."):
            raise ConfigError(f"Invalid config option {go_quote(key)}")
    rules = {
        "ingress": [normalised_rule(rule) for rule in ingress],
        "egress": [normalised_rule(rule) for rule in egress],
    }
    for direction, listed in rules.items():
        for index, rule in enumerate(listed):
            try:
                _check_rule(direction, rule, names | set(RESERVED_SUBJECTS))
            except ConfigError as exc:
                raise ConfigError(f"Invalid {direction} rule {index}: {exc}") from None
            if any(other == rule for position, other in enumerate(listed) if position != index):
                raise ConfigError(f"Duplicate of {direction} rule {index}")
    return rules["ingress"], rules["egress"]


def acl_names_in(value: str) -> list[str]:
    """The ACL names a ``security.acls`` value lists."""
    return [item.strip() for item in value.split(",") if item.strip()]
