"""Status codes as the API names them: value, NAME and label.

Statuses travel as integers; the schema names each value (``x-enum-varnames``)
from the model's ``IntegerChoices``, so generated clients read
``LoanStatus.PENDING``.
"""

from __future__ import annotations

from typing import Any


def api_values(choices: Any) -> list[tuple[Any, str, str]]:
    """``(value, NAME, label)`` of every value of ``choices``.

    ``choices`` is a Django ``Choices`` class, or a plain sequence of string
    values (named by their upper-case spelling).
    """
    if isinstance(choices, type):
        return [(m.value, m.name, str(m.label)) for m in choices]
    return [(v, str(v).upper(), str(v)) for v in choices]
