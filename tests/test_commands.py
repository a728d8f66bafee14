"""manage.py show, edit (with a real $EDITOR process), export and import."""

import base64
import datetime
import io
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml
from django.core.management import CommandError, call_command

from resources.documents import DocumentError, load_yaml
from resources.management.commands import edit
from resources.models import Image, ImageAlias, Instance, InstanceProfile, Profile, Server
from resources.serializers.certificates import parse_certificate_pem
from resources.server_identity import generate_certificate
from tests.support.image_files import split_image, unified_image
from tests.support.images import make_image
from tests.support.live_server import REPO_ROOT
from tests.support.lxc import ROOT_DISK

# Instances live in a pool: their root disks resolve to one (tests/test_storage_instances.py).
pytestmark = pytest.mark.usefixtures("default_pool")

EDITOR_SCRIPT = """
import pathlib, shutil, sys
steps = pathlib.Path(sys.argv[1])
count = len(list(steps.glob("seen-*")))
target = pathlib.Path(sys.argv[2])
shutil.copy(target, steps / f"seen-{count}")
step = steps / f"step-{count}"
if step.exists():
    target.write_text(step.read_text())
"""


@pytest.fixture
def editor(tmp_path, monkeypatch):
    """Set $EDITOR to a script that writes the given texts, one per opening (None: leave it).

    Returns a function taking the texts and returning what the editor saw at each opening.
    """
    steps = tmp_path / "editor"
    steps.mkdir()
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script} {steps}")

    def program(*texts):
        for number, text in enumerate(texts):
            if text is not None:
                (steps / f"step-{number}").write_text(textwrap.dedent(text))
        return lambda: [(steps / f"seen-{n}").read_text() for n in range(len(list(steps.glob("seen-*"))))]

    return program


