"""What an image upload, an alias and a profile may store: every value can be shown again.

A value that no database stores, or that no answer could show (a lone surrogate, NUL, a time
outside years 1-9999 in UTC, a name longer than its column), is refused where it enters, with
LXD's text where LXD refuses it (the texts were recorded from the LXD 5.0.2 daemon). Uploads are
read within Go's limits: a special tar header over 1 MiB and a YAML value that is not a string
are refused, so a few hundred bytes never become hundreds of megabytes in a worker.
"""

import gzip
import io
import os
import tarfile
import tracemalloc

import pytest

from resources.models import Image, ImageAlias, Profile
from tests.support.image_files import METADATA, unified_image
from tests.support.live_server import unix_request

pytestmark = pytest.mark.django_db

# The 251-byte alias bomb of the report: a property whose value expands to 9^6 strings.
ALIAS_BOMB = (
    'x: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "y: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "w: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nv: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "u: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
)


def _with_property(line):
    """METADATA with one more line under ``properties``."""
    return METADATA.replace("  os: tinyos\n", f"  os: tinyos\n{line}\n")


def _stored():
    return Image.objects.count(), ImageAlias.objects.count()


def _refused(upload, data, **headers):
    """Upload ``data``; assert LXD's failed operation and that nothing was stored; its ``err``."""
    before = _stored()
    response, operation = upload(data, **headers)
    assert response.status_code == 202
    assert (operation["status"], operation["status_code"]) == ("Failure", 400), operation
    assert _stored() == before
    return operation["err"]


# metadata.yaml -------------------------------------------------------------------------------


# metadata.yaml LXD 5.0.2 refuses, and its err text for each.
UNDECODABLE_METADATA = [
    # A surrogate escape is a scanner error in go-yaml, wherever it stands.
    (_with_property('  bad: "\\ud800"'), "yaml: line 6: found invalid Unicode character escape code"),
    (_with_property('  "\\ud800": x'), "yaml: line 6: found invalid Unicode character escape code"),
    ('a: "x\n  \\udfff"\n' + METADATA, "yaml: line 2: found invalid Unicode character escape code"),
    (_with_property('  bad: "\\U00110000"'), "yaml: line 6: found invalid Unicode character escape code"),
    # Values LXD decodes into a string, an int64 or a map[string]string.
    (
        METADATA.replace("properties:\n", ALIAS_BOMB + "properties:\n  bomb: *f\n"),
        "yaml: unmarshal errors:\n  line 8: cannot unmarshal !!seq into string",
    ),
    (_with_property("  seq: [1,2]"), "yaml: unmarshal errors:\n  line 6: cannot unmarshal !!seq into string"),
    (_with_property("  m: {a: 1}"), "yaml: unmarshal errors:\n  line 6: cannot unmarshal !!map into string"),
    (_with_property("  [a]: b"), "yaml: unmarshal errors:\n  line 6: cannot unmarshal !!seq into string"),
    (
        METADATA.replace("architecture: x86_64", "architecture: [x86_64]"),
        "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into string",
    ),
    (
        METADATA.replace("creation_date: 1700000000", "creation_date: [1]"),
        "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into int64",
    ),
    (
        METADATA.split("properties:")[0] + "properties: [a]\n",
        "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!seq into map[string]string",
    ),
    (
        METADATA.split("properties:")[0] + "properties: x\n",
        "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!str `x` into map[string]string",
    ),
]
UNDECODABLE_IDS = [
    "surrogate value",
    "surrogate key",
    "surrogate on a continuation line",
    "escape beyond unicode",
    "alias bomb in a property",
    "sequence property",
    "mapping property",
    "sequence key",
    "sequence architecture",
    "sequence creation date",
    "sequence properties",
    "string properties",
]


@pytest.mark.parametrize(("metadata", "err"), UNDECODABLE_METADATA, ids=UNDECODABLE_IDS)
def test_metadata_values_lxd_cannot_decode_fail_with_its_text(upload, images_dir, metadata, err):
    assert _refused(upload, unified_image(metadata)) == err
    assert os.listdir(images_dir) == []


