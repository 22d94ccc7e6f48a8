"""Input and output of ``GET /api/portfolio`` and ``GET /api/loans/{id}/delinquency``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.portfolio import PAR_DAYS
from mo_loans.api.serializers import AsOfQuerySerializer

DATE_FORMATS = ["%Y-%m-%d"]
RATIO_HELP = "A ratio from 0 to 1 with 4 decimals, as a string (half-up, from exact sums)."


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^[0-9]+\.[0-9]{2}$"})
class TotalMoneyField(serializers.DecimalField):
    """An exact sum of money over many loans: 2 decimals, as a string, any number of digits."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=None, decimal_places=2, **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^[01]\.[0-9]{4}$", "description": RATIO_HELP})
class RatioField(serializers.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", RATIO_HELP)
        super().__init__(**kwargs)


class PortfolioQuerySerializer(AsOfQuerySerializer):
    """``as_of``, and an optional collection period ``from``..``to`` (both or neither)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False,
            input_formats=DATE_FORMATS,
            help_text="First day of the collection period (with `to`).",
        )
        fields["to"] = serializers.DateField(
            required=False,
            input_formats=DATE_FORMATS,
            help_text="Last day of the collection period, inclusive (with `from`).",
        )
        return fields


class PortfolioParSerializer(serializers.Serializer):
    """PAR X for X in 1, 7, 30, 90: share of the outstanding principal more than X days late."""

    def get_fields(self):
        return {str(days): RatioField() for days in PAR_DAYS}


class PortfolioBucketSerializer(serializers.Serializer):
    bucket = serializers.CharField(help_text="`current` or a range of BILLING_DPD_BUCKETS.")
    loans = serializers.IntegerField()
    outstanding = TotalMoneyField()
    outstanding_principal = TotalMoneyField()


class PortfolioOutputSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    active_loans = serializers.IntegerField()
    gross_outstanding = TotalMoneyField()
    outstanding_principal = TotalMoneyField()
    par = PortfolioParSerializer()
    buckets = PortfolioBucketSerializer(many=True, help_text="`current` first, then every bucket.")
    delinquent_loans = serializers.IntegerField()
    delinquent_customers = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        period = {"allow_null": True, "help_text": "Only with `from` and `to`; else null."}
        fields["from"] = serializers.DateField(source="period_from", **period)
        fields["to"] = serializers.DateField(source="period_to", **period)
        fields["due_amount"] = TotalMoneyField(source="collection.due_amount", **period)
        fields["collected_on_time"] = TotalMoneyField(
            source="collection.collected_on_time", **period
        )
        fields["collected_in_period"] = TotalMoneyField(
            source="collection.collected_in_period", **period
        )
        fields["on_time_rate"] = RatioField(
            source="collection.on_time_rate", allow_null=True, help_text=RATIO_HELP
        )
        return fields


class ArrearsPeriodSerializer(serializers.Serializer):
    max_days_past_due = serializers.IntegerField()
    max_missed_installments = serializers.IntegerField()
    delinquent = serializers.BooleanField(
        help_text="Two or more instalments were missed at once during the period."
    )

    def get_fields(self):
        fields = {
            "from": serializers.DateField(
                source="start", help_text="The first day with a missed instalment."
            ),
            "to": serializers.DateField(
                source="end",
                allow_null=True,
                help_text="The first day with none missed again; null while it lasts.",
            ),
        }
        fields.update(super().get_fields())
        return fields