def run(*args):
    """call_command, returning (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_show_profile_prints_the_api_representation(profile):
    out, _ = run("show", "profile", "p1")

    assert yaml.safe_load(out) == {
        "config": {"limits.cpu": "1", "user.note": "a<b>&c"},
        "description": "test profile",
        "devices": {"data": {"path": "/mnt", "source": "/tmp", "type": "disk"}},
        "name": "p1",
        "used_by": [],
    }
    assert out.startswith("config:\n  limits.cpu: '1'\n")


@pytest.mark.django_db
def test_show_server_hides_the_trust_password(api):
    api.patch("/1.0", {"config": {"core.trust_password": "secret", "images.auto_update_interval": "12"}})

    out, _ = run("show", "server")

    assert yaml.safe_load(out) == {"config": {"core.trust_password": True, "images.auto_update_interval": "12"}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "profile", "nope"], "Profile 'nope' not found"),
        (["show", "profile"], "show profile needs a NAME"),
        (["show", "container", "x"], "invalid choice: 'container'"),
        (["show", "instance", "x"], "Instance 'x' not found"),
        (["edit", "profile", "nope"], "Profile 'nope' not found"),
        (["edit", "profile"], "edit profile needs a NAME"),
    ],
)
def test_show_and_edit_fail_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


@pytest.mark.django_db
def test_edit_writes_through_the_serializer(editor, api, profile):
    before = api.get("/1.0/profiles/p1").headers["ETag"]
    seen = editor(
        """\
        config:
          limits.cpu: 2
        description: edited
        devices: {}
        name: ignored
        """
    )

    out, _ = run("edit", "profile", "p1")

    assert "Saved profile p1." in out
    assert seen()[0].startswith("### This is a YAML representation of the profile.")
    profile.refresh_from_db()
    assert (profile.name, profile.description, profile.config, profile.devices) == (
        "p1",
        "edited",
        {"limits.cpu": "2"},
        {},
    )
    assert api.get("/1.0/profiles/p1").headers["ETag"] != before


@pytest.mark.django_db
def test_edit_with_an_unchanged_file_writes_nothing(editor, profile):
    editor(None)

    out, _ = run("edit", "profile", "p1")

    assert "No changes." in out
    assert Profile.objects.get(pk=profile.pk).config == profile.config


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("config: [unclosed\n", "Invalid YAML"),
        ("config:\n  limits.cpu: abc\n", "Invalid CPU limit syntax"),
        ("- a list\n", "The document must be a YAML mapping"),
    ],
)
def test_edit_reopens_on_a_refused_file_until_fixed(editor, profile, bad, message):
    seen = editor(bad, "config:\n  limits.cpu: '3'\ndescription: fixed\n")

    out, err = run("edit", "profile", "p1")

    assert message in err
    assert "Opening the editor again" in err
    # The second opening shows what the user wrote, to fix it.
    assert seen()[1] == bad
    assert "Saved profile p1." in out
    profile.refresh_from_db()
    assert (profile.config, profile.description) == ({"limits.cpu": "3"}, "fixed")


@pytest.mark.django_db
def test_edit_gives_up_when_a_refused_file_is_closed_unchanged(editor, profile):
    editor("config:\n  limits.cpu: abc\n", None)

    with pytest.raises(CommandError, match="Edit abandoned, nothing saved: Invalid CPU limit syntax"):
        run("edit", "profile", "p1")

    assert Profile.objects.get(pk=profile.pk).config == profile.config


@pytest.mark.django_db
def test_edit_conflict_reopens_with_the_current_object(editor, api, profile, monkeypatch):
    seen = editor(
        "config:\n  limits.cpu: '8'\ndescription: mine\n",
        "config:\n  limits.cpu: '4'\n  limits.memory: 1GiB\ndescription: mine\n",
    )
    real_run_editor = edit.Command.run_editor

    def run_editor_while_the_api_changes_it(command, path, text):
        edited = real_run_editor(command, path, text)
        if len(seen()) == 1:
            # Someone changes the profile while the first editor session is open.
            assert api.patch("/1.0/profiles/p1", {"config": {"limits.cpu": "4"}}).status_code == 200
        return edited

    monkeypatch.setattr(edit.Command, "run_editor", run_editor_while_the_api_changes_it)

    out, err = run("edit", "profile", "p1")

    assert "changed by someone else while you edited it; nothing was saved" in err
    assert "limits.cpu: '4'" in seen()[1]
    assert "limits.cpu: '1'" not in seen()[1]
    assert "Saved profile p1." in out
    profile.refresh_from_db()
    assert profile.config == {"limits.cpu": "4", "limits.memory": "1GiB"}
    assert profile.description == "mine"


@pytest.mark.django_db
def test_edit_server_config_keeps_the_hidden_password(editor, api):
    api.patch("/1.0", {"config": {"core.trust_password": "secret"}})
    stored = Server.objects.get().config["core.trust_password"]
    editor("config:\n  core.trust_password: true\n  images.auto_update_interval: '12'\n")

    out, _ = run("edit", "server")

    assert "Saved server." in out
    assert Server.objects.get().config == {"core.trust_password": stored, "images.auto_update_interval": "12"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "message"),
    [("false", "exited with status 1; nothing saved"), ("/nonexistent/editor", "Cannot run the editor")],
)
def test_edit_fails_cleanly_when_the_editor_does(monkeypatch, profile, command, message):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", command)

    with pytest.raises(CommandError, match=message):
        run("edit", "profile", "p1")


def manage(lxd_dir, *args, stdin=None):
    """Run manage.py in a fresh process on the SQLite database under ``lxd_dir``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LXD_DIR"] = str(lxd_dir)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def round_trip(tmp_path, with_files=False):
    """Export this database, import the document into a fresh SQLite database under
    ``tmp_path / "fresh"`` (new processes, as an operator would) and export that again: the
    second export, which must equal the first, as a document."""
    exported, fresh = tmp_path / "export.yaml", tmp_path / "fresh"
    files = ["--with-files", str(tmp_path / "files")] if with_files else []
    run("export", "--output", str(exported), *files)
    fresh.mkdir()
    migrated = manage(fresh, "migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    imported = manage(fresh, "import", str(exported), *files)
    assert imported.returncode == 0, imported.stderr
    again = manage(fresh, "export", *(["--with-files", str(tmp_path / "again")] if with_files else []))
    assert again.returncode == 0, again.stderr
    assert again.stdout == exported.read_text()
    return yaml.safe_load(again.stdout)


@pytest.mark.django_db
def test_export_then_import_into_an_empty_database_gives_the_same_document(api, profile, tmp_path):
    api.patch("/1.0", {"config": {"core.trust_password": "secret", "images.auto_update_interval": "12"}})
    api.put("/1.0/profiles/default", {"description": "changed default", "config": {"limits.cpu": "2"}})
    api.post("/1.0/profiles", {"name": "quoted: 'yes' & \"no\"", "description": "123", "config": {"user.n": "007"}})
    certificate = base64.b64encode(parse_certificate_pem(generate_certificate(client=True)[0])).decode()
    trusted = {"type": "client", "name": "ops", "restricted": True, "projects": ["default"]}
    assert api.post("/1.0/certificates", {**trusted, "certificate": certificate}).status_code == 201
    document = round_trip(tmp_path)
    assert [p["name"] for p in document["profiles"]] == ["default", "p1", "quoted: 'yes' & \"no\""]
    assert document["server"]["config"]["core.trust_password"].startswith("pbkdf2_sha256$")
    assert [{key: c[key] for key in trusted} for c in document["certificates"]] == [trusted]


def api_operation(response):
    """The operation a 202 answered with; it must have succeeded."""
    assert response.status_code == 202, response.content
    operation = response.json()["metadata"]
    assert operation["status"] == "Success", operation
    return operation


@pytest.fixture
def instances(api, profile):
    """Through the API: a running container with two snapshots taken at different configs, and a VM."""
    api_operation(
        api.post(
            "/1.0/instances",
            {
                "name": "c1",
                "source": {"type": "none"},
                "profiles": ["p1", "default"],
                "config": {"limits.cpu": "2", "user.note": "first"},
                "devices": {"data": {"type": "disk", "path": "/srv", "source": "/tmp"}},
                "description": "web <&>",
            },
        )
    )
    api_operation(api.post("/1.0/instances/c1/snapshots", {"name": "s1"}))
    api_operation(api.put("/1.0/instances/c1/snapshots/s1", {"expires_at": "2030-01-02T03:04:05Z"}))
    api_operation(
        api.put(
            "/1.0/instances/c1",
            {"config": {"user.note": "second"}, "profiles": ["default"], "ephemeral": True, "description": "web <&>"},
        )
    )
    api_operation(api.post("/1.0/instances/c1/snapshots", {}))
    api_operation(api.put("/1.0/instances/c1/state", {"action": "start"}))
    api_operation(api.post("/1.0/instances", {"name": "v1", "type": "virtual-machine", "source": {"type": "none"}}))
    # What no API request sets here, but the model stores and an export must carry.
    Instance.objects.filter(name="v1").update(
        stateful=True, last_used_at=datetime.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)
    )
    return Instance.objects.order_by("name")


