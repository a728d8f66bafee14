"""A project's ``limits.*`` and ``restricted.*`` beside the real LXD 5.0.2 daemon: the same
writes are allowed and refused, with the same texts (LXD refuses with 500, lxdsite with 400)."""

import pytest

from tests.support.both_servers import ended, refused_alike, same
from tests.support.live_server import unix_request
from tests.support.lxc import ROOT_DISK, storage_pool

pytestmark = [pytest.mark.live, pytest.mark.lxd]

PROJECT = "dp1"
FEATURES = {"features.profiles": "true", "features.images": "true", "features.storage.volumes": "true"}


@pytest.fixture
def limited(real_lxd, lxdsite_server, projects):
    """Project dp1 with its own default profile (a root disk on the daemon's pool), and a function
    that creates an instance in it on both servers and checks both operations succeeded."""
    with storage_pool(real_lxd), storage_pool(lxdsite_server.socket_path):
        same(*projects("POST", "/1.0/projects", {"name": PROJECT, "config": FEATURES}), 201)
        same(*projects("PATCH", f"/1.0/profiles/default?project={PROJECT}", {"devices": ROOT_DISK}), 200)

        def create(name, **fields):
            lxd, ours = projects(
                "POST", f"/1.0/instances?project={PROJECT}", {"name": name, "source": {"type": "none"}, **fields}
            )
            lxd_done = ended(lambda *args: unix_request(real_lxd, *args), lxd)
            assert ended(lxdsite_server.request, ours) == lxd_done == ("Success", "", "Creating instance")

        try:
            yield create
        finally:
            # The pools go afterwards only once nothing uses them.
            for socket_path in (real_lxd, lxdsite_server.socket_path):
                request = lambda *args, socket_path=socket_path: unix_request(socket_path, *args)  # noqa: E731
                for url in request("GET", f"/1.0/instances?project={PROJECT}")[2]["metadata"]:
                    ended(request, request("DELETE", url))
                request("PUT", f"/1.0/profiles/default?project={PROJECT}", {})


def _project_config(**config):
    return {"config": {**FEATURES, **config}}


def test_instance_counts_are_limited_as_the_daemon_limits_them(projects, limited):
    same(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**{"limits.containers": "1"})), 200)
    limited("c1")
    refused_alike(*projects("POST", f"/1.0/instances?project={PROJECT}", {"name": "c2", "source": {"type": "none"}}))
    # Below what the project holds: refused; at it: allowed.
    for key in ("limits.instances", "limits.containers"):
        refused_alike(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**{key: "0"})))
    same(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**{"limits.instances": "1"})), 200)
    refused_alike(*projects("POST", f"/1.0/instances?project={PROJECT}", {"name": "c2", "source": {"type": "none"}}))
    same(*projects("GET", f"/1.0/instances?project={PROJECT}"), 200)


