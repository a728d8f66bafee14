"""``POST /1.0/images``: an upload and its ``X-LXD-*`` headers checked as LXD checks them, stored as an image."""

import json
from urllib.parse import parse_qsl

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from ..exceptions import NotImplementedMethod
from ..models import Image, ImageAlias, ImageProfile, Profile, Project
from ..operations import finished_operation
from ..serializers.fields import MAX_NAME_LENGTH
from ..serializers.image_aliases import check_alias_name
from .errors import ImageError
from .metadata import parse_metadata
from .tarballs import scan_tarball
from .uploads import lxd_header, receive_upload


def _storable(text, header):
    """Text from a header, refused if it holds NUL (LXD's database cuts it there; PostgreSQL refuses it)."""
    if "\x00" in text:
        raise ImageError(f"{header}: string contains a NUL character")
    return text


def upload_properties(request):
    """``X-LXD-properties``: URL-encoded ``key=value`` pairs laid over metadata.yaml's."""
    pairs = parse_qsl(lxd_header(request, "HTTP_X_LXD_PROPERTIES"), keep_blank_values=True)
    return {_storable(key, "X-LXD-properties"): _storable(value, "X-LXD-properties") for key, value in pairs}


def upload_aliases(request):
    """``X-LXD-aliases``: ``name=NAME&description=TEXT`` or a bare name, comma-separated when folded.

    The names follow the rules of ``POST /1.0/images/aliases`` (LXD ignores this header).
    """
    aliases = []
    for item in filter(None, (part.strip() for part in lxd_header(request, "HTTP_X_LXD_ALIASES").split(","))):
        fields = dict(parse_qsl(item, keep_blank_values=True)) if "=" in item else {"name": item}
        if fields.get("name"):
            name = _storable(fields["name"], "X-LXD-aliases")
            try:
                check_alias_name(name)
            except ValidationError as exc:
                raise ImageError(str(exc.detail[0])) from exc
            aliases.append((name, _storable(fields.get("description", ""), "X-LXD-aliases")))
    return aliases


def upload_aliases_from(aliases):
    """The ``aliases`` of a JSON ``POST /1.0/images`` (``[{"name": ..., "description": ...}]``),
    checked as ``X-LXD-aliases`` is."""
    checked = []
    for alias in aliases if isinstance(aliases, list) else []:
        alias = alias if isinstance(alias, dict) else {}
        name, description = alias.get("name"), alias.get("description") or ""
        if not isinstance(name, str) or not name or not isinstance(description, str):
            continue
        try:
            check_alias_name(name)
        except ValidationError as exc:
            raise ImageError(str(exc.detail[0])) from exc
        checked.append((_storable(name, "aliases"), _storable(description, "aliases")))
    return checked


def upload_filename(filename):
    """The file name an image keeps: lxc sends a file's base name, which is never longer than 255 bytes."""
    if len(filename) > MAX_NAME_LENGTH:
        raise ImageError(f"File names may not be longer than {MAX_NAME_LENGTH} characters")
    return _storable(filename, "X-LXD-filename")


def go_parse_bool(value):
    """Go's strconv.ParseBool, as LXD reads ``X-LXD-public``; anything else is false."""
    return value in ("1", "t", "T", "TRUE", "true", "True")


def _split_parts(upload):
    """The rootfs part of a split upload and the type its part name gives; (None, None) if unified."""
    names = list(upload.files)
    if names == ["metadata"]:
        return None, None
    if names == ["metadata", "rootfs"]:
        return upload.files["rootfs"], Image.CONTAINER
    if names == ["metadata", "rootfs.img"]:
        return upload.files["rootfs.img"], Image.VIRTUAL_MACHINE
    raise ImageError("Invalid multipart image: expected a metadata part, then a rootfs part")


def _new_image(request, upload, project):
    """The image row an upload makes, checked as LXD checks it (ImageError with LXD's text)."""
    fingerprint = upload.fingerprint
    expected = lxd_header(request, "HTTP_X_LXD_FINGERPRINT")
    if expected and expected != fingerprint:
        raise ImageError(f"fingerprints don't match, got {fingerprint} expected {expected}")
    rootfs, rootfs_type = _split_parts(upload)
    metadata_file = upload.files["metadata"]
    raw, instance_type = scan_tarball(metadata_file.path, unified=rootfs is None)
    metadata = parse_metadata(raw)
    if not (rootfs_type or instance_type):
        raise ImageError("Invalid instance type")
    return Image(
        project=project,
        fingerprint=fingerprint,
        # LXD names a split image after its rootfs file.
        filename=upload_filename((rootfs or metadata_file).filename),
        size=upload.size,
        architecture=metadata.architecture,
        type=rootfs_type or instance_type,
        split=rootfs is not None,
        public=go_parse_bool(request.META.get("HTTP_X_LXD_PUBLIC", "")),
        properties={**metadata.properties, **upload_properties(request)},
        expires_at=metadata.expires_at,
        created_at=metadata.created_at,
    )


def _store(image, aliases, upload, operation_metadata):
    """Write the image, its default profile and aliases in one transaction; the files follow its commit."""
    duplicate = ImageError("Image with same fingerprint already exists", metadata=operation_metadata)
    try:
        with transaction.atomic():
            if Image.objects.filter(project=image.project, fingerprint=image.fingerprint).exists():
                raise duplicate
            image.save()
            profiles = Profile.objects.filter(project=Project.holding(image.project.name, "features.profiles"))
            ImageProfile.objects.create(image=image, profile=profiles.get(name=Profile.DEFAULT_NAME))
            for name, description in aliases:
                if ImageAlias.objects.filter(project=image.project, name=name).exists():
                    raise ImageError(f"Alias {json.dumps(name)} already exists", metadata=operation_metadata)
                ImageAlias.objects.create(project=image.project, name=name, description=description, image=image)
            operation = finished_operation(
                "Downloading image", metadata=operation_metadata, project_id=image.project_id
            )
            # Staged before the commit, installed after it: a kill in between is finished at the next start.
            upload.stage(*image.files())
            transaction.on_commit(upload.install)
    except IntegrityError as exc:
        # Another upload of the same file committed first.
        raise duplicate from exc
    return operation


def import_image(request, project):
    """``POST /1.0/images``: store an uploaded image in ``project`` and return the ended operation that reports it."""
    if request.META.get("CONTENT_TYPE", "").startswith("application/json"):
        from .publishing import is_publish, publish_image

        if is_publish(request.data):
            return publish_image(request.data, project)
        raise NotImplementedMethod("Only image file uploads are supported, not image sources")
    try:
        upload = receive_upload(request)
    except ImageError as exc:
        return finished_operation("Downloading image", err=str(exc), project_id=project.pk)
    try:
        aliases = upload_aliases(request)
        image = _new_image(request, upload, project)
        operation_metadata = {"fingerprint": image.fingerprint, "size": str(image.size)}
        return _store(image, aliases, upload, operation_metadata)
    except ImageError as exc:
        upload.discard()
        return finished_operation("Downloading image", err=str(exc), metadata=exc.metadata, project_id=project.pk)
    except BaseException:
        upload.discard()
        raise
