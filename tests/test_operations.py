"""Operations: LXD's list grouping, /wait with a timeout, DELETE (cancel), expiry, and their events."""

import datetime
import json
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from resources.models import Event, Operation
from resources.operations import end_operation, finished_operation, start_operation

pytestmark = pytest.mark.django_db


def _url(operation):
    return f"/1.0/operations/{operation.id}"


@pytest.fixture
def operations(db):
    """One running, one succeeded and one failed operation."""
    return {
        "running": start_operation("Running work"),
        "success": finished_operation("Done work", resources={"images": ["/1.0/images/abc"]}),
        "failure": finished_operation("Failed work", err="Unsupported compression"),
    }


def test_list_groups_urls_by_lower_case_status(api, operations):
    response = api.get("/1.0/operations")

    assert response.status_code == 200
    assert response.json()["metadata"] == {status: [_url(op)] for status, op in operations.items()}
    assert "ETag" not in response.headers


def test_recursion_lists_objects_in_the_same_grouping(api, operations):
    response = api.get("/1.0/operations?recursion=1")

    metadata = response.json()["metadata"]
    assert {status: [op["id"] for op in ops] for status, ops in metadata.items()} == {
        status: [str(op.id)] for status, op in operations.items()
    }
    failed = metadata["failure"][0]
    assert (failed["status"], failed["status_code"], failed["err"]) == ("Failure", 400, "Unsupported compression")
    assert metadata["running"][0]["status_code"] == 103


def test_get_one_shows_lxds_fields(api, operations):
    response = api.get(_url(operations["success"]))

    assert response.status_code == 200
    metadata = response.json()["metadata"]
    assert list(metadata) == [
        "id",
        "class",
        "description",
        "created_at",
        "updated_at",
        "status",
        "status_code",
        "resources",
        "metadata",
        "may_cancel",
        "err",
        "location",
    ]
    assert metadata["resources"] == {"images": ["/1.0/images/abc"]}
    assert (metadata["class"], metadata["may_cancel"], metadata["location"]) == ("task", False, "none")


def test_wait_returns_an_ended_operation_at_once(api, operations):
    started = time.monotonic()
    response = api.get(f"{_url(operations['success'])}/wait?timeout=5")

    assert response.status_code == 200
    assert response.json()["metadata"]["status"] == "Success"
    assert time.monotonic() - started < 1


def test_wait_on_a_running_operation_returns_it_running_at_the_timeout(api, operations):
    started = time.monotonic()
    response = api.get(f"{_url(operations['running'])}/wait?timeout=1")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["metadata"]["status"] == "Running"
    assert 1 <= elapsed < 2


@pytest.mark.django_db(transaction=True)
def test_wait_returns_when_another_thread_ends_the_operation(api):
    operation = start_operation("Long work")

    def finish():
        time.sleep(0.3)
        end_operation(Operation.objects.get(pk=operation.pk), metadata={"done": "yes"})
        connection.close()

    worker = threading.Thread(target=finish)
    worker.start()
    started = time.monotonic()
    response = api.get(f"{_url(operation)}/wait?timeout=10")
    elapsed = time.monotonic() - started
    worker.join()

    assert response.status_code == 200
    shown = response.json()["metadata"]
    assert (shown["status"], shown["metadata"]) == ("Success", {"done": "yes"})
    assert 0.3 <= elapsed < 1


@pytest.mark.parametrize("timeout", ["abc", "1.5", " 1"])
def test_wait_with_a_bad_timeout_is_a_400_with_lxds_atoi_error(api, operations, timeout):
    response = api.get(f"{_url(operations['success'])}/wait", {"timeout": timeout})

    assert response.status_code == 400
    assert response.json()["error"] == f'strconv.Atoi: parsing "{timeout}": invalid syntax'


def test_wait_for_a_missing_operation_is_404(api):
    response = api.get("/1.0/operations/00000000-0000-0000-0000-000000000000/wait?timeout=1")

    assert response.status_code == 404
    assert response.json()["error"] == "Operation not found"


