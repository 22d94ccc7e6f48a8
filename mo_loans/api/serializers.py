"""Serializer building blocks shared by every app."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from billing.money import MAX_DIGITS, MONEY_PLACES
from mo_loans.api.errors import InvalidInputError

_ZERO = Decimal("0")
_DECIMAL_SYNTAX = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


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

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str) and not _DECIMAL_SYNTAX.fullmatch(data):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if isinstance(data, str) and data.startswith("-") and value == _ZERO:
            self.fail("invalid")
        return value


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
    known_at = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        refuse_future("known_at", attrs.get("known_at"))
        return attrs
