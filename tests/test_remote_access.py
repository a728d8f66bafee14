"""The real clients over HTTPS, as they use a remote LXD: `lxc remote add` with the trust password,
`lxc list REMOTE:`, `lxc config trust`; pylxd with `cert=` and `authenticate()`. Every listener is
on 127.0.0.1, and each client keeps its configuration in the test's own directory."""

import itertools
import json
import os
import select
import ssl
import subprocess
import time

import pylxd
import pytest

from resources.server_identity import generate_certificate
from tests.support.image_files import unified_image
from tests.support.live_server import free_port, running_server
from tests.support.storage import serve_default_pool

pytestmark = pytest.mark.live

PASSWORD = "sekret"


def lxc(conf, *args, nsenter_pid=None, env=None):
    """Run lxc with its configuration (client certificate, remotes) under ``conf``; (status, stdout, stderr).
    ``env`` adds to its environment (``LXD_DIR`` for the local server)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(conf / "home"),
        "LXD_CONF": str(conf / "lxc"),
        **(env or {}),
    }
    command = ["lxc", *args]
    if nsenter_pid is not None:
        command = ["nsenter", "-t", str(nsenter_pid), "-n", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def https_server(tmp_path):
    """lxdsite serving HTTPS on 127.0.0.1 with its generated identity and a trust password: (server, URL)."""
    port = free_port()
    with running_server(tmp_path / "lxd", args=["--https", f"127.0.0.1:{port}"]) as server:
        assert server.request("PATCH", "/1.0", {"config": {"core.trust_password": PASSWORD}})[0] == 200
        yield server, f"https://127.0.0.1:{port}"


def test_lxc_remote_add_with_the_password_then_lxc_works_over_https(https_server, tmp_path):
    server, url = https_server
    conf = tmp_path / "client"

    refused = lxc(conf, "remote", "add", "site", url, "--accept-certificate", "--password", "wrong")
    added = lxc(conf, "remote", "add", "site", url, "--accept-certificate", "--password", PASSWORD)
    server.request("POST", "/1.0/profiles", {"name": "remote-made", "description": "seen"})
    listed = lxc(conf, "list", "site:", "--format", "csv")
    profiles = lxc(conf, "profile", "list", "site:", "--format", "csv")
    created = lxc(conf, "profile", "create", "site:over-https")
    trust = lxc(conf, "config", "trust", "list", "site:", "--format", "csv")

    assert refused[0] == 1
    assert refused[2].splitlines()[-1] == "Error: not authorized"
    assert added[0] == 0, added
    assert added[1].strip() == "Client certificate now trusted by server: site"
    assert listed == (0, "", "")
    assert profiles[0] == 0
    assert "remote-made,seen,0" in profiles[1].splitlines()
    assert created[0] == 0, created
    assert server.request("GET", "/1.0/profiles/over-https")[0] == 200
    # The client's own certificate, named by its common name.
    (row,) = trust[1].splitlines()
    kind, name, _common_name, fingerprint = row.split(",")[:4]
    assert kind == "client"
    assert "@" in name

    # Removed from the trust store: refused at once.
    _, _, certificates = server.request("GET", "/1.0/certificates")
    assert len(certificates["metadata"]) == 1
    assert server.request("DELETE", certificates["metadata"][0])[0] == 200
    after = lxc(conf, "list", "site:")
    assert after[0] == 1
    assert after[2].strip() == "Error: not authorized"
    # lxc shows the fingerprint's first 12 digits.
    assert certificates["metadata"][0].removeprefix("/1.0/certificates/")[:12] == fingerprint


def test_pylxd_authenticates_with_the_password_and_then_is_trusted(https_server, tmp_path, monkeypatch):
    server, url = https_server
    # requests would verify with the system's CA bundle instead of the server's own certificate.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    pem, key = generate_certificate(client=True)
    cert, key_path = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_bytes(pem)
    key_path.write_bytes(key)
    server_cert = str(server.lxd_dir / "server.crt")

    client = pylxd.Client(endpoint=url, cert=(str(cert), str(key_path)), verify=server_cert)
    assert not client.trusted
    with pytest.raises(pylxd.exceptions.LXDAPIException, match="not authorized"):
        client.authenticate("wrong")
    client.authenticate(PASSWORD)

    assert client.trusted
    client.profiles.create("from-pylxd", config={"limits.cpu": "1"})
    assert server.request("GET", "/1.0/profiles/from-pylxd")[0] == 200
    # A second client with the same certificate is trusted from its first request.
    again = pylxd.Client(endpoint=url, cert=(str(cert), str(key_path)), verify=server_cert)
    assert again.trusted
    assert [certificate.type for certificate in again.certificates.all()] == ["client"]


def test_lxc_monitor_over_https_until_the_certificate_is_removed(https_server, tmp_path):
    server, url = https_server
    conf = tmp_path / "client"
    assert lxc(conf, "remote", "add", "site", url, "--accept-certificate", "--password", PASSWORD)[0] == 0
    env = {"PATH": os.environ["PATH"], "HOME": str(conf / "home"), "LXD_CONF": str(conf / "lxc")}
    monitor = subprocess.Popen(
        ["lxc", "monitor", "site:", "--type", "lifecycle", "--format", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Until the stream is open, a change is not seen: make changes until one is.
        deadline = time.monotonic() + 20
        for attempt in itertools.count():
            assert lxc(conf, "profile", "create", f"site:seen{attempt}")[0] == 0
            line = _read_line(monitor, 1)
            if line or time.monotonic() > deadline:
                break
        event = json.loads(line)
        _, _, certificates = server.request("GET", "/1.0/certificates")
        (certificate_url,) = certificates["metadata"]
        assert server.request("DELETE", certificate_url)[0] == 200
        status = monitor.wait(timeout=10)
    finally:
        monitor.kill()
        monitor.wait()

    assert event["metadata"]["action"] == "profile-created"
    requestor = event["metadata"]["requestor"]
    assert (requestor["protocol"], requestor["username"]) == ("tls", certificate_url.rsplit("/", 1)[1])
    assert status == 1
    assert monitor.stderr.read().strip().splitlines()[-1] == (
        "Error: websocket: close 1008 (policy violation): not authorized"
    )


def _read_line(process, timeout):
    """The next line ``process`` writes within ``timeout`` seconds, or ""."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


