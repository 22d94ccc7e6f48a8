"""Health checks and the JSON 404 for unknown API routes."""

import sys

from django.db import connection
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from mo_loans.api.exception_handlers import (
    DATABASE_UNAVAILABLE,
    database_unavailable_response,
    error_body,
)
from mo_loans.api.renderers import JsonResponse
from mo_loans.core.exceptions import NotFoundError


def index(request: HttpRequest) -> JsonResponse:
    """``/``: where to go from here, for a person with a browser or ``curl``."""
    return JsonResponse(
        {
            "name": "MO Loans API",
            "links": {
                "docs": "/api/docs/",
                "redoc": "/api/redoc/",
                "schema": "/api/schema/",
                "customers": "/api/customers",
                "loans": "/api/loans",
                "payments": "/api/payments",
                "admin": "/admin/",
                "healthz": "/healthz",
                "readyz": "/readyz",
            },
            "authentication": "Every /api/ call but the docs needs `Authorization: Api-Key <key>`.",
        }
    )


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """The database answers; 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any failure to reach the database means "not ready"
        connection.close_if_unusable_or_obsolete()
        return JsonResponse(
            error_body("database_unavailable", "The database is unreachable."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JsonResponse({"status": "ready"})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request, *args, **kwargs):
    raise NotFoundError("No such API route.", code="route_not_found")


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such page."), status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    """Django's 500 handler: it runs while the uncaught exception is being handled.

    A database that cannot be reached (raised outside DRF, e.g. by the
    idempotency middleware) is a 503 the client may retry, as in DRF views.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable_response(exc)
    return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "Forbidden."), status=403)
