"""The admin: LXD objects edited as YAML, validated by the API's serializers, conflict-safe.

A change form carries the stored version of the object it was rendered from; saving re-reads
the row under the API's write lock (the admin wraps every POST in a transaction) and refuses,
overwriting nothing, if anyone changed it since. Deletes follow the API's rules.
"""

from django import forms
from django.contrib import admin
from django.db.models import Q
from rest_framework import exceptions

from .documents import DocumentError, VersionConflict, dump_yaml, load_yaml, lock_current, stored_version
from .exceptions import error_text
from .models import Profile, Server
from .serializers import ProfileCreateSerializer, ProfileSerializer, ServerSerializer, check_profile_deletable

admin.site.site_header = admin.site.site_title = "lxdsite administration"

CONFLICT_MESSAGE = (
    "This {what} was changed by someone else since you opened it. Nothing was saved; your input "
    "is kept below. Reload the page to see the current version, then make your change again."
)


class YAMLField(forms.CharField):
    """A mapping edited as YAML text; text that is not YAML is a form error.

    ``strings`` reads every scalar as the text it spells (``limits.cpu: 2`` is "2"), as Go
    decodes YAML into LXD's map[string]string.
    """

    widget = forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField", "spellcheck": "false"})

    def __init__(self, *, strings=False, **kwargs):
        self.strings = strings
        kwargs.setdefault("required", False)
        super().__init__(strip=False, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            return value  # what the user typed, shown again as typed
        return "" if not value else dump_yaml(value)

    def to_python(self, value):
        if not (value or "").strip():
            return {}
        try:
            data = load_yaml(value, strings=self.strings)
        except DocumentError as exc:
            raise forms.ValidationError(str(exc), code="invalid_yaml") from exc
        return {} if data is None else data

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or {})
        except forms.ValidationError:
            return True


class APIValidatedForm(forms.ModelForm):
    """A ModelForm validated by the API's serializer, with a stored-version conflict check.

    Set ``serializer_class`` (a PUT) and, where the admin can add, ``create_serializer_class``.
    Override ``api_data`` when the form's fields are not the serializer's body as they are.
    """

    serializer_class = None
    create_serializer_class = None
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["version"].initial = stored_version(self.instance)
            # Show the object as the API shows it (sorted maps, the trust password as `true`).
            shown = self.serializer_class(self.instance).data
            for name in self.fields:
                if name in shown and name in self.Meta.fields:
                    self.initial[name] = shown[name]

    def api_data(self, cleaned_data):
        """The serializer's body: the form's model fields as cleaned."""
        return {name: cleaned_data[name] for name in self.Meta.fields if name in cleaned_data}

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
        cleaned_data.update(self.serializer.validated_data)
        return cleaned_data


class APIValidatedAdmin(admin.ModelAdmin):
    """Saves through the form's API serializer, so the admin writes exactly what the API would."""

    def save_model(self, request, obj, form, change):
        form.serializer.instance = obj if change else None
        form.instance = form.serializer.save()


class ServerForm(APIValidatedForm):
    """The server config as YAML, checked by ``ServerSerializer``."""

    serializer_class = ServerSerializer
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


class ProfileForm(APIValidatedForm):
    """A profile as YAML config and devices, checked by the API's profile serializers."""

    serializer_class = ProfileSerializer
    create_serializer_class = ProfileCreateSerializer
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

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The API's rules: what it refuses to delete shows as protected, and is not deleted.
        for profile in objs:
            try:
                check_profile_deletable(profile)
            except exceptions.APIException as exc:
                protected.append(f"{profile}: {error_text(exc)}")
        return deleted, counts, perms_needed, protected
