"""Portfolio risk reads, set-based: a few SQL statements per question, whatever the book's size.

``GET /api/portfolio`` (:func:`portfolio_as_of`, :func:`portfolio_collection`),
the ``bucket`` / ``dpd_min`` / ``dpd_max`` filters of the loan lists
(:func:`filter_loans_by_dpd`) and the arrears history of one loan
(:func:`loan_arrears`). The figures are defined in ``billing/portfolio.py``,
which the tests compare these queries against.

Everything a query knows about payments and loans' lives comes from a few
helpers, the places to change when the ledger changes what a payment detail is
or when a loan counts:

* :func:`detail_rows_sql`: the payment details that count, as
  ``(loan_id, paid_at, amount)`` rows;
* :func:`paid_before_sql`: what each loan had been paid before one or more
  instants, as a join and one expression per instant over the loan table (today
  it rewinds the loan's ``paid_amount`` by the later details, which reads only
  the recent part of the ``payment_detail_paid_at`` index);
* :func:`_activated` and :func:`_activated_by`: which loans had been activated
  by the end of a date; :data:`_START`: a loan's first day;
* :func:`in_force_sql`: whether a detail row was in force at an instant;
* :func:`_changed_sql`: the customers whose figures as of a closed day changed
  since it was closed;
* :func:`loan_value_payments`: one loan's payments, for its arrears history.

A past day closed by ``loans/closing.py`` is read from its close
(:func:`closes_of`), corrected for the changed customers (:func:`corrected`,
:func:`corrected_collection`, and :func:`filter_loans_by_dpd`'s late loans);
figures of disjoint sets of customers add up (:class:`Tally`), so a read gives
the same answer with or without the close.

SQL is written with named ``%(name)s`` parameters; :func:`_positional` turns a
statement into Django's positional form where it is embedded in a queryset.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    DateField,
    Expression,
    F,
    Func,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from billing.arrears import ArrearsPeriod, arrears_periods
from billing.buckets import CURRENT, Bucket, bucket_for, bucket_names, parse_buckets
from billing.money import ZERO
from billing.portfolio import (
    PAR_DAYS,
    BucketFigures,
    CollectionFigures,
    PortfolioFigures,
    ratio,
)
from billing.schedule import MAX_TERM_WEEKS
from loans import expressions
from loans.expressions import DAYS_IN_WEEK, INTEGER, MONEY
from loans.models import Loan, PortfolioClose, PortfolioCloseBand
from loans.selectors import visible_details
from mo_loans.db_router import reading
from payments.models import PaymentDetail

Params = dict[str, Any]

LOAN_TABLE = Loan._meta.db_table
DETAIL_TABLE = PaymentDetail._meta.db_table
# Loans that were activated: active now, or paid off since.
ACTIVATED_STATUSES = (Loan.Status.ACTIVE, Loan.Status.PAID)


@lru_cache(maxsize=8)
def _parse(spec: str) -> tuple[Bucket, ...]:
    return parse_buckets(spec)


def dpd_buckets() -> tuple[Bucket, ...]:
    """The buckets of ``BILLING_DPD_BUCKETS`` (validated when the settings load)."""
    return _parse(settings.BILLING_DPD_BUCKETS)


def delinquency_bucket(*, days_past_due: int) -> str:
    """The configured bucket of a loan ``days_past_due`` days late (``current`` for 0)."""
    return bucket_for(days_past_due, dpd_buckets())


def today() -> date:
    return timezone.localdate()


def day_start(day: date) -> datetime:
    """The first instant of local date ``day`` in ``TIME_ZONE``."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _start_of(day: date) -> datetime | None:
    """The first instant of local date ``day``; None when that is after today (every
    payment recorded so far was made before it)."""
    if day > today():
        return None
    return day_start(day)


def _end_of(day: date) -> datetime | None:
    """The first instant after local date ``day``; None when that is not in the past yet."""
    if day >= today():
        return None
    return day_start(day + timedelta(days=1))


# --- what was paid, and when: the one place -------------------------------------------


def detail_rows_sql(known_at: datetime | None = None) -> tuple[str, Params]:
    """The payment details that count, as rows ``(loan_id, paid_at, amount)``.

    As known now: the allocation rows in force. As known at an earlier instant
    ``known_at``: the rows recorded by then and not yet superseded then.
    """
    rows = f'SELECT d."loan_id", d."paid_at", d."amount" FROM "{DETAIL_TABLE}" d'
    if known_at is None:
        return f'{rows} WHERE d."superseded_at" IS NULL', {}
    return f"{rows} WHERE {in_force_sql('d', '%(known_at)s')}", {"known_at": known_at}


def in_force_sql(detail: str, known: str) -> str:
    """Whether payment detail row ``detail`` was in force at the instant SQL ``known``
    (``'infinity'``: now): recorded by then and not superseded by then."""
    return (
        f'{detail}."recorded_at" <= {known} '
        f'AND ({detail}."superseded_at" IS NULL OR {detail}."superseded_at" > {known})'
    )


@dataclass(frozen=True)
class PaidSql:
    """SQL for what loan ``l`` had been paid by one or more instants: ``join`` goes after
    ``FROM <loans> l``, ``exprs`` holds one amount per instant, ``params`` are the join's.

    ``rewound`` holds, per instant, whether the amount may differ from the loan's
    ``paid_amount`` (else the loan's stored figures derived from it hold then too).
    """

    join: str
    exprs: tuple[str, ...]
    params: Params
    rewound: tuple[str, ...] = ()

    @property
    def expr(self) -> str:
        (only,) = self.exprs
        return only


