"""What the benchmark asks of a server: the objects it creates first, and the timed requests.

Every object the benchmark makes is named ``bench-*``. A request function is called as
``request(target, client, index, connection)`` and returns the HTTP status it got.
"""

import hashlib
import io
import json
import tarfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.image_files import unified_image

from .client import send, wait_operation

ROOT_DISK = {"root": {"type": "disk", "path": "/", "pool": "default"}}
TINY_ALIAS = "bench-tiny"
GET_INSTANCE = "bench-get"
STALE_PROFILE = "bench-stale"
# Threads that create the listed objects (and delete uploads) on each server.
SETUP_CLIENTS = 8
# Stands where each upload writes a unique value, so that every upload is a new image.
MARKER = b"bench-upload-marker-placeholder!"


def lxd_etag(value):
    """LXD's ETag of ``value``: sha256 of Go's JSON of it plus "\\n", in quotes."""
    encoded = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    # Go's encoder escapes these three for HTML safety (LXD-WIRE fact 3).
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        encoded = encoded.replace(char, escape)
    return '"' + hashlib.sha256((encoded + "\n").encode()).hexdigest() + '"'


def profile_etag(description, config=None, devices=None):
    """LXD's profile ETag: [config, description, devices]."""
    return lxd_etag([config or {}, description, devices or {}])


def client_profile(client):
    return f"bench-client-{client}"


def check(answer, *statuses):
    """The answer, if its status is one of ``statuses``; else an error naming it."""
    status, _headers, body = answer
    if status not in statuses:
        raise RuntimeError(f"expected {statuses}, got {status}: {body}")
    return answer


def parallel(function, items, clients=SETUP_CLIENTS):
    """``function(item)`` for every item from ``clients`` threads; the results in order."""
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(function, items))


@dataclass
class Fixtures:
    """What a server holds for the workloads: names, the current ETags of the clients' profiles."""

    image: str = ""
    stale_etag: str = ""
    etags: dict = field(default_factory=dict)
    uploaded: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def upload_image(target, body, headers=None):
    """POST /1.0/images with a raw image body and wait for it; the fingerprint."""
    headers = {"Content-Type": "application/octet-stream", **(headers or {})}
    return wait_operation(target, send(target, "POST", "/1.0/images", body, headers))["metadata"]["fingerprint"]


def prepare(target, clients):
    """Give ``target`` what every workload needs; its Fixtures.

    A ``default`` dir storage pool, which instances need, unless it has a pool (on lxdsite as on
    LXD); on both the root disk in the default profile (so that GET of ``default`` reads the same object),
    the tiny image ``bench-tiny``, the instance ``bench-get``, a profile per client and one
    whose ETag has gone stale.
    """
    fixtures = Fixtures()
    if not check(send(target, "GET", "/1.0/storage-pools"), 200)[2]["metadata"]:
        check(send(target, "POST", "/1.0/storage-pools", {"name": "default", "driver": "dir"}), 201)
    default = check(send(target, "GET", "/1.0/profiles/default"), 200)[2]["metadata"]
    if "root" not in default["devices"]:
        check(send(target, "PATCH", "/1.0/profiles/default", {"devices": ROOT_DISK}), 200)

    status, _headers, body = send(target, "GET", f"/1.0/images/aliases/{TINY_ALIAS}")
    if status == 200:
        fixtures.image = body["metadata"]["target"]
    else:
        fixtures.image = upload_image(target, unified_image(marker=f"bench-{uuid.uuid4()}"))
        check(send(target, "POST", "/1.0/images/aliases", {"name": TINY_ALIAS, "target": fixtures.image}), 200, 201)
    create_instances(target, [GET_INSTANCE])

    for name in [client_profile(client) for client in range(clients)] + [STALE_PROFILE]:
        create_profile(target, name)
        check(send(target, "PUT", f"/1.0/profiles/{name}", {"config": {}, "description": "", "devices": {}}), 200)
        fixtures.etags[name] = profile_etag("")
    # The ETag of the stale profile before this change: an If-Match with it must fail.
    fixtures.stale_etag = fixtures.etags.pop(STALE_PROFILE)
    check(send(target, "PUT", f"/1.0/profiles/{STALE_PROFILE}", {"description": "changed"}), 200)
    return fixtures


def create_profile(target, name):
    """POST /1.0/profiles; a profile of that name already there is fine."""
    check(send(target, "POST", "/1.0/profiles", {"name": name}), 201, 409)


def create_instances(target, names):
    """Create the instances not there yet from the tiny image, as `lxc init bench-tiny NAME` does."""

    def create(name):
        answer = send(
            target, "POST", "/1.0/instances", {"name": name, "source": {"type": "image", "alias": TINY_ALIAS}}
        )
        if answer[0] != 409:
            wait_operation(target, answer)

    parallel(create, names)


def fill(target, collection, count):
    """Make the ``collection`` (profiles or instances) hold ``count`` objects, through the API."""
    existing = set(check(send(target, "GET", f"/1.0/{collection}"), 200)[2]["metadata"])
    missing = count - len(existing)
    prefix = "bench-p" if collection == "profiles" else "bench-i"
    names = [f"{prefix}{number:05}" for number in range(count)]
    names = [name for name in names if f"/1.0/{collection}/{name}" not in existing][:missing]
    if collection == "profiles":
        parallel(lambda name: create_profile(target, name), names)
    else:
        create_instances(target, names)


# The timed requests.


def get(path, headers=None):
    def request(target, client, index, connection):
        return send(target, "GET", path, headers=headers, connection=connection, decode=False)[0]

    return request


