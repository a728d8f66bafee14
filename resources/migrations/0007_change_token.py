"""ChangeToken: one row whose token the watched tables' triggers renew (``resources/watched.py``).

The triggers are not listed here: ``watched.sync_triggers`` installs them after every migrate,
for the models declared ``@watched``, so a new resource's table is watched by its declaration.
"""

import uuid

from django.db import migrations, models


def create_token(apps, schema_editor):
    apps.get_model("resources", "ChangeToken").objects.create(id=1, token=uuid.uuid4().hex)


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
        migrations.RunPython(create_token, migrations.RunPython.noop),
    ]
