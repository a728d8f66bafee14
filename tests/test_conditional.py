"""RFC 9110 preconditions with LXD's forms: the If-Match and If-None-Match matrices."""

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resources.models import Instance, Profile

# (If-Match value, passes?) where {etag} is the current bare hex.
IF_MATCH_MATRIX = [
    pytest.param(None, True, id="none"),
    pytest.param("", True, id="empty"),
    pytest.param('"{etag}"', True, id="quoted"),
    pytest.param("{etag}", True, id="bare-hex"),
    pytest.param(' "{etag}" ', True, id="whitespace"),
    pytest.param('"{etag}', True, id="lxd-leading-quote"),
    pytest.param("*", True, id="star"),
    pytest.param('"0000", "{etag}"', True, id="list-with-match"),
    pytest.param('"stale"', False, id="stale-quoted"),
    pytest.param("stale", False, id="stale-bare"),
    pytest.param('W/"{etag}"', False, id="weak"),
    pytest.param('"0000", "1111"', False, id="list-without-match"),
    pytest.param("{etag},garbage", False, id="bare-list"),
    pytest.param("'{etag}'", False, id="single-quotes"),
    pytest.param("{ETAG}", False, id="upper-case"),
    pytest.param("garbage!@#", False, id="garbage"),
]

WRITES = [
    pytest.param(
        "put", "/1.0/profiles/p1", {"config": {"limits.cpu": "4"}, "description": "w", "devices": {}}, id="PUT"
    ),
    pytest.param("patch", "/1.0/profiles/p1", {"description": "w"}, id="PATCH"),
    pytest.param("delete", "/1.0/profiles/p1", None, id="DELETE"),
    pytest.param("post", "/1.0/profiles/p1", {"name": "p2"}, id="rename"),
]


def _header(template, etag):
    return None if template is None else template.format(etag=etag, ETAG=etag.upper())


def _snapshot():
    return list(Profile.objects.order_by("name").values_list("name", "description", "config", "devices"))


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize(("if_match", "passes"), IF_MATCH_MATRIX)
@pytest.mark.django_db
def test_if_match_matrix(api, profile, method, path, body, if_match, passes):
    etag = api.get(path).headers["ETag"].strip('"')
    header = _header(if_match, etag)
    extra = {} if header is None else {"HTTP_IF_MATCH": header}
    before = _snapshot()

    response = getattr(api, method)(path, body, **extra)

    if passes:
        assert response.status_code in (200, 201), response.content
        assert _snapshot() != before
    else:
        assert response.status_code == 412
        sent = header.strip().strip('"')
        assert response.json() == {
            "type": "error",
            "status": "",
            "status_code": 0,
            "operation": "",
            "error_code": 412,
            "error": f"ETag doesn't match: {etag} vs {sent}",
            "metadata": None,
        }
        assert response.headers["ETag"] == f'"{etag}"'
        assert _snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize("if_none_match", ['"{etag}"', "*", 'W/"{etag}"', '"0000", "{etag}"'])
@pytest.mark.django_db
def test_if_none_match_on_write_refuses_a_match(api, profile, method, path, body, if_none_match):
    etag = api.get(path).headers["ETag"].strip('"')
    before = _snapshot()

    response = getattr(api, method)(path, body, HTTP_IF_NONE_MATCH=_header(if_none_match, etag))

    assert response.status_code == 412
    assert _snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.django_db
def test_if_none_match_on_write_passes_without_a_match(api, profile, method, path, body):
    response = getattr(api, method)(path, body, HTTP_IF_NONE_MATCH='"0000"')

    assert response.status_code in (200, 201)


# (If-None-Match value, 304?)
IF_NONE_MATCH_MATRIX = [
    pytest.param(None, False, id="none"),
    pytest.param("", False, id="empty"),
    pytest.param('"{etag}"', True, id="quoted"),
    pytest.param('W/"{etag}"', True, id="weak-matches-weakly"),
    pytest.param("{etag}", True, id="bare-hex"),
    pytest.param("*", True, id="star"),
    pytest.param('"0000", W/"{etag}"', True, id="list-with-match"),
    pytest.param('"0000", "1111"', False, id="list-without-match"),
    pytest.param('"stale"', False, id="stale"),
    pytest.param("garbage!@#", False, id="garbage"),
]


@pytest.mark.parametrize("path", ["/1.0", "/1.0/profiles/p1", "/1.0/profiles", "/1.0/profiles?recursion=1"])
@pytest.mark.parametrize("method", ["get", "head"])
@pytest.mark.parametrize(("if_none_match", "not_modified"), IF_NONE_MATCH_MATRIX)
@pytest.mark.django_db
def test_if_none_match_matrix_on_reads(api, profile, path, method, if_none_match, not_modified):
    etag = api.get(path).headers["ETag"].strip('"')
    header = _header(if_none_match, etag)
    extra = {} if header is None else {"HTTP_IF_NONE_MATCH": header}

    response = getattr(api, method)(path, **extra)

    assert response.headers["ETag"] == f'"{etag}"'
    if not_modified:
        assert response.status_code == 304
        assert response.content == b""
    else:
        assert response.status_code == 200
        assert (response.content == b"") == (method == "head")


@pytest.mark.parametrize(("method", "body"), [("put", {}), ("patch", {}), ("delete", None), ("post", {"name": "x"})])
@pytest.mark.parametrize("header", ["*", '"whatever"'])
@pytest.mark.django_db
def test_missing_object_is_404_whatever_the_preconditions(api, method, body, header):
    response = getattr(api, method)("/1.0/profiles/nosuch", body, HTTP_IF_MATCH=header)

    assert response.status_code == 404
    assert response.json()["error"].endswith("Profile not found")


