"""``Idempotency-Key`` for every POST under ``/api/`` (docs/api.md).

The first request with a key runs and its response (status and body) is kept.
A repeat with the same key and the same request gets that response again and
changes nothing; the same key with another request is 422
``idempotency_key_reused``; a repeat while the first is still running is 409.
Responses that say nothing about the request itself (401/403, 5xx) are not
kept, so the client can retry them. Keys live ``IDEMPOTENCY_KEY_TTL_HOURS``
(24 by default); ``manage.py prune_idempotency_keys`` deletes older ones.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from mo_loans.api.errors import error_body
from mo_loans.api.renderers import JsonResponse
from mo_loans.models import IdempotencyKey

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
# A request still "running" after this long died with its worker; its key may be taken over.
ABANDONED_AFTER = timedelta(minutes=5)
NOT_KEPT = {401, 403}


def ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "IDEMPOTENCY_KEY_TTL_HOURS", 24))


def _scope(request: HttpRequest) -> str | None:
    """The caller's API key prefix (``<prefix>.<secret>``), or None without a key."""
    keyword, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if keyword.lower() != "api-key" or "." not in key:
        return None
    return key.partition(".")[0][:64]


def _caller_key_valid(request: HttpRequest) -> bool:
    key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")[2]
    return APIKey.objects.is_valid(key)


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path_info, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _claim(scope: str, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Insert the key as running, or return the stored one. True when we inserted it."""
    now = timezone.now()
    stale = Q(created_at__lt=now - ttl()) | Q(
        status_code__isnull=True, created_at__lt=now - ABANDONED_AFTER
    )
    IdempotencyKey.objects.filter(stale, scope=scope, key=key).delete()
    # One statement, committed at once: the unique constraint decides who runs.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} "
            "(scope, key, fingerprint, content_type, created_at) VALUES (%s, %s, %s, '', %s) "
            "ON CONFLICT (scope, key) DO NOTHING RETURNING id",
            [scope, key, fingerprint, now],
        )
        inserted = cursor.fetchone()
    if inserted is not None:
        row = IdempotencyKey(id=inserted[0], scope=scope, key=key, fingerprint=fingerprint)
        row.created_at = now
        return row, True
    row = IdempotencyKey.objects.filter(scope=scope, key=key).first()
    if row is None:  # expired and deleted between our insert and our read
        return _claim(scope, key, fingerprint)
    return row, False


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        scope = _scope(request)
        if (
            key is None
            or scope is None  # no API key: the view refuses the request anyway
            or request.method != "POST"
            or not request.path_info.startswith("/api/")
        ):
            return self.get_response(request)
        if not KEY_PATTERN.match(key):
            return _error(
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.",
            )
        try:
            fingerprint = _fingerprint(request)
        except RequestDataTooBig:
            return _error(
                413, "request_too_large", "The request body is larger than this server accepts."
            )
        row, created = _claim(scope, key, fingerprint)
        if not created:
            if not _caller_key_valid(request):
                # The scope is only the key's prefix: never replay to a caller who
                # cannot prove the whole key. The view answers 401.
                return self.get_response(request)
            return self._replay(row, fingerprint)
        return self._run_and_keep(request, row)

    def _run_and_keep(self, request: HttpRequest, row: IdempotencyKey) -> HttpResponse:
        try:
            response = self.get_response(request)
        except BaseException:
            row.delete()
            raise
        if response.status_code in NOT_KEPT or response.status_code >= 500:
            row.delete()
            return response
        row.status_code = response.status_code
        row.content_type = response.get("Content-Type", "")
        row.body = response.content
        row.save(update_fields=["status_code", "content_type", "body"])
        return response

    @staticmethod
    def _replay(row: IdempotencyKey, fingerprint: str) -> HttpResponse:
        if row.fingerprint != fingerprint:
            return _error(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
            )
        if row.status_code is None:
            return _error(
                409,
                "idempotency_request_in_progress",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )
        response = HttpResponse(
            bytes(row.body or b""), status=row.status_code, content_type=row.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response


def prune_idempotency_keys(*, older_than: timedelta | None = None) -> int:
    """Delete keys older than ``older_than`` (default: the TTL). Returns how many."""
    cutoff = timezone.now() - (older_than or ttl())
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
