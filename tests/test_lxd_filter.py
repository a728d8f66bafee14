"""LXD's ``filter=`` on /1.0/images and /1.0/instances: its grammar, error texts and comparisons.

LXD 5.0.2 (lxd/filter) splits the filter at white space into ``[not] FIELD OP VALUE`` clauses
joined by ``and``/``or`` and read left to right, and compares the field path of the API object
with the value, ignoring case. A key is a field path and nothing else: a Django lookup suffix
(``__regex``, ``__contains``) is a key that names no field, and never reaches the ORM. The
expected answers are the daemon's (recorded with curl), except where docs/compatibility.md says
lxdsite differs.
"""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from resources.models import Image, Instance, InstanceProfile, Profile
from tests.support.images import make_image

UBUNTU = "a" * 64
OTHER = "b" * 64

# LXD's parse errors, word for word (LXD answers them with 500, lxdsite with 400).
BAD_FILTERS = [
    ("bogus", "clause has no operator"),
    ("not name", "clause has no operator"),
    ("name eq", "clause has no value"),
    ("not", "incomplete not clause"),
    ("NOT", "incomplete not clause"),
    ("name eq x and", "unterminated compound clause"),
    ("name eq x foo name eq y", "invalid clause composition"),
    ("name eq x OR name eq y", "invalid clause composition"),
    ('name eq "x', "unterminated quote"),
    # LXD looks for the closing quote from the next word on: a quoted single word never ends.
    ('name eq "x"', "unterminated quote"),
    ('name eq ""', "unterminated quote"),
    ("name\x1ceq\x1cx", "clause has no operator"),
]


@pytest.fixture
def images(db):
    """Two images, as the daemon held them when its answers were recorded: fingerprint → name."""
    make_image(
        UBUNTU,
        size=273,
        public=True,
        properties={"os": "Ubuntu", "description": "My Image", "kelvin": "\u212a", "greek": "Σ", "dotless": "\u0131"},
    )
    make_image(OTHER, architecture="aarch64", size=275, properties={"os": "other"})
    return {UBUNTU: "ubuntu", OTHER: "other"}


@pytest.fixture
def instances(profile):
    """c1 (local config and device), c2 (running, ephemeral, with profile p1), C3 (aarch64)."""
    default = Profile.objects.get(name=Profile.DEFAULT_NAME)
    c1 = Instance.objects.create(
        name="c1",
        config={"user.role": "web", "limits.cpu": "2", "volatile.apply_template": "create"},
        devices={"data": {"type": "disk", "path": "/data", "source": "/tmp"}},
    )
    c2 = Instance.objects.create(name="c2", status=Instance.RUNNING, ephemeral=True)
    c3 = Instance.objects.create(name="C3", architecture="aarch64")
    for instance, profiles in ((c1, [default]), (c2, [default, profile]), (c3, [default])):
        for attached in profiles:
            InstanceProfile.objects.create(instance=instance, profile=attached)


def _image_names(client, images, expression):
    response = client.get("/1.0/images", {"filter": expression})
    assert response.status_code == 200, response.content
    return sorted(images[url.rsplit("/", 1)[1]] for url in response.json()["metadata"])


def _instance_names(api, expression, recursion):
    response = api.get("/1.0/instances", {"filter": expression, "recursion": recursion})
    assert response.status_code == 200, response.content
    metadata = response.json()["metadata"]
    return sorted(item["name"] if recursion else item.rsplit("/", 1)[1] for item in metadata)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Lookup suffixes are part of the key: a property of that name, which no image has.
        (r"properties.os__regex eq ^(\w*)*$X", []),
        ("properties.os__regex eq ^Ub", []),
        ("properties.os__regex eq (", []),
        ("properties.os__contains eq U", []),
        ("properties.os__icontains eq ubuntu", []),
        ("properties.os__range eq x", []),
        ("properties.os__gt eq A", []),
        ("properties.os__startswith ne ub", ["other", "ubuntu"]),
        ("properties__os eq Ubuntu", []),
        ("fingerprint__startswith eq a", []),
        ("public__exact eq true", []),
        ("architecture__in ne x86_64", ["other", "ubuntu"]),
    ],
)
def test_image_keys_are_field_paths_never_orm_lookups(api, images, expression, expected):
    with CaptureQueriesContext(connection) as queries:
        assert _image_names(api, images, expression) == expected

    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "REGEXP" not in sql.upper()
    assert " LIKE " not in sql.upper()


