from rest_framework import serializers

from customers import rules
from customers.models import Customer
from mo_loans.api.lean import LeanOutputMixin
from mo_loans.api.serializers import (
    BoundedDateTimeField,
    ExternalIdField,
    InputSerializer,
    MoneyField,
    StrictCharField,
    StrictEmailField,
)


def validate_external_id(value: str) -> str:
    if value in rules.RESERVED_EXTERNAL_IDS:
        raise serializers.ValidationError(f"'{value}' is a reserved word.")
    return value


class CustomerInputSerializer(InputSerializer):
    """The rules for one new customer, shared by the single, bulk and import paths."""

    external_id = ExternalIdField(validators=[validate_external_id])
    score = MoneyField(positive=False)
    preapproved_at = BoundedDateTimeField(required=False, allow_null=True)
    name = StrictCharField(
        required=False, allow_blank=True, max_length=rules.NAME_MAX_LENGTH, default=""
    )
    email = StrictEmailField(
        required=False, allow_blank=True, max_length=rules.EMAIL_MAX_LENGTH, default=""
    )


class CustomerUpdateSerializer(InputSerializer):
    score = MoneyField(positive=False, required=False)
    status = serializers.ChoiceField(choices=Customer.Status.choices, required=False)
    name = StrictCharField(required=False, allow_blank=True, max_length=rules.NAME_MAX_LENGTH)
    email = StrictEmailField(required=False, allow_blank=True, max_length=rules.EMAIL_MAX_LENGTH)


class CustomerOutputSerializer(LeanOutputMixin, serializers.ModelSerializer):
    score = MoneyField(positive=False)

    class Meta:
        model = Customer
        fields = [
            "external_id",
            "score",
            "status",
            "preapproved_at",
            "name",
            "email",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
