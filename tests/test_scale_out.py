"""Scale-out: `serve --workers N` on PostgreSQL, where each request may land on any worker process.

Clients see one server: a read-modify-write with If-Match loses no update at 16 clients on 4
workers (on SQLite too); an operation made by one worker is read, listed and waited on from the
others (and ended by another); an events listener on one worker hears the operation and lifecycle
events of writes served by the others, through Redis and through the database (and two servers
sharing one Redis do not hear each other). Each worker thread keeps its PostgreSQL connection
across requests.

Which worker serves a request is read from the kernel (`ss -xp`: the process holding the
accepted end of the unix socket), not from anything the server says.
"""

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.support.events_client import EventsClient
from tests.support.live_server import POSTGRES_ADMIN_URL, REDIS_URL, REPO_ROOT, postgres_database, running_server
from tests.support.storage import serve_default_pool
from tests.support.workers import (
    connect,
    increment,
    only_worker,
    spread_requests,
    tracked_request,
    worker_pids,
)

pytestmark = pytest.mark.live

WORKERS = 4
CLIENTS = 16
INCREMENTS = 10


@contextlib.contextmanager
def pg_server(tmp_path, *, workers=WORKERS, env=None, args=()):
    """`serve --workers N` on a fresh PostgreSQL database; (server, database name, worker pids)."""
    with postgres_database() as url:
        env = {"DATABASE_URL": url, **(env or {})}
        with running_server(tmp_path / "lxd", workers=workers, env=env, args=args) as server:
            yield server, url.rsplit("/", 1)[1], worker_pids(server, workers)


# Lost updates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("database", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_if_match_loses_no_update_at_16_clients_on_4_workers(tmp_path, database):
    with contextlib.ExitStack() as stack:
        env = {"DATABASE_URL": stack.enter_context(postgres_database())} if database == "postgresql" else {}
        server = stack.enter_context(running_server(tmp_path / "lxd", workers=WORKERS, env=env))
        pids = worker_pids(server, WORKERS)
        assert server.request("POST", "/1.0/profiles", {"name": "p", "config": {"user.counter": "0"}})[0] == 201

        served = []

        class Tracked:
            """The server as `increment` sees it, noting which worker served each request."""

            @staticmethod
            def request(method, path, body=None, headers=None):
                pid, status, headers_, payload = tracked_request(server, method, path, body, headers)
                served.append((method, status, pid))
                return status, headers_, payload

        def client():
            # Every fourth increment says which workers served its GET and PUT.
            return sum(increment(Tracked if i % 4 == 0 else server, if_match=True) for i in range(INCREMENTS))

        with ThreadPoolExecutor(CLIENTS) as pool:
            conflicts = sum(future.result() for future in [pool.submit(client) for _ in range(CLIENTS)])
        counter = server.request("GET", "/1.0/profiles/p")[2]["metadata"]["config"]["user.counter"]

    assert int(counter) == CLIENTS * INCREMENTS
    # Without conflicts the clients never raced and the test proved nothing.
    assert conflicts > 0
    # The increments were written by every worker, not by one that served them all in turn.
    assert {pid for method, status, pid in served if (method, status) == ("PUT", 200)} == pids


# Operations ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_an_operation_is_read_listed_and_waited_on_from_every_worker(tmp_path):
    # Ended operations normally vanish after 5 s; this test may take longer to reach every worker.
    with pg_server(tmp_path, env={"LXDSITE_OPERATION_EXPIRY": "600"}) as (server, _, pids):
        serve_default_pool(server.socket_path)
        creator, status, _, body = tracked_request(
            server, "POST", "/1.0/instances", {"name": "c1", "source": {"type": "none"}}
        )
        assert status == 202, body
        url = body["operation"]
        served = spread_requests(
            server, [("GET", url), ("GET", f"{url}/wait?timeout=5"), ("GET", "/1.0/operations?recursion=1")], pids
        )

    assert creator in pids
    for request, answers in served.items():
        # Every worker answered each request, the creating one and the three others.
        assert {pid for pid, _, _ in answers} == pids, request
        for _, status, body in answers:
            assert status == 200, body
            if request[1].startswith("/1.0/operations?"):
                assert [op["id"] for op in body["metadata"]["success"]] == [url.rsplit("/", 1)[1]]
            else:
                assert (body["metadata"]["id"], body["metadata"]["status"]) == (url.rsplit("/", 1)[1], "Success")


