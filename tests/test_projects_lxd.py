"""``/1.0/projects`` beside the real LXD 5.0.2 daemon: the same requests give the same answers and ETags."""

import time

import pytest

from tests.support.both_servers import ended, same
from tests.support.events_client import EventsClient
from tests.support.live_server import unix_request
from tests.support.lxc import ROOT_DISK, storage_pool

pytestmark = [pytest.mark.live, pytest.mark.lxd]


def test_a_projects_life_equals_the_daemons(real_lxd, lxdsite_server, projects):
    same(*projects("GET", "/1.0/projects?recursion=1"), 200)
    same(*projects("GET", "/1.0/projects/default"), 200)
    same(*projects("GET", "/1.0/projects/default/state"), 200)

    body = {"name": "dp1", "description": "d", "config": {"features.profiles": "true", "user.k": "v"}}
    same(*projects("POST", "/1.0/projects", body), 201)
    same(*projects("GET", "/1.0/projects/dp1"), 200)
    same(*projects("POST", "/1.0/projects", {"name": "dp3", "config": None}), 201)
    same(*projects("GET", "/1.0/projects?recursion=1"), 200)
    same(*projects("GET", "/1.0/projects"), 200)

    # A PUT dropping features.images and setting a limit; the ETag changes as the daemon's does.
    etag = projects("GET", "/1.0/projects/dp1")[0][1]["ETag"]
    config = {"features.profiles": "true", "limits.instances": "5", "limits.memory": "1GiB"}
    put = {"config": config, "description": "x"}
    same(*projects("PUT", "/1.0/projects/dp1", put, {"If-Match": etag}), 200)
    same(*projects("GET", "/1.0/projects/dp1"), 200)
    same(*projects("PATCH", "/1.0/projects/dp1", {"description": "y"}), 200)
    same(*projects("GET", "/1.0/projects/dp1"), 200)
    same(*projects("GET", "/1.0/projects/dp1/state"), 200)
    # Turning features.profiles off removes the project's default profile; on again makes it.
    same(*projects("PUT", "/1.0/projects/dp1", {"config": {"features.profiles": "false"}}), 200)
    same(*projects("GET", "/1.0/projects/dp1"), 200)
    same(*projects("PUT", "/1.0/projects/dp1", {"config": {"features.profiles": "true"}}), 200)
    same(*projects("GET", "/1.0/projects/dp1"), 200)

    lxd, ours = projects("POST", "/1.0/projects/dp1", {"name": "dp2"})
    assert (
        ended(lxdsite_server.request, ours)
        == ended(lambda *args: unix_request(real_lxd, *args), lxd)
        == ("Success", "", "Renaming project")
    )
    same(*projects("GET", "/1.0/projects/dp2"), 200)
    same(*projects("GET", "/1.0/projects/dp1"), 404)

    same(*projects("DELETE", "/1.0/projects/dp2"), 200)
    same(*projects("DELETE", "/1.0/projects/dp3"), 200)
    same(*projects("GET", "/1.0/projects?recursion=1"), 200)


REFUSED = [
    ("POST", "/1.0/projects", {"name": ""}),
    ("POST", "/1.0/projects", {"name": "a b"}),
    ("POST", "/1.0/projects", {"name": "a_b"}),
    ("POST", "/1.0/projects", {"name": "a/b"}),
    ("POST", "/1.0/projects", {"name": "a'b"}),
    ("POST", "/1.0/projects", {"name": "*"}),
    ("POST", "/1.0/projects", {"name": ".."}),
    ("POST", "/1.0/projects", {"name": "default"}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"foo": "1"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"limits.memory": "abc"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"limits.instances": "-1"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"features.images": "maybe"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"restricted.containers.nesting": "x"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"restricted.idmap.uid": "5-2"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"restricted.devices.disk.paths": "rel"}}),
    ("POST", "/1.0/projects", {"name": "dp1", "config": {"features.profiles": "false", "restricted": "true"}}),
    ("GET", "/1.0/projects/nosuch", None),
    ("GET", "/1.0/projects/nosuch/state", None),
    ("PUT", "/1.0/projects/nosuch", {}),
    ("PATCH", "/1.0/projects/nosuch", {}),
    ("DELETE", "/1.0/projects/nosuch", None),
    ("DELETE", "/1.0/projects/default", None),
    ("POST", "/1.0/projects/default", {"name": "dp1"}),
    ("PUT", "/1.0/projects/default", {"config": {"features.images": "true"}}),
    ("PUT", "/1.0/projects/default", {"config": {}, "description": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), REFUSED, ids=repr)