@pytest.mark.django_db
def test_export_and_import_carry_instances_and_snapshots(instances, tmp_path):
    document = round_trip(tmp_path)
    c1, v1 = document["instances"]
    stored = instances.get(name="c1")
    assert (c1["status"], c1["profiles"], c1["ephemeral"], c1["description"]) == (
        "Running",
        ["default"],
        True,
        "web <&>",
    )
    assert c1["config"] == stored.config
    assert c1["config"]["volatile.uuid"] == stored.config["volatile.uuid"]
    assert [(s["name"], s["profiles"], s["config"]["user.note"]) for s in c1["snapshots"]] == [
        ("s1", ["p1", "default"], "first"),
        ("snap0", ["default"], "second"),
    ]
    assert c1["snapshots"][0]["expires_at"] == "2030-01-02T03:04:05Z"
    assert c1["created_at"] != "0001-01-01T00:00:00Z"
    assert (v1["type"], v1["stateful"], v1["last_used_at"]) == ("virtual-machine", True, "2026-05-06T07:08:09.123456Z")


@pytest.mark.django_db
def test_export_and_import_carry_instance_metadata_and_templates(instances, api, tmp_path):
    metadata = {"architecture": "x86_64", "creation_date": 7, "properties": {"os": "tiny"}}
    assert api.put("/1.0/instances/c1/metadata", metadata).status_code == 200
    template = b"\x00binary {{ name }}\xff"
    api.generic("POST", "/1.0/instances/c1/metadata/templates?path=h.tpl", template, "application/octet-stream")
    document = round_trip(tmp_path)
    c1 = next(item for item in document["instances"] if item["name"] == "c1")
    assert c1["metadata"]["properties"] == {"os": "tiny"}
    assert base64.b64decode(c1["templates"]["h.tpl"]) == template


