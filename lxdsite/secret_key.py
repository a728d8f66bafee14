"""The secret key Django signs sessions and CSRF tokens with, kept under ``LXD_DIR``.

LXD generates its server certificate on first start; lxdsite likewise generates its key once
and keeps it private to the server's user, so that no two installations share one and no
client can forge a staff session from a published default.
"""

import os
import secrets
from pathlib import Path

KEY_FILE = "secret.key"


def stored_secret_key(lxd_dir: Path) -> str:
    """The key in ``LXD_DIR/secret.key``, made (mode 0600) if there is none yet.

    Without an ``LXD_DIR`` there is nothing to keep it in: a key for this process alone
    (``serve`` makes the directory, then reads the stored key before it serves).
    """
    path = lxd_dir / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    if not lxd_dir.is_dir():
        return key
    try:
        # O_EXCL: when two processes start at once, the first one's key is everyone's.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(key)
    return key
