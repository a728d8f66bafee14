"""LXD 5.0.2's validation of instance, profile and server config keys and of devices.

Written from reading LXD (shared/instance.go, shared/validate, lxd/instance/instance_utils.go,
lxd/device/*.go, lxd/config, lxd/cluster/config, lxd/node/config.go at tag lxd-5.0.2 plus
Debian's security backports) and checked against the real daemon: tests/data/lxd-config-cases.json.
Every error text is LXD's, including Go's own wording (strconv, net, yaml) where LXD passes it on.

Where LXD asks the host (DNS, $PATH, the file system) or its database (storage pools, networks),
these validators stay pure functions of their input: they accept what they cannot know.
LXD walks Go maps in random order, so with several bad keys it names a random one; we check
keys in sorted order.

One module per area, each importing only from the ones below it:

- ``server``: server and cluster config (PUT /1.0).
- ``project``: project config (``/1.0/projects``).
- ``instance``: instance and profile config keys.
- ``devices``: instance and profile devices.
- ``validators``: LXD's shared/validate value validators, which every area builds on.
- ``go_parse``: Go's parsers (strconv, net, time, robfig/cron, go-yaml, go-shellquote) whose
  error texts LXD passes on.
- ``errors``: ``ConfigError``.

An area still to come gets a module of its own beside these: ``storage`` (storage pools and
volumes), ``network`` (networks, ACLs, forwards).
"""

from .devices import NetworkLookup, validate_devices
from .errors import ConfigError
from .go_parse import go_atoi
from .instance import INSTANCE_KEYS_ANY, INSTANCE_KEYS_CONTAINER, validate_instance_config, validate_profile_config
from .project import PROJECT_KEYS, validate_project_config
from .server import SERVER_CLUSTER_KEYS, SERVER_NODE_KEYS, clean_server_config

__all__ = [
    "INSTANCE_KEYS_ANY",
    "INSTANCE_KEYS_CONTAINER",
    "PROJECT_KEYS",
    "SERVER_CLUSTER_KEYS",
    "SERVER_NODE_KEYS",
    "ConfigError",
    "NetworkLookup",
    "clean_server_config",
    "go_atoi",
    "validate_devices",
    "validate_instance_config",
    "validate_profile_config",
    "validate_project_config",
]