def paid_before_sql(
    befores: Sequence[datetime | None] | datetime | None,
    *,
    loan: str = "l",
    name: str = "paid",
    known_at: datetime | None = None,
) -> PaidSql:
    """What each loan had been paid by payments with ``paid_at`` before each instant.

    ``None``: every payment so far, which the loan row holds (``paid_amount``).
    Otherwise the loan's ``paid_amount`` less what later payments gave it: one
    pass over the part of the ``payment_detail_paid_at`` index after the
    earliest instant, summed per loan (one sum per instant) and hash-joined to
    the loans. ``name`` keeps two of them apart in one statement.
    """
    befores = list(befores) if isinstance(befores, (list, tuple)) else [befores]
    if known_at is not None:
        return _paid_known_at(befores, loan=loan, name=name, known_at=known_at)
    current = f'{loan}."paid_amount"'
    cutoffs = {index: before for index, before in enumerate(befores) if before is not None}
    if not cutoffs:
        return PaidSql("", tuple(current for _ in befores), {}, tuple("FALSE" for _ in befores))
    rows, params = detail_rows_sql()
    later = f"{name}_later"
    sums = ", ".join(
        f'SUM(r."amount") FILTER (WHERE r."paid_at" >= %({name}_before_{index})s) '
        f'AS "later_{index}"'
        for index in cutoffs
    )
    join = (
        f'LEFT JOIN (SELECT r."loan_id", {sums} FROM ({rows}) r '
        f'WHERE r."paid_at" >= %({name}_since)s GROUP BY r."loan_id") {later} '
        f'ON {later}."loan_id" = {loan}."id"'
    )
    exprs = tuple(
        f'({current} - COALESCE({later}."later_{index}", 0))' if index in cutoffs else current
        for index in range(len(befores))
    )
    rewound = tuple(
        f'{later}."later_{index}" IS NOT NULL' if index in cutoffs else "FALSE"
        for index in range(len(befores))
    )
    params = {**params, f"{name}_since": min(cutoffs.values())}
    params.update({f"{name}_before_{index}": before for index, before in cutoffs.items()})
    return PaidSql(join, exprs, params, rewound)


def _paid_known_at(
    befores: list[datetime | None], *, loan: str, name: str, known_at: datetime
) -> PaidSql:
    """:func:`paid_before_sql` as known at ``known_at``: the loans' cached totals say what
    is known now, so the rows in force then are summed instead (one pass, per loan)."""
    rows, params = detail_rows_sql(known_at)
    sums = ", ".join(
        f'SUM(r."amount") FILTER (WHERE r."paid_at" < %({name}_before_{index})s) AS "paid_{index}"'
        if before is not None
        else f'SUM(r."amount") AS "paid_{index}"'
        for index, before in enumerate(befores)
    )
    alias = f"{name}_known"
    join = (
        f'LEFT JOIN (SELECT r."loan_id", {sums} FROM ({rows}) r GROUP BY r."loan_id") {alias} '
        f'ON {alias}."loan_id" = {loan}."id"'
    )
    exprs = tuple(f'COALESCE({alias}."paid_{index}", 0)' for index in range(len(befores)))
    params = dict(params)
    params.update(
        {f"{name}_before_{i}": before for i, before in enumerate(befores) if before is not None}
    )
    return PaidSql(join, exprs, params, tuple("TRUE" for _ in befores))


def paid_as_of_sql(
    dates: Sequence[date], *, loan: str = "l", known_at: datetime | None = None
) -> PaidSql:
    """What each loan had been paid by the end of each local date of ``dates``."""
    return paid_before_sql([_end_of(day) for day in dates], loan=loan, known_at=known_at)


# --- each loan's state as of a date -------------------------------------------------

# A loan's first day; its instalment k is due 7·k days later (billing.schedule).
_START = 'l."start_date"'


def _activated(known_at: datetime | None) -> tuple[str, Params]:
    """Whether loan ``l`` had been activated, as known at ``known_at`` (None: now)."""
    if known_at is None:
        return 'l."activated_at" IS NOT NULL', {}
    return 'l."activated_at" <= %(activated_known_at)s', {"activated_known_at": known_at}


def _activated_by(as_of: date, key: str) -> tuple[str, Params]:
    """Whether loan ``l`` had been activated by the end of ``as_of`` (``taken_at`` by then);
    whether the activation was recorded is checked separately (:func:`_activated`)."""
    end = _end_of(as_of)
    if end is None:
        return "TRUE", {}
    return f'l."taken_at" < %({key})s', {key: end}


def _state_expressions() -> tuple[str, str, Params]:
    """The ``active`` and ``state`` stages' columns, built by ``loans/expressions.py``."""
    book = expressions.columns("b", start="start")
    paid = expressions.Column('b."paid"', MONEY)
    rewound = expressions.Column('b."rewound"', BooleanField())
    owed = expressions.outstanding(book, paid)
    active = {
        "outstanding": owed,
        # As of today, as known now, the loan's stored figures hold; otherwise compute them.
        "fully_paid": Case(
            When(rewound, then=expressions.paid_installments(book, paid)),
            default=expressions.Column('b."stored_fully_paid"', INTEGER),
        ),
        "principal": Case(
            When(rewound, then=expressions.outstanding_principal(book, owed)),
            default=expressions.Column('b."stored_principal"', MONEY),
        ),
        "falling_due": expressions.due_before(book, expressions.Column('b."as_of"', DateField())),
    }
    row = expressions.columns("a", start="start")
    falling_due = expressions.Column('a."falling_due"', INTEGER)
    fully_paid = expressions.Column('a."fully_paid"', INTEGER)
    state = {
        "missed": expressions.missed_installments(
            row, falling_due=falling_due, fully_paid=fully_paid
        ),
        "dpd": expressions.days_past_due(
            row,
            as_of=expressions.Column('a."as_of"', DateField()),
            falling_due=falling_due,
            fully_paid=fully_paid,
        ),
    }
    params: Params = {}
    compiled = {
        name: _compiled(expression, params) for name, expression in {**active, **state}.items()
    }
    active_sql = ", ".join(f'{compiled[name]} AS "{name}"' for name in active)
    state_sql = ", ".join(f'{compiled[name]} AS "{name}"' for name in state)
    return active_sql, state_sql, params


_BOOK_COLUMNS = (
    'l."id", l."customer_id", l."amount", l."total_amount", l."installment_amount", '
    f'l."term_weeks", {_START} AS "start", l."paid_installments" AS "stored_fully_paid", '
    'l."outstanding_principal" AS "stored_principal"'
)