@pytest.mark.parametrize("key", ["properties.os__regex", "properties.os"])
def test_a_catastrophic_pattern_is_compared_as_text_and_never_run(api, images, key):
    # On today's SQLite a REGEXP with nested quantifiers against this value backtracks for minutes.
    Image.objects.filter(fingerprint=OTHER).update(properties={"os": "a" * 26})
    pattern = r"^(\w*)*$X"

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        names = _image_names(api, images, f"{key} eq {pattern}")

    assert names == []
    assert time.monotonic() - started < 5
    assert not any(pattern in query["sql"] or "(\\w*)" in str(query) for query in queries.captured_queries)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name__regex eq c1", []),
        ("name__iexact ne c1", ["C3", "c1", "c2"]),
        ("config__user.role eq web", []),
        ("Name eq c1", []),
    ],
)
@pytest.mark.django_db
def test_instance_keys_are_field_paths_never_orm_lookups(api, instances, expression, expected):
    assert _instance_names(api, expression, recursion=1) == expected


@pytest.mark.parametrize("path", ["/1.0/images", "/1.0/instances", "/1.0/containers"])
@pytest.mark.parametrize(("expression", "message"), BAD_FILTERS)
@pytest.mark.django_db
def test_malformed_filters_get_lxds_texts(api, path, expression, message):
    response = api.get(path, {"filter": expression})

    assert response.status_code == 400
    assert response.json()["error"] == f"Invalid filter: {message}"


