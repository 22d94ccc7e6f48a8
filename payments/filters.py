import django_filters

from mo_loans.api.filters import FilterSet, UtcDateTimeFilter
from payments.models import Payment


class PaymentFilter(FilterSet):
    customer_external_id = django_filters.CharFilter(
        field_name="customer__external_id", strip=False
    )
    status = django_filters.TypedChoiceFilter(choices=Payment.Status.choices, coerce=int)
    paid_from = UtcDateTimeFilter(
        field_name="paid_at", lookup_expr="gte", label="paid at or after (ISO 8601)"
    )
    paid_to = UtcDateTimeFilter(
        field_name="paid_at", lookup_expr="lte", label="paid at or before (ISO 8601)"
    )

    class Meta:
        model = Payment
        fields = ["customer_external_id", "status", "paid_from", "paid_to"]
