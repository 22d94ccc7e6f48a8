"""Request ids, the one log line per request, and request metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.http import HttpRequest, HttpResponse

from mo_loans.logging_json import request_id_var
from mo_loans.observability.metrics import REQUEST_LATENCY

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and ``-_.:``, 1 to 128 characters: fits a UUID, a W3C trace id
# or a load balancer's id, and cannot inject anything into a log line or header.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
UNRESOLVED_VIEW = "<unresolved>"

request_logger = logging.getLogger("mo_loans.request")


def request_id_from(value: str | None) -> str:
    """The client's ``X-Request-ID`` when it is safe to reuse, else a new UUID4."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


def method_label(request: HttpRequest) -> str:
    """The HTTP method, or ``other``: a label must not take values a client invents."""
    method = (request.method or "").upper()
    return method if method in KNOWN_METHODS else "other"


def view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name if match else None) or UNRESOLVED_VIEW


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.route if match else "") or ""


class RequestIdMiddleware:
    """Give every request an id, return it in ``X-Request-ID``, and log one line per request.

    The id is kept in a context variable for the duration of the request, so
    every log line written meanwhile carries it (see :mod:`mo_loans.logging_json`).
    Place it near the top of ``MIDDLEWARE``: responses made by later middleware
    (a 400 for a bad host, a 404, a 500) pass through it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            self._record(request, response, duration)
            return response
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _record(request: HttpRequest, response: HttpResponse, duration: float) -> None:
        view = view_label(request)
        method = method_label(request)
        status = response.status_code
        REQUEST_LATENCY.labels(view=view, method=method, status=str(status)).observe(duration)
        request_logger.info(
            "%s %s %s",
            method,
            request.path,
            status,
            extra={
                "event": "http_request",
                "method": method,
                "view": view,
                "route": route_of(request),
                "path": request.path,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
                "remote_addr": request.META.get("REMOTE_ADDR", ""),
            },
        )
