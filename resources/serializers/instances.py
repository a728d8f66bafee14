"""Instances: their shape, the full answer (state, snapshots), creation and the ETag subset."""

from rest_framework import exceptions, serializers

from .. import config_keys, instance_copies, instance_files, instance_metadata
from ..architectures import ARCHITECTURE_IDS
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import GoStruct, go_quote, go_time
from ..instance_volumes import keep_image_volume
from ..instances import (
    expand_config,
    expand_devices,
    generated_name,
    hostname_error,
    initial_volatile,
    is_volatile,
    without_volatile,
)
from ..models import Instance, Profile, Project
from ..network_usage import Usage, address_conflict
from ..project_limits import Member, check_instance_update
from ..storage_usage import new_instance_root_error, root_pool_change_error
from ..volume_usage import volume_disk_error
from .fields import (
    BoolField,
    ConfigField,
    DevicesField,
    LXDModelSerializer,
    StringField,
    TimeField,
    judged_by_project,
    lxd_error,
    lxd_operation_error,
)
from .instance_parts import (
    ProfileNamesField,
    instance_state,
    resolve_profiles,
    set_instance_profiles,
)
from .networks import fill_nic_volatile, network_lookup
from .snapshots import (
    SnapshotSerializer,
)

# ``last_used_at`` of an instance that never ran.
NEVER_USED = "1970-01-01T00:00:00Z"
# The instance types LXD 5.0.2 knows.
INSTANCE_TYPES = ("container", "virtual-machine")


