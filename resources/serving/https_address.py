"""``core.https_address``: the HTTPS listener LXD opens when the key is set (``lxc config set
core.https_address 127.0.0.1:8443``) and closes when it is unset, without a restart.

Each worker reads the key once a second (on a pool thread) and binds the address itself with
``SO_REUSEPORT``, so every worker accepts on it as on the arbiter's listeners. An address a
``serve --https`` listener already serves is left to it.
"""

import logging
import socket

from gunicorn.util import parse_address

logger = logging.getLogger(__name__)
# LXD's default HTTPS port, for an address given without one.
DEFAULT_PORT = 8443


def configured_https_address():
    """The server's ``core.https_address`` ("" when unset), read from the database."""
    from django.db import close_old_connections

    from ..models import Server

    close_old_connections()
    config = Server.objects.filter(pk=Server.SINGLETON_ID).values_list("config", flat=True).first() or {}
    return config.get("core.https_address", "")


def listen_address(value):
    """(host, port) of an address as LXD reads ``core.https_address``: the port defaults to 8443,
    an empty host is every address."""
    if value.startswith("["):
        host, _, port = value[1:].partition("]")
        return host, int(port[1:]) if port.startswith(":") else DEFAULT_PORT
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    # A host alone, or an IPv6 address without brackets.
    return value, DEFAULT_PORT


def bind(address):
    """A listening socket on ``address`` shared with the other workers (``SO_REUSEPORT``)."""
    host, port = address
    family = socket.AF_INET6 if ":" in host or not host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # "" and "::" accept IPv4 too, as Go's listener on ":8443" does.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host or "::", port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class ConfiguredHTTPS:
    """The worker's listener on ``core.https_address``, opened and closed to follow the key."""

    def __init__(self, loop, factory, served=()):
        self.loop = loop
        self.factory = factory
        # (host, port) of the `serve --https` listeners: those addresses are served already.
        self.served = {parse_address(address) for address in served}
        self.address = ""
        self.server = None
        self.failed = None
        self.following = None

    def poll(self, executor):
        """Follow the key in the background (the heartbeat never waits for the database or a busy pool)."""
        if self.following is None or self.following.done():
            self.following = self.loop.create_task(self.follow(executor))

    async def follow(self, executor):
        """Read the key and open, move or close the listener to match it."""
        try:
            wanted = await self.loop.run_in_executor(executor, configured_https_address)
        except Exception:
            # The database may be restarting: keep the listener as it is and ask again.
            return
        if wanted == self.address:
            return
        self._close_listener()
        if not wanted:
            return
        try:
            address = listen_address(wanted)
            if address in self.served:
                self.address = wanted
                return
            self.server = await self.loop.create_server(self.factory, sock=bind(address))
        except (OSError, ValueError) as exc:
            if self.failed != wanted:
                logger.warning("Cannot listen on core.https_address %s: %s", wanted, exc)
                self.failed = wanted
            return
        self.address, self.failed = wanted, None

    async def close(self):
        """Stop following the key and close the listener (the worker stops)."""
        if self.following is not None and not self.following.done():
            self.following.cancel()
        self._close_listener()

    def _close_listener(self):
        if self.server is not None:
            # No new connections; those open finish as they would (LXD keeps them too).
            self.server.close()
            self.server = None
        self.address = ""
