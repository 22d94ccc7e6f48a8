"""One error hierarchy and one exception handler for the whole API (docs/api.md).

Every 4xx/5xx under ``/api/`` is ``{"code", "message"[, "fields"]}``. Services
raise :class:`ApplicationError` subclasses; DRF's own exceptions, Django's 404
and database errors are translated here, and the transaction is always rolled
back before the error is rendered.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    transaction,
)
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from mo_loans.api.auth import NO_VALID_KEY
from mo_loans.api.renderers import JsonResponse
from mo_loans.db import in_request_transaction

logger = logging.getLogger(__name__)

# The database cannot be reached, the connection broke, or a statement hit
# DATABASE_LOCK_TIMEOUT_MS / DATABASE_STATEMENT_TIMEOUT_MS: retry later (503).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# SQLSTATEs of lock_not_available (lock_timeout) and query_canceled (statement_timeout).
_TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})
RETRY_AFTER_SECONDS = {"database_unavailable": 5, "database_timeout": 1}


class ApplicationError(Exception):
    """A request the service refuses. ``code`` is stable; ``message`` is for people."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "business_rule_violation"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields
        self.extra = extra or {}


class BusinessRuleError(ApplicationError):
    """422: a valid request that the business rules refuse."""


class InvalidInputError(ApplicationError):
    """400: the request is malformed or names something that does not exist."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"


class NotFoundError(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class ConflictError(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class ServiceUnavailableError(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"


# Constraint name -> the error a rule should have raised. Apps register their
# unique and check constraints here so that a race that slips past a service's
# own check still gets the right 4xx, never a 500.
_CONSTRAINT_ERRORS: dict[str, tuple[type[ApplicationError], str, str | None, str]] = {}


def register_constraint_error(
    constraint: str,
    error: type[ApplicationError],
    *,
    code: str,
    field: str | None = None,
    message: str,
) -> None:
    _CONSTRAINT_ERRORS[constraint] = (error, code, field, message)


def application_error_from_integrity(exc: IntegrityError) -> ApplicationError:
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    known = _CONSTRAINT_ERRORS.get(constraint or "")
    if known is None:
        logger.error("unmapped integrity error on constraint %s", constraint, exc_info=exc)
        return ConflictError(
            "The request conflicts with the stored data.", code="integrity_conflict"
        )
    error, code, field, message = known
    return error(message, code=code, fields={field: [message]} if field else None)


_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "malformed_request",
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
}


def flatten_messages(detail: Any) -> list[str]:
    """DRF's nested error detail as a flat list of messages (``"key: message"`` when nested)."""
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in flatten_messages(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in flatten_messages(item)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(key): flatten_messages(value) for key, value in detail.items()}
    return {"non_field_errors": flatten_messages(detail)}


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return body


def _to_application_error(exc: Exception) -> ApplicationError | None:  # noqa: PLR0911
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, drf.ValidationError):
        return InvalidInputError(
            "The request has invalid fields.", code="invalid", fields=_fields(exc.detail)
        )
    if isinstance(exc, Http404):
        return NotFoundError("No such resource.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        error = ApplicationError(
            "The request body is larger than this server accepts.", code="request_too_large"
        )
        error.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        return error
    if isinstance(exc, drf.NotAuthenticated):
        exc = drf.NotAuthenticated(NO_VALID_KEY)
    if isinstance(exc, drf.APIException):
        error = ApplicationError(
            str(exc.detail) if not isinstance(exc.detail, (dict, list)) else "Request refused.",
            code=_DRF_CODES.get(type(exc), exc.default_code),
        )
        error.status_code = exc.status_code
        return error
    if isinstance(exc, IntegrityError):
        return application_error_from_integrity(exc)
    if isinstance(exc, DataError):
        # A value the database cannot hold (a NUL byte in text, a UTC offset beyond
        # ±15:59, a number out of range) that reached a query: the request's fault.
        logger.warning("data error: %s", exc)
        return InvalidInputError(
            "A value in the request is out of range or not representable.",
            code="invalid_value",
        )
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable_error(exc)
    if isinstance(exc, DatabaseError):
        logger.exception("database error", exc_info=exc)
        return None
    return None


def is_database_timeout(exc: BaseException) -> bool:
    """A statement refused for waiting on a lock or running too long (not a dead server)."""
    return getattr(exc.__cause__, "sqlstate", None) in _TIMEOUT_SQLSTATES


def database_unavailable_error(exc: BaseException) -> ServiceUnavailableError:
    if is_database_timeout(exc):
        return ServiceUnavailableError(
            "The database did not answer in time (a lock or a statement took too long); "
            "nothing was written, retry shortly.",
            code="database_timeout",
        )
    return ServiceUnavailableError(
        "The database is unavailable; try again shortly.", code="database_unavailable"
    )


def database_unavailable_response(exc: BaseException) -> JsonResponse:
    """The 503 for a database error raised outside a DRF view (middleware, Django's 500)."""
    error = database_unavailable_error(exc)
    return JsonResponse(
        error_body(error.code, error.message),
        status=error.status_code,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS[error.code])},
    )


def rollback_request_writes() -> None:
    """Undo what the failing request wrote before its error is answered.

    DRF's ``set_rollback`` covers ``ATOMIC_REQUESTS``; the idempotency layer's
    request transaction is ours. Inside it, the innermost block (the view's
    savepoint) is marked, so the writes go and the key's answer can still be kept.
    """
    set_rollback()
    if in_request_transaction():
        transaction.set_rollback(True)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: render any exception as the API's error body."""
    rollback_request_writes()
    error = _to_application_error(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, drf.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    if error is None:
        logger.exception("unhandled error", exc_info=exc)
        return Response(
            error_body("server_error", "An unexpected error occurred."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if error.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS.get(error.code, 5))
    return Response(
        error_body(error.code, error.message, error.fields, **error.extra),
        status=error.status_code,
        headers=headers,
    )
