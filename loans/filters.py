import django_filters

from loans import selectors
from loans.models import Loan
from mo_loans.api.filters import DelinquencyFilterMixin


class LoanFilter(DelinquencyFilterMixin):
    customer_external_id = django_filters.CharFilter(
        field_name="customer__external_id", strip=False
    )
    status = django_filters.TypedChoiceFilter(choices=Loan.Status.choices, coerce=int)

    class Meta:
        model = Loan
        fields = ["customer_external_id", "status", "delinquent", "as_of"]

    def delinquent_queryset(self, queryset, *, delinquent, as_of):
        return selectors.filter_delinquent_loans(queryset, delinquent=delinquent, as_of=as_of)


class BalanceFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(strip=False)
