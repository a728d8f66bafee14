"""Images: uploads streamed to LXD_DIR/images, LXD's fingerprints, PUT/PATCH semantics, export, delete."""

import email.parser
import email.policy
import json
import os
from pathlib import Path

import pytest

from resources.etags import compute_etag, lxd_etag_of
from resources.go import GoStruct
from resources.models import Image, ImageAlias, Operation, Profile
from resources.serializers import ImageETagSerializer
from tests.support.image_files import METADATA, multipart, sha256, split_image, tarball, unified_image
from tests.support.images import make_image

pytestmark = pytest.mark.django_db

VECTORS = json.loads((Path(__file__).parent / "data" / "lxd-5.0.2-etags.json").read_text())


@pytest.fixture
def image(upload):
    """A unified image uploaded through the API, in place of the suite's row: (fingerprint, file bytes)."""
    data = unified_image()
    return upload(data, HTTP_X_LXD_FILENAME="tiny.tar.gz").fingerprint, data


def _stored_state(images_dir):
    """Everything a failed upload must leave as it was: the files and the image rows."""
    files = sorted(os.listdir(images_dir)) if images_dir.exists() else []
    return files, Image.objects.count(), ImageAlias.objects.count()


def test_unified_upload_stores_the_file_under_its_sha256(upload, api, images_dir):
    data = unified_image()

    response, operation = upload(data, HTTP_X_LXD_FILENAME="tiny.tar.gz")

    assert response.status_code == 202
    body = response.json()
    assert (body["type"], body["status_code"], body["operation"]) == ("async", 100, response.headers["Location"])
    assert body["metadata"]["description"] == "Downloading image"
    assert operation["status"] == "Success"
    assert operation["status_code"] == 200
    assert operation["metadata"] == {"fingerprint": sha256(data), "size": str(len(data))}
    assert (images_dir / sha256(data)).read_bytes() == data
    assert os.listdir(images_dir) == [sha256(data)]
    shown = api.get(f"/1.0/images/{sha256(data)}").json()["metadata"]
    assert list(shown) == [
        "auto_update",
        "properties",
        "public",
        "expires_at",
        "profiles",
        "aliases",
        "architecture",
        "cached",
        "filename",
        "fingerprint",
        "size",
        "type",
        "created_at",
        "last_used_at",
        "uploaded_at",
    ]
    assert shown["properties"] == {"description": "tiny test image", "os": "tinyos", "release": "1"}
    assert (shown["architecture"], shown["type"], shown["filename"], shown["size"]) == (
        "x86_64",
        "container",
        "tiny.tar.gz",
        len(data),
    )
    assert (shown["created_at"], shown["expires_at"], shown["last_used_at"]) == (
        "2023-11-14T22:13:20Z",
        "1970-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
    )
    assert (shown["profiles"], shown["aliases"], shown["public"], shown["cached"]) == (["default"], [], False, False)


def test_split_upload_hashes_metadata_then_rootfs(upload, api, images_dir):
    meta, rootfs = split_image()
    content_type, body = multipart([("metadata", "meta.tar.gz", meta), ("rootfs", "rootfs.tar", rootfs)])

    _, operation = upload(body, content_type, HTTP_X_LXD_FILENAME="meta.tar.gz")

    fingerprint = sha256(meta, rootfs)
    assert operation["status"] == "Success", operation
    assert operation["metadata"] == {"fingerprint": fingerprint, "size": str(len(meta) + len(rootfs))}
    assert (images_dir / fingerprint).read_bytes() == meta
    assert (images_dir / f"{fingerprint}.rootfs").read_bytes() == rootfs
    shown = api.get(f"/1.0/images/{fingerprint}").json()["metadata"]
    # LXD names a split image after its rootfs file.
    assert (shown["filename"], shown["size"], shown["type"]) == ("rootfs.tar", len(meta) + len(rootfs), "container")


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", "", "zst"])
def test_compressions_lxd_reads_are_accepted(upload, compression):
    data = unified_image(compression=compression)

    _, operation = upload(data)

    assert operation["status"] == "Success", operation["err"]
    assert operation["metadata"]["fingerprint"] == sha256(data)


