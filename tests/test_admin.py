"""The admin: YAML editing, the API's validation, stored-version conflicts and the API's delete rules."""

import html
import io
import re

import pytest
from django.contrib.admin import site
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import transaction

from resources.admin import DeleteRefused, ProfileAdmin
from resources.documents import VersionConflict, lock_current, stored_version
from resources.models import (
    APIToken,
    Image,
    ImageAlias,
    Instance,
    InstanceProfile,
    Operation,
    Profile,
    Project,
    Server,
    Snapshot,
)
from resources.trust import token_digest

PROFILE_URL = "/admin/resources/profile/{pk}/change/"


def form_version(response):
    """The hidden version the change form was rendered with."""
    match = re.search(r'name="version" value="([0-9a-f]+)"', response.content.decode())
    assert match, "the change form carries no version"
    return match.group(1)


def delete_version(response):
    """The hidden version the delete confirmation was rendered with."""
    match = re.search(r'<input type="hidden" name="version" value="([0-9a-f]+)">', response.content.decode())
    assert match, "the delete confirmation carries no version"
    return match.group(1)


def profile_post(version, **fields):
    """A change-form POST for a profile: description, config and devices as typed."""
    return {"description": "", "config": "", "devices": "", "version": version, "_save": "Save", **fields}


@pytest.mark.django_db
def test_change_form_shows_config_and_devices_as_yaml(admin_client, profile):
    response = admin_client.get(PROFILE_URL.format(pk=profile.pk))

    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert "limits.cpu: '1'\nuser.note: a<b>&c\n" in text
    assert "data:\n  path: /mnt\n  source: /tmp\n  type: disk\n" in text
    assert form_version(response) == stored_version(profile)


@pytest.mark.django_db
def test_yaml_round_trip_saves_what_the_api_would(admin_client, profile):
    version = form_version(admin_client.get(PROFILE_URL.format(pk=profile.pk)))

    response = admin_client.post(
        PROFILE_URL.format(pk=profile.pk),
        profile_post(
            version,
            description="edited",
            config="limits.cpu: 2\nlimits.memory: 1GiB\nuser.note: ''\n",
            devices="root:\n  type: disk\n  path: /\n  pool: default\n",
        ),
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.description == "edited"
    # YAML scalars are strings as lxc edit reads them, and "" removes a key as in the API.
    assert profile.config == {"limits.cpu": "2", "limits.memory": "1GiB"}
    assert profile.devices == {"root": {"type": "disk", "path": "/", "pool": "default"}}


@pytest.mark.django_db
def test_invalid_yaml_is_a_form_error(admin_client, profile):
    version = stored_version(profile)

    response = admin_client.post(PROFILE_URL.format(pk=profile.pk), profile_post(version, config="a: [1,\n"))

    assert response.status_code == 200
    assert "Invalid YAML" in response.content.decode()
    assert "a: [1," in response.content.decode()
    assert Profile.objects.get(pk=profile.pk).config == profile.config


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("config", "limits.cpu: abc", "Invalid CPU limit syntax"),
        ("config", "bogus.key: 1", "Unknown configuration key: bogus.key"),
        ("config", "- a list", "expected an object of strings, got array"),
        ("devices", "eth0:\n  type: nic\n  nictype: nothing", "Unsupported device type"),
    ],
)
def test_validation_errors_are_the_apis(admin_client, api, profile, field, text, message):
    response = admin_client.post(
        PROFILE_URL.format(pk=profile.pk), profile_post(stored_version(profile), **{field: text})
    )

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    # The API refuses the same body with the same text.
    api_answer = api.put("/1.0/profiles/p1", {field: _yaml_value(text)})
    assert api_answer.status_code == 400
    assert message in api_answer.json()["error"]
    assert Profile.objects.get(pk=profile.pk).config == profile.config


def _yaml_value(text):
    from resources.documents import load_yaml

    return load_yaml(text, strings=True)


@pytest.mark.django_db
def test_conflict_refuses_the_save_and_keeps_the_input(admin_client, api, profile):
    version = form_version(admin_client.get(PROFILE_URL.format(pk=profile.pk)))
    changed = api.patch("/1.0/profiles/p1", {"config": {"limits.cpu": "4"}})
    assert changed.status_code == 200

    response = admin_client.post(
        PROFILE_URL.format(pk=profile.pk), profile_post(version, description="mine", config="limits.cpu: 8\n")
    )

    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert "was changed by someone else since you opened it" in text
    assert "limits.cpu: 8" in text
    assert 'value="mine"' in text
    profile.refresh_from_db()
    assert profile.config["limits.cpu"] == "4"
    assert profile.description == "test profile"