class InstanceSerializer(LXDModelSerializer):
    """An instance as LXD shows it. PUT replaces config, devices, profiles, ephemeral and
    description; PATCH merges config and devices. ``volatile.*`` keys stay the server's."""

    architecture = StringField(required=False)
    config = ConfigField(required=False)
    devices = DevicesField(required=False)
    ephemeral = BoolField(required=False)
    profiles = ProfileNamesField(source="*", required=False)
    description = StringField(required=False)
    created_at = TimeField(read_only=True)
    expanded_config = serializers.SerializerMethodField()
    expanded_devices = serializers.SerializerMethodField()
    status_code = serializers.SerializerMethodField()
    last_used_at = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()

    class Meta:
        model = Instance
        fields = [
            "architecture",
            "config",
            "devices",
            "ephemeral",
            "profiles",
            "stateful",
            "description",
            "created_at",
            "expanded_config",
            "expanded_devices",
            "name",
            "status",
            "status_code",
            "last_used_at",
            "location",
            "type",
            "project",
        ]
        read_only_fields = ["stateful", "name", "status", "type"]

    def profiles_of(self, instance):
        """The instance's profiles, read once for the three fields that show them (a list shows many)."""
        shown, profiles = getattr(self, "_shown_profiles", (None, None))
        if shown is not instance:
            profiles = instance.profile_list()
            self._shown_profiles = (instance, profiles)
        return profiles

    def get_expanded_config(self, instance) -> dict:
        return expand_config(self.profiles_of(instance), instance.config)

    def get_expanded_devices(self, instance) -> dict:
        return expand_devices(self.profiles_of(instance), instance.devices)

    def get_status_code(self, instance) -> int:
        return Instance.STATUS_CODES[instance.status]

    def get_last_used_at(self, instance) -> str:
        # LXD shows the Unix epoch for an instance never started.
        return go_time(instance.last_used_at) if instance.last_used_at else NEVER_USED

    def get_location(self, instance) -> str:
        return "none"

    def get_project(self, instance) -> str:
        name = self.context.get("project_name", Project.DEFAULT_NAME)
        # A list of every project's instances (``all-projects=true``) names each one's own.
        return instance.project.name if name is Project.ALL else name

    def project_name(self):
        """The project the request names (the view's ``project_name``)."""
        return self.context.get("project_name", Project.DEFAULT_NAME)

    def validate_architecture(self, value):
        if value and value not in ARCHITECTURE_IDS:
            raise lxd_operation_error(f"Requested architecture isn't supported: {go_quote(value)}")
        return value or (self.instance.architecture if self.instance else "x86_64")

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        local = without_volatile(current) if self.partial else {}
        local = {**local, **without_volatile(value)}
        local = {key: item for key, item in local.items() if item != ""}
        try:
            config_keys.validate_instance_config(local)
        except config_keys.ConfigError as exc:
            raise lxd_operation_error(self.config_error_prefix + str(exc)) from exc
        # Clients send volatile keys back (lxc, pylxd); the stored ones are kept.
        volatile = {key: item for key, item in current.items() if is_volatile(key)}
        return {**local, **volatile}

    def validate_devices(self, value):
        devices = {**self.instance.devices, **value} if self.partial and self.instance else value
        try:
            config_keys.validate_devices(devices, profile=False, networks=network_lookup(self.project_name()))
        except config_keys.ConfigError as exc:
            raise lxd_operation_error(self.devices_error_prefix + str(exc)) from exc
        return devices

    def validate_profiles(self, value):
        return {"profiles": resolve_profiles(value, self.project_name())}

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None:
            self.check_root_pool(attrs)
            self.check_nic_conflicts(attrs)
            self.check_volume_disks(attrs)
        return attrs

    def check_volume_disks(self, attrs):
        """The disks an update adds or changes that attach custom volumes (LXD's texts)."""
        before = expand_devices(self.instance.profile_list(), self.instance.devices)
        after = expand_devices(
            attrs.get("profiles", self.instance.profile_list()), attrs.get("devices", self.instance.devices)
        )
        refused = volume_disk_error(self.instance.type, self.project_name(), before, after)
        if refused:
            message, missing = refused
            if missing and self.partial:
                # LXD answers its (synchronous) PATCH 404 for a pool or volume it cannot find.
                raise exceptions.NotFound(message)
            raise lxd_operation_error(message)

    def check_nic_conflicts(self, attrs):
        """LXD's checks of each NIC an update adds or changes against the other NICs on its
        bridge (its deviceLoad with the instance: the instance's DNS name, MAC, addresses)."""
        before = expand_devices(self.instance.profile_list(), self.instance.devices)
        after = expand_devices(
            attrs.get("profiles", self.instance.profile_list()), attrs.get("devices", self.instance.devices)
        )
        changed = [
            name for name in sorted(after) if after[name] != before.get(name) and after[name].get("type") == "nic"
        ]
        if not changed:
            return
        find, usage = network_lookup(self.project_name()).find, Usage.read()
        for name in changed:
            config = self.instance.config
            message = address_conflict(self.instance.name, self.project_name(), after, config, name, find, usage)
            if message is not None:
                verb = "update" if name in before else "add"
                raise lxd_operation_error(f"Failed {verb} validation for device {go_quote(name)}: {message}")

    # How LXD words a refused update (instancePut); a create words it its own way.
    config_error_prefix = "Invalid config: "
    devices_error_prefix = "Invalid devices: "

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        if not self.partial:
            # PUT is a full replace of what a client controls, as LXD does.
            defaults = {"devices": {}, "ephemeral": False, "description": "", "profiles": []}
            if "config" not in validated:
                validated["config"] = self.validate_config({})
            validated = {**defaults, **validated}
        return validated

    def check_root_pool(self, attrs):
        """An update may not move the instance's root disk to another pool (LXD's text)."""
        if "devices" in attrs or "profiles" in attrs:
            current = self.instance.profile_list()
            error = root_pool_change_error(
                current,
                self.instance.devices,
                attrs.get("profiles", current),
                attrs.get("devices", self.instance.devices),
            )
            if error:
                raise lxd_operation_error(error)

    def update(self, instance, validated_data):
        profiles = validated_data.pop("profiles", None)
        changed = Member(
            instance.name,
            instance.type,
            validated_data.get("config", instance.config),
            validated_data.get("devices", instance.devices),
            [p.name for p in (instance.profile_list() if profiles is None else profiles)],
        )
        judged_by_project(check_instance_update, instance.project, changed)
        before = set(expand_devices(instance.profile_list(), instance.devices))
        instance = super().update(instance, validated_data)
        if profiles is not None:
            set_instance_profiles(instance, profiles)
        fill_nic_volatile(instance, self.project_name(), removed=before)
        return instance


