"""``lxc project`` and ``lxc ... --project`` against lxdsite, beside the real LXD daemon: same output."""

import hashlib

import pytest

from tests.support.busybox_image import busybox_image
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc, storage_pool

pytestmark = [pytest.mark.live, pytest.mark.lxd]

# `lxc project edit` reads the new YAML from standard input when that is not a terminal.
EDITED = "description: edited\nconfig:\n  features.profiles: 'true'\n  user.b: '2'\n"
EDITS = "edit"

PROJECT_COMMANDS = [
    ("project", "list"),
    ("project", "create", "lp1"),
    ("project", "create", "lp1"),
    ("project", "create", "bad name"),
    ("project", "set", "lp1", "user.a", "1"),
    ("project", "get", "lp1", "user.a"),
    ("project", "set", "lp1", "limits.memory", "abc"),
    ("project", "set", "lp1", "no.such.key", "1"),
    ("project", "show", "lp1"),
    ("project", "unset", "lp1", "user.a"),
    ("project", "show", "lp1"),
    ("project", "edit", "lp1", EDITED),
    ("project", "show", "lp1"),
    ("project", "edit", "lp1", "config:\n  limits.memory: lots\n"),
    ("project", "edit", "lp1", "- not a mapping\n"),
    ("project", "list"),
    ("project", "info", "lp1"),
    ("profile", "create", "pp", "--project", "lp1"),
    ("profile", "list", "--project", "lp1"),
    ("profile", "list"),
    ("profile", "show", "pp", "--project", "lp1"),
    ("profile", "show", "pp"),
    ("project", "list"),
    ("project", "delete", "lp1"),
    ("project", "rename", "lp1", "lp2"),
    ("profile", "delete", "pp", "--project", "lp1"),
    ("project", "rename", "lp1", "lp2"),
    ("project", "show", "lp2"),
    ("project", "switch", "lp2"),
    ("project", "list"),
    ("profile", "list"),
    ("list"),
    ("project", "switch", "default"),
    ("project", "delete", "default"),
    ("project", "rename", "default", "x"),
    ("project", "delete", "lp2"),
    ("project", "show", "lp2"),
    ("project", "list"),
]


def _both(real_lxd, lxdsite_server, tmp_path, args):
    """Run ``args`` with each server; an edit's last argument is the YAML it reads from stdin."""
    stdin = "\n"
    if args[1:2] == (EDITS,):
        *args, stdin = args
    return (
        comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, stdin=stdin)),
        comparable(run_lxc(lxdsite_server.socket_path, tmp_path / "ours", *args, stdin=stdin)),
    )


@pytest.fixture
def cleaned(real_lxd):
    """The daemon without what the test made, whatever it left."""
    yield
    for project in ("lp1", "lp2"):
        for url in unix_request(real_lxd, "GET", f"/1.0/instances?project={project}")[2].get("metadata") or []:
            unix_request(real_lxd, "DELETE", url)
        unix_request(real_lxd, "DELETE", f"/1.0/profiles/pp?project={project}")
        unix_request(real_lxd, "PUT", f"/1.0/profiles/default?project={project}", {})
        unix_request(real_lxd, "DELETE", f"/1.0/projects/{project}")


def test_project_commands_print_what_lxd_prints(real_lxd, lxdsite_server, tmp_path, cleaned):
    for args in PROJECT_COMMANDS:
        args = (args,) if isinstance(args, str) else args
        theirs, ours = _both(real_lxd, lxdsite_server, tmp_path, args)
        assert ours == theirs, args


def test_instances_in_a_project_print_what_lxd_prints(real_lxd, lxdsite_server, tmp_path, cleaned):
    # lxc's first run prints a hint for a server without a storage pool: run it before.
    _both(real_lxd, lxdsite_server, tmp_path, ("project", "list"))
    with storage_pool(real_lxd), storage_pool(lxdsite_server.socket_path):
        try:
            for args in INSTANCE_COMMANDS:
                theirs, ours = _both(real_lxd, lxdsite_server, tmp_path, args)
                assert ours == theirs, args
        finally:
            _release_pool(real_lxd)