def _bad_uploads():
    """(name, body, content type, LXD's err) for uploads LXD 5.0.2 refuses."""
    good = unified_image()
    meta, rootfs = split_image()
    return [
        ("random bytes", os.urandom(500), None, "Unsupported compression"),
        ("empty body", b"", None, "EOF"),
        ("no metadata.yaml", tarball({"foo": b"x"}), None, "Metadata tarball is missing metadata.yaml"),
        ("empty tarball", tarball({}), None, "Metadata tarball is missing metadata.yaml"),
        # Cut inside the next header: Go's tar reader says unexpected EOF.
        ("cut after metadata.yaml", good[:200], None, "unexpected EOF"),
        (
            "cut between members",
            tarball({"metadata.yaml": METADATA.encode(), "rootfs": None}, "")[:1024],
            None,
            "Invalid instance type",
        ),
        (
            "cut inside metadata.yaml",
            tarball({"metadata.yaml": METADATA.encode() * 400, "rootfs": None}, "")[:2048],
            None,
            "yaml: input error: unexpected EOF",
        ),
        ("no rootfs", tarball({"metadata.yaml": METADATA.encode()}), None, "Invalid instance type"),
        ("no creation date", unified_image("architecture: x86_64\n"), None, "Missing creation date"),
        (
            "unknown architecture",
            unified_image(METADATA.replace("x86_64", "sparc64")),
            None,
            "Architecture isn't supported: sparc64",
        ),
        ("unparsable metadata.yaml", unified_image("architecture: [x86_64\n"), None, "yaml: line 2: "),
        (
            "split with a bad rootfs part name",
            multipart([("metadata", "m.tar.gz", meta), ("other", "r.tar", rootfs)])[1],
            multipart([])[0],
            "Invalid multipart image: expected a metadata part, then a rootfs part",
        ),
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "err"), [case[1:] for case in _bad_uploads()], ids=[case[0] for case in _bad_uploads()]
)
def test_bad_upload_fails_its_operation_and_stores_nothing(upload, image, images_dir, body, content_type, err):
    before = _stored_state(images_dir)

    response, operation = upload(body, content_type or "application/octet-stream")

    assert response.status_code == 202
    assert (operation["status"], operation["status_code"]) == ("Failure", 400)
    assert operation["err"].startswith(err), operation["err"]
    assert _stored_state(images_dir) == before


def test_same_file_twice_fails_with_lxds_text(upload, image, images_dir):
    fingerprint, data = image
    before = _stored_state(images_dir)

    _, operation = upload(data)

    assert (operation["status"], operation["err"]) == ("Failure", "Image with same fingerprint already exists")
    assert operation["metadata"] == {"fingerprint": fingerprint, "size": str(len(data))}
    assert _stored_state(images_dir) == before


def test_fingerprint_header_must_match(upload, images_dir):
    data = unified_image()

    _, operation = upload(data, HTTP_X_LXD_FINGERPRINT="abc")

    assert operation["err"] == f"fingerprints don't match, got {sha256(data)} expected abc"
    assert _stored_state(images_dir) == ([], 0, 0)


def test_upload_headers_set_public_properties_and_aliases(upload, api):
    data = unified_image()

    _, operation = upload(
        data,
        HTTP_X_LXD_PUBLIC="1",
        HTTP_X_LXD_PROPERTIES="os=other&extra=x%20y",
        HTTP_X_LXD_ALIASES="name=a1&description=first,a2",
        HTTP_X_LXD_FILENAME="given.tar.gz",
    )

    shown = api.get(f"/1.0/images/{operation['metadata']['fingerprint']}").json()["metadata"]
    assert shown["public"] is True
    assert shown["filename"] == "given.tar.gz"
    assert shown["properties"] == {"description": "tiny test image", "extra": "x y", "os": "other", "release": "1"}
    assert shown["aliases"] == [{"name": "a1", "description": "first"}, {"name": "a2", "description": ""}]


def test_metadata_architecture_aliases_and_dates(upload, api):
    metadata = "architecture: amd64\ncreation_date: 1700000001\nexpiry_date: 1900000000\nproperties:\n  n: null\n"

    _, operation = upload(unified_image(metadata))

    shown = api.get(f"/1.0/images/{operation['metadata']['fingerprint']}").json()["metadata"]
    assert (shown["architecture"], shown["created_at"], shown["expires_at"]) == (
        "x86_64",
        "2023-11-14T22:13:21Z",
        "2030-03-17T17:46:40Z",
    )
    assert shown["properties"] == {"n": ""}


def test_json_create_from_a_source_is_refused(api):
    response = api.post("/1.0/images", {"source": {"type": "url", "url": "http://example.com/x"}})

    assert response.status_code == 501
    assert response.json()["error"] == "Only image file uploads are supported, not image sources"


