"""Kept GET answers (resources/response_cache.py): used while nothing changed, never after a write.

In-process tests run outside a transaction (``transaction=True``) so the cache is in play, on
SQLite and, in the PostgreSQL run, on PostgreSQL. The live tests write through every route a
change can take (the API on any worker, SQL straight into the database behind the server's
back) and read the change back from every worker, on both databases.
"""

import contextlib
import json
import sqlite3

import psycopg
import pytest
from django.core.signals import request_started
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from resources.models import Instance, InstanceProfile, Profile, Server
from resources.response_cache import RESPONSES, ResponseCache
from resources.trust import LISTENER_KEY
from tests.support.images import make_image
from tests.support.live_server import postgres_database, running_server
from tests.support.lxc import ROOT_DISK
from tests.support.storage import serve_default_pool
from tests.support.workers import spread_requests, worker_pids

READS = [
    "/1.0/profiles?recursion=1",
    "/1.0/profiles/web",
    "/1.0/instances?recursion=1",
    "/1.0/instances?recursion=2",
    "/1.0/instances/c1",
    "/1.0/containers/c1?recursion=1",
    "/1.0/instances/c1/snapshots?recursion=1",
    "/1.0/images?recursion=1",
    "/1.0/images/aliases?recursion=1",
]


@pytest.fixture
def objects(transactional_db):
    RESPONSES.clear()
    web = Profile.objects.create(name="web", config={"limits.cpu": "1"})
    instance = Instance.objects.create(name="c1")
    InstanceProfile.objects.create(instance=instance, profile=web)
    yield web, instance
    RESPONSES.clear()


