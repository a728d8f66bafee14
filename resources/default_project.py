"""The ``default`` project, which LXD has from the start and which cannot be deleted.

Objects made without naming a project live in it (their ``project`` column defaults to its
id), so it is made by the projects migration and made again after a flush (``apps.py``).
"""

from django.core.management.color import no_style
from django.db import connections

DEFAULT_ID = 1
DEFAULT_NAME = "default"
# As LXD 5.0.2 shows its default project.
DEFAULT_DESCRIPTION = "Default LXD project"
DEFAULT_CONFIG = {
    "features.images": "true",
    "features.networks": "true",
    "features.profiles": "true",
    "features.storage.volumes": "true",
}


def ensure_default_project(project_model, using="default"):
    """Make the default project with LXD's id if it is missing; give the default project's
    ``default`` profile to it when a flush left none."""
    project, created = project_model.objects.using(using).get_or_create(
        pk=DEFAULT_ID, defaults={"name": DEFAULT_NAME, "description": DEFAULT_DESCRIPTION, "config": DEFAULT_CONFIG}
    )
    if created:
        # The row was inserted with an explicit id: PostgreSQL's sequence must pass it.
        connection = connections[using]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [project_model]):
                cursor.execute(sql)
    return project
