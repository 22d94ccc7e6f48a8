"""Make "no valid API key" a 401 with ``WWW-Authenticate: Api-Key`` (RFC 9110 §11.6.1).

``HasAPIKey`` (the default permission) decides whether a request carries a
valid key. Without any authentication class DRF answers a refused request with
403, which tells a client "your credentials are fine but not allowed". This
class names the ``Api-Key`` scheme so that DRF answers 401 instead; it
authenticates no one itself, the permission still checks the key.

It does look at the header's shape: a key sent without the ``Api-Key ``
prefix, or a ``Bearer`` token, is refused with a message that shows what the
header must look like, rather than a bare "no valid API key".
"""

import re

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from mo_loans.api.schema_docs import API_KEY_SCHEME

SCHEME = "Api-Key"
HEADER_FORMAT = "Authorization: Api-Key <key>"
NO_VALID_KEY = f"No valid API key. Send the header `{HEADER_FORMAT}`."
# Auth schemes a client may have sent by mistake; only these are named back to it.
_SCHEME_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,19}")


class MalformedAuthorization(AuthenticationFailed):
    default_code = "invalid_authorization_header"


def malformed_message(header: str) -> str | None:
    """What is wrong with an ``Authorization`` header, or ``None`` when its shape is right.

    The key itself is never echoed: only a scheme word such as ``Bearer``.
    """
    keyword, space, key = header.partition(" ")
    if keyword.lower() == SCHEME.lower() and space and key.strip():
        return None
    expected = (
        "The Authorization header must be `Api-Key <key>`: the word Api-Key, one space, "
        "then the key"
    )
    if keyword.lower() == SCHEME.lower():
        return f"{expected}; the key is missing."
    if space and _SCHEME_WORD.fullmatch(keyword):
        return f"{expected}, not a `{keyword}` credential."
    return f"{expected}; this one has no `Api-Key ` prefix."


class ApiKeyChallenge(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        message = malformed_message(header) if header else None
        if message:
            raise MalformedAuthorization(message)
        return None  # noqa: PLR1711 - no user: the HasAPIKey permission checks the key

    def authenticate_header(self, request) -> str:
        return SCHEME


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # pragma: no cover - drf-spectacular is a runtime dependency
    pass
else:

    class ApiKeyChallengeScheme(OpenApiAuthenticationExtension):
        """The schema's ``ApiKeyAuth`` security scheme (``SPECTACULAR_SETTINGS``)."""

        target_class = "mo_loans.api.auth.ApiKeyChallenge"
        name = "ApiKeyAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": API_KEY_SCHEME,
            }
