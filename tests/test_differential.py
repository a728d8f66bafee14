"""lxdsite beside the real LXD 5.0.2 daemon: the same requests must give the same ETags and texts."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resources.serializers import ImageETagSerializer
from tests.support.both_servers import both
from tests.support.etag_recipes import assert_etags_agree
from tests.support.live_server import unix_request

pytestmark = [pytest.mark.live, pytest.mark.lxd]

# Text that stresses Go's encoder: HTML characters, controls, separators, non-ASCII.
# LXD's database refuses NUL, so it is left out.
TRICKY = st.text(
    alphabet=st.one_of(
        st.sampled_from('<>&"\\\b\f\n\r\t\x01\x1f\x7f\u2028\u2029é中😀 '),
        st.characters(min_codepoint=1, max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
    ),
    max_size=24,
)
PROFILE_CONTENT = st.fixed_dictionaries(
    {
        "description": TRICKY,
        "config": st.dictionaries(st.from_regex(r"user\.[a-z0-9]{1,8}", fullmatch=True), TRICKY, max_size=4),
        "devices": st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True),
            st.builds(
                lambda path: {"type": "disk", "source": "/tmp", "path": path},
                st.from_regex(r"/mnt/[a-z]{1,8}", fullmatch=True),
            ),
            max_size=2,
            # Two disks on one path are refused (BETTER_STATUS); the ETags need valid content.
        ).filter(lambda devices: len({device["path"] for device in devices.values()}) == len(devices)),
    }
)


@pytest.fixture
def profile_on_both(real_lxd, lxdsite_server):
    """A profile named ``diff`` on both servers, removed from the real daemon afterwards."""
    both(real_lxd, lxdsite_server, "POST", "/1.0/profiles", {"name": "diff"})
    yield "/1.0/profiles/diff"
    both(real_lxd, lxdsite_server, "DELETE", "/1.0/profiles/diff")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=PROFILE_CONTENT)
def test_profile_etag_equals_the_daemons(real_lxd, lxdsite_server, profile_on_both, content):
    lxd_put, ours_put = both(real_lxd, lxdsite_server, "PUT", profile_on_both, content)
    assert lxd_put[0] == ours_put[0] == 200, (lxd_put[2], ours_put[2])

    (lxd_status, lxd_headers, lxd_body), (status, headers, body) = both(
        real_lxd, lxdsite_server, "GET", profile_on_both
    )

    assert status == lxd_status == 200
    assert body["metadata"] == lxd_body["metadata"]
    assert headers["ETag"] == lxd_headers["ETag"]
    assert ours_put[1]["ETag"] == lxd_headers["ETag"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=TRICKY.filter(lambda text: text.strip()))
def test_server_etag_equals_the_daemons(real_lxd, lxdsite_server, value):
    body = {"config": {"core.proxy_ignore_hosts": value}}
    found = unix_request(real_lxd, "GET", "/1.0")[2]["metadata"]["config"]
    try:
        lxd_put, ours_put = both(real_lxd, lxdsite_server, "PUT", "/1.0", body)
        assert lxd_put[0] == ours_put[0] == 200, (lxd_put[2], ours_put[2])

        lxd, ours = both(real_lxd, lxdsite_server, "GET", "/1.0")

        assert ours[2]["metadata"]["config"] == lxd[2]["metadata"]["config"]
        assert ours[1]["ETag"] == lxd[1]["ETag"]
    finally:
        # The daemon is the session's: its server config goes back as it was.
        unix_request(real_lxd, "PUT", "/1.0", {"config": found})


# Two disks mounted on one path (hypothesis found it: LXD answers 500).
DUPLICATE_PATH = {name: {"type": "disk", "source": "/tmp", "path": "/mnt/aa"} for name in ("a", "a0")}

# Requests whose answers must match the daemon's word for word (status and error text).
SAME_ANSWER = [
    ("GET", "/1.0/profiles/nosuch", None),
    ("PUT", "/1.0/profiles/nosuch", {}),
    ("PATCH", "/1.0/profiles/nosuch", {}),
    ("DELETE", "/1.0/profiles/nosuch", None),
    ("PUT", "/1.0/profiles/default", ""),
    ("GET", "/1.0/nonexistent", None),
    ("GET", "/1.0/profiles/", None),
    ("DELETE", "/1.0", None),
    ("POST", "/1.0/profiles", {"name": "bad/name"}),
    ("POST", "/1.0/profiles", {"name": ".."}),
    ("POST", "/1.0/profiles", {"name": ""}),
    ("DELETE", "/1.0/profiles/default", None),
    ("GET", "/1.0/instances/nosuch/backups", None),
    ("POST", "/1.0/profiles/default", {"name": "x"}),
    ("PUT", "/1.0/profiles/default", {"config": {"no.such.key": "1"}}),
    ("POST", "/1.0/profiles", {"name": "bad", "config": {"no.such.key": "1"}}),
    ("POST", "/1.0/profiles", {"name": "bad", "config": {"limits.cpu": "lots"}}),
    ("PUT", "/1.0", {"config": {"no.such.key": "1"}}),
]

# Where lxdsite answers correct HTTP and LXD does not (docs/compatibility.md): LXD's status, ours.
BETTER_STATUS = {("PUT", "/1.0/profiles/default", '{"config": {"no.such.key": "1"}}'): (500, 400)}


@pytest.mark.parametrize(("method", "path", "body"), SAME_ANSWER, ids=lambda value: json.dumps(value))
def test_error_answers_match_the_daemon(real_lxd, lxdsite_server, method, path, body):
    (lxd_status, _, lxd_body), (status, _, ours) = both(real_lxd, lxdsite_server, method, path, body)

    expected = BETTER_STATUS.get((method, path, json.dumps(body)), (lxd_status, lxd_status))
    assert (lxd_status, status) == expected
    assert ours["error"] == lxd_body["error"]
    assert ours["type"] == lxd_body["type"] == "error"


def test_two_disks_on_one_path_are_refused_with_the_daemons_text(real_lxd, lxdsite_server):
    lxd, ours = both(real_lxd, lxdsite_server, "PUT", "/1.0/profiles/default", {"devices": DUPLICATE_PATH})

    assert (lxd[0], ours[0]) == (500, 400)
    # Go walks a map in random order, so LXD names either device.
    texts = {
        f'Device validation failed for "{name}": More than one disk device uses the same path "/mnt/aa"'
        for name in DUPLICATE_PATH
    }
    assert lxd[2]["error"] in texts
    assert ours[2]["error"] in texts


def test_stale_if_match_answers_like_the_daemon(real_lxd, lxdsite_server):
    lxd, ours = both(real_lxd, lxdsite_server, "PUT", "/1.0/profiles/default", {}, {"If-Match": '"stale'})

    assert lxd[0] == ours[0] == 412
    assert ours[2] == lxd[2]


def _upload(socket_path, data, headers=None):
    """POST an image file, wait for the operation: (HTTP status, ended operation)."""
    from tests.support.live_server import unix_request

    headers = {"Content-Type": "application/octet-stream", **(headers or {})}
    status, answer_headers, _ = unix_request(socket_path, "POST", "/1.0/images", data, headers)
    operation = unix_request(socket_path, "GET", answer_headers["Location"] + "/wait?timeout=30")[2]["metadata"]
    return status, operation


def _image_fields(answer):
    """An image as shown, without the upload time (the one field that differs between servers)."""
    return {key: value for key, value in answer[2]["metadata"].items() if key != "uploaded_at"}


@pytest.fixture
def uploaded_on_both(real_lxd, lxdsite_server):
    """Upload files to both servers; the images are deleted from the shared daemon afterwards."""
    fingerprints = []

    def upload(data, headers=None):
        theirs = _upload(real_lxd, data, headers)
        ours = _upload(lxdsite_server.socket_path, data, headers)
        if theirs[1]["status"] == "Success":
            fingerprints.append(theirs[1]["metadata"]["fingerprint"])
        return theirs, ours

    yield upload
    for fingerprint in fingerprints:
        both(real_lxd, lxdsite_server, "DELETE", f"/1.0/images/{fingerprint}")


@pytest.mark.parametrize("kind", ["unified", "split"])
def test_uploaded_image_equals_the_daemons(real_lxd, lxdsite_server, uploaded_on_both, kind):
    from tests.support.image_files import multipart, split_image, unified_image

    headers = {"X-LXD-public": "true", "X-LXD-properties": "os=other&extra=x%20y", "X-LXD-filename": "given.tar.gz"}
    if kind == "unified":
        data = unified_image()
    else:
        content_type, data = multipart([("metadata", "meta.tar.gz", split_image()[0]), ("rootfs", "r.tar", b"x" * 700)])
        headers["Content-Type"] = content_type

    theirs, ours = uploaded_on_both(data, headers)

    assert theirs[0] == ours[0] == 202
    assert (ours[1]["status"], ours[1]["metadata"]) == (theirs[1]["status"], theirs[1]["metadata"])
    url = f"/1.0/images/{theirs[1]['metadata']['fingerprint']}"
    lxd, mine = both(real_lxd, lxdsite_server, "GET", url)
    assert _image_fields(mine) == _image_fields(lxd)
    assert_etags_agree(ImageETagSerializer, mine[1]["ETag"], lxd[1]["ETag"], mine[2]["metadata"])


# Writes whose effect on an image must be LXD's: the answer, then the image and its ETag.
IMAGE_WRITES = [
    ("PUT", {"auto_update": True, "properties": {"os": "a<b>&é"}, "public": True}),
    ("PUT", {"properties": {"os": "b"}, "profiles": ["default"], "expires_at": "2030-01-01T00:00:00Z"}),
    ("PUT", {"properties": {"os": "c"}, "profiles": None, "expires_at": "0001-01-01T00:00:00Z"}),
    ("PATCH", {"properties": {"release": "2"}, "profiles": [], "public": False}),
    ("PUT", {"profiles": []}),
    ("PUT", {"profiles": ["nosuch"]}),
    ("PATCH", {"auto_update": True}),
]


def test_image_put_and_patch_equal_the_daemons(real_lxd, lxdsite_server, uploaded_on_both):
    from tests.support.image_files import unified_image

    theirs, _ = uploaded_on_both(unified_image())
    url = f"/1.0/images/{theirs[1]['metadata']['fingerprint']}"

    for method, body in IMAGE_WRITES:
        lxd_write, our_write = both(real_lxd, lxdsite_server, method, url, body)
        assert our_write[0] == lxd_write[0], (method, body, lxd_write[2])
        assert our_write[2]["error"] == lxd_write[2]["error"]
        lxd, ours = both(real_lxd, lxdsite_server, "GET", url)
        assert _image_fields(ours) == _image_fields(lxd), (method, body)
        assert_etags_agree(ImageETagSerializer, ours[1]["ETag"], lxd[1]["ETag"], ours[2]["metadata"])


def _bad_uploads():
    from tests.support.image_files import METADATA, tarball, unified_image

    good = unified_image()
    return {
        "random bytes": b"\x00\x01garbage" * 40,
        "empty": b"",
        "no metadata.yaml": tarball({"foo": b"x"}),
        "empty tarball": tarball({}),
        "cut after metadata.yaml": good[:200],
        "cut between members": tarball({"metadata.yaml": METADATA.encode(), "rootfs": None}, "")[:1024],
        "no creation date": unified_image("architecture: x86_64\n"),
        "cut inside metadata.yaml": tarball({"metadata.yaml": METADATA.encode() * 400, "rootfs": None}, "")[:2048],
        "no rootfs": tarball({"metadata.yaml": METADATA.encode()}),
        "unknown architecture": unified_image(METADATA.replace("x86_64", "sparc64")),
        "no architecture": unified_image("creation_date: 1\n"),
    }


@pytest.mark.parametrize("case", list(_bad_uploads()))
def test_bad_upload_fails_like_the_daemon(real_lxd, lxdsite_server, uploaded_on_both, case):
    data = _bad_uploads()[case]

    theirs, ours = uploaded_on_both(data)

    assert theirs[0] == ours[0] == 202
    fields = ("status", "status_code", "err", "metadata")
    assert [ours[1][key] for key in fields] == [theirs[1][key] for key in fields]
    images = lxdsite_server.lxd_dir / "images"
    assert not images.exists() or os.listdir(images) == []


def test_duplicate_and_fingerprint_mismatch_fail_like_the_daemon(real_lxd, lxdsite_server, uploaded_on_both):
    from tests.support.image_files import unified_image

    data = unified_image()
    uploaded_on_both(data)

    for headers in (None, {"X-LXD-fingerprint": "abc"}):
        theirs, ours = uploaded_on_both(data, headers)
        fields = ("status", "status_code", "err", "metadata")
        assert [ours[1][key] for key in fields] == [theirs[1][key] for key in fields], headers


@pytest.mark.parametrize("architecture", ["amd64", "i386", "arm64", "armhf", "ppc64el", "s390x", "riscv64"])
def test_architecture_names_like_the_daemon(real_lxd, lxdsite_server, uploaded_on_both, architecture):
    from tests.support.image_files import METADATA, unified_image

    theirs, ours = uploaded_on_both(unified_image(METADATA.replace("x86_64", architecture)))

    assert ours[1]["status"] == theirs[1]["status"] == "Success", theirs[1]["err"]
    url = f"/1.0/images/{theirs[1]['metadata']['fingerprint']}"
    lxd, mine = both(real_lxd, lxdsite_server, "GET", url)
    assert mine[2]["metadata"]["architecture"] == lxd[2]["metadata"]["architecture"]


def test_alias_answers_and_etags_equal_the_daemons(real_lxd, lxdsite_server, uploaded_on_both):
    from tests.support.image_files import unified_image

    theirs, _ = uploaded_on_both(unified_image())
    fingerprint = theirs[1]["metadata"]["fingerprint"]
    name = f"diff-{fingerprint[:8]}"
    url = f"/1.0/images/aliases/{name}"
    steps = [
        ("POST", "/1.0/images/aliases", {"name": name, "description": "d <&> é", "target": fingerprint[:10]}),
        ("GET", url, None),
        ("POST", "/1.0/images/aliases", {"name": name, "target": fingerprint}),
        ("POST", "/1.0/images/aliases", {"name": "zz-" + name, "target": "deadbeef"}),
        ("POST", "/1.0/images/aliases", {"name": "zz-" + name}),
        ("PUT", url, {"description": "no target"}),
        ("PUT", url, {"description": "new", "target": fingerprint}),
        ("GET", url, None),
        ("PUT", url, {"target": "0000"}),
        ("POST", url, {"name": name + "-2"}),
        ("GET", url + "-2", None),
        ("GET", url, None),
        ("DELETE", url + "-2", None),
        ("GET", url + "-2", None),
    ]
    for method, path, body in steps:
        lxd, ours = both(real_lxd, lxdsite_server, method, path, body)
        assert (ours[0], ours[2]) == (lxd[0], lxd[2]), (method, path, body)
        if method == "GET":
            # (lxdsite also sends the new ETag after a write; LXD sends none.)
            assert ours[1]["ETag"] == lxd[1]["ETag"], path


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/1.0/images/nosuch"),
        ("GET", "/1.0/images/aliases/nosuch"),
        ("DELETE", "/1.0/images/nosuch"),
        ("DELETE", "/1.0/images/aliases/nosuch"),
        ("GET", "/1.0/operations/00000000-0000-0000-0000-000000000000"),
        ("POST", "/1.0/images/0123"),
    ],
)
def test_image_error_answers_match_the_daemon(real_lxd, lxdsite_server, method, path):
    (lxd_status, _, lxd_body), (status, _, ours) = both(real_lxd, lxdsite_server, method, path)

    assert status == lxd_status
    assert ours["error"] == lxd_body["error"]
