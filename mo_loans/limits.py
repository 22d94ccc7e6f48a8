"""The range of date-times the service takes, for serializers, the import and the database.

A date-time is taken when it is written in the years 1900 to 2200 (its offset
aside): every instant such a text can name lies within a day of those years, so
every time zone can show it, and PostgreSQL and Python can both hold it. This
module imports nothing from Django, so models, serializers and settings all can.
"""

from datetime import UTC, datetime

DATETIME_MIN_YEAR = 1900
DATETIME_MAX_YEAR = 2200
# What the serializers and the CHECK constraints say of a date-time outside them.
OUT_OF_RANGE = f"Must be a date-time in the years {DATETIME_MIN_YEAR} to {DATETIME_MAX_YEAR}."
# Every instant such a date-time names, whatever its offset (always less than a day):
# the database's CHECK constraints.
INSTANT_MIN = datetime(DATETIME_MIN_YEAR - 1, 12, 30, tzinfo=UTC)
INSTANT_END = datetime(DATETIME_MAX_YEAR + 1, 1, 2, tzinfo=UTC)
