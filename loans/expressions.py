"""The billing arithmetic in SQL, built once: one expression per ``billing`` function.

``billing/state.py``, ``billing/schedule.py`` and ``billing/portfolio.py`` define
a loan's state in Python. Portfolio-wide questions ask the same of every loan at
once, so the database must compute the same thing; each function here builds
the SQL twin of one ``billing`` function, with the same name, as a composable
Django expression (``Case``/``When``, ``Least``, ``Greatest``, PostgreSQL's
``div``). Nothing else in the project writes this arithmetic as SQL:

* querysets use them over a loan's fields (:data:`LOAN`, made of ``F()``);
* the model stores two of them as generated columns, kept by PostgreSQL on every
  write (``Loan.paid_installments``, ``Loan.outstanding_principal``);
* the portfolio's set-based statements (``loans/portfolio.py``) compile them
  over the columns of their own ``WITH`` stages (:func:`columns`, :func:`sql`).

``tests/loans/test_sql_matches_billing.py`` and the portfolio tests hold every
one of them to its ``billing`` twin; changing a rule is an edit in ``billing``
and here, which those tests then check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    DateField,
    DecimalField,
    Expression,
    F,
    IntegerField,
    Value,
    When,
)
from django.db.models.expressions import Func
from django.db.models.functions import Cast, Greatest, Least
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, IsNull
from django.db.models.sql import Query

from billing.money import MAX_DIGITS, MONEY_PLACES
from billing.state import DELINQUENT_AFTER_MISSED

MONEY = DecimalField(max_digits=MAX_DIGITS, decimal_places=MONEY_PLACES)
INTEGER = IntegerField()
DAYS_IN_WEEK = 7

Input = Expression | F | int | Decimal | date


def _expr(value: Input) -> Expression | F:
    if isinstance(value, (Expression, F)):
        return value
    if isinstance(value, date):
        return Value(value, output_field=DateField())
    if isinstance(value, Decimal):
        return Value(value, output_field=MONEY)
    return Value(value, output_field=INTEGER)


class Div(Func):
    """PostgreSQL's ``div(a, b)``: the integer quotient of two numerics, toward zero."""

    function = "div"
    arity = 2


class DaysBetween(Func):
    """``later − earlier`` for two dates, in whole days (PostgreSQL's ``date − date``)."""

    arity = 2
    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = INTEGER


class PlusDays(Func):
    """``day + n`` for a date and a whole number of days (PostgreSQL's ``date + integer``)."""

    arity = 2
    template = "(%(expressions)s)"
    arg_joiner = " + "
    output_field = DateField()


class Column(Expression):
    """A column of a ``WITH`` stage or an aliased table in a hand-built statement."""

    def __init__(self, sql: str, output_field) -> None:
        super().__init__(output_field=output_field)
        self.sql = sql

    def as_sql(self, compiler, connection):
        return self.sql, []


@dataclass(frozen=True)
class LoanTerms:
    """The loan columns the arithmetic reads: its terms and its first day."""

    amount: Any
    term_weeks: Any
    total_amount: Any
    installment_amount: Any
    start_date: Any


# A loan's own fields, for querysets over ``Loan``.
LOAN = LoanTerms(
    amount=F("amount"),
    term_weeks=F("term_weeks"),
    total_amount=F("total_amount"),
    installment_amount=F("installment_amount"),
    start_date=F("start_date"),
)


def columns(alias: str, *, start: str = "start_date") -> LoanTerms:
    """The same columns of a row ``alias`` of a hand-built statement."""
    return LoanTerms(
        amount=Column(f'{alias}."amount"', MONEY),
        term_weeks=Column(f'{alias}."term_weeks"', INTEGER),
        total_amount=Column(f'{alias}."total_amount"', MONEY),
        installment_amount=Column(f'{alias}."installment_amount"', MONEY),
        start_date=Column(f'{alias}."{start}"', DateField()),
    )


# --- billing.schedule -------------------------------------------------------------


def due_date(start: Input, number: Input) -> Expression:
    """``billing.schedule.due_date``: instalment ``number`` is due 7·number days after start."""
    return PlusDays(_expr(start), _expr(number) * DAYS_IN_WEEK)


def installment(loan: LoanTerms, number: Input) -> Expression:
    """``Terms.installment_amounts()[number − 1]``: every instalment is
    ``installment_amount`` but the last, which takes the remainder."""
    last = loan.total_amount - loan.installment_amount * (loan.term_weeks - 1)
    return Case(
        When(Exact(_expr(number), loan.term_weeks), then=last),
        default=loan.installment_amount,
        output_field=MONEY,
    )


# --- billing.state ----------------------------------------------------------------


def paid_installments(loan: LoanTerms, paid: Input) -> Expression:
    """``billing.state.paid_installments``: how many instalments ``paid`` covers in full."""
    paid = _expr(paid)
    return Case(
        When(GreaterThanOrEqual(paid, loan.total_amount), then=loan.term_weeks),
        default=Least(loan.term_weeks - 1, Cast(Div(paid, loan.installment_amount), INTEGER)),
        output_field=INTEGER,
    )


