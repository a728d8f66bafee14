"""``/1.0/certificates`` and remote access beside the real LXD 5.0.2 daemon: the same requests give
the same answers, texts and ETags; `lxc remote add` and `lxc list REMOTE:` print the same.

The daemon's HTTPS listener is in its own network namespace (only ``lo``): its lxc runs there
(``nsenter -t PID -n``), on 127.0.0.1 as lxdsite's does.
"""

import base64
import json
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from resources.server_identity import fingerprint_of_der, generate_certificate
from tests.support.live_server import free_port, running_server, unix_request
from tests.support.lxc import ROOT_DISK, storage_pool
from tests.test_remote_access import PASSWORD, lxc

pytestmark = [pytest.mark.live, pytest.mark.lxd]


def _der():
    pem, _ = generate_certificate(client=True)
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


@pytest.fixture
def both(real_lxd, lxdsite_server):
    """Send one request to each server: (LXD's answer, lxdsite's); the daemon's trust store is emptied afterwards."""
    yield lambda *args: (unix_request(real_lxd, *args), lxdsite_server.request(*args))
    for url in unix_request(real_lxd, "GET", "/1.0/certificates")[2]["metadata"]:
        unix_request(real_lxd, "DELETE", url)


def _same(answers):
    """Assert both servers answered alike (status, error text, metadata, an object's ETag); LXD's
    answer. (lxdsite also tags lists and writes' answers: LXD tags only object GETs.)"""
    (lxd_status, lxd_headers, lxd_body), (site_status, site_headers, site_body) = answers
    assert (site_status, site_body.get("error"), site_body.get("metadata")) == (
        lxd_status,
        lxd_body.get("error"),
        lxd_body.get("metadata"),
    )
    if lxd_headers.get("ETag"):
        assert site_headers.get("ETag") == lxd_headers.get("ETag")
    assert site_headers.get("Location") == lxd_headers.get("Location")
    return lxd_body


def test_the_trust_store_answers_as_lxds_does(both):
    der, other = _der(), _der()
    fingerprint = fingerprint_of_der(der)
    url = f"/1.0/certificates/{fingerprint}"
    encoded = base64.b64encode(der).decode()
    steps = [
        ("POST", "/1.0/certificates", {"type": "client", "name": "diff", "certificate": encoded}),
        ("POST", "/1.0/certificates", {"type": "client", "certificate": encoded}),
        (
            "POST",
            "/1.0/certificates",
            {
                "type": "metrics",
                "restricted": True,
                "projects": ["default"],
                "certificate": base64.b64encode(other).decode(),
            },
        ),
        ("POST", "/1.0/certificates", {"type": "bogus", "certificate": encoded}),
        ("POST", "/1.0/certificates", {"type": "client", "certificate": "!!!"}),
        ("POST", "/1.0/certificates", {"type": "client", "certificate": "anVuaw=="}),
        ("POST", "/1.0/certificates", {"type": "client"}),
        ("POST", "/1.0/certificates", {"type": "metrics", "token": True}),
        ("GET", "/1.0/certificates?recursion=1", None),
        ("GET", url, None),
        ("GET", url[:30], None),
        ("GET", "/1.0/certificates/deadbeef", None),
        ("PUT", url, {"name": "put", "type": "client", "restricted": True, "projects": ["default"]}),
        ("GET", url, None),
        ("PATCH", url, {"restricted": True, "projects": ["nope"]}),
        ("PATCH", url, {"type": "metrics"}),
        ("PATCH", url, {"name": ""}),
        ("GET", url, None),
        ("PUT", url, {"type": "client"}),
        ("GET", url, None),
        ("DELETE", url, None),
        ("DELETE", url, None),
        ("GET", "/1.0/certificates", None),
    ]
    for method, path, body in steps:
        answers = both(method, path, body)
        if method == "GET" and path.endswith("recursion=1"):
            # LXD lists in no fixed order.
            for answer in answers:
                answer[2]["metadata"].sort(key=lambda certificate: certificate["fingerprint"])
        _same(answers)


def _daemon_listening(real_lxd):
    """Give the session's daemon an HTTPS listener on 127.0.0.1 (in its namespace) and the trust
    password: (its pid, its URL); undone by ``_daemon_closed``."""
    port = free_port()
    pid = unix_request(real_lxd, "GET", "/1.0")[2]["metadata"]["environment"]["server_pid"]
    config = {"core.https_address": f"127.0.0.1:{port}", "core.trust_password": PASSWORD}
    assert unix_request(real_lxd, "PATCH", "/1.0", {"config": config})[0] == 200
    return pid, f"https://127.0.0.1:{port}"