@pytest.mark.django_db
def test_conflict_covers_fields_the_lxd_etag_leaves_out(admin_client, profile):
    """LXD's profile ETag ignores the name; the stored version does not."""
    version = stored_version(profile)
    Profile.objects.filter(pk=profile.pk).update(name="renamed")

    response = admin_client.post(PROFILE_URL.format(pk=profile.pk), profile_post(version, description="x"))

    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    assert Profile.objects.get(pk=profile.pk).description == "test profile"


@pytest.mark.django_db
def test_lock_current_reports_a_deleted_row_as_a_conflict(profile):
    version = stored_version(profile)
    Profile.objects.filter(pk=profile.pk).delete()

    with transaction.atomic(), pytest.raises(VersionConflict) as conflict:
        lock_current(profile, version)

    assert conflict.value.current is None


@pytest.mark.django_db
def test_missing_version_is_a_conflict(admin_client, profile):
    response = admin_client.post(PROFILE_URL.format(pk=profile.pk), profile_post("", description="x"))

    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()


@pytest.mark.django_db
def test_default_profile_cannot_be_deleted(admin_client):
    default = Profile.objects.get(name="default")
    url = f"/admin/resources/profile/{default.pk}/delete/"

    shown = admin_client.get(url)
    refused = admin_client.post(url, {"post": "yes"})

    assert shown.status_code == 200
    assert "The &quot;default&quot; profile cannot be deleted" in shown.content.decode()
    assert refused.status_code == 200
    assert "cannot be deleted" in html.unescape(refused.content.decode())
    assert Profile.objects.filter(name="default").exists()


@pytest.mark.django_db
def test_bulk_delete_keeps_the_default_profile(admin_client, profile):
    default = Profile.objects.get(name="default")

    response = admin_client.post(
        "/admin/resources/profile/",
        {"action": "delete_selected", "_selected_action": [default.pk, profile.pk], "post": "yes"},
    )

    assert response.status_code == 200
    assert "cannot be deleted" in html.unescape(response.content.decode())
    assert Profile.objects.count() == 2


@pytest.mark.django_db
def test_other_profiles_can_be_deleted(admin_client, profile):
    url = f"/admin/resources/profile/{profile.pk}/delete/"
    version = delete_version(admin_client.get(url))

    response = admin_client.post(url, {"post": "yes", "version": version})

    assert response.status_code == 302
    assert not Profile.objects.filter(pk=profile.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [("a/b", "Profile names may not contain slashes"), ("default", "The profile already exists")],
)
def test_add_uses_the_apis_name_rules(admin_client, name, message):
    response = admin_client.post(
        "/admin/resources/profile/add/", {"name": name, "description": "", "config": "", "devices": ""}
    )

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert Profile.objects.count() == 1


@pytest.mark.django_db
def test_add_creates_a_profile(admin_client):
    response = admin_client.post(
        "/admin/resources/profile/add/", {"name": "web", "description": "d", "config": "limits.cpu: 1", "devices": ""}
    )

    assert response.status_code == 302
    web = Profile.objects.get(name="web")
    assert web.config == {"limits.cpu": "1"}
    # The admin's own bookkeeping names the row the serializer created.
    assert LogEntry.objects.get().object_id == str(web.pk)
    assert response["Location"] == "/admin/resources/profile/"
    # The admin's message reaches the next page (the middleware makes its storage lazily).
    assert "was added successfully" in admin_client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_profile_list_columns_search_and_filters(admin_client, profile):
    listing = admin_client.get("/admin/resources/profile/")
    searched = admin_client.get("/admin/resources/profile/?q=limits.cpu")
    with_devices = admin_client.get("/admin/resources/profile/?has_devices=yes")

    assert listing.status_code == 200
    assert "Used by" in listing.content.decode()
    assert [p.name for p in listing.context["cl"].result_list] == ["default", "p1"]
    assert [p.name for p in searched.context["cl"].result_list] == ["p1"]
    assert [p.name for p in with_devices.context["cl"].result_list] == ["p1"]


