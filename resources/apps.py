"""The app that holds the LXD objects."""

from django.apps import AppConfig


class ResourcesConfig(AppConfig):
    """lxdsite's LXD resources."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "resources"