def _book_sql(dates: Sequence[date], known_at: datetime | None) -> tuple[str, Params]:
    """The ``book`` stage: every loan activated by each date (slot ``i`` for ``dates[i]``),
    with what it had been paid by the end of that date."""
    paid = paid_as_of_sql(dates, known_at=known_at)
    activated_sql, params = _activated(known_at)
    params = {**paid.params, **params}
    if len(dates) == 1:
        activated, activated_params = _activated_by(dates[0], "activated_before_0")
        params.update(activated_params, as_of_0=dates[0])
        book = (
            f'SELECT {_BOOK_COLUMNS}, 0 AS "slot", %(as_of_0)s::date AS "as_of", '
            f'{paid.expr} AS "paid", {paid.rewound[0]} AS "rewound" '
            f'FROM "{LOAN_TABLE}" l {paid.join} WHERE {activated_sql} AND {activated}'
        )
    else:
        values = []
        for index, (day, expr, rewound) in enumerate(
            zip(dates, paid.exprs, paid.rewound, strict=True)
        ):
            activated, activated_params = _activated_by(day, f"activated_before_{index}")
            params.update(activated_params)
            params[f"as_of_{index}"] = day
            values.append(f"({index}, %(as_of_{index})s::date, {expr}, {rewound}, {activated})")
        book = (
            f'SELECT {_BOOK_COLUMNS}, v."slot", v."as_of", v."paid", v."rewound" '
            f'FROM "{LOAN_TABLE}" l {paid.join} CROSS JOIN LATERAL (VALUES {", ".join(values)}) '
            'AS v("slot", "as_of", "paid", "rewound", "activated") '
            f'WHERE {activated_sql} AND v."activated"'
        )
    if paid.join:
        # Computed once per row: "paid" (a join and a subtraction) is read five times
        # below, and an inlined subquery would repeat it each time.
        book += " OFFSET 0"
    return book, params


def _stages(book: str, *, read_twice: bool, computed: bool) -> tuple[str, Params]:
    """The ``book``, ``active`` and ``state`` stages of :func:`active_state_sql` over a
    ``book`` statement (one row per loan and slot: the loan's columns, ``slot``,
    ``as_of``, ``paid`` and whether ``paid`` is not its stored ``paid_amount``)."""
    active_columns, state_columns, params = _state_expressions()
    kept = "MATERIALIZED" if computed else "NOT MATERIALIZED"
    sql = f"""
    book AS ({book}),
    active AS (
        SELECT b."slot", b."as_of", b."id", b."customer_id", b."start", {active_columns}
        FROM book b
        WHERE b."paid" < b."total_amount"
    ),
    state AS {kept if read_twice else ""} (
        SELECT a."slot", a."as_of", a."id", a."customer_id", a."outstanding", a."principal",
               {state_columns}
        FROM active a
    )"""
    return sql, params


def active_state_sql(
    dates: Sequence[date], known_at: datetime | None = None, *, read_twice: bool = False
) -> tuple[str, Params]:
    """``WITH`` clauses ending in ``state``: one row per loan active as of each date.

    Columns: ``slot`` (the date's index in ``dates``), ``as_of``, ``id``,
    ``customer_id``, ``outstanding``, ``principal``, ``missed`` and ``dpd``, each
    built by ``loans/expressions.py`` (the SQL twins of
    ``billing.state.loan_state`` and ``billing.portfolio.outstanding_principal``).
    A loan's figures as of today, as known now, are its stored ones
    (``paid_installments``, ``outstanding_principal``); for another date they are
    computed from what it had been paid then, unless no later payment changed it.

    Several dates share one scan of the loans and of the later payments.

    ``read_twice``: the statement reads ``state`` twice. When a loan's state is
    its stored columns, it is cheaper to scan the loans twice, in parallel,
    than to write every row aside; when it takes a join to the ledger, the rows
    are computed once and kept (``MATERIALIZED``).
    """
    book, params = _book_sql(dates, known_at)
    stages, stage_params = _stages(book, read_twice=read_twice, computed=book.endswith("OFFSET 0"))
    return stages, {**params, **stage_params}


def portfolio_as_of(*, as_of: date, known_at: datetime | None = None) -> PortfolioFigures:
    """Every as-of figure of ``GET /api/portfolio``, in one statement (or, for a closed
    day, its close and the correction of what the ledger learned since)."""
    (figures,) = portfolio_as_of_dates(dates=[as_of], known_at=known_at)
    return figures


# --- tallies: the figures of one date, by days past due ------------------------------


@dataclass
class Tally:
    """A date's active loans by ``(days past due, delinquent)``: ``[loans, outstanding,
    principal]`` each, and its delinquent customers. Tallies of disjoint sets of
    customers add up, which is what makes a closed day correctable."""

    bands: dict[tuple[int, bool], list] = field(default_factory=dict)
    delinquent_customers: int = 0
    # The loans of each late band (days past due ≥ 1), when asked for: what a close keeps.
    late_loans: dict[tuple[int, bool], list[int]] = field(default_factory=dict)

    def add(self, other: Tally, sign: int = 1) -> None:
        for key, (loans, outstanding, principal) in other.bands.items():
            mine = self.bands.setdefault(key, [0, ZERO, ZERO])
            mine[0] += sign * loans
            mine[1] += sign * outstanding
            mine[2] += sign * principal
            if mine[0] == 0:
                del self.bands[key]
        self.delinquent_customers += sign * other.delinquent_customers


def _band_lows() -> list[int]:
    """The first day of every band of days past due: each bucket's first day, and the
    day after each PAR threshold. A band lies within one bucket and wholly on one side
    of every threshold, so buckets and PAR numerators are exact sums of bands, and a
    loan's band may stand for its days past due (:func:`_figures`)."""
    return sorted({bucket.low for bucket in dpd_buckets()} | {days + 1 for days in PAR_DAYS})


def _band_of(dpd: str) -> str:
    """SQL: the first day of the band of ``dpd`` days past due (0: current)."""
    return f"COALESCE((%(lows)s::int[])[width_bucket({dpd}, %(lows)s::int[])], 0)"