@pytest.mark.django_db
def test_import_puts_instances_back_as_exported(api, instances, tmp_path):
    exported = tmp_path / "export.yaml"
    run("export", "--output", str(exported))
    api_operation(api.put("/1.0/instances/c1", {"config": {"limits.cpu": "4"}, "profiles": ["p1"]}))
    api_operation(api.delete("/1.0/instances/c1/snapshots/s1"))
    api_operation(api.post("/1.0/instances/c1/snapshots", {"name": "extra"}))
    api_operation(api.put("/1.0/instances/c1/state", {"action": "stop"}))

    run("import", str(exported))

    out, _ = run("export")
    document, before = yaml.safe_load(out), yaml.safe_load(exported.read_text())
    # Replaced by name; a snapshot the document does not name is left alone, as objects are.
    assert [s["name"] for s in document["instances"][0]["snapshots"]] == ["extra", "s1", "snap0"]
    document["instances"][0]["snapshots"] = [s for s in document["instances"][0]["snapshots"] if s["name"] != "extra"]
    assert document == before


@pytest.mark.django_db
def test_import_refuses_to_turn_a_vm_into_a_container(instances, tmp_path):
    before, _ = run("export")
    path = tmp_path / "vm.yaml"
    path.write_text("instances:\n- name: v1\n  type: container\n  description: changed\n")

    with pytest.raises(CommandError, match="Instance 'v1': It is a virtual-machine, not a container"):
        run("import", str(path))
    assert run("export")[0] == before
    path.write_text("instances:\n- name: v1\n  description: changed\n")
    run("import", str(path))

    assert (Instance.objects.get(name="v1").type, Instance.objects.get(name="v1").description) == (
        "virtual-machine",
        "changed",
    )


