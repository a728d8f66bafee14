"""``/1.0/projects`` in-process: what the daemon cannot show yet without ``?project=``, and where lxdsite differs.

The answers LXD gives for the same requests are compared in ``tests/test_projects_lxd.py``.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from resources.models import Image, ImageAlias, Instance, Operation, Profile, Project
from tests.support.image_files import unified_image
from tests.support.lxc import ROOT_DISK

# Instances live in a pool: their root disks resolve to one (tests/test_storage_instances.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_pool")]


@pytest.fixture
def project(api):
    """A project with its own profiles (and so its own ``default`` profile)."""
    assert api.post("/1.0/projects", {"name": "p1", "config": {"features.profiles": "true"}}).status_code == 201
    # Its instances' root disk, on the default pool (as `lxc profile device add` gives it in LXD).
    Profile.objects.filter(project__name="p1", name="default").update(devices=ROOT_DISK)
    return Project.objects.get(name="p1")


def test_the_default_project_is_lxds_and_holds_what_exists(api):
    body = api.get("/1.0/projects/default").json()["metadata"]

    assert body == {
        "config": {
            "features.images": "true",
            "features.networks": "true",
            "features.profiles": "true",
            "features.storage.volumes": "true",
        },
        "description": "Default LXD project",
        "name": "default",
        "used_by": ["/1.0/profiles/default"],
    }
    made = Instance.objects.create(name="c1")
    assert made.project.name == "default"
    assert api.get("/1.0/projects/default").json()["metadata"]["used_by"] == [
        "/1.0/instances/c1",
        "/1.0/profiles/default",
    ]


def test_a_new_project_gets_lxds_default_features_and_its_own_default_profile(api, project):
    features = ("features.images", "features.profiles", "features.storage.volumes")
    assert project.config == dict.fromkeys(features, "true")
    own = Profile.objects.get(project=project)
    assert (own.name, own.description) == ("default", "Default LXD profile for project p1")
    # The default project's default profile is another row: names are unique per project.
    assert Profile.objects.filter(name="default").count() == 2


def test_a_project_that_holds_objects_is_neither_deleted_nor_renamed(api, project):
    Instance.objects.create(name="c1", project=project)

    refused = api.delete("/1.0/projects/p1")
    # LXD answers 500 with this text; it is the client's mistake (docs/compatibility.md).
    assert refused.status_code == 400
    assert refused.json()["error"] == "Only empty projects can be removed"
    renamed = api.post("/1.0/projects/p1", {"name": "p2"}).json()["metadata"]
    assert (renamed["status"], renamed["err"]) == ("Failure", "Only empty projects can be renamed")
    assert Project.objects.filter(name="p1").exists()


def test_features_of_a_project_that_holds_objects_stay_as_they_are(api, project):
    Profile.objects.create(project=project, name="web")

    refused = api.patch("/1.0/projects/p1", {"config": {"features.images": "false"}})

    assert refused.status_code == 400
    assert refused.json()["error"] == 'Project feature "features.images" cannot be disabled on non-empty projects'
    assert api.patch("/1.0/projects/p1", {"config": {"user.a": "1"}}).status_code == 200


def test_patch_merges_config_where_lxd_5_0_2_replaces_it(api, project):
    # LXD 5.0.2's PATCH merges into a copy it then drops (docs/compatibility.md).
    assert api.patch("/1.0/projects/p1", {"config": {"user.a": "1"}}).status_code == 200

    config = api.get("/1.0/projects/p1").json()["metadata"]["config"]
    assert config == {
        "features.images": "true",
        "features.profiles": "true",
        "features.storage.volumes": "true",
        "user.a": "1",
    }


def test_delete_takes_the_projects_default_profile_with_it(api, project):
    assert api.delete("/1.0/projects/p1").status_code == 200

    assert not Project.objects.filter(name="p1").exists()
    assert list(Profile.objects.values_list("name", flat=True)) == ["default"]


def test_state_counts_the_projects_instances_against_its_limits(api, project):
    api.patch("/1.0/projects/p1", {"config": {"limits.containers": "3", "limits.memory": "1GiB"}})
    Instance.objects.create(name="c1", project=project)
    Instance.objects.create(name="v1", project=project, type="virtual-machine")

    resources = api.get("/1.0/projects/p1/state").json()["metadata"]["resources"]

    assert resources["containers"] == {"Limit": 3, "Usage": 1}
    assert resources["virtual-machines"] == {"Limit": -1, "Usage": 1}
    assert resources["instances"] == {"Limit": -1, "Usage": 2}
    assert resources["memory"]["Limit"] == 1 << 30


def test_the_project_list_costs_the_same_queries_for_any_number_of_projects(api, django_assert_max_num_queries):
    def queries():
        with connection.execute_wrapper(lambda execute, *args: counted.append(1) or execute(*args)):
            assert api.get("/1.0/projects?recursion=1").status_code == 200

    counted = []
    queries()
    one = len(counted)
    for index in range(5):
        project = Project.objects.create(name=f"q{index}")
        Profile.objects.create(project=project, name="default")
        Instance.objects.create(project=project, name="c1")
    counted.clear()
    queries()
    assert len(counted) == one


@pytest.mark.django_db(transaction=True)
def test_the_migration_puts_every_existing_object_in_the_default_project():
    executor = MigrationExecutor(connection)
    executor.migrate([("resources", "0007_change_token")])
    old = executor.loader.project_state([("resources", "0007_change_token")]).apps
    profile = old.get_model("resources", "Profile").objects.create(name="web")
    instance = old.get_model("resources", "Instance").objects.create(name="c1")
    old.get_model("resources", "Snapshot").objects.create(instance=instance, name="s1")
    image = old.get_model("resources", "Image").objects.create(fingerprint="a" * 64, architecture="x86_64")
    old.get_model("resources", "ImageAlias").objects.create(name="a1", image=image)
    old.get_model("resources", "Operation").objects.create(description="Creating instance")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    default = Project.objects.get(pk=Project.DEFAULT_ID)
    assert (default.name, default.description) == ("default", "Default LXD project")
    for model in (Profile, Instance, Image, ImageAlias, Operation):
        assert set(model.objects.values_list("project", flat=True)) == {default.pk}
    assert Profile.objects.get(pk=profile.pk).project == default
    # A project made after the migration gets a fresh id (PostgreSQL's sequence passed the default's).
    assert Project.objects.create(name="p1").pk != default.pk


# ?project= on profiles ------------------------------------------------------------------------


def test_profiles_live_in_the_project_the_request_names(api, project):
    created = api.post("/1.0/profiles?project=p1", {"name": "web", "description": "in p1"})

    assert created.status_code == 201
    assert created.headers["Location"] == "/1.0/profiles/web?project=p1"
    assert api.get("/1.0/profiles?project=p1").json()["metadata"] == [
        "/1.0/profiles/default?project=p1",
        "/1.0/profiles/web?project=p1",
    ]
    assert api.get("/1.0/profiles").json()["metadata"] == ["/1.0/profiles/default"]
    assert api.get("/1.0/profiles/web").status_code == 404
    # The same name in another project is another profile.
    assert api.post("/1.0/profiles", {"name": "web", "description": "in default"}).status_code == 201
    assert api.get("/1.0/profiles/web?project=p1").json()["metadata"]["description"] == "in p1"
    assert api.get("/1.0/profiles/web").json()["metadata"]["description"] == "in default"
    assert api.post("/1.0/profiles?project=p1", {"name": "web"}).status_code == 409


def test_writes_reach_the_profile_of_the_project_named(api, project):
    api.post("/1.0/profiles?project=p1", {"name": "web"})
    api.post("/1.0/profiles", {"name": "web"})

    assert api.patch("/1.0/profiles/web?project=p1", {"description": "patched"}).status_code == 200
    assert api.post("/1.0/profiles/web?project=p1", {"name": "app"}).headers["Location"] == (
        "/1.0/profiles/app?project=p1"
    )
    assert api.delete("/1.0/profiles/app?project=p1").status_code == 200
    assert list(Profile.objects.filter(name="web").values_list("project__name", "description")) == [("default", "")]


def test_a_project_without_its_own_profiles_uses_the_default_projects(api):
    api.post("/1.0/projects", {"name": "nf", "config": {"features.profiles": "false"}})

    assert api.get("/1.0/profiles?project=nf").json()["metadata"] == ["/1.0/profiles/default"]
    created = api.post("/1.0/profiles?project=nf", {"name": "shared"})
    assert created.headers["Location"] == "/1.0/profiles/shared"
    assert Profile.objects.get(name="shared").project_id == Project.DEFAULT_ID


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/1.0/profiles?project=nosuch"),
        ("get", "/1.0/profiles?project=nosuch&recursion=1"),
        ("get", "/1.0/profiles/default?project=nosuch"),
        ("post", "/1.0/profiles?project=nosuch"),
        ("put", "/1.0/profiles/default?project=nosuch"),
        ("patch", "/1.0/profiles/default?project=nosuch"),
        ("post", "/1.0/profiles/default?project=nosuch"),
        ("delete", "/1.0/profiles/default?project=nosuch"),
    ],
)
def test_an_unknown_project_is_lxds_404_and_nothing_is_written(api, method, path):
    response = api.get(path) if method == "get" else getattr(api, method)(path, {"name": "x"})

    assert response.status_code == 404
    assert response.json()["error"] == 'Failed loading project "nosuch": Project not found'
    assert list(Profile.objects.values_list("name", flat=True)) == ["default"]


def test_a_kept_answer_of_one_project_is_never_anothers(api, project):
    from resources.response_cache import RESPONSES

    RESPONSES.clear()
    api.post("/1.0/profiles?project=p1", {"name": "web"})
    in_p1 = [api.get("/1.0/profiles?project=p1&recursion=1").json()["metadata"] for _ in range(2)]
    in_default = api.get("/1.0/profiles?recursion=1").json()["metadata"]
    first_named = api.get("/1.0/profiles?project=default&project=p1&recursion=1").json()["metadata"]

    assert in_p1[0] == in_p1[1] != in_default
    assert [profile["name"] for profile in in_default] == ["default"]
    # Go's FormValue reads the first of repeated values.
    assert first_named == in_default
    RESPONSES.clear()


def test_profile_reads_in_a_project_cost_one_query_more_for_any_number_of_profiles(api, project):
    def count(url):
        counted = []
        with connection.execute_wrapper(lambda execute, *args: counted.append(1) or execute(*args)):
            assert api.get(url).status_code == 200
        return len(counted)

    from resources.response_cache import RESPONSES

    RESPONSES.clear()
    before = {
        url: count(f"{url}&uncached=1") for url in ("/1.0/profiles?recursion=1", "/1.0/profiles?project=p1&recursion=1")
    }
    for index in range(5):
        api.post("/1.0/profiles?project=p1", {"name": f"web{index}"})
    after = {url: count(f"{url}&uncached=2") for url in before}
    assert after == before
    assert before["/1.0/profiles?project=p1&recursion=1"] == before["/1.0/profiles?recursion=1"] + 1
    single = count("/1.0/profiles/web1?project=p1&uncached=1")
    assert single == count("/1.0/profiles/default?uncached=1") + 1


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        # LXD 5.0.2 answers both with 500 (docs/compatibility.md).
        ("/1.0/events?project=nosuch", 404, "Project not found"),
        ("/1.0/events?project=p1&all-projects=true", 400, "Cannot specify a project when requesting all projects"),
        # A project that exists: on to the WebSocket handshake, which this client does not make.
        ("/1.0/events?project=p1", 400, "Missing websocket upgrade"),
    ],
)
def test_events_of_an_unknown_project_are_refused_with_lxds_text(api, project, path, status, error):
    response = api.get(path)

    assert response.status_code == status
    assert response.json()["error"] == error


# ?project= on instances ------------------------------------------------------------------------


def _create_instance(api, name, query=""):
    created = api.post(f"/1.0/instances{query}", {"name": name, "source": {"type": "none"}})
    assert created.status_code == 202, created.content
    return created.json()["metadata"]


def test_instances_live_in_the_project_the_request_names(api, project):
    Profile.objects.filter(project=project).update(config={"user.from": "p1"})
    assert _create_instance(api, "c1", "?project=p1")["status"] == "Success"
    _create_instance(api, "c1")

    assert api.get("/1.0/instances?project=p1").json()["metadata"] == ["/1.0/instances/c1?project=p1"]
    shown = api.get("/1.0/instances/c1?project=p1").json()["metadata"]
    assert (shown["project"], shown["profiles"], shown["expanded_config"]["user.from"]) == ("p1", ["default"], "p1")
    assert api.get("/1.0/instances/c1").json()["metadata"]["project"] == "default"
    assert set(Instance.objects.values_list("project__name", "name")) == {("p1", "c1"), ("default", "c1")}
    # The profile's used_by names its project's instance; the project's used_by too.
    assert api.get("/1.0/profiles/default?project=p1").json()["metadata"]["used_by"] == ["/1.0/instances/c1?project=p1"]
    assert api.get("/1.0/profiles/default").json()["metadata"]["used_by"] == ["/1.0/instances/c1"]
    assert api.get("/1.0/projects/p1").json()["metadata"]["used_by"] == [
        "/1.0/instances/c1?project=p1",
        "/1.0/profiles/default?project=p1",
    ]


def test_writes_reach_the_instance_of_the_project_named(api, project):
    _create_instance(api, "c1", "?project=p1")
    _create_instance(api, "c1")

    assert api.patch("/1.0/instances/c1?project=p1", {"description": "in p1"}).status_code == 200
    snapshot = api.post("/1.0/instances/c1/snapshots?project=p1", {"name": "s1"}).json()["metadata"]
    assert snapshot["status"] == "Success"
    assert api.get("/1.0/instances/c1/snapshots?project=p1").json()["metadata"] == [
        "/1.0/instances/c1/snapshots/s1?project=p1"
    ]
    assert api.get("/1.0/instances/c1/snapshots").json()["metadata"] == []
    assert api.post("/1.0/instances/c1?project=p1", {"name": "c2"}).json()["metadata"]["status"] == "Success"
    assert api.put("/1.0/instances/c2/state?project=p1", {"action": "start"}).status_code == 202
    assert set(Instance.objects.values_list("project__name", "name", "description", "status")) == {
        ("p1", "c2", "in p1", "Running"),
        ("default", "c1", "", "Stopped"),
    }


def test_all_projects_lists_every_projects_instances(api, project):
    api.post("/1.0/projects", {"name": "p2", "config": {"features.profiles": "false"}})
    for name, query in (("z1", ""), ("c1", "?project=p1"), ("b1", "?project=p2"), ("c1", "")):
        _create_instance(api, name, query)

    # As LXD lists them: by name, each URL naming its project outside the default one.
    urls = ["/1.0/instances/b1?project=p2", "/1.0/instances/c1", "/1.0/instances/c1?project=p1", "/1.0/instances/z1"]
    for flag in ("true", "1", "YES", "on"):
        assert api.get(f"/1.0/instances?all-projects={flag}").json()["metadata"] == urls
    assert api.get("/1.0/containers?all-projects=true&project=").json()["metadata"] == [
        url.replace("instances", "containers") for url in urls
    ]
    for recursion in (1, 2):
        listed = api.get(f"/1.0/instances?all-projects=true&recursion={recursion}").json()["metadata"]
        shown = [(i["name"], i["project"]) for i in listed]
        assert shown == [("b1", "p2"), ("c1", "default"), ("c1", "p1"), ("z1", "default")]
    filtered = api.get("/1.0/instances?all-projects=true&filter=name%20eq%20c1").json()["metadata"]
    assert filtered == ["/1.0/instances/c1", "/1.0/instances/c1?project=p1"]
    filtered = api.get("/1.0/instances?all-projects=true&filter=project%20eq%20p2").json()["metadata"]
    assert filtered == ["/1.0/instances/b1?project=p2"]
    # Not asked: the project named (or the default one).
    not_all = api.get("/1.0/instances?all-projects=false&project=p1").json()["metadata"]
    assert not_all == ["/1.0/instances/c1?project=p1"]
    # An object's URL ignores it, as LXD's does.
    assert api.get("/1.0/instances/b1?all-projects=true").status_code == 404
    assert "instance_all_projects" in api.get("/1.0").json()["metadata"]["api_extensions"]


@pytest.mark.parametrize("project_query", ["p1", "default", "nosuch"])
def test_all_projects_with_a_project_is_lxds_400(api, project, project_query):
    response = api.get(f"/1.0/instances?all-projects=true&project={project_query}")

    assert response.status_code == 400
    assert response.json()["error"] == "Cannot specify a project when requesting all projects"


def test_all_projects_costs_the_same_queries_for_any_number_of_instances(api, project):
    def count(url):
        counted = []
        with connection.execute_wrapper(lambda execute, *args: counted.append(1) or execute(*args)):
            assert api.get(url).status_code == 200
        return len(counted)

    _create_instance(api, "c1", "?project=p1")
    urls = [f"/1.0/instances?all-projects=true&recursion={level}" for level in (0, 1, 2)]
    before = [count(f"{url}&uncached=1") for url in urls]
    for index in range(4):
        _create_instance(api, f"d{index}", "?project=p1" if index % 2 else "")
    assert [count(f"{url}&uncached=2") for url in urls] == before


@pytest.mark.parametrize(
    ("method", "path", "status", "answer"),
    [
        ("get", "/1.0/instances?project=nosuch", 200, []),
        ("get", "/1.0/instances?project=nosuch&recursion=2", 200, []),
        ("get", "/1.0/containers?project=nosuch", 200, []),
        ("get", "/1.0/instances/c1?project=nosuch", 404, "Instance not found"),
        ("get", "/1.0/instances/c1/snapshots?project=nosuch", 404, "Instance not found"),
        ("get", "/1.0/instances/c1/state?project=nosuch", 404, "Instance not found"),
        ("put", "/1.0/instances/c1?project=nosuch", 404, "Instance not found"),
        ("delete", "/1.0/instances/c1?project=nosuch", 404, "Instance not found"),
        ("post", "/1.0/instances?project=nosuch", 404, "Failed loading project: Project not found"),
    ],
)
def test_instances_of_an_unknown_project_are_lxds_answers(api, method, path, status, answer):
    _create_instance(api, "c1")
    body = {"name": "c1", "source": {"type": "none"}} if method == "post" else {}

    response = api.get(path) if method == "get" else getattr(api, method)(path, body)

    assert response.status_code == status
    assert response.json()["metadata" if status == 200 else "error"] == answer
    assert list(Instance.objects.values_list("project__name", "name")) == [("default", "c1")]


def test_operations_are_listed_in_their_project(api, project, settings):
    settings.LXDSITE_OPERATION_EXPIRY = 3600
    in_p1 = _create_instance(api, "c1", "?project=p1")["id"]
    in_default = _create_instance(api, "c1")["id"]
    api.post("/1.0/projects", {"name": "p3"})
    renamed = api.post("/1.0/projects/p3", {"name": "p4"}).json()["metadata"]["id"]

    def listed(query):
        groups = api.get(f"/1.0/operations{query}").json()["metadata"]
        return {url.rsplit("/", 1)[1] for urls in groups.values() for url in urls}

    # The server's own operations (a project's rename) are listed in every project, as in LXD.
    assert listed("?project=p1") == {in_p1, renamed}
    assert listed("") == listed("?project=default") == {in_default, renamed}
    assert listed("?project=nosuch") == {renamed}
    # One operation is found by its id whatever the project.
    assert api.get(f"/1.0/operations/{in_p1}").status_code == 200


def test_the_commands_name_the_default_projects_objects(api, project):
    from resources.documents import KINDS
    from resources.documents.transfer import export_document

    api.post("/1.0/profiles?project=p1", {"name": "web", "description": "in p1"})
    api.post("/1.0/profiles", {"name": "web", "description": "in default"})
    _create_instance(api, "c1", "?project=p1")
    _create_instance(api, "c1")

    document = export_document()

    assert [(item["name"], item["description"]) for item in document["profiles"]] == [
        ("default", "Default LXD profile"),
        ("web", "in default"),
    ]
    assert [item["name"] for item in document["instances"]] == ["c1"]
    assert KINDS["profile"].get("web").description == "in default"
    assert KINDS["instance"].get("c1").project_id == Project.DEFAULT_ID
    assert KINDS["project"].get("p1").name == "p1"


# ?project= on images and aliases ---------------------------------------------------------------


def test_images_and_aliases_live_in_the_project_the_request_names(api, project):
    from tests.support.images import make_image

    own = make_image("b" * 64, project=project, profiles=Profile.objects.filter(project=project))
    ImageAlias.objects.create(project=project, name="small", image=own)
    make_image("c" * 64, profiles=Profile.objects.in_default_project())
    api.post("/1.0/projects", {"name": "nf", "config": {"features.images": "false"}})

    assert api.get("/1.0/images?project=p1").json()["metadata"] == [f"/1.0/images/{'b' * 64}"]
    assert api.get("/1.0/images").json()["metadata"] == [f"/1.0/images/{'c' * 64}"]
    assert api.get("/1.0/images?project=nf").json()["metadata"] == [f"/1.0/images/{'c' * 64}"]
    assert api.get(f"/1.0/images/{'b' * 64}").status_code == 404
    assert api.get("/1.0/images/aliases/small?project=p1").json()["metadata"]["target"] == "b" * 64
    assert api.get("/1.0/images/aliases/small").status_code == 404
    # An alias names an image of its own project; an instance is made from its project's images.
    refused = api.post("/1.0/images/aliases", {"name": "x", "target": "b" * 64})
    assert (refused.status_code, refused.json()["error"]) == (404, "Image not found")
    created = api.post("/1.0/instances?project=p1", {"name": "c1", "source": {"type": "image", "alias": "small"}})
    assert created.json()["metadata"]["status"] == "Success"
    assert api.get("/1.0/instances/c1?project=p1").json()["metadata"]["config"]["volatile.base_image"] == "b" * 64
    refused = api.post("/1.0/instances", {"name": "c1", "source": {"type": "image", "alias": "small"}})
    assert (refused.status_code, refused.json()["error"]) == (404, "Image alias not found")


def test_projects_hold_the_same_image_each_and_share_its_files(
    api, upload, images_dir, django_capture_on_commit_callbacks
):
    assert api.post("/1.0/projects", {"name": "p2", "config": {"features.images": "true"}}).status_code == 201
    data = unified_image(marker="shared")
    fingerprints = [upload(data, url=f"/1.0/images{query}").fingerprint for query in ("", "?project=p2")]
    again = upload(data, url="/1.0/images?project=p2").operation

    assert fingerprints[0] == fingerprints[1]
    assert (again["status"], again["err"]) == ("Failure", "Image with same fingerprint already exists")
    assert set(Image.objects.values_list("project__name", flat=True)) == {"default", "p2"}
    fingerprint = fingerprints[0]
    # Deleting one project's image keeps the files the other's still uses.
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/1.0/images/{fingerprint}?project=p2").status_code == 202
    assert b"".join(api.get(f"/1.0/images/{fingerprint}/export").streaming_content) == data
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/1.0/images/{fingerprint}").status_code == 202
    assert not list(images_dir.glob(f"{fingerprint}*"))
