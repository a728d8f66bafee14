"""``/1.0/projects`` in-process: what the daemon cannot show yet without ``?project=``, and where lxdsite differs.

The answers LXD gives for the same requests are compared in ``tests/test_projects_lxd.py``.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from resources.models import Image, ImageAlias, Instance, Operation, Profile, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(api):
    """A project with its own profiles (and so its own ``default`` profile)."""
    assert api.post("/1.0/projects", {"name": "p1", "config": {"features.profiles": "true"}}).status_code == 201
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
