import re

from django.core.paginator import InvalidPage
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from mo_loans.core.exceptions import NotFoundError

_WHOLE_NUMBER = re.compile(r"[0-9]+")


class PageNumberPagination(pagination.PageNumberPagination):
    """``page`` and ``page_size`` (default 50, at most 1000).

    Both must be whole numbers from 1 (else 400); a larger ``page_size`` is
    capped at 1000, and a page past the last one is 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    last_page_strings = ()

    def get_schema_operation_parameters(self, view):
        """``page`` and ``page_size`` as :meth:`_query_number` takes them: integers from 1."""
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1. Past the last page: 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Results per page (default {self.page_size}; more than "
                    f"{self.max_page_size} gives {self.max_page_size})."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]

    def _query_number(self, request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
            raise ValidationError({name: ["Must be a whole number from 1."]})
        return int(raw)

    def get_page_size(self, request):
        size = self._query_number(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        number = self._query_number(request, self.page_query_param) or 1
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        try:
            self.page = paginator.page(number)
        except InvalidPage as exc:
            raise NotFoundError(
                f"There is no page {number}; the last page is {paginator.num_pages}."
            ) from exc
        return list(self.page)