@pytest.mark.django_db
def test_export_and_import_carry_images_and_aliases_with_their_files(api, profile, images_dir, tmp_path, upload):
    unified = upload(unified_image(), HTTP_X_LXD_FILENAME="u.tar.gz").fingerprint
    split = upload(split_image(), HTTP_X_LXD_PUBLIC="true").fingerprint
    api.put(
        f"/1.0/images/{unified}", {"profiles": ["p1", "default"], "properties": {"os": "edited"}, "auto_update": True}
    )
    api.post("/1.0/images/aliases", {"name": "tiny", "description": "unified", "target": unified})
    api.post("/1.0/images/aliases", {"name": "split", "target": split})
    document = round_trip(tmp_path, with_files=True)
    fresh = tmp_path / "fresh"
    assert {image["fingerprint"]: image["profiles"] for image in document["images"]} == {
        unified: ["p1", "default"],
        split: ["default"],
    }
    assert [alias["name"] for alias in document["aliases"]] == ["split", "tiny"]
    for name in (unified, split, f"{split}.rootfs"):
        assert (fresh / "images" / name).read_bytes() == (images_dir / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == (images_dir / name).read_bytes()


@pytest.mark.django_db
def test_export_and_import_carry_every_projects_objects(api, default_pool, profile, images_dir, tmp_path, upload):
    features = {"features.profiles": "true", "features.images": "true", "limits.instances": "5"}
    assert api.post("/1.0/projects", {"name": "p2", "description": "second", "config": features}).status_code == 201
    # The same names in two projects stay two objects.
    api.post("/1.0/profiles?project=p2", {"name": "p1", "config": {"limits.cpu": "4"}})
    fingerprint = upload(unified_image(), url="/1.0/images?project=p2").fingerprint
    api.post("/1.0/images/aliases?project=p2", {"name": "tiny", "target": fingerprint})
    for query in ("", "?project=p2"):
        body = {"name": "c1", "source": {"type": "none"}, "profiles": ["p1"], "devices": ROOT_DISK}
        api_operation(api.post(f"/1.0/instances{query}", body))
    api_operation(api.post("/1.0/instances/c1/snapshots?project=p2", {"name": "s1"}))
    document = round_trip(tmp_path, with_files=True)
    shown = manage(tmp_path / "fresh", "show", "profile", "p1", "--project", "p2")
    assert [instance["name"] for instance in document["instances"]] == ["c1"]
    assert document["images"] == document["aliases"] == []
    [project] = document["projects"]
    expected_config = {**features, "features.storage.volumes": "true"}
    assert (project["name"], project["description"], project["config"]) == ("p2", "second", expected_config)
    assert [p["name"] for p in project["profiles"]] == ["default", "p1"]
    assert [image["fingerprint"] for image in project["images"]] == [fingerprint]
    assert [(alias["name"], alias["target"]) for alias in project["aliases"]] == [("tiny", fingerprint)]
    assert [(i["name"], [s["name"] for s in i["snapshots"]]) for i in project["instances"]] == [("c1", ["s1"])]
    assert yaml.safe_load(shown.stdout)["config"] == {"limits.cpu": "4"}
    assert [pool["name"] for pool in document["storage_pools"]] == ["default"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("project", "message"),
    [
        ({"name": "default"}, "The default project's objects belong at the top level of the document"),
        ({"name": "p2", "colour": "red"}, "Project 'p2': unknown keys: colour"),
        (
            {"name": "p2", "profiles": [{"name": "a/b"}]},
            "Project 'p2': Profile 'a/b': Profile names may not contain slashes",
        ),
        ({"name": "bad name"}, "Project 'bad name': Project names may not contain spaces"),
    ],
)
def test_import_refuses_a_bad_project_and_saves_nothing(tmp_path, project, message):
    document = tmp_path / "bad.yaml"
    document.write_text(yaml.safe_dump({"profiles": [{"name": "kept-out"}], "projects": [project]}))

    with pytest.raises(CommandError, match=re.escape(f"Nothing imported: {message}")):
        run("import", str(document))
    assert not Profile.objects.filter(name="kept-out").exists()


@pytest.mark.django_db
def test_show_names_objects_in_a_project(api, profile):
    api.post("/1.0/projects", {"name": "p2", "config": {"features.profiles": "false"}})

    # A project without its own profiles shows the default project's.
    assert yaml.safe_load(run("show", "profile", "p1", "--project", "p2")[0])["name"] == "p1"
    with pytest.raises(CommandError, match="Project 'nosuch' not found"):
        run("show", "profile", "p1", "--project", "nosuch")
    api.post("/1.0/projects", {"name": "p3"})
    with pytest.raises(CommandError, match="Profile 'p1' not found in project 'p3'"):
        run("show", "profile", "p1", "--project", "p3")


@pytest.mark.django_db
def test_import_refuses_image_files_that_do_not_match(images_dir, tmp_path, upload):
    fingerprint = upload(unified_image()).fingerprint
    exported, files = tmp_path / "export.yaml", tmp_path / "files"
    run("export", "--output", str(exported), "--with-files", str(files))
    Image.objects.all().delete()
    (files / fingerprint).write_bytes(unified_image())

    with pytest.raises(CommandError, match=f"Image {fingerprint[:12]}: The files in .* do not match the fingerprint"):
        run("import", str(exported), "--with-files", str(files))
    (files / fingerprint).unlink()
    with pytest.raises(CommandError, match=r"Cannot read .* \(export and import with --with-files\)"):
        run("import", str(exported), "--with-files", str(files))

    assert not Image.objects.exists()


@pytest.mark.django_db
def test_export_to_stdout_and_import_from_stdin(profile, monkeypatch):
    out, _ = run("export")
    Profile.objects.filter(pk=profile.pk).delete()
    monkeypatch.setattr(sys, "stdin", io.StringIO(out))

    imported, _ = run("import", "-")

    assert "Imported." in imported
    assert Profile.objects.get(name="p1").devices == profile.devices


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("profiles: [unclosed\n", "Invalid YAML"),
        ("- a list\n", "must be a YAML mapping"),
        ("containers: []\n", "Unknown sections: containers"),
        (
            "profiles:\n- name: ok\n- name: bad\n  config: {limits.cpu: abc}\n",
            "Profile 'bad': Invalid CPU limit syntax",
        ),
        ("profiles:\n- name: a/b\n", "Profile names may not contain slashes"),
        ("server:\n  config: {core.https_address: '127.0.0.1:99999'}\n", "Server: Cannot listen on network HTTPS"),
        (
            "profiles:\n- name: ok\ninstances:\n- name: c1\n  profiles: [ok, missing]\n",
            "Instance 'c1': Requested profile \"missing\" doesn't exist",
        ),
        (
            "instances:\n- name: c1\n  snapshots:\n  - name: s1\n  - name: s1\n",
            "Instance 'c1': Snapshot 's1': Snapshot \"s1\" already exists",
        ),
        ("instances:\n- name: c1\n  snapshots:\n  - name: a/b\n", "Snapshot names may not contain slashes"),
        ("instances:\n- name: c1\n  snapshots: [s1]\n", "Instance 'c1': 'snapshots' must be a list of mappings"),
        ("instances:\n- name: 1c\n", "Invalid instance name: Name must not start with a number"),
        ("instances:\n- name: c1\n  status: Sleeping\n", "Instance 'c1': .*Sleeping"),
        ("instances:\n- name: c1\n  type: vm\n", "Instance 'c1': Invalid instance type 'vm'"),
        ("instances:\n- name: c1\n  config: {limits.cpu: abc}\n", "Instance 'c1': .*Invalid CPU limit syntax"),
        ("instances:\n- name: c1\n  created_at: yesterday\n", "Instance 'c1': .*not an RFC 3339 time"),
        ("instances:\n- name: c1\n  snapshots:\n  - {name: s1, architecture: z80}\n", "architecture isn't supported"),
    ],
)
def test_import_refuses_a_bad_document_and_saves_nothing(tmp_path, document, message):
    path = tmp_path / "bad.yaml"
    path.write_text(document)

    with pytest.raises(CommandError, match=f"Nothing imported: .*{message}"):
        run("import", str(path))

    assert list(Profile.objects.values_list("name", flat=True)) == ["default"]
    assert Server.objects.get().config == {}
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_import_and_export_report_file_errors(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.yaml"):
        run("import", str(tmp_path / "missing.yaml"))
    with pytest.raises(CommandError, match="Cannot write"):
        run("export", "--output", str(tmp_path / "no" / "such" / "dir.yaml"))


def test_commands_never_print_a_traceback(tmp_path):
    """From the command line a failure is one line on stderr and exit status 1."""
    result = manage(tmp_path, "import", str(tmp_path / "missing.yaml"))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("CommandError: Cannot read")


@pytest.mark.parametrize("args", [["show", "server"], ["export"], ["edit", "profile", "default"]])
def test_a_database_that_cannot_be_opened_is_one_line(tmp_path, args):
    result = manage(tmp_path / "no" / "such" / "dir", *args)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("CommandError: Database error: unable to open database file")


@pytest.mark.django_db
def test_show_image_by_fingerprint_prefix(image):
    out, _ = run("show", "image", image.fingerprint[:6])

    document = yaml.safe_load(out)
    assert document["fingerprint"] == image.fingerprint
    assert document["profiles"] == ["p1"]
    assert document["aliases"] == [{"name": "alpine", "description": "small"}]
    assert document["properties"] == {"os": "Alpine"}


@pytest.mark.django_db
def test_show_image_that_is_not_there(image):
    with pytest.raises(CommandError, match="Image 'ffff': Image not found"):
        run("show", "image", "ffff")


@pytest.mark.django_db
def test_edit_image_profiles_and_properties(editor, image):
    Profile.objects.create(name="web")
    shown = yaml.safe_load(run("show", "image", image.fingerprint)[0])
    editor(yaml.safe_dump({**shown, "profiles": ["web", "p1"], "properties": {"os": "Alpine", "release": "3"}}))

    out, _ = run("edit", "image", image.fingerprint[:4])

    assert f"Saved image {image.fingerprint}." in out
    image.refresh_from_db()
    assert [link.profile.name for link in image.profile_links.all()] == ["web", "p1"]
    assert image.properties == {"os": "Alpine", "release": "3"}


@pytest.mark.django_db
def test_edit_image_conflict_on_profiles_the_etag_leaves_out(editor, api, image, monkeypatch):
    shown = yaml.safe_load(run("show", "image", image.fingerprint)[0])
    seen = editor(yaml.safe_dump({**shown, "public": True}), None)
    real_run_editor = edit.Command.run_editor

    def run_editor_while_the_api_changes_it(command, path, text):
        edited = real_run_editor(command, path, text)
        if len(seen()) == 1:
            document = {"properties": {"os": "Alpine"}, "profiles": ["default"]}
            response = api.put(f"/1.0/images/{image.fingerprint}", document)
            assert response.status_code == 200
        return edited

    monkeypatch.setattr(edit.Command, "run_editor", run_editor_while_the_api_changes_it)

    out, err = run("edit", "image", image.fingerprint)

    assert "changed by someone else" in err
    assert "- default" in seen()[1]
    assert "No changes." in out
    image.refresh_from_db()
    assert image.public is False
    assert [link.profile.name for link in image.profile_links.all()] == ["default"]


@pytest.mark.django_db
def test_edit_alias_target_by_prefix(editor, image):
    other = make_image("ef56" * 16, size=1)
    editor("description: moved\ntarget: ef56\n")

    out, _ = run("edit", "alias", "alpine")

    assert "Saved alias alpine." in out
    alias = ImageAlias.objects.get(name="alpine")
    assert (alias.description, alias.image) == ("moved", other)


@pytest.mark.django_db
def test_edit_of_a_profile_deleted_meanwhile_saves_nothing(editor, api, profile, monkeypatch):
    editor("config:\n  limits.cpu: '8'\n")
    real_run_editor = edit.Command.run_editor

    def run_editor_while_the_api_deletes_it(command, path, text):
        edited = real_run_editor(command, path, text)
        assert api.delete("/1.0/profiles/p1").status_code == 200
        return edited

    monkeypatch.setattr(edit.Command, "run_editor", run_editor_while_the_api_deletes_it)

    with pytest.raises(CommandError, match="The profile was deleted while you edited it; nothing saved"):
        run("edit", "profile", "p1")

    assert not Profile.objects.filter(name="p1").exists()


@pytest.mark.django_db
def test_show_and_edit_an_instance(editor, profile):
    instance = Instance.objects.create(name="c1", config={"limits.cpu": "1", "volatile.uuid": "u-1"})
    InstanceProfile.objects.create(instance=instance, profile=Profile.objects.get(name="default"))
    shown = yaml.safe_load(run("show", "instance", "c1")[0])
    assert (shown["profiles"], shown["status"], shown["expanded_config"]) == (
        ["default"],
        "Stopped",
        {"limits.cpu": "1", "volatile.uuid": "u-1"},
    )
    editor(
        yaml.safe_dump({**shown, "profiles": ["default", "p1"], "description": "web", "config": {"limits.cpu": "2"}})
    )

    out, _ = run("edit", "instance", "c1")

    assert "Saved instance c1." in out
    instance.refresh_from_db()
    assert [p.name for p in instance.profile_list()] == ["default", "p1"]
    assert (instance.description, instance.config) == ("web", {"limits.cpu": "2", "volatile.uuid": "u-1"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("d: 2001-01-01\nn: 2\nb: true\nx: null\n", {"d": "2001-01-01", "n": 2, "b": True, "x": None}),
        ("1: a\n", {"1": "a"}),
    ],
)
def test_yaml_documents_hold_json_values(text, expected):
    assert load_yaml(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("d: !!timestamp 2001-13-01\n", "month must be in 1..12"),
        ("b: !!binary aGVsbG8=\n", "not JSON serializable"),
        ("f: .nan\n", "Out of range float values are not JSON compliant"),
        ("a: [1,\n", "while parsing a flow node"),
    ],
)
def test_yaml_that_is_not_json_is_a_document_error(text, message):
    with pytest.raises(DocumentError, match=f"Invalid YAML: .*{re.escape(message)}"):
        load_yaml(text)