def queries(client, path, **headers):
    """(answer, number of queries it took)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    return response, len(captured)


@pytest.mark.parametrize("path", READS)
def test_a_repeated_get_sends_the_kept_answer_for_one_query(api, objects, path):
    first, _ = queries(api, path)
    again, count = queries(api, path)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    # The change token, nothing else.
    assert count == 1
    not_modified, count = queries(api, path, if_none_match=first["ETag"])
    assert (not_modified.status_code, count) == (304, 1)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda web, c1: Profile.objects.filter(name="web").update(config={"limits.cpu": "2"}), id="update"
        ),
        pytest.param(lambda web, c1: Profile.objects.create(name="extra"), id="insert"),
        pytest.param(lambda web, c1: InstanceProfile.objects.filter(instance=c1).delete(), id="delete"),
        pytest.param(lambda web, c1: c1.snapshots.create(name="s0"), id="snapshot"),
    ],
)
def test_a_write_by_the_orm_shows_in_the_next_get(api, objects, write):
    before = {path: api.get(path).content for path in READS}
    write(*objects)
    after = {path: api.get(path).content for path in READS}
    changed = {path for path in READS if after[path] != before[path]}
    # The answers that show what was written changed; the kept ones were not sent.
    assert changed
    RESPONSES.clear()
    assert after == {path: api.get(path).content for path in READS}


def test_a_read_inside_a_transaction_sees_its_own_write(api, objects):
    api.get("/1.0/profiles/web")
    with transaction.atomic():
        Profile.objects.filter(name="web").update(description="inside")
        assert api.get("/1.0/profiles/web").json()["metadata"]["description"] == "inside"
        transaction.set_rollback(True)
    assert api.get("/1.0/profiles/web").json()["metadata"]["description"] == ""


def test_trusted_and_untrusted_clients_get_their_own_answers(api, tcp_api, objects):
    make_image("a" * 64, public=True)
    make_image("b" * 64, public=False)
    for first in (api, tcp_api):
        RESPONSES.clear()
        first.get("/1.0/images")
        trusted = api.get("/1.0/images").json()["metadata"]
        untrusted = tcp_api.get("/1.0/images").json()["metadata"]
        assert trusted == [f"/1.0/images/{'a' * 64}", f"/1.0/images/{'b' * 64}"]
        assert untrusted == [f"/1.0/images/{'a' * 64}"]
        assert tcp_api.get(f"/1.0/images/{'b' * 64}").status_code == 404


def test_errors_and_the_browsable_api_are_not_kept(api, objects):
    assert api.get("/1.0/profiles/nope").status_code == 404
    assert api.get("/1.0/profiles/web?format=api").status_code == 200
    assert RESPONSES.entries == {}


def test_the_cache_drops_least_recently_used_answers_beyond_its_budget():
    cache = ResponseCache(max_bytes=100, max_entries=3)
    cache.put("a", "t", b"x" * 20, "ea")
    cache.put("b", "t", b"x" * 20, "eb")
    assert cache.get("a", "t") == (b"x" * 20, "ea")
    # Over a quarter of the budget: not kept.
    cache.put("big", "t", b"x" * 26, "e")
    assert cache.get("big", "t") is None
    cache.put("c", "t", b"x" * 20, "ec")
    cache.put("d", "t", b"x" * 20, "ed")
    # Four entries: "b", the least recently used, went.
    assert [key for key in ("a", "b", "c", "d") if cache.get(key, "t")] == ["a", "c", "d"]
    assert cache.get("a", "another token") is None
    cache.put("a", "t", b"x" * 25, "ea")
    cache.put("e", "t", b"x" * 25, "ee")
    cache.put("f", "t", b"x" * 25, "ef")
    assert list(cache.entries) == ["a", "e", "f"]
    assert cache.size == 75


# Live servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def served(tmp_path, database):
    """`serve --workers 2` on SQLite or PostgreSQL; (server, a function running SQL on its database)."""
    with contextlib.ExitStack() as stack:
        env = {}
        if database == "postgresql":
            url = stack.enter_context(postgres_database())
            env["DATABASE_URL"] = url

            def run_sql(sql):
                with psycopg.connect(url, autocommit=True) as db:
                    db.execute(sql)
        else:

            def run_sql(sql):
                db = sqlite3.connect(tmp_path / "lxd" / "lxdsite.sqlite3")
                with db:
                    db.execute(sql)
                db.close()

        server = stack.enter_context(running_server(tmp_path / "lxd", workers=2, env=env))
        yield server, run_sql


@pytest.mark.live
@pytest.mark.parametrize("database", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_every_worker_shows_every_write_whoever_made_it(tmp_path, database):
    with served(tmp_path, database) as (server, run_sql):
        pids = worker_pids(server, 2)
        assert server.request("POST", "/1.0/profiles", {"name": "web", "config": {"limits.cpu": "1"}})[0] == 201
        serve_default_pool(server.socket_path)
        body = {"name": "c1", "profiles": ["web"], "devices": ROOT_DISK, "source": {"type": "none"}}
        created = server.request("POST", "/1.0/instances", body)
        assert created[0] == 202
        server.request("GET", created[2]["operation"] + "/wait")
        reads = [("GET", "/1.0/profiles/web"), ("GET", "/1.0/instances?recursion=1")]

        def every_worker_shows(check):
            """Each worker answers each read (twice or more, so the second is a kept answer) as `check` wants."""
            answers = spread_requests(server, reads, pids)
            for request, replies in answers.items():
                for pid, status, body in replies:
                    assert status == 200
                    assert check(request[1], body["metadata"]), (pid, request, body["metadata"])

        def profile_and_instance(description, cpu):
            def check(path, metadata):
                if path == "/1.0/profiles/web":
                    return (metadata["description"], metadata["config"]) == (description, {"limits.cpu": cpu})
                return [item["expanded_config"].get("limits.cpu") for item in metadata] == [cpu]

            return check

        every_worker_shows(profile_and_instance("", "1"))
        # Through the API, on whichever worker takes it.
        assert server.request("PATCH", "/1.0/profiles/web", {"config": {"limits.cpu": "2"}})[0] == 200
        every_worker_shows(profile_and_instance("", "2"))
        # Straight into the database, behind the server's back.
        run_sql("UPDATE resources_profile SET description = 'by sql' WHERE name = 'web'")
        every_worker_shows(profile_and_instance("by sql", "2"))
        run_sql("DELETE FROM resources_instanceprofile")
        every_worker_shows(lambda path, metadata: path != "/1.0/instances?recursion=1" or metadata[0]["profiles"] == [])

        # The control: with the profile table's trigger gone, a change behind the server's back
        # is not seen by the workers, which send the answers they keep. So the answers above
        # were kept answers, renewed by the triggers.
        if database == "postgresql":
            run_sql("DROP TRIGGER lxdsite_change_resources_profile ON resources_profile")
        else:
            run_sql("DROP TRIGGER lxdsite_change_resources_profile_UPDATE")
        run_sql("UPDATE resources_profile SET description = 'unseen' WHERE name = 'web'")
        every_worker_shows(lambda path, metadata: path != "/1.0/profiles/web" or metadata["description"] == "by sql")


# The edge: kept answers for the unix socket, before Django ---------------------------------------


def wsgi_get(app, path, query="", method="GET", body=b"", **headers):
    """A request through `serve`'s WSGI stack, as accepted on a unix socket: (status, headers, body)."""
    import io
    from wsgiref.util import setup_testing_defaults

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, LISTENER_KEY: "unix"}
    environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, response_headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return answer["status"], answer["headers"], body


