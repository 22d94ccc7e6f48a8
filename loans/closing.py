"""Closing days: storing a past day's portfolio figures, so reading them takes milliseconds.

A day's figures (``GET /api/portfolio`` as of it, and its part of any
collection period) depend on every active loan and on what it had been paid by
the day's end: computing them reads the whole book and the payments since.
:func:`portfolio_close` computes them once, as the ledger stood at an instant
``known_at`` a little in the past, and stores them (``PortfolioClose``); the
reads (``loans/portfolio.py``) then take the newest close and correct it for
the customers whose ledger changed since (a back-dated payment, a reversal, a
back-dated activation). The answer is the same as without the close, to the
cent; only its cost changes.

``manage.py close_portfolio`` runs it (nightly, after midnight in ``TIME_ZONE``);
the admin lists the closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from loans import portfolio
from loans.models import PortfolioClose, PortfolioCloseBand
from mo_loans.core.exceptions import BusinessRuleError, InvalidInputError
from mo_loans.db import write_transaction

# Days computed per statement: each statement keeps a row per loan and day aside.
DAYS_PER_STATEMENT = 7


def settled_instant() -> datetime:
    """The latest instant a close may know: ``PORTFOLIO_CLOSE_SETTLE_SECONDS`` ago, so
    that every write recorded by then has committed (a write records its instant
    under the customer lock and commits milliseconds later)."""
    return timezone.now() - timedelta(seconds=settings.PORTFOLIO_CLOSE_SETTLE_SECONDS)


def _refuse_if_writes_in_flight(known_at: datetime) -> None:
    """A write transaction open since before ``known_at`` may still commit rows recorded by
    then, which the close would miss: refuse while one is (the app's own sessions:
    PostgreSQL shows another role's only to members of ``pg_read_all_stats``)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            # A write transaction has its transaction id from its first lock or write,
            # before it reads the instant it records; read-only sessions never block.
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND backend_xid IS NOT NULL "
            "AND xact_start <= %s",
            [known_at],
        )
        (oldest,) = cursor.fetchone()
    if oldest is not None:
        raise BusinessRuleError(
            f"A transaction open since {oldest.isoformat()} may still record payments "
            f"known by {known_at.isoformat()}; close again once it has ended.",
            code="writes_in_flight",
        )


def portfolio_close(
    *, days: Sequence[date], known_at: datetime | None = None
) -> list[PortfolioClose]:
    """Close each of ``days`` (each before today): compute its figures as the ledger stood
    at ``known_at`` (default :func:`settled_instant`) and store them.

    Closing a day again stores a newer close beside the old one; reads take the
    newest. Computed on the primary, :data:`DAYS_PER_STATEMENT` days a statement.
    """
    days = sorted(set(days))
    if not days:
        return []
    today = portfolio.today()
    if days[-1] >= today:
        raise InvalidInputError(
            f"Only a day that has ended can be closed: {days[-1].isoformat()} is not before "
            f"today ({today.isoformat()}).",
            fields={"day": ["Only a day that has ended can be closed."]},
        )
    known_at = settled_instant() if known_at is None else known_at
    if known_at > timezone.now():
        raise InvalidInputError(
            "known_at may not be in the future.",
            fields={"known_at": ["May not be in the future."]},
        )
    _refuse_if_writes_in_flight(known_at)
    closes = []
    for start in range(0, len(days), DAYS_PER_STATEMENT):
        batch = days[start : start + DAYS_PER_STATEMENT]
        closes.extend(_close(batch, known_at))
    return closes


def _close(days: list[date], known_at: datetime) -> list[PortfolioClose]:
    tallies = portfolio.tallies_as_of(
        days, known_at=known_at, by_band=False, late_loans=True, using=DEFAULT_DB_ALIAS
    )
    collections = portfolio.collection_by_day(
        period_from=days[0],
        period_to=days[-1],
        as_of=days[-1],
        known_at=known_at,
        using=DEFAULT_DB_ALIAS,
    )
    closed_at = timezone.now()
    zone = timezone.get_current_timezone_name()
    closes = []
    with write_transaction():
        for day, tally in zip(days, tallies, strict=True):
            collection = collections.get(day, portfolio.DayCollection())
            close = PortfolioClose.objects.create(
                day=day,
                known_at=known_at,
                time_zone=zone,
                rules=portfolio.CLOSE_RULES,
                closed_at=closed_at,
                delinquent_customers=tally.delinquent_customers,
                due_amount=collection.due,
                collected_on_time=collection.on_time,
                collected=collection.collected,
            )
            PortfolioCloseBand.objects.bulk_create(
                PortfolioCloseBand(
                    close=close,
                    days_past_due=dpd,
                    delinquent=delinquent,
                    loans=loans,
                    outstanding=outstanding,
                    outstanding_principal=principal,
                    loan_ids=tally.late_loans.get((dpd, delinquent), []),
                )
                for (dpd, delinquent), (loans, outstanding, principal) in tally.bands.items()
            )
            closes.append(close)
    return closes


def days_to_close(*, since: date | None = None) -> list[date]:
    """The days a nightly run closes: from ``since`` (default: the day after the newest
    day closed, or yesterday when none is) to yesterday."""
    yesterday = portfolio.today() - timedelta(days=1)
    if since is None:
        newest = (
            PortfolioClose.objects.filter(
                time_zone=timezone.get_current_timezone_name(), rules=portfolio.CLOSE_RULES
            )
            .order_by("-day")
            .values_list("day", flat=True)
            .first()
        )
        since = yesterday if newest is None else min(newest + timedelta(days=1), yesterday)
    return [since + timedelta(days=n) for n in range((yesterday - since).days + 1)]
