"""``manage.py import_from_lxd --socket PATH``: copy a running LXD's objects into lxdsite.

Server config, storage pools, profiles, images (their files included) and aliases, then instances with
their snapshots. Everything but the server-managed parts goes through lxdsite's own API,
called in-process, so it passes the same validation as any client's request; the
server-managed parts (volatile keys, status, times, snapshots) are stored by the same code as
`manage.py import` uses. A second run leaves equal objects equal (snapshots are written again).
"""

import http.client
import io
import json
import socket
from urllib.parse import quote

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from resources.documents import KINDS, DocumentError, store_instance_record
from resources.models import Instance, Project
from resources.trust import LISTENER_KEY

CHUNK = 1024 * 1024


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over LXD's unix socket."""

    def __init__(self, path):
        super().__init__("lxd", timeout=300)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class LXD:
    """A minimal client of the LXD being imported from."""

    def __init__(self, socket_path):
        self.socket_path = socket_path

    def open(self, path):
        """An open response to ``GET path``: the caller reads and closes it."""
        connection = _UnixConnection(self.socket_path)
        try:
            connection.request("GET", path)
        except OSError as exc:
            raise CommandError(f"Cannot reach LXD on {self.socket_path}: {exc}") from exc
        return connection.getresponse()

    def get(self, path):
        """The ``metadata`` of a sync answer."""
        with self.open(path) as response:
            body = json.loads(response.read() or b"{}")
        if response.status != 200 or body.get("type") == "error":
            raise CommandError(f"LXD refused GET {path}: {body.get('error') or response.status}")
        return body["metadata"]