def _daemon_closed(real_lxd):
    unix_request(real_lxd, "PATCH", "/1.0", {"config": {"core.https_address": "", "core.trust_password": ""}})
    for url in unix_request(real_lxd, "GET", "/1.0/certificates")[2]["metadata"]:
        unix_request(real_lxd, "DELETE", url)


def _remote_steps(conf, url, pid=None):
    """What lxc prints for the steps a user takes to use a remote server (times and names masked)."""
    run = lambda *args: lxc(conf, *args, nsenter_pid=pid)  # noqa: E731
    results = [
        run("remote", "add", "r", url, "--accept-certificate", "--password", "wrong"),
        run("remote", "add", "r", url, "--accept-certificate", "--password", PASSWORD),
        run("list", "r:"),
        run("profile", "show", "r:default"),
        run("remote", "add", "r2", url, "--accept-certificate", "--password", PASSWORD),
        run("config", "trust", "list", "r:", "--format", "csv"),
    ]
    # The last lines only: lxc's first-run hints go to stderr once per configuration.
    outputs = [(status, out, err.strip().splitlines()[-1:]) for status, out, err in results]
    # One certificate (lxc's own), named after its common name; its fingerprint and dates differ.
    status, out, err = outputs[-1]
    outputs[-1] = (status, [line.split(",")[0] for line in out.splitlines()], err)
    return outputs


def test_lxc_uses_lxdsite_over_https_as_it_uses_lxd(real_lxd, tmp_path):
    pid, lxd_url = _daemon_listening(real_lxd)
    try:
        from_lxd = _remote_steps(tmp_path / "lxd-client", lxd_url, pid)
    finally:
        _daemon_closed(real_lxd)
    port = free_port()
    with running_server(tmp_path / "site", args=["--https", f"127.0.0.1:{port}"]) as server:
        server.request("PATCH", "/1.0", {"config": {"core.trust_password": PASSWORD}})
        server.request("PUT", "/1.0/profiles/default", {"description": "Default LXD profile", "config": {}})
        from_site = _remote_steps(tmp_path / "site-client", f"https://127.0.0.1:{port}")

    assert from_lxd[1][0] == 0, from_lxd
    assert from_site == from_lxd


def _curl(url, pid=None):
    """GET ``url`` without a client certificate, trusting any server certificate: (status, JSON)."""
    command = ["curl", "-sk", "-w", "\n%{http_code}", url]
    if pid is not None:
        command = ["nsenter", "-t", str(pid), "-n", *command]
    body, _, status = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout.rpartition(
        "\n"
    )
    return int(status), json.loads(body)


def test_an_untrusted_client_sees_what_lxd_shows_it(real_lxd, tmp_path):
    pid, lxd_url = _daemon_listening(real_lxd)
    try:
        from_lxd = [_curl(f"{lxd_url}{path}", pid) for path in ("/1.0", "/1.0/profiles", "/1.0/certificates")]
    finally:
        _daemon_closed(real_lxd)
    port = free_port()
    with running_server(tmp_path / "site", args=["--https", f"127.0.0.1:{port}"]):
        url = f"https://127.0.0.1:{port}"
        from_site = [_curl(f"{url}{path}") for path in ("/1.0", "/1.0/profiles", "/1.0/certificates")]

    for answer in (from_lxd[0][1], from_site[0][1]):
        # lxdsite advertises only the extensions it implements.
        answer["metadata"].pop("api_extensions")
    assert from_site == from_lxd


