"""Instance backups on the real daemon and on lxdsite, compared: ``lxc export`` tarballs'
layout and index.yaml, ``lxc info``'s backups, and ``lxc import`` of each server's export."""

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.busybox_image import busybox_image
from tests.support.live_server import running_server, unix_request
from tests.support.lxc import run_lxc, storage_pool

pytestmark = [pytest.mark.live, pytest.mark.lxd]

IMAGE = "busybox"


@dataclass
class Servers:
    lxd: Path
    ours: Path
    conf: Path

    @property
    def both(self):
        return (self.lxd, self.ours)


@pytest.fixture(scope="module")
def servers(real_lxd, tmp_path_factory):
    """lxdsite beside the session's daemon, both with the busybox image; what the tests make goes again."""
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
                _remove_instances(socket_path, conf)
            run_lxc(real_lxd, conf, "image", "delete", IMAGE)


def _remove_instances(socket_path, conf):
    for url in unix_request(socket_path, "GET", "/1.0/instances")[2]["metadata"]:
        run_lxc(socket_path, conf, "delete", "--force", url.rsplit("/", 1)[1])


@pytest.fixture
def c1(servers):
    """A stopped container c1 with a snapshot on both servers, gone afterwards."""
    try:
        for socket_path in servers.both:
            assert run_lxc(socket_path, servers.conf, "init", IMAGE, "c1")[0] == 0
            assert run_lxc(socket_path, servers.conf, "snapshot", "c1", "snap0")[0] == 0
        yield servers
    finally:
        for socket_path in servers.both:
            _remove_instances(socket_path, servers.conf)


def _export(servers, socket_path, *args):
    target = servers.conf / f"export-{socket_path.parent.name}.tar.gz"
    status, _out, err = run_lxc(socket_path, servers.conf, "export", "c1", str(target), *args)
    assert status == 0, err
    return target


# What differs on every run: ids, times, the image's fingerprint, the pool's source.
_VARYING = re.compile(
    r"(volatile\.(?:uuid|cloud-init\.instance-id|base_image): |created_at: |source: )\S+"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
)


def _comparable(text):
    """YAML text with what varies masked, read back (quoting styles differ between writers)."""
    return yaml.safe_load(_VARYING.sub(lambda m: (m.group(1) or "") + "X", text.decode()))


def _members(path):
    """(members in order with type and mode, comparable index.yaml and backup.yaml files)."""
    with tarfile.open(path) as tar:
        members = [(m.name, m.type, m.mode) for m in tar.getmembers()]
        documents = {
            m.name: _comparable(tar.extractfile(m).read()) for m in tar.getmembers() if m.name.endswith(".yaml")
        }
    return members, documents


def test_export_has_the_daemons_layout(c1):
    theirs, ours = (_members(_export(c1, socket_path)) for socket_path in c1.both)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
