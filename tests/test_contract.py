"""The contract every resource owes, parametrised from the router (not a hand-kept list).

For each registered viewset: LXD's envelope and ETag on GET; a write's ETag equals the next
GET's; a stale If-Match on PUT, PATCH, DELETE and rename is LXD's 412 and changes nothing;
If-None-Match answers 304; a change by the API, the ORM or SQL shows in the next GET through
the kept answers; lists cost the same queries for any number of objects; clients of two scopes
get their own answers. The data is ``tests/resource_cases.py``.
"""

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from resources.api.cached_reads import CachedReadMixin
from resources.api.conditional import ConditionalUpdateMixin
from resources.api.reads import PublicToUntrusted
from resources.documents import KINDS
from resources.extensions import API_EXTENSIONS
from resources.management.commands.import_from_lxd import COLLECTIONS
from resources.response_cache import RESPONSES
from resources.urls import router
from resources.watched import is_watched
from tests.resource_cases import CASES, CHANGED_VALUES

REGISTERED = {basename: (prefix, viewset) for prefix, viewset, basename in router.registry}
CONDITIONAL = [name for name, (_, viewset) in REGISTERED.items() if issubclass(viewset, ConditionalUpdateMixin)]
CONDITIONAL_VIEWSETS = {REGISTERED[name][1] for name in CONDITIONAL}
CACHED = [name for name, (_, viewset) in REGISTERED.items() if issubclass(viewset, CachedReadMixin)]
STALE = '"0000000000000000000000000000000000000000000000000000000000000000"'


def _writes(basename, *methods):
    """(basename, method) for each write the resource routes and its case gives a body for."""
    _, viewset = REGISTERED[basename]
    case = CASES.get(basename)
    if case is None:
        return []  # test_every_registered_resource_has_contract_data names it
    routed = {"put": "update", "patch": "partial_update", "delete": "destroy", "rename": "rename"}
    bodies = {"put": case.put, "patch": case.patch, "delete": {}, "rename": case.rename}
    return [(basename, method) for method in methods if hasattr(viewset, routed[method]) and bodies[method] is not None]


def _collection_url(basename):
    prefix, _ = REGISTERED[basename]
    return "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: CASES[basename].url_kwargs[m.group(1)], prefix)


def _made(basename, public=False, index=0):
    """(collection URL, object URL) of a freshly made object."""
    collection = _collection_url(basename)
    return collection, f"{collection}/{CASES[basename].make(index, public)}"


def _send(api, method, url, body, **headers):
    if method == "rename":
        return api.post(url, body, headers=headers)
    return getattr(api, method)(url, body, headers=headers)


def test_every_registered_resource_has_contract_data():
    assert set(REGISTERED) == set(CASES)


@pytest.mark.parametrize("basename", sorted(REGISTERED))
def test_every_resource_is_advertised_administered_documented_and_imported(basename):
    case = CASES[basename]
    model = REGISTERED[basename][1].queryset.model
    assert set(case.extensions) <= set(API_EXTENSIONS)
    assert model in admin.site._registry or any(
        model is inline.model for registered in admin.site._registry.values() for inline in registered.inlines
    )
    if case.document_kind is not None:
        kind = KINDS[case.document_kind]
        assert kind.model is model or model in {related.related_model for related in kind.model._meta.related_objects}
    # import_from_lxd copies every stored resource; only what is not stored state is left out.
    if case.lxd_import:
        assert case.lxd_import in {collection for collection, *_ in COLLECTIONS}
    else:
        assert not is_watched(model)


