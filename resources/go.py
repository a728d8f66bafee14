"""Go's encodings, as LXD's answers and messages spell values.

LXD is written in Go: its ETags hash ``encoding/json`` output, its messages quote names with
``%q`` (``strconv.Quote``) and its times are ``time.Time`` in RFC 3339 with nanoseconds. This
module is the one place that reproduces them.
"""

import datetime
import json
import re

# Go escapes these in JSON strings: control characters, quote, backslash, and (HTML-safe
# encoding, on by default in json.Encoder) <, >, &, U+2028 and U+2029.
_JSON_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029]')
_JSON_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# strconv.Quote's short escapes.
_QUOTE_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}

# Go's zero time.Time: what an unset time decodes to.
GO_ZERO_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)


class GoStruct(dict):
    """A Go struct: its fields encode in declaration order, where a map's keys are sorted."""


def _json_escape(match):
    """Escape one character the way Go 1.19's encoding/json does."""
    char = match.group()
    return _JSON_SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def go_json(value):
    """Encode ``value`` exactly as Go's json.Encoder would, without the trailing newline."""
    if isinstance(value, str):
        return '"' + _JSON_ESCAPE.sub(_json_escape, value) + '"'
    if isinstance(value, GoStruct):
        items = value.items()
    elif isinstance(value, dict):
        items = sorted(value.items())
    elif isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    else:
        # null, true/false and numbers are spelled alike in Go and Python.
        return json.dumps(value)
    return "{" + ",".join(f"{go_json(key)}:{go_json(item)}" for key, item in items) + "}"


def go_quote(text):
    """Go's ``strconv.Quote`` (``%q``), as LXD formats names and values into its messages."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_time(value):
    """A time as Go shows it (RFC 3339 with nanoseconds): UTC ``Z``, no trailing zeros; unset is Go's zero time."""
    if value is None:
        return "0001-01-01T00:00:00Z"
    value = value.astimezone(datetime.UTC)
    # Go pads the year to four digits; strftime's %Y does not on glibc (year 1 is "1").
    text = f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"
