"""A staff session over TCP does what its Django model permissions allow, on every route.

Derived from the router (and ``/1.0``), not a hand-kept list: for each route and method of each
registered viewset, a staff user holding every permission but the one the request needs gets
LXD's 403 and changes nothing (a read of a resource untrusted clients may read gets exactly the
anonymous answer instead), and a staff user holding only that permission gets what a client of
the trusted unix socket gets. Reads need ``view_<model>``, a POST on a collection
``add_<model>``, DELETE ``delete_<model>``, every other write ``change_<model>``; cancelling an
operation changes it. The data is ``tests/resource_cases.py``.
"""

import base64
import re

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from resources.instance_backups import backup_path
from resources.instance_files.trees import ensure_tree
from resources.models import Instance, InstanceBackup, InstanceTemplate, Operation, Server
from resources.response_cache import RESPONSES
from resources.serializers.certificates import parse_certificate_pem
from resources.server_identity import generate_certificate
from resources.urls import router
from tests.resource_cases import CASES, FINGERPRINT
from tests.support.api import api_client
from tests.support.image_files import unified_image


def _routes():
    """(basename, viewset, detail, method, action, URL template) of every routed method."""
    for prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if hasattr(viewset, action):
                    template = route.url.strip("^$").format(prefix=prefix, lookup="{lookup}", trailing_slash="")
                    yield basename, viewset, route.detail, method, action, template


ROUTES = {f"{route[0]} {route[3]} {route[4]}": route for route in _routes()}
SERVER_METHODS = ["get", "put", "patch"]

NEW_CERTIFICATE = base64.b64encode(parse_certificate_pem(generate_certificate(client=True)[0])).decode()
# What each action sends: bodies that a trusted client's request succeeds with.
CREATE_BODIES = {
    "profile": {"name": "new"},
    "project": {"name": "new"},
    "image-alias": {"name": "new", "target": FINGERPRINT},
    "instance": {"name": "new", "source": {"type": "none"}},
    "container": {"name": "new", "source": {"type": "none"}},
    "snapshot": {"name": "new"},
    "container-snapshot": {"name": "new"},
    "network": {"name": "new", "config": {"ipv4.address": "none", "ipv6.address": "none"}},
    "network-acl": {"name": "new"},
    "network-zone": {"name": "new.example.com"},
    "network-forward": {"listen_address": "192.0.2.50"},
    "network-zone-record": {"name": "new"},
    "network-peer": {"name": "new", "target_network": "new"},
    "certificate": {"type": "client", "certificate": NEW_CERTIFICATE},
    "storage-pool": {"name": "new", "driver": "dir"},
    "storage-volume": {"name": "new"},
    "storage-volume-snapshot": {"name": "new"},
}
ACTION_BODIES = {
    "state": {"action": "start"},
    "refresh": {},
    "bulk_update": {"state": {"action": "start"}},
    "exec": {"command": ["true"]},
    "console": {},
    "metadata": {"properties": {"os": "x"}},
    "templates": {},
    "backups": {},
    "backup": {"name": "b2"},
}
# Routes a trusted request never succeeds on: lxdsite runs no process (exec, attaching a
# console) and keeps no log that may be deleted. The permission check still comes first.
ALWAYS_REFUSED = {("post", "exec"), ("post", "console"), ("delete", "log")}


def _expected_verb(basename, method, detail):
    """Django's permission word the request needs, as this module's docstring states the rule."""
    if method == "get":
        return "view"
    if method == "delete":
        return "change" if basename == "operation" else "delete"
    if method == "post" and not detail:
        return "add"
    return "change"


def _permission(model, verb):
    return Permission.objects.get(
        content_type=ContentType.objects.get_for_model(model), codename=f"{verb}_{model._meta.model_name}"
    )


def _staff(name, permissions):
    user = User.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.set(permissions)
    client = api_client("tcp")
    client.force_login(user)
    return client


def _stored():
    """Every row lxdsite keeps, to show that a refused request changed nothing."""
    models = [model for model in apps.get_app_config("resources").get_models() if model._meta.model_name != "event"]
    return {model: list(model.objects.order_by("pk").values()) for model in models}


