"""The TCP listeners' TLS layer: any client certificate completes the handshake and reaches the
request, for the application to decide trust (LXD clients present self-signed ones)."""

import asyncio
import contextlib
import hashlib
import http.client
import json
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from resources.serving.connection import Connection, Site
from resources.serving.tls import TLSProtocol, server_context
from resources.trust import CLIENT_CERTIFICATE_KEY
from tests.support.certificates import self_signed


def certificate_echo(environ, start_response):
    """A WSGI app answering the SHA-256 of the client certificate its request carries."""
    der = environ.get(CLIENT_CERTIFICATE_KEY)
    answer = {"fingerprint": der and hashlib.sha256(der).hexdigest(), "scheme": environ["wsgi.url_scheme"]}
    body = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@contextlib.contextmanager
def tls_listener(tmp_path):
    """The workers' connection handling behind the TLS layer, on an event loop in a thread: (port, server cert)."""
    cert, key = self_signed(tmp_path, "server")
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(2)
    site = Site(loop, executor, certificate_echo, keepalive=5)
    context = server_context(cert, key)
    server = loop.run_until_complete(
        loop.create_server(lambda: TLSProtocol(context, Connection(site, tls=True)), "127.0.0.1", 0)
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1], cert
    finally:

        async def stop():
            server.close()
            await site.stop(0)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        executor.shutdown()


def ask(port, server_cert, client=None):
    context = ssl.create_default_context(cafile=str(server_cert))
    if client:
        context.load_cert_chain(*client)
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", "/1.0")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_an_unknown_self_signed_client_certificate_reaches_the_request(tmp_path):
    client_cert, client_key = self_signed(tmp_path, "client")
    der = x509.load_pem_x509_certificate(client_cert.read_bytes()).public_bytes(Encoding.DER)
    with tls_listener(tmp_path) as (port, server_cert):
        status, answer = ask(port, server_cert, (client_cert, client_key))
    assert status == 200
    assert answer == {"fingerprint": hashlib.sha256(der).hexdigest(), "scheme": "https"}


def test_a_client_without_a_certificate_is_served_too(tmp_path):
    with tls_listener(tmp_path) as (port, server_cert):
        assert ask(port, server_cert) == (200, {"fingerprint": None, "scheme": "https"})


def test_pythons_ssl_module_would_refuse_that_client(tmp_path):
    """Why the TLS layer is pyOpenSSL's: with ``ssl``, asking for a client certificate means
    verifying it, and an unknown self-signed one fails the handshake."""
    cert, key = self_signed(tmp_path, "server")
    client_cert, client_key = self_signed(tmp_path, "client")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server_side.verify_mode = ssl.CERT_OPTIONAL
    with contextlib.closing(socket.create_server(("127.0.0.1", 0))) as listener:
        port = listener.getsockname()[1]
        failures = []

        def serve_one():
            accepted, _ = listener.accept()
            try:
                server_side.wrap_socket(accepted, server_side=True).close()
            except ssl.SSLError as error:
                failures.append(error)
            finally:
                accepted.close()

        thread = threading.Thread(target=serve_one)
        thread.start()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            ask(port, cert, (client_cert, client_key))
        thread.join(10)
    assert len(failures) == 1
    assert "certificate" in str(failures[0]).lower()
