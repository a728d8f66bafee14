"""The admin of ``/1.0/projects``."""

from django import forms
from django.contrib import admin

from ..models import Project
from ..serializers import ProjectCreateSerializer, ProjectSerializer, check_project_deletable
from .base import APIValidatedAdmin, APIValidatedForm, YAMLField


class ProjectForm(APIValidatedForm):
    """A project as YAML config, checked by the API's project serializers."""

    serializer_class = ProjectSerializer
    create_serializer_class = ProjectCreateSerializer
    api_fields = ["name", "description", "config"]
    config = YAMLField(strings=True, help_text="YAML mapping of config keys to string values.")

    class Meta:
        model = Project
        fields = ["name", "description", "config"]
        widgets = {"description": forms.TextInput(attrs={"class": "vLargeTextField"})}


@admin.register(Project)
class ProjectAdmin(APIValidatedAdmin):
    """LXD projects: renamed through the API (``lxc project rename``), edited here."""

    form = ProjectForm
    list_display = ["name", "description", "config_count"]
    search_fields = ["name", "description", "config"]

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    @admin.display(description="config keys")
    def config_count(self, project):
        return len(project.config)

    def check_deletable(self, project):
        check_project_deletable(project)
