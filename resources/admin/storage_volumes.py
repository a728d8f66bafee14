"""The admin of storage volumes: shown, not changed (volumes change through the API's rules)."""

from django.contrib import admin

from ..models import StorageVolume, StorageVolumeSnapshot


class StorageVolumeSnapshotInline(admin.TabularInline):
    """A volume's snapshots."""

    model = StorageVolumeSnapshot
    fields = ["name", "description", "expires_at", "config"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StorageVolume)
class StorageVolumeAdmin(admin.ModelAdmin):
    """LXD storage volumes, read-only: ``lxc storage volume`` and the API make and change them."""

    list_display = ["name", "pool", "type", "content_type", "project", "description"]
    list_filter = ["pool", "type", "content_type", "project"]
    search_fields = ["name", "description"]
    fields = ["name", "pool", "project", "type", "content_type", "description", "config"]
    readonly_fields = fields
    inlines = [StorageVolumeSnapshotInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
