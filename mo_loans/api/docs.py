"""Swagger UI (``/api/docs/``) and ReDoc (``/api/redoc/``), served entirely by this server.

Their files come from drf-spectacular-sidecar. A Content-Security-Policy keeps
the browser from fetching anything elsewhere: ReDoc's bundle, for one, loads
its vendor's logo from a CDN, which the policy blocks (the page hides it).
"""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Swagger UI starts from an inline script; ReDoc styles inline and searches in a blob worker.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
    ]
)


class _OfflineDocs:
    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerView(_OfflineDocs, SpectacularSwaggerView):
    pass


class RedocView(_OfflineDocs, SpectacularRedocView):
    # The package's page also links Google Fonts; ours uses the browser's fonts.
    template_name = "mo_loans/redoc.html"
