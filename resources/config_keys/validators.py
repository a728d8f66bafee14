"""Value validators (shared/validate/validate.go), the building blocks of every area's rules."""

import itertools
import re
from collections.abc import Callable

import yaml

from ..go import go_quote
from .errors import ConfigError
from .go_parse import (
    _DIGITS,
    _GO_SPACE,
    _atoi,
    _cron_spec,
    _go_len,
    _go_list,
    _is_ipv4,
    _parse_cidr,
    _parse_int,
    _parse_ip,
    _parse_uint,
    _yaml_error,
    yaml_unmarshal_error,
)

Validator = Callable[[str], None]


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


_BOOL = optional(is_bool)


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
    raise ConfigError(f"yaml: unmarshal errors:\n  {yaml_unmarshal_error(node, 'struct {}')}")


def is_cloud_init_user_data(value: str) -> None:
    """LXD: validate.IsCloudInitUserData (only #cloud-config bodies must be YAML)."""
    if value == "#cloud-config" or value.startswith("#cloud-config\n"):
        body = value.split("\n", 1)
        if len(body) == 2:
            is_yaml(body[1])