def test_delete_of_an_ended_operation_is_lxds_400(api, operations):
    response = api.delete(_url(operations["success"]))

    assert response.status_code == 400
    assert response.json()["error"] == "Only running operations can be cancelled"


def test_delete_of_a_running_operation_that_cannot_be_cancelled_is_lxds_400(api, operations):
    response = api.delete(_url(operations["running"]))

    assert response.status_code == 400
    assert response.json()["error"] == "This operation can't be cancelled"
    assert Operation.objects.get(pk=operations["running"].pk).status == "Running"


def test_delete_cancels_an_operation_that_may_be_cancelled(api):
    operation = start_operation("Cancellable work", may_cancel=True)

    response = api.delete(_url(operation))

    assert response.status_code == 200
    assert response.json()["metadata"] == {}
    shown = api.get(_url(operation)).json()["metadata"]
    assert (shown["status"], shown["status_code"], shown["may_cancel"]) == ("Cancelled", 401, True)
    # The work that ends later does not undo the cancellation.
    assert end_operation(operation).status == "Cancelled"
    assert Operation.objects.get(pk=operation.pk).status == "Cancelled"


def test_delete_of_a_missing_operation_is_404(api):
    response = api.delete("/1.0/operations/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json()["error"] == "Operation not found"


def _age(operation, seconds):
    Operation.objects.filter(pk=operation.pk).update(updated_at=timezone.now() - datetime.timedelta(seconds=seconds))


def test_ended_operations_expire_after_the_configured_time(api, operations, settings):
    settings.LXDSITE_OPERATION_EXPIRY = 5
    for operation in operations.values():
        _age(operation, 6)
    fresh = finished_operation("Fresh work")

    listed = api.get("/1.0/operations").json()["metadata"]

    # Running operations never expire; the ended ones go 5 s after they ended.
    assert listed == {"running": [_url(operations["running"])], "success": [_url(fresh)]}
    assert api.get(_url(operations["success"])).status_code == 404
    assert api.get(f"{_url(operations['failure'])}/wait").status_code == 404
    assert api.get(_url(fresh)).status_code == 200


def test_a_new_operation_deletes_the_expired_rows(operations, settings):
    settings.LXDSITE_OPERATION_EXPIRY = 1
    _age(operations["success"], 2)

    start_operation("Next work")

    assert not Operation.objects.filter(pk=operations["success"].pk).exists()
    assert Operation.objects.filter(pk=operations["failure"].pk).exists()
    assert Operation.objects.filter(pk=operations["running"].pk).exists()


def _events():
    return [json.loads(event.message) for event in Event.objects.all()]


def test_an_operation_is_two_events_running_then_its_end(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = finished_operation("Deleting image", err="boom", resources={"images": ["/1.0/images/x"]})

    sent = _events()
    assert [(e["type"], e["metadata"]["id"], e["metadata"]["status"]) for e in sent] == [
        ("operation", str(operation.id), "Running"),
        ("operation", str(operation.id), "Failure"),
    ]
    assert list(sent[0]) == ["type", "timestamp", "metadata", "location", "project"]
    assert (sent[1]["location"], sent[1]["project"], sent[1]["metadata"]["err"]) == ("none", "default", "boom")
    assert all(event.message.endswith("}\n") for event in Event.objects.all())


def test_a_profile_write_is_a_lifecycle_event_after_it_commits(api, profile, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch("/1.0/profiles/p1", {"description": "new"})
        refused = api.put("/1.0/profiles/p1", {"description": "stale"}, HTTP_IF_MATCH='"stale"')

    assert (response.status_code, refused.status_code) == (200, 412)
    # The refused write was rolled back, and its event with it.
    assert [e["metadata"] for e in _events()] == [
        {
            "action": "profile-updated",
            "source": "/1.0/profiles/p1",
            "requestor": {"username": "", "protocol": "unix", "address": "@"},
        }
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "action", "source", "context"),
    [
        ("post", "/1.0/profiles", {"name": "p2"}, "profile-created", "/1.0/profiles/p2", None),
        ("put", "/1.0/profiles/p1", {"description": "d"}, "profile-updated", "/1.0/profiles/p1", None),
        ("post", "/1.0/profiles/p1", {"name": "p3"}, "profile-renamed", "/1.0/profiles/p3", {"old_name": "p1"}),
        ("delete", "/1.0/profiles/p1", None, "profile-deleted", "/1.0/profiles/p1", None),
        ("patch", "/1.0", {"config": {"user.a": "b"}}, "config-updated", "/1.0", None),
        ("put", "/1.0", {"config": {}}, "config-updated", "/1.0", None),
    ],
)
def test_every_profile_and_server_write_is_lxds_lifecycle_event(
    api, profile, django_capture_on_commit_callbacks, method, path, body, action, source, context
):
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(api, method)(path, body)

    assert response.status_code < 300
    [event] = _events()
    expected = {"action": action, "source": source}
    if context:
        expected["context"] = context
    assert {key: event["metadata"][key] for key in expected} == expected
    assert ("context" in event["metadata"]) == (context is not None)


@pytest.mark.django_db(transaction=True)
def test_the_database_feed_waits_for_an_id_that_commits_late(settings):
    from resources.events import DatabaseFeed

    settings.LXDSITE_EVENTS_POLL_INTERVAL = 0.01
    Event.objects.create(id=10, type="lifecycle", message="before\n")
    feed = DatabaseFeed()
    Event.objects.create(id=12, type="lifecycle", message="second\n")

    assert feed.read() == [("lifecycle", "second\n")]
    # On PostgreSQL a transaction can commit id 11 after another committed id 12.
    Event.objects.create(id=11, type="operation", message="first\n")
    assert feed.read() == [("operation", "first\n")]
    assert feed.read() == []
    Event.objects.create(id=14, type="lifecycle", message="fourth\n")
    assert feed.read() == [("lifecycle", "fourth\n")]
    # An id that never commits (a rolled-back insert) is given up after GAP_WAIT.
    assert list(feed.gaps) == [13]
    feed.gaps = dict.fromkeys(feed.gaps, 0)
    feed.read()
    assert feed.gaps == {}


@pytest.mark.django_db(transaction=True)
def test_a_listener_joining_a_running_feed_hears_nothing_sent_before_it(settings):
    from resources.events import emit_lifecycle, listen

    # Long enough that the second listener joins before the feed reads the first event.
    settings.LXDSITE_EVENTS_POLL_INTERVAL = 1
    with listen(["lifecycle"]) as first:
        emit_lifecycle("profile-created", "/1.0/profiles/before")
        with listen(["lifecycle"]) as second:
            emit_lifecycle("profile-created", "/1.0/profiles/after")
            heard = [first.get(timeout=5), first.get(timeout=5), second.get(timeout=5), second.get(timeout=0.5)]

    sources = [json.loads(message)["metadata"]["source"] if message else None for message in heard]
    assert sources == ["/1.0/profiles/before", "/1.0/profiles/after", "/1.0/profiles/after", None]


def test_old_events_are_pruned_as_new_ones_arrive(settings, django_capture_on_commit_callbacks):
    from resources.events import DatabaseFeed

    settings.LXDSITE_EVENTS_RETENTION = 10
    with django_capture_on_commit_callbacks(execute=True):
        finished_operation("Old work")
    Event.objects.update(created_at=timezone.now() - datetime.timedelta(seconds=11))
    DatabaseFeed._last_prune = 0.0

    with django_capture_on_commit_callbacks(execute=True):
        finished_operation("New work")

    assert [e["metadata"]["description"] for e in _events()] == ["New work", "New work"]


def test_events_refuses_unsupported_types_with_lxds_text(api):
    response = api.get("/1.0/events?type=lifecycle,bogus")

    assert response.status_code == 400
    assert response.json()["error"] == '"bogus" isn\'t a supported event type'


def test_events_without_an_upgrade_is_400(api):
    response = api.get("/1.0/events?type=lifecycle")

    assert response.status_code == 400


def test_events_are_for_trusted_clients(tcp_api):
    response = tcp_api.get("/1.0/events")

    assert response.status_code == 403
    assert response.json()["error"] == "not authorized"
