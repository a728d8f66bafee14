"""The app that holds the LXD objects."""

from django.apps import AppConfig
from django.core.signals import got_request_exception
from django.db.models.signals import post_delete, post_migrate


def _sync_triggers(sender, using, **kwargs):
    from .watched import sync_triggers

    sync_triggers(using)


def _ensure_default_project(sender, using, **kwargs):
    from django.db import connections

    from .default_project import ensure_default_project
    from .models import Project

    # After a flush (the test databases' reset) as after a migrate; not before the projects migration.
    if Project._meta.db_table in connections[using].introspection.table_names():
        ensure_default_project(Project, using)


class ResourcesConfig(AppConfig):
    """lxdsite's LXD resources."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "resources"

    def ready(self):
        # The system checks register, and instance trees follow their rows' deletions.
        from . import checks, instance_backups, instance_files  # noqa: F401

        # After migrate and flush: the watched tables' triggers follow the models' declarations.
        post_migrate.connect(_sync_triggers, sender=self, dispatch_uid="lxdsite-sync-triggers")
        post_migrate.connect(_ensure_default_project, sender=self, dispatch_uid="lxdsite-default-project")
        # Every unhandled exception (a 500) is logged with its request line.
        from .exceptions import log_server_error

        got_request_exception.connect(log_server_error, dispatch_uid="lxdsite-log-server-errors")
        # An image's volumes on optimized pools go with the image (however it is deleted).
        from .instance_volumes import forget_image_volumes
        from .models import Image

        post_delete.connect(forget_image_volumes, sender=Image, dispatch_uid="lxdsite-image-volumes")
