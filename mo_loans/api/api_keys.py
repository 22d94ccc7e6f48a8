"""API key checks, with verified keys remembered per process for a few seconds.

Every ``/api/`` call checks its ``Authorization: Api-Key <key>`` (the
``HasAPIKey`` permission, and the idempotency layer before it for a keyed
POST). The library's check is one query and a SHA-512 per call; here a key
found valid is remembered by this process for ``API_KEY_CACHE_SECONDS``
(default 10 s), so a busy client costs one query per worker every few seconds.

What that means for an operator (docs/operations.md):

* a **revoked** (or deleted) key keeps working for at most
  ``API_KEY_CACHE_SECONDS`` in each worker that verified it just before; a
  change made through the admin or ``APIKey.objects`` in a worker forgets the
  cache of that worker at once;
* an **expiry date** is honoured to the instant: the remembered expiry is
  compared on every call;
* a wrong or unknown key is never remembered: each try still costs a query
  and still counts towards ``AUTH_FAILURE_RATE``; a new key works at once.

``API_KEY_CACHE_SECONDS=0`` turns the cache off. Entries are keyed by the
key's SHA-256, never the key itself.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework_api_key.models import APIKey

DEFAULT_SECONDS = 10
MAX_ENTRIES = 10_000

_verified: dict[bytes, tuple[float, datetime | None]] = {}  # digest -> (good until, expiry)
_lock = threading.Lock()


def cache_seconds() -> float:
    return float(getattr(settings, "API_KEY_CACHE_SECONDS", DEFAULT_SECONDS))


def forget_verified_keys() -> None:
    """Drop every remembered key (a key changed in this process; tests)."""
    with _lock:
        _verified.clear()


def _lookup(key: str) -> tuple[bool, datetime | None]:
    """The library's check: usable (not revoked), the hash matches, not expired."""
    try:
        api_key = APIKey.objects.get_from_key(key)
    except APIKey.DoesNotExist:
        return False, None
    return not api_key.has_expired, api_key.expiry_date


def api_key_is_valid(key: str) -> bool:
    """``APIKey.objects.is_valid(key)``, answered from this process's memory when it can."""
    seconds = cache_seconds()
    if seconds <= 0:
        return _lookup(key)[0]
    digest = hashlib.sha256(key.encode()).digest()
    now = time.monotonic()
    entry = _verified.get(digest)
    if entry is not None:
        good_until, expiry = entry
        if now < good_until and (expiry is None or expiry >= timezone.now()):
            return True
    valid, expiry = _lookup(key)
    with _lock:
        if not valid:
            _verified.pop(digest, None)
            return False
        if len(_verified) >= MAX_ENTRIES:
            _verified.clear()
        _verified[digest] = (now + seconds, expiry)
    return True


@receiver(post_save, sender=APIKey, dispatch_uid="mo_loans_api_key_saved")
@receiver(post_delete, sender=APIKey, dispatch_uid="mo_loans_api_key_deleted")
def _key_changed(**kwargs) -> None:
    forget_verified_keys()
