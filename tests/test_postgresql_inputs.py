"""Images, aliases and profiles on PostgreSQL, through a live server: what SQLite would take and
PostgreSQL refuses, and writes that race with deletes.

PostgreSQL refuses a name longer than its column, NUL in text, and a time outside its range
(or one Python cannot read back); every such value must be refused with a 4xx before it is
written, never a 500, and every later read must still answer. PostgreSQL checks Django's
foreign keys at commit: a write that read its target before a concurrent delete committed
would fail there. Every answer must be 2xx or 4xx, and what is stored afterwards consistent.
"""

import threading

import pytest

from tests.support.image_files import METADATA, unified_image

ROUNDS = 12
OCTET_STREAM = {"Content-Type": "application/octet-stream"}


def _upload_operation(server, data=None, headers=None):
    """Upload an image; its ended operation."""
    status, answer_headers, _ = server.request(
        "POST", "/1.0/images", data or unified_image(), {**OCTET_STREAM, **(headers or {})}
    )
    assert status == 202
    return server.request("GET", answer_headers["Location"])[2]["metadata"]


def _upload(server):
    operation = _upload_operation(server)
    assert operation["status"] == "Success", operation
    return operation["metadata"]["fingerprint"]


def _at_once(*requests):
    """Send the requests from threads released together; their (status, body) in order."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def send(index, request):
        barrier.wait()
        status, _, body = request()
        answers[index] = (status, body)

    threads = [threading.Thread(target=send, args=item) for item in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.live
def test_image_delete_racing_alias_create_answers_2xx_or_4xx(lxdsite_pg_server):
    server = lxdsite_pg_server
    for round_ in range(ROUNDS):
        fingerprint = _upload(server)
        name = f"race-{round_}"
        deleted, created = _at_once(
            lambda fingerprint=fingerprint: server.request("DELETE", f"/1.0/images/{fingerprint}"),
            lambda fingerprint=fingerprint, name=name: server.request(
                "POST", "/1.0/images/aliases", {"name": name, "target": fingerprint}
            ),
        )

        assert deleted[0] == 202, deleted
        assert created[0] in (201, 404), created
        if created[0] == 404:
            assert created[1]["error"] == "Image not found"
        # The image is gone, and so is any alias made for it.
        assert server.request("GET", f"/1.0/images/{fingerprint}")[0] == 404
        assert server.request("GET", f"/1.0/images/aliases/{name}")[0] == 404
    assert "Traceback" not in server.log()


@pytest.mark.live
@pytest.mark.parametrize("retarget", [False, True], ids=["same target", "new target"])
def test_image_delete_racing_alias_put_answers_2xx_or_4xx(lxdsite_pg_server, retarget):
    server = lxdsite_pg_server
    other = _upload(server)
    for round_ in range(ROUNDS):
        fingerprint = _upload(server)
        name = f"race-{round_}"
        first_target = other if retarget else fingerprint
        assert server.request("POST", "/1.0/images/aliases", {"name": name, "target": first_target})[0] == 201
        deleted, put = _at_once(
            lambda fingerprint=fingerprint: server.request("DELETE", f"/1.0/images/{fingerprint}"),
            lambda fingerprint=fingerprint, name=name: server.request(
                "PUT", f"/1.0/images/aliases/{name}", {"target": fingerprint, "description": "d"}
            ),
        )

        assert deleted[0] == 202, deleted
        assert put[0] in (200, 404), put
        alias = server.request("GET", f"/1.0/images/aliases/{name}")
        if retarget and put[0] == 404:
            # The delete came first: the alias still names the other image.
            assert alias[2]["metadata"]["target"] == other
        else:
            # The alias named the deleted image (before or after the PUT): it went with it.
            assert alias[0] == 404, alias
    assert "Traceback" not in server.log()


@pytest.mark.live
def test_profile_delete_racing_image_profiles_put_answers_2xx_or_4xx(lxdsite_pg_server):
    server = lxdsite_pg_server
    fingerprint = _upload(server)
    for round_ in range(ROUNDS):
        name = f"race-{round_}"
        assert server.request("POST", "/1.0/profiles", {"name": name})[0] == 201
        deleted, put = _at_once(
            lambda name=name: server.request("DELETE", f"/1.0/profiles/{name}"),
            lambda name=name: server.request(
                "PUT", f"/1.0/images/{fingerprint}", {"properties": {}, "profiles": ["default", name]}
            ),
        )

        assert deleted[0] == 200, deleted
        assert put[0] in (200, 400), put
        if put[0] == 400:
            assert put[1]["error"] == f"Profile '{name}' doesn't exist"
        # The profile is gone, and so is the image's link to it.
        assert server.request("GET", f"/1.0/profiles/{name}")[0] == 404
        image = server.request("GET", f"/1.0/images/{fingerprint}")[2]["metadata"]
        assert image["profiles"] == ["default"], image
    assert "Traceback" not in server.log()


@pytest.mark.live
def test_values_postgresql_cannot_store_or_show_are_refused(lxdsite_pg_server):
    server = lxdsite_pg_server
    fingerprint = _upload(server)
    assert server.request("POST", "/1.0/profiles", {"name": "kept"})[0] == 201
    assert server.request("POST", "/1.0/images/aliases", {"name": "kept", "target": fingerprint})[0] == 201
    long_name = "n" * 256

    refused = [
        server.request("POST", "/1.0/profiles", {"name": long_name}),
        server.request("POST", "/1.0/profiles/kept", {"name": long_name}),
        server.request("POST", "/1.0/images/aliases", {"name": long_name, "target": fingerprint}),
        server.request("POST", "/1.0/images/aliases/kept", {"name": long_name}),
        server.request("PUT", f"/1.0/images/{fingerprint}", {"expires_at": "0001-01-01T00:00:00+14:00"}),
        server.request("PUT", f"/1.0/images/{fingerprint}", {"expires_at": "9999-12-31T23:59:59-14:00"}),
    ]
    failed_uploads = [
        _upload_operation(server, headers={"X-LXD-aliases": long_name}),
        _upload_operation(server, headers={"X-LXD-filename": "f" * 256}),
        _upload_operation(server, headers={"X-LXD-properties": "os=a%00b"}),
        _upload_operation(server, unified_image(METADATA.replace("os: tinyos", 'os: "a\\0b"'))),
    ]

    assert [answer[0] for answer in refused] == [400] * len(refused), [answer[2] for answer in refused]
    assert [(op["status"], op["status_code"]) for op in failed_uploads] == [("Failure", 400)] * len(failed_uploads)
    # Everything stored can still be read, one by one and in lists.
    for url in [
        "/1.0/images?recursion=1",
        f"/1.0/images/{fingerprint}",
        "/1.0/images/aliases?recursion=1",
        "/1.0/images/aliases/kept",
        "/1.0/profiles?recursion=1",
        "/1.0/profiles/kept",
    ]:
        assert server.request("GET", url)[0] == 200, url
    assert len(server.request("GET", "/1.0/images")[2]["metadata"]) == 1
    assert "Traceback" not in server.log()