def test_aggregate_limits_count_what_instances_and_profiles_ask_for(projects, limited):
    limits = {"limits.memory": "1GB", "limits.cpu": "3", "limits.processes": "20"}
    same(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**limits)), 200)
    # Every instance must say what it uses of each limit, itself or through a profile. (LXD takes
    # the keys in a random order: one refusal at a time keeps its text the same on every run.)
    from_profile = {"limits.processes": "10", "limits.cpu": "1"}
    same(*projects("PATCH", f"/1.0/profiles/default?project={PROJECT}", {"config": from_profile}), 200)
    refused_alike(*projects("POST", f"/1.0/instances?project={PROJECT}", {"name": "c1", "source": {"type": "none"}}))
    limited("c1", config={"limits.memory": "600MB", "limits.cpu": "2"})
    same(*projects("GET", f"/1.0/projects/{PROJECT}/state"), 200)

    over = {"name": "c2", "source": {"type": "none"}, "config": {"limits.memory": "500MB", "limits.cpu": "1"}}
    refused_alike(*projects("POST", f"/1.0/instances?project={PROJECT}", over))
    refused_alike(*projects("PATCH", f"/1.0/instances/c1?project={PROJECT}", {"config": {"limits.memory": "2GB"}}))
    refused_alike(*projects("PATCH", f"/1.0/instances/c1?project={PROJECT}", {"config": {"limits.cpu": "0-1"}}))
    more = {"config": {"limits.processes": "30"}}
    refused_alike(*projects("PATCH", f"/1.0/profiles/default?project={PROJECT}", more))
    # A limit below the total is refused with the total, printed as LXD prints sizes.
    for key, value in (("limits.memory", "500MB"), ("limits.cpu", "1"), ("limits.processes", "5")):
        refused_alike(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**{**limits, key: value})))
    refused_alike(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**{"limits.disk": "1GB"})))
    # Nothing refused was stored.
    lxd, ours = projects("GET", f"/1.0/instances/c1?project={PROJECT}")
    kept = [
        {k: v for k, v in answer[2]["metadata"]["expanded_config"].items() if k.startswith("limits.")}
        for answer in (lxd, ours)
    ]
    assert kept[0] == kept[1] == {"limits.cpu": "2", "limits.memory": "600MB", "limits.processes": "10"}
    same(*projects("GET", f"/1.0/projects/{PROJECT}"), 200)


def test_a_restricted_project_refuses_what_the_daemon_refuses(projects, limited):
    same(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(restricted="true")), 200)
    none = {"type": "none"}
    refusals = [
        {"config": {"security.nesting": "true"}},
        {"config": {"security.privileged": "true"}},
        {"config": {"raw.lxc": "lxc.x=1"}},
        {"config": {"raw.idmap": "both 1000 1000"}},
        {"config": {"security.syscalls.intercept.mknod": "true"}},
        {"devices": {"u": {"type": "unix-char", "path": "/dev/zero"}}},
        {"devices": {"u": {"type": "pci", "address": "0000:00:01.0"}}},
        {"devices": {"d": {"type": "proxy", "listen": "tcp:127.0.0.1:80", "connect": "tcp:127.0.0.1:80"}}},
        {"devices": {"e": {"type": "nic", "nictype": "bridged", "parent": "x"}}},
        {"devices": {"d": {"type": "disk", "source": "/tmp", "path": "/mnt"}}},
        {"type": "virtual-machine", "config": {"raw.qemu": "-x"}},
    ]
    for fields in refusals:
        refused_alike(*projects("POST", f"/1.0/instances?project={PROJECT}", {"name": "c1", "source": none, **fields}))
    limited("c1", config={"security.idmap.isolated": "false"})
    refused_alike(*projects("PATCH", f"/1.0/instances/c1?project={PROJECT}", {"config": {"security.nesting": "yes"}}))
    refused_alike(*projects("POST", f"/1.0/instances/c1/snapshots?project={PROJECT}", {"name": "s1"}))
    # LXD judges a profile when another profile changes, and names its kind with an empty string.
    privileged = {"name": "bad", "config": {"security.privileged": "true"}}
    same(*projects("POST", f"/1.0/profiles?project={PROJECT}", privileged), 201)
    refused_alike(*projects("PATCH", f"/1.0/profiles/default?project={PROJECT}", {"description": "d"}))
    same(*projects("DELETE", f"/1.0/profiles/bad?project={PROJECT}"), 200)
    refused_alike(
        *projects("PATCH", f"/1.0/profiles/default?project={PROJECT}", {"config": {"security.privileged": "1"}})
    )

    # Restrictions set while an instance breaks them: only a change of a restricted.* key is judged.
    same(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config()), 200)
    same(*projects("PATCH", f"/1.0/instances/c1?project={PROJECT}", {"config": {"security.nesting": "yes"}}), 200)
    same(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(restricted="true")), 200)
    nesting = {"restricted": "true", "restricted.containers.nesting": "block"}
    refused_alike(*projects("PUT", f"/1.0/projects/{PROJECT}", _project_config(**nesting)))
    same(*projects("GET", f"/1.0/projects/{PROJECT}"), 200)
