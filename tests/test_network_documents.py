"""``manage.py export`` and ``import`` carry zone records and OVN peers (a linked peering links
again once both sides are imported)."""

import pytest
import yaml

from resources.documents import DocumentError, import_document
from resources.models import NetworkPeer
from tests.test_commands import manage, run

NONE = {"ipv4.address": "none", "ipv6.address": "none"}


@pytest.mark.django_db
def test_export_and_import_carry_zone_records_and_peers(api, tmp_path):
    assert api.post("/1.0/network-zones", {"name": "z.example.com"}).status_code == 201
    entries = [{"type": "A", "value": "192.0.2.1", "ttl": 60}, {"type": "TXT", "value": "x"}]
    body = {"name": "www", "description": "d", "entries": entries, "config": {"user.a": "1"}}
    assert api.post("/1.0/network-zones/z.example.com/records", body).status_code == 201
    assert api.post("/1.0/network-zones/z.example.com/records", {"name": "empty"}).status_code == 201
    assert api.post("/1.0/networks", {"name": "br0", "config": NONE}).status_code == 201
    for name in ("ovn1", "ovn2", "ovn3"):
        network = {"name": name, "type": "ovn", "config": {"network": "br0", **NONE}}
        assert api.post("/1.0/networks", network).status_code == 201
    for network, peer, target in (("ovn1", "to2", "ovn2"), ("ovn2", "to1", "ovn1"), ("ovn1", "to3", "ovn3")):
        assert api.post(f"/1.0/networks/{network}/peers", {"name": peer, "target_network": target}).status_code == 201
    exported = tmp_path / "export.yaml"
    run("export", "--output", str(exported))
    fresh = tmp_path / "fresh"
    fresh.mkdir()

    assert manage(fresh, "migrate", "--verbosity", "0").returncode == 0
    imported = manage(fresh, "import", str(exported))
    again = manage(fresh, "export")

    assert imported.returncode == 0, imported.stderr
    assert again.stdout == exported.read_text()
    document = yaml.safe_load(again.stdout)
    assert document["network_zone_records"] == [
        {"zone": "z.example.com", **body},
        {"zone": "z.example.com", "name": "empty", "description": "", "entries": None, "config": {}},
    ]
    assert [(p["network"], p["name"], p["target_network"]) for p in document["network_peers"]] == [
        ("ovn1", "to2", "ovn2"),
        ("ovn2", "to1", "ovn1"),
        ("ovn1", "to3", "ovn3"),
    ]
    shown = manage(
        fresh,
        "shell",
        "-c",
        "from resources.models import NetworkPeer as P; print(P.objects.filter(linked_network__isnull=False).count())",
    )
    # to2 and to1 link again (the shell's last line; it first counts what it imported).
    assert shown.stdout.split()[-1] == "2"


@pytest.mark.django_db
def test_a_refused_record_or_peer_names_itself_and_imports_nothing(api):
    assert api.post("/1.0/networks", {"name": "br0", "config": NONE}).status_code == 201
    record = {"zone": "nope", "name": "www"}
    with pytest.raises(DocumentError, match="Zone record 'www': zone 'nope' not found"):
        import_document({"network_zones": [{"name": "z.example.com"}], "network_zone_records": [record]})
    with pytest.raises(DocumentError, match=r"Peer 'p': network 'br0' does not peer"):
        import_document({"network_peers": [{"network": "br0", "name": "p", "target_network": "x"}]})
    bad = {"zone": "z.example.com", "name": "www", "entries": [{"type": "A", "value": "x"}]}
    with pytest.raises(DocumentError, match="Zone record 'www': Bad zone record entry: dns: bad A A"):
        import_document({"network_zones": [{"name": "z.example.com"}], "network_zone_records": [bad]})
    assert api.get("/1.0/network-zones").json()["metadata"] == []
    assert not NetworkPeer.objects.exists()
