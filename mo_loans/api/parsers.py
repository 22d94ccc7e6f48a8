"""JSON parsing that keeps numbers exact.

DRF's parser turns JSON numbers into floats, so ``0.1`` would already be
inexact before validation. We parse them as :class:`~decimal.Decimal`, and
refuse ``NaN`` and ``Infinity`` literals.
"""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
