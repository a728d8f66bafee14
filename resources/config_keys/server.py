"""Server config (lxd/node/config.go, lxd/cluster/config/config.go, lxd/config): PUT /1.0's keys."""

import re
from typing import NamedTuple

from ..architectures import ARCHITECTURE_IDS
from ..go import go_quote
from .errors import ConfigError
from .go_parse import _atoi, _parse_int, _parse_ip, _shell_first_word, _split_host_port
from .validators import _GO_BOOLS, Validator, _is_true, is_any, is_expiry, is_in_range, is_ipv4, one_of, optional


def _resolvable(host: str) -> bool:
    """Stand-in for LXD's DNS look-up: host names outside the reserved .invalid domain (RFC 6761)."""
    label = "[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
    return bool(re.fullmatch(rf"{label}(\.{label})*\.?", host)) and host.rstrip(".").rsplit(".", 1)[-1] != "invalid"


def is_listen_address(*, allow_dns: bool, allow_wildcard: bool) -> Validator:
    """LXD: validate.IsListenAddress (port optional)."""

    def check(value: str) -> None:
        try:
            host = _split_host_port(value)[0]
        except ConfigError:
            host = value
        if host in ("", "::", "[::]", "0.0.0.0"):
            if not allow_wildcard:
                raise ConfigError("Wildcard addresses aren't allowed")
            return
        if _parse_ip(host.strip("[]")) is not None:
            return
        if not allow_dns:
            raise ConfigError("DNS names not allowed in address")
        if not _resolvable(host):
            raise ConfigError(f"Couldn't resolve {go_quote(host)}")

    return check


# LXD: doApi10UpdateTriggers restarts these listeners, in this order, after storing the config;
# a failure is a 500 there. Per key: the default port and the text LXD wraps net.Listen's error in.
_LISTENERS = {
    "core.https_address": (8443, "Cannot listen on network HTTPS socket {address}: "),
    "core.debug_address": (8080, "Cannot listen on http socket: "),
    "core.metrics_address": (9100, "Cannot listen on http socket: Bind network address: "),
}


