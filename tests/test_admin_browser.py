"""The admin and the browsable API in a real browser: a save that would overwrite an API change is refused.

Headless Chromium (Debian's chromium and chromium-driver, `make deps`) drives a live
`manage.py serve` over TCP while the API changes the same profile over the unix socket.
"""

import os
import shutil
import subprocess
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.live_server import REPO_ROOT, free_port, running_server

pytestmark = [pytest.mark.live, pytest.mark.browser]

SCREENSHOT = REPO_ROOT / "docs" / "admin-conflict.png"
PASSWORD = "browser-test-password"


def create_superuser(lxd_dir):
    """`manage.py createsuperuser` in the live server's database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(LXD_DIR=str(lxd_dir), DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def chromium(tmp_path):
    """Headless Chromium with a fresh profile, talking to nothing but the test server."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.fail("chromium and chromium-driver are not installed: run `make deps`")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ]:
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def logged_in(tmp_path, chromium):
    """A live server on a unix socket and TCP, a profile `web`, and Chromium logged in as staff."""
    port = free_port()
    lxd_dir = tmp_path / "lxd"
    with running_server(lxd_dir, bind=f"127.0.0.1:{port}") as server:
        create_superuser(lxd_dir)
        created = server.request("POST", "/1.0/profiles", {"name": "web", "config": {"limits.cpu": "1"}})
        assert created[0] == 201
        base = f"http://127.0.0.1:{port}"
        chromium.get(f"{base}/admin/login/?next=/admin/resources/profile/")
        chromium.find_element(By.ID, "id_username").send_keys("admin")
        chromium.find_element(By.ID, "id_password").send_keys(PASSWORD)
        chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        # Wait for the logged-in page: navigating away earlier can abort the login POST, and
        # the test would then see the page an untrusted client gets (no PUT form).
        WebDriverWait(chromium, 20).until(expected_conditions.presence_of_element_located((By.ID, "user-tools")))
        yield server, base


def test_admin_save_after_an_api_change_shows_the_conflict(logged_in, chromium):
    server, _ = logged_in
    wait = WebDriverWait(chromium, 20)
    wait.until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, "web"))).click()
    config = wait.until(expected_conditions.presence_of_element_located((By.ID, "id_config")))
    assert config.get_attribute("value") == "limits.cpu: '1'\n"

    config.clear()
    config.send_keys("limits.cpu: '2'\n")
    # Meanwhile, a client of the API changes the same profile.
    status, _, _ = server.request("PATCH", "/1.0/profiles/web", {"config": {"limits.cpu": "4"}})
    assert status == 200
    chromium.find_element(By.NAME, "_save").click()

    error = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".errorlist.nonfield")))
    assert "was changed by someone else since you opened it" in error.text
    assert chromium.find_element(By.ID, "id_config").get_attribute("value") == "limits.cpu: '2'\n"
    chromium.save_screenshot(str(SCREENSHOT))
    status, _, body = server.request("GET", "/1.0/profiles/web")
    assert status == 200
    assert body["metadata"]["config"] == {"limits.cpu": "4"}


def test_browsable_api_put_after_an_api_change_answers_412(logged_in, chromium):
    server, base = logged_in
    wait = WebDriverWait(chromium, 20)

    def put_from_the_page(body):
        form = wait.until(expected_conditions.presence_of_element_located((By.ID, "put-generic-content-form")))
        content = form.find_element(By.CSS_SELECTOR, "textarea")
        content.clear()
        content.send_keys(body)
        form.find_element(By.XPATH, ".//button[normalize-space()='PUT']").click()

    chromium.get(f"{base}/1.0/profiles/web")
    put_from_the_page('{"config": {"limits.cpu": "2"}}')
    # The GET page already says "HTTP 200 OK": wait for the PUT's effect instead.
    wait.until(lambda _: server.request("GET", "/1.0/profiles/web")[2]["metadata"]["config"] == {"limits.cpu": "2"})
    wait.until(lambda browser: "HTTP 200 OK" in browser.page_source)

    chromium.get(f"{base}/1.0/profiles/web")
    status, _, _ = server.request("PATCH", "/1.0/profiles/web", {"config": {"limits.cpu": "4"}})
    assert status == 200
    put_from_the_page('{"config": {"limits.cpu": "8"}}')

    wait.until(lambda browser: "HTTP 412 Precondition Failed" in browser.page_source)
    assert "ETag doesn&#x27;t match" in chromium.page_source or "ETag doesn't match" in chromium.page_source
    assert server.request("GET", "/1.0/profiles/web")[2]["metadata"]["config"] == {"limits.cpu": "4"}