class InstanceFullSerializer(InstanceSerializer):
    """``recursion=1`` on an instance, ``recursion=2`` on the list: plus state and snapshots."""

    backups = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    snapshots = serializers.SerializerMethodField()

    class Meta(InstanceSerializer.Meta):
        fields = [*InstanceSerializer.Meta.fields, "backups", "state", "snapshots"]

    def get_backups(self, instance) -> None:
        return None

    def get_state(self, instance) -> dict:
        return instance_state(instance)

    def get_snapshots(self, instance) -> list | None:
        snapshots = list(instance.snapshots.all())
        if "answer_snapshots" not in self.context:
            # The snapshots of every instance shown: their profiles are read once (prefetched in lists).
            shown = self.parent.instance if isinstance(self.parent, serializers.ListSerializer) else [instance]
            self.context["answer_snapshots"] = [each for item in shown for each in item.snapshots.all()]
        return SnapshotSerializer(snapshots, many=True, context=self.context).data if snapshots else None


class InstanceCreateSerializer(InstanceSerializer):
    """``POST /1.0/instances``: LXD's name rules (400), a free name (409), profiles by name."""

    name = StringField(default="")
    type = StringField(required=False)
    profiles = ProfileNamesField(source="*", required=False, allow_null=True)
    config_error_prefix = "Failed creating instance record: "
    # LXD 5.0.2 validates the devices while it initialises the new instance.
    devices_error_prefix = "Failed creating instance record: Failed initialising instance: Invalid devices: "

    class Meta(InstanceSerializer.Meta):
        read_only_fields = ["stateful", "status"]

    def validate_name(self, name):
        in_project = Instance.objects.filter(project__name=self.project_name())
        name = name or generated_name(in_project.values_list("name", flat=True))
        if name is None:
            raise lxd_operation_error("Couldn't generate a new unique name after 100 tries")
        error = hostname_error(name)
        if error:
            raise lxd_error(f"Invalid instance name: {error}")
        if in_project.filter(name=name).exists():
            raise Conflict(
                "Failed creating instance record: Add instance info to the database: "
                'This "instances" entry already exists'
            )
        return name

    def validate_type(self, value):
        if value and value not in INSTANCE_TYPES:
            raise lxd_error("Invalid instance type")
        return value or "container"

    def validate_architecture(self, value):
        image = self.context.get("image")
        if image is not None:
            # LXD creates from the image's architecture, whatever the request names.
            return image.architecture
        if value and value not in ARCHITECTURE_IDS:
            # LXD's text (with a 500).
            raise lxd_error(f"Architecture isn't supported: {value}")
        return value or "x86_64"

    def create(self, validated_data):
        profiles = validated_data.pop("profiles", None)
        image = self.context.get("image")
        config = validated_data.get("config", {})
        if image is not None:
            image_keys = {f"image.{key}": value for key, value in image.properties.items()}
            config = {**image_keys, **config}
            validated_data.setdefault("architecture", image.architecture)
        copied = self.context.get("copy_of")
        volatile = initial_volatile(image)
        if copied is not None:
            volatile = {**initial_volatile(None), **instance_copies.copied_volatile(copied)}
        validated_data["config"] = {**config, **volatile}
        validated_data["project"] = Project.objects.get(name=self.project_name())
        profiles = self.chosen_profiles(profiles)
        validated_data["metadata"] = instance_metadata.from_image(image) if image is not None else None
        instance = Instance.objects.create(**validated_data)
        set_instance_profiles(instance, profiles)
        if copied is not None:
            instance_copies.copy_contents(copied, instance, instance_only=self.context.get("instance_only", False))
        elif image is not None:
            instance_files.seed_from_image(instance, image)
        fill_nic_volatile(instance, self.project_name())
        keep_image_volume(instance, instance.config.get("volatile.base_image", ""))
        return instance

    def _default_profile_names(self):
        """LXD: no profiles in the request means the image's, or "default"."""
        image = self.context.get("image")
        if image is None:
            return [Profile.DEFAULT_NAME]
        return [link.profile.name for link in image.profile_links.select_related("profile")]

    def requested_member(self, name):
        """The instance as the request asks for it: LXD judges a create by its project's limits
        and restrictions before it validates the rest (what is not a string map counts as empty)."""
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        config = data.get("config") if isinstance(data.get("config"), dict) else {}
        devices = data.get("devices") if isinstance(data.get("devices"), dict) else {}
        profiles = data.get("profiles")
        return Member(
            name,
            data.get("type") or "container",
            {key: value for key, value in config.items() if isinstance(value, str)},
            {key: device for key, device in devices.items() if isinstance(device, dict)},
            [str(p) for p in profiles] if isinstance(profiles, list) else self._default_profile_names(),
        )

    def chosen_profiles(self, profiles):
        """The profiles the request names; none (null) means the image's, or "default", as in LXD."""
        if profiles is not None:
            return profiles
        return resolve_profiles(self._default_profile_names(), self.project_name())

    def validate(self, attrs):
        # The root disk resolves to an existing pool (LXD checks it as it initialises the instance).
        profiles = self.chosen_profiles(attrs.get("profiles"))
        error = new_instance_root_error(profiles, attrs.get("devices", {}))
        devices = expand_devices(profiles, attrs.get("devices", {}))
        instance_type = attrs.get("type") or "container"
        refused = volume_disk_error(instance_type, self.project_name(), {}, devices)
        error = error or (refused and "Failed creating instance record: Failed initialising instance: " + refused[0])
        if error:
            raise lxd_operation_error(error)
        return attrs

    def validate_profiles(self, value):
        if self.initial_data.get("profiles") is None:
            # LXD: null profiles mean the image's (or "default"), chosen in create().
            return {}
        return super().validate_profiles(value)

    def to_internal_value(self, data):
        # A create fills in what it is not given itself; PUT's full-replace defaults don't apply.
        return serializers.ModelSerializer.to_internal_value(self, data)


