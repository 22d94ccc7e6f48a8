"""Status codes as the API names them: value, NAME and label.

Statuses travel as integers; the schema names each value (``x-enum-varnames``)
from the model's ``IntegerChoices``, so generated clients read
``LoanStatus.PENDING``. ``PLANNED`` lists values the API already documents and
accepts before a model has them: the ledger adds ``Payment.Status.REVERSED``
(3). Once the model has a value, its entry here is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# "<module>.<qualname>" of a choices class -> values it will have: (value, NAME, label).
PLANNED: dict[str, tuple[tuple[Any, str, str], ...]] = {
    "payments.models.Payment.Status": ((3, "REVERSED", "reversed"),),
}


def _dotted(choices: Any) -> str:
    return f"{choices.__module__}.{choices.__qualname__}"


def api_values(choices: Any) -> list[tuple[Any, str, str]]:
    """``(value, NAME, label)`` of every value of ``choices``, planned ones included.

    ``choices`` is a Django ``Choices`` class, or a plain sequence of string
    values (named by their upper-case spelling).
    """
    if isinstance(choices, type):
        values = [(m.value, m.name, str(m.label)) for m in choices]
        planned: Iterable[tuple[Any, str, str]] = PLANNED.get(_dotted(choices), ())
    else:
        values = [(v, str(v).upper(), str(v)) for v in choices]
        planned = ()
    known = {value for value, _, _ in values}
    return values + [entry for entry in planned if entry[0] not in known]


def api_choices(choices: Any) -> list[tuple[Any, str]]:
    """``(value, label)`` pairs for a form or filter that accepts every API value."""
    return [(value, label) for value, _, label in api_values(choices)]