def _token_steps(conf, lxd_dir, pid=None):
    """What lxc prints for issuing, listing, revoking and redeeming certificate add tokens (tokens masked)."""
    local = {"HOME": str(conf / "home"), "LXD_CONF": str(conf / "local"), "LXD_DIR": str(lxd_dir)}

    def run_local(*args):
        done = subprocess.run(
            ["lxc", *args], env={**os.environ, **local}, capture_output=True, text=True, timeout=60, check=False
        )
        return done.returncode, done.stdout, done.stderr.strip().splitlines()[-1:]

    issued = run_local("config", "trust", "add", "--name", "first")
    token = issued[1].strip().splitlines()[-1]
    run_local("config", "trust", "add", "--name", "second")
    outputs = [
        (issued[0], issued[1].replace(token, "<token>"), issued[2]),
        run_local("config", "trust", "list-tokens", "--format", "csv"),
        run_local("config", "trust", "revoke-token", "second"),
        run_local("config", "trust", "revoke-token", "nosuch"),
        run_local("config", "trust", "list-tokens", "--format", "csv"),
    ]
    # Token lists: the names only (each token holds its own secret).
    for index in (1, 4):
        status, out, err = outputs[index]
        outputs[index] = (status, [line.split(",")[0] for line in out.splitlines()], err)
    for client in ("redeemer", "latecomer"):
        status, out, err = lxc(conf / client, "remote", "add", "r", token, nsenter_pid=pid)
        outputs.append((status, out, err.strip().splitlines()[-1:]))
    outputs.append(lxc(conf / "redeemer", "list", "r:", "--format", "csv", nsenter_pid=pid))
    status, out, err = run_local("config", "trust", "list", "--format", "csv")
    outputs.append((status, sorted(line.split(",")[1] for line in out.splitlines()), err))
    return outputs


def test_certificate_add_tokens_work_as_lxds(real_lxd, tmp_path):
    pid, _ = _daemon_listening(real_lxd)
    try:
        from_lxd = _token_steps(tmp_path / "lxd-client", real_lxd.parent, pid)
    finally:
        _daemon_closed(real_lxd)
        running = unix_request(real_lxd, "GET", "/1.0/operations")[2]["metadata"].get("running", [])
        for url in running:
            unix_request(real_lxd, "DELETE", url)
    port = free_port()
    with running_server(tmp_path / "site", args=["--https", f"127.0.0.1:{port}"]) as server:
        from_site = _token_steps(tmp_path / "site-client", server.lxd_dir)

    assert from_lxd[5][0] == 0, from_lxd
    assert from_site == from_lxd


def _restricted_steps(conf, socket_path, lxd_dir, pid=None):
    """What lxc prints for a client whose token restricts it to the project ``mine``."""
    assert unix_request(socket_path, "POST", "/1.0/projects", {"name": "mine"})[0] == 201
    # Its own default profile, with the root disk an instance needs.
    root = {"devices": ROOT_DISK}
    assert unix_request(socket_path, "PATCH", "/1.0/profiles/default?project=mine", root)[0] == 200
    issued = unix_request(
        socket_path,
        "POST",
        "/1.0/certificates",
        {"name": "confined", "type": "client", "token": True, "restricted": True, "projects": ["mine"]},
    )
    metadata = issued[2]["metadata"]["metadata"]
    token = base64.b64encode(
        json.dumps(
            {
                "client_name": "confined",
                "fingerprint": metadata["fingerprint"],
                "addresses": metadata["addresses"],
                "secret": metadata["secret"],
                "expires_at": "0001-01-01T00:00:00Z",
            }
        ).encode()
    ).decode()
    run = lambda *args: lxc(conf, *args, nsenter_pid=pid)  # noqa: E731
    results = [
        run("remote", "add", "r", token),
        run("list", "r:", "--format", "csv"),
        run("list", "r:", "--project", "mine", "--format", "csv"),
        run("profile", "list", "r:", "--project", "mine", "--format", "csv"),
        run("profile", "create", "r:made", "--project", "mine"),
        run("profile", "create", "r:refused"),
        run("project", "list", "r:", "--format", "csv"),
        run("config", "trust", "list", "r:", "--format", "csv"),
        run("config", "set", "r:", "user.x", "1"),
        run("init", "r:c1", "--empty", "--project", "mine"),
        run("list", "r:", "--project", "mine", "--format", "csv", "-c", "ns"),
        run("delete", "r:c1", "--project", "mine"),
    ]
    outputs = [(status, out, err.strip().splitlines()[-1:]) for status, out, err in results]
    # The trust list: type and name (fingerprints and dates differ).
    status, out, err = outputs[7]
    outputs[7] = (status, [line.split(",")[:2] for line in out.splitlines()], err)
    return outputs