@pytest.mark.parametrize("database", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_concurrent_creates_never_pass_a_projects_instance_limit(tmp_path, database):
    with contextlib.ExitStack() as stack:
        env = {"DATABASE_URL": stack.enter_context(postgres_database())} if database == "postgresql" else {}
        server = stack.enter_context(running_server(tmp_path / "lxd", workers=WORKERS, env=env))
        serve_default_pool(server.socket_path)
        config = {"features.profiles": "false", "limits.instances": "3"}
        assert server.request("POST", "/1.0/projects", {"name": "lim", "config": config})[0] == 201

        def create(index):
            body = {"name": f"c{index}", "source": {"type": "none"}}
            return server.request("POST", "/1.0/instances?project=lim", body)

        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(create, range(CLIENTS)))
        listed = server.request("GET", "/1.0/instances?project=lim")[2]["metadata"]

    assert sorted(status for status, _, _ in answers) == [202] * 3 + [400] * (CLIENTS - 3)
    refusals = {body["error"] for status, _, body in answers if status == 400}
    assert refusals == {'Reached maximum number of instances in project "lim"'}
    assert len(listed) == 3


def start_running_operation(server, database_url):
    """A running, cancellable operation, started as a worker starts one (lxdsite's own code); its URL."""
    script = "from resources.operations import start_operation as s; print(s('Long work', may_cancel=True).id)"
    env = {**os.environ, "DATABASE_URL": database_url, "LXD_DIR": str(server.lxd_dir)}
    done = subprocess.run(
        [".venv/bin/python", "manage.py", "shell", "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # The shell may print its own notes (the objects it imported) before the script's output.
    return f"/1.0/operations/{done.stdout.split()[-1]}"


@pytest.mark.postgres
def test_waiters_on_every_worker_see_an_operation_cancelled_by_another(tmp_path):
    with pg_server(tmp_path) as (server, name, pids):
        url = start_running_operation(server, POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        # One waiter per worker: each holds one of the worker's 4 threads until the operation ends.
        waiters = {}
        for pid in pids:
            with only_worker(pid, pids):
                connection, served_by = connect(server)
            connection.request("GET", f"{url}/wait?timeout=30")
            waiters[served_by] = connection
        assert set(waiters) == pids, "the waiters did not reach every worker"
        # Cancel only once every waiter is in its loop, reading the row: one session per worker shows it.
        # (Django sends the id as 32 hex digits.)
        operation_id = url.rsplit("/", 1)[1].replace("-", "")
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            for _ in range(300):
                readers = admin.execute(
                    "SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s",
                    (name, f"%{operation_id}%"),
                ).fetchone()[0]
                if readers >= len(pids):
                    break
                time.sleep(0.1)
        assert readers >= len(pids)
        assert server.request("GET", url)[2]["metadata"]["status"] == "Running"

        canceller, status, _, body = tracked_request(server, "DELETE", url)
        assert status == 200, body
        answers = {}
        for pid, connection in waiters.items():
            response = connection.getresponse()
            answers[pid] = (response.status, response.read())
            connection.close()

    for pid, (status, raw) in answers.items():
        assert status == 200, raw
        assert json.loads(raw)["metadata"]["status"] == "Cancelled", (pid, canceller)


# Events -------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("feed", ["database", "redis"])
def test_a_listener_on_each_worker_hears_writes_served_by_the_others(tmp_path, feed):
    env = {"LXDSITE_REDIS_URL": REDIS_URL} if feed == "redis" else {}
    # Names of this test's own: other servers may publish on the same Redis at the same time.
    prefix = f"s{uuid.uuid4().hex[:8]}-"
    with pg_server(tmp_path, env=env) as (server, _, pids):
        # The pool the instances live in, made before listening (its event has another name).
        serve_default_pool(server.socket_path)
        listeners = {}
        try:
            for pid in pids:
                with only_worker(pid, pids):
                    listener = EventsClient(server.socket_path, "/1.0/events?type=operation,lifecycle")
                listeners[listener.serving_pid()] = listener
            assert set(listeners) == pids, "the listeners did not reach every worker"
            writers, operations = Counter(), []
            names = [f"{prefix}{i}" for i in range(12)]
            for i, name in enumerate(names):
                # Each worker serves a share of the writes: profiles are written at once, instances
                # through an operation (two events of its own).
                with only_worker(sorted(pids)[i % len(pids)], pids):
                    if i % 3:
                        pid, status, _, body = tracked_request(server, "POST", "/1.0/profiles", {"name": name})
                        assert status == 201, body
                    else:
                        body = {"name": name, "source": {"type": "none"}}
                        pid, status, _, body = tracked_request(server, "POST", "/1.0/instances", body)
                        assert status == 202, body
                        operations.append(body["metadata"]["id"])
                writers[pid] += 1
            # Every event must arrive within 2 seconds of the last write.
            deadline = time.monotonic() + 2
            with ThreadPoolExecutor(len(listeners)) as pool:
                arrivals = pool.map(lambda client: client.receive_all(deadline - time.monotonic()), listeners.values())
                heard = dict(zip(listeners, arrivals, strict=True))
        finally:
            for listener in listeners.values():
                listener.close()

    # Every worker served writes, so each listener heard some from another.
    assert set(writers) == pids, writers
    wanted = [f"/1.0/{'profiles' if i % 3 else 'instances'}/{name}" for i, name in enumerate(names)]
    for pid, events in heard.items():
        lifecycle = [e["metadata"]["source"] for e in events if e["type"] == "lifecycle"]
        assert sorted(source for source in lifecycle if prefix in source) == sorted(wanted), pid
        steps = [(e["metadata"]["id"], e["metadata"]["status"]) for e in events if e["type"] == "operation"]
        assert [step for step in steps if step[0] in operations] == [
            (operation, status) for operation in operations for status in ("Running", "Success")
        ], pid


def test_servers_on_different_redis_databases_do_not_hear_each_other(tmp_path):
    base = REDIS_URL.rsplit("/", 1)[0]
    prefix = f"r{uuid.uuid4().hex[:8]}-"
    with (
        running_server(tmp_path / "a", workers=1, env={"LXDSITE_REDIS_URL": f"{base}/14"}) as first,
        running_server(tmp_path / "b", workers=1, env={"LXDSITE_REDIS_URL": f"{base}/15"}) as second,
    ):
        listener = EventsClient(first.socket_path, "/1.0/events?type=lifecycle")
        try:
            assert second.request("POST", "/1.0/profiles", {"name": f"{prefix}second"})[0] == 201
            assert first.request("POST", "/1.0/profiles", {"name": f"{prefix}first"})[0] == 201
            # The first server's own event comes after the second's would have.
            events = []
            while (event := listener.receive(timeout=2)) is not None:
                events.append(event)
                if event["metadata"]["source"] == f"/1.0/profiles/{prefix}first":
                    break
        finally:
            listener.close()

    sources = [e["metadata"]["source"] for e in events if prefix in e["metadata"]["source"]]
    assert sources == [f"/1.0/profiles/{prefix}first"]


# PostgreSQL connections ---------------------------------------------------------------------------


def backends(admin, name):
    """{(pid, backend_start)} of the sessions connected to database `name`."""
    rows = admin.execute(
        "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
        (name,),
    ).fetchall()
    return set(rows)


@pytest.mark.postgres
def test_worker_threads_keep_their_postgresql_connections(tmp_path):
    threads = 4
    bound = 2 * threads
    # Connected to the maintenance database: this session is not one of the server's.
    with (
        psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin,
        pg_server(tmp_path, workers=2, args=("--threads", str(threads))) as (server, name, _),
        ThreadPoolExecutor(bound) as pool,
        ThreadPoolExecutor(1) as driver,
    ):

        def burst(count):
            paths = ["/1.0/profiles/default", "/1.0/profiles?recursion=1", "/1.0/instances", "/1.0/operations"]
            futures = [pool.submit(server.request, "GET", paths[i % len(paths)]) for i in range(count)]
            assert all(future.result()[0] == 200 for future in futures)

        def sessions():
            return admin.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()[0]

        # Every thread of both workers opens its connection.
        burst(200)
        before, sessions_before = backends(admin, name), sessions()
        samples = []
        for _ in range(5):
            running = driver.submit(burst, 60)
            while not running.done():
                samples.append(backends(admin, name))
                time.sleep(0.02)
            running.result()
        # A session that ended flushes its statistics as it exits.
        after, sessions_after = backends(admin, name), sessions()

    assert 0 < len(before) <= bound
    assert all(len(sample) <= bound for sample in samples)
    # 300 requests later the same sessions serve: none closed, none opened.
    assert after == before
    assert all(sample <= before for sample in samples)
    assert sessions_after == sessions_before
