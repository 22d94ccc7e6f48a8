"""Loan reads: billing state on two clocks, schedules, statements, balances, delinquency.

Every read answers for a **clock**: ``as_of``, a local date in value time
(what was owed at the end of that day, counting payments whose ``paid_at``
falls on or before it), and ``known_at``, an instant in recording time (the
answer the service would have given then: only what had been recorded by
then, and each payment's allocation as it stood then). ``known_at=None``
means now, and is the fast path: the ledger rows in force and each loan's
cached ``paid_amount``.

One loan or one customer is computed in Python by ``billing`` from the loan's
terms and what was paid to it. Portfolio-wide questions (which loans or
customers are delinquent, every balance) are answered in SQL over the whole
set: the same arithmetic as ``billing.state``, written as SQL expressions
below, so no question loops over loans in Python. A test holds the two to the
same answers, with back-dated and reversed payments and past ``known_at``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Expression,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from billing.money import MAX_DIGITS, MONEY_PLACES, ZERO
from billing.schedule import due_date
from billing.state import (
    InstallmentState,
    LoanState,
    installment_states,
    loan_state,
)
from customers.models import Customer
from customers.selectors import customer_existing, customer_get
from loans import expressions
from loans.models import OPEN_STATUSES, Installment, Loan
from mo_loans.core.exceptions import NotFoundError
from payments.models import PaymentDetail

MONEY = DecimalField(max_digits=MAX_DIGITS, decimal_places=MONEY_PLACES)
DETAILS = PaymentDetail._meta.db_table
LOANS = Loan._meta.db_table


def today() -> date:
    return timezone.localdate()


def end_of_day(as_of: date) -> datetime:
    """The first instant after local date ``as_of``: payments before it count as of it."""
    if as_of >= date.max - timedelta(days=1):  # no later local day to start
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(
        as_of + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone()
    )


@dataclass(frozen=True)
class Clock:
    """When a read is about: ``as_of`` in value time, ``known_at`` in recording time."""

    as_of: date
    known_at: datetime | None = None  # None: now

    @classmethod
    def of(cls, as_of: date | None = None, known_at: datetime | None = None) -> Clock:
        return cls(as_of or today(), known_at)

    @property
    def until(self) -> datetime:
        return end_of_day(self.as_of)

    @property
    def current(self) -> bool:
        """Today (or later), as known now: the loans' cached totals answer it."""
        return self.known_at is None and self.as_of >= today()

    def knows(self, instant: datetime | None) -> bool:
        """Had something recorded at ``instant`` been recorded by ``known_at``?"""
        return instant is not None and (self.known_at is None or instant <= self.known_at)


# --- the loan's lifecycle on both clocks -----------------------------------------


def loan_status(loan: Loan, clock: Clock) -> int:
    """The loan's status as of ``clock``: pending, active, rejected or (by what it owes) paid.

    Rejection and activation count once recorded (``known_at``); a loan
    rejected after ``as_of`` was still pending then, and one taken after it
    was not active yet.
    """
    if clock.knows(loan.rejected_at) and loan.rejected_at < clock.until:
        return Loan.Status.REJECTED
    if clock.knows(loan.activated_at) and loan.taken_at < clock.until:
        return Loan.Status.ACTIVE
    return Loan.Status.PENDING


def loan_existed(loan: Loan, clock: Clock) -> bool:
    """Did the loan exist by the end of ``as_of`` (created, or taken, by then) as known then?"""
    if not clock.knows(loan.created_at):
        return False
    taken = clock.knows(loan.activated_at) and loan.taken_at < clock.until
    return loan.created_at < clock.until or taken


def loan_as_known(loan: Loan, clock: Clock) -> Loan:
    """The loan as a read at ``clock`` shows it: activation and rejection only once recorded."""
    if clock.knows(loan.activated_at) and clock.knows(loan.rejected_at or loan.activated_at):
        return loan
    shown = copy.copy(loan)
    if not clock.knows(loan.activated_at):
        shown.taken_at = shown.start_date = shown.maximum_payment_date = None
        shown.activated_at = None
    if not clock.knows(loan.rejected_at):
        shown.rejected_at = None
    return shown


# --- what was paid, on both clocks -----------------------------------------------


def visible_details(rows: QuerySet[PaymentDetail], known_at: datetime | None) -> QuerySet:
    """The allocation rows in force at ``known_at`` (None: now)."""
    if known_at is None:
        return rows.filter(superseded_at__isnull=True)
    return rows.filter(recorded_at__lte=known_at).filter(
        Q(superseded_at__isnull=True) | Q(superseded_at__gt=known_at)
    )


