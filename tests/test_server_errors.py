"""A 500 is a bug: it answers LXD's envelope and is logged with its traceback and request line.

The failure is real, not staged: a damaged database makes every list of the instances fail. On
SQLite a row keeps a time no reader can parse (a month 13, kept as text); PostgreSQL refuses
that, so there a table the list reads is gone.
"""

import logging
import sqlite3
import time

import pytest
from django.db import ProgrammingError, connection

from resources.models import Instance, InstanceProfile
from tests.support.storage import serve_default_pool

DAMAGED_TIME = "2026-13-40 00:00:00"
SERVER_ERROR = {
    "type": "error",
    "status": "",
    "status_code": 0,
    "operation": "",
    "error_code": 500,
    "error": "Internal server error",
    "metadata": None,
}


def _damage(cursor, name):
    """Store a time no reader can parse in the instance's ``created_at`` (SQLite)."""
    table = Instance._meta.db_table
    cursor.execute(f"UPDATE {table} SET created_at = ? WHERE name = ?", [DAMAGED_TIME, name])
    assert cursor.rowcount == 1


def _damage_in_process(name):
    """Damage the test database so that listing instances fails; the error it then raises."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            _damage(cursor.cursor, name)
            return ValueError
        # Undone with the test's transaction (whose deferred checks run first, as at a commit).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP TABLE {InstanceProfile._meta.db_table}")
        return ProgrammingError


@pytest.mark.django_db
@pytest.mark.usefixtures("default_pool")
def test_a_500_is_logged_with_its_traceback_and_request_line(api, caplog):
    assert api.post("/1.0/instances", {"name": "c1", "source": {"type": "none"}}).status_code == 202
    error = _damage_in_process("c1")
    # Answer the 500 as a server does, instead of raising the exception into the test.
    api.raise_request_exception = False

    with caplog.at_level(logging.ERROR):
        response = api.get("/1.0/instances?recursion=1")

    assert response.status_code == 500
    assert response.json() == SERVER_ERROR
    [record] = [record for record in caplog.records if record.name.startswith("resources")]
    assert record.levelno == logging.ERROR
    assert "GET /1.0/instances?recursion=1" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is error


@pytest.mark.live
def test_serve_writes_a_500s_traceback_and_request_line_to_stderr(lxdsite_server):
    serve_default_pool(lxdsite_server.socket_path)
    status, _, _ = lxdsite_server.request("POST", "/1.0/instances", {"name": "c1", "source": {"type": "none"}})
    assert status == 202
    assert "Traceback" not in lxdsite_server.log()
    with sqlite3.connect(lxdsite_server.lxd_dir / "lxdsite.sqlite3") as database:
        _damage(database.cursor(), "c1")

    status, _, body = lxdsite_server.request("GET", "/1.0/instances?recursion=1")

    assert status == 500
    assert body == SERVER_ERROR
    deadline = time.monotonic() + 5
    while "ValueError" not in lxdsite_server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = lxdsite_server.log()
    assert "GET /1.0/instances?recursion=1" in log
    assert "Traceback (most recent call last)" in log
    assert "ValueError" in log
