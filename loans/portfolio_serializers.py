"""Input and output of ``GET /api/portfolio`` and ``GET /api/loans/{id}/delinquency``."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.portfolio import PAR_DAYS
from loans.portfolio import today
from mo_loans.api.serializers import AsOfQuerySerializer
from mo_loans.core.exceptions import InvalidInputError

MAX_PERIOD_YEARS = 3

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


def _years_later(day: date, years: int) -> date | None:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, or past year 9999
        try:
            return date(day.year + years, 3, 1)
        except ValueError:
            return None


def _invalid_period(message: str, field: str, code: str = "invalid_period") -> InvalidInputError:
    return InvalidInputError(message, code=code, fields={field: [message]})


class PortfolioQuerySerializer(AsOfQuerySerializer):
    """``as_of`` (default today), and an optional collection period ``from``..``to``.

    ``from`` and ``to`` come together, ``from`` ≤ ``to`` ≤ ``as_of``, and ``to``
    is before ``from`` + 3 years; each rule has its own error code, since a
    schema cannot state rules across fields.
    """

    def validate(self, data):
        data = dict(super().validate(data))
        data["as_of"] = data.get("as_of") or today()
        period_from, period_to = data.get("from"), data.get("to")
        if period_from is None and period_to is None:
            return data
        if period_from is None or period_to is None:
            missing = "from" if period_from is None else "to"
            raise _invalid_period("A period needs both `from` and `to`.", missing)
        if period_from > period_to:
            raise _invalid_period(f"`from` ({period_from}) is after `to` ({period_to}).", "from")
        limit = _years_later(period_from, MAX_PERIOD_YEARS)
        if limit is not None and period_to >= limit:
            raise _invalid_period(
                f"A period may be at most {MAX_PERIOD_YEARS} years long: with `from` "
                f"{period_from}, `to` must be before {limit}.",
                "to",
                code="period_too_long",
            )
        if period_to > data["as_of"]:
            raise _invalid_period(
                f"`to` ({period_to}) is after `as_of` ({data['as_of']}): a period must have "
                "ended by then.",
                "to",
                code="period_after_as_of",
            )
        return data

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