def paid_by_loan(
    *, loan_ids: list[int], as_of: date, known_at: datetime | None = None
) -> dict[int, Decimal] | None:
    """What each loan had been paid by the end of ``as_of``, as known at ``known_at``.

    ``None`` for today (or later) as known now: every payment so far counts,
    and each loan's stored ``paid_amount`` already says it.
    """
    clock = Clock(as_of, known_at)
    if clock.current:
        return None
    rows = visible_details(
        PaymentDetail.objects.filter(loan_id__in=loan_ids, paid_at__lt=clock.until), known_at
    )
    return dict(rows.values("loan_id").annotate(paid=Sum("amount")).values_list("loan_id", "paid"))


def _visible_sql(alias: str, known_at: datetime | None) -> tuple[str, list]:
    if known_at is None:
        return f'{alias}."superseded_at" IS NULL', []
    return (
        f'{alias}."recorded_at" <= %s AND ({alias}."superseded_at" IS NULL '
        f'OR {alias}."superseded_at" > %s)',
        [known_at, known_at],
    )


def _paid_by_loan_sql(clock: Clock) -> tuple[str, str, list]:
    """Per loan, one pass over the ledger: ``(subquery, paid expression over l and x, params)``.

    As known now, rewind each loan's ``paid_amount`` by what payments after
    ``as_of`` gave it (one index-only scan of ``payment_detail_paid_at``,
    cheap for recent dates); as known at an earlier instant, add up the rows
    in force then.
    """
    if clock.known_at is None:
        sub = (
            f'SELECT d."loan_id", SUM(d."amount") AS "paid" FROM "{DETAILS}" d '
            f'WHERE d."superseded_at" IS NULL AND d."paid_at" >= %s GROUP BY d."loan_id"'
        )
        return sub, '(l."paid_amount" - COALESCE(x."paid", 0))', [clock.until]
    visible, params = _visible_sql("d", clock.known_at)
    sub = (
        f'SELECT d."loan_id", SUM(d."amount") AS "paid" FROM "{DETAILS}" d '
        f'WHERE {visible} AND d."paid_at" < %s GROUP BY d."loan_id"'
    )
    return sub, 'COALESCE(x."paid", 0)', [*params, clock.until]


def _known_sql(column: str, clock: Clock) -> tuple[str, list]:
    """SQL: had the instant in ``column`` been recorded by ``known_at``?"""
    if clock.known_at is None:
        return f"{column} IS NOT NULL", []
    return f"{column} <= %s", [clock.known_at]


def _sum_per_loan(rows: QuerySet[PaymentDetail]) -> Subquery:
    total = rows.order_by().values("loan").annotate(total=Sum("amount")).values("total")
    return Subquery(total, output_field=MONEY)


def paid_expression(clock: Clock) -> Expression:
    """What a loan (a row of a queryset over ``Loan``) had been paid at ``clock``.

    Today as known now: its ``paid_amount``. Otherwise one correlated sum over
    its ledger rows: the later payments rewound from ``paid_amount`` (as known
    now), or the rows in force at ``known_at`` added up.
    """
    if clock.current:
        return F("paid_amount")
    rows = PaymentDetail.objects.filter(loan=OuterRef("pk"))
    if clock.known_at is None:
        later = visible_details(rows, None).filter(paid_at__gte=clock.until)
        return F("paid_amount") - Coalesce(_sum_per_loan(later), ZERO, output_field=MONEY)
    so_far = visible_details(rows, clock.known_at).filter(paid_at__lt=clock.until)
    return Coalesce(_sum_per_loan(so_far), ZERO, output_field=MONEY)


def missed_installments_sql(as_of: date, known_at: datetime | None = None) -> Expression:
    """SQL twin of ``billing.state.loan_state(...).missed_installments`` (an activated loan).

    Today as known now it reads the loan's stored ``paid_installments``.
    """
    clock = Clock(as_of, known_at)
    if clock.current:
        return expressions.missed_installments_as_of(
            expressions.LOAN, as_of=as_of, fully_paid=F("paid_installments")
        )
    return expressions.missed_installments_as_of(
        expressions.LOAN, as_of=as_of, paid=paid_expression(clock)
    )


def overdue_amount_sql(as_of: date, known_at: datetime | None = None) -> Expression:
    """SQL twin of ``billing.state.loan_state(...).overdue_amount`` (an activated loan)."""
    return expressions.overdue_amount_as_of(
        expressions.LOAN, paid=paid_expression(Clock(as_of, known_at)), as_of=as_of
    )


