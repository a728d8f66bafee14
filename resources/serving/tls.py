"""TLS for the TCP listeners, where the application decides whom a client certificate trusts.

LXD clients present a self-signed certificate the server does not know yet (``lxc remote
add`` then sends it to ``/1.0/certificates``). Python's ``ssl`` module fails such a handshake
before the application sees the certificate, so the TCP listeners speak TLS through pyOpenSSL
instead: its verify callback accepts any certificate, and the connection's transport hands
the certificate to the request (``get_extra_info("peercert_der")``) for trust to be decided
there. OpenSSL runs on memory buffers, so the event loop still owns the socket.
"""

import asyncio
import contextlib

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL

# Most plaintext read from OpenSSL at a time.
READ_SIZE = 256 * 1024


def server_context(certfile, keyfile):
    """A TLS 1.2+ server context that asks for a client certificate and accepts any."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.use_certificate_chain_file(certfile)
    context.use_privatekey_file(keyfile)
    context.check_privatekey()
    # Asked for, not required, and never verified here: trust is the application's decision.
    context.set_verify(SSL.VERIFY_PEER, lambda connection, certificate, error, depth, ok: True)
    return context


class TLSProtocol(asyncio.Protocol):
    """Decrypts what the client sends for ``inner`` (a ``Connection``) and encrypts its answers."""

    def __init__(self, context, inner):
        self.tls = SSL.Connection(context, None)
        self.tls.set_accept_state()
        self.inner = inner
        self.raw = None
        self.transport = None
        self.handshaken = False

    def connection_made(self, transport):
        self.raw = transport
        self.transport = TLSTransport(self)

    def data_received(self, data):
        self.tls.bio_write(data)
        if not self.handshaken and not self._handshake():
            return
        plain, ended = bytearray(), False
        while True:
            try:
                plain += self.tls.recv(READ_SIZE)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                ended = True
                break
            except SSL.Error:
                self.raw.abort()
                return
        self._flush()
        if plain:
            self.inner.data_received(bytes(plain))
        if ended and self.inner.eof_received() is not True:
            self.transport.close()

    def _handshake(self):
        """Go on with the handshake; True once it is done (the inner protocol then starts)."""
        try:
            self.tls.do_handshake()
        except SSL.WantReadError:
            self._flush()
            return False
        except SSL.Error:
            # Not TLS, or nothing both sides speak: there is no one to answer.
            self._flush()
            self.raw.close()
            return False
        self._flush()
        self.handshaken = True
        self.inner.connection_made(self.transport)
        return True

    def _flush(self):
        """Send what OpenSSL has written for the client."""
        while True:
            try:
                data = self.tls.bio_read(READ_SIZE)
            except SSL.WantReadError:
                return
            self.raw.write(data)

    def eof_received(self):
        if self.handshaken:
            self.inner.eof_received()
        return True

    def connection_lost(self, exc):
        if self.handshaken:
            self.inner.connection_lost(exc)

    def pause_writing(self):
        if self.handshaken:
            self.inner.pause_writing()

    def resume_writing(self):
        if self.handshaken:
            self.inner.resume_writing()


class TLSTransport(asyncio.Transport):
    """The transport the inner protocol writes its plaintext to."""

    def __init__(self, protocol):
        super().__init__()
        self._protocol = protocol
        self._closing = False

    def get_extra_info(self, name, default=None):
        if name == "peercert_der":
            certificate = self._protocol.tls.get_peer_certificate(as_cryptography=True)
            return None if certificate is None else certificate.public_bytes(Encoding.DER)
        return self._protocol.raw.get_extra_info(name, default)

    def write(self, data):
        if self._closing:
            return
        self._protocol.tls.sendall(data)
        self._protocol._flush()

    def is_closing(self):
        return self._closing or self._protocol.raw.is_closing()

    def close(self):
        if self._closing:
            return
        self._closing = True
        # close_notify, when the handshake got that far.
        with contextlib.suppress(SSL.Error):
            self._protocol.tls.shutdown()
        self._protocol._flush()
        self._protocol.raw.close()

    def abort(self):
        self._closing = True
        self._protocol.raw.abort()

    def pause_reading(self):
        self._protocol.raw.pause_reading()

    def resume_reading(self):
        self._protocol.raw.resume_reading()

    def is_reading(self):
        return self._protocol.raw.is_reading()

    def get_write_buffer_size(self):
        return self._protocol.raw.get_write_buffer_size()

    def set_write_buffer_limits(self, high=None, low=None):
        self._protocol.raw.set_write_buffer_limits(high, low)