@pytest.mark.django_db
def test_server_config_keeps_the_trust_password_hashed(admin_client, api):
    assert api.patch("/1.0", {"config": {"core.trust_password": "secret"}}).status_code == 200
    server = Server.objects.get()
    stored = server.config["core.trust_password"]
    url = f"/admin/resources/server/{server.pk}/change/"
    page = admin_client.get(url)
    assert "core.trust_password: true" in page.content.decode()

    response = admin_client.post(
        url, {"config": "core.trust_password: true\nimages.auto_update_interval: '12'\n", "version": form_version(page)}
    )

    assert response.status_code == 302
    server.refresh_from_db()
    assert server.config == {"core.trust_password": stored, "images.auto_update_interval": "12"}


@pytest.mark.django_db
def test_server_config_error_is_the_apis(admin_client):
    server = Server.objects.get()

    response = admin_client.post(
        f"/admin/resources/server/{server.pk}/change/",
        {"config": "core.https_address: 127.0.0.1:99999", "version": stored_version(server)},
    )

    assert response.status_code == 200
    assert "Cannot listen on network HTTPS socket" in html.unescape(response.content.decode())
    assert Server.objects.get().config == {}


@pytest.mark.django_db
def test_server_list_opens_the_one_configuration(admin_client):
    response = admin_client.get("/admin/resources/server/")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/resources/server/{Server.SINGLETON_ID}/change/"


