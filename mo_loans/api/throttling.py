"""Repeated authentication failures from one client address are throttled (429).

``/api/``: :class:`HasAPIKeyOrThrottled` (the default permission) first asks
:class:`AuthenticationFailureThrottle` whether the client address is within
``AUTH_FAILURE_RATE`` (default ``10/min``) of failed keys; past it, every API
call from that address is a JSON 429 with ``Retry-After`` until the window has
moved on — a right key included, so guessing gains nothing. Only requests that
send an ``Authorization`` header with a key that is not valid count.

The counts live in Django's cache (DRF throttling): the default in-process
cache counts per worker process. The admin login is throttled by django-axes
(settings ``AXES_*``), which keeps its attempts in the database.

Behind proxies, ``TRUSTED_PROXY_COUNT`` says how many of the right-most
``X-Forwarded-For`` entries were added by our own proxies; the client is the
one before them. 0 (the default) trusts no header: the peer address counts.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_api_key.permissions import HasAPIKey

from mo_loans.api.api_keys import api_key_is_valid


def client_ip(request) -> str:
    """The client's address as our own proxies saw it (also ``AXES_CLIENT_IP_CALLABLE``)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [address for address in forwarded if address]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


class AuthenticationFailureThrottle(SimpleRateThrottle):
    """A sliding window of failed keys per client address; it counts failures, not requests."""

    scope = "auth_failure"

    def get_rate(self) -> str:
        return settings.AUTH_FAILURE_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

    def _load(self, request) -> None:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]

    def allow_request(self, request, view) -> bool:
        self._load(request)
        return len(self.history) < self.num_requests

    def record_failure(self, request) -> None:
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


class HasAPIKeyOrThrottled(HasAPIKey):
    """``HasAPIKey``, refused with 429 for an address that failed too often.

    The key is checked by :func:`mo_loans.api.api_keys.api_key_is_valid` (valid
    keys remembered per process for ``API_KEY_CACHE_SECONDS``).
    """

    def has_permission(self, request, view) -> bool:
        throttle = AuthenticationFailureThrottle()
        if not throttle.allow_request(request, view):
            raise Throttled(
                wait=throttle.wait(), detail="Too many failed API keys from this address."
            )
        key = self.get_key(request)
        if key and api_key_is_valid(key):
            return True
        if request.META.get("HTTP_AUTHORIZATION"):
            throttle.record_failure(request)
        return False
