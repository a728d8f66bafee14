"""DRF's browsable API as lxdsite's pages: branded, indented, linked, and writing with If-Match;
while lxc and pylxd keep receiving LXD's compact JSON, byte for byte."""

import html
import json
import re

import pytest
from django.contrib.auth.models import User

from resources.browsable import docstring_html, pretty_json_html

HTML = "text/html"


def shown_text(response):
    """The page as a person reads it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", response.content.decode()))


def shown_answer(response):
    """The answer as the page shows it, below the status line and headers."""
    answer = re.search(r'class="response-info".*?\n\n</span>(.*?)</pre>', response.content.decode(), re.S).group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", answer))


def put_form_content(response):
    """The text the PUT/PATCH form's textarea starts with."""
    form = response.content.decode().split('id="put-generic-content-form"', 1)[1]
    return html.unescape(re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", form, re.S).group(1))


@pytest.mark.django_db
def test_profile_renders_as_html_with_the_envelope_and_etag(api):
    etag = api.get("/1.0/profiles/default").headers["ETag"]

    response = api.get("/1.0/profiles/default", HTTP_ACCEPT=HTML)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["ETag"] == etag
    page = response.content.decode()
    shown = shown_text(response)
    assert f"ETag: {etag}" in shown
    # The envelope indented, one member a line.
    assert '{\n    "type": "sync",\n    "status": "Success",\n    "status_code": 200,\n' in shown
    assert '        "description": "Default LXD profile",\n' in shown
    # The raw-data form can PUT and PATCH the object, with If-Match: the ETag the page shows.
    assert 'data-method="PUT"' in page
    assert 'data-method="PATCH"' in page
    assert f'<script id="lxdsite-etag" type="application/json">{json.dumps(etag)}</script>' in html.unescape(page)
    assert 'xhr.setRequestHeader("If-Match"' in page
    assert f"send If-Match: {etag}" in " ".join(shown.split())


@pytest.mark.django_db
def test_json_stays_the_default_for_lxd_clients(api):
    response = api.get("/1.0/profiles/default", HTTP_ACCEPT="*/*")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/", "/1.0", "/1.0/operations", "/1.0/profiles", "/1.0/profiles?recursion=1", "/1.0/profiles/p1"]
)
def test_pages_do_not_change_what_json_clients_receive(api, profile, url):
    """A browser's page in between leaves the JSON answer (kept or not) and its ETag as they were."""
    before = api.get(url)
    page = api.get(url, HTTP_ACCEPT=HTML)
    after = api.get(url)

    assert page.status_code == before.status_code == after.status_code == 200
    assert after.content == before.content
    assert after.content.count(b"\n") == 1  # compact, with LXD's trailing newline
    assert after.headers.get("ETag") == before.headers.get("ETag") == page.headers.get("ETag")
    assert after["Content-Type"] == "application/json"
    assert json.loads(shown_answer(page)) == json.loads(before.content)


@pytest.mark.django_db
def test_list_links_to_its_objects_and_each_object_back_to_its_list(api, profile):
    listing = api.get("/1.0/profiles", HTTP_ACCEPT=HTML).content.decode()
    assert '&quot;<a href="/1.0/profiles/p1" rel="nofollow">/1.0/profiles/p1</a>&quot;' in listing
    assert "<h1>Profiles</h1>" in listing
    # The list offers LXD's recursion levels; instances also their state.
    assert '<strong>URLs</strong> | <a href="/1.0/profiles?recursion=1">objects</a>' in listing
    objects = api.get("/1.0/profiles?recursion=1", HTTP_ACCEPT=HTML).content.decode()
    assert '<a href="/1.0/profiles?recursion=0">URLs</a> | <strong>objects</strong>' in objects
    instances = api.get("/1.0/instances", HTTP_ACCEPT=HTML).content.decode()
    assert '<a href="/1.0/instances?recursion=2">objects with their state</a>' in instances

    page = api.get("/1.0/profiles/p1", HTTP_ACCEPT=HTML).content.decode()
    assert '<a id="lxdsite-collection" href="/1.0/profiles">' in page
    assert "<h1>Profile p1</h1>" in page
    # The breadcrumbs are the path's steps.
    crumbs = re.findall(r'<li[^>]*><a href="([^"]*)">([^<]*)</a></li>', page.split('class="breadcrumb"')[1])
    assert crumbs[-3:] == [("/1.0", "1.0"), ("/1.0/profiles", "profiles"), ("/1.0/profiles/p1", "p1")]


