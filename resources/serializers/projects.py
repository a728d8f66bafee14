"""Projects: LXD's project shape, names, config rules and what a change of features does."""

from rest_framework import exceptions, serializers

from .. import config_keys
from ..config_keys.validators import parse_byte_size
from ..etags import ETagSerializer
from ..exceptions import Conflict
from ..go import go_quote
from ..models import Image, Instance, Network, NetworkACL, NetworkZone, Profile, Project, StorageVolume
from ..prepared import shown_rows
from ..project_limits import check_project_update, usage
from .fields import (
    ConfigField,
    LXDModelSerializer,
    StringField,
    judged_by_project,
    lxd_error,
    lxd_operation_error,
    merge_config,
)


class ProjectSerializer(LXDModelSerializer):
    """A project as LXD shows it; PUT replaces config and description, PATCH merges them."""

    put_defaults = {"config": {}, "description": ""}

    config = ConfigField(required=False)
    description = StringField(required=False)
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["config", "description", "name", "used_by"]
        read_only_fields = ["name"]

    def get_used_by(self, project) -> list[str]:
        """Its instances, profiles and images, in that order, as LXD lists them."""
        query = Project.url_query(project.name)
        instances = sorted(row.name for row in shown_rows(project, "instances"))
        profiles = sorted(row.name for row in shown_rows(project, "profiles"))
        images = sorted(row.fingerprint for row in shown_rows(project, "images"))
        return (
            [f"/1.0/instances/{name}{query}" for name in instances]
            + [f"/1.0/profiles/{name}{query}" for name in profiles]
            + [f"/1.0/images/{fingerprint}{query}" for fingerprint in images]
            + [f"/1.0/storage-pools/{pool}/volumes/custom/{name}{query}" for pool, name in self._volumes(project)]
        )

    def _volumes(self, project):
        """(pool, name) of the project's custom volumes, read once for a whole list."""
        if "_custom_volumes" not in self.context:
            volumes = {}
            rows = custom_volumes().order_by("pool__name", "name").values_list("project_id", "pool__name", "name")
            for project_id, pool, name in rows:
                volumes.setdefault(project_id, []).append((pool, name))
            self.context["_custom_volumes"] = volumes
        return self.context["_custom_volumes"].get(project.pk, [])

    def validate_config(self, value):
        current = self.instance.config if self.instance else {}
        config = merge_config(current, value, partial=self.partial)
        try:
            config_keys.validate_project_config(config)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return config

    def validate(self, attrs):
        if self.instance is not None and "config" in attrs:
            check_features_change(self.instance, attrs["config"])
            judged_by_project(check_project_update, self.instance, attrs["config"])
        return attrs

    def update(self, instance, validated_data):
        before = dict(instance.config)
        project = super().update(instance, validated_data)
        if _feature_changed(before, project.config, "features.profiles"):
            if project.has_feature("features.profiles"):
                create_default_profile(project)
            else:
                Profile.objects.filter(project=project, name=Profile.DEFAULT_NAME).delete()
        return project


def _feature_changed(before, after, feature):
    return before.get(feature, "") != after.get(feature, "")


def custom_volumes():
    """The custom volumes (a project lists its own in ``used_by``; LXD 5.0.2 deletes a project
    that holds some, and them with it)."""
    return StorageVolume.objects.filter(type=StorageVolume.CUSTOM, instance__isnull=True)


def project_is_empty(project):
    """LXD's projectIsEmpty: no instances, no images, and no profile but its ``default``.

    Rows are named by the foreign key: a read may have attached the relations as shown rows.
    """
    if Instance.objects.filter(project=project).exists() or Image.objects.filter(project=project).exists():
        return False
    if any(model.objects.filter(project=project).exists() for model in (Network, NetworkACL, NetworkZone)):
        return False
    return not Profile.objects.filter(project=project).exclude(name=Profile.DEFAULT_NAME).exists()


def check_features_change(project, config):
    """LXD's rules for changing a project's ``features.*`` (lxd/api_project.go projectChange)."""
    changed = [feature for feature in Project.FEATURES if _feature_changed(project.config, config, feature)]
    if not changed:
        return
    if project.name == Project.DEFAULT_NAME:
        raise lxd_error("You can't change the features of the default project")
    if project_is_empty(project):
        return
    for feature in changed:
        current = project.config.get(feature, "").lower()
        if current in ("true", "1", "yes", "on"):
            raise lxd_error(f"Project feature {go_quote(feature)} cannot be disabled on non-empty projects")
        # LXD 5.0.2 lets no feature be enabled on a non-empty project (none has CanEnableNonEmpty).
        if current in ("false", "0", "no", "off"):
            raise lxd_error(f"Project feature {go_quote(feature)} cannot be enabled on non-empty projects")


