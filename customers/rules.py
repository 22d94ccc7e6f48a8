"""The customer rules that every way in (API, bulk, import) shares."""

from billing.money import MAX_DIGITS, MONEY_PLACES
from mo_loans import ids

EXTERNAL_ID_MAX_LENGTH = ids.MAX_LENGTH
# Path words under /api/customers/ that an external id would shadow.
RESERVED_EXTERNAL_IDS = frozenset({"balance", "bulk"})
NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254
SCORE_MAX_DIGITS = MAX_DIGITS
SCORE_DECIMAL_PLACES = MONEY_PLACES