def test_list_recursion_and_empty_filter(api, image, django_assert_num_queries):
    fingerprint, _ = image

    assert api.get("/1.0/images").json()["metadata"] == [f"/1.0/images/{fingerprint}"]
    with django_assert_num_queries(3):
        listed = api.get("/1.0/images?filter=&recursion=1").json()["metadata"]
    assert [entry["fingerprint"] for entry in listed] == [fingerprint]
    assert listed[0]["profiles"] == ["default"]


def test_list_query_count_does_not_grow_with_images(api, upload, django_assert_num_queries):
    for _ in range(5):
        _, operation = upload(unified_image(), HTTP_X_LXD_ALIASES=f"a{os.urandom(4).hex()}")
        assert operation["status"] == "Success"

    # The images, their profiles, their aliases.
    with django_assert_num_queries(3):
        listed = api.get("/1.0/images?recursion=1").json()["metadata"]
    assert len(listed) == 5
    with django_assert_num_queries(1):
        api.get("/1.0/images")


def test_get_by_unique_prefix(api, image):
    fingerprint, _ = image

    response = api.get(f"/1.0/images/{fingerprint[:6]}")

    assert response.status_code == 200
    assert response.json()["metadata"]["fingerprint"] == fingerprint
    assert response.headers["ETag"] == api.get(f"/1.0/images/{fingerprint}").headers["ETag"]


@pytest.mark.parametrize("name", ["nosuch", "0000", "ABCDEF"])
def test_missing_image_is_lxds_404(api, image, name):
    response = api.get(f"/1.0/images/{name}")

    assert response.status_code == 404
    assert response.json()["error"] == "Image not found"


def test_ambiguous_prefix_is_a_400(api, image):
    fingerprint, _ = image
    make_image(fingerprint[:4] + "0" * 60)

    response = api.get(f"/1.0/images/{fingerprint[:4]}")

    assert response.status_code == 400
    assert response.json()["error"] == "More than one image matches"


@pytest.mark.parametrize("entry", VECTORS["images"], ids=lambda entry: json.dumps(entry["metadata"])[-40:])
def test_image_etag_is_lxds_recipe_plus_expiry_and_profiles(api, image, entry):
    fingerprint, _ = image
    fields = {key: entry["metadata"][key] for key in ("public", "auto_update", "properties")}

    assert api.put(f"/1.0/images/{fingerprint}", fields).status_code == 200
    response = api.get(f"/1.0/images/{fingerprint}")

    stored = Image.objects.get(fingerprint=fingerprint)
    # LXD's recipe gives the daemon's value; the served ETag also hashes what LXD's leaves out.
    assert lxd_etag_of(ImageETagSerializer, stored) == entry["etag"].strip('"')
    shown = response.json()["metadata"]
    additions = GoStruct(expires_at=shown["expires_at"], profiles=shown["profiles"])
    lxd_value = [fields["public"], fields["auto_update"], fields["properties"]]
    assert response.headers["ETag"] == f'"{compute_etag([lxd_value, additions])}"' != entry["etag"]


def _shown(api, fingerprint):
    return api.get(f"/1.0/images/{fingerprint}").json()["metadata"]


def test_put_replaces_and_keeps_profiles_and_expiry_unless_sent(api, image):
    fingerprint, _ = image
    Profile.objects.create(name="p1")
    url = f"/1.0/images/{fingerprint}"
    api.put(url, {"properties": {"os": "a"}, "profiles": ["p1", "default"], "expires_at": "2030-01-01T00:00:00Z"})

    # pylxd's Image.save() sends neither profiles nor expires_at; lxc sends null and the zero time.
    for body in [
        {"auto_update": True, "properties": {"os": "b"}, "public": True},
        {"properties": {"os": "b"}, "profiles": None, "expires_at": "0001-01-01T00:00:00Z"},
    ]:
        assert api.put(url, body).status_code == 200
        shown = _shown(api, fingerprint)
        assert (shown["profiles"], shown["expires_at"]) == (["p1", "default"], "2030-01-01T00:00:00Z")
        assert shown["properties"] == {"os": "b"}
    assert (shown["public"], shown["auto_update"]) == (False, False)

    assert api.put(url, {"profiles": []}).status_code == 200
    assert _shown(api, fingerprint)["profiles"] == []


