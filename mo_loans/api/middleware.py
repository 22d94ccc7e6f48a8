from django.http import HttpRequest, HttpResponse


class ApiTrailingSlashMiddleware:
    """Serve every ``/api/`` route the same with or without a trailing slash.

    Routes are declared without the slash; a request that has one is routed as
    if it had not. Nothing is redirected, so a client's POST is never bounced.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith("/api/") and len(path) > len("/api/") and path.endswith("/"):
            request.path_info = path.rstrip("/")
        return self.get_response(request)
