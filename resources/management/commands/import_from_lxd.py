"""``manage.py import_from_lxd --socket PATH``: copy a running LXD's objects into lxdsite.

Server config, storage pools, profiles, images (their files included) and aliases, then instances with
their snapshots. Everything but the server-managed parts goes through lxdsite's own API,
called in-process, so it passes the same validation as any client's request; the
server-managed parts (volatile keys, status, times, snapshots) are stored by the same code as
`manage.py import` uses. A second run leaves equal objects equal (snapshots are written again).
"""

import base64
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
from resources.serializers.certificates import parse_certificate_pem
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


# The collections copied, in order (images before their aliases), each with its importer and
# the feature without which a project shows the default project's; a routed resource not here
# is carried by one of them (snapshots by their instance) or is not stored state (operations):
# tests/resource_cases.py says which. Projects come first: the other objects live in them.
PROJECTS = ("/1.0/projects", "import_project", "projects", None)
# The "feature" of what the server keeps once, outside projects (its trust store).
SERVER_WIDE = "server"
COLLECTIONS = [
    # Storage pools first: the root disks of profiles and instances name them.
    ("/1.0/storage-pools", "import_storage_pool", "storage pools", SERVER_WIDE),
    PROJECTS,
    # Networks before profiles and instances (their NICs name them); zones before networks (a
    # network's dns.zone.* names them).
    ("/1.0/network-acls", "import_network_acl", "network ACLs", "features.networks"),
    ("/1.0/network-zones", "import_network_zone", "network zones", "features.networks"),
    ("/1.0/networks", "import_network", "networks", "features.networks"),
    # Each pool's custom volumes (and their snapshots), before the instances whose disks attach them.
    ("/1.0/storage-pools", "import_storage_volumes", "pools' volume lists", "features.storage.volumes"),
    ("/1.0/profiles", "import_profile", "profiles", "features.profiles"),
    ("/1.0/images", "import_image", "images", "features.images"),
    ("/1.0/images/aliases", "import_alias", "aliases", "features.images"),
    ("/1.0/instances", "import_instance", "instances", None),
    # The trust store is the server's: copied once (after projects: a restricted certificate names its projects).
    ("/1.0/certificates", "import_certificate", "certificates", SERVER_WIDE),
]


def _owns(project, feature):
    """Whether ``project`` (LXD's JSON) keeps its own objects of ``feature`` (the default project always;
    what is ``SERVER_WIDE`` is read once, with the default project)."""
    if feature == SERVER_WIDE:
        return project["name"] == Project.DEFAULT_NAME
    if project["name"] == Project.DEFAULT_NAME or feature is None:
        return True
    return str(project["config"].get(feature, "")).lower() in ("true", "1", "yes", "on")


