"""Filters shared by several lists: ``delinquent`` with ``as_of``; the filter backend."""

import copy
from datetime import UTC

import django_filters
from django.utils import timezone
from django_filters.filters import FilterMethod
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from mo_loans.api.serializers import YEAR_PATTERN, BoundedDateTimeField, refuse_future
from mo_loans.limits import DATETIME_MAX_YEAR, DATETIME_MIN_YEAR

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class _FiltersOfOneRequest(dict):
    """A filter set's ``base_filters``, copied for each request one filter deep.

    django-filter deep-copies every filter of a filter set each time one is built
    (13–18 % of a 50-row loan list's time under cProfile). A filter's own attributes are all a
    request changes (the filter set sets ``model`` and ``parent``; the form field
    is made lazily on the copy); what they point to (choices, lookups, widgets:
    a form deep-copies its fields itself) is only read. A ``method=`` filter
    holds a ``FilterMethod`` bound to the filter, which is bound to the copy.
    """

    def __deepcopy__(self, memo):
        copies = {}
        for name, original in self.items():
            copied = copy.copy(original)
            if isinstance(vars(copied).get("filter"), FilterMethod):
                copied.filter = FilterMethod(copied)
            copies[name] = copied
        return copies


class FilterSet(django_filters.FilterSet):
    """The project's filter sets' base: django-filter's, built cheaper per request.

    Its filters are copied one level deep (:class:`_FiltersOfOneRequest`), and its
    form class, which django-filter makes anew from the filters for each request,
    is made once per filter set class (its filters are fixed by the class).
    """

    @classmethod
    def get_filters(cls):
        return _FiltersOfOneRequest(super().get_filters())

    def get_form_class(self):
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class


class DelinquencyFilterMixin(FilterSet):
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
        if not DATETIME_MIN_YEAR <= value.year <= DATETIME_MAX_YEAR:
            raise ValidationError({"known_at": [BoundedDateTimeField._OUT_OF_RANGE]})
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise ValidationError({"known_at": ["Date-time out of range."]}) from None
        return refuse_future("known_at", value)

    @extend_schema_field({"type": "string", "format": "date-time", "pattern": YEAR_PATTERN})
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
        # The library's own steps, with the filter set built once (it deep-copies its
        # filters each time it is built).
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        blank = [
            name
            for name, filter_ in filterset.filters.items()
            if request.query_params.get(name) == ""
            and not isinstance(filter_, django_filters.CharFilter)
        ]
        if blank:
            raise ValidationError({name: ["May not be blank."] for name in blank})
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset.qs


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