@pytest.fixture
def served_app(objects):
    from django.core.wsgi import get_wsgi_application

    from resources.edge import served_stack

    return served_stack(get_wsgi_application())


@pytest.mark.parametrize("path", READS)
def test_the_edge_sends_the_kept_answer_without_django(served_app, path):
    path, _, query = path.partition("?")
    handled = []
    record = lambda **kwargs: handled.append(kwargs)  # noqa: E731
    request_started.connect(record)
    try:
        first = wsgi_get(served_app, path, query)
        with CaptureQueriesContext(connection) as captured:
            again = wsgi_get(served_app, path, query)
        # Counted now: the next request Django handles empties the query log.
        queries = len(captured)
        etag = dict(first[1])["ETag"]
        not_modified = [wsgi_get(served_app, path, query, if_none_match=tag) for tag in (etag, f"W/{etag}")]
        other_tag = wsgi_get(served_app, path, query, if_none_match='"other"')
    finally:
        request_started.disconnect(record)
    assert first[0] == again[0] == "200 OK"
    assert again == first
    assert queries == 1
    # A matching If-None-Match: 304 (RFC 9110 weak comparison), kept after its first time.
    assert not_modified[0][0] == not_modified[1][0] == "304 Not Modified"
    assert not_modified[1] == not_modified[0]
    assert (dict(not_modified[0][1])["ETag"], not_modified[0][2]) == (etag, b"")
    assert other_tag == first
    # Django handled the first GET and the first 304, no kept answer.
    assert len(handled) == 2


def test_the_edge_sends_a_changed_answer_after_a_write(served_app):
    assert b'"limits.cpu":"1"' in wsgi_get(served_app, "/1.0/profiles/web")[2]
    assert b'"limits.cpu":"1"' in wsgi_get(served_app, "/1.0/profiles/web")[2]
    Profile.objects.filter(name="web").update(config={"limits.cpu": "3"})
    assert b'"limits.cpu":"3"' in wsgi_get(served_app, "/1.0/profiles/web")[2]


@pytest.mark.live
def test_a_served_kept_answer_is_the_full_answer_byte_for_byte(tmp_path):
    """The same requests twice on one worker: the full path answers, then the edge, identically."""
    from tests.support.live_server import UnixHTTPConnection

    def raw_get(path, headers=None, method="GET", body=None):
        connection = UnixHTTPConnection(server.socket_path)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        headers = [(name, value) for name, value in response.getheaders() if name not in ("Date", "Server")]
        return response.status, headers, body

    with running_server(tmp_path / "lxd", workers=1) as server:
        assert server.request("POST", "/1.0/profiles", {"name": "web", "config": {"limits.cpu": "1"}})[0] == 201
        for path in ("/1.0/profiles/web", "/1.0/profiles?recursion=1", "/1.0/images"):
            first, again = raw_get(path), raw_get(path)
            assert first[0] == 200
            assert again == first
            condition = {"If-None-Match": dict(first[1])["ETag"]}
            first, again = raw_get(path, condition), raw_get(path, condition)
            assert first[0] == 304
            assert again == first
        stale = {"If-Match": '"stale"'}
        first, again = (raw_get("/1.0/profiles/web", stale, "PUT", b'{"description": "x"}') for _ in range(2))
        assert first[0] == 412
        assert again == first
        assert server.request("GET", "/1.0/profiles/web")[2]["metadata"]["description"] == ""


