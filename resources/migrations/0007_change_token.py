"""ChangeToken, and the triggers that give it a fresh token whenever a shown row changes."""

import uuid

from django.db import migrations, models

# The tables whose rows API answers show (response_cache.py keeps answers of these only).
WATCHED_MODELS = ["profile", "image", "imageprofile", "imagealias", "instance", "instanceprofile", "snapshot"]

SQLITE_TRIGGER = """
CREATE TRIGGER lxdsite_change_{table}_{operation} AFTER {operation} ON {table}
BEGIN
    INSERT INTO {tokens} (id, token) VALUES (1, lower(hex(randomblob(16))))
    ON CONFLICT (id) DO UPDATE SET token = excluded.token;
END
"""

# Deferred to commit, where no other lock is taken after it; set once per transaction.
POSTGRESQL_FUNCTION = """
CREATE FUNCTION lxdsite_change_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {tokens} (id, token, txid) VALUES (1, replace(gen_random_uuid()::text, '-', ''), txid_current())
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, txid = EXCLUDED.txid
    WHERE {tokens}.txid IS DISTINCT FROM EXCLUDED.txid;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = """
CREATE CONSTRAINT TRIGGER lxdsite_change_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lxdsite_change_token();
CREATE TRIGGER lxdsite_truncate_{table} AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION lxdsite_change_token();
"""


def _tables(apps):
    return [apps.get_model("resources", name)._meta.db_table for name in WATCHED_MODELS]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    tokens = apps.get_model("resources", "ChangeToken")
    tokens.objects.create(id=1, token=uuid.uuid4().hex)
    table = tokens._meta.db_table
    if vendor == "sqlite":
        for watched in _tables(apps):
            for operation in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(SQLITE_TRIGGER.format(table=watched, operation=operation, tokens=table))
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION.format(tokens=table))
        for watched in _tables(apps):
            schema_editor.execute(POSTGRESQL_TRIGGERS.format(table=watched))
    # Elsewhere there are no triggers and no token changes: response_cache stays off there.


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for watched in _tables(apps):
        if vendor == "sqlite":
            for operation in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS lxdsite_change_{watched}_{operation}")
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS lxdsite_change_{watched} ON {watched}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS lxdsite_truncate_{watched} ON {watched}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS lxdsite_change_token()")


class Migration(migrations.Migration):
    dependencies = [
        ("resources", "0006_operation_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=32)),
                ("txid", models.BigIntegerField(null=True)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
