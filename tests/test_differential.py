"""lxdsite beside the real LXD 5.0.2 daemon: the same requests must give the same ETags and texts."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
        ),
    }
)


def _both(real_lxd, lxdsite_server, method, path, body=None, headers=None):
    """Send one request to each server: (LXD's answer, lxdsite's answer)."""
    from tests.live_server import unix_request

    return (
        unix_request(real_lxd, method, path, body, headers),
        lxdsite_server.request(method, path, body, headers),
    )


@pytest.fixture
def profile_on_both(real_lxd, lxdsite_server):
    """A profile named ``diff`` on both servers, removed from the real daemon afterwards."""
    _both(real_lxd, lxdsite_server, "POST", "/1.0/profiles", {"name": "diff"})
    yield "/1.0/profiles/diff"
    _both(real_lxd, lxdsite_server, "DELETE", "/1.0/profiles/diff")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=PROFILE_CONTENT)
def test_profile_etag_equals_the_daemons(real_lxd, lxdsite_server, profile_on_both, content):
    lxd_put, ours_put = _both(real_lxd, lxdsite_server, "PUT", profile_on_both, content)
    assert lxd_put[0] == ours_put[0] == 200, (lxd_put[2], ours_put[2])

    (lxd_status, lxd_headers, lxd_body), (status, headers, body) = _both(
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
    lxd_put, ours_put = _both(real_lxd, lxdsite_server, "PUT", "/1.0", body)
    assert lxd_put[0] == ours_put[0] == 200, (lxd_put[2], ours_put[2])

    lxd, ours = _both(real_lxd, lxdsite_server, "GET", "/1.0")

    assert ours[2]["metadata"]["config"] == lxd[2]["metadata"]["config"]
    assert ours[1]["ETag"] == lxd[1]["ETag"]


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
    (lxd_status, _, lxd_body), (status, _, ours) = _both(real_lxd, lxdsite_server, method, path, body)

    expected = BETTER_STATUS.get((method, path, json.dumps(body)), (lxd_status, lxd_status))
    assert (lxd_status, status) == expected
    assert ours["error"] == lxd_body["error"]
    assert ours["type"] == lxd_body["type"] == "error"


def test_stale_if_match_answers_like_the_daemon(real_lxd, lxdsite_server):
    lxd, ours = _both(real_lxd, lxdsite_server, "PUT", "/1.0/profiles/default", {}, {"If-Match": '"stale'})

    assert lxd[0] == ours[0] == 412
    assert ours[2] == lxd[2]
