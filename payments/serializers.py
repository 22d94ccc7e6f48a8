from rest_framework import serializers

from mo_loans.api.lean import LeanOutputMixin
from mo_loans.api.serializers import (
    BoundedDateTimeField,
    ExternalIdField,
    InputSerializer,
    MoneyField,
    StrictCharField,
)
from payments.models import Payment
from payments.services import REASON_MAX_LENGTH


class PaymentInputSerializer(InputSerializer):
    external_id = ExternalIdField()
    customer_external_id = ExternalIdField()
    total_amount = MoneyField()
    loan_external_id = ExternalIdField(required=False, allow_null=True, default=None)
    paid_at = BoundedDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the money was received (ISO 8601; default now; never in the future).",
    )


class PaymentReverseInputSerializer(InputSerializer):
    reason = StrictCharField(
        min_length=1,
        max_length=REASON_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Why the payment is reversed (1 to 200 characters, kept as sent).",
    )


class PaymentDetailOutputSerializer(LeanOutputMixin, serializers.Serializer):
    loan_external_id = serializers.CharField(source="loan.external_id")
    amount = MoneyField()


class PaymentOutputSerializer(LeanOutputMixin, serializers.ModelSerializer):
    customer_external_id = serializers.CharField(source="customer.external_id")
    loan_external_id = serializers.CharField(
        source="loan.external_id", allow_null=True, default=None
    )
    total_amount = MoneyField()
    details = PaymentDetailOutputSerializer(many=True, source="detail_rows")

    class Meta:
        model = Payment
        fields = [
            "external_id",
            "customer_external_id",
            "loan_external_id",
            "total_amount",
            "status",
            "paid_at",
            "recorded_at",
            "rejection_reason",
            "reversed_at",
            "reversal_reason",
            "details",
            "created_at",
        ]
        read_only_fields = fields
