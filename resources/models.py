"""The LXD objects lxdsite stores.

Config maps and device maps are JSON objects of strings, as LXD keeps them; the rules for
their keys live in ``config_keys`` and are applied by the serializers, so the API, the admin
and the management commands share one copy.
"""

from django.db import models


class Server(models.Model):
    """The server's own configuration (``GET/PUT/PATCH /1.0``): a single row."""

    SINGLETON_ID = 1

    config = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "server configuration"

    def __str__(self):
        return "server configuration"

    @classmethod
    def load(cls, queryset=None):
        """The single row, created on first use."""
        queryset = cls.objects.all() if queryset is None else queryset
        server = queryset.filter(pk=cls.SINGLETON_ID).first()
        if server is None:
            server, _ = cls.objects.get_or_create(pk=cls.SINGLETON_ID)
        return server


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
