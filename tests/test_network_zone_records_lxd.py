"""``/1.0/network-zones/ZONE/records`` and ``lxc network zone record`` beside the real LXD 5.0.2
daemon: same answers, ETags, refusal texts (miekg/dns's parse errors, their columns included) and
output; nothing normalised. LXD answers 500 for entries and config it refuses and for a name
taken; lxdsite 400 with the same text. LXD's PATCH merges the zone's config into the record's
(and drops entries it leaves out): the PATCH here names every field of a record of a zone without
config, where both agree (docs/compatibility.md)."""

import random

import pytest

from tests.support.both_servers import refused_alike, same, same_refusal
from tests.support.events_client import EventsClient
from tests.support.live_server import unix_request
from tests.support.lxc import comparable, run_lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]

ZONE = "/1.0/network-zones/rz.example.com"
RECORDS = f"{ZONE}/records"


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """Send one request to each server: (LXD's answer, lxdsite's); the test's zone (its records
    with it) is deleted afterwards."""
    for server in (lambda *args: unix_request(real_lxd, *args), lxdsite_server.request):
        assert server("POST", "/1.0/network-zones", {"name": "rz.example.com"}, None)[0] == 201
    yield lambda method, path, body=None, headers=None: (
        unix_request(real_lxd, method, path, body, headers),
        lxdsite_server.request(method, path, body, headers),
    )
    for server in (lambda *args: unix_request(real_lxd, *args), lxdsite_server.request):
        server("DELETE", ZONE, None, None)
    assert unix_request(real_lxd, "GET", "/1.0/network-zones")[2]["metadata"] == []


def test_a_records_life_equals_the_daemons(both):
    same(*both("GET", RECORDS), 200)
    same(*both("POST", RECORDS, {"name": "www"}), 201)
    same(*both("GET", f"{RECORDS}/www"), 200)
    entries = [
        {"type": "A", "value": "192.0.2.1"},
        {"type": "aaaa", "value": "2001:db8::1", "ttl": 60},
        {"type": "TXT", "value": '"v=spf1 mx" "~all"'},
        {"type": "MX", "value": "10 mail.example.com."},
        {"type": "SRV", "value": "0 5 5060 sip"},
        {"type": "CNAME", "value": "@"},
        {"type": "CAA", "value": '0 issue "letsencrypt.org"'},
        {"type": "A", "value": "192.0.2.2 ; a comment"},
    ]
    body = {"name": "B", "description": "d", "entries": entries, "config": {"user.x": "1"}}
    same(*both("POST", RECORDS, body), 201)
    same(*both("POST", RECORDS, {"name": "a/b c"}), 201)
    same(*both("POST", RECORDS, {"name": "@", "entries": []}), 201)
    same(*both("GET", RECORDS), 200)
    same(*both("GET", f"{RECORDS}?recursion=1"), 200)
    same(*both("GET", f"{RECORDS}/B"), 200)
    etag = both("GET", f"{RECORDS}/B")[0][1]["ETag"]
    put = {"description": "p", "entries": [{"type": "NS", "value": "ns1", "ttl": 3600}], "config": {}}
    same(*both("PUT", f"{RECORDS}/B", put, {"If-Match": etag}), 200)
    same(*both("GET", f"{RECORDS}/B"), 200)
    same_refusal(*both("PUT", f"{RECORDS}/B", put, {"If-Match": etag}), 412)
    patch = {"description": "q", "entries": [{"type": "PTR", "value": "host.example.com."}], "config": {"user.y": "2"}}
    same(*both("PATCH", f"{RECORDS}/B", patch), 200)
    same(*both("GET", f"{RECORDS}/B"), 200)
    same(*both("PUT", f"{RECORDS}/B", {"description": "only"}), 200)
    same(*both("GET", f"{RECORDS}/B"), 200)
    same(*both("DELETE", f"{RECORDS}/www"), 200)
    same(*both("GET", f"{RECORDS}?recursion=1"), 200)
    # A zone's records go with it.
    same(*both("DELETE", ZONE), 200)
    same_refusal(*both("GET", RECORDS), 404)
    same(*both("POST", "/1.0/network-zones", {"name": "rz.example.com"}), 201)
    same(*both("GET", RECORDS), 200)