def _tally_sql(
    state: str, *, count_customers: bool, by_band: bool = True, late_loans: bool = False
) -> tuple[str, Params]:
    """The statement summing ``state`` per slot, band of days past due (``by_band``; else
    per day past due) and delinquency (two money sums per loan), and counting each
    slot's delinquent customers apart: rows ``(slot, dpd, delinquent, loans,
    outstanding, principal, [loan ids,] customers)``, ``dpd`` the band's first day when
    by band; with ``late_loans``, the ids of each late band's loans, in order."""
    delinquent, params = expressions.sql(
        expressions.is_delinquent(expressions.Column('s."missed"', INTEGER))
    )
    dpd = _band_of('s."dpd"') if by_band else 's."dpd"'
    if by_band:
        params["lows"] = _band_lows()
    ids = (
        ', CASE WHEN s."dpd" > 0 THEN array_agg(s."id" ORDER BY s."id") '
        "ELSE '{}'::bigint[] END AS \"loan_ids\""
        if late_loans
        else ""
    )
    per_dpd = f"""
    per_dpd AS (
        SELECT s."slot", {dpd} AS "dpd", {delinquent} AS "delinquent", COUNT(*) AS "n",
               SUM(s."outstanding") AS "outstanding", SUM(s."principal") AS "principal"{ids}
        FROM state s
        GROUP BY 1, 2, 3
    )"""
    if not count_customers:
        return f"WITH {state}, {per_dpd} SELECT p.*, 0 FROM per_dpd p", params
    customers = f"""
    customers AS (
        SELECT d."slot", COUNT(*) AS "n"
        FROM (SELECT s."slot", s."customer_id" FROM state s WHERE {delinquent} GROUP BY 1, 2) d
        GROUP BY 1
    )"""
    # A slot with delinquent customers has delinquent loans, so has a per_dpd row.
    sql = f"""WITH {state}, {per_dpd}, {customers}
    SELECT p.*, COALESCE(c."n", 0) FROM per_dpd p LEFT JOIN customers c ON c."slot" = p."slot"
    """
    return sql, params


def _tallies(cursor, sql: str, params: Params) -> dict[int, Tally]:
    cursor.execute(sql, params)
    tallies: dict[int, Tally] = {}
    for slot, dpd, delinquent, loans, outstanding, principal, *ids, customers in cursor.fetchall():
        tally = tallies.setdefault(slot, Tally())
        tally.bands[(dpd, delinquent)] = [loans, outstanding, principal]
        tally.delinquent_customers = customers
        if ids and ids[0]:
            tally.late_loans[(dpd, delinquent)] = ids[0]
    return tallies


def _cursor(using: str | None):
    """A cursor on ``using``, or on the connection the router picks for reads."""
    return (reading(Loan) if using is None else connections[using]).cursor()


def tallies_as_of(
    dates: Sequence[date],
    *,
    known_at: datetime | None = None,
    count_customers: bool = True,
    by_band: bool = True,
    late_loans: bool = False,
    using: str | None = None,
) -> list[Tally]:
    """Each date's :class:`Tally`, computed from the ledger in one statement: by band of
    days past due, or (``by_band=False``, what a close stores) by day past due, with
    the late loans of each (``late_loans``)."""
    state, params = active_state_sql(dates, known_at, read_twice=count_customers)
    sql, tally_params = _tally_sql(
        state, count_customers=count_customers, by_band=by_band, late_loans=late_loans
    )
    with _cursor(using) as cursor:
        tallies = _tallies(cursor, sql, {**params, **tally_params})
    return [tallies.get(slot, Tally()) for slot in range(len(dates))]


def portfolio_as_of_dates(
    *, dates: Sequence[date], known_at: datetime | None = None, count_customers: bool = True
) -> list[PortfolioFigures]:
    """:func:`portfolio_as_of` for several dates (the admin's trend).

    A closed day (``loans.closing``) is read from its newest close known by
    ``known_at``, corrected by what the ledger learned since; the other dates
    are computed in one statement. ``count_customers=False`` leaves
    ``delinquent_customers`` out (None): the computed dates then come from one
    pass over the loans, which PostgreSQL can split between workers, with no
    row kept aside to count customers.
    """
    closes = closes_of([day for day in dates if day < today()], known_at=known_at)
    tallies = dict(zip(closes, corrected(list(closes.values()), known_at=known_at), strict=True))
    computed = [day for day in dict.fromkeys(dates) if day not in tallies]
    if computed:
        tallies.update(
            zip(
                computed,
                tallies_as_of(computed, known_at=known_at, count_customers=count_customers),
                strict=True,
            )
        )
    buckets = dpd_buckets()
    figures = [_figures(day, buckets, tallies[day]) for day in dates]
    if not count_customers:
        figures = [replace(day, delinquent_customers=None) for day in figures]
    return figures


def _figures(as_of: date, buckets: tuple[Bucket, ...], tally: Tally) -> PortfolioFigures:
    """A date's figures from its tally."""
    bucket_lows = [bucket.low for bucket in buckets]
    per_bucket = [[0, ZERO, ZERO] for _ in range(len(buckets) + 1)]
    at_risk = dict.fromkeys(PAR_DAYS, ZERO)
    delinquent_loans = 0
    for (dpd, delinquent), (loans, outstanding, principal) in tally.bands.items():
        figures = per_bucket[bisect.bisect_right(bucket_lows, dpd)]
        figures[0] += loans
        figures[1] += outstanding
        figures[2] += principal
        for days in PAR_DAYS:
            if dpd > days:
                at_risk[days] += principal
        delinquent_loans += loans if delinquent else 0
    principal = sum((figures[2] for figures in per_bucket), ZERO)
    return PortfolioFigures(
        as_of=as_of,
        active_loans=sum(figures[0] for figures in per_bucket),
        gross_outstanding=sum((figures[1] for figures in per_bucket), ZERO),
        outstanding_principal=principal,
        par={str(days): ratio(at_risk[days], principal) for days in PAR_DAYS},
        buckets=[
            BucketFigures(name, *figures)
            for name, figures in zip(bucket_names(buckets), per_bucket, strict=True)
        ],
        delinquent_loans=delinquent_loans,
        delinquent_customers=tally.delinquent_customers,
    )


def _compiled(expression, params: Params) -> str:
    """``expression``'s SQL, its parameters added to ``params``."""
    text, expression_params = expressions.sql(expression)
    params.update(expression_params)
    return text


# --- closed days: stored figures, corrected by what the ledger learned since ---------

# Bumped when the arithmetic behind a close changes: closes of other rules are not read.
CLOSE_RULES = 1


@dataclass
class Close:
    """A stored close (``PortfolioClose``): its day, knowledge and figures."""

    day: date
    known_at: datetime
    tally: Tally
    collection: DayCollection
    id: int | None = None


@dataclass
class DayCollection:
    """One day's collection: instalments due on it, the part paid by its end, and
    everything paid on it."""

    due: Decimal = ZERO
    on_time: Decimal = ZERO
    collected: Decimal = ZERO

    def add(self, other: DayCollection, sign: int = 1) -> None:
        self.due += sign * other.due
        self.on_time += sign * other.on_time
        self.collected += sign * other.collected


