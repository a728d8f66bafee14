"""Lists cost a constant number of queries: listing 30 objects takes as many queries as listing 3.

Each list endpoint is read at each recursion level with 3 objects and again with 30, each with
what the answer shows of its relations (profiles in use, devices, snapshots, aliases). The
queries are counted on the real database (SQLite, or PostgreSQL through DATABASE_URL).
"""

import re
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from resources.models import Profile
from tests.support.api import api_client
from tests.support.images import make_image
from tests.support.storage import make_default_pool

# pytest-django sets up the test database only for runs that hold a django_db test.
pytestmark = pytest.mark.django_db

SMALL, LARGE = 3, 30

LISTS = [
    ("/1.0/profiles", 0),
    ("/1.0/profiles", 1),
    # A project with its own profiles: its lists read the project once more, for any number.
    ("/1.0/profiles?project=qc", 0),
    ("/1.0/profiles?project=qc", 1),
    ("/1.0/instances", 0),
    ("/1.0/instances", 1),
    ("/1.0/instances", 2),
    ("/1.0/containers", 0),
    ("/1.0/containers", 1),
    ("/1.0/containers", 2),
    ("/1.0/instances/c0/snapshots", 0),
    ("/1.0/instances/c0/snapshots", 1),
    ("/1.0/containers/c0/snapshots", 0),
    ("/1.0/containers/c0/snapshots", 1),
    ("/1.0/images", 0),
    ("/1.0/images", 1),
    ("/1.0/images/aliases", 0),
    ("/1.0/images/aliases", 1),
    ("/1.0/operations", 0),
    ("/1.0/operations", 1),
]


def add_objects(api, start, stop):
    """Objects number start..stop-1 of each kind, made as clients make them where the API can.

    Profile ``p<i>`` (config, a device) is used by image ``<i>`` and instance ``c<i>``;
    image ``<i>`` has two aliases; instance ``c<i>`` is made from it through the API, has a
    device and a snapshot, and ``c0`` has one snapshot more per object. Every instance and
    snapshot write leaves an operation. Project ``qc`` holds profile ``q<i>`` beside its default.
    """
    if start == 0:
        assert api.post("/1.0/projects", {"name": "qc"}).status_code == 201
        make_default_pool()
    default = Profile.objects.in_default_project().get(name="default")
    for i in range(start, stop):
        assert api.post("/1.0/profiles?project=qc", {"name": f"q{i}", "config": {"user.n": str(i)}}).status_code == 201
        profile = Profile.objects.create(
            name=f"p{i}", config={"user.n": str(i)}, devices={"data": {"type": "disk", "path": "/mnt", "source": "/s"}}
        )
        # Image files are not needed to list images: rows as an upload leaves them.
        make_image(
            f"{i:064x}",
            properties={"os": f"os{i}"},
            profiles=[default, profile],
            aliases={alias: f"alias of {i}" for alias in (f"img{i}", f"img{i}-b")},
        )
        response = api.post(
            "/1.0/instances",
            {
                "name": f"c{i}",
                "source": {"type": "image", "alias": f"img{i}"},
                "profiles": ["default", f"p{i}"],
                "devices": {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0"}},
            },
        )
        assert response.status_code == 202, response.content
        for instance, snapshot in ((f"c{i}", "snap0"), ("c0", f"s{i}")):
            response = api.post(f"/1.0/instances/{instance}/snapshots", {"name": snapshot})
            assert response.status_code == 202, response.content
            assert response.json()["metadata"]["status"] == "Success", response.content


def listed_count(url, metadata):
    """How many objects a list answer holds (operations are grouped by status)."""
    if url == "/1.0/operations":
        return sum(len(group) for group in metadata.values())
    return len(metadata)


def queries_of(api, url, recursion):
    """The SQL a GET of the list runs, and how many objects it listed."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(f"{url}{'&' if '?' in url else '?'}recursion={recursion}")
    assert response.status_code == 200, response.content
    return [query["sql"] for query in captured.captured_queries], listed_count(url, response.json()["metadata"])


def shape(sql):
    """A statement with its literal values replaced by ``?``: the same query for another row."""
    sql = re.sub(r"\b\d+\b", "?", re.sub(r"'(?:[^']|'')*'", "?", sql))
    # One prefetch for 3 rows or for 30 is the same query.
    return re.sub(r"IN \((?:\?, )*\?\)", "IN (...)", sql)


def repeated(small, large):
    """The statements the larger list ran more often than the smaller, with how many more times."""
    extra = Counter(map(shape, large)) - Counter(map(shape, small))
    return "\n".join(f"{count} more x {sql}" for sql, count in extra.most_common())


@pytest.fixture(scope="module")
def measured(django_db_setup, django_db_blocker):
    """{(url, recursion): (queries with 3 objects, how many listed, queries with 30, how many listed)}.

    The objects are made once for all the lists, in a transaction rolled back at the end.
    """
    api = api_client("unix")
    results = {}
    # The creates leave operations: keep them listed while the lists are read.
    with django_db_blocker.unblock(), override_settings(LXDSITE_OPERATION_EXPIRY=3600), transaction.atomic():
        add_objects(api, 0, SMALL)
        small = {case: queries_of(api, *case) for case in LISTS}
        add_objects(api, SMALL, LARGE)
        large = {case: queries_of(api, *case) for case in LISTS}
        transaction.set_rollback(True)
    for case in LISTS:
        results[case] = (*small[case], *large[case])
    return results


@pytest.mark.parametrize(("url", "recursion"), LISTS)
def test_a_list_costs_as_many_queries_for_30_objects_as_for_3(measured, url, recursion):
    small, small_listed, large, large_listed = measured[(url, recursion)]

    # The lists grew: the larger one shows at least the 30 objects.
    assert small_listed >= SMALL
    assert large_listed >= LARGE
    assert len(large) == len(small), repeated(small, large)


@pytest.mark.parametrize("recursion", [0, 1])
def test_a_project_costs_one_query_more_than_the_default_project(measured, recursion):
    in_default = measured[("/1.0/profiles", recursion)][2]
    in_project = measured[("/1.0/profiles?project=qc", recursion)][2]

    assert len(in_project) == len(in_default) + 1