@pytest.mark.parametrize("operator", ["gt", "EQ", "NE", "=", "like"])
@pytest.mark.django_db
def test_operators_other_than_eq_and_ne_are_refused(api, operator):
    # LXD 5.0.2 reads every operator but "ne" as "eq" (so "NE" means equal); lxdsite refuses them.
    response = api.get("/1.0/instances", {"filter": f"name {operator} c1"})

    assert response.status_code == 400
    assert response.json()["error"] == f'Invalid filter: unsupported operator "{operator}"'


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", ["other", "ubuntu"]),
        ("   ", ["other", "ubuntu"]),
        # Strings compare ignoring case, with Unicode's simple folding (Go's strings.EqualFold).
        ("properties.os eq ubuntu", ["ubuntu"]),
        ("properties.os eq UBUNTU", ["ubuntu"]),
        ("properties.kelvin eq k", ["ubuntu"]),
        ("properties.greek eq ς", ["ubuntu"]),
        ("properties.dotless eq i", []),
        ('properties.description eq "my image"', ["ubuntu"]),
        ('properties.description\xa0eq\u3000"My  Image"', ["ubuntu"]),
        # A quoted single word swallows the rest of the filter up to a word ending in a quote.
        ('properties.os eq "Ubuntu" or public eq x"', []),
        ("properties.os ne Ubuntu", ["other"]),
        ("not properties.os eq Ubuntu", ["other"]),
        ("NOT properties.os eq Ubuntu", ["other"]),
        ("properties.os eq Ubuntu or properties.os eq other", ["other", "ubuntu"]),
        # Left to right: (other or Ubuntu) and <a property no image has>.
        ("properties.os eq other or properties.os eq Ubuntu and properties.missing eq x", []),
        ("properties.missing eq x", []),
        ("properties.missing ne x", ["other", "ubuntu"]),
        ("properties eq x", []),
        ("properties ne x", ["other", "ubuntu"]),
        ("Properties.os eq Ubuntu", []),
        ("bogus eq x", []),
        ("bogus ne x", ["other", "ubuntu"]),
        ("architecture eq X86_64", ["ubuntu"]),
        ("fingerprint eq " + UBUNTU, ["ubuntu"]),
        ("fingerprint eq aaaa", []),
        ("type eq CONTAINER", ["other", "ubuntu"]),
        ("profiles eq default", []),
        ("created_at ne x", ["other", "ubuntu"]),
        # Below a string, list or time there is no field (LXD's handler panics on some).
        ("fingerprint.x eq y", []),
        ("profiles.0 ne y", ["other", "ubuntu"]),
        ("update_source.server eq y", []),
        # lxdsite: booleans and numbers compare as values (LXD 5.0.2 never finds them equal).
        ("public eq true", ["ubuntu"]),
        ("public eq 0", ["other"]),
        ("public eq yes", []),
        ("size eq 273", ["ubuntu"]),
        ("size eq +275", ["other"]),
        ("size eq 2_73", []),
        # lxdsite: regular expression characters are text (LXD runs the value as a regexp).
        ("properties.os eq ^ub", []),
        ("properties.os eq ub.*", []),
    ],
)
def test_image_filters(api, images, expression, expected):
    assert _image_names(api, images, expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name eq c1", ["c1"]),
        ("name eq C1", ["c1"]),
        ("name eq c3", ["C3"]),
        ("name ne c1", ["C3", "c2"]),
        ("status eq running", ["c2"]),
        ("status eq STOPPED", ["C3", "c1"]),
        ("type eq container", ["C3", "c1", "c2"]),
        ("architecture eq aarch64", ["C3"]),
        ("location eq none", ["C3", "c1", "c2"]),
        ("project eq default", ["C3", "c1", "c2"]),
        ("description eq x", []),
        ("config.user.role eq WEB", ["c1"]),
        ("config.volatile.apply_template eq create", ["c1"]),
        ("config.limits.cpu eq 1", []),
        ("expanded_config.limits.cpu eq 1", ["c2"]),
        ("expanded_config.user.note eq a<b>&c", ["c2"]),
        ("devices.data.path eq /data", ["c1"]),
        ("expanded_devices.data.path eq /mnt", ["c2"]),
        ("devices.data ne x", ["C3", "c1", "c2"]),
        ("devices.missing.path eq x", []),
        ("devices eq x", []),
        ("not name eq c1 and not name eq c2", ["C3"]),
        # Left to right, not "and before or": (c1 or c2) and Running.
        ("name eq c1 or name eq c2 and status eq Running", ["c2"]),
        ("profiles eq default", []),
        ("name.x eq y", []),
        # LXD 5.0.2 finds ``name`` at recursion=2 through its embedded struct's empty key.
        (".name eq c1", []),
        ("name eq c.*", []),
        ("ephemeral eq true", ["c2"]),
        ("status_code eq 103", ["c2"]),
        ("state.status eq Running", []),
    ],
)
@pytest.mark.parametrize("recursion", [0, 1, 2])
@pytest.mark.django_db
def test_instance_filters(api, instances, expression, expected, recursion):
    assert _instance_names(api, expression, recursion) == expected


def test_untrusted_clients_filter_public_images_only(tcp_api, images):
    assert _image_names(tcp_api, images, "properties.os eq other") == []
    assert _image_names(tcp_api, images, "properties.os ne x") == ["ubuntu"]


def test_a_filter_costs_one_query_over_the_rows(api, images, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert _image_names(api, images, "") == ["other", "ubuntu"]
    # The rows the filter reads (only the columns it names), then the answer.
    with django_assert_num_queries(2):
        assert _image_names(api, images, "properties.os eq other") == ["other"]


@pytest.mark.live
@pytest.mark.lxd
def test_malformed_filters_get_the_daemons_texts(real_lxd, lxdsite_server):
    from urllib.parse import quote

    from tests.support.live_server import unix_request

    for expression, _ in BAD_FILTERS:
        path = f"/1.0/images?filter={quote(expression)}"
        theirs, ours = unix_request(real_lxd, "GET", path), lxdsite_server.request("GET", path)
        # LXD answers its parse errors with 500; they are the client's mistake (400).
        assert (theirs[0], ours[0]) == (500, 400), expression
        assert ours[2]["error"] == theirs[2]["error"], expression


@pytest.mark.django_db
def test_an_image_url_ignores_filter_as_lxd_does(api):
    make_image("f" * 64)
    assert api.get(f"/1.0/images/{'f' * 64}?filter=bogus").status_code == 200
    assert api.get(f"/1.0/images/{'f' * 64}?filter=fingerprint eq x").status_code == 200
