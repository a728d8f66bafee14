"""LXD's response envelope, and the JSON wire format under /1.0.

Every answer is an envelope: ``sync`` for data, ``error`` for failures (built only by
``exceptions.lxd_exception_handler``), and later ``async`` for operations. Request bodies
are JSON whatever their Content-Type says, as LXD reads them.
"""

import json

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response


def sync_envelope(metadata):
    """LXD's sync envelope around ``metadata``."""
    return {
        "type": "sync",
        "status": "Success",
        "status_code": 200,
        "operation": "",
        "error_code": 0,
        "error": "",
        "metadata": metadata,
    }


class SyncResponse(Response):
    """200 with LXD's sync envelope (LXD answers writes with ``metadata: {}``)."""

    def __init__(self, metadata, headers=None):
        super().__init__(sync_envelope(metadata), status=status.HTTP_200_OK, headers=headers)


class CreatedResponse(Response):
    """201 + Location, envelope ``status_code`` 200 and ``metadata`` null, as LXD answers a create."""

    def __init__(self, location):
        super().__init__(sync_envelope(None), status=status.HTTP_201_CREATED, headers={"Location": location})


def to_json_bytes(data):
    """Compact UTF-8 JSON with LXD's trailing newline; not HTML-escaped, unlike the ETag input.

    orjson writes the bytes ``json.dumps(ensure_ascii=False)`` writes, several times faster (a
    200-instance list: 2 ms against 0.3); what it refuses (an integer over 64 bits, a key that
    is not a string) goes through json.
    """
    try:
        return orjson.dumps(data) + b"\n"
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class EncodedEnvelope(dict):
    """An envelope encoded once, ahead of rendering (to hash the bytes): they are sent as they are."""

    def __init__(self, envelope):
        super().__init__(envelope)
        self.encoded = to_json_bytes(envelope)

    @classmethod
    def from_encoded(cls, encoded):
        """An envelope encoded earlier (a kept answer, ``response_cache``): only its bytes are kept."""
        envelope = dict.__new__(cls)
        envelope.encoded = encoded
        return envelope


class LXDJSONRenderer(BaseRenderer):
    """LXD's JSON on the wire."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, EncodedEnvelope):
            return data.encoded
        return b"" if data is None else to_json_bytes(data)


def json_strings(value):
    """Every string in a decoded JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def unstorable_text(value):
    """What makes a decoded JSON value's text unstorable, or None: a NUL or a lone surrogate
    (``\\ud800``).

    UTF-8 cannot carry a lone surrogate, and PostgreSQL's jsonb refuses ``\\u0000``
    (LXD's SQLite silently cuts the string at NUL instead).
    """
    for text in json_strings(value):
        if "\x00" in text:
            return "string contains a NUL character"
        try:
            text.encode()
        except UnicodeEncodeError:
            return "string contains an unpaired surrogate"
    return None


def _reject_unstorable(value):
    """Refuse text the databases cannot store (``unstorable_text``)."""
    if (problem := unstorable_text(value)) is not None:
        raise ParseError(f"Invalid JSON: {problem}")


class RequestTooLarge(APIException):
    """413: the body is over LXDSITE_MAX_BODY_SIZE."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large"
    default_code = "request_too_large"


class LXDJSONParser(BaseParser):
    """JSON bodies, as LXD decodes them: bad syntax, bad UTF-8 or bad text is a clear 400."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.LXDSITE_MAX_BODY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes")
        try:
            data = json.loads(raw.decode())
        except UnicodeDecodeError as exc:
            raise ParseError("Invalid JSON: body is not UTF-8") from exc
        except ValueError as exc:
            raise ParseError(f"Invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("Invalid JSON: nested too deeply") from exc
        _reject_unstorable(data)
        return data


def asks_for_plain_json(environ):
    """Whether a request gets LXD's JSON without negotiation: what lxc and pylxd send (no
    Accept, ``*/*`` or ``application/json``) and no ``format=`` in the query."""
    return environ.get("HTTP_ACCEPT", "*/*") in ("*/*", "application/json") and "format=" not in environ.get(
        "QUERY_STRING", ""
    )


class LXDContentNegotiation(DefaultContentNegotiation):
    """Parse every body as JSON (LXD ignores Content-Type; ``curl -d`` sends a form type), answer JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        """LXD's JSON for what lxc and pylxd send (no Accept, or ``*/*``), without parsing headers."""
        if not format_suffix and asks_for_plain_json(request.META):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
