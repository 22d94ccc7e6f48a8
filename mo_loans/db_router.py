"""Reads that write nothing go to the streaming replica; everything else to the primary.

With ``DATABASE_REPLICA_HOST`` set, ``settings.DATABASES`` has a second alias,
``replica``: a PostgreSQL hot standby fed by streaming replication from the
primary (``default``). :class:`ReplicaRouter` sends a read there only when all
of these hold (docs/operations.md, "Read replica"):

* the read happens inside :func:`replica_reads` — the API opens it around
  ``GET``/``HEAD`` requests under ``/api/`` (``mo_loans.api.replica_reads``);
  nothing else (the admin, management commands, ``POST``s) ever reads from the
  replica;
* the model is one of the ledger's apps (:data:`READ_APPS`): API keys, admin
  users and sessions, django-axes attempts and idempotency keys are always read
  on the primary, so a revoked key or a new lock-out counts at once;
* nothing was written in this request yet, and no transaction is open on the
  primary (a service's ``write_transaction``, a ``select_for_update``, the
  idempotency layer's request transaction): a read that decides a write is
  always the primary's;
* the replica is fresh enough for the request (:class:`ReplicaHealth`): at
  most ``DATABASE_REPLICA_MAX_LAG_SECONDS`` behind for a read of "now"; for a
  read with a ``known_at``, replayed past ``known_at`` plus
  :data:`IN_FLIGHT_MARGIN`, however far behind it is otherwise.

The choice is made once, at the request's first eligible read, so one answer
never mixes the two servers (except that reads after a write go to the
primary). Writes always go to the primary; no migration ever runs on the replica.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

logger = logging.getLogger(__name__)

REPLICA = "replica"
# The apps whose reads may be served by the replica: customers, loans, the ledger.
READ_APPS = frozenset({"customers", "loans", "payments"})
# A write records its instant (``recorded_at``) under the customer lock and commits
# a few milliseconds later; a replica must have replayed this far past a
# ``known_at`` to hold every write recorded by then.
IN_FLIGHT_MARGIN = timedelta(seconds=5)


def replica_configured() -> bool:
    return REPLICA in connections.settings


@dataclass(frozen=True)
class ReplicaStatus:
    """What the last check saw. ``replayed_until``: every commit before it is on the replica."""

    usable: bool
    next_check: float  # time.monotonic()
    lag: float | None = None  # seconds; 0 when it had replayed all the primary had flushed
    replayed_until: datetime | None = None
    reason: str = ""

    def serves(self, known_at: datetime | None) -> bool:
        """May a read of "now" (``known_at`` None) or as known at ``known_at`` use the replica?"""
        if not self.usable or self.lag is None or self.replayed_until is None:
            return False
        if known_at is None:
            return self.lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        return self.replayed_until >= known_at + IN_FLIGHT_MARGIN


UNKNOWN = ReplicaStatus(usable=False, next_check=0.0, reason="not checked yet")

# On the replica: is it a standby, has it replayed up to the primary's flushed
# WAL position (%s), when did the last transaction it replayed commit, and how
# long ago was that.
_REPLICA_CHECK = """
SELECT pg_is_in_recovery(),
       COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false),
       pg_last_xact_replay_timestamp(),
       EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