@pytest.mark.django_db
def test_server_cannot_be_added_or_deleted(admin_client):
    server = Server.objects.get()

    assert admin_client.get("/admin/resources/server/add/").status_code == 403
    assert admin_client.post(f"/admin/resources/server/{server.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Server.objects.count() == 1


def image_post(version, **fields):
    """A change-form POST for an image, as the form shows it."""
    return {"properties": "", "profile_names": "", "expires_at": "", "version": version, "_save": "Save", **fields}


@pytest.mark.django_db
def test_image_list_shows_fingerprint_prefix_size_aliases_and_profiles(admin_client, image):
    response = admin_client.get("/admin/resources/image/")
    searched = admin_client.get("/admin/resources/image/?q=ab12ab")
    by_alias = admin_client.get("/admin/resources/image/?q=alpine")
    missed = admin_client.get("/admin/resources/image/?q=12ab")

    assert response.status_code == 200
    text = response.content.decode()
    assert "ab12ab12ab12<" in text
    assert "3.0\xa0MB" in text
    assert ">alpine<" in text
    assert ">p1<" in text
    assert len(searched.context["cl"].result_list) == 1
    assert len(by_alias.context["cl"].result_list) == 1
    # The fingerprint is searched by prefix, as LXD finds images.
    assert len(missed.context["cl"].result_list) == 0


@pytest.mark.django_db
def test_image_edit_goes_through_the_image_serializer(admin_client, image):
    Profile.objects.create(name="web")
    url = f"/admin/resources/image/{image.pk}/change/"
    page = admin_client.get(url)
    assert "os: Alpine" in html.unescape(page.content.decode())

    response = admin_client.post(
        url,
        image_post(
            form_version(page), public="on", properties="os: Alpine\nrelease: 3\n", profile_names="- web\n- p1\n"
        ),
    )

    assert response.status_code == 302
    image.refresh_from_db()
    assert image.public is True
    assert image.properties == {"os": "Alpine", "release": "3"}
    assert [link.profile.name for link in image.profile_links.all()] == ["web", "p1"]
    # A blank expiry keeps it, as null does in the API.
    assert image.expires_at == Image._meta.get_field("expires_at").default()


@pytest.mark.django_db
def test_image_errors_are_the_apis(admin_client, image):
    url = f"/admin/resources/image/{image.pk}/change/"

    response = admin_client.post(url, image_post(stored_version(image), profile_names="- nope\n"))

    assert response.status_code == 200
    assert "Profile &#x27;nope&#x27; doesn&#x27;t exist" in response.content.decode()
    assert [link.profile.name for link in image.profile_links.all()] == ["p1"]


@pytest.mark.django_db
def test_image_version_covers_profiles_and_properties(admin_client, api, image):
    url = f"/admin/resources/image/{image.pk}/change/"
    version = form_version(admin_client.get(url))
    api_url = f"/1.0/images/{image.fingerprint}"
    etag = api.get(api_url).headers["ETag"]
    assert api.patch(api_url, {"profiles": ["default"]}).status_code == 200
    assert api.put(api_url, {"profiles": ["default"], "properties": {"os": "Alpine"}}).status_code == 200
    # LXD's ETag leaves the profiles out; lxdsite's covers them, as the stored version does.
    assert api.get(api_url).headers["ETag"] != etag

    response = admin_client.post(url, image_post(version, properties="os: edited\n", profile_names="- p1\n"))

    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    image.refresh_from_db()
    assert image.properties == {"os": "Alpine"}
    assert [link.profile.name for link in image.profile_links.all()] == ["default"]


@pytest.mark.django_db
def test_images_are_uploaded_through_the_api_not_added_here(admin_client, image):
    assert admin_client.get("/admin/resources/image/add/").status_code == 403


@pytest.mark.django_db
def test_image_delete_takes_its_aliases(admin_client, image):
    url = f"/admin/resources/image/{image.pk}/delete/"
    version = delete_version(admin_client.get(url))

    response = admin_client.post(url, {"post": "yes", "version": version})

    assert response.status_code == 302
    assert not Image.objects.exists()
    assert not ImageAlias.objects.exists()


@pytest.mark.django_db
def test_alias_add_and_change_use_the_apis_rules(admin_client, image):
    added = admin_client.post(
        "/admin/resources/imagealias/add/", {"name": "edge", "description": "", "target": "ab12ab"}
    )
    taken = admin_client.post(
        "/admin/resources/imagealias/add/", {"name": "alpine", "description": "", "target": image.fingerprint}
    )
    alias = ImageAlias.objects.get(name="alpine")
    missing = admin_client.post(
        f"/admin/resources/imagealias/{alias.pk}/change/",
        {"description": "x", "target": "ffff", "version": stored_version(alias)},
    )

    assert added.status_code == 302
    assert ImageAlias.objects.get(name="edge").image == image
    assert taken.status_code == 200
    assert "Alias &quot;alpine&quot; already exists" in taken.content.decode()
    assert missing.status_code == 200
    assert "Image not found" in missing.content.decode()
    assert ImageAlias.objects.get(name="alpine").description == "small"


@pytest.mark.django_db
def test_the_admin_adds_edits_and_filters_objects_in_their_project(admin_client, api, profile):
    features = {"features.profiles": "true", "features.images": "false"}
    assert api.post("/1.0/projects", {"name": "p2", "config": features}).status_code == 201
    p2 = Project.objects.get(name="p2")
    form = {"description": "", "config": "limits.cpu: 4", "devices": ""}
    # The same name as the default project's p1: a profile of p2, with p2's rules.
    added = admin_client.post("/admin/resources/profile/add/", {"project": p2.pk, "name": "p1", **form})
    taken = admin_client.post("/admin/resources/profile/add/", {"project": p2.pk, "name": "p1", **form})
    mine = Profile.objects.get(project=p2, name="p1")
    changed = admin_client.post(
        PROFILE_URL.format(pk=mine.pk), profile_post(form_version(admin_client.get(PROFILE_URL.format(pk=mine.pk))))
    )
    listed = admin_client.get(f"/admin/resources/profile/?project__id__exact={p2.pk}")
    # p2 uses the default project's images: an alias added "in p2" goes there, as the API puts it.
    Image.objects.create(fingerprint="ab" * 32, architecture="x86_64", filename="one.tar")
    alias = admin_client.post(
        "/admin/resources/imagealias/add/", {"project": p2.pk, "name": "edge", "description": "", "target": "abab"}
    )

    assert (added.status_code, changed.status_code, alias.status_code) == (302, 302, 302)
    assert taken.status_code == 200
    assert "The profile already exists" in html.unescape(taken.content.decode())
    assert Profile.objects.get(project=p2, name="p1").config == {}
    assert Profile.objects.get(project_id=Project.DEFAULT_ID, name="p1").config == profile.config
    assert [p.name for p in listed.context["cl"].result_list] == ["default", "p1"]
    assert ImageAlias.objects.get(name="edge").project_id == Project.DEFAULT_ID


@pytest.mark.django_db
def test_operations_are_read_only(admin_client):
    operation = Operation.objects.create(description="Deleting image", status="Success", status_code=200)

    listing = admin_client.get("/admin/resources/operation/")
    shown = admin_client.get(f"/admin/resources/operation/{operation.pk}/change/")
    changed = admin_client.post(f"/admin/resources/operation/{operation.pk}/change/", {"description": "x"})

    assert listing.status_code == 200
    assert "Deleting image" in listing.content.decode()
    assert shown.status_code == 200
    assert changed.status_code == 403
    assert admin_client.get("/admin/resources/operation/add/").status_code == 403


@pytest.fixture
def instance(db, profile):
    """A stopped container using `default` then `p1`, with a volatile key and a snapshot."""
    instance = Instance.objects.create(
        name="c1", description="web server", config={"limits.cpu": "1", "volatile.uuid": "u-1"}
    )
    for name in ("default", "p1"):
        InstanceProfile.objects.create(instance=instance, profile=Profile.objects.get(name=name))
    Snapshot.objects.create(instance=instance, name="snap0")
    return instance


def instance_post(version, **fields):
    """A change-form POST for an instance, as the form shows it."""
    return {
        "architecture": "x86_64",
        "description": "",
        "config": "",
        "devices": "",
        "profile_names": "",
        "version": version,
        "_save": "Save",
        # The read-only snapshots inline's management form.
        "snapshots-TOTAL_FORMS": "0",
        "snapshots-INITIAL_FORMS": "0",
        **fields,
    }


@pytest.mark.django_db
def test_instance_list_shows_status_and_profiles(admin_client, instance):
    Instance.objects.create(name="c2", status=Instance.RUNNING)

    listing = admin_client.get("/admin/resources/instance/")
    running = admin_client.get("/admin/resources/instance/?status=Running")
    by_profile = admin_client.get("/admin/resources/instance/?q=p1")

    assert listing.status_code == 200
    assert ">default, p1<" in listing.content.decode()
    assert [i.name for i in running.context["cl"].result_list] == ["c2"]
    assert [i.name for i in by_profile.context["cl"].result_list] == ["c1"]


@pytest.mark.django_db
def test_instance_edit_goes_through_the_instance_serializer(admin_client, instance):
    url = f"/admin/resources/instance/{instance.pk}/change/"
    page = admin_client.get(url)
    assert "snap0" in page.content.decode()

    response = admin_client.post(
        url,
        instance_post(
            form_version(page),
            description="edited",
            config="limits.cpu: 2\nvolatile.uuid: forged\n",
            profile_names="- p1\n- default\n",
        ),
    )

    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.description == "edited"
    # volatile.* keys stay the server's, as in the API.
    assert instance.config == {"limits.cpu": "2", "volatile.uuid": "u-1"}
    assert [profile.name for profile in instance.profile_list()] == ["p1", "default"]
    assert list(instance.snapshots.values_list("name", flat=True)) == ["snap0"]


@pytest.mark.django_db
def test_instance_errors_are_the_apis(admin_client, instance):
    url = f"/admin/resources/instance/{instance.pk}/change/"

    bad_key = admin_client.post(url, instance_post(stored_version(instance), config="bogus.key: 1\n"))
    bad_profile = admin_client.post(url, instance_post(stored_version(instance), profile_names="- nope\n"))

    assert "Invalid config: Unknown configuration key: bogus.key" in bad_key.content.decode()
    assert "Requested profile &quot;nope&quot; doesn&#x27;t exist" in bad_profile.content.decode()
    assert Instance.objects.get(pk=instance.pk).config == instance.config


@pytest.mark.django_db
def test_instance_version_covers_the_description(admin_client, api, instance):
    url = f"/admin/resources/instance/{instance.pk}/change/"
    version = form_version(admin_client.get(url))
    etag = api.get("/1.0/instances/c1").headers["ETag"]
    assert api.patch("/1.0/instances/c1", {"description": "changed through the API"}).status_code == 200
    # LXD's ETag leaves the description out; lxdsite's covers it, as the stored version does.
    assert api.get("/1.0/instances/c1").headers["ETag"] != etag

    response = admin_client.post(url, instance_post(version, description="mine", config="limits.cpu: 4\n"))

    assert response.status_code == 200
    assert "This instance was changed by someone else" in response.content.decode()
    instance.refresh_from_db()
    assert (instance.description, instance.config["limits.cpu"]) == ("changed through the API", "1")


@pytest.mark.django_db
def test_a_profile_in_use_cannot_be_deleted(admin_client, instance, profile):
    response = admin_client.post(f"/admin/resources/profile/{profile.pk}/delete/", {"post": "yes"})

    assert response.status_code == 200
    assert "Profile is currently in use" in response.content.decode()
    assert Profile.objects.filter(pk=profile.pk).exists()


@pytest.mark.django_db
def test_instances_are_created_through_the_api(admin_client):
    assert admin_client.get("/admin/resources/instance/add/").status_code == 403


@pytest.mark.django_db
def test_profile_used_by_counts_instances(admin_client, instance, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        listing = admin_client.get("/admin/resources/profile/")

    counts = {p.name: ProfileAdmin.used_by_count(None, p) for p in listing.context["cl"].result_list}
    assert counts == {"default": 1, "p1": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("config", ["user.x: !!timestamp 2001-13-01\n", "user.x: !!binary aGVsbG8=\n"])
def test_yaml_outside_json_is_a_form_error_not_a_crash(admin_client, config):
    server = Server.objects.get()

    response = admin_client.post(
        f"/admin/resources/server/{server.pk}/change/", {"config": config, "version": stored_version(server)}
    )

    assert response.status_code == 200
    assert "Invalid YAML" in response.content.decode()
    assert Server.objects.get().config == {}


# Deletes are version-checked ----------------------------------------------------------------------


def delete_link(response):
    """The change form's delete link."""
    match = re.search(r'<a href="([^"]+)" class="deletelink">', response.content.decode())
    assert match, "the change form has no delete link"
    return html.unescape(match.group(1))


@pytest.mark.django_db
def test_delete_link_carries_the_version_the_change_form_was_rendered_from(admin_client, profile):
    change = admin_client.get(PROFILE_URL.format(pk=profile.pk))

    link = delete_link(change)
    confirmation = admin_client.get(link)

    assert link == f"/admin/resources/profile/{profile.pk}/delete/?version={form_version(change)}"
    assert confirmation.status_code == 200
    assert delete_version(confirmation) == form_version(change) == stored_version(profile)


@pytest.mark.django_db
def test_delete_of_a_profile_changed_through_the_api_is_refused(admin_client, api, profile):
    confirmation = admin_client.get(delete_link(admin_client.get(PROFILE_URL.format(pk=profile.pk))))
    changed = api.patch("/1.0/profiles/p1", {"description": "changed through the API"})

    response = admin_client.post(
        confirmation.request["PATH_INFO"], {"post": "yes", "version": delete_version(confirmation)}
    )

    assert changed.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL.format(pk=profile.pk)
    shown = html.unescape(admin_client.get(response["Location"]).content.decode())
    assert "The profile “p1” was changed by someone else since you opened it, so it was not deleted." in shown
    assert "changed through the API" in shown
    assert Profile.objects.get(pk=profile.pk).description == "changed through the API"
    assert not LogEntry.objects.exists()


@pytest.mark.django_db
def test_delete_of_an_instance_started_meanwhile_is_refused(admin_client, api, instance):
    """The status is no part of LXD's ETag; the stored version still sees it change."""
    url = f"/admin/resources/instance/{instance.pk}/delete/"
    version = delete_version(admin_client.get(url))
    started = api.put("/1.0/instances/c1/state", {"action": "start"})

    refused = admin_client.post(url, {"post": "yes", "version": version})
    stale = admin_client.get(f"{url}?version={version}")
    deleted = admin_client.post(url, {"post": "yes", "version": delete_version(admin_client.get(url))})

    assert started.status_code == 202
    assert refused.status_code == 302
    assert refused["Location"] == f"/admin/resources/instance/{instance.pk}/change/"
    # Opened from an old change form: the confirmation says so before anyone confirms.
    assert "confirming will be refused" in stale.content.decode()
    assert delete_version(stale) == version
    assert deleted.status_code == 302
    assert deleted["Location"] == "/admin/resources/instance/"
    assert not Instance.objects.exists()
    assert not Snapshot.objects.exists()


@pytest.mark.django_db
def test_delete_without_a_version_is_refused(admin_client, profile):
    response = admin_client.post(f"/admin/resources/profile/{profile.pk}/delete/", {"post": "yes"}, follow=True)

    assert "was changed by someone else" in html.unescape(response.content.decode())
    assert Profile.objects.filter(pk=profile.pk).exists()


@pytest.mark.django_db
def test_delete_of_an_alias_deleted_meanwhile_says_so(admin_client, api, image):
    alias = ImageAlias.objects.get()
    url = f"/admin/resources/imagealias/{alias.pk}/delete/"
    version = delete_version(admin_client.get(url))
    assert api.delete("/1.0/images/aliases/alpine").status_code == 200

    response = admin_client.post(url, {"post": "yes", "version": version}, follow=True)

    assert response.redirect_chain[-1][0] == "/admin/"
    assert "Perhaps it was deleted?" in html.unescape(response.content.decode())


@pytest.mark.django_db
def test_bulk_delete_is_all_or_nothing_under_the_apis_rules(admin_client, instance, profile):
    spare = Profile.objects.create(name="spare")
    selection = {"action": "delete_selected", "_selected_action": [spare.pk, profile.pk]}

    refused = admin_client.post("/admin/resources/profile/", {**selection, "post": "yes"})
    # The rules are checked again under the row locks, in the transaction that deletes.
    request = refused.wsgi_request
    with pytest.raises(DeleteRefused, match="p1: Profile is currently in use"), transaction.atomic():
        ProfileAdmin(Profile, site).delete_queryset(request, Profile.objects.filter(name__in=["spare", "p1"]))
    allowed = admin_client.post(
        "/admin/resources/profile/", {**selection, "_selected_action": [spare.pk], "post": "yes"}
    )

    assert refused.status_code == 200
    assert "Profile is currently in use" in refused.content.decode()
    assert allowed.status_code == 302
    assert list(Profile.objects.values_list("name", flat=True)) == ["default", "p1"]


# API tokens ------------------------------------------------------------------------------------------


def created_token(response):
    """The secret the add page shows once."""
    match = re.search(
        r'id="api-token" class="vLargeTextField" readonly value="(lxds_[A-Za-z0-9_-]+)"', response.content.decode()
    )
    assert match, "the page shows no token"
    return match.group(1)


@pytest.mark.django_db
@pytest.mark.parametrize(("read_only", "put_status"), [(True, 403), (False, 200)])
def test_token_added_in_the_admin_is_shown_once_and_works(admin_client, tcp_api, read_only, put_status):
    response = admin_client.post(
        "/admin/resources/apitoken/add/", {"name": "ci", **({"read_only": "on"} if read_only else {})}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = created_token(response)
    stored = APIToken.objects.get(name="ci")
    assert (stored.digest, stored.read_only) == (token_digest(token), read_only)
    tcp_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert "config" in tcp_api.get("/1.0").json()["metadata"]
    assert tcp_api.patch("/1.0", {"config": {}}).status_code == put_status
    # Never again: not in the list, not on the object's page, not in the admin's log.
    for page in ("/admin/resources/apitoken/", f"/admin/resources/apitoken/{stored.pk}/change/", "/admin/"):
        text = admin_client.get(page).content.decode()
        assert token not in text
        assert stored.digest not in text


@pytest.mark.django_db
def test_token_list_columns(admin_client):
    call_command("createtoken", "deploy", "--read-only", stdout=io.StringIO())
    call_command("createtoken", "backup", stdout=io.StringIO())

    response = admin_client.get("/admin/resources/apitoken/")

    assert response.status_code == 200
    rows = [(token.name, token.read_only) for token in response.context["cl"].result_list]
    assert rows == [("backup", False), ("deploy", True)]
    assert [column["text"] for column in response.context["result_headers"]][1:] == ["name", "read only", "created at"]
    filtered = admin_client.get("/admin/resources/apitoken/?read_only__exact=1")
    assert [token.name for token in filtered.context["cl"].result_list] == ["deploy"]


@pytest.mark.django_db
def test_token_name_must_be_unique_and_tokens_cannot_be_edited(admin_client):
    call_command("createtoken", "deploy", stdout=io.StringIO())
    token = APIToken.objects.get()

    taken = admin_client.post("/admin/resources/apitoken/add/", {"name": "deploy"})
    edited = admin_client.post(f"/admin/resources/apitoken/{token.pk}/change/", {"name": "other", "read_only": "on"})

    assert taken.status_code == 200
    assert "API token with this Name already exists." in html.unescape(taken.content.decode())
    assert edited.status_code == 403
    assert list(APIToken.objects.values_list("name", "read_only", "digest")) == [("deploy", False, token.digest)]


@pytest.mark.django_db
def test_token_revoked_by_deleting_it(admin_client, tcp_api):
    out = io.StringIO()
    call_command("createtoken", "deploy", stdout=out)
    tcp_api.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    token = APIToken.objects.get()
    assert "config" in tcp_api.get("/1.0").json()["metadata"]

    response = admin_client.post(f"/admin/resources/apitoken/{token.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not APIToken.objects.exists()
    assert "config" not in tcp_api.get("/1.0").json()["metadata"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_pages_refuse_to_be_framed_by_another_site(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