def _upto(known_at: datetime | None) -> datetime | str:
    """``known_at`` as a bound parameter, ``infinity`` for now (every row recorded)."""
    return "infinity" if known_at is None else known_at


def closes_of(
    days: Sequence[date], *, known_at: datetime | None = None, bands: bool = True
) -> dict[date, Close]:
    """The newest close of each of ``days`` known by ``known_at`` (None: now), in this
    time zone and under these rules, its days past due summed by band (``bands``;
    else left out, for the collection figures); one query."""
    if not days:
        return {}
    close_table = PortfolioClose._meta.db_table
    band_table = PortfolioCloseBand._meta.db_table
    newest = f"""
    SELECT DISTINCT ON ("day") * FROM "{close_table}"
    WHERE "day" = ANY(%(days)s::date[]) AND "time_zone" = %(tz)s AND "rules" = %(rules)s
      AND "known_at" <= %(upto)s::timestamptz
    ORDER BY "day", "known_at" DESC"""
    close_columns = (
        'c."day", c."known_at", c."delinquent_customers", c."due_amount", '
        'c."collected_on_time", c."collected"'
    )
    if bands:
        sql = f"""
        SELECT {close_columns}, {_band_of('b."days_past_due"')}, b."delinquent",
               SUM(b."loans"), SUM(b."outstanding"), SUM(b."outstanding_principal")
        FROM ({newest}) c LEFT JOIN "{band_table}" b ON b."close_id" = c."id"
        GROUP BY {close_columns}, 7, 8
        """
    else:
        sql = f"SELECT {close_columns}, NULL, NULL, NULL, NULL, NULL FROM ({newest}) c"
    params = {
        "days": sorted(set(days)),
        "tz": timezone.get_current_timezone_name(),
        "rules": CLOSE_RULES,
        "upto": _upto(known_at),
        "lows": _band_lows(),
    }
    closes: dict[date, Close] = {}
    with reading(Loan).cursor() as cursor:
        cursor.execute(sql, params)
        for day, closed_known_at, customers, due, on_time, collected, *band in cursor.fetchall():
            close = closes.get(day)
            if close is None:
                close = closes[day] = Close(
                    day,
                    closed_known_at,
                    Tally(delinquent_customers=customers),
                    DayCollection(due, on_time, collected),
                )
            dpd, delinquent, loans, outstanding, principal = band
            if loans is not None:
                close.tally.bands[(dpd, delinquent)] = [loans, outstanding, principal]
    return closes


def _changed_sql(closes: Sequence[Close], known_at: datetime | None) -> tuple[str, Params]:
    """``changed``: the customers whose figures as of a closed day may differ between the
    close's knowledge and ``known_at``: a loan of theirs was activated, or a payment
    detail of theirs written or superseded, since the earliest close, with a value
    date before the latest closed day ended. Every other customer's loans stand as
    closed; a customer's figures add up over their loans."""
    detail = (
        f'SELECT l."customer_id" FROM "{DETAIL_TABLE}" d '
        f'JOIN "{LOAN_TABLE}" l ON l."id" = d."loan_id"'
    )
    sql = f"""
    changed AS (
        SELECT l."customer_id" FROM "{LOAN_TABLE}" l
        WHERE l."activated_at" > %(changed_since)s
          AND l."activated_at" <= %(changed_upto)s::timestamptz
          AND l."taken_at" < %(changed_until)s
        UNION
        {detail} WHERE d."recorded_at" > %(changed_since)s
          AND d."recorded_at" <= %(changed_upto)s::timestamptz AND d."paid_at" < %(changed_until)s
        UNION
        {detail} WHERE d."superseded_at" > %(changed_since)s
          AND d."superseded_at" <= %(changed_upto)s::timestamptz AND d."paid_at" < %(changed_until)s
    )"""
    params = {
        "changed_since": min(close.known_at for close in closes),
        "changed_upto": _upto(known_at),
        "changed_until": day_start(max(close.day for close in closes) + timedelta(days=1)),
    }
    return sql, params


def _slots(closes: Sequence[Close], known_at: datetime | None) -> tuple[str, Params]:
    """``slots``: two per close, ``2i`` as known at ``known_at`` and ``2i + 1`` as the
    close knew it (:func:`_slots_sql`)."""
    return _slots_sql(
        [
            entry
            for index, close in enumerate(closes)
            for entry in (
                (2 * index, close.day, _upto(known_at)),
                (2 * index + 1, close.day, close.known_at),
            )
        ]
    )


def _slots_sql(entries: Sequence[tuple[int, date, datetime | str]]) -> tuple[str, Params]:
    """``slots``: one row ``(slot, as_of, start, end, known)`` per ``(slot, day, known)``,
    with the day's bounds."""
    values, params = [], {}
    for slot, day, known in entries:
        values.append(
            f"({slot}, %(slot_day_{slot})s::date, %(slot_start_{slot})s::timestamptz, "
            f"%(slot_end_{slot})s::timestamptz, %(slot_known_{slot})s::timestamptz)"
        )
        params.update(
            {
                f"slot_day_{slot}": day,
                f"slot_start_{slot}": day_start(day),
                f"slot_end_{slot}": day_start(day + timedelta(days=1)),
                f"slot_known_{slot}": known,
            }
        )
    sql = (
        f"slots AS (SELECT * FROM (VALUES {', '.join(values)}) "
        'AS v("slot", "as_of", "start", "end", "known"))'
    )
    return sql, params


def _paid_by_slot(loan: str, slot: str) -> str:
    """What loan ``loan`` had been paid before slot ``slot``'s end, as its ``known`` knew."""
    known = f'{slot}."known"'
    return (
        f'(SELECT COALESCE(SUM(d."amount"), 0) FROM "{DETAIL_TABLE}" d '
        f'WHERE d."loan_id" = {loan}."id" AND d."paid_at" < {slot}."end" '
        f"AND {in_force_sql('d', known)})"
    )


# The ``book`` of the changed customers' loans (``changed``), once per slot of ``slots``,
# with what each had been paid by the slot's end as its ``known`` knew.
_CHANGED_BOOK = (
    f'SELECT {_BOOK_COLUMNS}, v."slot", v."as_of", p."paid", TRUE AS "rewound" '
    f'FROM "{LOAN_TABLE}" l JOIN slots v ON l."activated_at" <= v."known" '
    f'AND l."taken_at" < v."end" CROSS JOIN LATERAL (SELECT {_paid_by_slot("l", "v")} '
    'AS "paid") p '
    'WHERE l."customer_id" IN (SELECT "customer_id" FROM changed) OFFSET 0'
)


