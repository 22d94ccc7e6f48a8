"""Filters shared by several lists: ``delinquent`` with ``as_of``; the filter backend."""

from datetime import UTC

import django_filters
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from mo_loans.api.serializers import refuse_future

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class DelinquencyFilterMixin(django_filters.FilterSet):
    """``?delinquent=true|false[&as_of=YYYY-MM-DD][&known_at=…]``; the subclass says how.

    With ``known_at`` the list holds only what had been created by then.
    """

    delinquent = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_delinquent", label="delinquent"
    )
    as_of = django_filters.DateFilter(
        method="filter_as_of",
        label="the date delinquency is judged at (default today)",
        input_formats=["%Y-%m-%d"],
    )

    known_at = django_filters.IsoDateTimeFilter(
        method="filter_known_at",
        label="the instant the answer is given as known at (ISO 8601; default now)",
    )

    def filter_as_of(self, queryset, name, value):
        return queryset  # read by filter_delinquent

    def known_at_value(self):
        """``known_at`` in UTC (None when absent); in the future it is a 400."""
        value = self.form.cleaned_data.get("known_at")
        if value is None:
            return None
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise ValidationError({"known_at": ["Date-time out of range."]}) from None
        return refuse_future("known_at", value)

    def filter_known_at(self, queryset, name, value):
        return queryset.filter(created_at__lte=self.known_at_value())

    def filter_delinquent(self, queryset, name, value):
        as_of = self.form.cleaned_data.get("as_of") or timezone.localdate()
        return self.delinquent_queryset(
            queryset, delinquent=value == "true", as_of=as_of, known_at=self.known_at_value()
        )

    def delinquent_queryset(self, queryset, *, delinquent, as_of, known_at):
        raise NotImplementedError


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, except that ``?status=`` (blank) is a 400, not "no filter".

    A blank value is no valid date, number or choice; only text filters (such as
    ``external_id``) may be blank. Anything else that does not parse is a 400 already.
    """

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None:
            blank = [
                name
                for name, filter_ in filterset.filters.items()
                if request.query_params.get(name) == ""
                and not isinstance(filter_, django_filters.CharFilter)
            ]
            if blank:
                raise ValidationError({name: ["May not be blank."] for name in blank})
        return super().filter_queryset(request, queryset, view)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that queries in UTC.

    RFC 3339 allows UTC offsets up to ±23:59; PostgreSQL refuses more than
    ±15:59, so the value is converted to UTC before it reaches a query.
    """

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise ValidationError({self.field_name: ["Date-time out of range."]}) from None
        return super().filter(qs, value)
