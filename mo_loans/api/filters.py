"""Filters shared by several lists: ``delinquent`` with ``as_of``."""

import django_filters
from django.utils import timezone

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class DelinquencyFilterMixin(django_filters.FilterSet):
    """``?delinquent=true|false[&as_of=YYYY-MM-DD]``; the subclass says how to filter."""

    delinquent = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_delinquent", label="delinquent"
    )
    as_of = django_filters.DateFilter(
        method="filter_as_of", label="the date delinquency is judged at (default today)"
    )

    def filter_as_of(self, queryset, name, value):
        return queryset  # read by filter_delinquent

    def filter_delinquent(self, queryset, name, value):
        as_of = self.form.cleaned_data.get("as_of") or timezone.localdate()
        return self.delinquent_queryset(queryset, delinquent=value == "true", as_of=as_of)

    def delinquent_queryset(self, queryset, *, delinquent, as_of):
        raise NotImplementedError
