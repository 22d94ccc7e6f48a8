"""The errors a service raises: what was refused and why, never how HTTP says it.

``code`` is stable and machine-readable, ``message`` is for people, ``fields``
names the inputs at fault and ``extra`` adds context (the available amount of a
refused loan). The API maps each class to its status in
:mod:`mo_loans.api.exception_handlers`; the admin and the management commands
show ``message``.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A request the service refuses."""

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
    """A valid request that the business rules refuse (over the credit line, a wrong state)."""


class InvalidInputError(ApplicationError):
    """The request is malformed, names something that does not exist, or repeats an id."""

    code = "invalid"


class NotFoundError(ApplicationError):
    """The thing the request is about does not exist."""

    code = "not_found"


class ConflictError(ApplicationError):
    """The request conflicts with the stored data (a race the rules did not foresee)."""

    code = "conflict"


class PayloadTooLargeError(ApplicationError):
    """More data in one request than the service takes at once."""

    code = "request_too_large"


class ServiceUnavailableError(ApplicationError):
    """Nothing was done and the same request may succeed later (the database is away)."""

    code = "service_unavailable"