class Command(BaseCommand):
    """Copy profiles, server config, images and aliases, instances and snapshots from LXD."""

    help = "Import the objects of a running LXD (given its unix socket) into lxdsite."

    def add_arguments(self, parser):
        parser.add_argument("--socket", required=True, help="LXD's unix socket, e.g. /var/lib/lxd/unix.socket.")

    def handle(self, *args, socket, **options):
        lxd, site = LXD(socket), LXDSite()
        self.ovn_networks = []
        config = {key: value for key, value in lxd.get("/1.0").get("config", {}).items() if value is not True}
        site.write("PATCH", "/1.0", {"config": config})
        projects = lxd.get("/1.0/projects?recursion=1")
        # (collection, project's query, importer, objects), in the order they are written.
        found = []
        for collection in COLLECTIONS:
            if collection is PROJECTS:
                found.append((PROJECTS, "", projects))
                continue
            # The default project's networks first: they are the uplinks of other projects' OVN networks.
            ordered = projects
            if collection[1] == "import_network":
                ordered = sorted(projects, key=lambda project: project["name"] != Project.DEFAULT_NAME)
            for project in ordered:
                if _owns(project, collection[3]):
                    query = Project.url_query(project["name"])
                    separator = "&" if query else "?"
                    objects = lxd.get(f"{collection[0]}{query}{separator}recursion=1")
                    if collection[1] == "import_network":
                        # An OVN network needs its uplink (LXD may list it first).
                        objects.sort(key=lambda network: network.get("type") == "ovn")
                    found.append((collection, query, objects))
        steps = sum(len(objects) for _, _, objects in found)
        with tqdm(total=steps, desc="Importing from LXD", unit="object", disable=None) as progress:
            for (_, method, _, _), query, objects in found:
                for item in objects:
                    getattr(self, method)(lxd, site, item, query)
                    progress.update()
            for network, query in self.ovn_networks:
                self.import_network_forwards(lxd, site, network, query)
        counts = {noun: 0 for _, _, noun, _ in COLLECTIONS}
        for (_, _, noun, _), _, objects in found:
            counts[noun] += len(objects)
        self.stdout.write("Imported " + ", ".join(f"{count} {noun}" for noun, count in counts.items()))

    def import_project(self, lxd, site, project, query):
        body = {key: project[key] for key in KINDS["project"].writable}
        if site.request("GET", _url("projects", project["name"]))[0] == 404:
            site.write("POST", "/1.0/projects", {"name": project["name"], **body})
        else:
            site.write("PUT", _url("projects", project["name"]), body)

    def import_storage_pool(self, lxd, site, pool, query):
        body = {"description": pool["description"], "config": pool["config"]}
        status, current = site.request("GET", _url("storage-pools", pool["name"]))
        if status == 404:
            site.write("POST", "/1.0/storage-pools", {"name": pool["name"], "driver": pool["driver"], **body})
        else:
            # A pool's source is fixed once made (LXD's rule): the one lxdsite recorded stays.
            source = current["metadata"]["config"].get("source", "")
            config = {**pool["config"], "source": source}
            site.write("PUT", _url("storage-pools", pool["name"]), {**body, "config": config})

    def import_storage_volumes(self, lxd, site, pool, query):
        """A pool's custom volumes in the project ``query`` names, each with its snapshots (their
        description and expiry; a snapshot's config is the volume's when it is made again)."""
        volumes = _url("storage-pools", pool["name"], "volumes", "custom")
        separator = "&" if query else "?"
        for volume in lxd.get(f"{volumes}{query}{separator}recursion=1"):
            if "/" in volume["name"]:
                continue  # a snapshot, listed by LXD 5.0.2 beside its volume
            url = _url("storage-pools", pool["name"], "volumes", "custom", volume["name"])
            body = {"description": volume["description"], "config": volume["config"]}
            if site.request("GET", url + query)[0] == 404:
                create = {"name": volume["name"], "content_type": volume["content_type"], **body}
                site.write("POST", volumes + query, create)
            else:
                site.write("PUT", url + query, body)
            for snapshot_url in lxd.get(f"{url}/snapshots{query}"):
                snapshot = lxd.get(snapshot_url if "?" in snapshot_url or not query else snapshot_url + query)
                fields = {"description": snapshot["description"], "expires_at": snapshot["expires_at"]}
                mine = f"{url}/snapshots/{quote(snapshot['name'], safe='')}{query}"
                if site.request("GET", mine)[0] == 404:
                    site.write("POST", f"{url}/snapshots{query}", {"name": snapshot["name"], **fields})
                else:
                    site.write("PUT", mine, fields)

    def import_network_acl(self, lxd, site, acl, query):
        """An ACL, in LXD's order (that of creation: a rule names ACLs made before it)."""
        body = {key: acl[key] for key in KINDS["network-acl"].writable}
        if site.request("GET", _url("network-acls", acl["name"]) + query)[0] == 404:
            site.write("POST", "/1.0/network-acls" + query, {"name": acl["name"], **body})
        else:
            site.write("PUT", _url("network-acls", acl["name"]) + query, body)

    def import_network_zone(self, lxd, site, zone, query):
        body = {key: zone[key] for key in KINDS["network-zone"].writable}
        if site.request("GET", _url("network-zones", zone["name"]) + query)[0] == 404:
            site.write("POST", "/1.0/network-zones" + query, {"name": zone["name"], **body})
        else:
            site.write("PUT", _url("network-zones", zone["name"]) + query, body)
        listed = _url("network-zones", zone["name"], "records") + (query + "&" if query else "?") + "recursion=1"
        for record in lxd.get(listed):
            self.import_network_zone_record(site, zone["name"], record, query)

    def import_network_zone_record(self, site, zone, record, query):
        """A zone's DNS record, carried by its zone."""
        body = {key: record[key] for key in ("description", "entries", "config")}
        url = _url("network-zones", zone, "records", record["name"]) + query
        if site.request("GET", url)[0] == 404:
            site.write("POST", _url("network-zones", zone, "records") + query, {"name": record["name"], **body})
        else:
            site.write("PUT", url, body)

    def import_network(self, lxd, site, network, query):
        """A managed network with its config as LXD filled it in; the host's interfaces are not copied."""
        if not network.get("managed"):
            return
        body = {key: network[key] for key in KINDS["network"].writable}
        if site.request("GET", _url("networks", network["name"]) + query)[0] == 404:
            site.write("POST", "/1.0/networks" + query, {"name": network["name"], "type": network["type"], **body})
        else:
            site.write("PUT", _url("networks", network["name"]) + query, body)
        if network["type"] == "bridge":
            self.import_network_forwards(lxd, site, network["name"], query)
        if network["type"] == "ovn":
            # Its forwards listen in its uplink's routes: copied once every network is (LXD may list
            # an OVN network before its uplink).
            self.ovn_networks.append((network["name"], query))
        if network["type"] == "ovn":
            listed = _url("networks", network["name"], "peers") + (query + "&" if query else "?") + "recursion=1"
            for peer in lxd.get(listed):
                self.import_network_peer(site, network["name"], peer, query)

    def import_network_peer(self, site, network, peer, query):
        """An OVN network's peer, carried by its network (a peering back, made later, links both)."""
        body = {key: peer[key] for key in ("description", "config")}
        url = _url("networks", network, "peers", peer["name"]) + query
        if site.request("GET", url)[0] == 404:
            target = {key: peer[key] for key in ("name", "target_project", "target_network")}
            site.write("POST", _url("networks", network, "peers") + query, {**target, **body})
        else:
            site.write("PUT", url, body)

    def import_network_forwards(self, lxd, site, network, query):
        listed = _url("networks", network, "forwards") + (query + "&" if query else "?") + "recursion=1"
        for forward in lxd.get(listed):
            self.import_network_forward(site, network, forward, query)

    def import_network_forward(self, site, network, forward, query):
        """A bridge's or OVN network's address forward, carried by its network."""
        body = {key: forward[key] for key in ("description", "config", "ports")}
        url = _url("networks", network, "forwards", forward["listen_address"]) + query
        if site.request("GET", url)[0] == 404:
            listen = {"listen_address": forward["listen_address"]}
            site.write("POST", _url("networks", network, "forwards") + query, {**listen, **body})
        else:
            site.write("PUT", url, body)

    def import_profile(self, lxd, site, profile, query):
        body = {key: profile[key] for key in KINDS["profile"].writable}
        if site.request("GET", _url("profiles", profile["name"]) + query)[0] == 404:
            site.write("POST", "/1.0/profiles" + query, {"name": profile["name"], **body})
        else:
            site.write("PUT", _url("profiles", profile["name"]) + query, body)

    def import_image(self, lxd, site, image, query):
        fingerprint = image["fingerprint"]
        if site.request("GET", _url("images", fingerprint) + query)[0] == 404:
            # The exported file, streamed into lxdsite's own upload path: the same fingerprint.
            with lxd.open(_url("images", fingerprint, "export") + query) as export:
                headers = {"X-LXD-filename": image.get("filename", "")}
                content_type, length = export.getheader("Content-Type", ""), export.getheader("Content-Length")
                if length is None:
                    raise CommandError(f"LXD sent image {fingerprint} without a Content-Length")
                status, answer = site.request("POST", "/1.0/images" + query, export, content_type, headers, int(length))
            if status != 202 or answer["metadata"]["status"] != "Success":
                raise CommandError(f"lxdsite refused image {fingerprint}: {answer['metadata'].get('err')}")
        body = {key: image[key] for key in KINDS["image"].writable}
        site.write("PUT", _url("images", fingerprint) + query, body)

    def import_alias(self, lxd, site, alias, query):
        body = {key: alias[key] for key in KINDS["alias"].writable}
        if site.request("GET", _url("images", "aliases", alias["name"]) + query)[0] == 404:
            site.write("POST", "/1.0/images/aliases" + query, {"name": alias["name"], **body})
        else:
            site.write("PUT", _url("images", "aliases", alias["name"]) + query, body)

    def import_certificate(self, lxd, site, certificate, query):
        """The trust store: the same certificates trust the same clients (their fingerprints are kept)."""
        body = {key: certificate[key] for key in ("name", "type", "restricted", "projects")}
        if site.request("GET", _url("certificates", certificate["fingerprint"]))[0] == 404:
            der = parse_certificate_pem(certificate["certificate"])
            site.write("POST", "/1.0/certificates", {**body, "certificate": base64.b64encode(der).decode()})
        else:
            site.write("PUT", _url("certificates", certificate["fingerprint"]), body)

    def import_instance(self, lxd, site, instance, query):
        name = instance["name"]
        body = {key: instance[key] for key in KINDS["instance"].writable}
        if site.request("GET", _url("instances", name) + query)[0] == 404:
            created = {"name": name, "type": instance["type"], "source": {"type": "none"}, **body}
            site.write("POST", "/1.0/instances" + query, created)
        else:
            site.write("PUT", _url("instances", name) + query, body)
        separator = "&" if query else "?"
        snapshots = lxd.get(_url("instances", name, "snapshots") + query + separator + "recursion=1")
        record = {
            **instance,
            # lxdsite records Running, Stopped and Frozen; LXD's other states (Error, ...) as Stopped.
            "status": instance["status"] if instance["status"] in Instance.STATUS_CODES else Instance.STOPPED,
            # Some LXD versions name a snapshot INSTANCE/SNAP.
            "snapshots": [{**snapshot, "name": snapshot["name"].rpartition("/")[2]} for snapshot in snapshots],
        }
        with transaction.atomic():
            # Server-managed state the API does not take from clients: the same code `import` uses.
            project = instance.get("project") or Project.DEFAULT_NAME
            stored = Instance.objects.select_for_update().get(project__name=project, name=name)
            try:
                store_instance_record(stored, record)
            except DocumentError as exc:
                raise CommandError(f"Instance {name!r}: {exc}") from exc
