"""The YAML the admin, ``manage.py import`` and ``manage.py edit`` read: refused as go-yaml and the
API's JSON parser refuse it, before anything is stored.

``load_yaml`` turns the document into JSON values, which copies every aliased node again: a
few hundred bytes of anchors would become gigabytes. go-yaml refuses a document whose aliases
expand too far; so does lxdsite, by go-yaml's own measure.
"""

import datetime
import io
import tracemalloc

import pytest
import yaml
from django.core.management import CommandError, call_command

from resources.documents import DocumentError, load_yaml
from resources.models import Image, Profile
from tests.support.image_files import unified_image

# Each line holds nine of the previous: the last expands to 9^6 strings (kept small enough that
# a reader without the limit survives it to fail the test).
BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n" for previous, name in zip("abcde", "bcdef", strict=True)
)


@pytest.mark.parametrize("strings", [False, True])
def test_alias_bomb_is_refused_as_go_yaml_refuses_it(strings):
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError) as refused:
            load_yaml(BOMB, strings=strings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert str(refused.value) == "Invalid YAML: document contains excessive aliasing"
    assert peak < 16 << 20


def test_aliases_within_go_yaml_limits_are_read():
    shared = "base: &base {limits.cpu: '2'}\nprofiles:\n" + "".join(f"  p{n}: *base\n" for n in range(50))

    document = load_yaml(shared)

    assert document["profiles"]["p49"] == {"limits.cpu": "2"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('description: "\\ud800"', "Invalid YAML: string contains an unpaired surrogate"),
        ('"\\udfff": x', "Invalid YAML: string contains an unpaired surrogate"),
        ('description: "a\\0b"', "Invalid YAML: string contains a NUL character"),
    ],
)
def test_text_no_database_stores_is_refused(text, error):
    with pytest.raises(DocumentError) as refused:
        load_yaml(text)

    assert str(refused.value) == error


@pytest.mark.django_db
def test_import_of_an_alias_bomb_stores_nothing(tmp_path):
    document = tmp_path / "bomb.yaml"
    document.write_text(BOMB + "profiles:\n  - name: p\n    description: x\n")

    with pytest.raises(CommandError) as refused:
        call_command("import", str(document), stdout=io.StringIO(), stderr=io.StringIO())

    assert str(refused.value) == "Nothing imported: Invalid YAML: document contains excessive aliasing"
    assert list(Profile.objects.values_list("name", flat=True)) == ["default"]


@pytest.mark.django_db
def test_import_refuses_image_values_that_could_not_be_read_back(images_dir, tmp_path, upload):
    fingerprint = upload(unified_image()).fingerprint
    exported, files = tmp_path / "export.yaml", tmp_path / "files"
    call_command("export", "--output", str(exported), "--with-files", str(files), stdout=io.StringIO())
    Image.objects.all().delete()
    document = yaml.safe_load(exported.read_text())
    (image,) = document["images"]
    image["uploaded_at"] = "9999-12-31T23:59:59-14:00"
    exported.write_text(yaml.safe_dump(document))

    call_command("import", str(exported), "--with-files", str(files), stdout=io.StringIO())
    # An uploaded_at that cannot be stored is read as unreadable: the import's own time.
    assert Image.objects.get().uploaded_at.year == datetime.datetime.now(datetime.UTC).year

    Image.objects.all().delete()
    image["filename"] = "f" * 256
    exported.write_text(yaml.safe_dump(document))
    with pytest.raises(CommandError) as refused:
        call_command("import", str(exported), "--with-files", str(files), stdout=io.StringIO())

    assert str(refused.value) == (
        f"Nothing imported: Image {fingerprint[:12]}: File names may not be longer than 255 characters"
    )
    assert not Image.objects.exists()
