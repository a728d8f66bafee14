"""Start lxdsite the way LXD starts: `LXD_DIR=DIR python manage.py serve`.

The API listens on `DIR/unix.socket` (mode 0660, as LXD's socket); with `--https`, on TCP over
TLS with the server's identity (`DIR/server.crt`, made on first start as LXD makes it, or
`--tls-cert`/`--tls-key`), where clients are trusted by their certificates as LXD trusts them;
with `--bind`, on TCP in plain HTTP (for a reverse proxy, the admin, API tokens). Gunicorn's
arbiter runs in this process through its custom-application API and keeps the workers
(`resources/serving/`) alive.
"""

import gc
import os
import socket
import stat
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from gunicorn.app.base import BaseApplication
from gunicorn.sock import UnixSocket

from lxdsite.secret_key import stored_secret_key
from resources.images import recover_uploads
from resources.instance_backups import recover_backups
from resources.instance_files import recover_trees
from resources.server_identity import ensure_server_certificate

# LXD creates its unix socket srw-rw----: the owner and its group may talk to the API.
SOCKET_MODE = 0o660
# LXD_DIR holds the database; like /var/lib/lxd it is traversable but not listable.
LXD_DIR_MODE = 0o711


def close_database_connections(arbiter, worker):
    """Gunicorn pre_fork hook: close the master's database connections before forking.

    It also freezes the objects the master has loaded (Django, DRF, the app): a worker's
    full garbage collection then skips them (about 30 ms each here otherwise), and their
    memory stays shared with the master.
    """
    # A connection (a SQLite handle, a PostgreSQL socket) copied into two processes is
    # used by both at once and corrupts the session; each worker opens its own.
    connections.close_all()
    gc.freeze()


def recover_worker_uploads(arbiter, worker):
    """Gunicorn child_exit hook (in the master): clean up what a dead worker's uploads left,
    now rather than at the next start (an export of a half-installed image would fail)."""
    try:
        recover_uploads(worker.pid)
        recover_trees(worker.pid)
        recover_backups(worker.pid)
    except Exception:
        # The master must outlive a database it cannot reach; the next start cleans up.
        arbiter.log.exception("Cleaning up the uploads of worker %s failed", worker.pid)
    finally:
        # The next worker forks from this process: it must not inherit a connection.
        connections.close_all()


def open_unix_sockets(arbiter):
    """Gunicorn when_ready hook: give the bound unix sockets LXD's mode 0660."""
    for listener in arbiter.LISTENERS:
        if isinstance(listener, UnixSocket):
            os.chmod(listener.cfg_addr, SOCKET_MODE)


