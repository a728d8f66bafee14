"""The admin of ``/1.0/operations``."""

from django.contrib import admin

from ..models import Operation


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    """Operations, read only: lxdsite finishes each one within its request."""

    list_display = ["id", "operation_class", "description", "status", "status_code", "created_at"]
    list_filter = ["status", "operation_class"]
    search_fields = ["=id", "description", "err"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
