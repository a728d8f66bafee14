"""The gunicorn worker class ``serve`` runs: an asyncio event loop over every listener of the
arbiter, and a pool of threads for the WSGI stack (see the package docstring)."""

import asyncio
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor

from gunicorn.util import parse_address
from gunicorn.workers.base import Worker

from .connection import Connection, Site
from .https_address import ConfiguredHTTPS
from .tls import TLSProtocol, server_context


class LXDWorker(Worker):
    """One worker process: the loop owns the connections, ``threads`` threads run requests."""

    def init_process(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.graceful = True
        self.stopping = asyncio.Event()
        super().init_process()

    def init_signals(self):
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        # SIGTERM: finish what is in progress (gunicorn's graceful stop); SIGINT/SIGQUIT: stop now.
        self.loop.add_signal_handler(signal.SIGTERM, self._stop, True)
        self.loop.add_signal_handler(signal.SIGINT, self._stop, False)
        self.loop.add_signal_handler(signal.SIGQUIT, self._stop, False)
        self.loop.add_signal_handler(signal.SIGUSR1, self.log.reopen_files)
        self.loop.add_signal_handler(signal.SIGWINCH, lambda: None)
        self.loop.add_signal_handler(signal.SIGABRT, self._abort)

    def _stop(self, graceful):
        self.alive = False
        self.graceful = self.graceful and graceful
        self.stopping.set()

    def _abort(self):
        self.alive = False
        self.cfg.worker_abort(self)
        os._exit(1)

    def run(self):
        executor = ThreadPoolExecutor(max_workers=self.cfg.threads, thread_name_prefix="lxdsite-request")
        try:
            self.loop.run_until_complete(self._serve(executor))
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            self.loop.close()

    async def _serve(self, executor):
        access_log = self.log.access_log if self.cfg.accesslog else None
        site = Site(self.loop, executor, self.wsgi, keepalive=self.cfg.keepalive, access_log=access_log)
        https = {parse_address(address) for address in getattr(self.app, "https", ())}
        tls_files = getattr(self.app, "tls_files", None)
        tls = server_context(*tls_files) if tls_files else None
        servers = []
        for listener in self.sockets:
            # The --https listeners speak TLS; the unix socket and --bind ones plain HTTP.
            if listener.sock.family != socket.AF_UNIX and listener.cfg_addr in https:
                factory = lambda: TLSProtocol(tls, Connection(site, tls=True))  # noqa: E731
            else:
                factory = lambda: Connection(site)  # noqa: E731
            servers.append(await self.loop.create_server(factory, sock=listener.sock))
        # core.https_address: followed once a second, as `lxc config set` changes it.
        configured = ConfiguredHTTPS(
            self.loop, lambda: TLSProtocol(tls, Connection(site, tls=True)), getattr(self.app, "https", ())
        )
        while self.alive:
            self.notify()
            if tls is not None:
                configured.poll(executor)
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            # The arbiter's heartbeat: once a second, or at once when a signal asks to stop.
            try:
                async with asyncio.timeout(1):
                    await self.stopping.wait()
            except TimeoutError:
                pass
        for server in servers:
            server.close()
        await configured.close()
        await site.stop(self.cfg.graceful_timeout if self.graceful else 0)