class LXDSite:
    """lxdsite's own API, called in-process as a client of the unix socket would call it."""

    def __init__(self):
        # Django's handler alone: the served stack would mark this in-process caller as TCP.
        from lxdsite.wsgi import django_application

        self.application = django_application

    def request(self, method, path, body=b"", content_type="application/json", headers=None, length=None):
        """(status, parsed JSON body or None); a file-like ``body`` streams ``length`` bytes."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        stream = body if hasattr(body, "read") else io.BytesIO(body)
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path.partition("?")[0],
            "QUERY_STRING": path.partition("?")[2],
            "SERVER_NAME": "unix.socket",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": content_type,
            "wsgi.input": stream,
            "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(),
            LISTENER_KEY: "unix",
            **{"HTTP_" + key.upper().replace("-", "_"): value for key, value in (headers or {}).items()},
        }
        environ["CONTENT_LENGTH"] = str(len(body) if length is None else length)
        answer = {}

        def start_response(status, response_headers, exc_info=None):
            answer["status"] = int(status.split()[0])

        chunks = self.application(environ, start_response)
        try:
            raw = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return answer["status"], json.loads(raw) if raw.strip() else None

    def write(self, method, path, body):
        """A write that must succeed (sync or an operation that ends in Success)."""
        status, answer = self.request(method, path, body)
        metadata = (answer or {}).get("metadata") or {}
        if status >= 400 or (status == 202 and metadata.get("status") != "Success"):
            error = (answer or {}).get("error") or metadata.get("err") or status
            raise CommandError(f"lxdsite refused {method} {path}: {error}")
        return answer


def _url(*parts):
    return "/1.0/" + "/".join(quote(part, safe="") for part in parts)


# The collections copied, in order (images before their aliases), each with its importer; a
# routed resource not here is carried by one of them (snapshots by their instance) or is not
# stored state (operations): tests/resource_cases.py says which.
COLLECTIONS = [
    # Storage pools first: the root disks of profiles and instances name them.
    ("/1.0/storage-pools", "import_storage_pool", "storage pools"),
    # Projects next: the objects of later collections live in them.
    ("/1.0/projects", "import_project", "projects"),
    ("/1.0/profiles", "import_profile", "profiles"),
    ("/1.0/images", "import_image", "images"),
    ("/1.0/images/aliases", "import_alias", "aliases"),
    ("/1.0/instances", "import_instance", "instances"),
]


class Command(BaseCommand):
    """Copy profiles, server config, images and aliases, instances and snapshots from LXD."""

    help = "Import the objects of a running LXD (given its unix socket) into lxdsite."

    def add_arguments(self, parser):
        parser.add_argument("--socket", required=True, help="LXD's unix socket, e.g. /var/lib/lxd/unix.socket.")

    def handle(self, *args, socket, **options):
        lxd, site = LXD(socket), LXDSite()
        config = {key: value for key, value in lxd.get("/1.0").get("config", {}).items() if value is not True}
        site.write("PATCH", "/1.0", {"config": config})
        found = {collection: lxd.get(f"{collection}?recursion=1") for collection, _, _ in COLLECTIONS}
        steps = sum(len(objects) for objects in found.values())
        with tqdm(total=steps, desc="Importing from LXD", unit="object", disable=None) as progress:
            for collection, method, _ in COLLECTIONS:
                for item in found[collection]:
                    getattr(self, method)(lxd, site, item)
                    progress.update()
        counts = ", ".join(f"{len(found[collection])} {noun}" for collection, _, noun in COLLECTIONS)
        self.stdout.write(f"Imported {counts}")

    def import_project(self, lxd, site, project):
        body = {key: project[key] for key in KINDS["project"].writable}
        if site.request("GET", _url("projects", project["name"]))[0] == 404:
            site.write("POST", "/1.0/projects", {"name": project["name"], **body})
        else:
            site.write("PUT", _url("projects", project["name"]), body)

    def import_storage_pool(self, lxd, site, pool):
        body = {"description": pool["description"], "config": pool["config"]}
        status, current = site.request("GET", _url("storage-pools", pool["name"]))
        if status == 404:
            site.write("POST", "/1.0/storage-pools", {"name": pool["name"], "driver": pool["driver"], **body})
        else:
            # A pool's source is fixed once made (LXD's rule): the one lxdsite recorded stays.
            source = current["metadata"]["config"].get("source", "")
            config = {**pool["config"], "source": source}
            site.write("PUT", _url("storage-pools", pool["name"]), {**body, "config": config})

    def import_profile(self, lxd, site, profile):
        body = {key: profile[key] for key in KINDS["profile"].writable}
        if site.request("GET", _url("profiles", profile["name"]))[0] == 404:
            site.write("POST", "/1.0/profiles", {"name": profile["name"], **body})
        else:
            site.write("PUT", _url("profiles", profile["name"]), body)

    def import_image(self, lxd, site, image):
        fingerprint = image["fingerprint"]
        if site.request("GET", _url("images", fingerprint))[0] == 404:
            # The exported file, streamed into lxdsite's own upload path: the same fingerprint.
            with lxd.open(_url("images", fingerprint, "export")) as export:
                headers = {"X-LXD-filename": image.get("filename", "")}
                content_type, length = export.getheader("Content-Type", ""), export.getheader("Content-Length")
                if length is None:
                    raise CommandError(f"LXD sent image {fingerprint} without a Content-Length")
                status, answer = site.request("POST", "/1.0/images", export, content_type, headers, int(length))
            if status != 202 or answer["metadata"]["status"] != "Success":
                raise CommandError(f"lxdsite refused image {fingerprint}: {answer['metadata'].get('err')}")
        body = {key: image[key] for key in KINDS["image"].writable}
        site.write("PUT", _url("images", fingerprint), body)

    def import_alias(self, lxd, site, alias):
        body = {key: alias[key] for key in KINDS["alias"].writable}
        if site.request("GET", _url("images", "aliases", alias["name"]))[0] == 404:
            site.write("POST", "/1.0/images/aliases", {"name": alias["name"], **body})
        else:
            site.write("PUT", _url("images", "aliases", alias["name"]), body)

    def import_instance(self, lxd, site, instance):
        name = instance["name"]
        body = {key: instance[key] for key in KINDS["instance"].writable}
        if site.request("GET", _url("instances", name))[0] == 404:
            site.write(
                "POST", "/1.0/instances", {"name": name, "type": instance["type"], "source": {"type": "none"}, **body}
            )
        else:
            site.write("PUT", _url("instances", name), body)
        snapshots = lxd.get(_url("instances", name, "snapshots") + "?recursion=1")
        record = {
            **instance,
            # lxdsite records Running, Stopped and Frozen; LXD's other states (Error, ...) as Stopped.
            "status": instance["status"] if instance["status"] in Instance.STATUS_CODES else Instance.STOPPED,
            # Some LXD versions name a snapshot INSTANCE/SNAP.
            "snapshots": [{**snapshot, "name": snapshot["name"].rpartition("/")[2]} for snapshot in snapshots],
        }
        with transaction.atomic():
            # Server-managed state the API does not take from clients: the same code `import` uses.
            stored = Instance.objects.select_for_update().get(project_id=Project.DEFAULT_ID, name=name)
            try:
                store_instance_record(stored, record)
            except DocumentError as exc:
                raise CommandError(f"Instance {name!r}: {exc}") from exc
