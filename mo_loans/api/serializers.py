"""Serializer building blocks shared by every app."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from billing.money import MAX_DIGITS, MONEY_PLACES
from mo_loans import ids
from mo_loans.api.parsers import ExponentNumber
from mo_loans.core.exceptions import InvalidInputError
from mo_loans.limits import DATETIME_MAX_YEAR, DATETIME_MIN_YEAR, OUT_OF_RANGE

_ZERO = Decimal("0")
_DECIMAL_SYNTAX = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

# The first four digits of an ISO 8601 date-time are its year.
_YEAR = re.compile(r"([0-9]{4})-")


def years_regex(first: int, last: int) -> str:
    """A regular expression for the four-digit years ``first``..``last``, decade by decade."""
    decades = []
    for decade in range(first // 10, last // 10 + 1):
        low, high = max(first, decade * 10) % 10, min(last, decade * 10 + 9) % 10
        decades.append(f"{decade:03d}[{low}-{high}]")
    return "(?:" + "|".join(decades) + ")"


# The same rule for the schema: text that starts with such a year.
YEAR_PATTERN = f"^{years_regex(DATETIME_MIN_YEAR, DATETIME_MAX_YEAR)}-"


class _StrictString:
    """Only a JSON string: DRF alone stores ``0`` as ``"0"`` and ``true`` as ``"True"``."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(_StrictString, serializers.CharField):
    """A text input that must be a JSON string, as the schema says (``"name": 0`` is 400)."""


class StrictEmailField(_StrictString, serializers.EmailField):
    """An email input that must be a JSON string."""


class StrictDecimalField(serializers.DecimalField):
    """A decimal input in plain notation: a JSON number, or a string such as ``"110000.00"``.

    DRF alone also takes ``" 5"``, ``"+5"``, ``"5e3"``, ``".5"`` or ``"-0"``;
    the API schema documents digits with an optional decimal point, so the
    rest is refused. Booleans (a JSON ``true`` is an ``int`` in Python) too.
    """

    default_error_messages = {
        "exponent": "Write the number in plain notation (no exponent such as 1e3).",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, ExponentNumber):
            self.fail("exponent")
        if isinstance(data, str) and not _DECIMAL_SYNTAX.fullmatch(data):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if isinstance(data, str) and data.startswith("-") and value == _ZERO:
            self.fail("invalid")
        return value


def _more_digits(at_most: int) -> str:
    return {0: "", 1: "[0-9]?"}.get(at_most, f"[0-9]{{0,{at_most}}}")


# The syntax StrictDecimalField takes, as regular expressions for the schema, built from a
# field's own digits: ``max_digits - decimal_places`` before the point, ``decimal_places``
# after it (leading zeros aside, which callers allow with ``0*``).
def decimal_pattern(integer_digits: int, places: int) -> str:
    """A number from zero."""
    return rf"[0-9]{{1,{integer_digits}}}(?:\.[0-9]{{1,{places}}})?"


def plain_decimal_pattern(integer_digits: int, places: int) -> str:
    """A number from zero, without leading zeros."""
    return rf"(?:0|[1-9]{_more_digits(integer_digits - 1)})(?:\.[0-9]{{1,{places}}})?"


def positive_decimal_pattern(integer_digits: int, places: int) -> str:
    """A number greater than zero: a digit from 1 before the point, or after it."""
    fraction = "|".join(
        "0" * zeros + "[1-9]" + _more_digits(places - 1 - zeros)
        for zeros in reversed(range(places))
    )
    whole = rf"[1-9]{_more_digits(integer_digits - 1)}(?:\.[0-9]{{1,{places}}})?"
    return rf"(?:{whole}|0\.(?:{fraction}))"


def decimal_out_pattern(integer_digits: int, places: int) -> str:
    """A number as DRF renders it: every place written, a sign when negative."""
    return rf"-?[0-9]{{1,{integer_digits}}}\.[0-9]{{{places}}}"