@pytest.mark.parametrize("basename", sorted(REGISTERED))
@pytest.mark.django_db
def test_get_answers_lxds_envelope_and_etag(api, basename):
    collection, url = _made(basename)
    response = api.get(url)
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("type", "status", "status_code")} == {
        "type": "sync",
        "status": "Success",
        "status_code": 200,
    }
    assert isinstance(body["metadata"], dict)
    listed = api.get(collection).json()["metadata"]
    assert url in (listed if isinstance(listed, list) else [url for urls in listed.values() for url in urls])
    if basename in CONDITIONAL:
        assert re.fullmatch(r'"[0-9a-f]{64}"', response.headers["ETag"])
        assert api.get(url, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("basename", sorted(REGISTERED))
@pytest.mark.django_db
def test_options_and_head_of_an_object_answer_as_safe_methods(api, basename):
    """OPTIONS describes, HEAD answers as GET without a body: never a write path (on PostgreSQL
    a row lock outside a transaction was a 500)."""
    _, url = _made(basename)
    got = api.get(url)
    assert api.options(url).status_code == 200
    head = api.head(url)
    assert (head.status_code, head.content) == (got.status_code, b"")
    assert head.headers.get("ETag") == got.headers.get("ETag")


@pytest.mark.parametrize(("basename", "method"), [w for b in CONDITIONAL for w in _writes(b, "put", "patch")])
@pytest.mark.django_db
def test_a_writes_etag_is_the_next_gets(api, basename, method):
    _, url = _made(basename)
    current = api.get(url).headers["ETag"]
    body = getattr(CASES[basename], method)
    written = _send(api, method, url, body, **{"If-Match": current})
    assert written.status_code in (200, 202), written.content
    assert written.headers["ETag"] == api.get(url).headers["ETag"] != current


@pytest.mark.parametrize(
    ("basename", "method"), [w for b in CONDITIONAL for w in _writes(b, "put", "patch", "delete", "rename")]
)
@pytest.mark.django_db
def test_a_stale_if_match_is_lxds_412_and_changes_nothing(api, basename, method):
    _, url = _made(basename)
    before = api.get(url)
    body = {"put": CASES[basename].put, "patch": CASES[basename].patch, "rename": CASES[basename].rename}.get(method)
    refused = _send(api, method, url, body or {}, **{"If-Match": STALE})
    assert refused.status_code == 412
    current = before.headers["ETag"].strip('"')
    assert refused.json()["error"] == f"ETag doesn't match: {current} vs {STALE.strip(chr(34))}"
    after = api.get(url)
    assert after.status_code == 200
    assert after.json()["metadata"] == before.json()["metadata"]
    assert after.headers["ETag"] == before.headers["ETag"]


def _get_kept(api, url):
    """A GET, and whether it was a kept answer (it read the change token alone)."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    return response, len(captured) == 1


@pytest.mark.parametrize(("basename", "how"), [(b, how) for b in CACHED for how in ("api", "orm", "sql")])
def test_a_change_shows_in_the_next_get_through_the_kept_answers(api, transactional_db, basename, how):
    RESPONSES.clear()
    case = CASES[basename]
    _, url = _made(basename)
    before = api.get(url).json()["metadata"]
    assert _get_kept(api, url)[1], "the second GET is a kept answer"
    value = CHANGED_VALUES.get(case.column, ["by api", "by orm", "by sql"])[("api", "orm", "sql").index(how)]
    model = REGISTERED[basename][1].queryset.model
    lookup = REGISTERED[basename][1].lookup_field
    key = url.rsplit("/", 1)[1]
    if how == "api":
        etag = api.get(url).headers["ETag"]
        assert api.patch(url, case.patch, headers={"If-Match": etag}).status_code in (200, 202)
        expected = api.get(f"{url}?uncached").json()["metadata"]
    else:
        if how == "orm":
            model.objects.filter(**{lookup: key}).update(**{case.column: value})
        else:
            with connection.cursor() as cursor:
                table = model._meta.db_table
                cursor.execute(f"UPDATE {table} SET {case.column} = %s WHERE {lookup} = %s", [value, key])
        expected = {**before, case.column: value}
    response, kept = _get_kept(api, url)
    assert not kept
    assert response.json()["metadata"] == expected != before
    RESPONSES.clear()


@pytest.mark.parametrize("basename", sorted(REGISTERED))
@pytest.mark.django_db
def test_a_list_costs_the_same_queries_for_any_number_of_objects(api, basename):
    def listed():
        metadata = api.get(f"{collection}?recursion=1").json()["metadata"]
        return len(metadata if isinstance(metadata, list) else [url for urls in metadata.values() for url in urls])

    collection, _ = _made(basename)
    with CaptureQueriesContext(connection) as one:
        before = listed()
    _made(basename, index=1)
    _made(basename, index=2)
    with CaptureQueriesContext(connection) as three:
        assert listed() == before + 2
    assert len(three) == len(one)


@pytest.mark.parametrize("basename", CACHED)
def test_two_scopes_get_their_own_answers_through_the_kept_path(api, tcp_api, transactional_db, basename):
    RESPONSES.clear()
    collection, _ = _made(basename)
    trusted = [api.get(f"{collection}?recursion=1") for _ in range(2)]
    untrusted = [tcp_api.get(f"{collection}?recursion=1") for _ in range(2)]
    assert trusted[0].content == trusted[1].content
    assert untrusted[0].content == untrusted[1].content
    assert len(trusted[0].json()["metadata"]) == 1 + CASES[basename].standing
    assert _get_kept(api, f"{collection}?recursion=1")[1]
    scope = REGISTERED[basename][1].scope
    # A project's scope shows untrusted clients what its inner scope shows them.
    if isinstance(getattr(scope, "inner", scope), PublicToUntrusted):
        assert _get_kept(tcp_api, f"{collection}?recursion=1")[1]
        assert untrusted[0].status_code == 200
        assert untrusted[0].json()["metadata"] == []
    else:
        assert untrusted[0].status_code == 403
    assert untrusted[0].content != trusted[0].content
    RESPONSES.clear()


@pytest.mark.parametrize("basename", CONDITIONAL)
def test_every_field_a_put_may_write_is_hashed(basename):
    """No lost update through the ETag's gaps: LXD's recipe plus lxdsite's additions cover every
    field a PUT or PATCH can change (docs/compatibility.md lists the additions)."""
    viewset = REGISTERED[basename][1]
    writable = {name for name, field in viewset.serializer_class().fields.items() if not field.read_only}
    recipe = viewset.etag_serializer_class
    assert writable <= set(recipe.lxd_recipe) | set(recipe.additions)
    assert not set(recipe.lxd_recipe) & set(recipe.additions)


def test_the_etag_additions_are_listed_in_the_compatibility_page():
    page = (Path(__file__).resolve().parent.parent / "docs" / "compatibility.md").read_text()
    recipes = {viewset.etag_serializer_class for _, viewset in REGISTERED.values() if viewset in CONDITIONAL_VIEWSETS}
    added = [recipe for recipe in recipes if recipe.additions]
    assert added
    for recipe in added:
        assert f"| {recipe.__name__} | {', '.join(recipe.lxd_recipe)} | {', '.join(recipe.additions)} |" in page
