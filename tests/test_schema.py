"""The OpenAPI schema generates without warnings and documents the conditional headers."""

import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    put = schema["paths"]["/1.0/profiles/{name}"]["put"]
    assert {"If-Match", "If-None-Match"} <= {parameter["name"] for parameter in put["parameters"]}
    assert {"412", "428"} <= set(put["responses"])
    assert schema["paths"]["/1.0/profiles/{name}"]["post"]["operationId"] == "1.0_profiles_rename"