def test_refusals_equal_the_daemons(projects, method, path, body):
    (lxd_status, _, lxd_body), (status, _, ours) = projects(method, path, body)

    assert (status, ours["error"]) == (lxd_status, lxd_body["error"])
    assert ours["type"] == lxd_body["type"] == "error"


@pytest.mark.parametrize("name", ["default", "", "a b", "nosuchproject"])
def test_failed_renames_end_their_operations_as_the_daemons(real_lxd, lxdsite_server, projects, name):
    source = "nosuch" if name == "nosuchproject" else "dp1"
    projects("POST", "/1.0/projects", {"name": "dp1"})
    lxd, ours = projects("POST", f"/1.0/projects/{source}", {"name": name})

    expected = ended(lambda *args: unix_request(real_lxd, *args), lxd)
    assert expected[0] == "Failure"
    assert ended(lxdsite_server.request, ours) == expected


def test_profiles_in_projects_equal_the_daemons(projects):
    same(*projects("POST", "/1.0/projects", {"name": "dp1", "config": {"features.profiles": "true"}}), 201)
    same(*projects("POST", "/1.0/projects", {"name": "dp2", "config": {"features.profiles": "false"}}), 201)
    body = {"name": "web", "description": "d", "config": {"limits.cpu": "2"}}
    same(*projects("POST", "/1.0/profiles?project=dp1", body), 201)
    same(*projects("GET", "/1.0/profiles?project=dp1"), 200)
    same(*projects("GET", "/1.0/profiles?project=dp1&recursion=1"), 200)
    same(*projects("GET", "/1.0/profiles/web?project=dp1"), 200)
    same(*projects("GET", "/1.0/profiles/default?project=dp1"), 200)
    same(*projects("GET", "/1.0/profiles/web"), 404)
    same(*projects("PUT", "/1.0/profiles/web?project=dp1", {"description": "put"}), 200)
    same(*projects("GET", "/1.0/profiles/web?project=dp1"), 200)
    same(*projects("POST", "/1.0/profiles/web?project=dp1", {"name": "app"}), 201)
    same(*projects("GET", "/1.0/projects/dp1"), 200)
    # A project that holds a profile besides its default one is not deleted (LXD: 500).
    lxd, ours = projects("DELETE", "/1.0/projects/dp1")
    assert (lxd[0], ours[0]) == (500, 400)
    assert ours[2]["error"] == lxd[2]["error"] == "Only empty projects can be removed"
    same(*projects("DELETE", "/1.0/profiles/app?project=dp1"), 200)

    # Without its own profiles, a project uses (and creates into) the default project's.
    same(*projects("GET", "/1.0/profiles?project=dp2"), 200)
    same(*projects("POST", "/1.0/profiles?project=dp2", {"name": "shared"}), 201)
    same(*projects("GET", "/1.0/profiles/shared?project=dp2"), 200)
    same(*projects("GET", "/1.0/profiles?project=default"), 200)
    same(*projects("DELETE", "/1.0/profiles/shared?project=dp2"), 200)
    same(*projects("DELETE", "/1.0/projects/dp1"), 200)
    same(*projects("DELETE", "/1.0/projects/dp2"), 200)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/1.0/profiles?project=nosuch"),
        ("GET", "/1.0/profiles/default?project=nosuch"),
        ("POST", "/1.0/profiles?project=nosuch"),
        ("PUT", "/1.0/profiles/default?project=nosuch"),
        ("PATCH", "/1.0/profiles/default?project=nosuch"),
        ("POST", "/1.0/profiles/default?project=nosuch"),
        ("DELETE", "/1.0/profiles/default?project=nosuch"),
    ],
)
def test_profiles_of_an_unknown_project_are_refused_as_the_daemon_refuses(projects, method, path):
    (lxd_status, _, lxd_body), (status, _, ours) = projects(method, path, {"name": "x"})

    assert (status, ours["error"]) == (lxd_status, lxd_body["error"]) == (404, lxd_body["error"])


def test_events_of_an_unknown_project_are_refused_with_the_daemons_text(projects):
    (lxd_status, _, lxd_body), (status, _, ours) = projects("GET", "/1.0/events?project=nosuch")

    # LXD answers 500 for the client's mistake (docs/compatibility.md).
    assert (lxd_status, status) == (500, 404)
    assert ours["error"] == lxd_body["error"] == "Project not found"


