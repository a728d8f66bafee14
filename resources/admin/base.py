"""The admin's shared machinery: YAML fields, and forms and admins that save and delete through the API's rules."""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import actions as admin_actions
from django.contrib.admin.utils import quote, unquote
from django.db import router, transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework import exceptions

from ..documents import DocumentError, VersionConflict, dump_yaml, load_yaml, lock_current, stored_version
from ..exceptions import error_text
from ..models import Project

CONFLICT_MESSAGE = (
    "This {what} was changed by someone else since you opened it. Nothing was saved; your input "
    "is kept below. Reload the page to see the current version, then make your change again."
)
DELETE_CONFLICT_MESSAGE = (
    "The {what} “{name}” was changed by someone else since you opened it, so it was not deleted. "
    "Check the current version below, then delete it again if you still want to."
)
DELETE_STALE_MESSAGE = (
    "The {what} “{name}” was changed by someone else since you opened it: confirming will be "
    "refused. Open it again to see the current version."
)


class DeleteRefused(Exception):
    """A delete the admin refuses (a conflict, or the API's rules); str() is the message shown."""


@admin.action(permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s"))
def delete_selected(modeladmin, request, queryset):
    """Django's bulk delete in one transaction: a row the API's rules refuse stops it, nothing deleted."""
    try:
        with transaction.atomic(using=router.db_for_write(modeladmin.model)):
            return admin_actions.delete_selected(modeladmin, request, queryset)
    except DeleteRefused as exc:
        modeladmin.message_user(request, f"Nothing was deleted: {exc}", messages.ERROR)
        return None


class YAMLField(forms.CharField):
    """A mapping (or a list) edited as YAML text; text that is not YAML is a form error.

    ``strings`` reads every scalar as the text it spells (``limits.cpu: 2`` is "2"), as Go
    decodes YAML into LXD's map[string]string.
    """

    widget = forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField", "spellcheck": "false"})

    def __init__(self, *, strings=False, empty=dict, **kwargs):
        self.strings = strings
        self.empty = empty
        kwargs.setdefault("required", False)
        super().__init__(strip=False, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            return value  # what the user typed, shown again as typed
        return "" if not value else dump_yaml(value)

    def to_python(self, value):
        if not (value or "").strip():
            return self.empty()
        try:
            data = load_yaml(value, strings=self.strings)
        except DocumentError as exc:
            raise forms.ValidationError(str(exc), code="invalid_yaml") from exc
        return self.empty() if data is None else data

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or self.empty())
        except forms.ValidationError:
            return True


class APIValidatedForm(forms.ModelForm):
    """A ModelForm validated by the API's serializer, with a stored-version conflict check.

    Set ``serializer_class`` (a PUT) and, where the admin can add, ``create_serializer_class``.
    ``api_fields`` names the form fields sent as the serializer's body; override ``api_data``
    (and the initial values) for a field the form must call differently.
    """

    serializer_class = None
    create_serializer_class = None
    api_fields = ()
    # The feature without which a project keeps its objects of this kind in the default project.
    project_feature = None
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "project" in self.fields:
            # A new object goes into the default project unless another is chosen, as in the API.
            self.fields["project"].required = False
            self.fields["project"].initial = Project.DEFAULT_ID
        if self.instance.pk is not None:
            self.fields["version"].initial = stored_version(self.instance)
            # Show the object as the API shows it (sorted maps, the trust password as `true`).
            shown = self.serializer_class(self.instance, context=self.project_context()).data
            for name in self.api_fields:
                if name in shown and name in self.fields:
                    self.initial[name] = shown[name]

    def project_context(self, project=None):
        """The serializer context the API gives an object of its project (a new one: of ``project``)."""
        if project is None and getattr(self.instance, "project_id", None) is not None:
            project = self.instance.project
        return {"project_name": project.name} if project is not None else {}

    def api_data(self, cleaned_data):
        """The serializer's body: the form's API fields as cleaned."""
        return {name: cleaned_data[name] for name in self.api_fields if name in cleaned_data}

    def clean(self):
        cleaned_data = super().clean()
        if self.errors:
            return cleaned_data
        if self.instance.pk is not None:
            try:
                # Inside the admin's POST transaction: the lock is held until the save commits.
                lock_current(self.instance, cleaned_data.get("version"))
            except VersionConflict as exc:
                raise forms.ValidationError(
                    CONFLICT_MESSAGE.format(what=self._meta.model._meta.verbose_name), code="conflict"
                ) from exc
            context = self.project_context()
            self.serializer = self.serializer_class(self.instance, data=self.api_data(cleaned_data), context=context)
        else:
            if cleaned_data.get("project") is not None and self.project_feature:
                # As the API does: a project without the feature uses the default project's.
                cleaned_data["project"] = Project.holding(cleaned_data["project"].name, self.project_feature)
            context = self.project_context(cleaned_data.get("project"))
            self.serializer = self.create_serializer_class(data=self.api_data(cleaned_data), context=context)
        try:
            valid = self.serializer.is_valid()
        except exceptions.APIException as exc:  # a 409 or 403 raised by a field rule (a taken name)
            self.add_error("name" if self.instance.pk is None and "name" in self.fields else None, error_text(exc))
            return cleaned_data
        if not valid:
            for name, detail in self.serializer.errors.items():
                self.add_error(name if name in self.fields else None, error_text(exceptions.ValidationError(detail)))
            return cleaned_data
        # The model form copies onto the instance only what the serializer validated, as it would
        # store it, and the project a new object goes into (the view sets it for the API).
        project = self.cleaned_data.get("project")
        for name in self._meta.fields:
            cleaned_data.pop(name, None)
        cleaned_data.update(self.serializer.validated_data)
        if project is not None:
            cleaned_data["project"] = project
        return cleaned_data


class APIValidatedAdmin(admin.ModelAdmin):
    """Saves through the form's API serializer, so the admin writes exactly what the API would.

    Deletes are version-checked and follow the API's rules: override ``check_deletable`` for
    the rules and ``delete_objects`` for what the API does beyond deleting the rows.
    """

    actions = [delete_selected]

    def check_deletable(self, obj):
        """Raise the API's error if it would refuse to delete ``obj``; override where it has rules."""

    def delete_objects(self, objs):
        """Delete rows already locked and checked; override to do what the API does besides."""
        for obj in objs:
            obj.delete()

    def _checked(self, objs):
        """``objs`` if the API's rules let each be deleted; DeleteRefused naming the first that is not."""
        for obj in objs:
            try:
                self.check_deletable(obj)
            except exceptions.APIException as exc:
                raise DeleteRefused(f"{obj}: {error_text(exc)}") from exc
        return objs

    def delete_model(self, request, obj):
        # Inside the delete view's transaction: the row stays locked until the delete commits.
        try:
            current = lock_current(obj, request.POST.get("version"))
        except VersionConflict as exc:
            raise DeleteRefused(DELETE_CONFLICT_MESSAGE.format(what=self.opts.verbose_name, name=obj)) from exc
        self.delete_objects(self._checked([current]))

    def delete_queryset(self, request, queryset):
        # The bulk action: every selected row locked, then checked, then deleted (or none).
        selected = [obj.pk for obj in queryset]
        locked = self.model._default_manager.select_for_update().filter(pk__in=selected).order_by("pk")
        self.delete_objects(self._checked(list(locked)))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and "version" in context["adminform"].form.fields:
            # The delete link carries the version this form was rendered from (or was posted with).
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_delete", args=[quote(obj.pk)])
            version = context["adminform"].form["version"].value() or ""
            context["versioned_delete_url"] = f"{url}?{urlencode({'version': version})}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    def delete_view(self, request, object_id, extra_context=None):
        version = request.POST.get("version") if request.method == "POST" else request.GET.get("version")
        obj = self.get_object(request, unquote(object_id))
        if request.method != "POST" and obj is not None:
            current = stored_version(obj)
            if version and version != current:
                message = DELETE_STALE_MESSAGE.format(what=self.opts.verbose_name, name=obj)
                self.message_user(request, message, messages.WARNING)
            version = version or current
        try:
            return super().delete_view(request, object_id, {**(extra_context or {}), "object_version": version})
        except DeleteRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        if self.get_object(request, unquote(object_id)) is None:
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", quote(obj.pk))

    def save_model(self, request, obj, form, change):
        if change:
            form.serializer.instance = obj
            form.serializer.save()
            return
        # The serializer creates the row; the admin goes on with ``obj`` (its log entry, its redirect).
        form.serializer.instance = None
        project = form.cleaned_data.get("project")
        obj.pk = form.serializer.save(**({"project": project} if project is not None else {})).pk
        obj.refresh_from_db()
        obj._state.adding = False