def _cleanup_project(socket_path, name):
    """Delete the project and what it holds (its instances' deletion awaited)."""
    for url in unix_request(socket_path, "GET", f"/1.0/instances?project={name}")[2].get("metadata") or []:
        status, headers, _ = unix_request(socket_path, "DELETE", url)
        if status == 202:
            unix_request(socket_path, "GET", headers["Location"] + "/wait?timeout=30")
    for url in unix_request(socket_path, "GET", f"/1.0/profiles?project={name}")[2].get("metadata") or []:
        if not url.startswith("/1.0/profiles/default?"):
            unix_request(socket_path, "DELETE", url)
    # The certificates restricted to it, which would keep it (and its root disk's pool) in use.
    for certificate in unix_request(socket_path, "GET", "/1.0/certificates?recursion=1")[2].get("metadata") or []:
        if name in (certificate.get("projects") or []):
            unix_request(socket_path, "DELETE", f"/1.0/certificates/{certificate['fingerprint']}")
    deleted = unix_request(socket_path, "DELETE", f"/1.0/projects/{name}")
    assert deleted[0] == 200, deleted[2].get("error")


def test_a_restricted_client_is_confined_as_lxd_confines_it(real_lxd, tmp_path):
    pid, _ = _daemon_listening(real_lxd)
    try:
        with storage_pool(real_lxd):
            try:
                from_lxd = _restricted_steps(tmp_path / "lxd-client", real_lxd, real_lxd.parent, pid)
            finally:
                # Before the pool goes: what the project holds uses it.
                _cleanup_project(real_lxd, "mine")
    finally:
        _daemon_closed(real_lxd)
    port = free_port()
    site = running_server(tmp_path / "site", args=["--https", f"127.0.0.1:{port}"])
    with site as server, storage_pool(server.socket_path):
        from_site = _restricted_steps(tmp_path / "site-client", server.socket_path, server.lxd_dir)
        _cleanup_project(server.socket_path, "mine")

    for step, (lxd_result, site_result) in enumerate(zip(from_lxd, from_site, strict=True)):
        assert (step, site_result) == (step, lxd_result)


def _trust_file_steps(conf, lxd_dir, certificate):
    """What lxc prints managing the trust store with a certificate file, on the local server."""
    local = {"HOME": str(conf / "home"), "LXD_CONF": str(conf / "local"), "LXD_DIR": str(lxd_dir)}
    fingerprint = fingerprint_of_der(
        x509.load_pem_x509_certificate(certificate.read_bytes()).public_bytes(Encoding.DER)
    )

    def run(*args, stdin=None):
        done = subprocess.run(
            ["lxc", *args], env={**os.environ, **local}, input=stdin, capture_output=True, text=True, timeout=60
        )
        return done.returncode, done.stdout, done.stderr.strip().splitlines()[-1:]

    edited = "name: edited\ntype: client\nrestricted: true\nprojects:\n- default\n"
    results = [
        run("config", "trust", "add", str(certificate)),
        run("config", "trust", "add", str(certificate)),
        run("config", "trust", "show", fingerprint[:12]),
        run("config", "trust", "edit", fingerprint[:12], stdin=edited),
        run("config", "trust", "show", fingerprint),
        run("config", "trust", "list", "--format", "csv"),
        run("config", "trust", "remove", fingerprint[:12]),
        run("config", "trust", "remove", fingerprint[:12]),
        run("config", "trust", "list", "--format", "csv"),
    ]
    return results


def test_lxc_config_trust_with_a_certificate_file_prints_what_it_prints_against_lxd(real_lxd, tmp_path):
    pem, _ = generate_certificate(client=True)
    certificate = tmp_path / "laptop.crt"
    certificate.write_bytes(pem)
    try:
        from_lxd = _trust_file_steps(tmp_path / "lxd-client", real_lxd.parent, certificate)
    finally:
        _daemon_closed(real_lxd)
    with running_server(tmp_path / "site") as server:
        from_site = _trust_file_steps(tmp_path / "site-client", server.lxd_dir, certificate)

    for step, (lxd_result, site_result) in enumerate(zip(from_lxd, from_site, strict=True)):
        assert (step, site_result) == (step, lxd_result)


def test_import_from_lxd_copies_the_trust_store(real_lxd, lxdsite_server):
    from tests.test_import_from_lxd import _import

    der = _der()
    url = f"/1.0/certificates/{fingerprint_of_der(der)}"
    body = {"type": "client", "name": "copied", "restricted": True, "projects": ["default"]}
    assert unix_request(real_lxd, "POST", "/1.0/certificates", {**body, "certificate": _b64(der)})[0] == 201
    try:
        first = _import(lxdsite_server, real_lxd)
        again = _import(lxdsite_server, real_lxd)
        answers = (unix_request(real_lxd, "GET", url), lxdsite_server.request("GET", url))
    finally:
        unix_request(real_lxd, "DELETE", url)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert "1 certificates" in first.stdout
    _same(answers)


def _b64(der):
    return base64.b64encode(der).decode()
