"""The real ``lxc`` client managing instances on lxdsite, beside the real LXD daemon."""

import pytest

from tests.support.image_files import unified_image
from tests.support.lxc import comparable, run_lxc, storage_pool
from tests.support.storage import serve_default_pool

pytestmark = [pytest.mark.live, pytest.mark.lxd]


@pytest.fixture
def servers(real_lxd, lxdsite_server, tmp_path):
    """Both servers with a storage pool, a root disk in the default profile and the image ``tiny``."""
    image = tmp_path / "tiny.tar.gz"
    image.write_bytes(unified_image(marker="lxc-instances"))
    with storage_pool(real_lxd), storage_pool(lxdsite_server.socket_path):
        for socket_path in (real_lxd, lxdsite_server.socket_path):
            run_lxc(socket_path, tmp_path, "image", "import", str(image), "--alias", "tiny")
        yield real_lxd, lxdsite_server.socket_path
        for name in ("c1", "c2"):
            run_lxc(real_lxd, tmp_path, "delete", "--force", name)
        run_lxc(real_lxd, tmp_path, "image", "delete", "tiny")


SEQUENCE = [
    ("init", "tiny", "c1"),
    ("list", "--format", "csv", "-c", "nsPt"),
    ("config", "set", "c1", "limits.memory", "256MB"),
    ("config", "set", "c1", "no.such.key", "1"),
    ("config", "get", "c1", "limits.memory"),
    ("config", "device", "add", "c1", "tmp", "disk", "source=/tmp", "path=/mnt/tmp"),
    ("config", "show", "c1"),
    ("config", "show", "c1", "--expanded"),
    ("info", "c1"),
    ("snapshot", "c1", "s1"),
    ("info", "c1"),
    ("info", "nosuch"),
    ("config", "unset", "c1", "limits.memory"),
    ("restore", "c1", "s1"),
    ("config", "get", "c1", "limits.memory"),
    ("list", "--format", "csv", "-c", "nsPtS"),
    ("init", "tiny", "c1"),
    ("init", "tiny", "bad_name"),
    ("rename", "c1", "c2"),
    ("config", "show", "c2"),
    ("profile", "delete", "default"),
    ("delete", "c2"),
    ("list", "--format", "csv"),
]


def test_instance_commands_print_what_lxd_prints(servers, tmp_path):
    real, ours = servers

    for args in SEQUENCE:
        theirs = comparable(run_lxc(real, tmp_path, *args))
        mine = comparable(run_lxc(ours, tmp_path, *args))
        assert mine == theirs, args


def test_lxc_config_edit_reports_lxds_412_and_keeps_the_other_change(
    lxdsite_server,
    tmp_path,
    meddling_editor,
    monkeypatch,
):
    serve_default_pool(lxdsite_server.socket_path)
    lxdsite_server.request("POST", "/1.0/instances", {"name": "c1", "source": {"type": "none"}})
    monkeypatch.setenv("MEDDLE_PATH", "/1.0/instances/c1")
    monkeypatch.setenv("MEDDLE_BODY", '{"config":{"user.note":"changed behind lxc"}}')

    status, stdout, _ = run_lxc(
        lxdsite_server.socket_path, tmp_path, "config", "edit", "c1", editor=meddling_editor, tty=True
    )

    assert status != 0
    assert "Config parsing error: ETag doesn't match: " in stdout
    current = lxdsite_server.request("GET", "/1.0/instances/c1")
    assert current[1]["ETag"].strip('"') in stdout
    assert current[2]["metadata"]["config"]["user.note"] == "changed behind lxc"