def _request(basename, method, action, template):
    """(method, URL, body, content type) of the request, on a freshly made object."""
    case = CASES[basename]
    lookup = case.make(0, False)
    if basename == "operation" and method == "delete":
        # Only a running operation that may be cancelled can be.
        Operation.objects.filter(pk=lookup).update(status=Operation.RUNNING, may_cancel=True)
    if action in ("console", "log"):
        # A console log exists once the instance has started.
        Instance.objects.filter(name=lookup).update(last_used_at=timezone.now())
    if action == "templates":
        # A template file to read or delete; a write names it too.
        InstanceTemplate.objects.create(instance=Instance.objects.get(name=lookup), name="t.tpl", content=b"x")
        template += "?path=t.tpl"
    if action == "files":
        # A file to read or delete (made again before each request: a delete takes it from disk,
        # which no rollback puts back); a write names it too.
        _FILE_RESETS.append(lambda: (ensure_tree(Instance.objects.get(name=lookup)) / "f").write_bytes(b"x"))
        template += "?path=/f"
    if action == "export":
        # The case's image is a row; an export sends its file.
        settings.LXDSITE_IMAGES_DIR.mkdir(parents=True, exist_ok=True)
        (settings.LXDSITE_IMAGES_DIR / lookup).write_bytes(unified_image())
    if action in ("backup", "backup_export"):
        # A backup to read, rename, delete or export, with its file.
        backup = InstanceBackup.objects.create(instance=Instance.objects.get(name=lookup), name="b")
        backup_path(backup).parent.mkdir(parents=True, exist_ok=True)
        backup_path(backup).write_bytes(b"x")
    kwargs = {**case.url_kwargs, "file": "lxc.log", "backup": "b"}
    url = "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: kwargs[m.group(1)], template).format(lookup=lookup)
    if action == "create" and basename == "image":
        return method, url, unified_image(), "application/octet-stream"
    body = {
        "create": CREATE_BODIES.get(basename),
        "update": case.put,
        "partial_update": case.patch,
        "rename": case.rename,
    }.get(action, ACTION_BODIES.get(action) if method != "get" else None)
    return method, url, body, "application/json"


# What a request needs again before it is sent a second time (an instance's file).
_FILE_RESETS = []


def _send(client, method, url, body, content_type):
    for reset in _FILE_RESETS:
        reset()
    if content_type == "application/json":
        return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    return client.generic(method.upper(), url, body, content_type=content_type)


def _content(response):
    """The answer's bytes, also of a streamed one (an image export)."""
    if not response.streaming:
        return response.content
    content = b"".join(response.streaming_content)
    response.close()
    return content


def _trusted_answer(request):
    """What the unix socket answers, in a savepoint rolled back afterwards."""
    with transaction.atomic():
        answer = _send(api_client("unix"), *request)
        transaction.set_rollback(True)
    RESPONSES.clear()
    return answer


def _check(model, verb, request, untrusted_read, always_refused=False):
    needed = _permission(model, verb)
    trusted = _trusted_answer(request)
    assert (trusted.status_code >= 400) == always_refused, trusted.content
    anonymous = _send(api_client("tcp"), *request) if untrusted_read and request[0] == "get" else None
    before = _stored()

    refused = _send(_staff("lacking", Permission.objects.exclude(pk=needed.pk)), *request)

    if anonymous is not None:
        assert (refused.status_code, _content(refused)) == (anonymous.status_code, _content(anonymous))
    else:
        assert refused.status_code == 403, refused.content
        assert refused.json() == {
            "type": "error",
            "status": "",
            "status_code": 0,
            "operation": "",
            "error_code": 403,
            "error": "not authorized",
            "metadata": None,
        }
    assert _stored() == before
    RESPONSES.clear()

    allowed = _send(_staff("holding", [needed]), *request)

    assert allowed.status_code == trusted.status_code, allowed.content
    if request[0] == "get":
        assert _content(allowed) == _content(trusted)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.django_db
def test_a_staff_session_needs_the_model_permission_of_each_route(route, images_dir):
    basename, viewset, detail, method, action, template = ROUTES[route]
    _FILE_RESETS.clear()
    request = _request(basename, method, action, template)
    untrusted_read = getattr(viewset, "untrusted_read", False)
    refused = (method, action) in ALWAYS_REFUSED
    _check(viewset.queryset.model, _expected_verb(basename, method, detail), request, untrusted_read, refused)


@pytest.mark.parametrize("method", SERVER_METHODS)
@pytest.mark.django_db
def test_a_staff_session_needs_the_server_permission_for_1_0(method):
    body = {"config": {"images.auto_update_interval": "0"}} if method != "get" else None
    _check(Server, _expected_verb("server", method, True), (method, "/1.0", body, "application/json"), True)


@pytest.mark.django_db
def test_a_superuser_session_may_do_everything(tcp_api, profile):
    tcp_api.force_login(User.objects.create_superuser("root", password="pw"))

    assert tcp_api.get("/1.0/profiles/p1").status_code == 200
    assert tcp_api.delete("/1.0/profiles/p1").status_code == 200
    assert not type(profile).objects.filter(name="p1").exists()


@pytest.mark.parametrize(
    ("codenames", "forms"),
    [(["view_profile"], False), (["view_profile", "change_profile"], True)],
)
@pytest.mark.django_db
def test_the_browsable_api_offers_the_writes_a_staff_session_may_make(codenames, forms):
    client = _staff("browser", Permission.objects.filter(codename__in=codenames))

    response = client.get("/1.0/profiles/default", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Default LXD profile" in page
    assert ('data-method="PUT"' in page) is forms
    assert ('data-method="PATCH"' in page) is forms
