"""The session's daemon and one lxdsite side by side, each with a ``default`` pool, the root disk
in its default profile and the busybox image (``tests/support/busybox_image.py``) as ``busybox``:
what differential tests of instances start from.
"""

import contextlib
from dataclasses import dataclass
from pathlib import Path

from tests.support.busybox_image import busybox_image
from tests.support.live_server import running_server, unix_request
from tests.support.lxc import run_lxc, storage_pool

IMAGE = "busybox"


@dataclass
class Servers:
    """The daemon's and lxdsite's unix sockets, and the lxc configuration both use."""

    lxd: Path
    ours: Path
    conf: Path

    @property
    def both(self):
        return (self.lxd, self.ours)


def remove_instances(socket_path, conf):
    """Delete every instance of the default project (running ones too)."""
    for url in unix_request(socket_path, "GET", "/1.0/instances")[2]["metadata"]:
        run_lxc(socket_path, conf, "delete", "--force", url.rsplit("/", 1)[1])


@contextlib.contextmanager
def busybox_servers(real_lxd, tmp_path_factory):
    """Both servers set up alike; the daemon's instances, image and pool go again afterwards."""
    conf = tmp_path_factory.mktemp("lxc")
    image = conf / "busybox.tar.gz"
    image.write_bytes(busybox_image())
    with (
        storage_pool(real_lxd),
        running_server(tmp_path_factory.mktemp("lxdsite") / "lxd") as ours,
        storage_pool(ours.socket_path),
    ):
        pair = Servers(real_lxd, ours.socket_path, conf)
        try:
            for socket_path in pair.both:
                assert run_lxc(socket_path, conf, "image", "import", str(image), "--alias", IMAGE)[0] == 0
            yield pair
        finally:
            for socket_path in pair.both:
                remove_instances(socket_path, conf)
            run_lxc(real_lxd, conf, "image", "delete", IMAGE)
