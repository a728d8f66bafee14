"""Go primitives whose messages LXD passes through.

Go's strconv, net and time parsers and the Go libraries LXD validates with (robfig/cron v3,
go-yaml v2, go-shellquote), reproduced as far as their error texts reach LXD's answers.
"""

import ipaddress
import math
import re

import yaml

from ..go import go_quote
from .errors import ConfigError

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


# The same for LXD's other integer parameters (``/wait?timeout=``).
go_atoi = _atoi


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
    if re.fullmatch("[-+]?[0-9]+", digits) and not _fits_64_bits(digits):
        # go-yaml reads integers beyond 64 bits as floats, and beyond float64 as strings.
        return "!!str" if math.isinf(float(digits)) else "!!float"
    return tag


def _fits_64_bits(digits: str) -> bool:
    """Whether a decimal integer fits Go's int64 or uint64 (read without int(): Python refuses
    to convert more than 4,300 digits)."""
    significant = digits.lstrip("+-").lstrip("0") or "0"
    return len(significant) <= 20 and -(2**63) <= int(digits[:1].strip("0123456789") + significant) < 2**64


def yaml_unmarshal_error(node: yaml.Node, into: str) -> str:
    """go-yaml v2's line for a node that cannot be decoded into the Go type ``into``."""
    tag = _go_yaml_tag(node)
    shown = ""
    if isinstance(node, yaml.ScalarNode):
        raw = node.value.encode("utf-8", "surrogatepass")
        shown = " `" + (raw[:7] + b"..." if len(raw) > 10 else raw).decode("utf-8", "replace") + "`"
    return f"line {node.start_mark.line + 1}: cannot unmarshal {tag}{shown} into {into}"


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