def test_metadata_nul_is_refused(upload, api):
    # LXD stores "a" (its database cuts the text at NUL); PostgreSQL cannot store it at all.
    err = _refused(upload, unified_image(_with_property('  bad: "a\\0b"')))

    assert err == "yaml: line 6: string contains a NUL character"
    assert api.get("/1.0/images?recursion=1").status_code == 200


def test_metadata_properties_are_the_text_as_written(upload, api):
    # go-yaml decodes a scalar into a string as it is spelled; null is "".
    fingerprint = upload(
        unified_image(_with_property('  1: 2\n  true: ~\n  3.5: 0x10\n  v: 1.10\n  "\\U0001F600": ok'))
    ).fingerprint

    properties = api.get(f"/1.0/images/{fingerprint}").json()["metadata"]["properties"]

    assert properties == {
        "1": "2",
        "3.5": "0x10",
        "description": "tiny test image",
        "os": "tinyos",
        "release": "1",
        "true": "",
        "v": "1.10",
        "\U0001f600": "ok",
    }


def test_alias_bomb_outside_the_fields_lxd_reads_is_never_expanded(upload, api):
    # LXD skips keys api.ImageMetadata does not have: the upload succeeds and stores nothing of them.
    bomb = ALIAS_BOMB + "t: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\ns: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    tracemalloc.start()
    try:
        fingerprint = upload(unified_image(bomb + METADATA)).fingerprint
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 32 << 20
    assert len(api.get(f"/1.0/images/{fingerprint}").content) < 4096


# Tarballs ------------------------------------------------------------------------------------


