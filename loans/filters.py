import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from billing.buckets import bucket_names
from loans import portfolio, selectors
from loans.models import Loan
from mo_loans.api.filters import DelinquencyFilterMixin, FilterSet
from mo_loans.core.exceptions import InvalidInputError


class BucketField(forms.CharField):
    """A days-past-due bucket name; an unknown one is refused with the list of valid ones."""

    def validate(self, value):
        super().validate(value)
        names = bucket_names(portfolio.dpd_buckets())
        if value and value not in names:
            raise forms.ValidationError(
                f"Unknown bucket '{value}'. The buckets are: {', '.join(names)}.",
                code="unknown_bucket",
            )


class BucketFilter(django_filters.CharFilter):
    field_class = BucketField


class DaysFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


MAX_DAYS = 1_000_000


def _bucket_schema():
    return {
        "type": "string",
        "enum": bucket_names(portfolio.dpd_buckets()),
        "description": "Loans active as of `as_of` in this days-past-due bucket "
        "(`current`: nothing missed; the others come from BILLING_DPD_BUCKETS).",
    }


DAYS_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}


class LoanFilter(DelinquencyFilterMixin):
    customer_external_id = django_filters.CharFilter(
        field_name="customer__external_id", strip=False
    )
    status = django_filters.TypedChoiceFilter(choices=Loan.Status.choices, coerce=int)
    bucket = BucketFilter(
        method="filter_bucket",
        strip=False,
        label="loans active as of `as_of` in this days-past-due bucket (BILLING_DPD_BUCKETS)",
    )
    include = django_filters.ChoiceFilter(
        choices=[("state", "state")],
        method="filter_include",
        label="`state`: add each loan's billing state at the list's clock",
    )
    dpd_min = DaysFilter(
        method="filter_days",
        min_value=0,
        max_value=MAX_DAYS,
        label="loans active as of `as_of` at least this many days past due",
    )
    dpd_max = DaysFilter(
        method="filter_days",
        min_value=0,
        max_value=MAX_DAYS,
        label="loans active as of `as_of` at most this many days past due",
    )

    class Meta:
        model = Loan
        fields = [
            "customer_external_id",
            "status",
            "delinquent",
            "as_of",
            "known_at",
            "bucket",
            "dpd_min",
            "dpd_max",
            "include",
        ]

    def delinquent_queryset(self, queryset, *, delinquent, as_of, known_at):
        return selectors.filter_delinquent_loans(
            queryset, delinquent=delinquent, as_of=as_of, known_at=known_at
        )

    def filter_include(self, queryset, name, value):
        return queryset  # read by the view when it renders the page

    @extend_schema_field(_bucket_schema())
    def filter_bucket(self, queryset, name, value):
        return queryset  # bucket, dpd_min and dpd_max are applied together below

    @extend_schema_field(DAYS_SCHEMA)
    def filter_days(self, queryset, name, value):
        return queryset  # as filter_bucket

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        known_at = self.known_at_value()
        if data.get("as_of") is not None or known_at is not None:
            # A list at a clock holds the loans that existed then.
            clock = selectors.Clock.of(data.get("as_of"), known_at)
            queryset = selectors.filter_existing_loans(queryset, clock)
        bucket, dpd_min, dpd_max = data.get("bucket"), data.get("dpd_min"), data.get("dpd_max")
        if not bucket and dpd_min is None and dpd_max is None:
            return queryset
        if dpd_min is not None and dpd_max is not None and dpd_min > dpd_max:
            message = f"dpd_min ({dpd_min}) must not be greater than dpd_max ({dpd_max})."
            raise InvalidInputError(
                message, code="invalid_dpd_range", fields={"dpd_min": [message]}
            )
        low, high = dpd_min, dpd_max
        if bucket:
            bucket_low, bucket_high = portfolio.bucket_range(bucket)
            low = bucket_low if low is None else max(low, bucket_low)
            if bucket_high is not None:
                high = bucket_high if high is None else min(high, bucket_high)
        as_of = data.get("as_of") or portfolio.today()
        return portfolio.filter_loans_by_dpd(
            queryset, as_of=as_of, known_at=known_at, dpd_min=low, dpd_max=high
        )


class BalanceFilter(FilterSet):
    """``external_id``; the clock (``as_of``, ``known_at``) is read by the view."""

    external_id = django_filters.CharFilter(strip=False)
