"""DRF's browsable API: LXD's endpoints render in a browser with the envelope and the ETag."""

import html
import json
import re

import pytest


@pytest.mark.django_db
def test_profile_renders_as_html_with_the_envelope_and_etag(api):
    etag = api.get("/1.0/profiles/default").headers["ETag"]

    response = api.get("/1.0/profiles/default", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    shown = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert f"ETag: {etag}" in shown
    assert '{"type":"sync","status":"Success","status_code":200,' in shown
    assert '"description":"Default LXD profile"' in shown
    # The raw-data form can PUT and PATCH the object, with If-Match: the ETag the page shows.
    assert 'data-method="PUT"' in page
    assert 'data-method="PATCH"' in page
    assert f'<script id="lxdsite-etag" type="application/json">{json.dumps(etag)}</script>' in html.unescape(page)
    assert 'xhr.setRequestHeader("If-Match"' in page


@pytest.mark.django_db
def test_json_stays_the_default_for_lxd_clients(api):
    response = api.get("/1.0/profiles/default", HTTP_ACCEPT="*/*")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
