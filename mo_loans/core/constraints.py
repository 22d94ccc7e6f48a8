"""Database constraints that name the input error they stand for.

A ``UniqueConstraint`` or ``CheckConstraint`` declared with a
``violation_error_code`` and ``violation_error_message`` is an input rule: a
service's own check raises :func:`violation_error` before writing, and when a
race slips past that check the database's ``IntegrityError`` on the same
constraint becomes the same error (:func:`integrity_violation_error`). The
field at fault is the constraint's one field, or the one field its condition
names. Constraints without a code are invariants: tripping one is a bug.
"""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.db import IntegrityError, models
from django.db.models import BaseConstraint, Q

from mo_loans.core.exceptions import InvalidInputError


def _condition_fields(condition: Q) -> set[str]:
    names: set[str] = set()
    for child in condition.children:
        if isinstance(child, Q):
            names |= _condition_fields(child)
        else:
            names.add(child[0].split("__", 1)[0])
    return names


def _field(constraint: BaseConstraint) -> str | None:
    fields = set(getattr(constraint, "fields", ()) or ())
    condition = getattr(constraint, "condition", None)
    if not fields and isinstance(condition, Q):
        fields = _condition_fields(condition)
    return fields.pop() if len(fields) == 1 else None


@cache
def coded_constraints() -> dict[str, BaseConstraint]:
    """Every model constraint that has a ``violation_error_code``, by name."""
    return {
        constraint.name: constraint
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if constraint.violation_error_code is not None
    }


def constraint_error(constraint: BaseConstraint) -> InvalidInputError:
    message = str(constraint.violation_error_message)
    field = _field(constraint)
    return InvalidInputError(
        message,
        code=constraint.violation_error_code,
        fields={field: [message]} if field else None,
    )


def violation_error(model: type[models.Model], name: str) -> InvalidInputError:
    """The error for breaking ``model``'s constraint ``name``, raised before the write."""
    (constraint,) = (c for c in model._meta.constraints if c.name == name)
    return constraint_error(constraint)


def integrity_violation_error(exc: IntegrityError) -> InvalidInputError | None:
    """The input error a coded constraint stands for; None for any other constraint."""
    diag = getattr(exc.__cause__, "diag", None)
    constraint = coded_constraints().get(getattr(diag, "constraint_name", None) or "")
    return None if constraint is None else constraint_error(constraint)