def _answers_https(port):
    """Whether something answers TLS on 127.0.0.1:``port``."""
    try:
        ssl.get_server_certificate(("127.0.0.1", port), timeout=2)
    except OSError:
        return False
    return True


def _eventually(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_core_https_address_opens_and_closes_the_listener_without_a_restart(tmp_path):
    port = free_port()
    conf = tmp_path / "client"
    with running_server(tmp_path / "lxd") as server:
        local = {"LXD_DIR": str(server.lxd_dir)}
        assert not _answers_https(port)

        set_key = lxc(conf, "config", "set", "core.https_address", f"127.0.0.1:{port}", env=local)
        lxc(conf, "config", "set", "core.trust_password", PASSWORD, env=local)
        opened = _eventually(lambda: _answers_https(port))
        added = lxc(
            conf, "remote", "add", "site", f"https://127.0.0.1:{port}", "--accept-certificate", "--password", PASSWORD
        )
        listed = lxc(conf, "list", "site:", "--format", "csv")
        _, _, server_info = server.request("GET", "/1.0")
        unset = lxc(conf, "config", "unset", "core.https_address", env=local)
        closed = _eventually(lambda: not _answers_https(port))

    assert set_key[0] == 0, set_key
    assert opened
    assert added[0] == 0, added
    assert listed == (0, "", "")
    assert server_info["metadata"]["environment"]["addresses"] == [f"127.0.0.1:{port}"]
    assert unset[0] == 0
    assert closed


def test_lxc_imports_launches_and_edits_over_https(https_server, tmp_path):
    server, url = https_server
    serve_default_pool(server.socket_path)
    conf = tmp_path / "client"
    image = tmp_path / "image.tar.gz"
    image.write_bytes(unified_image())
    assert lxc(conf, "remote", "add", "site", url, "--accept-certificate", "--password", PASSWORD)[0] == 0

    imported = lxc(conf, "image", "import", str(image), "site:", "--alias", "tiny")
    launched = lxc(conf, "launch", "site:tiny", "site:c1")
    listed = lxc(conf, "list", "site:", "--format", "csv", "-c", "ns")
    edited = subprocess.run(
        ["lxc", "profile", "edit", "site:default"],
        # The instance's root disk stays (the storage rules refuse a change that drops it).
        input='config:\n  limits.cpu: "3"\ndescription: edited over https\ndevices:\n'
        "  root:\n    path: /\n    pool: default\n    type: disk\n",
        env={"PATH": os.environ["PATH"], "HOME": str(conf / "home"), "LXD_CONF": str(conf / "lxc")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    shown = lxc(conf, "profile", "show", "site:default")

    assert imported[0] == 0, imported
    assert imported[1].strip().startswith("Image imported with fingerprint: ")
    assert launched[0] == 0, launched
    assert listed == (0, "c1,RUNNING\n", "")
    assert edited.returncode == 0, edited.stderr
    assert "description: edited over https" in shown[1]
    assert "- /1.0/instances/c1" in shown[1]


def test_pylxd_authenticates_with_a_token(https_server, tmp_path, monkeypatch):
    server, url = https_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    status, _, issued = server.request("POST", "/1.0/certificates", {"type": "client", "token": True, "name": "py"})
    assert status == 202
    conf = tmp_path / "lxc-local"
    listed = lxc(conf, "config", "trust", "list-tokens", "--format", "csv", env={"LXD_DIR": str(server.lxd_dir)})
    (token,) = [line.split(",")[1] for line in listed[1].splitlines() if line.startswith("py,")]
    pem, key = generate_certificate(client=True)
    cert, key_path = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_bytes(pem)
    key_path.write_bytes(key)

    client = pylxd.Client(endpoint=url, cert=(str(cert), str(key_path)), verify=str(server.lxd_dir / "server.crt"))
    client.authenticate(token)

    assert client.trusted
    assert [(c.name, c.type) for c in client.certificates.all()] == [("py", "client")]
    assert issued["metadata"]["class"] == "token"