def _tarball_with_special_header(*, long_name=0, pax=0):
    """A gzipped unified image whose first member has a GNU long name or a PAX header of that many bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT if pax else tarfile.GNU_FORMAT) as tar:
        first = tarfile.TarInfo("n" * long_name if long_name else "first")
        first.pax_headers = {"comment": "c" * pax} if pax else {}
        first.size = 1
        tar.addfile(first, io.BytesIO(b"1"))
        for name, data in {"metadata.yaml": METADATA.encode(), "rootfs/etc/hostname": os.urandom(8)}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue())


def test_gnu_long_name_up_to_go_limit_is_read(upload):
    # A long name of 1 MiB - 1 characters, plus its NUL: exactly Go's limit, which LXD accepts.
    _, operation = upload(_tarball_with_special_header(long_name=(1 << 20) - 1))

    assert operation["status"] == "Success", operation["err"]


@pytest.mark.parametrize(
    "special", [{"long_name": 1 << 20}, {"pax": (1 << 20) + 10}], ids=["gnu long name", "pax header"]
)
def test_special_tar_header_over_go_limit_fails_with_its_text(upload, special):
    assert _refused(upload, _tarball_with_special_header(**special)) == "archive/tar: header field too long"


def test_long_name_bomb_is_refused_without_reading_it(upload):
    # About 100 KB of gzip holding a 100 MB long name: it used to be read into memory whole.
    data = _tarball_with_special_header(long_name=100 << 20)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        err = _refused(upload, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert err == "archive/tar: header field too long"
    assert peak < 32 << 20


# Upload headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "err"),
    [
        ("q/r", "Alias names may not contain slashes"),
        ("name=q%2Fr", "Alias names may not contain slashes"),
        ("..", 'Invalid alias name ".."'),
        ("name=.", 'Invalid alias name "."'),
        ("name=a%00b", "X-LXD-aliases: string contains a NUL character"),
        ("name=a&description=d%00", "X-LXD-aliases: string contains a NUL character"),
        ("x" * 256, "Alias names may not be longer than 255 characters"),
    ],
)
def test_alias_header_follows_the_alias_rules(upload, header, err):
    assert _refused(upload, unified_image(), HTTP_X_LXD_ALIASES=header) == err


def test_alias_header_of_255_characters_is_addressable(upload, api):
    name = "x" * 255

    fingerprint = upload(unified_image(), HTTP_X_LXD_ALIASES=name).fingerprint

    assert api.get(f"/1.0/images/aliases/{name}").json()["metadata"]["target"] == fingerprint
    assert api.delete(f"/1.0/images/aliases/{name}").status_code == 200


@pytest.mark.parametrize("header", ["os=a%00b", "a%00=b"])
def test_properties_header_with_nul_is_refused(upload, header):
    assert _refused(upload, unified_image(), HTTP_X_LXD_PROPERTIES=header) == (
        "X-LXD-properties: string contains a NUL character"
    )


def test_headers_are_read_as_utf8(upload, api):
    # The server hands header bytes over as Latin-1; LXD reads them as UTF-8.
    raw = "os=Ω&é=1".encode().decode("latin-1")
    filename = "é.tar.gz".encode().decode("latin-1")

    fingerprint = upload(unified_image(), HTTP_X_LXD_PROPERTIES=raw, HTTP_X_LXD_FILENAME=filename).fingerprint

    shown = api.get(f"/1.0/images/{fingerprint}").json()["metadata"]
    assert (shown["properties"]["os"], shown["properties"]["é"], shown["filename"]) == ("Ω", "1", "é.tar.gz")


def test_filename_header_over_255_characters_is_refused(upload):
    # A Linux file name, which lxc sends, is at most 255 bytes; PostgreSQL's column holds 255.
    assert _refused(upload, unified_image(), HTTP_X_LXD_FILENAME="f" * 256) == (
        "File names may not be longer than 255 characters"
    )


# Image PUT -----------------------------------------------------------------------------------


@pytest.fixture
def image(upload):
    return upload(unified_image()).fingerprint


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_expiry_outside_years_1_to_9999_in_utc_is_refused(api, image, when):
    before = api.get(f"/1.0/images/{image}").json()["metadata"]

    response = api.put(f"/1.0/images/{image}", {"expires_at": when})

    assert response.status_code == 400
    assert response.json()["error"] == f'expires_at: parsing time "{when}": out of range (years 1 to 9999 in UTC)'
    assert api.get(f"/1.0/images/{image}").json()["metadata"] == before


def test_expiry_at_the_edges_of_the_range_is_stored(api, image):
    for when, shown in [
        ("0001-01-01T00:00:01+00:00", "0001-01-01T00:00:01Z"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ]:
        assert api.put(f"/1.0/images/{image}", {"expires_at": when}).status_code == 200
        assert api.get(f"/1.0/images/{image}").json()["metadata"]["expires_at"] == shown


# Export --------------------------------------------------------------------------------------


def test_export_of_an_image_whose_file_is_gone_is_a_clear_404(api, image, images_dir, caplog):
    path = images_dir / image
    path.unlink()

    response = api.get(f"/1.0/images/{image}/export")

    assert response.status_code == 404
    # LXD's text (LXD answers it with a 500).
    assert response.json()["error"] == f"open {path}: no such file or directory"
    assert f"Image file missing: {path}" in caplog.text


# Names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("..", 'Invalid alias name ".."'),
        (".", 'Invalid alias name "."'),
        ("a" * 256, "Alias names may not be longer than 255 characters"),
    ],
)
def test_alias_names_that_cannot_be_addressed_or_stored_are_refused(api, image, name, error):
    ImageAlias.objects.create(name="kept", image=Image.objects.get())

    created = api.post("/1.0/images/aliases", {"name": name, "target": image})
    renamed = api.post("/1.0/images/aliases/kept", {"name": name})

    assert (created.status_code, created.json()["error"]) == (400, error)
    assert (renamed.status_code, renamed.json()["error"]) == (400, error)
    assert list(ImageAlias.objects.values_list("name", flat=True)) == ["kept"]


def test_alias_name_of_255_characters_is_addressable(api, image):
    name = "é" * 255

    assert api.post("/1.0/images/aliases", {"name": name, "target": image}).status_code == 201
    assert api.get(f"/1.0/images/aliases/{name}").status_code == 200
    assert api.delete(f"/1.0/images/aliases/{name}").status_code == 200


def test_profile_name_over_255_characters_is_refused(api):
    Profile.objects.create(name="kept")
    error = "Profile names may not be longer than 255 characters"

    created = api.post("/1.0/profiles", {"name": "p" * 256})
    renamed = api.post("/1.0/profiles/kept", {"name": "p" * 256})

    assert (created.status_code, created.json()["error"]) == (400, error)
    assert (renamed.status_code, renamed.json()["error"]) == (400, error)
    assert sorted(Profile.objects.values_list("name", flat=True)) == ["default", "kept"]
    assert api.post("/1.0/profiles", {"name": "p" * 255}).status_code == 201


# Profile config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # Python refuses to convert an integer of more than 4,300 digits; go-yaml reads it as a string.
        ("9" * 5000, "!!str `9999999...`"),
        ("-" + "9" * 400, "!!str `-999999...`"),
        ("9" * 20, "!!float `9999999...`"),
    ],
)
def test_huge_yaml_integer_in_cloud_init_is_lxds_400(api, value, shown):
    profile = Profile.objects.create(name="p")
    config = {"cloud-init.network-config": value}

    response = api.put("/1.0/profiles/p", {"config": config})

    assert response.status_code == 400
    assert response.json()["error"] == f"yaml: unmarshal errors:\n  line 1: cannot unmarshal {shown} into struct {{}}"
    profile.refresh_from_db()
    assert profile.config == {}


# Side by side with the daemon ------------------------------------------------------------------


def _upload_to(socket_path, data):
    """POST an image file to a server's socket and wait for the operation: the ended operation."""
    headers = {"Content-Type": "application/octet-stream"}
    _, answer_headers, _ = unix_request(socket_path, "POST", "/1.0/images", data, headers)
    return unix_request(socket_path, "GET", answer_headers["Location"] + "/wait?timeout=30")[2]["metadata"]