def test_patch_merges_properties_and_ignores_profiles(api, image):
    fingerprint, _ = image
    url = f"/1.0/images/{fingerprint}"

    response = api.patch(url, {"properties": {"os": "patched"}, "profiles": [], "public": True})

    assert response.status_code == 200
    shown = _shown(api, fingerprint)
    assert shown["properties"] == {"description": "tiny test image", "os": "patched", "release": "1"}
    assert (shown["profiles"], shown["public"]) == (["default"], True)
    assert response.headers["ETag"] == api.get(url).headers["ETag"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"profiles": ["nosuch"]}, "Profile 'nosuch' doesn't exist"),
        ({"public": "x"}, "public: expected a boolean, got string"),
        ({"properties": {"os": 1}}, 'properties: value of "os" must be a string, got number'),
        ({"expires_at": "garbage"}, 'expires_at: parsing time "garbage": not an RFC 3339 time'),
    ],
)
def test_put_refuses_bad_fields(api, image, body, error):
    fingerprint, _ = image
    before = _shown(api, fingerprint)

    response = api.put(f"/1.0/images/{fingerprint}", body)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert _shown(api, fingerprint) == before


def test_put_with_stale_if_match_is_412(api, image):
    fingerprint, _ = image
    etag = api.get(f"/1.0/images/{fingerprint}").headers["ETag"]

    response = api.put(f"/1.0/images/{fingerprint}", {"properties": {}}, HTTP_IF_MATCH="stale")

    assert response.status_code == 412
    assert response.json()["error"] == f"ETag doesn't match: {etag.strip(chr(34))} vs stale"


@pytest.mark.parametrize("change", [{"expires_at": "2031-01-01T00:00:00Z"}, {"profiles": []}])
def test_a_profile_or_expiry_change_changes_the_etag_so_no_write_of_them_is_lost(api, image, change):
    fingerprint, _ = image
    url = f"/1.0/images/{fingerprint}"
    etag = api.get(url).headers["ETag"]
    shown = _shown(api, fingerprint)
    body = {**{k: shown[k] for k in ("public", "auto_update", "properties")}, **change}

    assert api.put(url, body, headers={"If-Match": etag}).status_code == 200

    assert api.get(url).headers["ETag"] != etag
    # A second writer that read before the change is refused, not silently overwriting it.
    assert api.put(url, {**body, "expires_at": "2040-01-01T00:00:00Z"}, headers={"If-Match": etag}).status_code == 412


def test_delete_is_async_and_removes_file_and_aliases(api, image, images_dir, django_capture_on_commit_callbacks):
    fingerprint, _ = image
    api.post("/1.0/images/aliases", {"name": "tiny", "target": fingerprint})

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/1.0/images/{fingerprint[:8]}")

    assert response.status_code == 202
    operation = api.get(response.headers["Location"]).json()["metadata"]
    assert (operation["description"], operation["status"]) == ("Deleting image", "Success")
    assert operation["resources"] == {"images": [f"/1.0/images/{fingerprint}"]}
    assert os.listdir(images_dir) == []
    assert (Image.objects.count(), ImageAlias.objects.count()) == (0, 0)


def test_delete_with_stale_if_match_keeps_everything(api, image, images_dir):
    fingerprint, _ = image

    response = api.delete(f"/1.0/images/{fingerprint}", HTTP_IF_MATCH='"stale"')

    assert response.status_code == 412
    assert os.listdir(images_dir) == [fingerprint]
    assert Image.objects.filter(fingerprint=fingerprint).exists()


def test_export_streams_the_file_with_its_name(api, image):
    fingerprint, data = image

    response = api.get(f"/1.0/images/{fingerprint}/export")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response.headers["Content-Disposition"] == f"inline;filename={fingerprint}.tar.gz"
    assert response.headers["ETag"] == f'"{fingerprint}"'


@pytest.mark.parametrize("header", ["{fp}", '"{fp}"', '"other", "{fp}"', "*"])
def test_export_if_none_match_fingerprint_is_304(api, image, header):
    fingerprint, _ = image

    response = api.get(f"/1.0/images/{fingerprint}/export", HTTP_IF_NONE_MATCH=header.format(fp=fingerprint))

    assert response.status_code == 304
    assert response.content == b""


def test_export_of_split_image_is_multipart(api, upload):
    meta, rootfs = split_image()
    _, operation = upload(*reversed(multipart([("metadata", "m.tar.gz", meta), ("rootfs", "r.tar", rootfs)])))
    fingerprint = operation["metadata"]["fingerprint"]

    response = api.get(f"/1.0/images/{fingerprint}/export")

    assert response.status_code == 200
    raw = f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode() + b"".join(response.streaming_content)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts = [(part.get_filename(), part.get_payload(decode=True)) for part in message.iter_parts()]
    assert parts == [(f"meta-{fingerprint}.tar.gz", meta), (f"{fingerprint}.tar", rootfs)]