@pytest.mark.django_db
def test_precondition_is_checked_before_the_body(api, profile):
    response = api.generic(
        "PUT", "/1.0/profiles/p1", "not json", content_type="application/json", HTTP_IF_MATCH="stale"
    )

    assert response.status_code == 412


@pytest.mark.django_db
def test_server_put_honours_if_match(api):
    etag = api.get("/1.0").headers["ETag"]
    body = {"config": {"images.auto_update_interval": "0"}}

    assert api.put("/1.0", body, HTTP_IF_MATCH="stale").status_code == 412
    assert api.put("/1.0", body, HTTP_IF_MATCH=etag).status_code == 200
    assert api.put("/1.0", body, HTTP_IF_MATCH=etag).status_code == 412


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@override_settings(LXDSITE_REQUIRE_IF_MATCH=True)
@pytest.mark.django_db
def test_required_if_match_answers_428_without_it(api, profile, method, path, body):
    before = _snapshot()

    response = getattr(api, method)(path, body)

    assert response.status_code == 428
    assert response.json()["error_code"] == 428
    assert _snapshot() == before
    etag = api.get(path).headers["ETag"]
    assert getattr(api, method)(path, body, HTTP_IF_MATCH=etag).status_code in (200, 201)


@override_settings(LXDSITE_REQUIRE_IF_MATCH=True)
@pytest.mark.django_db
def test_required_if_match_leaves_creates_alone(api):
    assert api.post("/1.0/profiles", {"name": "fresh"}).status_code == 201


# Random If-Match / If-None-Match headers -------------------------------------------------------

# (method, body) of each write the random headers go with.
FUZZED_WRITES = [
    ("put", {"config": {"limits.cpu": "4"}, "description": "w", "devices": {}}),
    ("patch", {"description": "w"}),
    ("delete", None),
    ("post", {"name": "renamed"}),
]


def _header_text(etag):
    """Header values built around the current ETag, its neighbours and random text."""
    tag = st.sampled_from([etag, etag.upper(), etag[:-1], etag + "0", "0" * 64, "", "*", "stale"])
    forms = st.one_of(
        tag,
        tag.map(lambda t: f'"{t}"'),
        tag.map(lambda t: f'W/"{t}"'),
        tag.map(lambda t: f"'{t}'"),
        tag.map(lambda t: f'"{t}'),
        tag.map(lambda t: f'""{t}""'),
        st.text(max_size=20),
        st.text(alphabet="\"',*W/ \t", max_size=8),
    )
    spaces = st.sampled_from(["", " ", "\t", "  "])
    element = st.tuples(spaces, forms, spaces).map("".join)
    header = st.lists(element, min_size=2, max_size=4).map(",".join)
    # What a server reads off the wire: bytes decoded as Latin-1, no line breaks or NUL.
    return (
        st.one_of(element, header)
        .map(lambda h: h.encode().decode("latin-1"))
        .filter(lambda h: not any(c in h for c in "\r\n\x00"))
    )


def _may_write(if_match, etag):
    """Whether an If-Match header lets a write through: absent or empty, ``*``, the strong tag
    as one element of a list, or LXD's bare tag trimmed of whitespace and quotes."""
    header = if_match.strip()
    if not header or header == "*" or header.strip('"') == etag:
        return True
    return f'"{etag}"' in (element.strip() for element in header.split(","))


def _blocks_write(if_none_match, etag):
    """Whether an If-None-Match header refuses a write: ``*`` or the tag, weak or strong, or bare."""
    header = if_none_match.strip()
    if not header:
        return False
    if header == "*" or header.strip('"') == etag:
        return True
    return f'"{etag}"' in (element.strip().removeprefix("W/") for element in header.split(","))


def _instance_rows():
    return list(Instance.objects.order_by("name").values_list("name", "description", "config", "devices"))


@pytest.mark.parametrize("kind", ["profile", "instance"])
@pytest.mark.parametrize(("method", "body"), FUZZED_WRITES, ids=[m for m, _ in FUZZED_WRITES])
@pytest.mark.django_db
@pytest.mark.usefixtures("default_pool")
def test_random_precondition_headers_never_write_past_a_mismatch(api, kind, method, body):
    """Never a 500; a non-empty If-Match that does not match (or an If-None-Match that does)
    is a 412 and the database is unchanged; a matching one is not refused."""
    path = f"/1.0/{kind}s/fz"
    rows = _snapshot if kind == "profile" else _instance_rows

    @given(data=st.data())
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def check(data):
        Profile.objects.exclude(name="default").delete()
        Instance.objects.all().delete()
        if kind == "profile":
            Profile.objects.create(name="fz", description="d", config={"limits.cpu": "1"})
        else:
            assert api.post("/1.0/instances", {"name": "fz", "source": {"type": "none"}}).status_code == 202
        etag = api.get(path).headers["ETag"].strip('"')
        if_match = data.draw(st.one_of(st.none(), _header_text(etag)), label="If-Match")
        if_none_match = data.draw(st.one_of(st.none(), _header_text(etag)), label="If-None-Match")
        headers = {}
        if if_match is not None:
            headers["HTTP_IF_MATCH"] = if_match
        if if_none_match is not None:
            headers["HTTP_IF_NONE_MATCH"] = if_none_match
        before = rows()

        response = getattr(api, method)(path, body, **headers)

        assert response.status_code < 500, response.content
        allowed = _may_write(if_match or "", etag) and not _blocks_write(if_none_match or "", etag)
        if allowed:
            assert response.status_code in (200, 201, 202), response.content
            assert rows() != before
        else:
            assert response.status_code == 412, response.content
            assert response.json()["error_code"] == 412
            assert rows() == before

    check()
