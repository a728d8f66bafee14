"""The admin: LXD objects edited as YAML, validated by the API's serializers, conflict-safe.

A change form carries the stored version of the object it was rendered from; saving re-reads
the row under the API's write lock (the admin wraps every POST in a transaction) and refuses,
overwriting nothing, if anyone changed it since. A delete confirmation carries the version too
(the change form's delete link passes it on) and is refused the same way. Deletes follow the
API's rules, checked under the row lock; the bulk delete action checks the rules (not versions:
the list shows none) and deletes all of the selection or nothing.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import actions as admin_actions
from django.contrib.admin.utils import quote, unquote
from django.db import router, transaction
from django.db.models import Prefetch, Q
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework import exceptions

from .documents import DocumentError, VersionConflict, dump_yaml, load_yaml, lock_current, stored_version
from .exceptions import error_text
from .images import IMAGE_PREFETCH, remove_files
from .models import APIToken, Image, ImageAlias, Instance, InstanceProfile, Operation, Profile, Server, Snapshot
from .serializers import (
    ImageAliasCreateSerializer,
    ImageAliasSerializer,
    ImageSerializer,
    InstanceSerializer,
    ProfileCreateSerializer,
    ProfileSerializer,
    ServerSerializer,
    check_profile_deletable,
)
from .trust import new_token

admin.site.site_header = admin.site.site_title = "lxdsite administration"

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
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["version"].initial = stored_version(self.instance)
            # Show the object as the API shows it (sorted maps, the trust password as `true`).
            shown = self.serializer_class(self.instance).data
            for name in self.api_fields:
                if name in shown and name in self.fields:
                    self.initial[name] = shown[name]

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
            self.serializer = self.serializer_class(self.instance, data=self.api_data(cleaned_data))
        else:
            self.serializer = self.create_serializer_class(data=self.api_data(cleaned_data))
        try:
            valid = self.serializer.is_valid()
        except exceptions.APIException as exc:  # a 409 or 403 raised by a field rule (a taken name)
            self.add_error("name" if self.instance.pk is None and "name" in self.fields else None, error_text(exc))
            return cleaned_data
        if not valid:
            for name, detail in self.serializer.errors.items():
                self.add_error(name if name in self.fields else None, error_text(exceptions.ValidationError(detail)))
            return cleaned_data
        # The model form copies onto the instance only what the serializer validated, as it would store it.
        for name in self._meta.fields:
            cleaned_data.pop(name, None)
        cleaned_data.update(self.serializer.validated_data)
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
        obj.pk = form.serializer.save().pk
        obj.refresh_from_db()
        obj._state.adding = False


class ServerForm(APIValidatedForm):
    """The server config as YAML, checked by ``ServerSerializer``."""

    serializer_class = ServerSerializer
    api_fields = ["config"]
    config = YAMLField(help_text="YAML mapping of server config keys (the trust password shows as true).")

    class Meta:
        model = Server
        fields = ["config"]


@admin.register(Server)
class ServerAdmin(APIValidatedAdmin):
    """The one server configuration row: changed, never added or deleted."""

    form = ServerForm
    list_display = ["__str__", "config_count"]

    @admin.display(description="config keys")
    def config_count(self, server):
        return len(server.config)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # A list of one row: go straight to it.
        return redirect("admin:resources_server_change", Server.SINGLETON_ID)


class ProfileForm(APIValidatedForm):
    """A profile as YAML config and devices, checked by the API's profile serializers."""

    serializer_class = ProfileSerializer
    create_serializer_class = ProfileCreateSerializer
    api_fields = ["name", "description", "config", "devices"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")
    devices = YAMLField(strings=True, help_text="YAML mapping of device names to their options.")

    class Meta:
        model = Profile
        fields = ["name", "description", "config", "devices"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


class HasDevicesFilter(admin.SimpleListFilter):
    """Profiles with or without devices."""

    title = "devices"
    parameter_name = "has_devices"

    def lookups(self, request, model_admin):
        return [("yes", "With devices"), ("no", "Without devices")]

    def queryset(self, request, queryset):
        empty = Q(devices={})
        if self.value() == "yes":
            return queryset.exclude(empty)
        if self.value() == "no":
            return queryset.filter(empty)
        return queryset


class HasConfigFilter(HasDevicesFilter):
    """Profiles with or without config keys."""

    title = "config"
    parameter_name = "has_config"

    def lookups(self, request, model_admin):
        return [("yes", "With config"), ("no", "Without config")]

    def queryset(self, request, queryset):
        empty = Q(config={})
        if self.value() == "yes":
            return queryset.exclude(empty)
        if self.value() == "no":
            return queryset.filter(empty)
        return queryset


@admin.register(Profile)
class ProfileAdmin(APIValidatedAdmin):
    """LXD profiles: renamed through the API (``lxc profile rename``), edited here."""

    form = ProfileForm
    list_display = ["name", "description", "config_count", "devices_count", "used_by_count"]
    list_filter = [HasConfigFilter, HasDevicesFilter]
    search_fields = ["name", "description", "config", "devices"]

    def get_queryset(self, request):
        # used_by names each instance: one query for the whole page.
        return super().get_queryset(request).prefetch_related("instance_links__instance")

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The read-only name comes first, where the add form has its input.
        return ["name", *(name for name in fields if name != "name")]

    @admin.display(description="config keys")
    def config_count(self, profile):
        return len(profile.config)

    @admin.display(description="devices")
    def devices_count(self, profile):
        return len(profile.devices)

    @admin.display(description="used by")
    def used_by_count(self, profile):
        """How many instances use the profile: the API's ``used_by``, so both say the same."""
        return len(ProfileSerializer().get_used_by(profile))

    def check_deletable(self, profile):
        check_profile_deletable(profile)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The API's rules: what it refuses to delete shows as protected, and is not deleted.
        for profile in objs:
            try:
                check_profile_deletable(profile)
            except exceptions.APIException as exc:
                protected.append(f"{profile}: {error_text(exc)}")
        return deleted, counts, perms_needed, protected


def short_fingerprint(fingerprint):
    """The 12-character prefix ``lxc image list`` shows."""
    return fingerprint[:12]


class ImageForm(APIValidatedForm):
    """The fields an image's PUT changes, checked by ``ImageSerializer``."""

    serializer_class = ImageSerializer
    api_fields = ["auto_update", "properties", "public", "expires_at"]
    properties = YAMLField(strings=True, help_text="YAML mapping of property names to string values.")
    # Not `profiles`: the admin refuses a form field named after a many-to-many with a through model.
    profile_names = YAMLField(
        label="Profiles",
        strings=True,
        empty=list,
        help_text="YAML list of profile names, in the order instances apply them.",
    )
    expires_at = forms.CharField(
        required=False, help_text="RFC 3339 time (LXD's zero time 0001-01-01T00:00:00Z: never); blank keeps it."
    )

    class Meta:
        model = Image
        fields = ["public", "auto_update", "properties", "expires_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["profile_names"] = [link.profile.name for link in self.instance.profile_links.all()]

    def api_data(self, cleaned_data):
        data = super().api_data(cleaned_data)
        data["profiles"] = cleaned_data.get("profile_names", [])
        # Blank is null to the API: the expiry stays as it is.
        data["expires_at"] = data.get("expires_at") or None
        return data


@admin.register(Image)
class ImageAdmin(APIValidatedAdmin):
    """Images: uploaded through the API (``lxc image import``); edited and deleted here."""

    form = ImageForm
    list_display = [
        "fingerprint_prefix",
        "alias_names",
        "architecture",
        "type",
        "file_size",
        "public",
        "profile_names",
        "uploaded_at",
    ]
    list_filter = ["type", "architecture", "public", "auto_update", "cached"]
    search_fields = ["^fingerprint", "aliases__name", "filename", "properties"]
    readonly_fields = ["fingerprint", "filename", "file_size", "architecture", "type", "split", "cached"]
    fields = [*readonly_fields, "public", "auto_update", "properties", "profile_names", "expires_at", "version"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*IMAGE_PREFETCH)

    @admin.display(description="fingerprint", ordering="fingerprint")
    def fingerprint_prefix(self, image):
        return short_fingerprint(image.fingerprint)

    @admin.display(description="size", ordering="size")
    def file_size(self, image):
        return filesizeformat(image.size)

    @admin.display(description="aliases")
    def alias_names(self, image):
        return ", ".join(alias.name for alias in image.aliases.all())

    @admin.display(description="profiles")
    def profile_names(self, image):
        return ", ".join(link.profile.name for link in image.profile_links.all())

    def has_add_permission(self, request):
        return False

    def delete_objects(self, images):
        # As the API deletes an image: the row, then its files once the deletion is committed.
        paths = [path for image in images for path in image.files()]
        super().delete_objects(images)
        transaction.on_commit(lambda: remove_files(paths))


class ImageAliasForm(APIValidatedForm):
    """An alias: its target is a fingerprint or a unique prefix, as the API takes it."""

    serializer_class = ImageAliasSerializer
    create_serializer_class = ImageAliasCreateSerializer
    api_fields = ["name", "description", "target"]
    target = forms.CharField(help_text="The image's fingerprint, or a unique prefix of it.")

    class Meta:
        model = ImageAlias
        fields = ["name", "description"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


@admin.register(ImageAlias)
class ImageAliasAdmin(APIValidatedAdmin):
    """Image aliases: renamed through the API (``lxc image alias rename``), edited here."""

    form = ImageAliasForm
    list_display = ["name", "target_prefix", "image_type", "description"]
    list_filter = ["image__type"]
    search_fields = ["name", "description", "^image__fingerprint"]
    list_select_related = ["image"]

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["name", *(name for name in super().get_fields(request, obj) if name != "name")]

    @admin.display(description="target", ordering="image__fingerprint")
    def target_prefix(self, alias):
        return short_fingerprint(alias.image.fingerprint)

    @admin.display(description="type", ordering="image__type")
    def image_type(self, alias):
        return alias.image.type


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


def instance_links():
    """An instance's profile links with their profiles, for a whole page of instances in one query."""
    return Prefetch("profile_links", queryset=InstanceProfile.objects.select_related("profile"))


class InstanceForm(APIValidatedForm):
    """What an instance's PUT changes, checked by ``InstanceSerializer`` (volatile keys stay the server's)."""

    serializer_class = InstanceSerializer
    api_fields = ["architecture", "config", "devices", "ephemeral", "description"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys; volatile.* keys stay as stored.")
    devices = YAMLField(strings=True, help_text="YAML mapping of device names to their options.")
    # Not `profiles`: the admin refuses a form field named after a many-to-many with a through model.
    profile_names = YAMLField(
        label="Profiles", strings=True, empty=list, help_text="YAML list of profile names, applied in this order."
    )

    class Meta:
        model = Instance
        fields = ["architecture", "description", "ephemeral", "config", "devices"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["profile_names"] = [profile.name for profile in self.instance.profile_list()]

    def api_data(self, cleaned_data):
        return {**super().api_data(cleaned_data), "profiles": cleaned_data.get("profile_names", [])}


class SnapshotInline(admin.TabularInline):
    """An instance's snapshots, read only: taken and restored through the API."""

    model = Snapshot
    fields = ["name", "created_at", "expires_at", "stateful"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Instance)
class InstanceAdmin(APIValidatedAdmin):
    """Instances: created, started and stopped through the API (``lxc init``, ``lxc start``); edited here."""

    form = InstanceForm
    inlines = [SnapshotInline]
    list_display = ["name", "status", "type", "architecture", "profile_list_display", "ephemeral", "created_at"]
    list_filter = ["status", "type", "architecture", "ephemeral"]
    search_fields = ["name", "description", "config", "devices", "profiles__name"]
    readonly_fields = ["name", "status", "type", "stateful", "created_at", "last_used_at"]
    fields = [
        *readonly_fields,
        "architecture",
        "description",
        "ephemeral",
        "profile_names",
        "config",
        "devices",
        "version",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(instance_links())

    @admin.display(description="profiles")
    def profile_list_display(self, instance):
        return ", ".join(profile.name for profile in instance.profile_list())

    def has_add_permission(self, request):
        return False


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