# What an instance answer shows that is the same on both servers (not its times, uuids, state).
INSTANCE_FIELDS = ("name", "project", "profiles", "devices", "expanded_devices", "status", "type", "description")


def test_instances_in_projects_equal_the_daemons(real_lxd, lxdsite_server, projects):
    lxd_request = lambda *args: unix_request(real_lxd, *args)  # noqa: E731
    with storage_pool(real_lxd), storage_pool(lxdsite_server.socket_path):
        try:
            same(*projects("POST", "/1.0/projects", {"name": "dp1", "config": {"features.profiles": "true"}}), 201)
            same(*projects("PATCH", "/1.0/profiles/default?project=dp1", {"devices": ROOT_DISK}), 200)
            lxd, ours = projects("POST", "/1.0/instances?project=dp1", {"name": "c1", "source": {"type": "none"}})
            assert (
                ended(lxdsite_server.request, ours) == ended(lxd_request, lxd) == ("Success", "", "Creating instance")
            )

            same(*projects("GET", "/1.0/instances?project=dp1"), 200)
            same(*projects("GET", "/1.0/instances"), 200)
            # Every project's instances, each URL naming its project outside the default one.
            lxd, ours = projects("POST", "/1.0/instances", {"name": "c2", "source": {"type": "none"}})
            assert ended(lxdsite_server.request, ours) == ended(lxd_request, lxd)
            queries = ("all-projects=true", "all-projects=1&project=", "all-projects=true&filter=project%20eq%20dp1")
            for query in queries:
                same(*projects("GET", f"/1.0/instances?{query}"), 200)
                same(*projects("GET", f"/1.0/containers?{query}"), 200)
            lxd, ours = projects("GET", "/1.0/instances?all-projects=true&recursion=2")
            assert [(i["name"], i["project"]) for i in ours[2]["metadata"]] == [
                (i["name"], i["project"]) for i in lxd[2]["metadata"]
            ]
            lxd, ours = projects("DELETE", "/1.0/instances/c2")
            assert ended(lxdsite_server.request, ours) == ended(lxd_request, lxd)
            lxd, ours = projects("GET", "/1.0/instances/c1?project=dp1")
            assert (lxd[0], ours[0]) == (200, 200)
            assert {key: ours[2]["metadata"][key] for key in INSTANCE_FIELDS} == {
                key: lxd[2]["metadata"][key] for key in INSTANCE_FIELDS
            }
            same(*projects("GET", "/1.0/instances/c1"), 404)
            same(*projects("GET", "/1.0/profiles/default?project=dp1"), 200)
            same(*projects("GET", "/1.0/projects/dp1"), 200)
            same(*projects("GET", "/1.0/instances/c1/snapshots?project=dp1"), 200)
            lxd, ours = projects("DELETE", "/1.0/projects/dp1")
            assert (lxd[0], ours[0]) == (500, 400)
            assert ours[2]["error"] == lxd[2]["error"]

            lxd, ours = projects("DELETE", "/1.0/instances/c1?project=dp1")
            assert (
                ended(lxdsite_server.request, ours) == ended(lxd_request, lxd) == ("Success", "", "Deleting instance")
            )
            same(*projects("GET", "/1.0/instances?project=dp1"), 200)
            same(*projects("PUT", "/1.0/profiles/default?project=dp1", {}), 200)
            same(*projects("DELETE", "/1.0/projects/dp1"), 200)
        finally:
            # The pool goes afterwards only once nothing uses it; later tests' output depends on that.
            for url in ("/1.0/instances/c1?project=dp1", "/1.0/instances/c2"):
                status, headers, _ = lxd_request("DELETE", url)
                if status == 202:
                    lxd_request("GET", headers["Location"] + "/wait?timeout=30")
            lxd_request("PUT", "/1.0/profiles/default?project=dp1", {})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/1.0/instances?project=nosuch"),
        ("GET", "/1.0/instances?project=nosuch&recursion=2"),
        ("GET", "/1.0/containers?project=nosuch"),
        ("GET", "/1.0/instances/c1?project=nosuch"),
        ("GET", "/1.0/instances/c1/snapshots?project=nosuch"),
        ("GET", "/1.0/instances/c1/state?project=nosuch"),
        ("DELETE", "/1.0/instances/c1?project=nosuch"),
        ("POST", "/1.0/instances?project=nosuch"),
        ("GET", "/1.0/instances?all-projects=true&project=nosuch"),
        ("GET", "/1.0/instances?all-projects=true&project=default"),
        ("GET", "/1.0/containers?all-projects=on&project=nosuch&recursion=1"),
    ],
)
def test_instances_of_an_unknown_project_are_answered_as_the_daemon_answers(projects, method, path):
    body = {"name": "c1", "source": {"type": "none"}} if method == "POST" else None
    (lxd_status, _, lxd_body), (status, _, ours) = projects(method, path, body)

    assert (status, ours.get("error"), ours.get("metadata")) == (
        lxd_status,
        lxd_body.get("error"),
        lxd_body.get("metadata"),
    )