DIFFERENTIAL_UPLOADS = [
    *[
        (case_id, unified_image(metadata))
        for case_id, (metadata, _) in zip(UNDECODABLE_IDS, UNDECODABLE_METADATA, strict=True)
    ],
    ("long name at go's limit", _tarball_with_special_header(long_name=(1 << 20) - 1)),
    ("long name over go's limit", _tarball_with_special_header(long_name=1 << 20)),
    ("pax header over go's limit", _tarball_with_special_header(pax=(1 << 20) + 10)),
    (
        "scalars as written",
        unified_image(_with_property('  1: 2\n  true: ~\n  3.5: 0x10\n  v: 1.10\n  "\\U0001F600": ok')),
    ),
]


@pytest.mark.live
@pytest.mark.parametrize(
    "data", [case[1] for case in DIFFERENTIAL_UPLOADS], ids=[case[0] for case in DIFFERENTIAL_UPLOADS]
)
def test_uploads_end_as_the_daemons_do(real_lxd, lxdsite_server, data):
    theirs = _upload_to(real_lxd, data)
    ours = _upload_to(lxdsite_server.socket_path, data)
    try:
        assert (ours["status"], ours["err"]) == (theirs["status"], theirs["err"])
        if theirs["status"] == "Success":
            url = f"/1.0/images/{theirs['metadata']['fingerprint']}"
            shown = [
                unix_request(socket, "GET", url)[2]["metadata"]["properties"]
                for socket in (real_lxd, lxdsite_server.socket_path)
            ]
            assert shown[1] == shown[0]
    finally:
        if theirs["status"] == "Success":
            unix_request(real_lxd, "DELETE", f"/1.0/images/{theirs['metadata']['fingerprint']}")


@pytest.mark.live
def test_served_export_of_a_missing_file_is_404_and_logged(lxdsite_server):
    data = unified_image()
    headers = {"Content-Type": "application/octet-stream"}
    _, answer_headers, _ = lxdsite_server.request("POST", "/1.0/images", data, headers)
    fingerprint = lxdsite_server.request("GET", answer_headers["Location"])[2]["metadata"]["metadata"]["fingerprint"]
    path = lxdsite_server.lxd_dir / "images" / fingerprint
    path.unlink()

    status, _, body = lxdsite_server.request("GET", f"/1.0/images/{fingerprint}/export")

    assert (status, body["error"]) == (404, f"open {path}: no such file or directory")
    assert f"Image file missing: {path}" in lxdsite_server.log()
    assert "Traceback" not in lxdsite_server.log()
    # The image can still be deleted.
    assert lxdsite_server.request("DELETE", f"/1.0/images/{fingerprint}")[0] == 202
