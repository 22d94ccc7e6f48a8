"""Money values: ``Decimal`` with two places, one rounding helper per mode."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

MONEY_PLACES = 2
MAX_INTEGER_DIGITS = 12
MAX_DIGITS = MAX_INTEGER_DIGITS + MONEY_PLACES
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_half_up(value: Decimal) -> Decimal:
    """Round to the cent, halves away from zero (how a total is rounded)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_down(value: Decimal) -> Decimal:
    """Round to the cent towards zero (how an instalment is rounded)."""
    return value.quantize(CENT, rounding=ROUND_DOWN)