def _delinquent_ids_sql(clock: Clock) -> RawSQL:
    """The ids of the loans delinquent at ``clock``, set-based.

    What was paid is summed once, in one pass over the ledger, and hash-joined
    to the loans (a correlated subquery per loan would probe an index per
    loan: seconds at 100,000 loans). Same arithmetic, same answer.
    """
    sub, paid, sub_params = _paid_by_loan_sql(clock)
    missed = expressions.missed_installments_as_of(
        expressions.columns("l"), as_of=clock.as_of, paid=expressions.Column(paid, MONEY)
    )
    delinquent, delinquent_params = expressions.sql_positional(expressions.is_delinquent(missed))
    activated, activated_params = _known_sql('l."activated_at"', clock)
    sql = (
        f'SELECT l."id" FROM "{LOANS}" l '
        f'LEFT JOIN ({sub}) x ON x."loan_id" = l."id" '
        f"WHERE {activated} AND {delinquent}"
    )
    params = [*sub_params, *activated_params, *delinquent_params]
    # Identifiers come from the models; every value is a bound parameter.
    return RawSQL(sql, params)  # noqa: S611


def delinquent_loans(
    *, as_of: date, known_at: datetime | None = None, queryset: QuerySet[Loan] | None = None
) -> QuerySet[Loan]:
    queryset = Loan.objects.all() if queryset is None else queryset
    return filter_delinquent_loans(queryset, delinquent=True, as_of=as_of, known_at=known_at)


def filter_existing_loans(queryset: QuerySet[Loan], clock: Clock) -> QuerySet[Loan]:
    """Only loans that existed by the end of ``as_of`` (created or taken by then), as known then."""
    taken = Q(taken_at__lt=clock.until)
    if clock.known_at is None:
        return queryset.filter(Q(created_at__lt=clock.until) | taken)
    taken &= Q(activated_at__lte=clock.known_at)
    return queryset.filter(created_at__lte=clock.known_at).filter(
        Q(created_at__lt=clock.until) | taken
    )


def filter_delinquent_loans(
    queryset: QuerySet[Loan], *, delinquent: bool, as_of: date, known_at: datetime | None = None
) -> QuerySet[Loan]:
    clock = Clock(as_of, known_at)
    if not clock.current:  # what was paid then: set-based over the ledger
        ids = _delinquent_ids_sql(clock)
        return queryset.filter(id__in=ids) if delinquent else queryset.exclude(id__in=ids)
    # Today or later, as known now: arithmetic over each loan's own columns, no subquery.
    now = expressions.is_delinquent(missed_installments_sql(as_of))
    return queryset.filter(now) if delinquent else queryset.exclude(now)


def filter_delinquent_customers(
    queryset: QuerySet[Customer], *, delinquent: bool, as_of: date, known_at: datetime | None = None
) -> QuerySet[Customer]:
    ids = delinquent_loans(as_of=as_of, known_at=known_at).values("customer_id")
    return queryset.filter(id__in=ids) if delinquent else queryset.exclude(id__in=ids)


def portfolio_delinquency(*, as_of: date | None = None, known_at: datetime | None = None) -> dict:
    """How many loans and customers are delinquent as of a date, and what they are overdue."""
    as_of = as_of or today()
    summary = delinquent_loans(as_of=as_of, known_at=known_at).aggregate(
        delinquent_loans=Count("id"),
        delinquent_customers=Count("customer_id", distinct=True),
        overdue_amount=Coalesce(Sum(overdue_amount_sql(as_of, known_at)), ZERO, output_field=MONEY),
    )
    return summary


# --- one loan ----------------------------------------------------------------


def loan_get(*, external_id: str, known_at: datetime | None = None) -> Loan:
    """The loan; 404 when there is none, or there was none yet at ``known_at``."""
    loan = loan_list().filter(external_id=external_id).first()
    if loan is None or (known_at is not None and loan.created_at > known_at):
        raise NotFoundError(f"No loan with external_id '{external_id}'.")
    return loan


def loan_list() -> QuerySet[Loan]:
    """Loans in id order, each with its customer's id as a column (not the customer row)."""
    return Loan.objects.annotate(customer_external_id=F("customer__external_id")).order_by("id")


def _paid(loan: Loan, paid_map: dict[int, Decimal] | None) -> Decimal:
    if paid_map is None:
        return loan.paid_amount
    return paid_map.get(loan.id, ZERO)


