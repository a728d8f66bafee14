"""The OpenAPI schema generates without warnings and validates; it documents the conditional
headers, the ETag where the server sends one, LXD's envelopes, the query parameters and every
routed /1.0 operation (the event stream too); and the docs pages load with no CDN."""

import re

import pytest
import yaml
from django.contrib.admindocs.views import simplify_regex
from django.core.management import call_command
from django.urls import URLResolver, get_resolver


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    put = schema["paths"]["/1.0/profiles/{name}"]["put"]
    assert {"If-Match", "If-None-Match"} <= {parameter["name"] for parameter in put["parameters"]}
    assert {"412", "428"} <= set(put["responses"])
    assert schema["paths"]["/1.0/profiles/{name}"]["post"]["operationId"] == "1.0_profiles_rename"


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker, tmp_path_factory):
    """The schema as `manage.py spectacular --validate --fail-on-warn` writes it."""
    target = tmp_path_factory.mktemp("schema") / "schema.yml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def resolve(schema, node):
    """``node`` with its ``$ref`` followed."""
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_envelopes_are_components(schema):
    components = schema["components"]["schemas"]
    assert {"SyncResponse", "AsyncResponse", "ErrorResponse", "OperationMetadata", "Event"} <= set(components)
    for name, kind in [("SyncResponse", "sync"), ("AsyncResponse", "async"), ("ErrorResponse", "error")]:
        envelope = components[name]
        assert set(envelope["required"]) == {
            "type",
            "status",
            "status_code",
            "operation",
            "error_code",
            "error",
            "metadata",
        }
        assert resolve(schema, envelope["properties"]["type"])["enum"] == [kind]
    assert components["AsyncResponse"]["properties"]["metadata"] == {"$ref": "#/components/schemas/OperationMetadata"}

    profile = schema["paths"]["/1.0/profiles/{name}"]
    assert profile["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SyncResponse"
    }
    assert profile["put"]["responses"]["412"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    # Creating an instance may start an operation: 202 with the async envelope.
    create = schema["paths"]["/1.0/instances"]["post"]["responses"]["202"]
    assert create["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AsyncResponse"}


def test_events_are_documented_as_a_websocket(schema):
    events = schema["paths"]["/1.0/events"]["get"]

    parameters = {parameter["name"]: parameter for parameter in events["parameters"]}
    assert parameters["type"]["in"] == "query"
    assert "`operation`" in parameters["type"]["description"]
    assert parameters["Upgrade"]["schema"]["enum"] == ["websocket"]
    assert parameters["Connection"]["in"] == "header"
    assert {"101", "400", "403"} <= set(events["responses"])
    assert events["responses"]["101"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Event"}
    event_types = resolve(schema, schema["components"]["schemas"]["Event"]["properties"]["type"])["enum"]
    assert set(event_types) == {"logging", "operation", "lifecycle"}


def test_recursion_and_filter_where_the_views_read_them(schema):
    def query_parameters(path, method="get"):
        operation = schema["paths"][path][method]
        return {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}

    for path in ["/1.0/instances", "/1.0/containers", "/1.0/images"]:
        assert {"recursion", "filter"} <= query_parameters(path), path
    for path in ["/1.0/profiles", "/1.0/images/aliases", "/1.0/operations", "/1.0/instances/{name}"]:
        assert "recursion" in query_parameters(path), path
    assert "filter" not in query_parameters("/1.0/profiles")
    assert query_parameters("/1.0/profiles/{name}") == {"project"}
    assert query_parameters("/1.0/profiles", "post") == {"project"}


@pytest.mark.django_db
def test_etag_header_is_documented_exactly_where_it_is_sent(schema, api, profile):
    """Every GET without other path parameters than a profile's name, and the profile's writes:
    the schema's ETag header matches the answers."""
    checked = []
    for path, operations in schema["paths"].items():
        url = path.replace("{name}", "p1") if path.startswith("/1.0/profiles") else path
        if "{" in url or path == "/1.0/events":
            continue
        documented = "ETag" in operations["get"]["responses"]["200"].get("headers", {})
        assert ("ETag" in api.get(url).headers) == documented, path
        checked.append((path, documented))
    assert ("/1.0/profiles/{name}", True) in checked
    assert ("/1.0/profiles", True) in checked
    assert ("/1.0/operations", False) in checked

    for method in ["put", "patch"]:
        responses = schema["paths"]["/1.0/profiles/{name}"][method]["responses"]
        assert "ETag" in responses["200"]["headers"]
        answer = getattr(api, method)("/1.0/profiles/p1", {"description": method})
        assert answer.status_code == 200
        assert "ETag" in answer.headers
    created = schema["paths"]["/1.0/profiles"]["post"]["responses"]["201"]
    assert "headers" not in created
    assert "ETag" not in api.post("/1.0/profiles", {"name": "p2"}).headers


def _routed_operations(patterns, prefix=""):
    """(OpenAPI path, method) for every routed URL under /1.0, read from Django's resolver."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routed_operations(pattern.url_patterns, route)
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", simplify_regex(route))
        if not (path == "/1.0" or path.startswith("/1.0/")):
            continue
        callback = pattern.callback
        if not hasattr(callback, "cls"):  # a plain Django view, outside DRF
            yield path, None
            continue
        # A viewset routes the methods in its actions; an @api_view allows its own.
        methods = callback.actions if hasattr(callback, "actions") else callback.cls().allowed_methods
        for method in methods:
            if method.lower() not in ("head", "options"):
                yield path, method.lower()


@pytest.mark.django_db
def test_every_routed_1_0_operation_is_in_the_schema(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target))
    schema = yaml.safe_load(target.read_text())

    routed = set(_routed_operations(get_resolver().url_patterns))
    outside_drf = {path for path, method in routed if method is None}
    routed -= {(path, None) for path in outside_drf}

    assert ("/1.0/profiles/{name}", "post") in routed
    # The event stream is a plain Django view (a WebSocket), documented by a hook; nothing else is outside DRF.
    assert outside_drf == {"/1.0/events"}
    routed.add(("/1.0/events", "get"))
    missing = {(path, method) for path, method in routed if method not in schema["paths"].get(path, {})}
    assert not missing, f"routed but not in the schema: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "marker"), [("/api/docs/", "swagger-ui"), ("/api/redoc/", "redoc")])
def test_api_docs_load_without_a_cdn(client, url, marker):
    response = client.get(url)

    assert response.status_code == 200
    page = response.content.decode()
    assert marker in page
    # Every script and stylesheet comes from lxdsite itself.
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets
    assert all(asset.startswith("/") for asset in assets), assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset
    # Swagger UI's validator badge would send the schema to swagger.io.
    assert marker != "swagger-ui" or '"validatorUrl": null' in page


def test_operations_have_summaries_a_person_reads(schema):
    summaries = {
        (path, method): operation.get("summary")
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert summaries[("/1.0/profiles/{name}", "get")] == "Show a profile"
    assert summaries[("/1.0/images/aliases", "post")] == "Create an image alias"
    assert summaries[("/1.0", "put")] == "Replace the server configuration's writable fields (PUT)"
    assert summaries[("/1.0/operations/{id}", "delete")] == "Cancel a running operation"
    # Every operation is in one of the sections the settings describe, and no section is empty.
    tags = {
        tag for operations in schema["paths"].values() for operation in operations.values() for tag in operation["tags"]
    }
    assert tags == {entry["name"] for entry in schema["tags"]}


def test_project_scoped_routes_document_the_project_parameter(schema):
    def names(path, method):
        return {parameter["name"] for parameter in schema["paths"][path][method].get("parameters", [])}

    assert "project" in names("/1.0/profiles", "get")
    assert "project" in names("/1.0/instances/{name}", "put")
    assert "project" not in names("/1.0/projects", "get")
    assert "all-projects" in names("/1.0/instances", "get")
    assert "all-projects" in names("/1.0/containers", "get")
    assert "all-projects" not in names("/1.0/profiles", "get")
