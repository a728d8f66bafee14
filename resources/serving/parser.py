"""Requests read from a connection's bytes by llhttp (Node.js's parser, through httptools).

``RequestReader.feed`` parses what arrives and queues what it makes, in order: a ``Request``
once its head is complete, each chunk of its body as bytes, then ``END``. Pipelined requests
queue one after another. llhttp validates the framing (Content-Length, chunked encoding) and
the head's syntax; the limits LXD's Go server puts on a head are applied here.
"""

from collections import deque
from dataclasses import dataclass

import httptools

# The end of a request's body (its last chunk, or its head when it has none).
END = object()
# The most a request's head may hold: Go's (LXD's) limit is 1 MiB, real heads a few hundred bytes.
MAX_HEAD = 64 * 1024
# A request target longer than this gets 414, as gunicorn's limit did.
MAX_REQUEST_LINE = 8190


@dataclass
class Request:
    """A request's head: the method and target as sent, header names in lower case."""

    method: bytes
    target: bytes
    http_version: bytes
    headers: list
    keep_alive: bool
    content_length: int | None
    chunked: bool

    @property
    def has_body(self):
        return self.chunked or bool(self.content_length)

    def header(self, name):
        """The first value of header ``name`` (lower case), b"" when absent."""
        return next((value for key, value in self.headers if key == name), b"")


class RequestReader:
    """llhttp's callbacks turned into a queue of ``Request``, body chunks and ``END``."""

    def __init__(self):
        self.parser = httptools.HttpRequestParser(self)
        self.events = deque()
        # (status, text) once the bytes cannot be a request; nothing more is parsed.
        self.error = None
        # The bytes after the head of a request that switches protocols (a WebSocket's frames).
        self.upgraded = None
        self._head_size = 0
        self._in_head = False
        self._url = b""
        self._headers = []

    def feed(self, data):
        if self.upgraded is not None:
            # The other protocol's bytes, until its reader takes over.
            self.upgraded += data
            return
        if self.error is not None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.upgraded = data[upgrade.args[0] :]
        except httptools.HttpParserError as error:
            if self.error is None:
                self.error = (400, str(error) or "Bad Request")
            return
        if self._in_head:
            self._head_size += len(data)
            if self._head_size > MAX_HEAD:
                self.error = (431, "Request Header Fields Too Large")

    def next_event(self):
        """The next queued ``Request``, body chunk or ``END``; None when nothing is queued."""
        return self.events.popleft() if self.events else None

    @property
    def in_head(self):
        """Whether part of a request's head has arrived, but not all of it."""
        return self._in_head

    # llhttp's callbacks -----------------------------------------------------------------

    def on_message_begin(self):
        self._in_head = True
        self._head_size = 0
        self._url = b""
        self._headers = []

    def on_url(self, url):
        self._url += url
        if len(self._url) > MAX_REQUEST_LINE and self.error is None:
            self.error = (414, "Request-URI Too Long")

    def on_header(self, name, value):
        self._headers.append((name.lower(), value))

    def on_headers_complete(self):
        self._in_head = False
        if self.error is not None:
            return
        length = next((value for name, value in self._headers if name == b"content-length"), None)
        chunked = any(name == b"transfer-encoding" and b"chunked" in value.lower() for name, value in self._headers)
        self.events.append(
            Request(
                method=self.parser.get_method(),
                target=self._url,
                http_version=self.parser.get_http_version().encode("ascii"),
                headers=self._headers,
                keep_alive=self.parser.should_keep_alive(),
                content_length=None if length is None else int(length),
                chunked=chunked,
            )
        )

    def on_body(self, body):
        self.events.append(bytes(body))

    def on_message_complete(self):
        self.events.append(END)