@pytest.mark.django_db
def test_export_and_import_carry_networks_acls_and_zones_before_the_nics_naming_them(api, tmp_path):
    api.post("/1.0/network-zones", {"name": "z.example.com", "config": {"user.z": "1"}})
    api.post("/1.0/network-acls", {"name": "a1", "ingress": [{"action": "allow", "state": "enabled"}]})
    none = {"ipv4.address": "none", "ipv6.address": "none"}
    api.post(
        "/1.0/networks", {"name": "br0", "config": {**none, "security.acls": "a1", "dns.zone.forward": "z.example.com"}}
    )
    api.post("/1.0/networks", {"name": "mv0", "type": "macvlan", "config": {"parent": "eth9"}})
    api.post("/1.0/profiles", {"name": "net", "devices": {"eth0": {"type": "nic", "network": "br0"}}})
    port = {"protocol": "tcp", "listen_port": "80", "target_address": "10.0.0.5"}
    api.post("/1.0/networks", {"name": "br1", "config": {"ipv4.address": "10.0.0.1/24", "ipv6.address": "none"}})
    assert api.post("/1.0/networks/br1/forwards", {"listen_address": "192.0.2.1", "ports": [port]}).status_code == 201
    document = round_trip(tmp_path)
    assert [(n["name"], n["type"]) for n in document["networks"]] == [
        ("br0", "bridge"),
        ("mv0", "macvlan"),
        ("br1", "bridge"),
    ]
    assert [a["name"] for a in document["network_acls"]] == ["a1"]
    assert [z["name"] for z in document["network_zones"]] == ["z.example.com"]
    assert [(f["network"], f["listen_address"]) for f in document["network_forwards"]] == [("br1", "192.0.2.1")]


