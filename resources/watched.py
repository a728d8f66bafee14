"""The tables whose changes end kept answers, and the triggers that watch them.

A model that API answers show is declared ``@watched``; after every ``migrate`` (and every
flush) ``sync_triggers`` makes the database's triggers match that set: each watched table gets
triggers that renew ``ChangeToken`` on every insert, update and delete, whoever writes (API,
admin, commands, raw SQL), and no other table keeps one. ``response_cache`` keeps an answer
under the token it was read at, and the system check in ``checks.py`` refuses a cached view
that reads a table not declared here.
"""

import uuid

from django.db import connections

_WATCHED = []
_PREFIX = "lxdsite_change_"

SQLITE_TRIGGER = """
CREATE TRIGGER {prefix}{table}_{operation} AFTER {operation} ON {table}
BEGIN
    INSERT INTO {tokens} (id, token) VALUES ({singleton}, lower(hex(randomblob(16))))
    ON CONFLICT (id) DO UPDATE SET token = excluded.token;
END
"""

# Deferred to commit, where no other lock is taken after it; set once per transaction.
POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION lxdsite_change_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {tokens} (id, token, txid)
    VALUES ({singleton}, replace(gen_random_uuid()::text, '-', ''), txid_current())
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, txid = EXCLUDED.txid
    WHERE {tokens}.txid IS DISTINCT FROM EXCLUDED.txid;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = """
CREATE CONSTRAINT TRIGGER {prefix}{table} AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lxdsite_change_token();
CREATE TRIGGER lxdsite_truncate_{table} AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION lxdsite_change_token();
"""


def watched(model):
    """Class decorator: API answers show this model's rows, so a change to one ends kept answers."""
    _WATCHED.append(model)
    return model


def watched_models():
    """The models declared ``@watched``."""
    return tuple(_WATCHED)


def is_watched(model):
    """Whether changes to ``model``'s table renew the change token."""
    return model in _WATCHED


def sync_triggers(using="default"):
    """Give every watched table its triggers and take them from every other table.

    Idempotent: run after each migrate and flush (``apps.py``). Vendors other than SQLite and
    PostgreSQL get no triggers; ``response_cache`` keeps nothing there.
    """
    from .models import ChangeToken

    connection = connections[using]
    tokens = ChangeToken._meta.db_table
    tables = [model._meta.db_table for model in _WATCHED]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            _sync_sqlite(cursor, tables, tokens, ChangeToken.SINGLETON_ID)
        elif connection.vendor == "postgresql":
            _sync_postgresql(cursor, tables, tokens, ChangeToken.SINGLETON_ID)
        else:
            return
    # A fresh token: answers kept under the old one may predate the new triggers.
    ChangeToken.objects.using(using).update_or_create(id=ChangeToken.SINGLETON_ID, defaults={"token": uuid.uuid4().hex})


def _sync_sqlite(cursor, tables, tokens, singleton):
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", [f"{_PREFIX}%"])
    for (name,) in cursor.fetchall():
        cursor.execute(f'DROP TRIGGER "{name}"')
    for table in tables:
        for operation in ("INSERT", "UPDATE", "DELETE"):
            sql = SQLITE_TRIGGER.format(
                prefix=_PREFIX, table=table, operation=operation, tokens=tokens, singleton=singleton
            )
            cursor.execute(sql)


def _sync_postgresql(cursor, tables, tokens, singleton):
    cursor.execute(POSTGRESQL_FUNCTION.format(tokens=tokens, singleton=singleton))
    cursor.execute(
        "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE %s OR tgname LIKE %s",
        [f"{_PREFIX}%", "lxdsite_truncate_%"],
    )
    for name, table in cursor.fetchall():
        cursor.execute(f'DROP TRIGGER "{name}" ON {table}')
    for table in tables:
        cursor.execute(POSTGRESQL_TRIGGERS.format(prefix=_PREFIX, table=table))
