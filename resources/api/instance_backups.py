"""``/1.0/instances/NAME/backups``: backups as LXD 5.0.2 serves them (``lxc export``, ``lxc info``).

Writes are operations ended within the request, with LXD's descriptions and lifecycle events;
backups have no ETag in LXD (no If-Match is checked on them)."""

from django.http import FileResponse
from rest_framework import exceptions
from rest_framework.decorators import action

from .. import events, instance_backups, instance_imports
from ..envelope import SyncResponse
from ..go import go_time
from ..models import InstanceBackup, Snapshot
from ..operations import AsyncResponse, finished_operation
from ..project_limits import check_backup_create
from ..serializers.fields import TimeField, _type_name, judged_by_project
from ..serializers.snapshots import SnapshotSerializer
from .async_writes import instance_resources, instance_url
from .base import escaped, recursion_level
from .conditional import atomic_write

BACKUP = r"backups/(?P<backup>[^/]+)"


def shown(backup):
    """A backup as LXD shows it (``container_only`` is the old name of ``instance_only``)."""
    return {
        "name": backup.name,
        "created_at": go_time(backup.created_at),
        "expires_at": backup.expires_at,
        "instance_only": backup.instance_only,
        "container_only": backup.instance_only,
        "optimized_storage": backup.optimized_storage,
    }