@pytest.mark.django_db
def test_export_and_import_carry_ovn_forwards_in_their_uplinks_routes(api, tmp_path):
    # The uplink (default project) routes the listen addresses; an OVN network of another project uses it.
    uplink = {"ipv4.address": "none", "ipv6.address": "none", "ipv4.routes": "192.0.2.0/24"}
    assert api.post("/1.0/networks", {"name": "up0", "config": uplink}).status_code == 201
    api.post("/1.0/projects", {"name": "own", "config": {"features.networks": "true"}})
    ovn = {"network": "up0", "ipv4.address": "10.9.0.1/24", "ipv4.nat": "true", "ipv6.address": "none"}
    port = {"protocol": "udp", "listen_port": "53", "target_address": "10.9.0.5", "description": "dns"}
    for query, listen in (("", "192.0.2.1"), ("?project=own", "192.0.2.2")):
        assert api.post(f"/1.0/networks{query}", {"name": "ovn0", "type": "ovn", "config": ovn}).status_code == 201
        body = {"listen_address": listen, "config": {"user.a": "1"}, "ports": [port]}
        assert api.post(f"/1.0/networks/ovn0/forwards{query}", body).status_code == 201

    document = round_trip(tmp_path)

    (own,) = document["projects"]
    for section, listen in ((document, "192.0.2.1"), (own, "192.0.2.2")):
        (forward,) = section["network_forwards"]
        assert (forward["network"], forward["listen_address"], forward["config"]) == ("ovn0", listen, {"user.a": "1"})
        assert forward["ports"][0]["description"] == "dns"


