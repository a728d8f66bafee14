"""The admin, the browsable API and Swagger UI in a real browser: a save that would overwrite
an API change is refused, and a staff session can use the API from the docs.

Headless Chromium (Debian's chromium and chromium-driver, `make deps`) drives a live
`manage.py serve` over TCP while the API changes the same profile over the unix socket.
With LXDSITE_SCREENSHOTS=1 the tests also write the screenshots the README shows (docs/*.png);
otherwise they leave the tracked files alone.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.live_server import REPO_ROOT, free_port, running_server

pytestmark = [pytest.mark.live, pytest.mark.browser]

DOCS = REPO_ROOT / "docs"
PASSWORD = "browser-test-password"


def screenshot(browser, name):
    """Write docs/<name> when LXDSITE_SCREENSHOTS=1 asks for the README's screenshots."""
    if os.environ.get("LXDSITE_SCREENSHOTS") == "1":
        browser.save_screenshot(str(DOCS / name))


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
    screenshot(chromium, "admin-conflict.png")
    status, _, body = server.request("GET", "/1.0/profiles/web")
    assert status == 200
    assert body["metadata"]["config"] == {"limits.cpu": "4"}


def test_browsable_api_form_edits_and_a_stale_form_gets_the_412_message(logged_in, chromium):
    server, base = logged_in
    wait = WebDriverWait(chromium, 20)

    def put_form():
        return wait.until(expected_conditions.presence_of_element_located((By.ID, "put-generic-content-form")))

    def form_content():
        return json.loads(put_form().find_element(By.CSS_SELECTOR, "textarea").get_attribute("value"))

    def put_from_the_page(content):
        form = put_form()
        textarea = form.find_element(By.CSS_SELECTOR, "textarea")
        textarea.clear()
        textarea.send_keys(json.dumps(content, indent=4))
        form.find_element(By.XPATH, ".//button[normalize-space()='PUT']").click()

    # The list links to its objects; the page is lxdsite's, with the staff user and a way out.
    chromium.get(f"{base}/1.0/profiles")
    wait.until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, "/1.0/profiles/web"))).click()
    wait.until(expected_conditions.title_is("Profile web | lxdsite"))
    assert chromium.find_element(By.CLASS_NAME, "navbar-brand").text.startswith("lxdsite ")
    assert chromium.find_element(By.ID, "lxdsite-user").text == "admin"
    # The form holds what a PUT writes, as the page shows it, and says which version it overwrites.
    assert form_content() == {"config": {"limits.cpu": "1"}, "description": "", "devices": {}}
    etag = server.request("GET", "/1.0/profiles/web")[1]["ETag"]
    assert etag in chromium.find_element(By.ID, "lxdsite-if-match").text

    # An edit through the form.
    put_from_the_page({"config": {"limits.cpu": "2"}, "description": "edited in a browser", "devices": {}})
    # The GET page already says "HTTP 200 OK": wait for the page answering the PUT.
    reload = wait.until(expected_conditions.element_to_be_clickable((By.ID, "lxdsite-reload")))
    assert "PUT /1.0/profiles/web" in chromium.find_element(By.CLASS_NAME, "request-info").text
    assert "HTTP 200 OK" in chromium.find_element(By.CLASS_NAME, "response-info").text
    status, _, body = server.request("GET", "/1.0/profiles/web")
    assert body["metadata"]["config"] == {"limits.cpu": "2"}
    assert body["metadata"]["description"] == "edited in a browser"
    reload.click()
    wait.until(lambda _: form_content()["config"] == {"limits.cpu": "2"})
    screenshot(chromium, "browsable-api.png")

    # Meanwhile, a client of the API changes the same profile: the open form is stale.
    status, _, _ = server.request("PATCH", "/1.0/profiles/web", {"config": {"limits.cpu": "4"}})
    assert status == 200
    put_from_the_page({"config": {"limits.cpu": "8"}, "description": "edited in a browser", "devices": {}})

    conflict = wait.until(expected_conditions.visibility_of_element_located((By.ID, "lxdsite-conflict")))
    assert "Not saved: this object was changed by someone else since this page was loaded." in conflict.text
    assert "HTTP 412 Precondition Failed" in chromium.find_element(By.CLASS_NAME, "response-info").text
    assert not chromium.find_elements(By.ID, "put-generic-content-form")
    screenshot(chromium, "browsable-api-conflict.png")
    assert server.request("GET", "/1.0/profiles/web")[2]["metadata"]["config"] == {"limits.cpu": "4"}

    # Its button brings the current version back into the form.
    chromium.find_element(By.ID, "lxdsite-reload").click()
    wait.until(lambda _: form_content()["config"] == {"limits.cpu": "4"})

    # Logging out returns to the same page, now without the staff session's forms.
    chromium.find_element(By.CSS_SELECTOR, "#lxdsite-logout button").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "lxdsite-login")))
    assert chromium.current_url == f"{base}/1.0/profiles/web"
    assert not chromium.find_elements(By.ID, "put-generic-content-form")


