"""Documents as YAML: written as LXD's ``show`` prints them, read back into JSON values."""

import json
import re

import yaml

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


def load_yaml(text, *, strings=False):
    """Parse a YAML document into JSON values; ``strings`` keeps ``limits.cpu: 2`` as "2", as ``lxc edit`` does."""
    try:
        data = yaml.load(text, Loader=_StringScalarLoader if strings else _JSONLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: e.g. an explicit !!timestamp
        raise DocumentError(f"Invalid YAML: {exc}") from exc
    try:
        # What the API would decode from JSON: string keys, no NaN, no binary or sets.
        return json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"Invalid YAML: {exc} (only JSON's types can be stored)") from exc
