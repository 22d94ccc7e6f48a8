"""External ids: the one alphabet every customer, loan and payment id is written in.

An id is 1–60 characters of ASCII letters, digits and ``- _ . : @``. So an id
never holds a ``/`` (it could not be told from a path separator), a ``%``, a
space, or any character outside ASCII: no zero-width or bidirectional control
characters, no look-alike letters from other scripts, nothing that
normalises into another id. Two different ids always look different.

The same pattern is enforced by the input serializers (API, bulk, import), the
URL converter that routes ``/api/…/{id}`` and a ``CHECK`` constraint on every
``external_id`` column (``Q(external_id__regex=ids.DB_PATTERN)``). This module
imports nothing from Django, so settings can use it too.
"""

from __future__ import annotations

import re

MAX_LENGTH = 60
# Inside a bracket expression, in the same syntax for Python and PostgreSQL.
_CHARACTERS = "A-Za-z0-9._:@-"
ALPHABET_DESCRIPTION = "1–60 characters: ASCII letters, digits and - _ . : @"
# What the serializers, the admin's form and the CHECK constraints say of any other id.
ALPHABET_ERROR = f"Must be {ALPHABET_DESCRIPTION}."

# One character of an id.
CHARACTER_CLASS = f"[{_CHARACTERS}]"
# Unanchored, for URL converters (Django anchors them itself).
PATTERN = f"{CHARACTER_CLASS}{{1,{MAX_LENGTH}}}"
# Anchored, for PostgreSQL's ``~`` (``$`` is the end of the text there).
DB_PATTERN = f"^{PATTERN}$"
_ID = re.compile(PATTERN)
_ID_CHARACTERS = re.compile(f"{CHARACTER_CLASS}*")


def is_external_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def in_alphabet(value: str) -> bool:
    """Every character of ``value`` may be in an id (its length aside)."""
    return _ID_CHARACTERS.fullmatch(value) is not None


class ExternalIdConverter:
    """``<id:external_id>`` in URL patterns: a path segment that can be an id."""

    regex = PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