def corrected(closes: Sequence[Close], *, known_at: datetime | None = None) -> list[Tally]:
    """Each close's tally as known at ``known_at``: the close, less its changed customers'
    loans as the close knew them, plus the same loans as known at ``known_at``. One
    statement, over the changed customers' loans only."""
    if not closes:
        return []
    changed, params = _changed_sql(closes, known_at)
    slots, slot_params = _slots(closes, known_at)
    stages, stage_params = _stages(_CHANGED_BOOK, read_twice=True, computed=True)
    sql, tally_params = _tally_sql(f"{changed}, {slots}, {stages}", count_customers=True)
    with reading(Loan).cursor() as cursor:
        tallies = _tallies(cursor, sql, {**params, **slot_params, **stage_params, **tally_params})
    result = []
    for index, close in enumerate(closes):
        bands = {key: list(values) for key, values in close.tally.bands.items()}
        tally = Tally(bands, close.tally.delinquent_customers)
        tally.add(tallies.get(2 * index, Tally()))
        tally.add(tallies.get(2 * index + 1, Tally()), sign=-1)
        result.append(tally)
    return result


# --- collection ----------------------------------------------------------------------


def portfolio_collection(
    *, period_from: date, period_to: date, as_of: date, known_at: datetime | None = None
) -> CollectionFigures:
    """On-time collection over ``period_from``..``period_to`` (on or before ``as_of``).

    Every figure is a sum over the period's days (:func:`collection_by_day`):
    a closed day's come from its close, corrected by what the ledger learned
    since; the other days' are computed from the ledger in one statement, or,
    from today on as known now, from the loans (:func:`collection_from_today`).
    """
    days = [period_from + timedelta(days=n) for n in range((period_to - period_from).days + 1)]
    closes = closes_of([day for day in days if day < today()], known_at=known_at, bands=False)
    by_day = dict(
        zip(closes, corrected_collection(list(closes.values()), known_at=known_at), strict=True)
    )
    computed = [day for day in days if day not in by_day]
    # Known now, from today on, what a loan had been paid by a day's end is its paid_amount.
    ahead = [day for day in computed if day >= today()] if known_at is None else []
    past = computed[: len(computed) - len(ahead)]
    if past:
        found = collection_by_day(
            period_from=past[0], period_to=past[-1], as_of=as_of, known_at=known_at
        )
        by_day.update({day: found.get(day, DayCollection()) for day in past})
    if ahead:
        found = collection_from_today(period_from=ahead[0], period_to=ahead[-1])
        by_day.update({day: found.get(day, DayCollection()) for day in ahead})
    total = DayCollection()
    for day in days:
        total.add(by_day[day])
    return CollectionFigures(
        total.due, total.on_time, total.collected, ratio(total.on_time, total.due)
    )


def _start_dates_due_in(period_from: date, period_to: date) -> list[date] | None:
    """The start dates of loans with an instalment due in the period, when the period is
    shorter than a week (else None: every start date is)."""
    span = (period_to - period_from).days
    if span >= DAYS_IN_WEEK - 1:
        return None
    starts = []
    for weeks in range(1, MAX_TERM_WEEKS + 1):
        for back in range(span + 1):
            try:
                starts.append(period_from + timedelta(days=back - DAYS_IN_WEEK * weeks))
            except OverflowError:
                continue
    return starts


def collection_by_day(
    *,
    period_from: date,
    period_to: date,
    as_of: date,
    known_at: datetime | None = None,
    using: str | None = None,
) -> dict[date, DayCollection]:
    """Each day's :class:`DayCollection` over ``period_from``..``period_to``, from the ledger.

    The instalments due in the period are generated from each loan's terms
    (``generate_series`` over the instalment numbers whose due date falls in
    it). The part of instalment *k* paid by the end of its due date is
    ``paid before the period + paid in the period up to that day − the
    instalments before k``, between 0 and its amount; the running sum is a
    window over the loan's payments and instalments in date order (a payment
    on the due date itself is on time).
    """
    paid = paid_before_sql(_start_of(period_from), name="base", known_at=known_at)
    activated, activated_params = _activated_by(as_of, "activated_before")
    activated_sql, activated_sql_params = _activated(known_at)
    rows, row_params = detail_rows_sql(known_at)
    starts = _start_dates_due_in(period_from, period_to)
    due_in_period = 'AND l."start_date" = ANY(%(starts)s::date[])' if starts is not None else ""
    # Instalment k of loan b, for k from the first due on or after period_from
    # to the last due on or before period_to.
    due_params: Params = {}
    due_day, due_amount, due_earlier, first_due, last_due = _instalments_due(
        expressions.columns("b", start="start"), due_params, since=period_from, until=period_to
    )
    paid_to_it = _compiled(_on_time_share('r."base" + r."paid_so_far"'), due_params)
    end = _end_of(period_to)
    period_end = 'AND r."paid_at" < %(period_end)s' if end is not None else ""
    sql = f"""
    WITH book AS (
        SELECT l."id", l."term_weeks", l."total_amount", l."installment_amount",
               {_START} AS "start", {paid.expr} AS "base"
        FROM "{LOAN_TABLE}" l {paid.join}
        WHERE {activated_sql} AND {activated} {due_in_period}
    ),
    due AS (
        SELECT b."id" AS "loan_id", {due_day} AS "day", {due_amount} AS "amount",
               {due_earlier} AS "before", b."base"
        FROM book b CROSS JOIN LATERAL generate_series({first_due}, {last_due}) AS k
    ),
    paid AS (
        SELECT r."loan_id", (r."paid_at" AT TIME ZONE %(tz)s)::date AS "day", r."amount"
        FROM ({rows}) r
        WHERE r."paid_at" >= %(period_start)s {period_end}
    ),
    events AS (
        SELECT p."loan_id", p."day", 0 AS "kind", p."amount" AS "paid",
               NULL::numeric AS "amount", NULL::numeric AS "before", NULL::numeric AS "base"
        FROM paid p
        UNION ALL
        SELECT d."loan_id", d."day", 1, 0, d."amount", d."before", d."base" FROM due d
    ),
    running AS (
        SELECT e.*, SUM(e."paid") OVER (
            PARTITION BY e."loan_id" ORDER BY e."day", e."kind"
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "paid_so_far"
        FROM events e
    )
    SELECT r."day", SUM(r."amount"), SUM({paid_to_it}), 0
    FROM running r WHERE r."kind" = 1 GROUP BY 1
    UNION ALL
    SELECT p."day", 0, 0, SUM(p."amount") FROM paid p GROUP BY 1
    """
    params = {
        **due_params,
        **paid.params,
        **activated_params,
        **activated_sql_params,
        **row_params,
        "tz": timezone.get_current_timezone_name(),
        "period_start": day_start(period_from),
        "period_end": end,
        "starts": starts,
    }
    return _day_collections(_cursor(using), sql, params)


