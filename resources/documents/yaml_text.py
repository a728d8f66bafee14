"""Documents as YAML: written as LXD's ``show`` prints them, read back into JSON values."""

import json
import re

import yaml

from ..envelope import unstorable_text
from .errors import (
    DocumentError,
)


def dump_yaml(data):
    """Readable block YAML, keys sorted as LXD's ``show`` prints them."""
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1000)


class _StringScalarLoader(yaml.SafeLoader):
    """YAML where every scalar is the string it spells, as Go decodes YAML into map[string]string."""


_StringScalarLoader.yaml_implicit_resolvers = {}
# Only null keeps its meaning: Go leaves the zero value ("" or an empty map) for it.
_StringScalarLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), [*"~nN", ""]
)


class _JSONLoader(yaml.SafeLoader):
    """YAML's JSON types only: a date stays the text it spells, as in a JSON body."""


_JSONLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# go-yaml's limits on alias expansion (decode.go): the share of decoded nodes that may come
# from aliases falls from 99% to 10% as a document grows from 400,000 to 4,000,000 nodes.
_ALIAS_RATIO_RANGE = (400_000, 4_000_000)


def _allowed_alias_ratio(decoded):
    low, high = _ALIAS_RATIO_RANGE
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


def _check_aliasing(root):
    """Refuse a document that expands its aliases too far (an alias bomb), as go-yaml does.

    PyYAML shares an aliased node instead of copying it, but every JSON value made from the
    document copies it again: a few hundred bytes would become gigabytes.
    """
    decoded = from_aliases = 0
    seen = set()
    pending = [(root, False)]
    while pending:
        node, in_alias = pending.pop()
        in_alias = in_alias or id(node) in seen
        seen.add(id(node))
        decoded += 1
        from_aliases += in_alias
        if from_aliases > 100 and decoded > 1000 and from_aliases / decoded > _allowed_alias_ratio(decoded):
            raise yaml.YAMLError("document contains excessive aliasing")
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        # Document order: the first sight of a node is its anchor, every later one an alias.
        pending.extend((child, in_alias) for child in reversed(children))


def load_yaml(text, *, strings=False):
    """Parse a YAML document into JSON values; ``strings`` keeps ``limits.cpu: 2`` as "2", as ``lxc edit`` does."""
    loader = (_StringScalarLoader if strings else _JSONLoader)(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_aliasing(node)
        data = None if node is None else loader.construct_document(node)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: e.g. an explicit !!timestamp
        raise DocumentError(f"Invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    try:
        # What the API would decode from JSON: string keys, no NaN, no binary or sets.
        data = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"Invalid YAML: {exc} (only JSON's types can be stored)") from exc
    _check_storable(data)
    return data


def _check_storable(data):
    """Refuse what the API's JSON parser refuses (``envelope.unstorable_text``): NUL and lone surrogates."""
    if (problem := unstorable_text(data)) is not None:
        raise DocumentError(f"Invalid YAML: {problem}")
