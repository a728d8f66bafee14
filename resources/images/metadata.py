"""metadata.yaml, parsed and checked as LXD does: go-yaml v2 decoding into ``api.ImageMetadata``.

The document is composed into nodes and only the fields LXD reads are decoded, each into its Go
type: a sequence or mapping where a string is expected is refused with go-yaml's text, so an
alias bomb (a few hundred bytes of anchors that expand to gigabytes) is never expanded.
"""

import datetime
import re
from dataclasses import dataclass

import yaml

from ..architectures import architecture_name
from ..config_keys.go_parse import yaml_unmarshal_error
from .errors import ImageError

# The escapes of a double-quoted YAML scalar that spell a code point (``\\`` escapes the backslash).
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|.)", re.DOTALL)
_INVALID_ESCAPE = "found invalid Unicode character escape code"


@dataclass
class ImageMetadata:
    """What LXD takes from metadata.yaml."""

    architecture: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    properties: dict


def _yaml_error(line, problem):
    """go-yaml's parser error: a line number unless the problem is on the first line."""
    return ImageError(f"yaml: line {line}: {problem}" if line > 1 else f"yaml: {problem}")


def _compose(raw):
    """The document's root node (None if empty), with go-yaml's scanner errors."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw  # PyYAML reports the bad byte.
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ImageError(f"yaml: line {line}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ImageError(f"yaml: {exc}") from exc
    except ValueError as exc:
        # An escape beyond Unicode (\U00110000): PyYAML's chr() fails where it stands.
        raise _yaml_error(loader.get_mark().line + 1, _INVALID_ESCAPE) from exc
    finally:
        loader.dispose()


def _nodes(root):
    """Every node of the document once (an alias is the node it names, visited once)."""
    seen, pending = set(), [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(item for pair in node.value for item in pair)


def _check_escapes(root):
    """go-yaml refuses a ``\\u`` escape of a surrogate, which PyYAML decodes into text no database stores."""
    for node in _nodes(root):
        if not isinstance(node, yaml.ScalarNode) or node.style != '"':
            continue
        if not any(0xD800 <= ord(char) <= 0xDFFF for char in node.value):
            continue
        source = node.start_mark.buffer[node.start_mark.index : node.end_mark.index]
        for match in _ESCAPE.finditer(source):
            code = int(match.group(1) or match.group(2) or "0", 16)
            if 0xD800 <= code <= 0xDFFF:
                raise _yaml_error(node.start_mark.line + 1 + source.count("\n", 0, match.start()), _INVALID_ESCAPE)


class _Decoder:
    """go-yaml's decoding of the nodes LXD reads; type mismatches are collected, as go-yaml does."""

    def __init__(self):
        self.errors = []
        self.constructor = yaml.SafeLoader("")

    def mismatch(self, node, into):
        self.errors.append(yaml_unmarshal_error(node, into))

    def string(self, node):
        """A scalar into a Go string: the text as written; null is ""."""
        if node is None or node.tag.endswith(":null"):
            return ""
        if not isinstance(node, yaml.ScalarNode):
            self.mismatch(node, "string")
            return ""
        if "\x00" in node.value:
            # LXD's database cuts the text at the NUL; PostgreSQL cannot store it.
            raise ImageError(f"yaml: line {node.start_mark.line + 1}: string contains a NUL character")
        return node.value

    def int64(self, node):
        """A scalar into a Go int64; null is 0."""
        if node is None or node.tag.endswith(":null"):
            return 0
        value = self.constructor.construct_object(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            self.mismatch(node, "int64")
            return 0
        return value

    def string_map(self, node):
        """A mapping into a Go map[string]string; null is empty."""
        if node is None or node.tag.endswith(":null"):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.mismatch(node, "map[string]string")
            return {}
        return {self.string(key): self.string(value) for key, value in node.value}


def _fields(root):
    """The top-level mapping's value nodes by key (a later duplicate wins, as in go-yaml)."""
    return {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}


def _timestamp(seconds, field):
    """A Unix time from metadata.yaml; absent is the epoch, as LXD stores it."""
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ImageError(f"Invalid {field} {seconds}: out of range") from exc


def parse_metadata(raw):
    """metadata.yaml, checked as LXD checks it."""
    root = _compose(raw)
    if root is None or root.tag.endswith(":null"):
        fields = {}
    elif isinstance(root, yaml.MappingNode):
        _check_escapes(root)
        fields = _fields(root)
    else:
        raise ImageError(f"yaml: unmarshal errors:\n  {yaml_unmarshal_error(root, 'api.ImageMetadata')}")
    decoder = _Decoder()
    architecture = decoder.string(fields.get("architecture"))
    creation_date = decoder.int64(fields.get("creation_date"))
    expiry_date = decoder.int64(fields.get("expiry_date"))
    properties = decoder.string_map(fields.get("properties"))
    if decoder.errors:
        raise ImageError("yaml: unmarshal errors:\n  " + "\n  ".join(decoder.errors))
    if architecture_name(architecture) is None:
        raise ImageError(f"Architecture isn't supported: {architecture}")
    if not creation_date:
        raise ImageError("Missing creation date")
    return ImageMetadata(
        architecture=architecture_name(architecture),
        created_at=_timestamp(creation_date, "creation_date"),
        expires_at=_timestamp(expiry_date, "expiry_date"),
        properties=properties,
    )