# Entries miekg/dns refuses or takes, oddities included: its columns count bytes read, a read
# past the line's end sees the blank after the type, an empty name is a dynamic update's.
ENTRIES = [
    {"type": "A", "value": "nope"},
    {"type": "A", "value": ""},
    {"type": "A", "value": "2001:db8::1"},
    {"type": "A", "value": "192.0.2.1 5"},
    {"type": "A", "value": "192.0.2.1  5", "ttl": 12345},
    {"type": "A", "value": "192.0.2.1", "ttl": 18446744073709551615},
    {"type": "A", "value": "01.2.3.4"},
    {"type": "A", "value": '"192.0.2.1"'},
    {"type": "A", "value": "192.0.2.1\\ x"},
    {"type": "A", "value": "192.0.2.1 ;x"},
    {"type": "A", "value": "(192.0.2.1)"},
    {"type": "AAAA", "value": "192.0.2.1"},
    {"type": "AAAA", "value": "fe80::1%eth0"},
    {"type": "AAAA", "value": ""},
    {"type": "FOO", "value": "x"},
    {"type": "", "value": "x"},
    {"type": "TYPE", "value": "x"},
    {"type": "MX", "value": "mail"},
    {"type": "MX", "value": "10"},
    {"type": "MX", "value": "10 "},
    {"type": "MX", "value": ""},
    {"type": "MX", "value": "70000 mail"},
    {"type": "MX", "value": "10 a..b"},
    {"type": "SRV", "value": "1 2 x"},
    {"type": "SRV", "value": "x 2 3 t"},
    {"type": "SRV", "value": "1 2 3"},
    {"type": "SRV", "value": "1 2"},
    {"type": "SRV", "value": "1"},
    {"type": "SRV", "value": ""},
    {"type": "CNAME", "value": ".x"},
    {"type": "CNAME", "value": "a b"},
    {"type": "CNAME", "value": "a\tb"},
    {"type": "CNAME", "value": "a" * 64},
    {"type": "CNAME", "value": "x." * 130},
    {"type": "CNAME", "value": '"x"'},
    {"type": "CNAME", "value": "\u00e9"},
    {"type": "CNAME", "value": ""},
    {"type": "DNAME", "value": ""},
    {"type": "PTR", "value": "x ; c"},
    {"type": "NS", "value": ""},
    {"type": "NS", "value": "@"},
    {"type": "TXT", "value": '"unterminated'},
    {"type": "TXT", "value": '"a" "b'},
    {"type": "TXT", "value": '"a" ""'},
    {"type": "TXT", "value": '"a"b'},
    {"type": "TXT", "value": "a\\"},
    {"type": "TXT", "value": "\u00e9 x"},
    {"type": "TXT", "value": ""},
    {"type": "SPF", "value": ""},
    {"type": "CAA", "value": "300 issue x"},
    {"type": "CAA", "value": "0 issue a b"},
    {"type": "CAA", "value": "0 issue"},
    {"type": "CAA", "value": "0"},
    {"type": "CAA", "value": ""},
]


def _same_outcome(answers):
    """Both take it (201), or LXD's 500 is lxdsite's 400 with the same text."""
    lxd = answers[0]
    if lxd[0] == 201:
        same(*answers, 201)
    else:
        refused_alike(*answers)


