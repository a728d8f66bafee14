"""The OpenAPI schema generates without warnings, documents the conditional headers and every
routed /1.0 operation, and the docs pages load with no CDN."""

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
    # The event stream is a WebSocket, which OpenAPI cannot describe; nothing else may hide.
    assert outside_drf == {"/1.0/events"}
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
