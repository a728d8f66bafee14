"""Network zone records in-process: where lxdsite differs from LXD 5.0.2 on purpose (checked
against the daemon in tests/test_network_zone_records_lxd.py): names unique within a zone (LXD's
schema makes them unique across every zone), and PATCH merges the record's own config and keeps
what it leaves out (LXD merges the zone's config and drops the entries)."""

import pytest

from resources.etags import lxd_etag_of
from resources.models import NetworkZoneRecord, Project
from resources.serializers.network_zone_records import NetworkZoneRecordETagSerializer

RECORDS = "/1.0/network-zones/z.example.com/records"


@pytest.fixture
def zone(api):
    assert api.post("/1.0/network-zones", {"name": "z.example.com", "config": {"user.z": "1"}}).status_code == 201
    assert api.post("/1.0/network-zones", {"name": "y.example.com"}).status_code == 201


@pytest.mark.django_db
def test_a_name_may_be_used_once_in_each_zone(api, zone):
    assert api.post(RECORDS, {"name": "www"}).status_code == 201
    again = api.post(RECORDS, {"name": "www"})
    other_zone = api.post("/1.0/network-zones/y.example.com/records", {"name": "www"})

    assert (again.status_code, again.json()["error"]) == (400, "UNIQUE constraint failed: networks_zones_records.name")
    assert other_zone.status_code == 201
    assert NetworkZoneRecord.objects.filter(name="www").count() == 2


@pytest.mark.django_db
def test_patch_merges_the_records_config_and_keeps_what_it_leaves_out(api, zone):
    entries = [{"type": "A", "value": "192.0.2.1", "ttl": 60}]
    body = {"name": "www", "description": "d", "entries": entries, "config": {"user.a": "1"}}
    assert api.post(RECORDS, body).status_code == 201
    etag = api.get(f"{RECORDS}/www").headers["ETag"]

    patched = api.patch(f"{RECORDS}/www", {"config": {"user.b": "2"}}, headers={"If-Match": etag})

    assert patched.status_code == 200
    assert api.get(f"{RECORDS}/www").json()["metadata"] == {
        "description": "d",
        "entries": entries,
        "config": {"user.a": "1", "user.b": "2"},
        "name": "www",
    }
    stale = api.patch(f"{RECORDS}/www", {"description": "x"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert NetworkZoneRecord.objects.get(name="www").description == "d"


@pytest.mark.django_db
def test_the_etag_hashes_the_writable_struct_as_lxd_does(api, zone):
    # Recorded from the daemon: a record with description "q", no entries and config {"user.y": "2"}.
    record = NetworkZoneRecord(description="q", entries=None, config={"user.y": "2"})
    assert lxd_etag_of(NetworkZoneRecordETagSerializer, record) == (
        "ed7a4669ba73b866f4d6d420cf877287728b5764aa066fe5729a9fcda47b9c4c"
    )


@pytest.mark.django_db
def test_records_live_in_their_zones_project(api):
    Project.objects.create(name="p", config={"features.networks": "true"})
    assert api.post("/1.0/network-zones?project=p", {"name": "p.example.com"}).status_code == 201

    created = api.post("/1.0/network-zones/p.example.com/records?project=p", {"name": "a b"})
    elsewhere = api.get("/1.0/network-zones/p.example.com/records")

    assert created.headers["Location"] == "/1.0/network-zones/p.example.com/records/a%2520b?project=p"
    assert api.get("/1.0/network-zones/p.example.com/records?project=p").json()["metadata"] == [
        "/1.0/network-zones/p.example.com/records/a%2520b"
    ]
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (404, "Network zone not found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("x", "entries: expected an array of entry objects"),
        (
            [{"type": "A", "value": "192.0.2.1", "ttl": -1}],
            "entries: entry field ttl must be an integer from 0 to 2^64-1",
        ),
        ([{"type": 1, "value": "x"}], "entries: entry field type must be a string"),
    ],
)
def test_entries_of_the_wrong_shape_are_refused(api, zone, entries, message):
    refused = api.post(RECORDS, {"name": "r", "entries": entries})
    assert (refused.status_code, refused.json()["error"]) == (400, message)
    assert not NetworkZoneRecord.objects.exists()


@pytest.mark.django_db
def test_names_of_any_length_are_taken_as_lxd_takes_them(api):
    """LXD checks no record name and no zone name length; a column of 255 characters on PostgreSQL answered 500."""
    long_zone = "z" * 300
    assert api.post("/1.0/network-zones", {"name": long_zone}).status_code == 201

    created = api.post(f"/1.0/network-zones/{long_zone}/records", {"name": "r" * 300})

    assert created.status_code == 201
    assert api.get(f"/1.0/network-zones/{long_zone}/records/{'r' * 300}").json()["metadata"]["name"] == "r" * 300
