"""Portfolio risk reads, set-based: one SQL statement per question, whatever the book's size.

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
* :func:`loan_value_payments`: one loan's payments, for its arrears history.

SQL is written with named ``%(name)s`` parameters; :func:`_positional` turns a
statement into Django's positional form where it is embedded in a queryset.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Case, DateField, QuerySet, Value, When
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
from loans import expressions
from loans.expressions import INTEGER, MONEY
from loans.models import Loan
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
    return (
        f'{rows} WHERE d."recorded_at" <= %(known_at)s '
        f'AND (d."superseded_at" IS NULL OR d."superseded_at" > %(known_at)s)',
        {"known_at": known_at},
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


def active_state_sql(
    dates: Sequence[date], known_at: datetime | None = None, *, read_twice: bool = False
) -> tuple[str, Params]:
    """``WITH`` clauses ending in ``state``: one row per loan active as of each date.

    Columns: ``as_of``, ``id``, ``customer_id``, ``outstanding``, ``principal``,
    ``missed`` and ``dpd``, each built by ``loans/expressions.py`` (the SQL twins
    of ``billing.state.loan_state`` and ``billing.portfolio.outstanding_principal``).
    A loan's figures as of today, as known now, are its stored ones
    (``paid_installments``, ``outstanding_principal``); for another date they are
    computed from what it had been paid then, unless no later payment changed it.

    Several dates share one scan of the loans and of the later payments.

    ``read_twice``: the statement reads ``state`` twice. When a loan's state is
    its stored columns, it is cheaper to scan the loans twice, in parallel,
    than to write every row aside; when it takes a join to the ledger, the rows
    are computed once and kept (``MATERIALIZED``).
    """
    paid = paid_as_of_sql(dates, known_at=known_at)
    kept = "MATERIALIZED" if paid.join else "NOT MATERIALIZED"
    activated_sql, activated_sql_params = _activated(known_at)
    params: Params = {**paid.params, **activated_sql_params}
    columns = (
        'l."id", l."customer_id", l."amount", l."total_amount", l."installment_amount", '
        f'l."term_weeks", {_START} AS "start", l."paid_installments" AS "stored_fully_paid", '
        'l."outstanding_principal" AS "stored_principal"'
    )
    if len(dates) == 1:
        activated, activated_params = _activated_by(dates[0], "activated_before_0")
        params.update(activated_params, as_of_0=dates[0])
        book = (
            f'SELECT {columns}, %(as_of_0)s::date AS "as_of", {paid.expr} AS "paid", '
            f'{paid.rewound[0]} AS "rewound" '
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
            values.append(f"(%(as_of_{index})s::date, {expr}, {rewound}, {activated})")
        book = (
            f'SELECT {columns}, v."as_of", v."paid", v."rewound" FROM "{LOAN_TABLE}" l '
            f"{paid.join} CROSS JOIN LATERAL (VALUES {', '.join(values)}) "
            'AS v("as_of", "paid", "rewound", "activated") '
            f'WHERE {activated_sql} AND v."activated"'
        )
    if paid.join:
        # Computed once per row: "paid" (a join and a subtraction) is read five times
        # below, and an inlined subquery would repeat it each time.
        book += " OFFSET 0"
    active_columns, state_columns, figure_params = _state_expressions()
    params.update(figure_params)
    sql = f"""
    book AS ({book}),
    active AS (
        SELECT b."as_of", b."id", b."customer_id", b."start", {active_columns}
        FROM book b
        WHERE b."paid" < b."total_amount"
    ),
    state AS {kept if read_twice else ""} (
        SELECT a."as_of", a."id", a."customer_id", a."outstanding", a."principal",
               {state_columns}
        FROM active a
    )"""
    return sql, params


def portfolio_as_of(*, as_of: date, known_at: datetime | None = None) -> PortfolioFigures:
    """Every as-of figure of ``GET /api/portfolio``, in one statement."""
    (figures,) = portfolio_as_of_dates(dates=[as_of], known_at=known_at)
    return figures


def _band_lows(buckets: tuple[Bucket, ...]) -> list[int]:
    """The first day of every band of days past due: each bucket's first day, and the
    day after each PAR threshold. A band lies within one bucket and wholly on one side
    of every threshold, so buckets and PAR numerators are exact sums of bands."""
    return sorted({bucket.low for bucket in buckets} | {days + 1 for days in PAR_DAYS})


def portfolio_as_of_dates(
    *, dates: Sequence[date], known_at: datetime | None = None, count_customers: bool = True
) -> list[PortfolioFigures]:
    """:func:`portfolio_as_of` for several dates in one statement (the admin's trend).

    ``count_customers=False`` leaves ``delinquent_customers`` out (None): every other
    figure then comes from one pass over the loans, which PostgreSQL can split
    between workers, with no row kept aside to count customers.
    """
    buckets = dpd_buckets()
    lows = _band_lows(buckets)
    state, params = active_state_sql(dates, known_at, read_twice=count_customers)
    delinquent, delinquent_params = expressions.sql(
        expressions.is_delinquent(expressions.Column('s."missed"', INTEGER))
    )
    params.update(delinquent_params)
    # One row per date, band of days past due (0: current, i: from lows[i - 1]) and
    # delinquency, with its loans, outstanding and principal: two sums a loan; and,
    # counted apart, the delinquent customers of each date.
    per_band = f"""
    per_band AS (
        SELECT s."as_of", width_bucket(s."dpd", %(lows)s::int[]) AS "band",
               {delinquent} AS "delinquent", COUNT(*) AS "n",
               SUM(s."outstanding") AS "outstanding", SUM(s."principal") AS "principal"
        FROM state s
        GROUP BY 1, 2, 3
    )"""
    customers = f"""
    customers AS (
        SELECT d."as_of", COUNT(*) AS "n"
        FROM (SELECT s."as_of", s."customer_id" FROM state s WHERE {delinquent} GROUP BY 1, 2) d
        GROUP BY 1
    )"""
    if count_customers:
        sql = f"""WITH {state}, {per_band}, {customers}
    SELECT p.*, COALESCE(c."n", 0) FROM per_band p LEFT JOIN customers c ON c."as_of" = p."as_of"
    """
    else:
        sql = f"WITH {state}, {per_band} SELECT p.*, NULL FROM per_band p"
    params["lows"] = lows
    rows: dict[date, list[tuple]] = {}
    with reading(Loan).cursor() as cursor:
        cursor.execute(sql, params)
        for day, *values in cursor.fetchall():
            rows.setdefault(day, []).append(tuple(values))
    figures = [_figures(day, buckets, lows, rows.get(day, [])) for day in dates]
    if not count_customers:
        figures = [replace(day, delinquent_customers=None) for day in figures]
    return figures


def _figures(
    as_of: date, buckets: tuple[Bucket, ...], lows: list[int], rows: list[tuple]
) -> PortfolioFigures:
    """A date's figures from its rows ``(band, delinquent, loans, outstanding, principal,
    delinquent customers)``."""
    bucket_lows = [bucket.low for bucket in buckets]
    per_bucket = [[0, ZERO, ZERO] for _ in range(len(buckets) + 1)]
    at_risk = dict.fromkeys(PAR_DAYS, ZERO)
    delinquent_loans = delinquent_customers = 0
    for band, delinquent, loans, outstanding, principal, customers in rows:
        low = lows[band - 1] if band else 0
        figures = per_bucket[bisect.bisect_right(bucket_lows, low)]
        figures[0] += loans
        figures[1] += outstanding
        figures[2] += principal
        for days in PAR_DAYS:
            if low > days:
                at_risk[days] += principal
        delinquent_loans += loans if delinquent else 0
        delinquent_customers = customers
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
        delinquent_customers=delinquent_customers,
    )


def _compiled(expression, params: Params) -> str:
    """``expression``'s SQL, its parameters added to ``params``."""
    text, expression_params = expressions.sql(expression)
    params.update(expression_params)
    return text