def try_it_out(browser, tag, operation_id, fields, body=None):
    """In Swagger UI: open an operation, fill its parameters (and body), execute it; the answer's status and text."""
    wait = WebDriverWait(browser, 30)
    # Swagger UI's element ids escape the dots of the operation id with a backslash.
    element_id = f"operations-{tag}-{operation_id}".replace(".", "\\.")
    # The sections open collapsed: open the operation's own.
    if not browser.find_elements(By.XPATH, f"//*[@id='{element_id}']"):
        section = wait.until(expected_conditions.element_to_be_clickable((By.ID, f"operations-tag-{tag}")))
        browser.execute_script("arguments[0].scrollIntoView()", section)
        section.click()
    operation = wait.until(expected_conditions.presence_of_element_located((By.XPATH, f"//*[@id='{element_id}']")))
    browser.execute_script("arguments[0].scrollIntoView()", operation)
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait.until(lambda _: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    for name, value in fields.items():
        field = operation.find_element(By.CSS_SELECTOR, f"tr[data-param-name='{name}'] input")
        field.clear()
        field.send_keys(value)
    if body is not None:
        textarea = operation.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
        # A React field: clear() leaves the example in its state; select it all and type over it.
        textarea.send_keys(Keys.CONTROL, "a")
        textarea.send_keys(Keys.DELETE)
        textarea.send_keys(body)
    operation.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait.until(
        lambda _: operation.find_elements(By.CSS_SELECTOR, ".live-responses-table .response .response-col_status")
    )[0]
    return status.text.strip(), operation.find_element(By.CSS_SELECTOR, ".live-responses-table").text


def test_swagger_ui_try_it_out_with_the_staff_session(logged_in, chromium):
    server, base = logged_in
    wait = WebDriverWait(chromium, 30)

    chromium.get(f"{base}/api/docs/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "operations-tag-profiles")))
    assert chromium.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("lxdsite")
    screenshot(chromium, "swagger-ui.png")
    status, text = try_it_out(chromium, "profiles", "1.0_profiles_retrieve", {"name": "web"})
    assert status.startswith("200"), text
    assert '"limits.cpu": "1"' in text
    assert "etag:" in text.lower()
    answer = chromium.find_element(By.CSS_SELECTOR, ".live-responses-table")
    chromium.execute_script("arguments[0].scrollIntoView({block: 'center'})", answer)
    screenshot(chromium, "swagger-ui-try-it-out.png")

    # A write with the session: Swagger UI sends Django's CSRF token.
    status, text = try_it_out(
        chromium, "profiles", "1.0_profiles_partial_update", {"name": "web"}, '{"description": "from the docs"}'
    )
    assert status.startswith("200"), text
    assert server.request("GET", "/1.0/profiles/web")[2]["metadata"]["description"] == "from the docs"


def test_swagger_ui_try_it_out_with_a_token(tmp_path, chromium):
    """Without a session: refused until a token (``createtoken``) is given to Authorize."""
    port = free_port()
    lxd_dir = tmp_path / "lxd"
    with running_server(lxd_dir, bind=f"127.0.0.1:{port}"):
        env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "LXD_DIR": str(lxd_dir)}
        token = subprocess.run(
            [sys.executable, "manage.py", "createtoken", "docs"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        chromium.get(f"http://127.0.0.1:{port}/api/docs/")
        status, text = try_it_out(chromium, "profiles", "1.0_profiles_list", {})
        assert status.startswith("403"), text

        wait = WebDriverWait(chromium, 30)
        chromium.execute_script("scroll(0, 0)")
        wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, ".btn.authorize"))).click()
        dialog = wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
        dialog.find_element(By.CSS_SELECTOR, "input").send_keys(token)
        dialog.find_element(By.CSS_SELECTOR, ".modal-btn.authorize").click()
        dialog.find_element(By.CSS_SELECTOR, ".btn-done").click()

        status, text = try_it_out(chromium, "profiles", "1.0_profiles_retrieve", {"name": "default"})
        assert status.startswith("200"), text
        assert '"name": "default"' in text