def get_if_none_match(path):
    """GET with If-None-Match: the ETag the server gave, read once before the round."""
    etags = {}

    def request(target, client, index, connection):
        if target.name not in etags:
            etags[target.name] = check(send(target, "GET", path), 200)[1]["ETag"] or ""
        return send(
            target, "GET", path, headers={"If-None-Match": etags[target.name]}, connection=connection, decode=False
        )[0]

    return request


def put_if_match(fixtures):
    """Read-modify-write of each client's own profile: PUT a new description with If-Match.

    The ETag is the one the last write produced: lxdsite sends it with the answer, LXD sends
    none, so the client computes it (LXD's formula) as a client that caches it would.
    """

    def request(target, client, index, connection):
        name = client_profile(client)
        description = f"bench {index}"
        status, headers, _body = send(
            target,
            "PUT",
            f"/1.0/profiles/{name}",
            {"config": {}, "description": description, "devices": {}},
            {"If-Match": fixtures.etags[name]},
            connection,
        )
        if status == 200:
            fixtures.etags[name] = headers["ETag"] or profile_etag(description)
        return status

    return request


def put_stale(fixtures):
    """PUT with an If-Match the profile no longer has: 412, nothing written."""

    def request(target, client, index, connection):
        body = {"config": {}, "description": "must not be written", "devices": {}}
        headers = {"If-Match": fixtures.stale_etag}
        return send(target, "PUT", f"/1.0/profiles/{STALE_PROFILE}", body, headers, connection)[0]

    return request


class ImageFile:
    """An uncompressed image of ``size`` bytes on disk, sent with a new marker on every upload."""

    CHUNK = 1 << 20

    def __init__(self, directory, size):
        self.path = Path(directory) / f"bench-image-{size}.tar"
        metadata = b"architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: bench\n"
        with tarfile.open(self.path, "w", format=tarfile.GNU_FORMAT) as tar, open("/dev/zero", "rb") as zeros:
            for name, data in (("metadata.yaml", metadata), ("rootfs/etc/hostname", MARKER)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo("rootfs/bench.img")
            info.size = size
            tar.addfile(info, zeros)
        with open(self.path, "rb") as file:
            self.marker_at = file.read(self.CHUNK).index(MARKER)
        self.size = self.path.stat().st_size
        self.payload = size

    def body(self):
        """The file's bytes with a unique marker, a chunk at a time."""
        marker = uuid.uuid4().hex.encode()
        with open(self.path, "rb") as file:
            first = bytearray(file.read(self.CHUNK))
            first[self.marker_at : self.marker_at + len(marker)] = marker
            yield bytes(first)
            while chunk := file.read(self.CHUNK):
                yield chunk


def upload(image_file, fixtures):
    """POST /1.0/images of a new image and wait for the operation; the fingerprint is kept for delete_uploads."""

    def request(target, client, index, connection):
        headers = {"Content-Length": str(image_file.size)}
        fingerprint = upload_image(target, image_file.body(), headers)
        with fixtures.lock:
            fixtures.uploaded.append(fingerprint)
        return 202

    return request


def delete_uploads(target, fixtures):
    """Delete the images the upload workload made (after its round, untimed)."""
    with fixtures.lock:
        fingerprints, fixtures.uploaded = fixtures.uploaded, []
    parallel(lambda fp: wait_operation(target, send(target, "DELETE", f"/1.0/images/{fp}")), fingerprints)


@dataclass
class Workload:
    """A timed request on the targets of ``kinds``, at each of ``clients`` concurrent clients.

    ``make(fixtures)`` returns the request function for one target. A round lasts the given
    seconds, or ``per_client`` requests per client; ``after_round(target, fixtures)`` tidies
    up untimed. ``expect`` maps a target kind to the one status its answers must have.
    """

    name: str
    make: Callable
    kinds: tuple = ("lxdsite", "lxd")
    clients: tuple = (1, 8)
    per_client: int | None = None
    objects: int | None = None
    after_round: Callable | None = None
    expect: dict = field(default_factory=dict)


def object_workloads():
    """GET, conditional GET and conditional PUT of single objects."""
    profile = "/1.0/profiles/default"
    return [
        Workload("GET profile", lambda fx: get(profile), kinds=("lxdsite", "lxd", "bare"), expect={"lxdsite": 200}),
        Workload("GET image", lambda fx: get(f"/1.0/images/{fx.image}"), expect={"lxdsite": 200, "lxd": 200}),
        Workload("GET instance", lambda fx: get(f"/1.0/instances/{GET_INSTANCE}"), expect={"lxdsite": 200, "lxd": 200}),
        # LXD 5.0.2 ignores If-None-Match: what it answers is reported, not expected.
        Workload("GET If-None-Match", lambda fx: get_if_none_match(profile), expect={"lxdsite": 304}),
        Workload("PUT If-Match", put_if_match, expect={"lxdsite": 200, "lxd": 200}),
        Workload("PUT stale If-Match", put_stale, expect={"lxdsite": 412, "lxd": 412}),
    ]


def list_workloads(count, kinds=("lxdsite", "lxd"), per_client=None):
    """GET /1.0/profiles?recursion=1 and /1.0/instances?recursion=1 with ``count`` objects in each."""
    return [
        Workload(
            f"list {collection} ({count:,})",
            lambda fx, collection=collection: get(f"/1.0/{collection}?recursion=1"),
            kinds=kinds,
            objects=count,
            per_client=per_client,
            expect=dict.fromkeys(kinds, 200),
        )
        for collection in ("profiles", "instances")
    ]


def upload_workload(image_file, clients=(1, 8)):
    """One upload of a new image per client per round, deleted after the round."""
    return Workload(
        f"upload {image_file.payload >> 20} MiB image",
        lambda fx: upload(image_file, fx),
        clients=clients,
        per_client=1,
        after_round=delete_uploads,
        expect={"lxdsite": 202, "lxd": 202},
    )