def portfolio_collection(
    *, period_from: date, period_to: date, as_of: date, known_at: datetime | None = None
) -> CollectionFigures:
    """On-time collection over ``period_from``..``period_to`` (on or before ``as_of``).

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
    # Instalment k of loan b, for k from the first due on or after period_from
    # to the last due on or before period_to.
    book = expressions.columns("b", start="start")
    number = expressions.Column("k", INTEGER)
    due_params: Params = {}
    due_day, due_amount, due_earlier, first_due, last_due = (
        _compiled(expression, due_params)
        for expression in (
            expressions.due_date(book.start_date, number),
            expressions.installment(book, number),
            expressions.cumulative_due(book, number - 1),
            expressions.due_before(book, period_from) + 1,
            # Due strictly before the day after (added in SQL: no Python date follows 9999-12-31).
            expressions.due_before(book, expressions.PlusDays(Value(period_to), Value(1))),
        )
    )
    running = expressions.Column('r."base" + r."paid_so_far"', MONEY)
    paid_to_it = _compiled(
        expressions.paid_to_installment(
            paid=running,
            earlier=expressions.Column('r."before"', MONEY),
            amount=expressions.Column('r."amount"', MONEY),
        ),
        due_params,
    )
    end = _end_of(period_to)
    period_end = 'AND r."paid_at" < %(period_end)s' if end is not None else ""
    sql = f"""
    WITH book AS (
        SELECT l."id", l."term_weeks", l."total_amount", l."installment_amount",
               {_START} AS "start", {paid.expr} AS "base"
        FROM "{LOAN_TABLE}" l {paid.join}
        WHERE {activated_sql} AND {activated}
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
    SELECT COALESCE(SUM(r."amount"), 0),
           COALESCE(SUM({paid_to_it}), 0),
           (SELECT COALESCE(SUM(p."amount"), 0) FROM paid p)
    FROM running r
    WHERE r."kind" = 1
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
    }
    with reading(Loan).cursor() as cursor:
        cursor.execute(sql, params)
        due_amount, on_time, collected = cursor.fetchone()
    return CollectionFigures(due_amount, on_time, collected, ratio(on_time, due_amount))


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
    past due in ``dpd_min``..``dpd_max`` (either may be None: no bound). One subquery."""
    state, params = active_state_sql([as_of], known_at)
    conditions = ["TRUE"]
    if dpd_min is not None:
        conditions.append('s."dpd" >= %(dpd_min)s')
        params["dpd_min"] = dpd_min
    if dpd_max is not None:
        conditions.append('s."dpd" <= %(dpd_max)s')
        params["dpd_max"] = dpd_max
    sql = f'WITH {state} SELECT s."id" FROM state s WHERE {" AND ".join(conditions)}'
    # Identifiers come from the models; every value is a bound parameter.
    return queryset.filter(id__in=RawSQL(*_positional(sql, params)))  # noqa: S611


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