def test_refusals_equal_the_daemons(both):
    for index, entry in enumerate(ENTRIES):
        _same_outcome(both("POST", RECORDS, {"name": f"e{index}", "entries": [entry]}))
    twice = [{"type": "A", "value": "192.0.2.1"}, {"type": "A", "value": "192.0.2.1", "ttl": 5}]
    refused_alike(*both("POST", RECORDS, {"name": "bad", "entries": twice}))
    refused_alike(*both("POST", RECORDS, {"name": "bad", "config": {"foo": "1"}}))
    same(*both("POST", RECORDS, {"name": "r"}), 201)
    refused_alike(*both("POST", RECORDS, {"name": "r"}))
    refused_alike(*both("PUT", f"{RECORDS}/r", {"entries": [{"type": "A", "value": "x"}]}))
    refused_alike(*both("PUT", f"{RECORDS}/r", {"config": {"dns.nameservers": "x"}}))
    same(*both("GET", f"{RECORDS}/r"), 200)
    for method in ("GET", "PUT", "DELETE"):
        same_refusal(*both(method, f"{RECORDS}/nope", {}), 404)
        same_refusal(*both(method, "/1.0/network-zones/nope/records/r", {}), 404)
    same_refusal(*both("POST", "/1.0/network-zones/nope/records", {"name": "r"}), 404)
    same_refusal(*both("POST", f"{RECORDS}/r", {"name": "x"}), 501)
    # A record may have any name, the empty one too, which no URL reaches; one with a space is
    # reached by its name escaped once, though LXD's URLs escape it twice.
    same(*both("POST", RECORDS, {"name": ""}), 201)
    same(*both("POST", RECORDS, {"name": "a b"}), 201)
    same_refusal(*both("GET", f"{RECORDS}/"), 404)
    same_refusal(*both("DELETE", f"{RECORDS}/"), 404)
    same(*both("GET", f"{RECORDS}/a%20b"), 200)
    same_refusal(*both("GET", f"{RECORDS}/a%2520b"), 404)
    same(*both("GET", f"{RECORDS}?recursion=1"), 200)


def test_lxc_network_zone_record_commands_print_what_they_print_against_lxd(real_lxd, lxdsite_server, both, tmp_path):
    def alike(*args, **kwargs):
        lxd = comparable(run_lxc(real_lxd, tmp_path / "lxd", *args, **kwargs))
        ours = comparable(run_lxc(lxdsite_server.socket_path, tmp_path / "site", *args, **kwargs))
        assert ours == lxd, args

    zone = "rz.example.com"
    alike("network", "zone", "record", "list", zone)
    alike("network", "zone", "record", "create", zone, "www", "user.k=v")
    alike("network", "zone", "record", "create", zone, "www")
    alike("network", "zone", "record", "create", zone, "bad", "foo=v")
    alike("network", "zone", "record", "show", zone, "www")
    alike("network", "zone", "record", "entry", "add", zone, "www", "A", "192.0.2.1")
    alike("network", "zone", "record", "entry", "add", zone, "www", "AAAA", "2001:db8::1", "--ttl", "60")
    alike("network", "zone", "record", "entry", "add", zone, "www", "A", "192.0.2.1")
    alike("network", "zone", "record", "entry", "add", zone, "www", "A", "nope")
    alike("network", "zone", "record", "entry", "add", zone, "www", "TXT", "hello world")
    alike("network", "zone", "record", "show", zone, "www")
    alike("network", "zone", "record", "entry", "remove", zone, "www", "A", "192.0.2.1")
    alike("network", "zone", "record", "entry", "remove", zone, "www", "A", "192.0.2.9")
    alike("network", "zone", "record", "set", zone, "www", "user.a", "1")
    alike("network", "zone", "record", "get", zone, "www", "user.a")
    alike("network", "zone", "record", "unset", zone, "www", "user.a")
    alike("network", "zone", "record", "set", zone, "www", "foo", "1")
    stdin = "description: e\nentries:\n- type: MX\n  value: 10 mail\n  ttl: 120\nconfig:\n  user.b: '2'\n"
    alike("network", "zone", "record", "edit", zone, "www", stdin=stdin)
    alike("network", "zone", "record", "edit", zone, "www", stdin="entries:\n- type: MX\n  value: mail\n")
    alike("network", "zone", "record", "show", zone, "www")
    alike("network", "zone", "record", "list", zone)
    alike("network", "zone", "record", "delete", zone, "www")
    alike("network", "zone", "record", "show", zone, "www")
    alike("network", "zone", "record", "list", "nope")
    alike("network", "zone", "record", "list", zone)


