"""The HTTP server ``manage.py serve`` runs: connections cost a file descriptor, requests a thread.

Gunicorn's arbiter binds the listeners (``LXD_DIR/unix.socket`` and the ``--bind`` addresses)
and keeps ``--workers`` worker processes of class ``worker.LXDWorker`` alive. Each worker runs
one asyncio event loop that owns every connection and a pool of ``--threads`` threads that run
the WSGI stack (``lxdsite/wsgi.py``):

- ``connection.py``: reads requests in the event loop (``parser.py``: llhttp through
  httptools). A client that sends its headers one byte at a time, or keeps an idle connection,
  holds no thread; a request reaches a thread once its head is complete (and its body, up to
  ``BUFFERED_BODY``).
- ``wsgi_bridge.py``: runs one request on a pool thread and hands its answer back to the loop;
  a streamed answer (an image export) is produced one chunk per thread job as the client
  reads it, so a slow reader holds no thread either.
- ``websocket.py``: ``/1.0/events`` streams from the event loop once the view has accepted
  the listener: any number of listeners, no thread each.
- ``tls.py``: TLS on the TCP listeners through pyOpenSSL, which completes the handshake with any
  client certificate and hands it to the request (trust is the application's decision).

The same process model serves the unix socket and TCP (plain or TLS): there is one arbiter.
"""