def collection_from_today(*, period_from: date, period_to: date) -> dict[date, DayCollection]:
    """:func:`collection_by_day` for days from today on, as known now: what a loan had been
    paid by the end of such a day is everything paid to it so far (``paid_amount``), so
    the instalments due then need no payment read; one pass over the loans."""
    params: Params = {}
    due_day, due_amount, due_earlier, first_due, last_due = _instalments_due(
        expressions.columns("l"), params, since=period_from, until=period_to
    )
    paid_to_it = _compiled(
        _on_time_share('l."paid_amount"', earlier=due_earlier, amount=due_amount), params
    )
    rows, row_params = detail_rows_sql()
    end = _end_of(period_to)
    period_end = 'AND r."paid_at" < %(period_end)s' if end is not None else ""
    sql = f"""
    SELECT {due_day}, SUM({due_amount}), SUM({paid_to_it}), 0
    FROM "{LOAN_TABLE}" l CROSS JOIN LATERAL generate_series({first_due}, {last_due}) AS k
    WHERE l."activated_at" IS NOT NULL AND {first_due} <= {last_due}
    GROUP BY 1
    UNION ALL
    SELECT (r."paid_at" AT TIME ZONE %(tz)s)::date, 0, 0, SUM(r."amount")
    FROM ({rows}) r
    WHERE r."paid_at" >= %(period_start)s {period_end}
    GROUP BY 1
    """
    params.update(
        row_params,
        tz=timezone.get_current_timezone_name(),
        period_start=day_start(period_from),
        period_end=end,
    )
    return _day_collections(reading(Loan).cursor(), sql, params)


def _on_time_share(paid_sql: str, *, earlier: str = 'r."before"', amount: str = 'r."amount"'):
    """What ``paid_sql`` (paid by the end of the due date) leaves for the instalment of
    ``amount`` after the ``earlier`` ones (SQL of the statement's own columns)."""
    return expressions.paid_to_installment(
        paid=expressions.Column(paid_sql, MONEY),
        earlier=expressions.Column(earlier, MONEY),
        amount=expressions.Column(amount, MONEY),
    )


def _instalments_due(
    book: expressions.LoanTerms, params: Params, *, since, until
) -> tuple[str, str, str, str, str]:
    """SQL for instalment ``k`` (a column) of loan ``book``: its due date, its amount and
    what the instalments before it add up to; and the first and the last ``k`` due
    from day ``since`` to day ``until`` (dates, or date columns), for
    ``generate_series``. Parameters are added to ``params``."""
    number = expressions.Column("k", INTEGER)
    if not isinstance(until, Expression):
        until = Value(until)
    return tuple(
        _compiled(expression, params)
        for expression in (
            expressions.due_date(book.start_date, number),
            expressions.installment(book, number),
            expressions.cumulative_due(book, number - 1),
            expressions.due_before(book, since) + 1,
            # Due strictly before the day after (added in SQL: no Python date follows 9999-12-31).
            expressions.due_before(book, expressions.PlusDays(until, Value(1))),
        )
    )


def _day_collections(cursor, sql: str, params: Params) -> dict:
    """Rows ``(key, due, on time, collected)`` added up per key."""
    found: dict = {}
    with cursor:
        cursor.execute(sql, params)
        for day, due, on_time, collected in cursor.fetchall():
            found.setdefault(day, DayCollection()).add(
                DayCollection(due or ZERO, on_time or ZERO, collected or ZERO)
            )
    return found


def corrected_collection(
    closes: Sequence[Close], *, known_at: datetime | None = None
) -> list[DayCollection]:
    """Each close's collection as known at ``known_at``, corrected as :func:`corrected`
    corrects its tally: over the changed customers' loans, in one statement."""
    if not closes:
        return []
    changed, params = _changed_sql(closes, known_at)
    slots, slot_params = _slots(closes, known_at)
    day = expressions.Column('b."as_of"', DateField())
    _, due_amount, due_earlier, first_due, last_due = _instalments_due(
        expressions.columns("b", start="start"), params, since=day, until=day
    )
    paid_to_it = _compiled(_on_time_share('r."paid"'), params)
    sql = f"""
    WITH {changed}, {slots},
    loans AS (SELECT l.* FROM "{LOAN_TABLE}" l
              WHERE l."customer_id" IN (SELECT "customer_id" FROM changed)),
    book AS (
        SELECT l."id", l."term_weeks", l."total_amount", l."installment_amount",
               {_START} AS "start", v."slot", v."as_of", v."end", v."known"
        FROM loans l JOIN slots v ON l."activated_at" <= v."known" AND l."taken_at" < v."end"
    ),
    due AS (
        SELECT b."slot", {due_amount} AS "amount", {due_earlier} AS "before",
               {_paid_by_slot("b", "b")} AS "paid"
        FROM book b CROSS JOIN LATERAL generate_series({first_due}, {last_due}) AS k
    )
    SELECT r."slot", SUM(r."amount"), SUM({paid_to_it}), 0 FROM due r GROUP BY 1
    UNION ALL
    SELECT v."slot", 0, 0, SUM(d."amount")
    FROM loans l CROSS JOIN LATERAL (
        SELECT d.* FROM "{DETAIL_TABLE}" d WHERE d."loan_id" = l."id") d
    JOIN slots v ON v."as_of" = (d."paid_at" AT TIME ZONE %(tz)s)::date
    WHERE {in_force_sql("d", 'v."known"')}
    GROUP BY 1
    """
    params["tz"] = timezone.get_current_timezone_name()
    found = _day_collections(reading(Loan).cursor(), sql, {**params, **slot_params})
    result = []
    for index, close in enumerate(closes):
        day = DayCollection(
            close.collection.due, close.collection.on_time, close.collection.collected
        )
        day.add(found.get(2 * index, DayCollection()))
        day.add(found.get(2 * index + 1, DayCollection()), sign=-1)
        result.append(day)
    return result


