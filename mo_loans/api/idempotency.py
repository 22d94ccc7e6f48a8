"""``Idempotency-Key`` for every POST under ``/api/`` (docs/api.md).

The first request with a key runs and its response (status and body) is kept.
A repeat with the same key and the same request gets that response again and
changes nothing; the same key with another request is 422
``idempotency_key_reused``; a repeat while the first is still running is 409.

One transaction per keyed request, so a key's answer can never disagree with
the data:

1. ``pg_try_advisory_xact_lock`` on the key. Held means a live transaction is
   running this key right now: 409. The server drops the lock when that
   transaction ends, however it ends (commit, rollback, a killed worker, a
   database restart), so a key freed by a crash is retryable at once.
2. A stored answer: replay it, or 422 for another request.
3. Otherwise run the view in a savepoint and write the key's row with the
   response, in the same transaction as the view's writes. A 4xx refusal
   rolls the view's writes back (there should be none) and keeps the answer
   the client got. A 5xx, 401/403 or 429 keeps nothing: the client retries.

The key is looked at only once the caller's API key is known valid, so an
unauthenticated request writes nothing. Keys live ``IDEMPOTENCY_KEY_TTL_HOURS``
(24 by default); ``manage.py prune_idempotency_keys`` deletes older ones.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mo_loans.api.api_keys import api_key_is_valid
from mo_loans.api.exception_handlers import (
    DATABASE_UNAVAILABLE,
    database_unavailable_response,
    error_body,
)
from mo_loans.api.renderers import JsonResponse
from mo_loans.db import request_transaction
from mo_loans.models import IdempotencyKey

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
# The methods a key applies to (under /api/); the schema documents the header on them.
KEYED_METHODS = frozenset({"POST"})
# Answers that say nothing final about the request: the client may simply retry.
NOT_KEPT = {401, 403, 429}
# Rows without an answer were written by the previous version of this module,
# which claimed a key before running it and had no lock to tell whether the
# request was alive: such a row blocks its key for this long, as it did then.
LEGACY_CLAIM_BLOCKS_FOR = timedelta(minutes=5)
PRUNE_BATCH = 10_000


def ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "IDEMPOTENCY_KEY_TTL_HOURS", 24))


def _api_key(request: HttpRequest) -> str | None:
    keyword, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if keyword.lower() != "api-key" or "." not in key:
        return None
    return key


def _scope(api_key: str) -> str:
    """The caller's API key prefix (``<prefix>.<secret>``)."""
    return api_key.partition(".")[0][:64]


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path_info, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _lock_id(scope: str, key: str) -> int:
    """The key's advisory lock: a signed 64-bit number from its scope and key."""
    digest = hashlib.sha256(f"idempotency\0{scope}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _in_progress() -> JsonResponse:
    return _error(
        409,
        "idempotency_request_in_progress",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    )


_COLUMNS = [field.attname for field in IdempotencyKey._meta.concrete_fields]
_READ = "SELECT {} FROM {} WHERE scope = %s AND key = %s".format(
    ", ".join(f'"{column}"' for column in _COLUMNS), IdempotencyKey._meta.db_table
)


def _lock_and_stored(scope: str, key: str) -> tuple[bool, IdempotencyKey | None]:
    """Try the key's lock, then read its row: two statements, one round trip.

    psycopg's pipeline mode sends the transaction's ``BEGIN``, the lock and the
    read together. The server runs them in order, so the read (a statement of
    its own, with its own snapshot) sees whatever a transaction that held the
    lock before us committed. The row counts only when the lock was taken.
    """
    connection.ensure_connection()
    with connection.connection.pipeline(), connection.cursor() as lock, connection.cursor() as read:
        lock.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_id(scope, key)])
        read.execute(_READ, [scope, key])
        locked = lock.fetchone()[0]
        found = read.fetchone()
    if not locked:
        return False, None
    return True, None if found is None else IdempotencyKey.from_db("default", _COLUMNS, found)


def _stored(row: IdempotencyKey | None) -> IdempotencyKey | None:
    """The key's live row; an expired one is deleted (in this transaction) and ignored."""
    if row is None:
        return None
    now = timezone.now()
    legacy_abandoned = row.status_code is None and row.created_at < now - LEGACY_CLAIM_BLOCKS_FOR
    if row.created_at < now - ttl() or legacy_abandoned:
        row.delete()
        return None
    return row


def _kept(response: HttpResponse) -> bool:
    return response.status_code < 500 and response.status_code not in NOT_KEPT


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        api_key = _api_key(request)
        if (
            key is None
            or api_key is None  # no API key: the view refuses the request anyway
            or request.method not in KEYED_METHODS
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
        try:
            if not api_key_is_valid(api_key):
                # The scope is only the key's prefix: a caller who cannot prove the
                # whole key neither runs under it nor sees its answer. The view answers 401.
                return self.get_response(request)
            return self._once(request, _scope(api_key), key, fingerprint)
        except DATABASE_UNAVAILABLE as exc:
            # Nothing was committed (or, if the commit itself was cut off, the key's
            # answer was committed with it and the retry replays it): retry later.
            return database_unavailable_response(exc)

    def _once(self, request: HttpRequest, scope: str, key: str, fingerprint: str) -> HttpResponse:
        with request_transaction():
            locked, row = _lock_and_stored(scope, key)
            if not locked:
                return _in_progress()
            row = _stored(row)
            if row is not None:
                return self._replay(row, fingerprint)
            with transaction.atomic():  # the view's writes, undone for a refusal
                response = self.get_response(request)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
            if not _kept(response):
                transaction.set_rollback(True)
                return response
            IdempotencyKey.objects.create(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                status_code=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content,
            )
        return response

    @staticmethod
    def _replay(row: IdempotencyKey, fingerprint: str) -> HttpResponse:
        if row.fingerprint != fingerprint:
            return _error(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
            )
        if row.status_code is None:  # a claim of the previous version (see above)
            return _in_progress()
        response = HttpResponse(
            bytes(row.body or b""), status=row.status_code, content_type=row.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response


def prune_idempotency_keys(*, older_than: timedelta | None = None) -> int:
    """Delete keys older than ``older_than`` (default: the TTL). Returns how many.

    Rows a running request holds (one replacing its expired key) are skipped,
    in batches so that no request waits on the prune.
    """
    cutoff = timezone.now() - (ttl() if older_than is None else older_than)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = (
                IdempotencyKey.objects.filter(created_at__lt=cutoff)
                .select_for_update(skip_locked=True)
                .values("pk")[:PRUNE_BATCH]
            )
            count, _ = IdempotencyKey.objects.filter(pk__in=batch).delete()
        deleted += count
        if count < PRUNE_BATCH:
            return deleted
