"""JSON parsing that keeps numbers exact and objects unambiguous.

DRF's parser turns JSON numbers into floats, so ``0.1`` would already be
inexact before validation. We parse them as :class:`~decimal.Decimal`
(:class:`ExponentNumber` when written with an exponent, such as ``1e3``, which
the decimal fields refuse), and refuse ``NaN`` and ``Infinity`` literals.

An object that names a key twice (``{"score": 1, "score": 9}``) is refused
too: Python would keep the last, another reader the first, and the request
would mean two things.
"""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ExponentNumber(Decimal):
    """A JSON number written with an exponent (``1e3``, ``5E-1``)."""

    __slots__ = ()


def _number(text: str) -> Decimal:
    return ExponentNumber(text) if "e" in text or "E" in text else Decimal(text)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r} in an object")
        obj[key] = value
    return obj


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(
                decoded,
                parse_float=_number,
                parse_constant=_refuse_constant,
                object_pairs_hook=_unique_keys,
            )
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