class InstanceBackupsMixin:
    """The backups of an instance, their tarballs, and their writes as operations."""

    def _backup_url(self, instance, name):
        return f"/1.0/instances/{escaped(instance.name)}/backups/{escaped(name)}"

    def _backup_event_url(self, instance, name):
        return instance_url(instance.name, project=instance.project.name).replace(
            f"/1.0/instances/{escaped(instance.name)}", self._backup_url(instance, name), 1
        )

    def _backup(self, instance, name):
        backup = instance.backups.filter(name=name).first()
        if backup is None:
            raise exceptions.NotFound("Load backup from database: Instance backup not found")
        return backup

    def _failed(self, description, resources, err):
        return AsyncResponse(
            finished_operation(description, err=err, resources=resources, project_id=self.operation_project_id())
        )

    @atomic_write
    def import_backup(self, request, path):
        """``lxc import``: ``path`` holds the backup tarball the body carried; the instance it
        holds is made (in the operation, "Restoring backup", as LXD reports it)."""
        project = self.project()
        name = request.headers.get("X-LXD-name") or ""
        pool = request.headers.get("X-LXD-pool") or ""
        try:
            instance = instance_imports.import_backup(path, project, name, pool)
        except instance_imports.ImportRefused as exc:
            return self._failed("Restoring backup", instance_resources(name), str(exc))
        except BaseException:
            # Rolled back: no tree will be unpacked from it.
            path.unlink(missing_ok=True)
            raise
        finally:
            instance_imports.forget(path)
        return self.operation_response(
            "Restoring backup",
            instance_resources(instance.name),
            save=lambda: None,
            lifecycle=lambda: _import_events(instance, project.name),
        )

    @action(detail=True, methods=["get", "post"])
    def backups(self, request, *args, **kwargs):
        """GET lists the backups (URLs, or objects with recursion); POST makes one."""
        if request.method == "POST":
            return self._create_backup(request)
        instance = self.get_object()
        # By name, as the daemon lists them.
        rows = sorted(instance.backups.all(), key=lambda backup: backup.name.encode())
        if recursion_level(request) >= 1:
            return SyncResponse([shown(backup) for backup in rows])
        return SyncResponse([self._backup_url(instance, backup.name) for backup in rows])

    @atomic_write
    def _create_backup(self, request):
        instance = self.get_object()
        judged_by_project(check_backup_create, instance.project)
        data = self.request_data()
        if not isinstance(data, dict):
            raise exceptions.ParseError("json: cannot unmarshal into Go value of type api.InstanceBackupsPost")
        name = _string_field(data, "name") or instance_backups.default_name(instance)
        if "/" in name:
            raise exceptions.ParseError("Backup names may not contain slashes")
        expires_at = data.get("expires_at") or Snapshot.NEVER
        try:
            expires_at = go_time(TimeField().to_internal_value(expires_at))
        except Exception:
            raise exceptions.ParseError(f"Invalid expires_at: {expires_at}") from None
        algorithm = instance_backups.compression(_string_field(data, "compression_algorithm"), instance.project)
        resources = {"backups": [f"/1.0/backups/{escaped(name)}"], **instance_resources(instance.name)}
        if instance.backups.filter(name=name).exists():
            err = f'Create backup: Backup "{instance.name}/{name}" already exists'
            return self._failed("Backing up instance", resources, err)
        # LXD records optimized_storage false on a dir pool (the only kind lxdsite keeps files of).
        instance_only = bool(data.get("instance_only") or data.get("container_only"))
        backup = InstanceBackup.objects.create(
            instance=instance,
            name=name,
            expires_at=expires_at,
            instance_only=instance_only,
            compression_algorithm=algorithm,
        )
        container = self.get_serializer(instance).data
        snapshots = [] if instance_only else SnapshotSerializer(instance.snapshots.order_by("id"), many=True).data
        documents = instance_backups.rendered(instance, backup, container, [dict(s) for s in snapshots])
        instance_backups.write_after_commit(backup, documents)
        return self.operation_response(
            "Backing up instance",
            resources,
            save=lambda: None,
            lifecycle=("instance-backup-created", self._backup_event_url(instance, name)),
        )

    @action(detail=True, methods=["get", "post", "delete"], url_path=BACKUP)
    def backup(self, request, *args, **kwargs):
        """GET shows the backup; POST renames it; DELETE removes it and its tarball."""
        if request.method == "GET":
            instance = self.get_object()
            return SyncResponse(shown(self._backup(instance, kwargs["backup"])))
        return self._write_backup(request, kwargs["backup"])

    @atomic_write
    def _write_backup(self, request, name):
        instance = self.get_object()
        backup = self._backup(instance, name)
        if request.method == "DELETE":
            backup.delete()
            # LXD names the instance under a singular key here.
            return self.operation_response(
                "Removing instance backup",
                {"container": [f"/1.0/container/{escaped(instance.name)}"]},
                save=lambda: None,
                lifecycle=("instance-backup-deleted", self._backup_event_url(instance, name)),
            )
        data = self.request_data()
        if not isinstance(data, dict):
            raise exceptions.ParseError("json: cannot unmarshal into Go value of type api.InstanceBackupPost")
        new_name = _string_field(data, "name", "InstanceBackupPost")
        if "/" in new_name:
            raise exceptions.ParseError("Backup names may not contain slashes")
        resources = instance_resources(instance.name)
        if not new_name:
            # LXD's rename fails half-way here (its file is moved, its record renamed).
            return self._failed("Renaming instance backup", resources, "Backup name cannot be empty")
        if instance.backups.filter(name=new_name).exists():
            err = "UNIQUE constraint failed: instances_backups.instance_id, instances_backups.name"
            return self._failed("Renaming instance backup", resources, err)
        backup.name = new_name
        backup.save(update_fields=["name"])
        return self.operation_response(
            "Renaming instance backup",
            resources,
            save=lambda: None,
            lifecycle=(
                "instance-backup-renamed",
                self._backup_event_url(instance, new_name),
                {"old_name": f"{instance.name}/{name}"},
            ),
        )

    @action(detail=True, methods=["get"], url_path=BACKUP + "/export")
    def backup_export(self, request, *args, **kwargs):
        """The backup's tarball, as LXD sends it."""
        instance = self.get_object()
        backup = self._backup(instance, kwargs["backup"])
        path = instance_backups.backup_path(backup)
        if not path.is_file():
            raise exceptions.NotFound("Load backup from database: Instance backup not found")
        response = FileResponse(open(path, "rb"), content_type="application/octet-stream")  # noqa: SIM115
        events.emit_lifecycle(
            "instance-backup-retrieved", self._backup_event_url(instance, backup.name), request=request
        )
        return response


def _string_field(data, key, struct="InstanceBackupsPost"):
    value = data.get(key) or ""
    if not isinstance(value, str):
        kind = _type_name(value)
        raise exceptions.ParseError(f"json: cannot unmarshal {kind} into Go struct field {struct}.{key} of type string")
    return value


def _import_events(instance, project):
    """LXD's events of an import: the instance created, then each snapshot."""
    # Imported here: the instances viewset imports this module.
    from .instances import created_context

    return [
        ("instance-created", instance_url(instance.name, project=project), created_context(instance)),
        *(
            ("instance-snapshot-created", instance_url(instance.name, snapshot.name, project))
            for snapshot in instance.snapshots.order_by("id")
        ),
    ]
