"""The admin of ``/1.0/certificates``: the trust store, added to and changed by the API's rules."""

from django import forms
from django.contrib import admin
from django.db import transaction
from rest_framework import exceptions

from ..exceptions import error_text
from ..models import Certificate, Project
from ..serializers.certificates import CertificateSerializer, add_certificate, parse_certificate_pem
from ..server_identity import fingerprint_of_der


class CertificateForm(forms.ModelForm):
    """A certificate's name, restrictions and projects; a new one also takes its PEM and type."""

    pem = forms.CharField(
        label="Certificate",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 70, "spellcheck": "false"}),
        help_text="The client's certificate in PEM (lxc: ~/.config/lxc/client.crt).",
    )
    project_choices = forms.ModelMultipleChoiceField(
        Project.objects.all(), required=False, label="Projects", help_text="What a restricted certificate may use."
    )

    class Meta:
        model = Certificate
        fields = ["name", "type", "restricted"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["project_choices"].initial = [link.project_id for link in self.instance.project_links.all()]

    def clean_pem(self):
        pem = self.cleaned_data["pem"]
        if self.instance.pk:
            return None
        try:
            der = parse_certificate_pem(pem)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if Certificate.objects.filter(fingerprint=fingerprint_of_der(der)).exists():
            raise forms.ValidationError("Certificate already in trust store")
        return der

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not self.errors:
            # The API's PATCH, so the admin refuses what the API refuses.
            data = {
                "name": cleaned.get("name", ""),
                "restricted": cleaned.get("restricted", False),
                "projects": [project.name for project in cleaned.get("project_choices", [])],
            }
            self.api_serializer = CertificateSerializer(self.instance, data=data, partial=True)
            try:
                self.api_serializer.is_valid(raise_exception=True)
            except exceptions.APIException as exc:
                raise forms.ValidationError(error_text(exc)) from exc
        return cleaned


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    """Trusted client certificates (``lxc config trust``): a TLS client presenting one is trusted."""

    form = CertificateForm
    list_display = ["name", "type", "restricted", "short_fingerprint"]
    list_filter = ["type", "restricted"]
    search_fields = ["name", "fingerprint"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["pem", "name", "type", "restricted", "project_choices"]
        return ["fingerprint", "type", "name", "restricted", "project_choices", "certificate"]

    def get_readonly_fields(self, request, obj=None):
        return ["fingerprint", "type", "certificate"] if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("project_links__project")

    @admin.display(description="fingerprint")
    def short_fingerprint(self, certificate):
        return certificate.fingerprint[:12]

    def save_model(self, request, obj, form, change):
        if change:
            form.api_serializer.save()
            return
        with transaction.atomic():
            created = add_certificate(
                form.cleaned_data["pem"],
                name=obj.name,
                type=obj.type,
                restricted=obj.restricted,
                projects=list(form.cleaned_data["project_choices"]),
            )
        obj.pk, obj.fingerprint = created.pk, created.fingerprint

    def save_related(self, request, form, formsets, change):
        # The projects were saved with the certificate (save_model), through the API's rules.
        pass