def test_refresh_fails_cleanly(api, image):
    fingerprint, _ = image

    response = api.post(f"/1.0/images/{fingerprint[:5]}/refresh")

    assert response.status_code == 202
    operation = api.get(response.headers["Location"]).json()["metadata"]
    assert (operation["status"], operation["status_code"]) == ("Failure", 400)
    assert (
        operation["err"] == f'Failed to update image "{fingerprint[:5]}" in project "default": Image source not found'
    )


def test_operations_list_groups_by_status_and_wait_returns_the_operation(api, upload, image):
    upload(b"not an image")
    success = Operation.objects.get(status="Success")

    grouped = api.get("/1.0/operations").json()["metadata"]
    waited = api.get(f"/1.0/operations/{success.id}/wait?timeout=5")

    assert set(grouped) == {"success", "failure"}
    assert grouped["success"] == [f"/1.0/operations/{success.id}"]
    assert waited.status_code == 200
    assert waited.json()["metadata"]["id"] == str(success.id)
    full = api.get("/1.0/operations?recursion=1").json()["metadata"]
    assert full["failure"][0]["err"] == "Unsupported compression"
    assert list(full["failure"][0]) == [
        "id",
        "class",
        "description",
        "created_at",
        "updated_at",
        "status",
        "status_code",
        "resources",
        "metadata",
        "may_cancel",
        "err",
        "location",
    ]


@pytest.mark.parametrize("operation_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_missing_operation_is_lxds_404(api, operation_id):
    response = api.get(f"/1.0/operations/{operation_id}")

    assert response.status_code == 404
    assert response.json()["error"] == "Operation not found"


def test_untrusted_clients_see_public_images_only(api, tcp_api, upload):
    _, private = upload(unified_image())
    _, public = upload(unified_image(), HTTP_X_LXD_PUBLIC="true")

    listed = tcp_api.get("/1.0/images").json()["metadata"]

    assert listed == [f"/1.0/images/{public['metadata']['fingerprint']}"]
    assert tcp_api.get(f"/1.0/images/{private['metadata']['fingerprint']}").status_code == 404
    assert tcp_api.get(f"/1.0/images/{public['metadata']['fingerprint']}/export").status_code == 200
    assert tcp_api.delete(f"/1.0/images/{public['metadata']['fingerprint']}").status_code == 403


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", ["private", "public"]),
        ("public eq true", ["public"]),
        ("public eq false", ["private"]),
        ("properties.os eq other", ["public"]),
        ("properties.os ne other and architecture eq x86_64", ["private"]),
        ("type eq virtual-machine", []),
    ],
)
def test_list_filter(api, upload, expression, expected):
    fingerprints = {}
    for name, headers in (("private", {}), ("public", {"HTTP_X_LXD_PUBLIC": "1", "HTTP_X_LXD_PROPERTIES": "os=other"})):
        fingerprints[upload(unified_image(), **headers)[1]["metadata"]["fingerprint"]] = name

    response = api.get("/1.0/images", {"filter": expression})

    assert response.status_code == 200
    assert sorted(fingerprints[url.rsplit("/", 1)[1]] for url in response.json()["metadata"]) == expected


def test_bad_filter_is_a_400(api):
    response = api.get("/1.0/images", {"filter": "bogus"})

    assert response.status_code == 400
    assert response.json()["error"] == "Invalid filter: clause has no operator"