@pytest.mark.django_db
def test_a_document_forward_on_a_network_that_takes_none_is_refused(api, tmp_path):
    api.post("/1.0/networks", {"name": "mv0", "type": "macvlan", "config": {"parent": "eth9"}})
    document = tmp_path / "doc.yaml"
    document.write_text(yaml.safe_dump({"network_forwards": [{"network": "mv0", "listen_address": "192.0.2.1"}]}))

    message = "Forward '192.0.2.1': network 'mv0' does not forward (only bridge and ovn networks do)"
    with pytest.raises(CommandError, match=re.escape(f"Nothing imported: {message}")):
        run("import", str(document))


@pytest.mark.django_db
def test_export_and_import_carry_a_projects_networks(api, tmp_path):
    api.post("/1.0/projects", {"name": "own", "config": {"features.networks": "true"}})
    none = {"ipv4.address": "none", "ipv6.address": "none"}
    assert api.post("/1.0/networks", {"name": "up0", "config": none}).status_code == 201
    assert (
        api.post("/1.0/networks?project=own", {"name": "ovn0", "config": {"network": "up0", **none}}).status_code == 201
    )
    assert api.post("/1.0/network-acls?project=own", {"name": "a1"}).status_code == 201
    document = round_trip(tmp_path)
    (own,) = document["projects"]
    assert [(n["name"], n["type"]) for n in own["networks"]] == [("ovn0", "ovn")]
    assert [a["name"] for a in own["network_acls"]] == ["a1"]
