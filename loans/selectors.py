"""Loan reads: billing state as of a date, schedules, balances, delinquency.

One loan or one customer is computed in Python by ``billing`` from the loan's
terms and what was paid to it on or before the date. Portfolio-wide questions
(which loans or customers are delinquent, every balance) are answered in SQL
over the whole set: the same arithmetic as ``billing.state``, written once more
as SQL expressions below, so no question loops over loans in Python. A test
holds the two to the same answers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Expression,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from billing.money import MAX_DIGITS, MONEY_PLACES, ZERO
from billing.schedule import Terms, due_date, start_date
from billing.state import (
    DELINQUENT_AFTER_MISSED,
    InstallmentState,
    LoanState,
    installment_states,
    loan_state,
)
from customers.models import Customer
from loans.models import OPEN_STATUSES, Installment, Loan
from mo_loans.api.errors import NotFoundError

MONEY = DecimalField(max_digits=MAX_DIGITS, decimal_places=MONEY_PLACES)
# Loans whose outstanding is debt: pending and active now; paid ones may still
# have owed something as of an earlier date.
DEBT_STATUSES = (Loan.Status.PENDING, Loan.Status.ACTIVE, Loan.Status.PAID)


def today() -> date:
    return timezone.localdate()


def end_of_day(as_of: date) -> datetime:
    """The first instant after local date ``as_of``: payments before it count as of it."""
    return datetime.combine(
        as_of + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone()
    )


def loan_terms(loan: Loan) -> Terms:
    return Terms(
        amount=loan.amount,
        interest_rate=loan.interest_rate,
        term_weeks=loan.term_weeks,
        total_amount=loan.total_amount,
        installment_amount=loan.installment_amount,
    )


def loan_start(loan: Loan) -> date | None:
    if loan.maximum_payment_date is None:
        return None
    return start_date(loan.maximum_payment_date, loan.term_weeks)


# --- what was paid, as of a date -------------------------------------------


def _details_table() -> str:
    from payments.models import PaymentDetail

    return PaymentDetail._meta.db_table


def paid_by_loan(*, loan_ids: list[int], as_of: date) -> dict[int, Decimal] | None:
    """What each loan had been paid by the end of ``as_of``, in one query.

    ``None`` when ``as_of`` is today or later: every payment so far counts, and
    each loan's stored ``paid_amount`` already says it.
    """
    if as_of >= today():
        return None
    from payments.models import PaymentDetail

    rows = (
        PaymentDetail.objects.filter(loan_id__in=loan_ids, paid_at__lt=end_of_day(as_of))
        .values("loan_id")
        .annotate(paid=Sum("amount"))
        .values_list("loan_id", "paid")
    )
    return dict(rows)


class LoanExpression(Expression):
    """A SQL expression over a loan row's columns, written as a template.

    ``{term_weeks}``, ``{total_amount}``… stand for the loan's columns and are
    compiled by Django, so the expression keeps working under whatever alias
    the loan table gets (inside a subquery, say). ``%s`` placeholders take
    ``params`` in order.
    """

    COLUMNS = (
        "id",
        "term_weeks",
        "maximum_payment_date",
        "total_amount",
        "installment_amount",
        "paid_amount",
    )

    def __init__(self, template: str, params: list, output_field) -> None:
        super().__init__(output_field=output_field)
        self.template = template
        self.params = params
        self.columns = [F(name) for name in self.COLUMNS]

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        clone = self.copy()
        clone.is_summary = summarize
        clone.columns = [
            column.resolve_expression(query, allow_joins, reuse, summarize, for_save)
            for column in self.columns
        ]
        return clone

    def as_sql(self, compiler, connection):
        names = {}
        for name, column in zip(self.COLUMNS, self.columns, strict=True):
            names[name], _ = compiler.compile(column)
        return "(" + self.template.format(**names) + ")", list(self.params)


def _paid_sql(as_of: date) -> tuple[str, list]:
    """SQL for what a loan had been paid by the end of ``as_of``.

    Today or later: every payment so far, the loan's ``paid_amount``. Earlier:
    ``paid_amount`` less what payments made after that day gave it. A loan's
    ``paid_amount`` is the sum of its payment details (the payments service
    moves them together), so this equals the sum of the details of payments
    made on or before ``as_of``; rewinding from today reads only the later
    payments, which keeps the portfolio-wide version (:func:`_delinquent_ids_sql`)
    cheap for recent dates.
    """
    if as_of >= today():
        return "{paid_amount}", []
    return (
        f'({{paid_amount}} - COALESCE((SELECT SUM(d."amount") FROM "{_details_table()}" d '
        f'WHERE d."loan_id" = {{id}} AND d."paid_at" >= %s), 0))',
        [end_of_day(as_of)],
    )


def _later_payments_sql() -> str:
    """Per loan, what payments made at or after ``%s`` gave it.

    One index-only scan of ``payment_detail_paid_at`` (paid_at, loan, amount).
    """
    return (
        f'SELECT d."loan_id", SUM(d."amount") AS "paid" FROM "{_details_table()}" d '
        f'WHERE d."paid_at" >= %s GROUP BY d."loan_id"'
    )


# SQL twin of billing.state.due_before: instalments due strictly before %s.
_DUE_BEFORE = (
    "LEAST({term_weeks}, GREATEST(0, "
    "(%s::date - ({maximum_payment_date} - 7 * {term_weeks}) - 1) / 7))"
)


def _missed_template(paid: str) -> str:
    """Missed instalments of a loan that had been paid ``paid`` (SQL), as a template.

    Placeholders: the loan's columns; ``%s`` parameters: the date, then ``paid``'s twice.
    """
    fully_paid = (
        f"CASE WHEN {paid} >= {{total_amount}} THEN {{term_weeks}} "
        f"ELSE LEAST({{term_weeks}} - 1, FLOOR({paid} / {{installment_amount}})::int) END"
    )
    return (
        "CASE WHEN {maximum_payment_date} IS NULL THEN 0 "
        f"ELSE GREATEST(0, {_DUE_BEFORE} - ({fully_paid})) END"
    )


def missed_installments_sql(as_of: date) -> LoanExpression:
    """SQL twin of ``billing.state.loan_state(...).missed_installments``."""
    paid, paid_params = _paid_sql(as_of)
    return LoanExpression(
        _missed_template(paid), [as_of, *paid_params, *paid_params], output_field=IntegerField()
    )


def _delinquent_ids_sql(as_of: date) -> RawSQL:
    """The ids of the loans delinquent as of a past date, set-based.

    ``missed_installments_sql`` for a past date runs a correlated subquery per
    loan (an index probe per payment detail, randomly spread): seconds at
    100,000 loans. Here the later payments are summed once, in one pass, and
    hash-joined to the loans; same arithmetic, same answer.
    """
    columns = {name: f'l."{Loan._meta.get_field(name).column}"' for name in LoanExpression.COLUMNS}
    paid = '(l."paid_amount" - COALESCE(x."paid", 0))'
    missed = _missed_template(paid).format(**columns)
    sql = (
        f'SELECT l."id" FROM "{Loan._meta.db_table}" l '
        f'LEFT JOIN ({_later_payments_sql()}) x ON x."loan_id" = l."id" '
        f"WHERE ({missed}) >= %s"
    )
    # Identifiers come from the models; every value is a bound parameter.
    return RawSQL(sql, [end_of_day(as_of), as_of, DELINQUENT_AFTER_MISSED])  # noqa: S611


def overdue_amount_sql(as_of: date) -> LoanExpression:
    """SQL twin of ``billing.state.loan_state(...).overdue_amount``."""
    paid, paid_params = _paid_sql(as_of)
    cumulative = (
        f"CASE WHEN {_DUE_BEFORE} >= {{term_weeks}} THEN {{total_amount}} "
        f"ELSE {{installment_amount}} * {_DUE_BEFORE} END"
    )
    template = (
        "CASE WHEN {maximum_payment_date} IS NULL THEN 0 "
        f"ELSE GREATEST(0, {cumulative} - {paid}) END"
    )
    return LoanExpression(template, [as_of, as_of, *paid_params], output_field=MONEY)


def delinquent_loans(*, as_of: date, queryset: QuerySet[Loan] | None = None) -> QuerySet[Loan]:
    queryset = Loan.objects.all() if queryset is None else queryset
    return filter_delinquent_loans(queryset, delinquent=True, as_of=as_of)


def filter_delinquent_loans(
    queryset: QuerySet[Loan], *, delinquent: bool, as_of: date
) -> QuerySet[Loan]:
    if as_of < today():  # what was paid then: set-based over the later payments
        ids = _delinquent_ids_sql(as_of)
        return queryset.filter(id__in=ids) if delinquent else queryset.exclude(id__in=ids)
    # Today or later: arithmetic over each loan's own columns, no subquery.
    annotated = queryset.annotate(missed=missed_installments_sql(as_of))
    if delinquent:
        return annotated.filter(missed__gte=DELINQUENT_AFTER_MISSED)
    return annotated.filter(missed__lt=DELINQUENT_AFTER_MISSED)


def filter_delinquent_customers(
    queryset: QuerySet[Customer], *, delinquent: bool, as_of: date
) -> QuerySet[Customer]:
    ids = delinquent_loans(as_of=as_of).values("customer_id")
    return queryset.filter(id__in=ids) if delinquent else queryset.exclude(id__in=ids)


def portfolio_delinquency(*, as_of: date | None = None) -> dict:
    """How many loans and customers are delinquent as of a date, and what they are overdue."""
    as_of = as_of or today()
    summary = delinquent_loans(as_of=as_of).aggregate(
        delinquent_loans=Count("id"),
        delinquent_customers=Count("customer_id", distinct=True),
        overdue_amount=Coalesce(Sum(overdue_amount_sql(as_of)), ZERO, output_field=MONEY),
    )
    return summary


# --- one loan ----------------------------------------------------------------


def loan_get(*, external_id: str) -> Loan:
    loan = Loan.objects.select_related("customer").filter(external_id=external_id).first()
    if loan is None:
        raise NotFoundError(f"No loan with external_id '{external_id}'.")
    return loan


def loan_list() -> QuerySet[Loan]:
    return Loan.objects.select_related("customer").order_by("id")


def _paid(loan: Loan, paid_map: dict[int, Decimal] | None) -> Decimal:
    if paid_map is None:
        return loan.paid_amount
    return paid_map.get(loan.id, ZERO)


def _state(loan: Loan, paid_map: dict[int, Decimal] | None, as_of: date) -> LoanState:
    if loan.status == Loan.Status.REJECTED:
        return LoanState(as_of, ZERO, ZERO, ZERO, 0, 0, False)
    return loan_state(
        terms=loan_terms(loan), start=loan_start(loan), paid=_paid(loan, paid_map), as_of=as_of
    )


def loan_billing_state(*, loan: Loan, as_of: date | None = None) -> LoanState:
    as_of = as_of or today()
    return _state(loan, paid_by_loan(loan_ids=[loan.id], as_of=as_of), as_of)


def loan_schedule(*, loan: Loan, as_of: date | None = None) -> list[InstallmentState]:
    """The stored instalments with what was paid to each as of ``as_of``.

    Due dates are fixed at activation; before it they are projected from today.
    """
    as_of = as_of or today()
    rows = Installment.objects.filter(loan=loan).order_by("number")
    rows = rows.values_list("number", "due_date", "amount")
    projected_start = today()
    installments = [
        (number, due or due_date(projected_start, number), amount) for number, due, amount in rows
    ]
    paid = ZERO
    if loan.status != Loan.Status.REJECTED:
        paid = _paid(loan, paid_by_loan(loan_ids=[loan.id], as_of=as_of))
    return installment_states(installments=installments, paid=paid, as_of=as_of)


# --- customers' balances --------------------------------------------------------


def customer_balance(*, customer: Customer, as_of: date | None = None) -> dict:
    """``total_debt``, ``available_amount`` and ``is_delinquent`` of one customer as of a date."""
    as_of = as_of or today()
    loans = list(Loan.objects.filter(customer=customer, status__in=DEBT_STATUSES))
    paid_map = paid_by_loan(loan_ids=[loan.id for loan in loans], as_of=as_of)
    states = [_state(loan, paid_map, as_of) for loan in loans]
    total_debt = sum((state.outstanding for state in states), ZERO)
    return {
        "external_id": customer.external_id,
        "score": customer.score,
        "total_debt": total_debt,
        "available_amount": max(ZERO, customer.score - total_debt),
        "is_delinquent": any(state.is_delinquent for state in states),
        "as_of": as_of,
    }


def customer_balance_list() -> QuerySet[Customer]:
    """Every customer with ``total_debt`` and ``available_amount`` now, as SQL annotations."""
    debt = (
        Loan.objects.filter(customer=OuterRef("pk"), status__in=OPEN_STATUSES)
        .order_by()
        .values("customer")
        .annotate(total=Sum("outstanding"))
        .values("total")
    )
    return (
        Customer.objects.order_by("id")
        .annotate(total_debt=Coalesce(Subquery(debt, output_field=MONEY), ZERO, output_field=MONEY))
        .annotate(
            available_amount=Greatest(F("score") - F("total_debt"), Value(ZERO), output_field=MONEY)
        )
    )
