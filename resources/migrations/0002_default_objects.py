"""The objects LXD has from the start: the server configuration row and the default profile."""

from django.db import migrations


def create_defaults(apps, schema_editor):
    apps.get_model("resources", "Server").objects.get_or_create(pk=1)
    apps.get_model("resources", "Profile").objects.get_or_create(
        name="default", defaults={"description": "Default LXD profile"}
    )


class Migration(migrations.Migration):
    dependencies = [("resources", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