def _state(loan: Loan, paid_map: dict[int, Decimal] | None, clock: Clock) -> LoanState:
    status = loan_status(loan, clock)
    if status == Loan.Status.REJECTED:
        return LoanState(clock.as_of, ZERO, ZERO, ZERO, 0, 0, False)
    start = loan.start_date if clock.knows(loan.activated_at) else None
    return loan_state(terms=loan.terms, start=start, paid=_paid(loan, paid_map), as_of=clock.as_of)


def loan_billing_state(
    *, loan: Loan, as_of: date | None = None, known_at: datetime | None = None
) -> LoanState:
    clock = Clock.of(as_of, known_at)
    paid_map = paid_by_loan(loan_ids=[loan.id], as_of=clock.as_of, known_at=known_at)
    return _state(loan, paid_map, clock)


def loan_view(*, loan: Loan, as_of: date | None = None, known_at: datetime | None = None) -> Loan:
    """The loan as a read at this clock shows it, with ``state`` (its billing state) attached.

    ``status`` is the status then: a loan paid off today is active as of
    yesterday; one activated after ``known_at`` is pending as known then.
    """
    (shown,) = loan_views(loans=[loan], as_of=as_of, known_at=known_at)
    if known_at is not None:
        shown.updated_at = _last_change(loan, known_at)
    return shown


def loan_views(
    *, loans: list[Loan], as_of: date | None = None, known_at: datetime | None = None
) -> list[Loan]:
    """:func:`loan_view` for a page of loans: one query at most for all of them."""
    clock = Clock.of(as_of, known_at)
    paid_map = paid_by_loan(
        loan_ids=[loan.id for loan in loans], as_of=clock.as_of, known_at=known_at
    )
    shown = []
    for loan in loans:
        view = copy.copy(loan_as_known(loan, clock))
        view.state = _state(loan, paid_map, clock)
        status = loan_status(loan, clock)
        if status == Loan.Status.ACTIVE and view.state.outstanding == ZERO:
            status = Loan.Status.PAID
        view.status = status
        shown.append(view)
    return shown


def _last_change(loan: Loan, known_at: datetime) -> datetime:
    """When the loan last changed as known at ``known_at``: its lifecycle, or an allocation."""
    rows = PaymentDetail.objects.filter(loan=loan)
    latest = rows.filter(recorded_at__lte=known_at).aggregate(at=Max("recorded_at"))["at"]
    superseded = rows.filter(superseded_at__lte=known_at).aggregate(at=Max("superseded_at"))["at"]
    moments = [loan.created_at, latest, superseded, loan.activated_at, loan.rejected_at]
    return max(moment for moment in moments if moment is not None and moment <= known_at)


def loan_schedule(
    *, loan: Loan, as_of: date | None = None, known_at: datetime | None = None
) -> list[InstallmentState]:
    """The stored instalments with what was paid to each at this clock.

    Due dates are fixed at activation; before it (as known then) they are
    projected from the day of the read.
    """
    clock = Clock.of(as_of, known_at)
    rows = Installment.objects.filter(loan=loan).order_by("number")
    rows = rows.values_list("number", "due_date", "amount")
    activated = clock.knows(loan.activated_at)
    projected_start = timezone.localdate(known_at) if known_at else today()
    installments = [
        (number, due if activated else due_date(projected_start, number), amount)
        for number, due, amount in rows
    ]
    paid = ZERO
    if loan_status(loan, clock) != Loan.Status.REJECTED:
        paid = _paid(loan, paid_by_loan(loan_ids=[loan.id], as_of=clock.as_of, known_at=known_at))
    return installment_states(installments=installments, paid=paid, as_of=clock.as_of)


@dataclass(frozen=True)
class StatementLine:
    """One line of a loan's statement; ``outstanding`` is what the loan owed after it."""

    type: str  # "activation" or "payment"
    amount: Decimal
    outstanding: Decimal
    recorded_at: datetime
    taken_at: datetime | None = None
    paid_at: datetime | None = None
    payment_external_id: str | None = None


def loan_transactions(*, loan: Loan, known_at: datetime | None = None) -> list[StatementLine]:
    """The loan's statement as known at ``known_at``: activation, then allocations in value order.

    A reversed payment is not in it once the reversal is recorded (it is,
    under a ``known_at`` before that).
    """
    clock = Clock.of(None, known_at)
    if not clock.knows(loan.activated_at):
        return []
    lines = [
        StatementLine(
            type="activation",
            amount=loan.total_amount,
            outstanding=loan.total_amount,
            recorded_at=loan.activated_at,
            taken_at=loan.taken_at,
        )
    ]
    rows = visible_details(PaymentDetail.objects.filter(loan=loan), known_at)
    rows = rows.order_by("paid_at", "payment__recorded_at", "payment_id").values_list(
        "amount", "paid_at", "payment__recorded_at", "payment__external_id"
    )
    outstanding = loan.total_amount
    for amount, paid_at, recorded_at, external_id in rows:
        outstanding -= amount
        lines.append(
            StatementLine(
                type="payment",
                amount=amount,
                outstanding=outstanding,
                recorded_at=recorded_at,
                paid_at=paid_at,
                payment_external_id=external_id,
            )
        )
    return lines