INSTANCE_COMMANDS = [
    ("project", "create", "lp1"),
    ("profile", "device", "add", "default", "root", "disk", "path=/", "pool=default", "--project", "lp1"),
    ("init", "--empty", "c1", "--project", "lp1"),
    ("init", "--empty", "c1", "--project", "lp1"),
    ("list", "--project", "lp1", "--format", "csv", "-c", "ns"),
    ("list", "--format", "csv", "-c", "ns"),
    ("init", "--empty", "c2"),
    ("list", "--all-projects"),
    ("list", "--all-projects", "--format", "csv"),
    ("list", "--all-projects", "c", "-c", "ns"),
    ("list", "--all-projects", "--project", "lp1"),
    ("delete", "c2"),
    ("config", "set", "c1", "user.a", "1", "--project", "lp1"),
    ("config", "get", "c1", "user.a", "--project", "lp1"),
    ("config", "get", "c1", "user.a"),
    ("delete", "c1", "--project", "lp1"),
    ("list", "--project", "lp1", "--format", "csv", "-c", "ns"),
    ("init", "--empty", "c1", "--project", "nosuch"),
    ("list", "--project", "nosuch", "--format", "csv"),
]


def _release_pool(real_lxd):
    """Take from the daemon what uses its pool (the instances, the project's root disk), so that the
    pool can go: later tests' output depends on there being none."""
    for url in ("/1.0/instances/c1?project=lp1", "/1.0/instances/c2"):
        status, headers, _ = unix_request(real_lxd, "DELETE", url)
        if status == 202:
            unix_request(real_lxd, "GET", headers["Location"] + "/wait?timeout=30")
    unix_request(real_lxd, "PUT", "/1.0/profiles/default?project=lp1", {})


def image_commands(image):
    """The steps of the image test: the same file in two projects, then used and removed in one."""
    return [
        ("project", "create", "lp1", "-c", "features.profiles=true"),
        ("profile", "device", "add", "default", "root", "disk", "path=/", "pool=default", "--project", "lp1"),
        ("image", "import", str(image), "--alias", "img"),
        ("image", "import", str(image), "--alias", "img", "--project", "lp1"),
        ("image", "import", str(image), "--project", "lp1"),
        ("image", "list", "--project", "lp1", "--format", "csv", "-c", "lfpdas"),
        ("image", "alias", "list", "--project", "lp1", "--format", "csv"),
        ("init", "img", "c1", "--project", "lp1"),
        ("launch", "img", "c2", "--project", "lp1"),
        ("list", "--project", "lp1", "--format", "csv", "-c", "ns"),
        ("delete", "c2", "--project", "lp1"),
        ("delete", "c2", "--project", "lp1", "--force"),
        ("delete", "c1", "--project", "lp1"),
        ("image", "delete", "img", "--project", "lp1"),
        ("image", "list", "--project", "lp1", "--format", "csv", "-c", "lf"),
        ("image", "list", "--format", "csv", "-c", "lfpdas"),
        ("image", "import", str(image), "--project", "nosuch"),
        ("image", "delete", "img"),
        ("image", "list", "--format", "csv", "-c", "lf"),
    ]


def test_one_image_in_two_projects_prints_what_lxd_prints_and_launches(real_lxd, lxdsite_server, tmp_path, cleaned):
    # An image the daemon can start a container of (`lxc launch`).
    image = tmp_path / "busybox.tar.gz"
    image.write_bytes(busybox_image())
    fingerprint = hashlib.sha256(image.read_bytes()).hexdigest()
    _both(real_lxd, lxdsite_server, tmp_path, ("project", "list"))
    with storage_pool(real_lxd), storage_pool(lxdsite_server.socket_path):
        try:
            for args in image_commands(image):
                theirs, ours = _both(real_lxd, lxdsite_server, tmp_path, args)
                assert ours == theirs, args
        finally:
            for socket_path in (real_lxd, lxdsite_server.socket_path):
                stop = {"action": "stop", "force": True}
                unix_request(socket_path, "PUT", "/1.0/instances/c2/state?project=lp1", stop)
                unix_request(socket_path, "DELETE", "/1.0/instances/c2?project=lp1")
                _release_pool(socket_path)
            for query in ("", "?project=lp1"):
                status, headers, _ = unix_request(real_lxd, "DELETE", f"/1.0/images/{fingerprint}{query}")
                if status == 202:
                    unix_request(real_lxd, "GET", headers["Location"] + "/wait?timeout=30")
    # The files went with the last project's image.
    assert not list((lxdsite_server.lxd_dir / "images").glob(f"{fingerprint}*"))
