"""Concurrent read-modify-write clients lose no update when they send If-Match.

Eight clients increment `user.counter` of one profile fifty times each through a live
2-worker server, the way `lxc profile set` does it: GET, change, PUT the full object.
No think-time is needed between GET and PUT: without If-Match about 300 of the 400
increments are lost on both databases. A stale write is refused from a read, without
waiting for the write lock another writer holds.
"""

import contextlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.support.live_server import postgres_database, running_server
from tests.support.workers import PROFILE_URL, increment

pytestmark = pytest.mark.live

CLIENTS = 8
INCREMENTS = 50


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request):
    """A live 2-worker server on each database, holding profile `p` with counter 0."""
    fixture = {"sqlite": "lxdsite_server", "postgresql": "lxdsite_pg_server"}[request.param]
    server = request.getfixturevalue(fixture)
    status, _, body = server.request("POST", "/1.0/profiles", {"name": "p", "config": {"user.counter": "0"}})
    assert status == 201, body
    return server


def run_clients(server, *, if_match, url=PROFILE_URL):
    """Run the clients to completion; (final counter, total 412s)."""

    def client():
        return sum(increment(server, if_match=if_match, url=url) for _ in range(INCREMENTS))

    with ThreadPoolExecutor(CLIENTS) as pool:
        conflicts = sum(future.result() for future in [pool.submit(client) for _ in range(CLIENTS)])
    status, _, body = server.request("GET", url)
    assert status == 200, body
    return int(body["metadata"]["config"]["user.counter"]), conflicts


def test_if_match_loses_no_update(server):
    counter, conflicts = run_clients(server, if_match=True)

    assert counter == CLIENTS * INCREMENTS
    # Without conflicts the clients never raced and the test proved nothing.
    assert conflicts > 0


def test_if_match_loses_no_update_of_a_profile_in_a_project(server):
    assert server.request("POST", "/1.0/projects", {"name": "lu"})[0] == 201
    body = {"name": "p", "config": {"user.counter": "0"}}
    assert server.request("POST", "/1.0/profiles?project=lu", body)[0] == 201

    counter, conflicts = run_clients(server, if_match=True, url=f"{PROFILE_URL}?project=lu")

    assert counter == CLIENTS * INCREMENTS
    assert conflicts > 0
    # The default project's profile of the same name was never written.
    assert server.request("GET", PROFILE_URL)[2]["metadata"]["config"]["user.counter"] == "0"


def test_without_if_match_updates_are_lost(server):
    counter, _ = run_clients(server, if_match=False)

    assert counter < CLIENTS * INCREMENTS


@contextlib.contextmanager
def write_locked(kind, target):
    """Another session holding the write lock: SQLite's database lock, or PostgreSQL's lock on profile `p`."""
    if kind == "sqlite":
        connection = sqlite3.connect(target, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
    else:
        connection = psycopg.connect(target)
        connection.execute("SELECT id FROM resources_profile WHERE name = 'p' FOR UPDATE")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def locked_server(request, tmp_path):
    """A live server holding profile `p`, and the database a second session can lock: (server, kind, target)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            server = stack.enter_context(running_server(tmp_path / "lxd"))
            target = server.lxd_dir / "lxdsite.sqlite3"
        else:
            target = stack.enter_context(postgres_database())
            server = stack.enter_context(running_server(tmp_path / "lxd", env={"DATABASE_URL": target}))
        assert server.request("POST", "/1.0/profiles", {"name": "p"})[0] == 201
        yield server, request.param, target


def test_a_stale_write_is_refused_while_another_writer_holds_the_lock(locked_server):
    server, kind, target = locked_server
    _, headers, body = server.request("GET", PROFILE_URL)
    document = {key: body["metadata"][key] for key in ("config", "description", "devices")}

    with ThreadPoolExecutor(2) as pool, write_locked(kind, target):
        fresh = pool.submit(server.request, "PUT", PROFILE_URL, document, {"If-Match": headers["ETag"]})
        stale = pool.submit(server.request, "PUT", PROFILE_URL, document, {"If-Match": '"0000"'})
        # The stale write is answered from a read; it does not queue behind the lock.
        stale_status, _, stale_body = stale.result(timeout=25)
        fresh_waited = not fresh.done()

    assert stale_status == 412, stale_body
    assert stale_body["error"].endswith(" vs 0000")
    # The current tag passes the early check and then waits for the lock, as a write must.
    assert fresh_waited
    assert fresh.result()[0] == 200