def validate_project_name(name):
    """LXD's rules for a project name (lxd/api_project.go projectValidateName)."""
    if not name:
        return "No name provided"
    for forbidden, what in (("/", "slashes"), (" ", "spaces"), ("_", "underscores")):
        if forbidden in name:
            return f"Project names may not contain {what}"
    if "'" in name or '"' in name:
        return "Project names may not contain quotes"
    if name == "*":
        return "Reserved project name"
    if name in (".", ".."):
        return f"Invalid project name {go_quote(name)}"
    return None


def create_default_profile(project):
    """A project with its own profiles starts with a ``default`` profile, as in LXD."""
    Profile.objects.create(
        project=project, name=Profile.DEFAULT_NAME, description=f"Default LXD profile for project {project.name}"
    )


class ProjectCreateSerializer(ProjectSerializer):
    """``POST /1.0/projects``: a new project; the features LXD enables by default unless the body sets them."""

    name = StringField(default="")

    class Meta(ProjectSerializer.Meta):
        read_only_fields = []

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("config", {}), dict):
            # LXD fills the defaults in before decoding the body into the same map: a body's
            # config adds to them; a null config leaves none.
            defaults = dict.fromkeys(Project.DEFAULT_FEATURES, "true")
            data = {**data, "config": {**defaults, **data.get("config", {})}}
        return super().to_internal_value(data)

    def validate_name(self, name):
        error = validate_project_name(name)
        if error:
            raise lxd_error(error)
        return name

    def validate(self, attrs):
        if Project.objects.filter(name=attrs["name"]).exists():
            raise Conflict(
                f"Failed creating project {go_quote(attrs['name'])}: "
                'Failed adding database record: This "projects" entry already exists'
            )
        return attrs

    def create(self, validated_data):
        project = super().create(validated_data)
        if project.has_feature("features.profiles"):
            create_default_profile(project)
        return project


class ProjectRenameSerializer(LXDModelSerializer):
    """``POST /1.0/projects/NAME``: rename an empty project; LXD refuses in the operation."""

    name = StringField(default="")

    class Meta:
        model = Project
        fields = ["name"]

    def validate_name(self, name):
        if self.instance.name == Project.DEFAULT_NAME:
            raise exceptions.PermissionDenied("The 'default' project cannot be renamed")
        if Project.objects.filter(name=name).exists():
            raise lxd_operation_error(f"A project named {go_quote(name)} already exists")
        if not project_is_empty(self.instance):
            raise lxd_operation_error("Only empty projects can be renamed")
        error = validate_project_name(name)
        if error:
            raise lxd_operation_error(error)
        return name


class ProjectETagSerializer(ETagSerializer):
    """LXD hashes ``[description, config]``; the name is left out (a rename is its own request)."""

    lxd_recipe = ("description", "config")

    description = StringField()
    config = ConfigField()


def check_project_deletable(project):
    """LXD's rules for deleting a project, shared by the API and the admin."""
    if project.name == Project.DEFAULT_NAME:
        raise exceptions.PermissionDenied("The 'default' project cannot be deleted")
    if not project_is_empty(project):
        # LXD answers 500 with this text; a project in use is the client's mistake: 400.
        raise lxd_error("Only empty projects can be removed")


def project_state(project):
    """``/1.0/projects/NAME/state``: each limit LXD reports (-1: none) and its usage."""
    instances = list(Instance.objects.filter(project=project).only("type"))
    used = {key.removeprefix("limits."): total for key, total in usage(project).items()}
    used.update(
        {
            "containers": sum(instance.type == "container" for instance in instances),
            "instances": len(instances),
            "virtual-machines": sum(instance.type == "virtual-machine" for instance in instances),
        }
    )
    resources = {}
    for name in ("containers", "cpu", "disk", "instances", "memory", "networks", "processes", "virtual-machines"):
        limit = project.config.get(f"limits.{name}", "")
        if limit and name in ("memory", "disk"):
            limit = parse_byte_size(limit)
        resources[name] = {"Limit": int(limit) if limit != "" else -1, "Usage": used.get(name, 0)}
    return {"resources": resources}