def rate_pattern(places: int) -> str:
    """A number from 0 to 1."""
    return rf"0*(?:0(?:\.[0-9]{{1,{places}}})?|1(?:\.0{{1,{places}}})?)"


class MoneyField(StrictDecimalField):
    """Exact money: at most 12 integer digits and 2 decimals, rendered ``"110000.00"``.

    ``positive=True`` (the default) refuses zero and negative amounts; a credit
    line (``score``) uses ``positive=False`` and still refuses negatives.
    """

    default_error_messages = {
        "not_positive": "Must be greater than zero.",
        "negative": "Must not be negative.",
    }

    def __init__(self, *, positive: bool = True, **kwargs) -> None:
        self.positive = positive
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_PLACES)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if self.positive and value <= _ZERO:
            self.fail("not_positive")
        if value < _ZERO:
            self.fail("negative")
        return value


class StrictIntegerField(serializers.IntegerField):
    """A whole number written as a JSON integer: ``5``. Not ``5.0``, ``1e3``, ``"5"`` or ``true``.

    DRF alone takes all of those (and ``"5.0"``); a count is never a string here.
    """

    default_error_messages = {"not_integer": "Must be a JSON integer, such as 5."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_integer")
        return super().to_internal_value(data)


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time whose year, as written, is 1900 to 2200.

    Without a bound, ``9999-12-31T23:59:59Z`` is stored fine but cannot be shown
    in a time zone east of UTC, and breaks every page that lists it (and
    ``0001-01-01`` in some zones breaks DRF itself). Any instant within a day of
    these years can be shown in every time zone. The year is read from the text
    as written, so the rule is the schema's pattern exactly (``YEAR_PATTERN``).
    """

    _OUT_OF_RANGE = OUT_OF_RANGE
    # DRF's own "overflow" (a value beyond Python's datetime once shifted) says the same.
    default_error_messages = {"out_of_range": _OUT_OF_RANGE, "overflow": _OUT_OF_RANGE}

    def to_internal_value(self, value):
        written = _YEAR.match(value) if isinstance(value, str) else None
        year = int(written.group(1)) if written else getattr(value, "year", None)
        if year is not None and not DATETIME_MIN_YEAR <= year <= DATETIME_MAX_YEAR:
            self.fail("out_of_range")
        try:
            return super().to_internal_value(value)
        except OverflowError:  # DRF leaves one shift to UTC unguarded
            self.fail("out_of_range")


class ExternalIdField(StrictCharField):
    """A client's id of a customer, loan or payment, in the one id alphabet (:mod:`mo_loans.ids`).

    Never trimmed or normalised: the id stored is exactly the id sent.
    """

    default_error_messages = {"alphabet": ids.ALPHABET_ERROR}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("max_length", ids.MAX_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not ids.in_alphabet(value):  # the length is min_length's and max_length's
            self.fail("alphabet")
        return value


def flatten_messages(detail: Any) -> list[str]:
    """DRF's nested error detail as a flat list of messages (``"key: message"`` when nested)."""
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in flatten_messages(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in flatten_messages(item)]
    return [str(detail)]


class InputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know.

    A typo in a field name would otherwise be dropped silently and the request
    would succeed with a default the client never asked for.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = set(self.fields)
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


def refuse_future(field: str, value):
    """A 400 ``<field>_in_future`` for an instant after now (a rule against the clock)."""
    if value is not None and value > timezone.now():
        message = f"{field} must not be in the future."
        raise InvalidInputError(message, code=f"{field}_in_future", fields={field: [message]})
    return value


class AsOfQuerySerializer(InputSerializer):
    """``?as_of=YYYY-MM-DD&known_at=…``: the two clocks a billing state is read on.

    ``as_of`` (value time, default today): what was owed at the end of that
    local date. ``known_at`` (recording time, default now; never in the
    future): the answer the service would have given at that instant.
    """

    as_of = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    known_at = BoundedDateTimeField(required=False)

    def validate(self, attrs):
        refuse_future("known_at", attrs.get("known_at"))
        return attrs
