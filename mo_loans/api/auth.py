"""Make "no valid API key" a 401 with ``WWW-Authenticate: Api-Key`` (RFC 9110 §11.6.1).

``HasAPIKey`` (the default permission) decides whether a request carries a
valid key. Without any authentication class DRF answers a refused request with
403, which tells a client "your credentials are fine but not allowed". This
class names the ``Api-Key`` scheme so that DRF answers 401 instead; it
authenticates no one itself, the permission still checks the key.
"""

from rest_framework.authentication import BaseAuthentication

SCHEME = "Api-Key"


class ApiKeyChallenge(BaseAuthentication):
    def authenticate(self, request):
        return None

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
            from mo_loans.api.schema_docs import API_KEY_SCHEME

            return {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": API_KEY_SCHEME,
            }
