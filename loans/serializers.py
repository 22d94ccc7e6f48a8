from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.schedule import MAX_TERM_WEEKS, MIN_TERM_WEEKS
from loans.models import Loan
from loans.portfolio import delinquency_bucket
from mo_loans.api.lean import LeanOutputMixin
from mo_loans.api.serializers import (
    BoundedDateTimeField,
    ExternalIdField,
    InputSerializer,
    MoneyField,
    StrictCharField,
    StrictDecimalField,
    StrictIntegerField,
)


class LoanInputSerializer(InputSerializer):
    external_id = ExternalIdField()
    customer_external_id = ExternalIdField()
    amount = MoneyField()
    interest_rate = StrictDecimalField(
        max_digits=5, decimal_places=4, min_value=0, max_value=1, required=False
    )
    term_weeks = StrictIntegerField(
        min_value=MIN_TERM_WEEKS, max_value=MAX_TERM_WEEKS, required=False
    )
    contract_version = StrictCharField(max_length=60, required=False, allow_blank=True, default="")

    def validate_interest_rate(self, value):
        if not value.is_finite():
            raise serializers.ValidationError("A valid number is required.")
        return value


class LoanActivateInputSerializer(InputSerializer):
    taken_at = BoundedDateTimeField(
        required=False, help_text="When the loan was taken (default now; never in the future)."
    )


class LoanRejectInputSerializer(InputSerializer):
    """Rejecting takes no fields; a body, if sent, must be empty (``{}``)."""


class LoanOutputSerializer(LeanOutputMixin, serializers.ModelSerializer):
    customer_external_id = serializers.CharField()
    amount = MoneyField()
    total_amount = MoneyField()
    installment_amount = MoneyField()
    outstanding = MoneyField(positive=False)

    class Meta:
        model = Loan
        fields = [
            "external_id",
            "customer_external_id",
            "amount",
            "interest_rate",
            "term_weeks",
            "total_amount",
            "installment_amount",
            "outstanding",
            "status",
            "contract_version",
            "taken_at",
            "maximum_payment_date",
            "activated_at",
            "rejected_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LoanDetailOutputSerializer(LoanOutputSerializer):
    """A loan with its billing state as of ``as_of`` (``loan.state``)."""

    as_of = serializers.DateField(source="state.as_of")
    outstanding = MoneyField(positive=False, source="state.outstanding")
    paid_amount = MoneyField(positive=False, source="state.paid_amount")
    overdue_amount = MoneyField(positive=False, source="state.overdue_amount")
    missed_installments = serializers.IntegerField(source="state.missed_installments")
    days_past_due = serializers.IntegerField(source="state.days_past_due")
    is_delinquent = serializers.BooleanField(source="state.is_delinquent")
    delinquency_bucket = serializers.SerializerMethodField(
        help_text="The days-past-due bucket of an active loan (`current`: nothing missed); "
        "null for a loan that is not active."
    )

    class Meta(LoanOutputSerializer.Meta):
        fields = [
            *LoanOutputSerializer.Meta.fields,
            "as_of",
            "paid_amount",
            "overdue_amount",
            "missed_installments",
            "days_past_due",
            "is_delinquent",
            "delinquency_bucket",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_delinquency_bucket(self, loan) -> str | None:
        if loan.status != Loan.Status.ACTIVE:
            return None
        return delinquency_bucket(days_past_due=loan.state.days_past_due)


class LoanStateOutputSerializer(LoanOutputSerializer):
    """A list item with ``?include=state``: the loan and its billing state at the list's clock."""

    outstanding = MoneyField(positive=False, source="state.outstanding")
    missed_installments = serializers.IntegerField(source="state.missed_installments")
    days_past_due = serializers.IntegerField(source="state.days_past_due")
    is_delinquent = serializers.BooleanField(source="state.is_delinquent")
    delinquency_bucket = serializers.SerializerMethodField()

    class Meta(LoanOutputSerializer.Meta):
        fields = [
            *LoanOutputSerializer.Meta.fields,
            "missed_installments",
            "days_past_due",
            "is_delinquent",
            "delinquency_bucket",
        ]
        read_only_fields = fields

    get_delinquency_bucket = LoanDetailOutputSerializer.get_delinquency_bucket


INSTALLMENT_STATUSES = ("paid", "partial", "due", "missed")


class InstallmentOutputSerializer(LeanOutputMixin, serializers.Serializer):
    number = serializers.IntegerField()
    due_date = serializers.DateField()
    amount = MoneyField()
    paid_amount = MoneyField(positive=False)
    status = serializers.ChoiceField(choices=INSTALLMENT_STATUSES)


class BalanceOutputSerializer(LeanOutputMixin, serializers.Serializer):
    external_id = serializers.CharField()
    score = MoneyField(positive=False)
    total_debt = MoneyField(positive=False)
    available_amount = MoneyField(positive=False)


class BalanceDetailOutputSerializer(BalanceOutputSerializer):
    is_delinquent = serializers.BooleanField()
    as_of = serializers.DateField()


TRANSACTION_TYPES = ("activation", "payment")


class TransactionOutputSerializer(serializers.Serializer):
    """One statement line; ``outstanding`` is what the loan owed after it."""

    type = serializers.ChoiceField(choices=TRANSACTION_TYPES)
    taken_at = serializers.DateTimeField(
        required=False, help_text="Activation lines: when the loan was taken."
    )
    paid_at = serializers.DateTimeField(
        required=False, help_text="Payment lines: when the money was received."
    )
    recorded_at = serializers.DateTimeField(
        help_text="When the service recorded the activation or the payment."
    )
    payment_external_id = serializers.CharField(required=False)
    amount = MoneyField()
    outstanding = MoneyField(positive=False)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        keep = (
            ("taken_at",) if instance.type == "activation" else ("paid_at", "payment_external_id")
        )
        for name in ("taken_at", "paid_at", "payment_external_id"):
            if name not in keep:
                data.pop(name, None)
        return data