"""


class ReplicaHealth:
    """The replica's lag, checked at most every ``DATABASE_REPLICA_CHECK_SECONDS`` per process.

    A check is two one-row queries: the primary's flushed WAL position, then, on
    the replica, whether it has replayed that far. If it has, it lags by no more
    than the time between the two queries (0). If not, its lag is the age of
    the last transaction it replayed (an upper bound of what it misses), and it
    holds every commit up to that transaction's (the primary's clock). A
    replica that cannot be reached, or that is no longer a standby (promoted),
    is unusable until the next check, ``DATABASE_REPLICA_RETRY_SECONDS`` later.

    One thread checks at a time; the others go on with the last status (or the
    primary, before the first check) instead of waiting for it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = UNKNOWN

    def status(self) -> ReplicaStatus:
        status = self._status
        if time.monotonic() < status.next_check or not self._lock.acquire(blocking=False):
            return status
        try:
            self._status = self._check()
            self._log_change(status, self._status)
        finally:
            self._lock.release()
        return self._status

    def mark_down(self, reason: str) -> None:
        """The replica failed a request: use the primary until the next check is due."""
        previous, self._status = self._status, self._down(reason)
        self._log_change(previous, self._status)

    def clear(self) -> None:
        """Forget the last check (tests; after changing the replica's settings)."""
        self._status = UNKNOWN

    def _check(self) -> ReplicaStatus:
        started = timezone.now()
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
            (primary_lsn,) = cursor.fetchone()
        replica = connections[REPLICA]
        try:
            with replica.cursor() as cursor:
                cursor.execute(_REPLICA_CHECK, [primary_lsn])
                in_recovery, caught_up, last_replay, last_replay_age = cursor.fetchone()
        except Error as exc:  # DatabaseError, InterfaceError
            replica.close()
            return self._down(f"unreachable: {exc}".strip())
        if not in_recovery:
            return self._down("not a standby (promoted?): its data may diverge from the primary's")
        next_check = time.monotonic() + settings.DATABASE_REPLICA_CHECK_SECONDS
        if caught_up:
            return ReplicaStatus(True, next_check, lag=0.0, replayed_until=started)
        if last_replay is None:  # nothing replayed since it started: lag unknown
            return ReplicaStatus(True, next_check, reason="has replayed nothing yet")
        return ReplicaStatus(
            True, next_check, lag=max(0.0, last_replay_age), replayed_until=last_replay
        )

    @staticmethod
    def _down(reason: str) -> ReplicaStatus:
        retry = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
        return ReplicaStatus(False, retry, reason=reason)

    @staticmethod
    def _log_change(before: ReplicaStatus, after: ReplicaStatus) -> None:
        if before.usable and not after.usable:
            logger.warning("replica unusable, reads go to the primary: %s", after.reason)
        elif after.usable and not before.usable and before is not UNKNOWN:
            logger.info("replica usable again (lag %s s)", after.lag)


health = ReplicaHealth()


@dataclass
class ReadScope:
    """One request's reads: where they go, and whether it has written yet."""

    known_at: datetime | None = None
    use_replica: bool = True  # False: this request reads on the primary only
    wrote: bool = False
    chosen: str | None = None
    used_replica: bool = False

    def read_alias(self) -> str:
        if self.wrote or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        if self.chosen is None:
            usable = self.use_replica and health.status().serves(self.known_at)
            self.chosen = REPLICA if usable else DEFAULT_DB_ALIAS
        if self.chosen == REPLICA:
            self.used_replica = True
        return self.chosen


_scope: ContextVar[ReadScope | None] = ContextVar("mo_loans_read_scope", default=None)


@contextmanager
def replica_reads(*, known_at: datetime | None = None) -> Iterator[ReadScope]:
    """Let the reads in this block use the replica (see the module's rules).

    ``known_at``: the instant the reads are about, when not "now".
    """
    scope = ReadScope(known_at=known_at, use_replica=replica_configured())
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def replica_failed(scope: ReadScope) -> bool:
    """Did the replica's connection break (or never open) during ``scope``? Marks it down."""
    if not scope.used_replica:
        return False
    replica = connections[REPLICA]
    if not replica.errors_occurred:
        return False
    if replica.connection is not None and replica.is_usable():
        replica.errors_occurred = False  # a statement's own error (a timeout): not an outage
        return False
    replica.close()
    health.mark_down("its connection broke during a request")
    return True


def reading(model) -> BaseDatabaseWrapper:
    """The connection a raw-SQL read about ``model`` uses (the router's choice)."""
    return connections[router.db_for_read(model)]


class ReplicaRouter:
    """``DATABASE_ROUTERS``: see the module docstring."""

    def db_for_read(self, model, **hints) -> str | None:
        scope = _scope.get()
        if scope is None or not scope.use_replica:
            return None
        if model._meta.app_label not in READ_APPS:
            return DEFAULT_DB_ALIAS
        return scope.read_alias()

    def db_for_write(self, model, **hints) -> str:
        scope = _scope.get()
        if scope is not None:
            scope.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the replica holds the primary's rows: same objects

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None
