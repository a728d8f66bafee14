"""schemathesis against the OpenAPI schema a live ``serve --bind`` serves, over every operation.

A bounded run (``EXAMPLES`` per operation, at least ``MIN_REQUESTS`` in all) over TCP with an
API token, positive and negative cases: no answer is a 5xx (501, LXD's "not implemented", aside),
every answer is LXD's envelope, and every answer conforms to the schema (status code, content
type, body). The schema documents what LXD sends: the envelope around every body, LXD's error
envelope for every failure (``resources/schema.py``).
"""

import json
import os
import subprocess
import sys

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.support.live_server import REPO_ROOT, free_port, running_server

pytestmark = pytest.mark.live

# 62 operations x 40 examples (positive and negative); operations with few distinct inputs
# end early, so the last test checks how many requests were sent.
EXAMPLES = 40
MIN_REQUESTS = 2000
ENVELOPE_TYPES = {"sync", "async", "error"}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _generated_schema():
    """The OpenAPI document as drf-spectacular builds it."""
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


# The event stream is a WebSocket: an upgrade answers 101 and then holds the connection, which an
# HTTP client can neither read as an answer nor reuse (tests/test_events.py covers it).
NOT_FUZZED = {"GET /1.0/events"}


def _operations(document):
    """schemathesis' operations of an OpenAPI document, by label (``GET /1.0/profiles``)."""
    schema = schemathesis.openapi.from_dict(document)
    operations = {result.ok().label: result.ok() for result in schema.get_all_operations()}
    return {label: operation for label, operation in operations.items() if label not in NOT_FUZZED}


# Test ids at collection time; the test fuzzes the same operation of the served schema.
OPERATIONS = _operations(_generated_schema())
SENT = {}


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    """A live lxdsite on SQLite with a TCP listener: (base URL, token headers, the served operations)."""
    lxd_dir = tmp_path_factory.mktemp("fuzz") / "lxd"
    port = free_port()
    with running_server(lxd_dir, bind=f"127.0.0.1:{port}") as server:
        token = subprocess.run(
            [sys.executable, "manage.py", "createtoken", "fuzz"],
            cwd=REPO_ROOT,
            env={**os.environ, "LXD_DIR": str(lxd_dir)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        base = f"http://127.0.0.1:{port}"
        served = requests.get(f"{base}/api/schema/?format=json", timeout=30)
        assert served.status_code == 200
        served_operations = _operations(served.json())
        # The run covers what the server serves; the ids come from the same generator.
        assert set(served_operations) == set(OPERATIONS)
        yield base, {"Authorization": f"Bearer {token}"}, served_operations
        assert "Traceback" not in server.log()


def no_server_error(response):
    """No 5xx but 501, LXD's answer for what it does not serve (an image from a source, a method
    a path lacks); schemathesis's not_a_server_error counts 501 as a failure."""
    assert response.status_code < 500 or response.status_code == 501, response.content


def lxd_envelope(response, case):
    """Every answer is LXD's envelope: JSON whose ``type`` is sync, async or error (HEAD and 304: empty)."""
    if case.method.upper() == "HEAD" or response.status_code == 304:
        assert not response.content, f"{response.status_code} with a body"
        return
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert body.get("type") in ENVELOPE_TYPES, body
    if body["type"] == "error":
        assert body["error_code"] == response.status_code >= 400, body
        assert isinstance(body["error"], str), body
        assert body["error"], body


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_answers_an_envelope_never_a_5xx(fuzz_target, label):
    base, headers, served_operations = fuzz_target
    operation = served_operations[label]
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)
    SENT[label] = 0

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def fuzz(case):
        response = case.call(base_url=base, headers=headers, timeout=30)
        SENT[label] += 1
        no_server_error(response)
        case.validate_response(response, checks=CHECKS)
        lxd_envelope(response, case)

    fuzz()


def test_the_run_sent_enough_requests():
    """Runs last (pytest keeps file order): the whole run sent at least MIN_REQUESTS."""
    if set(SENT) != set(OPERATIONS):
        pytest.skip("only part of the fuzzing ran")
    sent = sum(SENT.values())
    print(f"{sent} requests over {len(SENT)} operations")
    assert sent >= MIN_REQUESTS, SENT
