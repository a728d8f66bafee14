"""Integers too long for Python's int(): Go's answers, never a 500.

Python refuses to convert a decimal string of more than 4,300 digits (a ValueError where the
code expected a number); LXD's Go parsers read it and refuse it as out of range. The texts
were recorded from the LXD 5.0.2 daemon (which answers them with a 500).
"""

import pytest

from resources.models import Server
from resources.operations import finished_operation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("digits", [20, 5000])
def test_wait_timeout_out_of_range_is_gos_atoi_error(api, digits):
    operation = finished_operation("Done work")
    value = "9" * digits

    response = api.get(f"/1.0/operations/{operation.id}/wait?timeout={value}")

    assert response.status_code == 400
    assert response.json()["error"] == f'strconv.Atoi: parsing "{value}": value out of range'


def test_wait_timeout_at_the_int64_limit_is_read(api):
    operation = finished_operation("Done work")

    response = api.get(f"/1.0/operations/{operation.id}/wait?timeout=9223372036854775807")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("address", "error"),
    [
        (":" + "9" * 5000, "address " + "9" * 5000 + ": invalid port"),
        (":99999", "address 99999: invalid port"),
    ],
)
def test_listener_port_beyond_65535_is_lxds_text(api, address, error):
    response = api.patch("/1.0", {"config": {"core.https_address": address}})

    assert response.status_code == 400
    assert response.json()["error"] == f'Cannot listen on network HTTPS socket "{address}": listen tcp: {error}'
    assert "core.https_address" not in Server.objects.get().config


def test_listener_port_with_leading_zeros_is_read_as_go_reads_it(api):
    response = api.patch("/1.0", {"config": {"core.https_address": ":0000000000008443"}})

    assert response.status_code == 200
