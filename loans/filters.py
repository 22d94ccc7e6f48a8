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
        fields = ["customer_external_id", "status", "delinquent", "as_of", "known_at"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        as_of = self.form.cleaned_data.get("as_of")
        known_at = self.known_at_value()
        if as_of is None and known_at is None:
            return queryset
        # A list at a clock holds the loans that existed then.
        return selectors.filter_existing_loans(queryset, selectors.Clock.of(as_of, known_at))

    def delinquent_queryset(self, queryset, *, delinquent, as_of, known_at):
        return selectors.filter_delinquent_loans(
            queryset, delinquent=delinquent, as_of=as_of, known_at=known_at
        )


class BalanceFilter(django_filters.FilterSet):
    """``external_id``; the clock (``as_of``, ``known_at``) is read by the view."""

    external_id = django_filters.CharFilter(strip=False)
