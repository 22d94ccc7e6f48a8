import re

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject, empty

from mo_loans.api.exception_handlers import error_body

# Django's admin and static files keep their own slash conventions.
_SLASHED_PREFIXES = ("/admin/", "/static/")
# A slash sent percent-encoded: data inside a segment, never a separator.
_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


def raw_path(request: HttpRequest) -> str | None:
    """The path as the client wrote it, still percent-encoded, when the server tells.

    ``PATH_INFO`` is decoded, so ``/api/customers/acme%2F`` and
    ``/api/customers/acme/`` look the same there. gunicorn passes the request
    line's target as ``RAW_URI``; uWSGI, Apache and others as ``REQUEST_URI``.
    """
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if not raw:
        return None
    if "://" in raw.split("?", 1)[0]:  # absolute-form target: http://host/path
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    return raw.split("?", 1)[0].split("#", 1)[0]


class TrailingSlashMiddleware:
    """Serve every route the same with or without a trailing slash.

    Routes (``/api/…``, ``/healthz``, ``/readyz``, ``/metrics``) are declared
    without the slash; a request that has one is routed as if it had not.
    Nothing is redirected, so a client's POST is never bounced.

    Only a slash the client wrote as ``/`` is a separator. ``%2F`` is a slash
    inside a segment; no route and no external id has one, so such a path is
    a 404 — never read as another resource (``acme%2F`` is not ``acme``,
    ``x%2Floans`` is not ``x``'s loans).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(_SLASHED_PREFIXES):
            return self.get_response(request)
        raw = raw_path(request)
        if raw is not None and _ENCODED_SLASH.search(raw):
            return JsonResponse(
                error_body("route_not_found", "No such route: a path segment holds a '/'."),
                status=404,
            )
        if len(path) > 1 and path.endswith("/"):
            request.path_info = path.rstrip("/") or "/"
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages (the admin's notices), with their storage made on first use.

    Django's makes a signed-cookie storage for every request; an API call never
    shows a message, and that was ~5 % of a ping. Unused, nothing is written back.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