def _worker_peak_rss(server):
    """Peak resident memory (kB) of each gunicorn worker of a live server."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    peaks = {}
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks[pid] = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    return peaks


@pytest.mark.live
def test_a_large_upload_streams_to_disk(lxdsite_server, tmp_path):
    import hashlib
    import subprocess

    from tests.support.live_server import UnixHTTPConnection

    image = tmp_path / "big"
    (image / "rootfs").mkdir(parents=True)
    (image / "metadata.yaml").write_text(METADATA)
    with open(image / "rootfs" / "zeros", "wb") as file:
        file.truncate(256 << 20)
    subprocess.run(["tar", "-cf", str(tmp_path / "big.tar"), "-C", str(image), "metadata.yaml", "rootfs"], check=True)
    size = (tmp_path / "big.tar").stat().st_size
    before = _worker_peak_rss(lxdsite_server)

    connection = UnixHTTPConnection(lxdsite_server.socket_path, timeout=120)
    with open(tmp_path / "big.tar", "rb") as body:
        connection.request("POST", "/1.0/images", body=body, headers={"Content-Length": str(size)})
        response = connection.getresponse()
        location = response.getheader("Location")
        response.read()
    connection.close()

    operation = lxdsite_server.request("GET", location)[2]["metadata"]
    digest = hashlib.sha256()
    with open(tmp_path / "big.tar", "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    assert operation["status"] == "Success", operation["err"]
    assert operation["metadata"] == {"fingerprint": digest.hexdigest(), "size": str(size)}
    assert (lxdsite_server.lxd_dir / "images" / digest.hexdigest()).stat().st_size == size
    growth = max(_worker_peak_rss(lxdsite_server)[pid] - peak for pid, peak in before.items())
    # 256 MiB went through one worker; its peak memory grew by a few chunks at most.
    assert growth < 32 * 1024, f"a worker's peak RSS grew by {growth} kB"


@pytest.mark.live
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_interrupted_upload_leaves_no_file_and_no_row(lxdsite_server, framing):
    import socket
    import time

    data = unified_image()
    head = "POST /1.0/images HTTP/1.1\r\nHost: unix.socket\r\nContent-Type: application/octet-stream\r\n"
    if framing == "chunked":
        raw = head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(data):x}\r\n".encode() + data[:100]
    else:
        raw = head.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data[:100]

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(lxdsite_server.socket_path))
        client.sendall(raw)
        time.sleep(0.5)
    time.sleep(1)

    assert lxdsite_server.request("GET", "/1.0/images")[2]["metadata"] == []
    images = lxdsite_server.lxd_dir / "images"
    assert not images.exists() or os.listdir(images) == []


@pytest.mark.live
def test_events_websockets_are_accepted_and_released(lxdsite_server):
    import base64
    import hashlib
    import socket

    key = base64.b64encode(os.urandom(16)).decode()
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    request = (
        "GET /1.0/events HTTP/1.1\r\nHost: unix.socket\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    ).encode()
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    held.connect(str(lxdsite_server.socket_path))
    held.sendall(request)
    assert held.recv(4096).startswith(b"HTTP/1.1 101 ")

    # More listeners come and go than the server has threads (2 workers x 4): each one is released.
    for _ in range(12):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(str(lxdsite_server.socket_path))
            client.sendall(request)
            answer = client.recv(4096).decode()
            assert answer.startswith("HTTP/1.1 101 ")
            assert f"Sec-WebSocket-Accept: {accept}" in answer

    # A listener that stays open does not stop the API.
    assert lxdsite_server.request("GET", "/1.0/images")[0] == 200
    held.close()


@pytest.mark.live
def test_serve_removes_uploads_a_killed_server_left(tmp_path):
    from tests.support.live_server import running_server

    images = tmp_path / "lxd" / "images"
    images.mkdir(parents=True)
    (images / ".upload-0123").write_bytes(b"half an image")
    (images / "kept").write_bytes(b"an image file")

    with running_server(tmp_path / "lxd", workers=1):
        assert os.listdir(images) == ["kept"]


def test_one_image_reads_as_the_list_shows_it(api, image, django_assert_num_queries):
    fingerprint, _ = image
    for name in ["zz", "aa"]:
        Profile.objects.create(name=name)
    assert api.put(f"/1.0/images/{fingerprint}", {"profiles": ["zz", "default", "aa"]}).status_code == 200
    for name in ["second", "first"]:
        api.post("/1.0/images/aliases", {"name": name, "target": fingerprint})
    listed = api.get("/1.0/images?recursion=1").json()["metadata"]

    # The image, its profiles, its aliases.
    with django_assert_num_queries(3):
        response = api.get(f"/1.0/images/{fingerprint}")

    assert response.json()["metadata"] == listed[0]
    assert listed[0]["profiles"] == ["zz", "default", "aa"]
    assert [alias["name"] for alias in listed[0]["aliases"]] == ["second", "first"]


def test_changing_one_images_profiles_leaves_the_others(api, image):
    fingerprint, _ = image
    other = make_image("b" * 64)
    other.profile_links.create(profile=Profile.objects.get_or_create(name="default")[0])
    etag = api.get(f"/1.0/images/{fingerprint}").headers["ETag"]

    response = api.put(f"/1.0/images/{fingerprint}", {"properties": {}, "profiles": []}, headers={"If-Match": etag})

    assert response.status_code == 200
    assert list(other.profile_links.values_list("profile__name", flat=True)) == ["default"]
