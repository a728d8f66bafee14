"""LXD 5.0.2's validation of instance, profile and server config keys and of devices.

Written from reading LXD (shared/instance.go, shared/validate, lxd/instance/instance_utils.go,
lxd/device/*.go, lxd/config, lxd/cluster/config, lxd/node/config.go at tag lxd-5.0.2 plus
Debian's security backports) and checked against the real daemon: tests/data/lxd-config-cases.json.
Every error text is LXD's, including Go's own wording (strconv, net, yaml) where LXD passes it on.

Where LXD asks the host (DNS, $PATH, the file system) or its database (storage pools, networks),
these validators stay pure functions of their input: they accept what they cannot know.
LXD walks Go maps in random order, so with several bad keys it names a random one; we check
keys in sorted order.
"""

import ipaddress
import itertools
import re
from collections.abc import Callable
from typing import NamedTuple

import yaml

from .go import go_quote

Validator = Callable[[str], None]


class ConfigError(ValueError):
    """A config key, value or device LXD refuses; str(exc) is LXD's error text."""


# Go primitives whose messages LXD passes through -------------------------------------------------

_DIGITS = {str(d): d for d in range(10)}
# Go's unicode.IsSpace (strings.Fields, strings.TrimSpace).
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def _go_list(items: list[str] | tuple[str, ...]) -> str:
    """Go's %s of a []string."""
    return "[" + " ".join(items) + "]"


def _go_len(value: str) -> int:
    """Go's len() of a string: its UTF-8 byte count."""
    return len(value.encode("utf-8", "surrogatepass"))


def _parse_uint(value: str, *, base: int = 10, bits: int = 64, fn: str = "ParseUint", num: str | None = None) -> int:
    """Go's strconv.ParseUint; failures carry Go's NumError text."""
    num = value if num is None else num
    if value == "":
        raise ConfigError(f"strconv.{fn}: parsing {go_quote(num)}: invalid syntax")
    result = 0
    for ch in value:
        digit = _DIGITS.get(ch)
        if digit is None or digit >= base:
            raise ConfigError(f"strconv.{fn}: parsing {go_quote(num)}: invalid syntax")
        result = result * base + digit
        if result >= 1 << bits:
            raise ConfigError(f"strconv.{fn}: parsing {go_quote(num)}: value out of range")
    return result


def _parse_int(value: str, *, bits: int = 64, fn: str = "ParseInt") -> int:
    """Go's strconv.ParseInt base 10 (fn="Atoi" for strconv.Atoi)."""
    negative = value[:1] == "-"
    digits = value[1:] if value[:1] in ("+", "-") else value
    result = _parse_uint(digits, bits=bits, fn=fn, num=value)
    if result > (1 << (bits - 1)) - (0 if negative else 1):
        raise ConfigError(f"strconv.{fn}: parsing {go_quote(value)}: value out of range")
    return -result if negative else result


def _atoi(value: str) -> int:
    """Go's strconv.Atoi on a 64-bit host."""
    return _parse_int(value, fn="Atoi")


