from django.http import HttpRequest, HttpResponse

# Django's admin and static files keep their own slash conventions.
_SLASHED_PREFIXES = ("/admin/", "/static/")


class TrailingSlashMiddleware:
    """Serve every route the same with or without a trailing slash.

    Routes (``/api/…``, ``/healthz``, ``/readyz``, ``/metrics``) are declared
    without the slash; a request that has one is routed as if it had not.
    Nothing is redirected, so a client's POST is never bounced.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if len(path) > 1 and path.endswith("/") and not path.startswith(_SLASHED_PREFIXES):
            request.path_info = path.rstrip("/") or "/"
        return self.get_response(request)
