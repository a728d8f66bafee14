"""The LXD objects lxdsite stores.

Config maps and device maps are JSON objects of strings, as LXD keeps them; the rules for
their keys live in ``config_keys`` and are applied by the serializers, so the API, the admin
and the management commands share one copy.
"""

from django.db import models


class Server(models.Model):
    """The server's own configuration (``GET/PUT/PATCH /1.0``): one row, made by a migration."""

    SINGLETON_ID = 1

    config = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "server configuration"

    def __str__(self):
        return "server configuration"


class Profile(models.Model):
    """An LXD profile: config and devices that instances inherit in order."""

    DEFAULT_NAME = "default"

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    devices = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class APIToken(models.Model):
    """An API token for TCP clients (``Authorization: Bearer``), stored as a SHA-256 digest."""

    name = models.CharField(max_length=255, unique=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"

    def __str__(self):
        return self.name