def portfolio_get(
    *,
    as_of: date,
    period_from: date | None = None,
    period_to: date | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """``GET /api/portfolio``'s answer: the as-of figures, and the collection figures of
    ``period_from``..``period_to`` when given (else None), as known at ``known_at``."""
    figures = portfolio_as_of(as_of=as_of, known_at=known_at)
    collection = None
    if period_from is not None and period_to is not None:
        collection = portfolio_collection(
            period_from=period_from, period_to=period_to, as_of=as_of, known_at=known_at
        )
    return {
        **vars(figures),
        "period_from": period_from if collection else None,
        "period_to": period_to if collection else None,
        "collection": collection,
    }


# --- the loan lists' bucket and days-past-due filters ---------------------------------


def bucket_range(name: str, buckets: tuple[Bucket, ...] | None = None) -> tuple[int, int | None]:
    """The days-past-due range of a bucket name (``current`` is 0..0); KeyError if unknown."""
    buckets = dpd_buckets() if buckets is None else buckets
    if name == CURRENT:
        return 0, 0
    for bucket in buckets:
        if bucket.name == name:
            return bucket.low, bucket.high
    raise KeyError(name)


_NAMED = re.compile(r"%\((\w+)\)s")


def _positional(sql: str, params: Params) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def take(match: re.Match) -> str:
        values.append(params[match.group(1)])
        return "%s"

    return _NAMED.sub(take, sql), values


def filter_loans_by_dpd(
    queryset: QuerySet[Loan],
    *,
    as_of: date,
    dpd_min: int | None,
    dpd_max: int | None,
    known_at: datetime | None = None,
) -> QuerySet[Loan]:
    """The loans of ``queryset`` active as of ``as_of`` (as known at ``known_at``) with days
    past due in ``dpd_min``..``dpd_max`` (either may be None: no bound). One subquery.

    Late loans only (``dpd_min`` ≥ 1) of a closed day come from its close (the ids
    it keeps per day past due), corrected for the customers changed since; any
    other question is computed from the ledger.
    """
    conditions = ["TRUE"]
    params: Params = {}
    if dpd_min is not None:
        conditions.append('s."dpd" >= %(dpd_min)s')
        params["dpd_min"] = dpd_min
    if dpd_max is not None:
        conditions.append('s."dpd" <= %(dpd_max)s')
        params["dpd_max"] = dpd_max
    in_range = " AND ".join(conditions)
    close = None
    if dpd_min is not None and dpd_min >= 1 and as_of < today():
        close = _newest_close(as_of, known_at)
    if close is None:
        state, state_params = active_state_sql([as_of], known_at)
        sql = f'WITH {state} SELECT s."id" FROM state s WHERE {in_range}'
    else:
        changed, state_params = _changed_sql([close], known_at)
        slots, slot_params = _slots_sql([(0, close.day, _upto(known_at))])
        stages, stage_params = _stages(_CHANGED_BOOK, read_twice=False, computed=True)
        state_params.update({**slot_params, **stage_params, "close_id": close.id})
        band_table = PortfolioCloseBand._meta.db_table
        bands_in_range = in_range.replace('s."dpd"', 'b."days_past_due"')
        sql = f"""WITH {changed}, {slots}, {stages}
        SELECT x."id" FROM (
            SELECT unnest(b."loan_ids") AS "id" FROM "{band_table}" b
            WHERE b."close_id" = %(close_id)s AND {bands_in_range}
        ) x
        WHERE x."id" NOT IN (
            SELECT l."id" FROM "{LOAN_TABLE}" l
            WHERE l."customer_id" IN (SELECT "customer_id" FROM changed)
        )
        UNION ALL
        SELECT s."id" FROM state s WHERE {in_range}"""
    # Identifiers come from the models; every value is a bound parameter.
    ids = RawSQL(*_positional(sql, {**params, **state_params}))  # noqa: S611
    return queryset.filter(_IdAmong(F("id"), ids))


class _IdAmong(Func):
    """``id = ANY(ARRAY(subquery))``: PostgreSQL finds the ids in one scan of the
    primary key's index, where ``id IN (subquery)`` joins and looks each id up
    alone (3–4× slower for the 300,000 loans of a bucket at 1,000,000 loans)."""

    arity = 2
    arg_joiner = " = ANY(ARRAY("
    template = "%(expressions)s))"
    output_field = BooleanField()


def _newest_close(day: date, known_at: datetime | None) -> Close | None:
    """The newest close of ``day`` known by ``known_at`` (None: now), without its figures."""
    row = (
        PortfolioClose.objects.filter(
            day=day,
            time_zone=timezone.get_current_timezone_name(),
            rules=CLOSE_RULES,
            **({} if known_at is None else {"known_at__lte": known_at}),
        )
        .order_by("-known_at")
        .values_list("id", "known_at")
        .first()
    )
    if row is None:
        return None
    close_id, closed_known_at = row
    return Close(day, closed_known_at, Tally(), DayCollection(), id=close_id)


# --- one loan's arrears history -----------------------------------------------------


def loan_value_payments(
    *, loan: Loan, known_at: datetime | None = None
) -> list[tuple[date, Decimal]]:
    """What was paid to the loan, as ``(local value date, amount)`` in value order,
    as the ledger stood at ``known_at`` (None: now)."""
    rows = (
        visible_details(PaymentDetail.objects.filter(loan=loan), known_at)
        .order_by("paid_at", "id")
        .values_list("paid_at", "amount")
    )
    return [(timezone.localdate(paid_at), amount) for paid_at, amount in rows]


def loan_arrears(
    *, loan: Loan, as_of: date | None = None, known_at: datetime | None = None
) -> list[ArrearsPeriod]:
    """The loan's arrears periods up to ``as_of`` (default today), from its payments,
    as known at ``known_at`` (None: now)."""
    as_of = as_of or today()
    if loan.activated_at is None or (known_at is not None and loan.activated_at > known_at):
        return []
    return arrears_periods(
        terms=loan.terms,
        start=loan.start_date,
        payments=loan_value_payments(loan=loan, known_at=known_at),
        up_to=as_of,
    )