def _upload(socket_path, path, data, headers):
    """POST an image file to ``path``, wait for the operation: (HTTP status, ended operation)."""
    headers = {"Content-Type": "application/octet-stream", **headers}
    status, answer_headers, _ = unix_request(socket_path, "POST", path, data, headers)
    operation = unix_request(socket_path, "GET", answer_headers["Location"] + "/wait?timeout=30")[2]["metadata"]
    return status, operation


def test_images_and_aliases_in_projects_equal_the_daemons(real_lxd, lxdsite_server, projects):
    from tests.support.image_files import unified_image

    same(*projects("POST", "/1.0/projects", {"name": "dp1"}), 201)
    data, headers = unified_image(marker="in-a-project"), {"X-LXD-filename": "p.tar.gz"}
    theirs = _upload(real_lxd, "/1.0/images?project=dp1", data, headers)
    ours = _upload(lxdsite_server.socket_path, "/1.0/images?project=dp1", data, headers)
    assert (ours[0], ours[1]["status"], ours[1]["metadata"]) == (theirs[0], theirs[1]["status"], theirs[1]["metadata"])
    fingerprint = theirs[1]["metadata"]["fingerprint"]
    try:
        same(*projects("GET", "/1.0/images?project=dp1"), 200)
        same(*projects("GET", "/1.0/images"), 200)
        lxd, mine = projects("GET", f"/1.0/images/{fingerprint}?project=dp1")
        assert (lxd[0], mine[0]) == (200, 200)
        shown = {key: value for key, value in mine[2]["metadata"].items() if key != "uploaded_at"}
        assert shown == {key: value for key, value in lxd[2]["metadata"].items() if key != "uploaded_at"}
        same(*projects("GET", f"/1.0/images/{fingerprint}"), 404)

        alias = {"name": "pa", "target": fingerprint, "description": "in dp1"}
        same(*projects("POST", "/1.0/images/aliases?project=dp1", alias), 201)
        same(*projects("GET", "/1.0/images/aliases?project=dp1"), 200)
        same(*projects("GET", "/1.0/images/aliases/pa?project=dp1"), 200)
        same(*projects("GET", "/1.0/images/aliases/pa"), 404)
        same(*projects("GET", "/1.0/projects/dp1"), 200)
        same(*projects("DELETE", "/1.0/images/aliases/pa?project=dp1"), 200)
    finally:
        for server_request in (lambda *args: unix_request(real_lxd, *args), lxdsite_server.request):
            server_request("DELETE", f"/1.0/images/{fingerprint}?project=dp1")
    same(*projects("GET", "/1.0/images?project=dp1"), 200)
    same(*projects("DELETE", "/1.0/projects/dp1"), 200)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/1.0/images?project=nosuch"),
        ("GET", f"/1.0/images/{'a' * 64}?project=nosuch"),
        ("DELETE", f"/1.0/images/{'a' * 64}?project=nosuch"),
        ("GET", "/1.0/images/aliases?project=nosuch"),
        ("GET", "/1.0/images/aliases/x?project=nosuch"),
        ("POST", "/1.0/images/aliases?project=nosuch"),
        ("DELETE", "/1.0/images/aliases/x?project=nosuch"),
        ("POST", "/1.0/images?project=nosuch"),
    ],
)
def test_images_of_an_unknown_project_are_refused_as_the_daemon_refuses(projects, method, path):
    body = {"name": "x", "target": "a" * 64} if method == "POST" else None
    (lxd_status, _, lxd_body), (status, _, ours) = projects(method, path, body)

    assert (status, ours["error"]) == (lxd_status, lxd_body["error"])


