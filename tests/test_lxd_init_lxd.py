"""``lxd init --dump`` and ``lxd init --preseed`` (the real lxd 5.0.2 binary, LXD_DIR at the
server's socket) against lxdsite and against the daemon: the same YAML dumped, the same
refusals, and the same state after a preseed. Every network a preseed makes names its
``ipv4.address`` and ``ipv6.address`` (``none``); ``lxd init --auto`` is never run."""

import os
import subprocess

import pytest

from tests.support.live_server import unix_request

pytestmark = [pytest.mark.live, pytest.mark.lxd]


def lxd_init(socket_path, *args, stdin=""):
    """Run ``lxd init ARGS`` against the server on ``socket_path``: (exit status, stdout, stderr)."""
    env = {**os.environ, "LXD_DIR": str(socket_path.parent)}
    done = subprocess.run(
        ["lxd", "init", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout, done.stderr


PRESEED = """config:
  images.auto_update_interval: "15"
networks:
- name: lxdbr0
  type: bridge
  description: made by preseed
  config:
    ipv4.address: none
    ipv6.address: none
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
    eth0:
      name: eth0
      network: lxdbr0
      type: nic
"""


# A second preseed: the objects exist, so lxd init updates them; a project with its own network.
UPDATE = """config:
  images.auto_update_interval: "20"
networks:
- name: lxdbr0
  type: bridge
  description: updated
  config:
    ipv4.address: none
    ipv6.address: none
    user.k: v
- name: pnet
  type: bridge
  project: pinit
  config:
    ipv4.address: none
    ipv6.address: none
projects:
- name: pinit
  description: made by preseed
  config:
    features.networks: "false"
    features.profiles: "true"
"""

# Refused part-way: what lxd init made before the refusal is taken back.
REFUSED = """networks:
- name: lxdbr1
  type: bridge
  config:
    ipv4.address: none
    ipv6.address: none
- name: lxdbr2
  type: bridge
  config:
    ipv4.address: none
    ipv6.address: none
    ipv4.nat: maybe
"""

STATE = [
    "/1.0",
    "/1.0/networks/lxdbr0",
    "/1.0/networks/lxdbr1",
    "/1.0/networks/pnet",
    "/1.0/networks/pnet?project=pinit",
    "/1.0/storage-pools/default",
    "/1.0/profiles/default",
    "/1.0/projects/pinit",
]


def _comparable(result, socket_path):
    """lxd init's answer with the server's own directory (a dir pool's source) named alike."""
    status, stdout, stderr = result
    directory = str(socket_path.parent)
    return status, stdout.replace(directory, "<LXD_DIR>"), stderr.replace(directory, "<LXD_DIR>")


def _state(socket_path, path):
    status, _, body = unix_request(socket_path, "GET", path)
    if status != 200:
        return status, body["error"]
    metadata = body["metadata"]
    if path == "/1.0":
        return status, metadata["config"]
    if "source" in metadata.get("config", {}):
        metadata["config"]["source"] = metadata["config"]["source"].replace(str(socket_path.parent), "<LXD_DIR>")
    return status, metadata


def _clean(socket_path):
    """Take back everything a preseed here makes (the shared daemon must be left as it was)."""
    default_profile = {"config": {}, "devices": {}, "description": "Default LXD profile"}
    unix_request(socket_path, "PUT", "/1.0/profiles/default", default_profile)
    unix_request(socket_path, "DELETE", "/1.0/networks/pnet?project=pinit")
    unix_request(socket_path, "DELETE", "/1.0/projects/pinit")
    for name in ("lxdbr0", "lxdbr1", "lxdbr2"):
        unix_request(socket_path, "DELETE", f"/1.0/networks/{name}")
    unix_request(socket_path, "DELETE", "/1.0/storage-pools/default")
    unix_request(socket_path, "PUT", "/1.0", {"config": {}})


def test_lxd_init_dumps_and_preseeds_lxdsite_as_it_does_the_daemon(real_lxd, lxdsite_server):
    servers = (real_lxd, lxdsite_server.socket_path)

    def same(*args, stdin=""):
        lxd, ours = (_comparable(lxd_init(server, *args, stdin=stdin), server) for server in servers)
        assert ours == lxd, args
        for path in STATE:
            assert _state(lxdsite_server.socket_path, path) == _state(real_lxd, path), path
        return lxd

    try:
        assert same("--dump")[0] == 0
        assert same("--preseed", stdin=PRESEED)[0] == 0
        same("--dump")
        assert same("--preseed", stdin=UPDATE)[0] == 0
        same("--dump")
        assert _state(real_lxd, "/1.0/networks/pnet?project=pinit")[0] == 200
        refused = same("--preseed", stdin=REFUSED)
        assert refused[0] == 1
        assert 'network "lxdbr2"' in refused[2]
        # lxdbr1, made before the refusal, is gone again (STATE holds it).
        assert _state(real_lxd, "/1.0/networks/lxdbr1")[0] == 404
        same("--dump")
        assert "Failed to parse the preseed" in same("--preseed", stdin="networks: [")[2]
        assert "Unknown driver" in same("--preseed", stdin="storage_pools:\n- name: other\n  driver: nope\n")[2]
    finally:
        for server in servers:
            _clean(server)
    assert unix_request(real_lxd, "GET", "/1.0/storage-pools")[2]["metadata"] == []
    assert unix_request(real_lxd, "GET", "/1.0/projects")[2]["metadata"] == ["/1.0/projects/default"]
