"""``/1.0/instances/NAME/backups``: backups as LXD 5.0.2 serves them (``lxc export``, ``lxc info``).

Writes are operations ended within the request, with LXD's descriptions and lifecycle events;
backups have no ETag in LXD (no If-Match is checked on them)."""

from django.http import FileResponse
from rest_framework import exceptions
from rest_framework.decorators import action

from .. import events, instance_backups
from ..envelope import SyncResponse
from ..go import go_time
from ..models import InstanceBackup, Snapshot
from ..serializers.fields import TimeField
from ..serializers.snapshots import SnapshotSerializer
from .async_writes import instance_url
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

    def _backup_resources(self, instance, name):
        return {
            "instances": [f"/1.0/instances/{escaped(instance.name)}"],
            "backups": [self._backup_url(instance, name)],
        }

    def _backup(self, instance, name):
        backup = instance.backups.filter(name=name).first()
        if backup is None:
            raise exceptions.NotFound("Instance backup not found")
        return backup

    @action(detail=True, methods=["get", "post"])
    def backups(self, request, *args, **kwargs):
        """GET lists the backups (URLs, or objects with recursion); POST makes one."""
        if request.method == "POST":
            return self._create_backup(request)
        instance = self.get_object()
        rows = list(instance.backups.order_by("id"))
        if recursion_level(request) >= 1:
            return SyncResponse([shown(backup) for backup in rows])
        return SyncResponse([self._backup_url(instance, backup.name) for backup in rows])

    @atomic_write
    def _create_backup(self, request):
        instance = self.get_object()
        data = self.request_data()
        if not isinstance(data, dict):
            raise exceptions.ParseError("json: cannot unmarshal into Go value of type api.InstanceBackupsPost")
        name = data.get("name") or instance_backups.default_name(instance)
        if not isinstance(name, str):
            raise exceptions.ParseError("json: cannot unmarshal into Go struct field of type string")
        if "/" in name:
            raise exceptions.ParseError("Backup names may not contain slashes")
        if instance.backups.filter(name=name).exists():
            raise exceptions.ParseError(f'Backup "{name}" already exists')
        if data.get("optimized_storage"):
            raise exceptions.ParseError('Optimized backups are not supported by the "dir" storage driver')
        expires_at = data.get("expires_at") or Snapshot.NEVER
        try:
            expires_at = go_time(TimeField().to_internal_value(expires_at))
        except Exception:
            raise exceptions.ParseError(f"Invalid expires_at: {expires_at}") from None
        instance_only = bool(data.get("instance_only") or data.get("container_only"))
        backup = InstanceBackup.objects.create(
            instance=instance,
            name=name,
            expires_at=expires_at,
            instance_only=instance_only,
            compression_algorithm=instance_backups.compression(data.get("compression_algorithm")),
        )
        container = self.get_serializer(instance).data
        snapshots = [] if instance_only else SnapshotSerializer(instance.snapshots.order_by("id"), many=True).data
        documents = instance_backups.rendered(instance, backup, container, [dict(s) for s in snapshots])
        instance_backups.write_after_commit(backup, documents)
        return self.operation_response(
            "Backing up instance",
            self._backup_resources(instance, name),
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
            return self.operation_response(
                "Deleting instance backup",
                self._backup_resources(instance, name),
                save=lambda: None,
                lifecycle=("instance-backup-deleted", self._backup_event_url(instance, name)),
            )
        data = self.request_data()
        new_name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(new_name, str) or not new_name:
            raise exceptions.ParseError("Invalid backup name")
        if "/" in new_name:
            raise exceptions.ParseError("Backup names may not contain slashes")
        if instance.backups.filter(name=new_name).exists():
            raise exceptions.ParseError(f'Backup "{new_name}" already exists')
        backup.name = new_name
        backup.save(update_fields=["name"])
        return self.operation_response(
            "Renaming instance backup",
            self._backup_resources(instance, name),
            save=lambda: None,
            lifecycle=(
                "instance-backup-renamed",
                self._backup_event_url(instance, new_name),
                {"old_name": name},
            ),
        )

    @action(detail=True, methods=["get"], url_path=BACKUP + "/export")
    def backup_export(self, request, *args, **kwargs):
        """The backup's tarball, as LXD sends it."""
        instance = self.get_object()
        backup = self._backup(instance, kwargs["backup"])
        path = instance_backups.backup_path(backup)
        if not path.is_file():
            raise exceptions.NotFound("Instance backup not found")
        response = FileResponse(open(path, "rb"), content_type="application/octet-stream")  # noqa: SIM115
        events.emit_lifecycle(
            "instance-backup-retrieved", self._backup_event_url(instance, backup.name), request=request
        )
        return response
