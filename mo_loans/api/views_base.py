"""Small building blocks for thin API views."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer


def parse(serializer_class: type[Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Validate ``data`` with ``serializer_class``; a failure becomes the API's 400."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ListApi(GenericAPIView):
    """A filtered, paginated list: ``get_queryset`` is a selector's queryset."""

    def list_response(self, request: Request, queryset: QuerySet | None = None) -> Response:
        queryset = self.filter_queryset(self.get_queryset() if queryset is None else queryset)
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)