class InstanceRenameSerializer(LXDModelSerializer):
    """``POST /1.0/instances/NAME``: rename, with LXD's name rules."""

    name = StringField(default="")

    class Meta:
        model = Instance
        fields = ["name"]

    def validate_name(self, name):
        error = hostname_error(name)
        if error:
            raise lxd_error(f"Invalid instance name: {error}")
        taken = Instance.objects.filter(project_id=self.instance.project_id, name=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise Conflict(f"Name {go_quote(name)} already in use")
        return name


class InstanceETagSerializer(ETagSerializer):
    """LXD hashes ``[architecture id, local config, local devices, ephemeral, attached profiles]``.

    Unlike LXD, the ``volatile.*`` keys are left out: the server changes them (on start and
    stop), and a client's ETag must not go stale because of that. A PUT also sets the
    description, which lxdsite hashes too.
    """

    lxd_recipe = ("architecture", "config", "devices", "ephemeral", "profiles")
    additions = ("description",)
    description = StringField()

    def lxd_value(self, instance, shown):
        profiles = [
            GoStruct(config=p.config, description=p.description, devices=p.devices, name=p.name, used_by=None)
            for p in instance.profile_list()
        ]
        return [
            ARCHITECTURE_IDS.get(instance.architecture, 0),
            without_volatile(instance.config),
            instance.devices or None,
            instance.ephemeral,
            profiles,
        ]