@pytest.mark.django_db
def test_docstrings_read_as_text_without_restructuredtext_marks(api):
    response = api.get("/1.0", HTTP_ACCEPT=HTML)

    page = response.content.decode()
    assert "``" not in shown_text(response).split("Vary: Accept")[0]
    assert "<code>/1.0</code>: the server" in page
    assert docstring_html("One ``a<b``\nline.\n\n  Two `c`.") == (
        "<p>One <code>a&lt;b</code> line.</p><p>Two <code>c</code>.</p>"
    )


def test_pretty_json_links_only_lxd_urls_and_escapes_the_rest():
    text = json.dumps({"used_by": ["/1.0/instances/a&b?project=x"], "note": "</pre><script>", "n": 2**70}) + "\n"

    shown = str(pretty_json_html(text))

    link = '<a href="/1.0/instances/a&amp;b?project=x" rel="nofollow">/1.0/instances/a&amp;b?project=x</a>'
    assert f"&quot;{link}&quot;" in shown
    assert "&lt;/pre&gt;&lt;script&gt;" in shown
    assert "&quot;n&quot;: 1180591620717411303424" in shown


@pytest.mark.django_db
def test_page_is_lxdsite_with_a_staff_login(tcp_api):
    anonymous = tcp_api.get("/1.0", HTTP_ACCEPT=HTML).content.decode()
    assert "<title>Server | lxdsite</title>" in anonymous
    brand = r'class="navbar-brand"[^>]*>lxdsite \d+\.\d+\.\d+<small>LXD API 1\.0 \(5\.0\.2\)</small>'
    assert re.search(brand, anonymous)
    assert "Django REST framework" not in anonymous
    assert '<a id="lxdsite-login" href="/admin/login/?next=/1.0">Log in</a>' in anonymous

    tcp_api.force_login(User.objects.create_user("admin", password="pw", is_staff=True, is_superuser=True))
    staff = tcp_api.get("/1.0/profiles/default", HTTP_ACCEPT=HTML).content.decode()
    assert '<li class="navbar-text" id="lxdsite-user">admin</li>' in staff
    assert 'action="/admin/logout/" id="lxdsite-logout"' in staff
    assert 'id="put-generic-content-form"' in staff


@pytest.mark.django_db
def test_put_form_holds_the_writable_fields_of_the_object_shown(api, profile):
    response = api.get("/1.0/profiles/p1", HTTP_ACCEPT=HTML)

    # What a PUT replaces (name and used_by are not written by a PUT), as the GET shows it.
    metadata = api.get("/1.0/profiles/p1").json()["metadata"]
    assert json.loads(put_form_content(response)) == {
        key: metadata[key] for key in ("config", "description", "devices")
    }
    # Sent back as it is, it writes nothing new: the object and its ETag stay.
    etag = response["ETag"]
    put = api.put("/1.0/profiles/p1", json.loads(put_form_content(response)), HTTP_IF_MATCH=etag)
    assert put.status_code == 200
    assert put["ETag"] == etag


@pytest.mark.django_db
def test_stale_write_page_says_so_and_offers_the_current_version(api, profile):
    etag = api.get("/1.0/profiles/p1")["ETag"]
    assert api.patch("/1.0/profiles/p1", {"description": "changed meanwhile"}).status_code == 200

    response = api.put(
        "/1.0/profiles/p1", {"description": "stale"}, HTTP_IF_MATCH=etag, HTTP_ACCEPT="text/html; q=1.0, */*"
    )

    assert response.status_code == 412
    page = response.content.decode()
    shown = shown_text(response)
    assert "Not saved: this object was changed by someone else since this page was loaded." in shown
    reload = '<a class="btn btn-default" id="lxdsite-reload" href="/1.0/profiles/p1">Reload the current version</a>'
    assert reload in page
    assert "ETag doesn't match" in shown
    # No form on it: it has no version of the object to write with.
    assert "generic-content-form" not in page
    assert "lxdsite-etag" not in page
    assert 'data-method="DELETE"' not in page
    assert api.get("/1.0/profiles/p1").json()["metadata"]["description"] == "changed meanwhile"