def test_the_edge_refuses_a_stale_write_as_the_full_path_does(served_app):
    from django.core.wsgi import get_wsgi_application

    from resources.edge import without_head_bodies

    full_path = without_head_bodies(get_wsgi_application())
    etag = dict(wsgi_get(served_app, "/1.0/profiles/web")[1])["ETag"]
    wsgi_get(served_app, "/1.0/profiles/web")
    put = {"method": "PUT", "body": b'{"description": "x"}'}
    handled = []
    record = lambda **kwargs: handled.append(kwargs)  # noqa: E731
    request_started.connect(record)
    try:
        answers = [wsgi_get(served_app, "/1.0/profiles/web", if_match=tag, **put) for tag in ('"a"', '"a"', "b c")]
        deleted = [wsgi_get(served_app, "/1.0/profiles/web", method="DELETE", if_match='"a"') for _ in range(2)]
    finally:
        request_started.disconnect(record)
    # The first stale PUT and the first stale DELETE went the full way; the others did not.
    assert len(handled) == 2
    assert answers[0][0] == answers[2][0] == deleted[0][0] == "412 Precondition Failed"
    assert answers[1] == answers[0]
    assert deleted[1] == deleted[0]
    # Each answer is what Django alone answers to that request.
    assert answers[2] == wsgi_get(full_path, "/1.0/profiles/web", if_match="b c", **put)
    assert b"ETag doesn't match: " + etag.strip('"').encode() + b" vs b c" in answers[2][2]
    # A matching If-Match writes.
    assert wsgi_get(served_app, "/1.0/profiles/web", if_match=etag, **put)[0] == "200 OK"
    assert Profile.objects.get(name="web").description == "x"
    # Where the full path does not answer 412 (no PUT on a collection), neither does the edge.
    wsgi_get(served_app, "/1.0/profiles")
    collection = [wsgi_get(served_app, "/1.0/profiles", if_match='"a"', **put) for _ in range(2)]
    assert collection[0][0] == collection[1][0] == "501 Not Implemented"


def test_a_kept_refusal_ends_with_the_next_write(served_app):
    def put(tag, description):
        return wsgi_get(
            served_app,
            "/1.0/profiles/web",
            method="PUT",
            body=f'{{"description": "{description}"}}'.encode(),
            if_match=tag,
        )

    refused = [put('"old"', "a") for _ in range(2)]
    assert refused[0][0] == refused[1][0] == "412 Precondition Failed"
    current = dict(refused[0][1])["ETag"]
    written = put(current, "b")
    assert written[0] == "200 OK"
    # The tag that was current is stale now, and the new one writes: nothing kept says otherwise.
    stale = put(current, "c")
    assert stale[0] == "412 Precondition Failed"
    assert dict(stale[1])["ETag"] == dict(written[1])["ETag"] != current
    Profile.objects.filter(name="web").update(description="by the ORM")
    assert put(dict(written[1])["ETag"], "d")[0] == "412 Precondition Failed"
    fresh = dict(put('"old"', "e")[1])["ETag"]
    assert put(fresh, "f")[0] == "200 OK"
    assert Profile.objects.get(name="web").description == "f"


def test_a_server_config_change_ends_the_kept_refusals_of_its_writes(served_app):
    """`lxc config set` after a stale `PUT /1.0`: the write with the current ETag goes through."""

    def put(tag, config):
        body = json.dumps({"config": config}).encode()
        return wsgi_get(served_app, "/1.0", method="PUT", body=body, if_match=tag)

    # A flush by an earlier transactional test takes the migration's row with it.
    Server.objects.get_or_create(pk=Server.SINGLETON_ID)
    first = dict(wsgi_get(served_app, "/1.0")[1])["ETag"]
    assert put('"stale"', {})[0] == "412 Precondition Failed"
    changed = put(first, {"core.https_allowed_headers": "X-One"})
    assert changed[0] == "200 OK"
    current = dict(wsgi_get(served_app, "/1.0")[1])["ETag"]
    assert current != first
    again = put(current, {"core.https_allowed_headers": "X-Two"})
    assert again[0] == "200 OK", again[2]
    assert Server.objects.get().config == {"core.https_allowed_headers": "X-Two"}