def _split_host_port(hostport: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its AddrError texts."""

    def fail(why: str) -> ConfigError:
        return ConfigError(f"address {hostport}: {why}")

    colon = hostport.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    start, end_of_host = 0, 0
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(hostport):
            raise fail("missing port in address")
        if end + 1 != colon:
            raise fail("too many colons in address" if hostport[end + 1] == ":" else "missing port in address")
        host, start, end_of_host = hostport[1:end], 1, end + 1
    else:
        host = hostport[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in hostport[start:]:
        raise fail("unexpected '[' in address")
    if "]" in hostport[end_of_host:]:
        raise fail("unexpected ']' in address")
    return host, hostport[colon + 1 :]


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's net.ParseIP (no zones, no leading zeros)."""
    if "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _is_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Go's ip.To4() != nil: IPv4-mapped IPv6 addresses count as IPv4."""
    return ip.version == 4 or ip.ipv4_mapped is not None


def _parse_cidr(value: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, bool]:
    """Go's net.ParseCIDR: the address and whether it is the network address itself."""
    addr, _, bits = value.partition("/")
    ip = _parse_ip(addr)
    width = 32 if ip is not None and ip.version == 4 else 128
    if ip is None or not re.fullmatch("[0-9]{1,3}", bits) or int(bits) > width:
        raise ConfigError(f"invalid CIDR address: {value}")
    network = ipaddress.ip_network(f"{ip}/{bits}", strict=False)
    return ip, network.network_address == ip


# Value validators (shared/validate/validate.go) -------------------------------------------------

_GO_BOOLS = ("true", "false", "yes", "no", "1", "0", "on", "off")
_TRUE = ("true", "1", "yes", "on")


def _is_true(value: str) -> bool:
    """LXD's shared.IsTrue."""
    return value.lower() in _TRUE


def is_any(value: str) -> None:
    """Accept everything (LXD: validate.IsAny)."""


def optional(*validators: Validator) -> Validator:
    """Run validators unless the value is empty (LXD: validate.Optional)."""

    def check(value: str) -> None:
        if value != "":
            for validator in validators:
                validator(value)

    return check


def required(*validators: Validator) -> Validator:
    """Run validators, empty values included (LXD: validate.Required)."""

    def check(value: str) -> None:
        for validator in validators:
            validator(value)

    return check


def is_not_empty(value: str) -> None:
    """LXD: validate.IsNotEmpty."""
    if value == "":
        raise ConfigError("Required value")


def is_bool(value: str) -> None:
    """LXD: validate.IsBool."""
    if value.lower() not in _GO_BOOLS:
        raise ConfigError(f"Invalid value for a boolean {go_quote(value)}")


def is_int64(value: str) -> None:
    """LXD: validate.IsInt64."""
    try:
        _parse_int(value)
    except ConfigError:
        raise ConfigError(f"Invalid value for an integer {go_quote(value)}") from None


def is_uint32(value: str) -> None:
    """LXD: validate.IsUint32."""
    try:
        _parse_uint(value, bits=32)
    except ConfigError as exc:
        raise ConfigError(f"Invalid value for uint32 {go_quote(value)}: {exc}") from None


def is_uint8(value: str) -> None:
    """LXD: validate.IsUint8."""
    try:
        _parse_uint(value, bits=8)
    except ConfigError:
        raise ConfigError(f"Invalid value for an integer {go_quote(value)}. Must be between 0 and 255") from None


def is_priority(value: str) -> None:
    """LXD: validate.IsPriority (0-10)."""
    try:
        number = _parse_int(value)
    except ConfigError:
        raise ConfigError(f"Invalid value for an integer {go_quote(value)}") from None
    if not 0 <= number <= 10:
        raise ConfigError(f"Invalid value for a limit {go_quote(value)}. Must be between 0 and 10")


def is_in_range(low: int, high: int) -> Validator:
    """LXD: validate.IsInRange."""

    def check(value: str) -> None:
        try:
            number = _parse_int(value)
        except ConfigError:
            raise ConfigError(f"Invalid value for an integer {go_quote(value)}") from None
        if not low <= number <= high:
            raise ConfigError(f"Value isn't within valid range. Must be between {low} and {high}")

    return check


def one_of(*valid: str) -> Validator:
    """LXD: validate.IsOneOf."""

    def check(value: str) -> None:
        if value not in valid:
            raise ConfigError(f"Invalid value {go_quote(value)} (not one of {_go_list(valid)})")

    return check


def list_of(validator: Validator) -> Validator:
    """LXD: validate.IsListOf, a comma separated list."""

    def check(value: str) -> None:
        for item in value.split(","):
            item = item.strip(_GO_SPACE)
            try:
                validator(item)
            except ConfigError as exc:
                raise ConfigError(f"Item {go_quote(item)}: {exc}") from None

    return check


_BYTE_UNITS = {"": 1, "B": 1, " bytes": 1}
_BYTE_UNITS.update({unit: 1000**power for power, unit in enumerate(["kB", "MB", "GB", "TB", "PB", "EB"], 1)})
_BYTE_UNITS.update({unit: 1024**power for power, unit in enumerate(["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], 1)})


def parse_byte_size(value: str) -> int:
    """LXD's units.ParseByteSizeString."""
    if value == "":
        return 0
    split = next((i for i, ch in enumerate(value) if ch not in _DIGITS), len(value))
    if split == 0:
        raise ConfigError(f"Invalid value: {value}")
    number, suffix = value[:split], value[split:]
    if suffix not in _BYTE_UNITS:
        try:
            _parse_int(number)
        except ConfigError:
            raise ConfigError(f"Invalid integer: {value}") from None
        raise ConfigError(f"Invalid value: {value}")
    try:
        count = _parse_int(number)
    except ConfigError:
        raise ConfigError(f"Invalid integer: {value}") from None
    if count * _BYTE_UNITS[suffix] >= 1 << 63:
        raise ConfigError(f"Overflow multiplying {count} with {_BYTE_UNITS[suffix]}")
    return count * _BYTE_UNITS[suffix]


def is_size(value: str) -> None:
    """LXD: validate.IsSize."""
    parse_byte_size(value)


def is_cpu_set(value: str) -> None:
    """LXD: validate.IsValidCPUSet (limits.cpu as a set: "0-3,6")."""
    if not re.fullmatch(r"([0-9]+([,-][0-9]+)?)(,[0-9]+([,-][0-9]+)*)?", value):
        raise ConfigError("Invalid CPU limit syntax")
    spans = []
    for chunk in value.split(","):
        low, _, high = chunk.partition("-")
        try:
            spans.append((_parse_int(low), _parse_int(high if "-" in chunk else low)))
        except ConfigError:
            raise ConfigError(f"Invalid cpuset value: {value}") from None
    spans = sorted(span for span in spans if span[0] <= span[1])
    if any(later[0] <= earlier[1] for earlier, later in itertools.pairwise(spans)):
        raise ConfigError("Cannot define CPU multiple times")


def is_memory_limit(value: str) -> None:
    """LXD's limits.memory: a byte size or a percentage, never zero."""
    if value.endswith("%"):
        if _parse_int(value[:-1]) == 0:
            raise ConfigError("Memory limit can't be 0%")
    elif parse_byte_size(value) == 0:
        raise ConfigError("Memory limit can't be 0")


def is_cpu_allowance(value: str) -> None:
    """LXD's limits.cpu.allowance: "50%" or "25ms/100ms"."""
    if value.endswith("%"):
        _atoi(value[:-1])
        return
    fields = value.split("/", 1)
    if len(fields) != 2:
        raise ConfigError(f"Invalid allowance: {value}")
    for field in fields:
        _atoi(field.removesuffix("ms"))


_EXPIRY_UNITS = "SMHdwmy"


def is_expiry(value: str) -> None:
    """LXD's shared.GetExpiry: "1d 2w", each unit at most once."""
    seen: dict[str, int] = {}
    expr = value.strip(" \t\n\v\f\r\x85\xa0")
    for part in expr.split(" ") if expr else []:
        match = re.fullmatch(f"([0-9]+)([{_EXPIRY_UNITS}])", part)
        if match is None or seen.get(match[2], 0) > 0:
            raise ConfigError("Invalid expiry expression")
        seen[match[2]] = _atoi(match[1])


def is_uuid(value: str) -> None:
    """LXD: validate.IsUUID (google/uuid's accepted spellings)."""
    text = value
    if len(text) == 45 and text[:9].lower() == "urn:uuid:":
        text = text[9:]
    elif len(text) == 38 and text[0] == "{" and text[-1] == "}":
        text = text[1:-1]
    if not re.fullmatch(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32}", text
    ):
        raise ConfigError("Invalid UUID")


def is_device_id(value: str) -> None:
    """LXD: validate.IsDeviceID (four lower case hex digits)."""
    if not re.fullmatch("[0-9a-f]{4}", value):
        raise ConfigError("Invalid value, must be four lower case hex characters")


def is_pci_address(value: str) -> None:
    """LXD: validate.IsPCIAddress."""
    if not re.fullmatch(r"([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]", value):
        raise ConfigError("Invalid PCI address")


def is_interface_name(value: str) -> None:
    """LXD: validate.IsInterfaceName."""
    if _go_len(value) < 2:
        raise ConfigError("Network interface is too short (minimum 2 characters)")
    if _go_len(value) > 15:
        raise ConfigError("Network interface is too long (maximum 15 characters)")
    if not re.fullmatch("[-_a-zA-Z0-9.]+", value):
        raise ConfigError("Network interface contains invalid characters")


def is_mac(value: str) -> None:
    """LXD: validate.IsNetworkMAC (six colon separated hex bytes)."""
    if not re.fullmatch("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", value):
        raise ConfigError("Invalid MAC address, must be 6 bytes of hex separated by colons")


def is_infiniband_mac(value: str) -> None:
    """LXD's infinibandValidMAC (8 or 20 colon separated hex bytes)."""
    if not re.fullmatch("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){7}|[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){19}", value):
        raise ConfigError("Invalid value, must be either 8 or 20 bytes of hex separated by colons")


def is_ip(value: str) -> None:
    """LXD: validate.IsNetworkAddress."""
    if _parse_ip(value) is None:
        raise ConfigError(f"Not an IP address {go_quote(value)}")


def is_ipv4(value: str) -> None:
    """LXD: validate.IsNetworkAddressV4."""
    ip = _parse_ip(value)
    if ip is None or not _is_ipv4(ip):
        raise ConfigError(f"Not an IPv4 address {go_quote(value)}")


def is_ipv6(value: str) -> None:
    """LXD: validate.IsNetworkAddressV6."""
    ip = _parse_ip(value)
    if ip is None or _is_ipv4(ip):
        raise ConfigError(f"Not an IPv6 address {go_quote(value)}")


def is_network_v4(value: str) -> None:
    """LXD: validate.IsNetworkV4 (an IPv4 network in CIDR form)."""
    ip, is_network = _parse_cidr(value)
    if not _is_ipv4(ip):
        raise ConfigError(f"Not an IPv4 network {go_quote(value)}")
    if not is_network:
        raise ConfigError(f"Not an IPv4 network address {go_quote(value)}")


def is_network_v6(value: str) -> None:
    """LXD: validate.IsNetworkV6 (an IPv6 network in CIDR form)."""
    ip, is_network = _parse_cidr(value)
    if _is_ipv4(ip):
        raise ConfigError(f"Not an IPv6 network {go_quote(value)}")
    if not is_network:
        raise ConfigError(f"Not an IPv6 network address {go_quote(value)}")


def is_vlan(value: str) -> None:
    """LXD: validate.IsNetworkVLAN (0-4094)."""
    try:
        vlan = _atoi(value)
    except ConfigError:
        raise ConfigError(f"Invalid VLAN ID {go_quote(value)}") from None
    if not 0 <= vlan <= 4094:
        raise ConfigError(f"Out of VLAN ID range (0-4094) {go_quote(value)}")


def is_mtu(value: str) -> None:
    """LXD: validate.IsNetworkMTU (1280-16384)."""
    try:
        mtu = _parse_uint(value, bits=32)
    except ConfigError:
        raise ConfigError(f"Invalid MTU {go_quote(value)}") from None
    if not 1280 <= mtu <= 16384:
        raise ConfigError(f"Out of MTU range (1280-16384) {go_quote(value)}")


def _cron_field(field: str, low: int, high: int, names: dict[str, int]) -> None:
    """robfig/cron v3 getField: comma separated ranges with optional steps."""

    def number(expr: str) -> int:
        if expr in names:
            return names[expr]
        try:
            value = _atoi(expr)
        except ConfigError as exc:
            raise ConfigError(f"failed to parse int from {expr}: {exc}") from None
        if value < 0:
            raise ConfigError(f"negative number ({value}) not allowed: {expr}")
        return value

    for expr in filter(None, field.split(",")):
        range_and_step = expr.split("/")
        low_and_high = range_and_step[0].split("-")
        if low_and_high[0] in ("*", "?"):
            start, end = low, high
        elif len(low_and_high) > 2:
            number(low_and_high[0])
            number(low_and_high[1])
            raise ConfigError(f"too many hyphens: {expr}")
        else:
            start = number(low_and_high[0])
            end = number(low_and_high[-1])
        if len(range_and_step) > 2:
            raise ConfigError(f"too many slashes: {expr}")
        step = number(range_and_step[1]) if len(range_and_step) == 2 else 1
        if len(range_and_step) == 2 and len(low_and_high) == 1:
            end = high
        if start < low:
            raise ConfigError(f"beginning of range ({start}) below minimum ({low}): {expr}")
        if end > high:
            raise ConfigError(f"end of range ({end}) above maximum ({high}): {expr}")
        if start > end:
            raise ConfigError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
        if step == 0:
            raise ConfigError(f"step of range should be a positive number: {expr}")


_MONTHS = {
    name: i
    for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_CRON_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _WEEKDAYS))


def _go_parse_duration(text: str) -> None:
    """Go's time.ParseDuration, errors only (cron's "@every <duration>")."""
    units = ("ns", "us", "µs", "μs", "ms", "s", "m", "h")
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return
    if rest == "":
        raise ConfigError(f"time: invalid duration {go_quote(text)}")
    while rest:
        match = re.match(r"([0-9]*)(\.[0-9]*)?", rest)
        if match[0] in ("", "."):
            raise ConfigError(f"time: invalid duration {go_quote(text)}")
        rest = rest[match.end() :]
        unit = re.match(r"[^0-9.]*", rest)[0]
        if unit == "":
            raise ConfigError(f"time: missing unit in duration {go_quote(text)}")
        if unit not in units:
            raise ConfigError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        rest = rest[len(unit) :]


def _cron_spec(spec: str) -> None:
    """robfig/cron v3 ParseStandard, as LXD calls it on a five-field trigger."""
    if spec.startswith("@"):
        if spec.startswith("@every "):
            try:
                _go_parse_duration(spec[len("@every ") :])
            except ConfigError as exc:
                raise ConfigError(f"failed to parse duration {spec}: {exc}") from None
            return
        if spec not in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
            raise ConfigError(f"unrecognized descriptor: {spec}")
        return
    fields = re.split(f"[{_GO_SPACE}]+", spec.strip(_GO_SPACE)) if spec.strip(_GO_SPACE) else []
    if len(fields) != 5:
        raise ConfigError(f"expected exactly 5 fields, found {len(fields)}: {_go_list(fields)}")
    for field, (low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        _cron_field(field, low, high, names)


def is_cron(*aliases: str) -> Validator:
    """LXD: validate.IsCron, cron specs or aliases joined by ", "."""

    def check(value: str) -> None:
        for trigger in value.lower().split(", "):
            if trigger in aliases:
                continue
            if len(trigger.split(" ")) != 5:
                raise ConfigError("Schedule must be of the form: <minute> <hour> <day-of-month> <month> <day-of-week>")
            try:
                _cron_spec(trigger)
            except ConfigError as exc:
                raise ConfigError(f"Error parsing schedule: {exc}") from None

    return check


def _yaml_error(exc: yaml.YAMLError) -> ConfigError:
    """go-yaml v2's parser error text from libyaml's marks (go-yaml is a port of libyaml)."""
    if not isinstance(exc, yaml.MarkedYAMLError) or not exc.problem:
        return ConfigError("yaml: control characters are not allowed")
    line = 0
    if exc.problem_mark and exc.problem_mark.line:
        line = exc.problem_mark.line + isinstance(exc, yaml.scanner.ScannerError)
    elif exc.context_mark and exc.context_mark.line:
        line = exc.context_mark.line
    return ConfigError("yaml: " + (f"line {line}: " if line else "") + exc.problem)


def _go_yaml_tag(node: yaml.Node) -> str:
    """go-yaml v2's tag for a node PyYAML resolved (both follow YAML 1.1, with two exceptions)."""
    tag = "!!" + node.tag.rsplit(":", 1)[-1]
    if tag != "!!int" or not isinstance(node, yaml.ScalarNode):
        return tag
    if ":" in node.value:
        return "!!str"  # go-yaml has no base-60 integers.
    digits = node.value.replace("_", "")
    if re.fullmatch("[-+]?[0-9]+", digits) and not -(2**63) <= int(digits) < 2**64:
        return "!!float"  # go-yaml reads integers beyond 64 bits as floats.
    return tag


def is_yaml(value: str) -> None:
    """LXD: validate.IsYAML, which unmarshals the first document into an empty Go struct."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = next(yaml.compose_all(value, Loader=loader), None)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except Exception:  # PyYAML can hit RecursionError and friends on hostile input.
        raise ConfigError("yaml: unknown problem parsing YAML content") from None
    if node is None or isinstance(node, yaml.MappingNode) or node.tag.endswith(":null"):
        return
    tag = _go_yaml_tag(node)
    shown = ""
    if isinstance(node, yaml.ScalarNode):
        raw = node.value.encode("utf-8", "surrogatepass")
        shown = " `" + (raw[:7] + b"..." if len(raw) > 10 else raw).decode("utf-8", "replace") + "`"
    line = node.start_mark.line + 1
    raise ConfigError(f"yaml: unmarshal errors:\n  line {line}: cannot unmarshal {tag}{shown} into struct {{}}")


def is_cloud_init_user_data(value: str) -> None:
    """LXD: validate.IsCloudInitUserData (only #cloud-config bodies must be YAML)."""
    if value == "#cloud-config" or value.startswith("#cloud-config\n"):
        body = value.split("\n", 1)
        if len(body) == 2:
            is_yaml(body[1])


# Instance and profile config keys (shared/instance.go) ------------------------------------------

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
_BOOL = optional(is_bool)

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


# Devices (lxd/device) ---------------------------------------------------------------------------

_UNSUPPORTED = "Unsupported device type"


def _check_rules(device: dict[str, str], rules: dict[str, Validator]) -> None:
    """LXD's deviceConfig.Device.Validate: run every rule, then refuse keys without one."""
    for key in sorted(rules):
        try:
            rules[key](device.get(key, ""))
        except ConfigError as exc:
            raise ConfigError(f"Invalid value for device option {go_quote(key)}: {exc}") from None
    kind = device.get("type", "")
    for key in sorted(device):
        implicit = (
            key == "type"
            or key.startswith("user.")
            or (key == "nictype" and kind in ("nic", "infiniband"))
            or (key == "gputype" and kind == "gpu")
        )
        if key not in rules and not implicit:
            raise ConfigError(f"Invalid device option {go_quote(key)}")


def _unix_number(message: str, base: int = 10) -> Validator:
    """LXD's unixValidDeviceNum / unixValidUserID / unixValidOctalFileMode."""

    def check(value: str) -> None:
        try:
            _parse_uint(value, base=base, bits=32)
        except ConfigError:
            raise ConfigError(message) from None

    return optional(check)


_UNIX_ID = _unix_number("Invalid value for a UNIX ID")
_UNIX_MODE = _unix_number("Invalid value for an octal file mode", base=8)
_UNIX_DEVICE_NUMBER = _unix_number("Invalid value for a UNIX device number")
_DISK_REQUIRED_AND_OPTIONAL = 'Cannot use both "required" and deprecated "optional" properties at the same time'
_DISK_RECURSIVE_READONLY = "Recursive read-only bind-mounts aren't currently supported by the kernel"
_CEPH = "ceph.cluster_name/ceph.user_name"
_PROPAGATIONS = ("", "private", "shared", "slave", "unbindable", "rshared", "rslave", "runbindable", "rprivate")


class _Context(NamedTuple):
    """What a device check may look at besides the device: LXD's instance.ConfigReader."""

    instance_type: str  # "any" for profiles, else "container" or "virtual-machine".
    devices: dict[str, dict[str, str]]


def _validate_disk(device: dict[str, str], ctx: _Context) -> None:
    """LXD's disk.validateConfig, minus its host file system and storage pool look-ups."""

    def propagation(_value: str) -> None:
        # LXD checks the "bind" key here, not "propagation" (lxd/device/disk.go).
        if device.get("bind", "") not in _PROPAGATIONS:
            raise ConfigError("Invalid propagation value. Must be one of: " + ", ".join(_PROPAGATIONS))

    flags = dict.fromkeys(["required", "optional", "readonly", "recursive", "shift"], _BOOL)
    free = ["source", "limits.read", "limits.write", "limits.max", "pool", "raw.mount.options", "path"]
    anything = dict.fromkeys([*free, "ceph.cluster_name", "ceph.user_name"], is_any)
    sizes = {"size": optional(is_size), "size.state": optional(is_size), "boot.priority": optional(is_uint32)}
    _check_rules(device, {**flags, **anything, **sizes, "propagation": propagation})
    get = device.get
    path, source, pool = get("path", ""), get("source", ""), get("pool", "")
    same_path = sum(d.get("type") == "disk" and d.get("path") == path for d in ctx.devices.values())
    ceph = get("ceph.cluster_name") or get("ceph.user_name")
    checks = [
        (get("required") and get("optional"), _DISK_REQUIRED_AND_OPTIONAL),
        (source == "" and path != "/", 'Disk entry is missing the required "source" or "path" property'),
        (path == "/" and source != "", 'Root disk entry may not have a "source" property set'),
        (path == "/" and pool == "", 'Root disk entry must have a "pool" property set'),
        (get("size") and path != "/", "Only the root disk may have a size quota"),
        (get("size.state") and path != "/", "Only the root disk may have a migration size quota"),
        # LXD also refuses "recursive" when the source is not a directory on the host; we cannot look.
        (get("recursive") and path == "/", "The recursive option is only supported for additional bind-mounted paths"),
        (_is_true(get("recursive", "")) and _is_true(get("readonly", "")), _DISK_RECURSIVE_READONLY),
        (
            ceph and not source.startswith(("ceph:", "cephfs:")),
            f"Invalid options {_CEPH} for source {go_quote(source)}",
        ),
        (path and same_path > 1, f"More than one disk device uses the same path {go_quote(path)}"),
    ]
    for failed, message in checks:
        if failed:
            raise ConfigError(message)
    local_source = (
        pool == "" and source not in ("", "cloud-init:config") and not source.startswith(("ceph:", "cephfs:"))
    )
    if local_source and not source.startswith("/"):
        raise ConfigError("Source path must be absolute for local sources")
    # LXD checks that local sources and pools exist only for instances; we take them as given.
    if pool and get("shift"):
        raise ConfigError(
            'The "shift" property cannot be used with custom storage volumes'
            ' (set "security.shifted=true" on the volume instead)'
        )
    if pool and source.startswith("/"):
        raise ConfigError("Storage volumes cannot be specified as absolute paths")


def _validate_unix(device: dict[str, str], ctx: _Context) -> None:
    """LXD's unixCommon.validateConfig (unix-char, unix-block)."""
    if ctx.instance_type not in ("any", "container"):
        raise ConfigError(_UNSUPPORTED)

    def source(value: str) -> None:
        if value and not value.startswith("/dev"):
            raise ConfigError("Path needs to be in /dev")

    rules = {"source": source, "path": is_any, "major": _UNIX_DEVICE_NUMBER, "minor": _UNIX_DEVICE_NUMBER}
    _check_rules(device, {**rules, "uid": _UNIX_ID, "gid": _UNIX_ID, "mode": _UNIX_MODE, "required": _BOOL})
    if not device.get("source") and not device.get("path"):
        raise ConfigError('Unix device entry is missing the required "source" or "path" property')


def _validate_usb(device: dict[str, str], ctx: _Context) -> None:
    """LXD's usb.validateConfig and unixHotplug.validateConfig."""
    if device.get("type") == "unix-hotplug" and ctx.instance_type not in ("any", "container"):
        raise ConfigError(_UNSUPPORTED)
    ids = {"vendorid": optional(is_device_id), "productid": optional(is_device_id)}
    _check_rules(device, {**ids, "uid": _UNIX_ID, "gid": _UNIX_ID, "mode": _UNIX_MODE, "required": _BOOL})
    if device.get("type") == "unix-hotplug" and not device.get("vendorid") and not device.get("productid"):
        raise ConfigError("Unix hotplug devices require a vendorid or a productid")


def _validate_none(device: dict[str, str], ctx: _Context) -> None:
    """LXD's none.validateConfig: no options at all."""
    _check_rules(device, {})


def _validate_tpm(device: dict[str, str], ctx: _Context) -> None:
    """LXD's tpm.validateConfig: containers need path and pathrm."""
    check = is_not_empty if ctx.instance_type == "container" else is_any
    try:
        _check_rules(device, {"path": check, "pathrm": check})
    except ConfigError as exc:
        raise ConfigError(f"Failed to validate config: {exc}") from None


def _validate_pci(device: dict[str, str], ctx: _Context) -> None:
    """LXD's pci.validateConfig (virtual machines and profiles only)."""
    if ctx.instance_type == "container":
        raise ConfigError(_UNSUPPORTED)
    try:
        _check_rules(device, {"address": is_pci_address})
    except ConfigError as exc:
        raise ConfigError(f"Failed to validate config: {exc}") from None


_GPU_VALIDATORS: dict[str, Validator] = {
    "vendorid": optional(is_device_id),
    "productid": optional(is_device_id),
    "id": is_any,
    "pci": is_pci_address,
    "uid": _UNIX_ID,
    "gid": _UNIX_ID,
    "mode": _UNIX_MODE,
    "mig.gi": is_uint8,
    "mig.ci": is_uint8,
    "mig.uuid": is_any,
    "mdev": is_any,
}
# LXD: gpu_*.go, per gputype: (instance types, required fields, optional fields).
_GPU_TYPES = {
    "physical": (("any", "container", "virtual-machine"), [], ["vendorid", "productid", "id", "pci"]),
    "mig": (("any", "container"), [], ["vendorid", "productid", "id", "pci", "mig.gi", "mig.ci", "mig.uuid"]),
    "mdev": (("any", "virtual-machine"), ["mdev"], ["vendorid", "productid", "id", "pci"]),
    "sriov": (("any", "virtual-machine"), [], ["vendorid", "productid", "id", "pci"]),
}


def _validate_gpu(device: dict[str, str], ctx: _Context) -> None:
    """LXD's gpu*.validateConfig; an unknown gputype means a physical GPU."""
    gputype = device.get("gputype", "") if device.get("gputype") in _GPU_TYPES else "physical"
    types, required_fields, optional_fields = _GPU_TYPES[gputype]
    if ctx.instance_type not in types:
        raise ConfigError(_UNSUPPORTED)
    if gputype == "physical" and ctx.instance_type in ("any", "container"):
        optional_fields = [*optional_fields, "uid", "gid", "mode"]
    rules = {key: optional(_GPU_VALIDATORS[key]) for key in optional_fields}
    rules.update({key: required(is_not_empty, _GPU_VALIDATORS[key]) for key in required_fields})
    _check_rules(device, rules)
    for key, others in (("pci", ("id", "productid", "vendorid")), ("id", ("pci", "productid", "vendorid"))):
        for other in others:
            if device.get(key) and device.get(other):
                raise ConfigError(f'Cannot use "{other}" when when "{key}" is set')
    if gputype == "mig" and device.get("mig.uuid"):
        for other in ("mig.gi", "mig.ci"):
            if device.get(other):
                raise ConfigError(f'Cannot use "{other}" when "mig.uuid" is set')
    elif gputype == "mig" and not (device.get("mig.gi") and device.get("mig.ci")):
        raise ConfigError('Either "mig.uuid" or both "mig.gi" and "mig.ci" must be set')


def _gateway(value: str) -> None:
    """LXD's networkValidGateway."""
    if value not in ("none", "auto"):
        raise ConfigError(f"Invalid gateway: {value}")


# LXD: nicValidationRules' defaultValidators (lxd/device/nic.go).
_NIC_VALIDATORS: dict[str, Validator] = {
    "acceleration": optional(one_of("none", "sriov")),
    "name": optional(is_interface_name),
    "mtu": optional(is_mtu),
    "vlan": is_vlan,
    "gvrp": _BOOL,
    "hwaddr": is_mac,
    "security.port_isolation": _BOOL,
    "ipv4.address": optional(is_ipv4),
    "ipv6.address": optional(is_ipv6),
    "ipv4.routes": optional(list_of(is_network_v4)),
    "ipv6.routes": optional(list_of(is_network_v6)),
    "boot.priority": optional(is_uint32),
    "ipv4.gateway": _gateway,
    "ipv6.gateway": _gateway,
    "ipv4.host_address": optional(is_ipv4),
    "ipv6.host_address": optional(is_ipv6),
    "ipv4.host_table": optional(is_uint32),
    "ipv6.host_table": optional(is_uint32),
    "ipv4.routes.external": optional(list_of(is_network_v4)),
    "ipv6.routes.external": optional(list_of(is_network_v6)),
    "security.acls.default.ingress.action": optional(one_of("allow", "drop", "reject")),
    "security.acls.default.egress.action": optional(one_of("allow", "drop", "reject")),
    "security.acls.default.ingress.logged": _BOOL,
    "security.acls.default.egress.logged": _BOOL,
}
_LIMITS = ["limits.ingress", "limits.egress", "limits.max"]
_MAAS = ["maas.subnet.ipv4", "maas.subnet.ipv6"]
_ROUTES = ["ipv4.routes", "ipv6.routes"]
_HOST_TABLES = ["ipv4.host_table", "ipv6.host_table"]
_GATEWAYS = ["ipv4.gateway", "ipv6.gateway"]
_BRIDGED = ["ipv4.address", "ipv6.address", *_ROUTES, "ipv4.routes.external", "ipv6.routes.external"]
_BRIDGED += ["security.mac_filtering", "security.ipv4_filtering", "security.ipv6_filtering", "security.port_isolation"]
_BOOT_VLAN = [*_MAAS, "boot.priority", "vlan"]
_ROUTED = [*_GATEWAYS, *_ROUTES, "ipv4.host_address", "ipv6.host_address", *_HOST_TABLES, "gvrp"]
# LXD: nic_*.go, per nictype: (required fields, optional fields); containers and profiles.
_NIC_TYPES = {
    "physical": (["parent"], ["name", *_MAAS, "boot.priority", "gvrp", "mtu", "hwaddr", "vlan"]),
    "p2p": ([], ["name", "mtu", "hwaddr", "host_name", *_LIMITS, *_ROUTES, "boot.priority"]),
    "bridged": (
        ["parent"],
        ["name", "network", "parent", "mtu", "hwaddr", "host_name", *_LIMITS, *_BRIDGED, *_BOOT_VLAN],
    ),
    "macvlan": (["parent"], ["name", "network", "parent", "mtu", "hwaddr", "vlan", *_MAAS, "boot.priority", "gvrp"]),
    "ipvlan": (["parent"], ["name", "mtu", "hwaddr", "vlan", *_GATEWAYS, *_HOST_TABLES, "gvrp"]),
    "routed": ([], ["name", "parent", "mtu", "hwaddr", "host_name", "vlan", *_LIMITS, *_ROUTED]),
    "sriov": (
        ["parent"],
        ["name", "network", "parent", "hwaddr", "vlan", "security.mac_filtering", *_MAAS, "boot.priority", "mtu"],
    ),
}


def _nic_rules(required_fields: list[str], optional_fields: list[str]) -> dict[str, Validator]:
    """LXD's nicValidationRules: default validators, optional or required."""
    rules = {key: optional(_NIC_VALIDATORS.get(key, is_any)) for key in optional_fields}
    rules.update({key: required(is_not_empty, _NIC_VALIDATORS.get(key, is_any)) for key in required_fields})
    return rules


def _address_list(version: int, l2: bool) -> Validator:
    """ipvlan's ipv4/ipv6.address: addresses, or in l2 mode addresses with an optional prefix."""
    single = is_ipv4 if version == 4 else is_ipv6
    if not l2:
        return optional(list_of(single))

    def check(value: str) -> None:
        for item in value.split(","):
            item = item.strip(_GO_SPACE)
            try:
                single(item)
                item = f"{item}/{24 if version == 4 else 64}"
            except ConfigError:
                pass
            ip, _ = _parse_cidr(item)
            if _is_ipv4(ip) != (version == 4):
                raise ConfigError(f"Not an IPv{version} CIDR address: {item}")

    return optional(check)


def _vlan_range(value: str) -> None:
    """LXD's validate.ParseNetworkVLANRange."""
    try:
        is_vlan(value)
        return
    except ConfigError:
        pass
    bounds = value.split("-")
    if len(bounds) != 2:
        raise ConfigError(f"Invalid VLAN range input: {value}")
    try:
        start, end = is_vlan(bounds[0]) or _atoi(bounds[0]), is_vlan(bounds[1]) or _atoi(bounds[1])
    except ConfigError:
        raise ConfigError(f"Invalid VLAN range boundary. start:{bounds[0]}, end:{bounds[1]}") from None
    if start > end:
        raise ConfigError(f"Invalid VLAN range boundary. start:{start} is higher than end:{end}")


def _nic_extra_rules(device: dict[str, str], nictype: str) -> dict[str, Validator]:
    """The per-nictype rules LXD adds on top of nicValidationRules."""
    if nictype == "bridged":

        def tagged(value: str) -> None:
            # LXD: shared.SplitNTrimSpace keeps empty items ("1,,2") unless the whole value is blank.
            items = value.split(",") if value.strip(_GO_SPACE) else []
            for vlan in (item.strip(_GO_SPACE) for item in items):
                if vlan == device.get("vlan", ""):
                    raise ConfigError(f"Tagged VLAN ID {go_quote(vlan)} cannot be the same as untagged VLAN ID")
                _vlan_range(vlan)

        return {
            "vlan": lambda v: None if v in ("", "none") else is_vlan(v),
            "vlan.tagged": optional(tagged),
            "ipv4.address": lambda v: None if v in ("", "none") else is_ipv4(v),
            "ipv6.address": lambda v: None if v in ("", "none") else is_ipv6(v),
        }
    if nictype == "ipvlan":
        l2 = device.get("mode", "") == "l2"

        def mode(value: str) -> None:
            if value and value not in ("l3s", "l2"):
                raise ConfigError("Must be one of: l3s, l2")

        gateways = {"ipv4.gateway": optional(is_ipv4), "ipv6.gateway": optional(is_ipv6)} if l2 else {}
        return {"ipv4.address": _address_list(4, l2), "ipv6.address": _address_list(6, l2), "mode": mode, **gateways}
    if nictype == "routed":
        return {
            "ipv4.address": optional(list_of(is_ipv4)),
            "ipv6.address": optional(list_of(is_ipv6)),
            "ipv4.neighbor_probe": _BOOL,
            "ipv6.neighbor_probe": _BOOL,
        }
    return {}


def _check_routed(device: dict[str, str]) -> None:
    """LXD's nicRouted checks after the rules."""
    for key in ("ipv4.address", "ipv6.address"):
        seen: set[str] = set()
        for address in (item.strip(_GO_SPACE) for item in device.get(key, "").split(",") if device.get(key)):
            if address in seen:
                raise ConfigError(f"Duplicate address {go_quote(address)} in {go_quote(key)}")
            seen.add(address)
    for family in ("ipv4", "ipv6"):
        if device.get(f"{family}.routes") and not device.get(f"{family}.address"):
            raise ConfigError(f"{family}.routes requires {family}.address to be set")
    if not device.get("parent") and device.get("vlan"):
        raise ConfigError("The vlan setting can only be used when combined with a parent interface")


def _validate_nic(device: dict[str, str], ctx: _Context) -> None:
    """LXD's nic*.validateConfig for NICs given by nictype.

    A NIC naming a "network" takes its nictype from that network, which only LXD's database
    knows; we take such NICs as given (LXD refuses them when the network does not exist).
    """
    if device.get("network"):
        return
    nictype = device.get("nictype", "")
    if nictype == "ovn":
        raise ConfigError('Error loading network config for "": Network not found')
    if nictype not in _NIC_TYPES:
        raise ConfigError(f"Failed loading device: {_UNSUPPORTED}")  # Rewritten by the caller.
    if nictype == "ipvlan" and ctx.instance_type not in ("any", "container"):
        raise ConfigError(_UNSUPPORTED)
    filtering = _is_true(device.get("security.ipv4_filtering", "")) or _is_true(
        device.get("security.ipv6_filtering", "")
    )
    if nictype == "bridged" and filtering and (device.get("vlan") or device.get("vlan.tagged")):
        raise ConfigError("IP filtering cannot be used with VLAN filtering")
    required_fields, optional_fields = _NIC_TYPES[nictype]
    _check_rules(device, {**_nic_rules(required_fields, optional_fields), **_nic_extra_rules(device, nictype)})
    if nictype == "routed":
        _check_routed(device)


def _validate_infiniband(device: dict[str, str], ctx: _Context) -> None:
    """LXD's infinibandPhysical/infinibandSRIOV.validateConfig."""
    if device.get("nictype") not in ("physical", "sriov"):
        raise ConfigError(f"Failed loading device: {_UNSUPPORTED}")
    rules = _nic_rules(["parent"], ["name", "mtu", "hwaddr"])
    _check_rules(device, {**rules, "hwaddr": optional(is_infiniband_mac)})


class _ProxyAddress(NamedTuple):
    """A parsed proxy listen/connect address (LXD: deviceConfig.ProxyAddress)."""

    conn_type: str
    address: str
    ports: int


def _proxy_address(value: str) -> _ProxyAddress:
    """LXD's ProxyParseAddr: "tcp:1.2.3.4:80,90-95", "udp:...", "unix:/path" or "unix:@abstract"."""
    conn_type, _, rest = value.partition(":")
    if conn_type not in ("tcp", "udp", "unix"):
        raise ConfigError(f"Unknown protocol type {go_quote(conn_type)}")
    if rest == "":
        raise ConfigError("Missing address")
    if conn_type == "unix":
        return _ProxyAddress(conn_type, rest, 0)
    host, port = _split_host_port(rest)
    optional(is_ip)(host)
    count = 0
    for item in port.split(","):
        bounds = item.split("-")
        if len(bounds) > 2:
            raise ConfigError(f"Invalid port range {go_quote(item)}")
        first, last = _parse_int(bounds[0]), _parse_int(bounds[-1])
        if len(bounds) == 2 and last <= first:
            raise ConfigError("End port should be higher than start port")
        count += last - first + 1
    return _ProxyAddress(conn_type, host, count)


def _check_proxy_nat(device: dict[str, str], listen: _ProxyAddress, connect: _ProxyAddress) -> None:
    """LXD's proxy checks for nat=true."""
    if device.get("bind", "") not in ("", "host"):
        raise ConfigError("Only host-bound proxies can use NAT")
    if "unix" in (listen.conn_type, connect.conn_type) or listen.conn_type != connect.conn_type:
        raise ConfigError(f"Proxying {listen.conn_type} <-> {connect.conn_type} is not supported when using NAT")
    listen_ip, connect_ip = _parse_ip(listen.address), _parse_ip(connect.address)
    if listen_ip is not None and int(listen_ip) in (0, 0xFFFF_0000_0000):  # Go's IP.Equal(IPv4zero/IPv6zero)
        shown = "::" if int(listen_ip) == 0 and listen_ip.version == 6 else "0.0.0.0"
        raise ConfigError(f"Cannot listen on wildcard address {go_quote(shown)} when in nat mode")
    if bool(listen_ip and _is_ipv4(listen_ip)) != bool(connect_ip and _is_ipv4(connect_ip)):
        raise ConfigError("Cannot mix IP versions between listen and connect in nat mode")


def _validate_proxy(device: dict[str, str], ctx: _Context) -> None:
    """LXD's proxy.validateConfig."""

    def bind(_value: str) -> None:
        if device.get("bind") not in ("host", "instance", "guest", "container"):
            raise ConfigError('Invalid binding side given. Must be "host" or "instance"')

    ids = dict.fromkeys(["gid", "uid", "security.uid", "security.gid"], _UNIX_ID)
    flags = {"nat": _BOOL, "proxy_protocol": _BOOL, "mode": _UNIX_MODE, "bind": optional(bind)}
    addresses = {"listen": required(_proxy_address), "connect": required(_proxy_address)}
    _check_rules(device, {**addresses, **flags, **ids})
    if ctx.instance_type == "virtual-machine" and not _is_true(device.get("nat", "")):
        raise ConfigError("Only NAT mode is supported for proxies on VM instances")
    listen, connect = _proxy_address(device["listen"]), _proxy_address(device["connect"])
    if connect.ports > (1 if listen.conn_type == "unix" else listen.ports):
        raise ConfigError("Mismatch between listen port(s) and connect port(s) count")
    nat = _is_true(device.get("nat", ""))
    if _is_true(device.get("proxy_protocol", "")) and (not device["connect"].startswith("tcp") or nat):
        raise ConfigError("The PROXY header can only be sent to tcp servers in non-nat mode")
    abstract_or_inet = not device["listen"].startswith("unix:") or device["listen"].startswith("unix:@")
    if abstract_or_inet and (device.get("uid") or device.get("gid") or device.get("mode")):
        raise ConfigError("Only proxy devices for non-abstract unix sockets can carry uid, gid, or mode properties")
    if nat:
        _check_proxy_nat(device, listen, connect)


# LXD: device.newByType, the device types it knows.
DEVICE_TYPES: dict[str, Callable[[dict[str, str], _Context], None]] = {
    "disk": _validate_disk,
    "nic": _validate_nic,
    "infiniband": _validate_infiniband,
    "gpu": _validate_gpu,
    "proxy": _validate_proxy,
    "usb": _validate_usb,
    "unix-char": _validate_unix,
    "unix-block": _validate_unix,
    "unix-hotplug": _validate_usb,
    "none": _validate_none,
    "tpm": _validate_tpm,
    "pci": _validate_pci,
}


def is_device_name(name: str) -> None:
    """LXD: validate.IsDeviceName."""
    if not 1 <= _go_len(name) <= 63:
        raise ConfigError("Name must be 1-63 characters long")
    if name.startswith("."):
        raise ConfigError('Name must not start with "." character')
    if not re.fullmatch(r"[/.\-:_a-zA-Z0-9]+", name):
        raise ConfigError(
            "Name can only contain alphanumeric, forward slash, hyphen, colon, underscore and full stop characters"
        )


def _validate_device(name: str, device: dict[str, str], ctx: _Context) -> None:
    """LXD's device.Validate: name, then type, then the type's own checks."""
    is_device_name(name)
    loading = f"Failed loading device {go_quote(name)}: "
    if device.get("type", "") == "":
        raise ConfigError(loading + "Missing device type in config")
    if device["type"] not in DEVICE_TYPES:
        raise ConfigError(loading + _UNSUPPORTED)
    try:
        DEVICE_TYPES[device["type"]](device, ctx)
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(
            loading + _UNSUPPORTED if message == f"Failed loading device: {_UNSUPPORTED}" else message
        ) from None


def validate_devices(devices: dict[str, dict[str, str]], *, profile: bool) -> None:
    """Raise ConfigError with LXD's text for the first invalid device (a profile's or an instance's)."""
    ctx = _Context("any" if profile else "container", devices)
    for name in sorted(devices):
        # LXD: instance/drivers/load.go validDevices.
        if _go_len(name) > 64:
            raise ConfigError("The maximum device name length is 64 characters")
        try:
            _validate_device(name, devices[name], ctx)
        except ConfigError as exc:
            raise ConfigError(f"Device validation failed for {go_quote(name)}: {exc}") from None


# Server config (lxd/node/config.go, lxd/cluster/config/config.go, lxd/config) -------------------


def _resolvable(host: str) -> bool:
    """Stand-in for LXD's DNS look-up: host names outside the reserved .invalid domain (RFC 6761)."""
    label = "[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
    return bool(re.fullmatch(rf"{label}(\.{label})*\.?", host)) and host.rstrip(".").rsplit(".", 1)[-1] != "invalid"


def is_listen_address(*, allow_dns: bool, allow_wildcard: bool) -> Validator:
    """LXD: validate.IsListenAddress (port optional)."""

    def check(value: str) -> None:
        try:
            host = _split_host_port(value)[0]
        except ConfigError:
            host = value
        if host in ("", "::", "[::]", "0.0.0.0"):
            if not allow_wildcard:
                raise ConfigError("Wildcard addresses aren't allowed")
            return
        if _parse_ip(host.strip("[]")) is not None:
            return
        if not allow_dns:
            raise ConfigError("DNS names not allowed in address")
        if not _resolvable(host):
            raise ConfigError(f"Couldn't resolve {go_quote(host)}")

    return check


# LXD: doApi10UpdateTriggers restarts these listeners, in this order, after storing the config;
# a failure is a 500 there. Per key: the default port and the text LXD wraps net.Listen's error in.
_LISTENERS = {
    "core.https_address": (8443, "Cannot listen on network HTTPS socket {address}: "),
    "core.debug_address": (8080, "Cannot listen on http socket: "),
    "core.metrics_address": (9100, "Cannot listen on http socket: Bind network address: "),
}


def _canonical_address(address: str, port: int) -> str:
    """LXD's util.CanonicalNetworkAddress: add the default port when there is none."""
    try:
        host, given = _split_host_port(address)
    except ConfigError:
        ip = _parse_ip(address)
        if ip is None:
            return f"{address}:{port}"
        return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    return address if given else (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def _check_listeners(node: dict[str, str]) -> None:
    """The part of LXD's listener start-up that depends on the address text alone."""
    for key, (port, prefix) in _LISTENERS.items():
        if not node.get(key):
            continue
        address = _canonical_address(node[key], port)
        message = prefix.format(address=go_quote(address)) + "listen tcp: "
        try:
            given = _split_host_port(address)[1]
        except ConfigError as exc:
            raise ConfigError(message + str(exc)) from None
        if re.fullmatch("[0-9]+", given) and int(given) > 65535:
            raise ConfigError(message + f"address {given}: invalid port")


_COMPRESSORS = ("bzip2", "gzip", "lzma", "pigz", "pzstd", "squashfs", "xz", "zstd")


def _shell_first_word(value: str) -> str | None:
    """The first word of go-shellquote's Split, with its errors."""
    words, word, quote, started, i = [], [], "", False, 0
    while i < len(value):
        ch = value[i]
        if quote == "'":
            quote = "" if ch == "'" else quote
            word += [] if ch == "'" else [ch]
        elif ch == "\\" and (quote == "" or value[i + 1 : i + 2] in ('"', "\\", "$", "`", "\n")):
            if i + 1 == len(value):
                raise ConfigError("Unterminated backslash-escape")
            word += [] if value[i + 1] == "\n" else [value[i + 1]]
            started, i = True, i + 1
        elif quote == '"':
            quote = "" if ch == '"' else quote
            word += [] if ch == '"' else [ch]
        elif ch in "'\"":
            quote, started = ch, True
        elif ch in " \t\n":
            if started:
                words.append("".join(word))
                word, started = [], False
        else:
            word.append(ch)
            started = True
        i += 1
    if quote:
        raise ConfigError(f"Unterminated {'single' if quote == chr(39) else 'double'}-quoted string")
    words += ["".join(word)] if started else []
    return words[0] if words else None


def is_compression_algorithm(value: str) -> None:
    """LXD: validate.IsCompressionAlgorithm as tightened by Debian's security update.

    LXD also looks the command up in $PATH; we accept every supported name.
    """
    if value == "none":
        return
    command = _shell_first_word(value)
    if command is None:
        raise ConfigError("No compression algorithm specified")
    if command not in _COMPRESSORS:
        raise ConfigError(f"Invalid compression algorithm {go_quote(command)}")


def _min_int(minimum: int, not_number: str, message: str) -> Validator:
    """LXD's cluster.* integer validators."""

    def check(value: str) -> None:
        try:
            number = _atoi(value)
        except ConfigError:
            raise ConfigError(not_number) from None
        if number <= minimum:
            raise ConfigError(message)

    return check


def _max_voters(value: str) -> None:
    """LXD's maxVotersValidator."""
    number = _parse_int(value)
    if number < 3 or number % 2 != 1:
        raise ConfigError("Value must be an odd number equal to or higher than 3")


def _max_standby(value: str) -> None:
    """LXD's maxStandByValidator."""
    if not 0 <= _parse_int(value) <= 5:
        raise ConfigError("Value must be between 0 and 5")


def _image_replicas(value: str) -> None:
    """LXD's imageMinimalReplicaValidator."""
    count = _parse_int(value)
    if count < 1 and count != -1:
        raise ConfigError("Invalid value for image replica count")


_ARCHITECTURES = ("i686", "x86_64", "armv6l", "armv7l", "armv8l", "aarch64", "ppc", "ppc64", "ppc64le", "s390x")
_ARCHITECTURES += ("mips", "mips64", "riscv32", "riscv64")


class ServerKey(NamedTuple):
    """One server config key (LXD: config.Key): its type, default and validator."""

    type: str = "string"  # "string", "bool" or "int64"
    default: str = ""
    validator: Validator = is_any
    hidden: bool = False  # LXD shows hidden keys as `true` and stores a hash (core.trust_password).


_LISTEN = ServerKey(validator=optional(is_listen_address(allow_dns=True, allow_wildcard=True)))

# LXD: node.ConfigSchema, keys local to one cluster member, checked first.
SERVER_NODE_KEYS: dict[str, ServerKey] = {
    "core.https_address": _LISTEN,
    "cluster.https_address": ServerKey(validator=optional(is_listen_address(allow_dns=True, allow_wildcard=False))),
    "core.bgp_address": _LISTEN,
    "core.bgp_routerid": ServerKey(validator=optional(is_ipv4)),
    "core.debug_address": _LISTEN,
    "core.dns_address": _LISTEN,
    "core.metrics_address": _LISTEN,
    "maas.machine": ServerKey(),
    # LXD checks that these name an existing pool/volume; we don't model storage volumes.
    "storage.backups_volume": ServerKey(),
    "storage.images_volume": ServerKey(),
}

# LXD: clusterConfig.ConfigSchema.
SERVER_CLUSTER_KEYS: dict[str, ServerKey] = {
    "backups.compression_algorithm": ServerKey(default="gzip", validator=is_compression_algorithm),
    "cluster.offline_threshold": ServerKey(
        "int64", "20", _min_int(10, "Offline threshold is not a number", "Value must be greater than '10'")
    ),
    "cluster.images_minimal_replica": ServerKey("int64", "3", _image_replicas),
    "cluster.join_token_expiry": ServerKey(default="3H", validator=is_expiry),
    "cluster.max_voters": ServerKey("int64", "3", _max_voters),
    "cluster.max_standby": ServerKey("int64", "2", _max_standby),
    "core.metrics_authentication": ServerKey("bool", "true"),
    "core.bgp_asn": ServerKey("int64", "0", optional(is_in_range(0, 4294967294))),
    "core.https_allowed_headers": ServerKey(),
    "core.https_allowed_methods": ServerKey(),
    "core.https_allowed_origin": ServerKey(),
    "core.https_allowed_credentials": ServerKey("bool"),
    "core.https_trusted_proxy": ServerKey(),
    "core.proxy_http": ServerKey(),
    "core.proxy_https": ServerKey(),
    "core.proxy_ignore_hosts": ServerKey(),
    "core.remote_token_expiry": ServerKey(validator=optional(is_expiry)),
    "core.shutdown_timeout": ServerKey("int64", "5"),
    "core.trust_password": ServerKey(hidden=True),
    "core.trust_ca_certificates": ServerKey("bool"),
    "candid.api.key": ServerKey(),
    "candid.api.url": ServerKey(),
    "candid.domains": ServerKey(),
    "candid.expiry": ServerKey("int64", "3600"),
    "images.auto_update_cached": ServerKey("bool", "true"),
    "images.auto_update_interval": ServerKey("int64", "6"),
    "images.compression_algorithm": ServerKey(default="gzip", validator=is_compression_algorithm),
    "images.default_architecture": ServerKey(validator=optional(one_of(*_ARCHITECTURES))),
    "images.remote_cache_expiry": ServerKey("int64", "10"),
    "maas.api.key": ServerKey(),
    "maas.api.url": ServerKey(),
    "rbac.agent.url": ServerKey(),
    "rbac.agent.username": ServerKey(),
    "rbac.agent.private_key": ServerKey(),
    "rbac.agent.public_key": ServerKey(),
    "rbac.api.expiry": ServerKey("int64", "3600"),
    "rbac.api.key": ServerKey(),
    "rbac.api.url": ServerKey(),
    "rbac.expiry": ServerKey("int64", "3600"),
    "network.ovn.integration_bridge": ServerKey(default="br-int"),
    "network.ovn.northbound_connection": ServerKey(default="unix:/var/run/ovn/ovnnb_db.sock"),
}

# Go's reflect.Kind names for what encoding/json makes of JSON values.
_GO_KINDS = {bool: "bool", int: "float64", float: "float64", dict: "map", list: "slice"}


def _normalise(key: ServerKey, value: str) -> str:
    """LXD's config.Map.set: booleans are stored as "true"/"false"."""
    if key.type == "bool":
        return "true" if _is_true(value) else "false"
    return value


def _check_server_value(key: ServerKey, value: str) -> None:
    """LXD's config.Key.validate: type first, then the key's validator ("" checks the default)."""
    if value == "":
        key.validator(key.default)
        return
    if key.type == "bool" and value.lower() not in _GO_BOOLS:
        raise ConfigError("invalid boolean")
    if key.type == "int64":
        try:
            _parse_int(value)
        except ConfigError:
            raise ConfigError("invalid integer") from None
    key.validator(value)


def _clean_schema(config: dict[str, object], schema: dict[str, ServerKey]) -> dict[str, str]:
    """LXD's config.Map.Change: every error sorted by key, reported as the first "(and N more errors)"."""
    errors, cleaned = [], {}
    for name in sorted(config):
        value = "" if config[name] is None else config[name]
        if not isinstance(value, str):
            errors.append(f"cannot set '{name}': invalid type {_GO_KINDS.get(type(value), 'interface')}")
            continue
        if name.startswith("user."):
            cleaned[name] = value
            continue
        if name not in schema:
            errors.append(f"cannot set '{name}' to '{value}': unknown key")
            continue
        try:
            _check_server_value(schema[name], value)
        except ConfigError as exc:
            errors.append(f"cannot set '{name}' to '{value}': {exc}")
            continue
        # A boolean set to "" is stored as "false", even where the default is "true" (LXD's Map.set).
        if _normalise(schema[name], value) != _normalise(schema[name], schema[name].default):
            cleaned[name] = _normalise(schema[name], value)
    if errors:
        raise ConfigError(errors[0] + (f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""))
    return {name: value for name, value in cleaned.items() if value != ""}


def clean_server_config(config: dict[str, str]) -> dict[str, str]:
    """Validate a PUT /1.0 config as LXD does and return what to store (defaults and "" dropped)."""
    # LXD: doApi10Update checks the member's own keys, then RBAC/Candid, then the cluster-wide keys.
    node = _clean_schema({k: v for k, v in config.items() if k in SERVER_NODE_KEYS}, SERVER_NODE_KEYS)
    cluster_keys = {k: v for k, v in config.items() if k not in SERVER_NODE_KEYS}
    if any(v for k, v in cluster_keys.items() if k.startswith("candid.")) and any(
        v for k, v in cluster_keys.items() if k.startswith("rbac.")
    ):
        raise ConfigError("RBAC and Candid are mutually exclusive")
    cluster = _clean_schema(cluster_keys, SERVER_CLUSTER_KEYS)
    _check_listeners(node)
    return {**node, **cluster}
