"""Operations as LXD shows them."""

from rest_framework import serializers

from ..models import Operation
from .fields import (
    LXDModelSerializer,
    TimeField,
)


class OperationSerializer(LXDModelSerializer):
    """An operation in LXD's field order (``class`` is a Python keyword, hence ``operation_class``)."""

    id = serializers.CharField(read_only=True)
    operation_class = serializers.CharField(read_only=True)
    created_at = TimeField(read_only=True)
    updated_at = TimeField(read_only=True)
    location = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "id",
            "operation_class",
            "description",
            "created_at",
            "updated_at",
            "status",
            "status_code",
            "resources",
            "metadata",
            "may_cancel",
            "err",
            "location",
        ]

    def get_location(self, operation) -> str:
        return "none"

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {("class" if key == "operation_class" else key): value for key, value in data.items()}