def remove_stale_socket(path):
    """Remove a socket left by a server that died; refuse if a server still answers."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise CommandError(f"{path} exists and is not a socket")
    # Gunicorn would unlink any socket and take over; LXD refuses to start twice instead.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(str(path)) == 0:
            raise CommandError(f"A server is already listening on {path}")
    path.unlink()


# What serve keeps under LXD_DIR besides the socket: the database (and its journal), the
# secret key, the image files. LXD keeps its database and images 0700 to its user.
PRIVATE_FILES = ("lxdsite.sqlite3", "lxdsite.sqlite3-wal", "lxdsite.sqlite3-shm", "secret.key")


def keep_state_private(lxd_dir):
    """Make what the server keeps private to its user, and everything it writes from now on."""
    os.umask(0o077)
    for name in PRIVATE_FILES:
        path = lxd_dir / name
        if path.exists():
            path.chmod(0o600)
    # LXD makes its images directory at start, as lxdsite does.
    settings.LXDSITE_IMAGES_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.LXDSITE_IMAGES_DIR.chmod(0o700)


class LXDApplication(BaseApplication):
    """Gunicorn application serving lxdsite's WSGI app with the given settings.

    ``tls_files`` (certificate, key) is the identity the ``https`` listeners (HOST:PORT as given
    to gunicorn) present; the workers read them.
    """

    def __init__(self, options, tls_files=None, https=()):
        self.options = options
        self.tls_files = tls_files
        self.https = tuple(https)
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from lxdsite.wsgi import application

        return application


class Command(BaseCommand):
    """Run the LXD API on LXD_DIR/unix.socket (and TCP with --bind) until SIGTERM/SIGINT."""

    help = "Serve the LXD API on $LXD_DIR/unix.socket, like the lxd daemon."

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            action="append",
            default=[],
            metavar="HOST:PORT",
            help="Also listen on this TCP address in plain HTTP (repeatable).",
        )
        parser.add_argument(
            "--https",
            action="append",
            default=[],
            metavar="HOST:PORT",
            help="Also listen on this TCP address over TLS, as LXD's core.https_address (repeatable).",
        )
        parser.add_argument("--workers", type=int, default=2, help="Worker processes (default 2).")
        parser.add_argument("--threads", type=int, default=4, help="Threads per worker (default 4).")
        parser.add_argument("--access-log", action="store_true", help="Log every request to stdout.")
        parser.add_argument(
            "--tls-cert", metavar="PEM", help="Serve --https with this certificate, not LXD_DIR/server.crt."
        )
        parser.add_argument("--tls-key", metavar="PEM", help="The private key of --tls-cert.")

    def handle(self, *args, bind, https, workers, threads, access_log, tls_cert, tls_key, **options):
        if bool(tls_cert) != bool(tls_key):
            raise CommandError("--tls-cert and --tls-key go together")
        if tls_cert and not https:
            raise CommandError("--tls-cert needs an --https address to serve")
        if set(bind) & set(https):
            raise CommandError("An address is either --bind (plain HTTP) or --https, not both")
        lxd_dir = settings.LXD_DIR
        if not lxd_dir.is_dir():
            lxd_dir.mkdir(parents=True)
            lxd_dir.chmod(LXD_DIR_MODE)
        keep_state_private(lxd_dir)
        if not os.environ.get("LXDSITE_SECRET_KEY"):
            # The settings could not keep a key when LXD_DIR did not exist yet; the workers
            # fork from this process and sign with the stored one.
            settings.SECRET_KEY = stored_secret_key(lxd_dir)
        call_command("migrate", interactive=False, verbosity=0)
        # Uploads cut short by a server that was killed leave temporary files; no upload runs yet.
        recover_uploads()
        recover_trees()
        recover_backups()
        # migrate and the clean-up left connections open in this (master) process; see the pre_fork hook.
        connections.close_all()

        socket_path = lxd_dir / "unix.socket"
        remove_stale_socket(socket_path)

        # The identity is LXD's, made on the first start whether or not it is served yet.
        tls_files = (tls_cert, tls_key) if tls_cert else tuple(map(str, ensure_server_certificate(lxd_dir)))
        # The workers fork from here: GET /1.0 shows the certificate they present.
        settings.LXDSITE_TLS_CERT = str(Path(tls_files[0]).resolve())
        # The addresses certificate add tokens name (LXD: its core.https_address).
        settings.LXDSITE_HTTPS_ADDRESSES = list(https)
        options = {"workers": workers, "threads": threads, "access_log": access_log, "name": f"lxdsite {lxd_dir}"}
        listeners = [f"unix:{socket_path}", *https, *bind]
        LXDApplication(gunicorn_options(listeners, **options), tls_files, https).run()


def gunicorn_options(bind, *, workers, threads, access_log, name):
    """The gunicorn settings lxdsite serves with."""
    return {
        "bind": bind,
        "workers": workers,
        # An event loop holds the connections (slow, idle and WebSocket ones cost a file
        # descriptor), and `threads` threads run complete requests (resources/serving/).
        "worker_class": "resources.serving.worker.LXDWorker",
        "threads": threads,
        # Seconds an idle kept-alive connection stays open: longer than Go's clients keep
        # theirs (90 s), so the client closes first and never sends on a closing connection.
        "keepalive": 120,
        # Preload: manage.py has already set Django up in this process, so the
        # workers inherit it either way; preloading builds the handler once and
        # fails fast. Database connections are the one thing that must not
        # cross the fork, hence the pre_fork hook.
        "preload_app": True,
        "pre_fork": close_database_connections,
        "child_exit": recover_worker_uploads,
        "when_ready": open_unix_sockets,
        # Gunicorn applies this umask only around bind(): the socket is born
        # owner-only and widened to 0660 in when_ready, never world-writable.
        "umask": 0o177,
        "accesslog": "-" if access_log else None,
        # The control socket defaults to one path per user (~/.gunicorn), which
        # two servers (tests, several LXD_DIRs) would fight over, and it runs a
        # thread in the master that later forks would copy.
        "control_socket_disable": True,
        # SIGTERM lets requests in progress finish for this long, then stops (gunicorn: 30 s).
        "graceful_timeout": 10,
        # Each worker touches its heartbeat file on every loop: on tmpfs that is no disk write.
        **({"worker_tmp_dir": "/dev/shm"} if os.path.isdir("/dev/shm") else {}),
        "proc_name": name,
    }