def _canonical_address(address: str, port: int) -> str:
    """LXD's util.CanonicalNetworkAddress: add the default port when there is none."""
    try:
        host, given = _split_host_port(address)
    except ConfigError:
        ip = _parse_ip(address)
        if ip is None:
            return f"{address}:{port}"
        return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    return address if given else (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def _check_listeners(node: dict[str, str]) -> None:
    """The part of LXD's listener start-up that depends on the address text alone."""
    for key, (port, prefix) in _LISTENERS.items():
        if not node.get(key):
            continue
        address = _canonical_address(node[key], port)
        message = prefix.format(address=go_quote(address)) + "listen tcp: "
        try:
            given = _split_host_port(address)[1]
        except ConfigError as exc:
            raise ConfigError(message + str(exc)) from None
        # Compared as text first: Python's int() refuses more than 4,300 digits.
        if re.fullmatch("[0-9]+", given) and (len(given.lstrip("0")) > 5 or int(given) > 65535):
            raise ConfigError(message + f"address {given}: invalid port")


_COMPRESSORS = ("bzip2", "gzip", "lzma", "pigz", "pzstd", "squashfs", "xz", "zstd")


def is_compression_algorithm(value: str) -> None:
    """LXD: validate.IsCompressionAlgorithm as tightened by Debian's security update.

    LXD also looks the command up in $PATH; we accept every supported name.
    """
    if value == "none":
        return
    command = _shell_first_word(value)
    if command is None:
        raise ConfigError("No compression algorithm specified")
    if command not in _COMPRESSORS:
        raise ConfigError(f"Invalid compression algorithm {go_quote(command)}")


def _min_int(minimum: int, not_number: str, message: str) -> Validator:
    """LXD's cluster.* integer validators."""

    def check(value: str) -> None:
        try:
            number = _atoi(value)
        except ConfigError:
            raise ConfigError(not_number) from None
        if number <= minimum:
            raise ConfigError(message)

    return check


def _max_voters(value: str) -> None:
    """LXD's maxVotersValidator."""
    number = _parse_int(value)
    if number < 3 or number % 2 != 1:
        raise ConfigError("Value must be an odd number equal to or higher than 3")


def _max_standby(value: str) -> None:
    """LXD's maxStandByValidator."""
    if not 0 <= _parse_int(value) <= 5:
        raise ConfigError("Value must be between 0 and 5")


def _image_replicas(value: str) -> None:
    """LXD's imageMinimalReplicaValidator."""
    count = _parse_int(value)
    if count < 1 and count != -1:
        raise ConfigError("Invalid value for image replica count")


class ServerKey(NamedTuple):
    """One server config key (LXD: config.Key): its type, default and validator."""

    type: str = "string"  # "string", "bool" or "int64"
    default: str = ""
    validator: Validator = is_any
    hidden: bool = False  # LXD shows hidden keys as `true` and stores a hash (core.trust_password).


_LISTEN = ServerKey(validator=optional(is_listen_address(allow_dns=True, allow_wildcard=True)))

# LXD: node.ConfigSchema, keys local to one cluster member, checked first.
SERVER_NODE_KEYS: dict[str, ServerKey] = {
    "core.https_address": _LISTEN,
    "cluster.https_address": ServerKey(validator=optional(is_listen_address(allow_dns=True, allow_wildcard=False))),
    "core.bgp_address": _LISTEN,
    "core.bgp_routerid": ServerKey(validator=optional(is_ipv4)),
    "core.debug_address": _LISTEN,
    "core.dns_address": _LISTEN,
    "core.metrics_address": _LISTEN,
    "maas.machine": ServerKey(),
    # LXD checks that these name an existing pool/volume; we don't model storage volumes.
    "storage.backups_volume": ServerKey(),
    "storage.images_volume": ServerKey(),
}

# LXD: clusterConfig.ConfigSchema.
SERVER_CLUSTER_KEYS: dict[str, ServerKey] = {
    "backups.compression_algorithm": ServerKey(default="gzip", validator=is_compression_algorithm),
    "cluster.offline_threshold": ServerKey(
        "int64", "20", _min_int(10, "Offline threshold is not a number", "Value must be greater than '10'")
    ),
    "cluster.images_minimal_replica": ServerKey("int64", "3", _image_replicas),
    "cluster.join_token_expiry": ServerKey(default="3H", validator=is_expiry),
    "cluster.max_voters": ServerKey("int64", "3", _max_voters),
    "cluster.max_standby": ServerKey("int64", "2", _max_standby),
    "core.metrics_authentication": ServerKey("bool", "true"),
    "core.bgp_asn": ServerKey("int64", "0", optional(is_in_range(0, 4294967294))),
    "core.https_allowed_headers": ServerKey(),
    "core.https_allowed_methods": ServerKey(),
    "core.https_allowed_origin": ServerKey(),
    "core.https_allowed_credentials": ServerKey("bool"),
    "core.https_trusted_proxy": ServerKey(),
    "core.proxy_http": ServerKey(),
    "core.proxy_https": ServerKey(),
    "core.proxy_ignore_hosts": ServerKey(),
    "core.remote_token_expiry": ServerKey(validator=optional(is_expiry)),
    "core.shutdown_timeout": ServerKey("int64", "5"),
    "core.trust_password": ServerKey(hidden=True),
    "core.trust_ca_certificates": ServerKey("bool"),
    "candid.api.key": ServerKey(),
    "candid.api.url": ServerKey(),
    "candid.domains": ServerKey(),
    "candid.expiry": ServerKey("int64", "3600"),
    "images.auto_update_cached": ServerKey("bool", "true"),
    "images.auto_update_interval": ServerKey("int64", "6"),
    "images.compression_algorithm": ServerKey(default="gzip", validator=is_compression_algorithm),
    "images.default_architecture": ServerKey(validator=optional(one_of(*ARCHITECTURE_IDS))),
    "images.remote_cache_expiry": ServerKey("int64", "10"),
    "maas.api.key": ServerKey(),
    "maas.api.url": ServerKey(),
    "rbac.agent.url": ServerKey(),
    "rbac.agent.username": ServerKey(),
    "rbac.agent.private_key": ServerKey(),
    "rbac.agent.public_key": ServerKey(),
    "rbac.api.expiry": ServerKey("int64", "3600"),
    "rbac.api.key": ServerKey(),
    "rbac.api.url": ServerKey(),
    "rbac.expiry": ServerKey("int64", "3600"),
    "network.ovn.integration_bridge": ServerKey(default="br-int"),
    "network.ovn.northbound_connection": ServerKey(default="unix:/var/run/ovn/ovnnb_db.sock"),
}

# Go's reflect.Kind names for what encoding/json makes of JSON values.
_GO_KINDS = {bool: "bool", int: "float64", float: "float64", dict: "map", list: "slice"}


def _normalise(key: ServerKey, value: str) -> str:
    """LXD's config.Map.set: booleans are stored as "true"/"false"."""
    if key.type == "bool":
        return "true" if _is_true(value) else "false"
    return value


def _check_server_value(key: ServerKey, value: str) -> None:
    """LXD's config.Key.validate: type first, then the key's validator ("" checks the default)."""
    if value == "":
        key.validator(key.default)
        return
    if key.type == "bool" and value.lower() not in _GO_BOOLS:
        raise ConfigError("invalid boolean")
    if key.type == "int64":
        try:
            _parse_int(value)
        except ConfigError:
            raise ConfigError("invalid integer") from None
    key.validator(value)


def _clean_schema(config: dict[str, object], schema: dict[str, ServerKey]) -> dict[str, str]:
    """LXD's config.Map.Change: every error sorted by key, reported as the first "(and N more errors)"."""
    errors, cleaned = [], {}
    for name in sorted(config):
        value = "" if config[name] is None else config[name]
        if not isinstance(value, str):
            errors.append(f"cannot set '{name}': invalid type {_GO_KINDS.get(type(value), 'interface')}")
            continue
        if name.startswith("user."):
            cleaned[name] = value
            continue
        if name not in schema:
            errors.append(f"cannot set '{name}' to '{value}': unknown key")
            continue
        try:
            _check_server_value(schema[name], value)
        except ConfigError as exc:
            errors.append(f"cannot set '{name}' to '{value}': {exc}")
            continue
        # A boolean set to "" is stored as "false", even where the default is "true" (LXD's Map.set).
        if _normalise(schema[name], value) != _normalise(schema[name], schema[name].default):
            cleaned[name] = _normalise(schema[name], value)
    if errors:
        raise ConfigError(errors[0] + (f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""))
    return {name: value for name, value in cleaned.items() if value != ""}


def clean_server_config(config: dict[str, str]) -> dict[str, str]:
    """Validate a PUT /1.0 config as LXD does and return what to store (defaults and "" dropped)."""
    # LXD: doApi10Update checks the member's own keys, then RBAC/Candid, then the cluster-wide keys.
    node = _clean_schema({k: v for k, v in config.items() if k in SERVER_NODE_KEYS}, SERVER_NODE_KEYS)
    cluster_keys = {k: v for k, v in config.items() if k not in SERVER_NODE_KEYS}
    if any(v for k, v in cluster_keys.items() if k.startswith("candid.")) and any(
        v for k, v in cluster_keys.items() if k.startswith("rbac.")
    ):
        raise ConfigError("RBAC and Candid are mutually exclusive")
    cluster = _clean_schema(cluster_keys, SERVER_CLUSTER_KEYS)
    _check_listeners(node)
    return {**node, **cluster}
