"""Network ACLs: LXD's ACL shape, its names and the rules of its rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import config_keys
from ..config_keys import network_acl
from ..etags import ETagSerializer
from ..go import GoStruct
from ..models import NetworkACL, Project
from .fields import ConfigField, GoField, LXDModelSerializer, StringField, lxd_error, merge_config

NOT_FOUND = "Network ACL not found"


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}})
class RulesField(GoField):
    """A list of ACL rules (api.NetworkACLRule): string fields, shown in LXD's field order."""

    def to_internal_value(self, data):
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(rule, dict) for rule in data):
            raise serializers.ValidationError("expected an array of rule objects")
        for rule in data:
            for key in network_acl.RULE_FIELDS:
                if not isinstance(rule.get(key, ""), str):
                    raise serializers.ValidationError(f"rule field {key} must be a string")
        return [{key: rule.get(key, "") for key in network_acl.RULE_FIELDS} for rule in data]

    def to_representation(self, value):
        return [GoStruct((key, rule[key]) for key in network_acl.RULE_FIELDS if key in rule) for rule in value]


def _project_acl_names(project_name):
    return set(NetworkACL.objects.filter(project__name=project_name).values_list("name", flat=True))


class NetworkACLSerializer(LXDModelSerializer):
    """An ACL as LXD shows it; PUT replaces everything, PATCH merges config and keeps what it leaves out."""

    put_defaults = {"description": "", "egress": [], "ingress": [], "config": {}}

    description = StringField(required=False)
    egress = RulesField(required=False)
    ingress = RulesField(required=False)
    config = ConfigField(required=False)
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = NetworkACL
        fields = ["name", "description", "egress", "ingress", "config", "used_by"]
        read_only_fields = ["name"]

    def get_used_by(self, acl) -> list[str]:
        return getattr(acl, "used_by", [])

    def project_name(self):
        return self.context.get("project_name", Project.DEFAULT_NAME)

    def validate(self, attrs):
        current = self.instance
        config = merge_config(current.config if current else {}, attrs.get("config", {}), partial=self.partial)
        ingress = attrs.get("ingress", current.ingress if current else [])
        egress = attrs.get("egress", current.egress if current else [])
        try:
            ingress, egress = network_acl.validate_acl(config, ingress, egress, _project_acl_names(self.project_name()))
        except config_keys.ConfigError as exc:
            # LXD answers 500 for rules it refuses; they are the client's mistake: 400.
            raise lxd_error(str(exc)) from exc
        return {**attrs, "config": config, "ingress": ingress, "egress": egress}


class NetworkACLCreateSerializer(NetworkACLSerializer):
    """``POST /1.0/network-acls``: a new ACL with a free valid name and valid rules."""

    name = StringField(default="")

    class Meta(NetworkACLSerializer.Meta):
        read_only_fields = []

    def validate(self, attrs):
        name = attrs.get("name", "")
        if NetworkACL.objects.filter(project__name=self.project_name(), name=name).exists():
            raise lxd_error("The network ACL already exists")
        try:
            network_acl.validate_acl_name(name)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return super().validate(attrs)


class NetworkACLRenameSerializer(LXDModelSerializer):
    """``POST /1.0/network-acls/NAME``: rename an ACL nothing uses to a free valid name."""

    name = StringField(default="")

    class Meta:
        model = NetworkACL
        fields = ["name"]

    def validate_name(self, name):
        if NetworkACL.objects.filter(project_id=self.instance.project_id, name=name).exists():
            raise lxd_error("An ACL by that name exists already")
        if self.context["in_use"](self.instance):
            raise lxd_error("Cannot rename an ACL that is in use")
        try:
            network_acl.validate_acl_name(name)
        except config_keys.ConfigError as exc:
            raise lxd_error(str(exc)) from exc
        return name


class NetworkACLETagSerializer(ETagSerializer):
    """LXD hashes ``[name, description, ingress, egress, config]``."""

    lxd_recipe = ("name", "description", "ingress", "egress", "config")

    name = StringField()
    description = StringField()
    ingress = RulesField()
    egress = RulesField()
    config = ConfigField()
