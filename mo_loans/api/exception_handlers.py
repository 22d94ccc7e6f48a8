"""The API's answer to an error: the one place an exception becomes an HTTP status.

Every 4xx/5xx under ``/api/`` is ``{"code", "message"[, "fields"]}`` (docs/api.md).
Services raise the domain errors of :mod:`mo_loans.core.exceptions`, which
carry no status; :data:`STATUS` maps them here. DRF's own exceptions, Django's
404 and the database errors this module knows are translated too. Anything else
is left to Django (the handler returns ``None``, as DRF's own does): Django logs
it once on ``django.request``, sends ``got_request_exception`` and answers with
``handler500`` (:func:`mo_loans.api.views.json_500`), the same JSON 500.

Before a known error is answered, the writes of the idempotency layer's
request transaction are marked for rollback (:func:`rollback_request_writes`).
A service's own :func:`~mo_loans.db.write_transaction` has already rolled
back, or committed, by the time its error gets here.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import (
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
from mo_loans.api.serializers import flatten_messages
from mo_loans.core.constraints import integrity_violation_error
from mo_loans.core.exceptions import (
    ApplicationError,
    BusinessRuleError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from mo_loans.db import in_request_transaction

logger = logging.getLogger(__name__)

# Each domain error's status; a subclass takes its nearest listed ancestor's.
STATUS: dict[type[ApplicationError], int] = {
    ApplicationError: status.HTTP_422_UNPROCESSABLE_ENTITY,
    BusinessRuleError: status.HTTP_422_UNPROCESSABLE_ENTITY,
    InvalidInputError: status.HTTP_400_BAD_REQUEST,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    PayloadTooLargeError: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ServiceUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
}

# The database cannot be reached, the connection broke, or a statement hit
# DATABASE_LOCK_TIMEOUT_MS / DATABASE_STATEMENT_TIMEOUT_MS: retry later (503).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# SQLSTATEs of lock_not_available (lock_timeout) and query_canceled (statement_timeout).
_TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})
RETRY_AFTER_SECONDS = {"database_unavailable": 5, "database_timeout": 1}

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


def status_of(error: ApplicationError) -> int:
    """The HTTP status of a domain error."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise TypeError(f"{type(error).__name__} is not an ApplicationError")  # pragma: no cover


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


def _drf_error(exc: drf.APIException) -> tuple[ApplicationError, int]:
    if isinstance(exc, drf.ValidationError):
        error = InvalidInputError("The request has invalid fields.", fields=_fields(exc.detail))
        return error, status.HTTP_400_BAD_REQUEST
    if isinstance(exc, drf.NotAuthenticated):
        exc = drf.NotAuthenticated(NO_VALID_KEY)
    message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else "Request refused."
    return ApplicationError(message, code=_DRF_CODES.get(type(exc), exc.default_code)), (
        exc.status_code
    )


def integrity_error(exc: IntegrityError) -> ApplicationError:
    """A coded constraint's input error (:mod:`mo_loans.core.constraints`), else a 409."""
    error = integrity_violation_error(exc)
    if error is None:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        logger.error("unmapped integrity error on constraint %s", constraint, exc_info=exc)
        return ConflictError(
            "The request conflicts with the stored data.", code="integrity_conflict"
        )
    return error


def _to_error(exc: Exception) -> tuple[ApplicationError, int] | None:  # noqa: PLR0911
    """The error to answer and its status, or None for an exception this module does not know."""
    if isinstance(exc, ApplicationError):
        return exc, status_of(exc)
    if isinstance(exc, Http404):
        return NotFoundError("No such resource."), status.HTTP_404_NOT_FOUND
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        error = PayloadTooLargeError("The request body is larger than this server accepts.")
        return error, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if isinstance(exc, drf.APIException):
        return _drf_error(exc)
    if isinstance(exc, IntegrityError):
        error = integrity_error(exc)
        return error, status_of(error)
    if isinstance(exc, DataError):
        # A value the database cannot hold (a NUL byte in text, a UTC offset beyond
        # ±15:59, a number out of range) that reached a query: the request's fault.
        logger.warning("data error: %s", exc)
        error = InvalidInputError(
            "A value in the request is out of range or not representable.",
            code="invalid_value",
        )
        return error, status.HTTP_400_BAD_REQUEST
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable_error(exc), status.HTTP_503_SERVICE_UNAVAILABLE
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
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
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


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: the API's error body for what it knows, else ``None``."""
    mapped = _to_error(exc)
    if mapped is None:
        return None  # DRF re-raises: Django logs it, signals it and answers handler500
    error, status_code = mapped
    rollback_request_writes()
    headers: dict[str, str] = {}
    if isinstance(exc, drf.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    if status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS.get(error.code, 5))
    return Response(
        error_body(error.code, error.message, error.fields, **error.extra),
        status=status_code,
        headers=headers,
    )
