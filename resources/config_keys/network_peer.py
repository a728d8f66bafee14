"""Network peer names and config (LXD 5.0.2's common peerValidate, lxd/network/driver_common.go)."""

from ..go import go_quote
from .errors import ConfigError
from .network_acl import validate_acl_name

# acl.ReservedNetworkSubects: a peer is named in ACL rules as @NETWORK/PEER, beside these.
RESERVED_NAMES = ("internal", "external")


def validate_peer(name: str, config: dict[str, str]) -> None:
    """The peer's name (an ACL name, not a reserved subject) and config keys (target_address, user.*)."""
    validate_acl_name(name)
    if name in RESERVED_NAMES:
        raise ConfigError(f"Name cannot be one of the reserved network subjects: [{' '.join(RESERVED_NAMES)}]")
    for key in config:
        if key != "target_address" and not key.startswith("user."):
            raise ConfigError(f"Invalid option {go_quote(key)}")