# --- customers' balances --------------------------------------------------------


def customer_balance_of(
    *, external_id: str, as_of: date | None = None, known_at: datetime | None = None
) -> dict:
    """:func:`customer_balance` of the customer ``external_id`` (404 as
    ``customer_get``): its loans and the customer in one query, the customer alone
    only when it has no loan."""
    loans = list(
        Loan.objects.select_related("customer")
        .filter(customer__external_id=external_id)
        .order_by("id")
    )
    if not loans:
        customer = customer_get(external_id=external_id, known_at=known_at)
    else:
        customer = customer_existing(loans[0].customer, external_id=external_id, known_at=known_at)
    return customer_balance(customer=customer, loans=loans, as_of=as_of, known_at=known_at)


def customer_balance(
    *,
    customer: Customer,
    loans: list[Loan] | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> dict:
    """``total_debt``, ``available_amount`` and ``is_delinquent`` of one customer at a clock.

    Debt is what the customer's loans that existed by the end of ``as_of``
    (and had not been rejected by then) still owed. ``loans``: all of the
    customer's loans, when the caller has read them already.
    """
    clock = Clock.of(as_of, known_at)
    if loans is None:
        loans = list(Loan.objects.filter(customer=customer))
    loans = [
        loan
        for loan in loans
        if loan_existed(loan, clock) and loan_status(loan, clock) != Loan.Status.REJECTED
    ]
    paid_map = paid_by_loan(
        loan_ids=[loan.id for loan in loans], as_of=clock.as_of, known_at=known_at
    )
    states = [_state(loan, paid_map, clock) for loan in loans]
    total_debt = sum((state.outstanding for state in states), ZERO)
    return {
        "external_id": customer.external_id,
        "score": customer.score,
        "total_debt": total_debt,
        "available_amount": max(ZERO, customer.score - total_debt),
        "is_delinquent": any(state.is_delinquent for state in states),
        "as_of": clock.as_of,
    }


def _debt_expression(clock: Clock) -> Coalesce:
    """Per customer row: what its loans that existed at ``clock`` still owed (correlated)."""
    loans = filter_existing_loans(Loan.objects.filter(customer=OuterRef("pk")), clock)
    not_rejected = Q(rejected_at__isnull=True) | Q(rejected_at__gte=clock.until)
    if clock.known_at is not None:
        not_rejected |= Q(rejected_at__gt=clock.known_at)
    owed = Greatest(
        Value(ZERO),
        expressions.outstanding(expressions.LOAN, paid_expression(clock)),
        output_field=MONEY,
    )
    debt = (
        loans.filter(not_rejected)
        .order_by()
        .annotate(owed=owed)
        .values("customer")
        .annotate(total=Sum("owed"))
        .values("total")
    )
    return Coalesce(Subquery(debt, output_field=MONEY), ZERO, output_field=MONEY)


def customer_balance_list(
    *, as_of: date | None = None, known_at: datetime | None = None
) -> QuerySet[Customer]:
    """Every customer with ``total_debt`` and ``available_amount`` at a clock, as SQL annotations.

    Now, the debt is the sum of the open loans' cached ``outstanding``; at any
    other clock it is rebuilt per customer row from the ledger (only the rows
    of the page asked for are computed).
    """
    clock = Clock.of(as_of, known_at)
    customers = Customer.objects.order_by("id")
    if known_at is not None:
        customers = customers.filter(created_at__lte=known_at)
    debt = _open_debt() if clock.current else _debt_expression(clock)
    return customers.annotate(total_debt=debt).annotate(
        available_amount=Greatest(F("score") - F("total_debt"), Value(ZERO), output_field=MONEY)
    )


def _open_debt() -> Coalesce:
    debt = (
        Loan.objects.filter(customer=OuterRef("pk"), status__in=OPEN_STATUSES)
        .order_by()
        .values("customer")
        .annotate(total=Sum("outstanding"))
        .values("total")
    )
    return Coalesce(Subquery(debt, output_field=MONEY), ZERO, output_field=MONEY)
