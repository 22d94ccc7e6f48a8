import django_filters

from customers.models import Customer
from loans.selectors import filter_delinquent_customers
from mo_loans.api.filters import DelinquencyFilterMixin


class CustomerFilter(DelinquencyFilterMixin):
    status = django_filters.TypedChoiceFilter(choices=Customer.Status.choices, coerce=int)
    external_id = django_filters.CharFilter(strip=False)

    class Meta:
        model = Customer
        fields = ["status", "external_id", "delinquent", "as_of", "known_at"]

    def delinquent_queryset(self, queryset, *, delinquent, as_of, known_at):
        return filter_delinquent_customers(
            queryset, delinquent=delinquent, as_of=as_of, known_at=known_at
        )