# The pieces zone-file values are made of: numbers, names, addresses, quotes, escapes, comments,
# parentheses, control and non-ASCII characters, class and TYPEnnn words.
PIECES = [
    "10", "0", "65535", "65536", "255", "256", "300", "mail", "a.b.", "@", "x..y", ".", "-", "192.0.2.1",
    "2001:db8::1", "::ffff:192.0.2.1", '"', '""', '"a b"', "\\", "\\.", "\\032", '\\"', "\\(", "\\;", ";",
    ";c", "(", ")", "\u00e9", "\U0001f600", "\x01", "\r", "issue", "a" * 70, "1.2.3", "", "IN", "TYPE650", "01",
    "+1", "0x10", "ABCDEF12", "1h", "https://x", "1", "2", "\\#", "\\#", "4", "c0000201", "zz",
]  # fmt: skip
TYPES = ["A", "AAAA", "CNAME", "DNAME", "NS", "PTR", "MX", "SRV", "TXT", "SPF", "CAA", "a", "Mx", "FOO", ""]
TYPES += ["SSHFP", "TLSA", "HINFO", "URI", "MD", "NULL", "OPT", "ATMA", "ANY", "NSAPPTR"]
TYPES += ["TYPE1", "TYPE15", "TYPE256", "TYPE650", "TYPE99999", "TYPEx", "IN", "CH"]


def _random_entries(count, seed):
    """Entries put together from PIECES and TYPES, reproducibly."""
    chooser = random.Random(seed)
    entries = []
    for _ in range(count):
        parts = [chooser.choice(PIECES) for _ in range(chooser.randint(0, 6))]
        value = "".join(part + chooser.choice([" ", "", "\t", "  "]) for part in parts)
        entry = {"type": chooser.choice(TYPES), "value": value}
        if chooser.random() < 0.3:
            entry["ttl"] = chooser.choice([1, 60, 4294967295, 4294967296, 12345678901])
        entries.append(entry)
    return entries


def test_random_entries_are_judged_as_the_daemon_judges_them(both):
    # These 400 run each time. Of 6,000 from seeds 1 to 4, two were judged otherwise: generic bytes
    # an HINFO cannot hold, and a CAA tag that is an escaped quote alone (docs/compatibility.md).
    for index, entry in enumerate(_random_entries(400, seed=16)):
        answers = both("POST", RECORDS, {"name": f"f{index}", "entries": [entry]})
        assert (answers[0][0], answers[1][0]) in ((201, 201), (500, 400)), (entry, answers[0][2], answers[1][2])
        if answers[0][0] == 500:
            assert answers[1][2]["error"] == answers[0][2]["error"], entry


def test_record_writes_send_the_daemons_lifecycle_events(both, real_lxd, lxdsite_server):
    listeners = [
        EventsClient(socket, "/1.0/events?type=lifecycle") for socket in (real_lxd, lxdsite_server.socket_path)
    ]
    try:
        same(*both("POST", RECORDS, {"name": "a b"}), 201)
        same(*both("PUT", f"{RECORDS}/a%20b", {"description": "x"}), 200)
        same(*both("DELETE", f"{RECORDS}/a%20b"), 200)
        heard = [listener.receive_all(timeout=1) for listener in listeners]
    finally:
        for listener in listeners:
            listener.close()

    lxd, ours = ([(event["metadata"]["action"], event["metadata"]["source"]) for event in events] for events in heard)
    assert ours == lxd
    assert [action for action, _ in ours] == [
        f"network-zone-record-{verb}" for verb in ("created", "updated", "deleted")
    ]