def due_before(loan: LoanTerms, as_of: Input) -> Expression:
    """``billing.state.due_before``: instalments falling due strictly before ``as_of``."""
    days = DaysBetween(_expr(as_of), loan.start_date)
    return Least(
        loan.term_weeks,
        Greatest(Value(0), (days - 1) / DAYS_IN_WEEK, output_field=INTEGER),
        output_field=INTEGER,
    )


def cumulative_due(loan: LoanTerms, count: Input) -> Expression:
    """``billing.state.cumulative_due``: what the first ``count`` instalments add up to."""
    count = _expr(count)
    return Case(
        When(GreaterThanOrEqual(count, loan.term_weeks), then=loan.total_amount),
        default=loan.installment_amount * count,
        output_field=MONEY,
    )


def missed_installments(loan: LoanTerms, *, falling_due: Input, fully_paid: Input) -> Expression:
    """``loan_state(...).missed_installments`` of an activated loan, from its instalments
    falling due (:func:`due_before`) and paid in full (:func:`paid_installments`)."""
    return Greatest(Value(0), _expr(falling_due) - _expr(fully_paid), output_field=INTEGER)


def missed_installments_as_of(
    loan: LoanTerms, *, as_of: Input, paid: Input | None = None, fully_paid: Input | None = None
) -> Expression:
    """``loan_state(...).missed_installments``, from what was ``paid`` (or the instalments
    it covers, ``fully_paid``); 0 for a loan not activated (no start)."""
    if fully_paid is None:
        fully_paid = paid_installments(loan, paid)
    return Case(
        When(IsNull(loan.start_date, True), then=Value(0)),
        default=missed_installments(
            loan, falling_due=due_before(loan, as_of), fully_paid=fully_paid
        ),
        output_field=INTEGER,
    )


def overdue_amount_as_of(loan: LoanTerms, *, paid: Input, as_of: Input) -> Expression:
    """``loan_state(...).overdue_amount``: what fell due before ``as_of`` and was not paid."""
    paid = _expr(paid)
    return Case(
        When(IsNull(loan.start_date, True), then=Value(0, output_field=MONEY)),
        default=Greatest(
            Value(0, output_field=MONEY),
            cumulative_due(loan, due_before(loan, as_of)) - paid,
            output_field=MONEY,
        ),
        output_field=MONEY,
    )


def days_past_due(
    loan: LoanTerms, *, as_of: Input, falling_due: Input, fully_paid: Input
) -> Expression:
    """``loan_state(...).days_past_due``: days since the first unpaid instalment fell due,
    when any is missed; else 0."""
    fully_paid = _expr(fully_paid)
    return Case(
        When(
            GreaterThan(_expr(falling_due), fully_paid),
            then=DaysBetween(_expr(as_of), due_date(loan.start_date, fully_paid + 1)),
        ),
        default=Value(0),
        output_field=INTEGER,
    )


def paid_to_installment(*, paid: Input, earlier: Input, amount: Input) -> Expression:
    """``installment_states``' share of one instalment: what ``paid`` leaves for it after
    the ``earlier`` instalments, at most its ``amount``."""
    return Least(
        _expr(amount),
        Greatest(Value(0, output_field=MONEY), _expr(paid) - _expr(earlier), output_field=MONEY),
        output_field=MONEY,
    )


def is_delinquent(missed: Input) -> Expression:
    """``loan_state(...).is_delinquent``: ``DELINQUENT_AFTER_MISSED`` or more missed."""
    return GreaterThanOrEqual(_expr(missed), Value(DELINQUENT_AFTER_MISSED))


def outstanding(loan: LoanTerms, paid: Input) -> Expression:
    """What the loan still owes after ``paid``."""
    return loan.total_amount - _expr(paid)


# --- billing.portfolio ------------------------------------------------------------


def outstanding_principal(loan: LoanTerms, owed: Input) -> Expression:
    """``billing.portfolio.outstanding_principal``: ``owed × amount / total``, half-up to
    the cent, exactly: ``div(200·o·a + t, 2·t) / 100`` (every amount is in cents)."""
    owed = _expr(owed)
    twice = Value(2) * loan.total_amount
    numerator = Value(200) * owed * loan.amount + loan.total_amount
    return Cast(Div(numerator, twice) / Value(100), MONEY)


# --- compiling for hand-built statements -------------------------------------------


def sql_positional(expression: Expression) -> tuple[str, list[Any]]:
    """``expression`` as SQL with positional ``%s`` parameters (for ``RawSQL``).

    Its inputs are :func:`columns` of the statement's own rows, or constants.
    """
    query = Query(None)
    compiler = query.get_compiler(connection=connection)
    text, params = compiler.compile(expression.resolve_expression(query))
    return text, list(params)


_names = itertools.count()


def sql(expression: Expression) -> tuple[str, dict[str, Any]]:
    """``expression`` as SQL with named ``%(name)s`` parameters, for ``loans/portfolio.py``."""
    text, values = sql_positional(expression)
    pieces = text.split("%s")
    named: dict[str, Any] = {}
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        name = f"expr_{next(_names)}"
        named[name] = value
        out.append(f"%({name})s{piece}")
    return "".join(out), named
