"""metadata.yaml, parsed and checked as LXD does."""

import datetime
from dataclasses import dataclass

import yaml

from ..architectures import architecture_name
from .errors import ImageError


def _go_string(value):
    """A YAML scalar as Go's yaml decodes it into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timestamp(value):
    """A Unix time from metadata.yaml; absent is the epoch, as LXD stores it."""
    try:
        return datetime.datetime.fromtimestamp(int(value or 0), tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ImageError(f"yaml: unmarshal errors: cannot unmarshal {value!r} into int64") from exc


@dataclass
class ImageMetadata:
    """What LXD takes from metadata.yaml."""

    architecture: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    properties: dict


def parse_metadata(raw):
    """metadata.yaml, checked as LXD checks it."""
    try:
        document = yaml.safe_load(raw) or {}
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ImageError(f"yaml: line {line}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ImageError(f"yaml: {exc}") from exc
    if not isinstance(document, dict):
        raise ImageError("yaml: unmarshal errors: metadata.yaml is not a map")
    architecture = _go_string(document.get("architecture"))
    if architecture_name(architecture) is None:
        raise ImageError(f"Architecture isn't supported: {architecture}")
    if not document.get("creation_date"):
        raise ImageError("Missing creation date")
    properties = document.get("properties") or {}
    if not isinstance(properties, dict):
        raise ImageError("yaml: unmarshal errors: properties is not a map")
    return ImageMetadata(
        architecture=architecture_name(architecture),
        created_at=_timestamp(document.get("creation_date")),
        expires_at=_timestamp(document.get("expiry_date")),
        properties={str(key): _go_string(value) for key, value in properties.items()},
    )
