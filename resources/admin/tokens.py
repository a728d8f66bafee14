"""The admin of API tokens."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse

from ..models import APIToken
from ..trust import new_token


class APITokenForm(forms.ModelForm):
    """A new token's name and access; the token itself is generated, never typed."""

    class Meta:
        model = APIToken
        fields = ["name", "read_only"]


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """API tokens, as ``createtoken`` makes them: the secret is shown once, only its digest stored.

    A token is never changed (its digest is not shown anywhere); revoking it is deleting it.
    """

    form = APITokenForm
    list_display = ["name", "read_only", "created_at"]
    list_filter = ["read_only"]
    search_fields = ["name"]
    fields = ["name", "read_only", "created_at"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else ["name", "read_only"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # The same generator as `manage.py createtoken`; the secret lives only in this response.
        request._new_api_token, obj.digest = new_token()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "token": request._new_api_token,
            "title": f"API token {obj} created",
        }
        # The admin's views are never_cache (no-store): the page with the secret is not kept anywhere.
        return TemplateResponse(request, "admin/resources/apitoken/created.html", context)