# Operations this test's requests start; the daemon's own background tasks (log expiry and
# the like, of no project) come when they come and are left out.
OUR_OPERATIONS = {
    "Creating instance",
    "Snapshotting instance",
    "Renaming instance",
    "Deleting instance",
    "Renaming project",
}
LISTENED = ("", "&all-projects=true", "&project=default", "&project=dp1", "&project=dp2")


def _events_seen(listener):
    """What a listener received: its lifecycle events as (project, action, source, context) in
    order, and the (project, description) of its operations (their steps, and where they fall
    among the lifecycle events, differ: LXD also sends ``Pending``); a project LXD leaves out
    is None."""
    lifecycle, operations = [], set()
    for event in listener.receive_all(1.0):
        metadata, project = event["metadata"], event.get("project")
        if event["type"] == "lifecycle":
            lifecycle.append((project, metadata["action"], metadata["source"], metadata.get("context")))
        elif metadata["description"] in OUR_OPERATIONS:
            operations.add((project, metadata["description"]))
    return lifecycle, operations


def test_events_belong_to_their_objects_project_as_the_daemons(real_lxd, lxdsite_server, projects):
    lxd_request = lambda *args: unix_request(real_lxd, *args)  # noqa: E731
    both = (real_lxd, lxdsite_server.socket_path)
    listeners = {}

    def listen(queries):
        for query in queries:
            listeners[query] = [EventsClient(path, f"/1.0/events?type=operation,lifecycle{query}") for path in both]

    def done(lxd, ours):
        assert ended(lxdsite_server.request, ours) == ended(lxd_request, lxd)

    # The pools are made before listening and go after: their events are not listened to.
    with storage_pool(real_lxd), storage_pool(lxdsite_server.socket_path):
        try:
            listen(LISTENED[:3])
            same(*projects("POST", "/1.0/projects", {"name": "dp1", "config": {"features.profiles": "true"}}), 201)
            same(*projects("POST", "/1.0/projects", {"name": "dp2", "config": {"features.profiles": "false"}}), 201)
            # lxdsite's workers read their events feed every 0.1 s: a listener opened sooner may
            # still be handed the projects' creation, which the daemon's listener never sees.
            time.sleep(0.5)
            listen(LISTENED[3:])
            # A project's own profiles, and the default project's, which dp2 uses.
            same(*projects("POST", "/1.0/profiles?project=dp1", {"name": "web"}), 201)
            same(*projects("PATCH", "/1.0/profiles/web?project=dp1", {"description": "d"}), 200)
            same(*projects("POST", "/1.0/profiles/web?project=dp1", {"name": "app"}), 201)
            same(*projects("DELETE", "/1.0/profiles/app?project=dp1"), 200)
            same(*projects("POST", "/1.0/profiles?project=dp2", {"name": "shared"}), 201)
            same(*projects("DELETE", "/1.0/profiles/shared?project=dp2"), 200)
            # An instance's life in dp1.
            same(*projects("PATCH", "/1.0/profiles/default?project=dp1", {"devices": ROOT_DISK}), 200)
            done(*projects("POST", "/1.0/instances?project=dp1", {"name": "c1", "source": {"type": "none"}}))
            done(*projects("POST", "/1.0/instances/c1/snapshots?project=dp1", {"name": "s1"}))
            done(*projects("POST", "/1.0/instances/c1?project=dp1", {"name": "c2"}))
            done(*projects("DELETE", "/1.0/instances/c2?project=dp1"))
            same(*projects("PUT", "/1.0/profiles/default?project=dp1", {}), 200)
            # A project's rename is the server's operation (of no project).
            done(*projects("POST", "/1.0/projects/dp2", {"name": "dp3"}))
            same(*projects("PATCH", "/1.0/projects/dp1", {"description": "x"}), 200)
            same(*projects("DELETE", "/1.0/projects/dp3"), 200)
            for query, (theirs, ours) in listeners.items():
                expected = _events_seen(theirs)
                assert expected != ([], set()), query
                assert _events_seen(ours) == expected, query
        finally:
            for pair in listeners.values():
                for listener in pair:
                    listener.close()
            for url in ("/1.0/instances/c1?project=dp1", "/1.0/instances/c2?project=dp1"):
                status, headers, _ = lxd_request("DELETE", url)
                if status == 202:
                    lxd_request("GET", headers["Location"] + "/wait?timeout=30")
            lxd_request("PUT", "/1.0/profiles/default?project=dp1", {})
