"""``/1.0``: the server's configuration and environment as LXD shows them."""

import functools
import platform
import socket

from django.contrib.auth.hashers import make_password
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions

from .. import config_keys
from ..etags import ETagSerializer
from ..extensions import API_EXTENSIONS
from ..go import go_quote
from ..models import Server, StoragePool
from ..server_identity import https_addresses, served_certificate
from ..volume_usage import DAEMON_VOLUME_KEYS, daemon_volume_error
from .fields import (
    GoField,
    LXDModelSerializer,
    _json_object,
    lxd_error,
)

LXD_VERSION = "5.0.2"


HIDDEN_SERVER_KEYS = frozenset(key for key, spec in config_keys.SERVER_CLUSTER_KEYS.items() if spec.hidden)


def shown_server_config(config):
    """The server config as LXD shows it: hidden keys (the trust password's hash) as ``true``."""
    return {key: True if key in HIDDEN_SERVER_KEYS else value for key, value in sorted(config.items())}


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ServerConfigField(GoField):
    """The server's ``config``: LXD decodes it as map[string]any and checks each value's type itself."""

    def to_internal_value(self, data):
        return _json_object(data, "an object")

    def to_representation(self, value):
        return shown_server_config(value)


class ServerSerializer(LXDModelSerializer):
    """``GET /1.0``: the server's config and environment; PUT/PATCH change ``config`` only."""

    config = ServerConfigField(required=False)

    class Meta:
        model = Server
        fields = ["config"]

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        # A hidden key comes back from clients as the `true` LXD showed them: keep it.
        value = {
            key: current.get(key, "") if item is True and key in HIDDEN_SERVER_KEYS else item
            for key, item in value.items()
        }
        merged = {**current, **value} if self.partial else value
        try:
            config = config_keys.clean_server_config(merged)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        for key in DAEMON_VOLUME_KEYS:
            if config.get(key, "") != current.get(key, ""):
                refused = daemon_volume_error(config.get(key, ""))
                if refused:
                    message = f"Failed validation of {go_quote(key)}: {refused[0]}"
                    raise exceptions.NotFound(message) if refused[1] else lxd_error(message)
        # LXD stores the trust password hashed, never as sent.
        return {
            key: make_password(item) if key in HIDDEN_SERVER_KEYS and item != current.get(key) else item
            for key, item in config.items()
        }

    def to_representation(self, instance):
        return {
            **super().to_representation(instance),
            **untrusted_server_info(),
            "auth": "trusted",
            "environment": {
                **server_environment(),
                "addresses": https_addresses(instance.config),
                **served_identity(),
                **storage_environment(),
            },
        }


# The drivers lxdsite records pools of (LXD lists those its host has the tools for), and the
# version LXD's dir driver reports; the others' versions are their tools', absent here.
STORAGE_DRIVERS = [("btrfs", "", False), ("ceph", "", True), ("cephfs", "", True), ("dir", "1", False)]
STORAGE_DRIVERS += [("lvm", "", False), ("zfs", "", False)]


def storage_environment():
    """``storage``, ``storage_version``: the drivers of the pools that exist (``lxc`` prints its
    first-run hint while there are none), and the drivers pools may be made with."""
    used = sorted(set(StoragePool.objects.values_list("driver", flat=True)))
    versions = {name: version for name, version, _ in STORAGE_DRIVERS}
    return {
        "storage": " | ".join(used),
        "storage_version": " | ".join(versions.get(name, "") for name in used),
        "storage_supported_drivers": [
            {"Name": name, "Version": version, "Remote": remote} for name, version, remote in STORAGE_DRIVERS
        ],
    }


def untrusted_server_info():
    """What ``GET /1.0`` tells any client, trusted or not (LXD's api.ServerUntrusted)."""
    return {
        "api_extensions": API_EXTENSIONS,
        "api_status": "stable",
        "api_version": "1.0",
        "auth": "untrusted",
        "public": False,
        "auth_methods": ["tls"],
    }


def served_identity():
    """The certificate the HTTPS listeners present, as ``environment`` shows it."""
    certificate, fingerprint = served_certificate()
    return {"certificate": certificate, "certificate_fingerprint": fingerprint}


@functools.cache
def server_environment():
    """The ``environment`` block of ``GET /1.0``, in LXD's field order."""
    uname = platform.uname()
    return {
        "addresses": [],
        "architectures": ["x86_64", "i686"],
        "certificate": "",
        "certificate_fingerprint": "",
        "driver": "lxc",
        "driver_version": LXD_VERSION,
        "firewall": "xtables",
        "kernel": uname.system,
        "kernel_architecture": uname.machine,
        "kernel_features": {},
        "kernel_version": uname.release,
        "lxc_features": {},
        "os_name": "lxdsite",
        "os_version": LXD_VERSION,
        "project": "default",
        "server": "lxd",
        "server_clustered": False,
        "server_event_mode": "full-mesh",
        "server_name": socket.gethostname(),
        "server_pid": 0,
        "server_version": LXD_VERSION,
        "storage": "",
        "storage_version": "",
        "storage_supported_drivers": [],
    }


class ServerETagSerializer(ETagSerializer):
    """LXD hashes the server's ``config`` map alone, as it shows it."""

    lxd_recipe = ("config",)
    config = ServerConfigField()

    def lxd_value(self, instance, shown):
        return shown["config"]
