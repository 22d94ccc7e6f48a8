"""The replay rule: a customer's whole allocation, re-derived from their payments.

Take the customer's completed, unreversed payments in **value order** (their
``paid_at``; ties: the instant they were recorded, then their id) and apply
each in turn, by :func:`billing.allocation.allocate`, to the loans it may pay
as the earlier payments left them. A payment may pay the loans activated with
``taken_at`` at or before its ``paid_at`` (only its target, when it names
one). The result depends on the set of payments, never on the order in which
they were recorded: this is the definition every stored allocation must equal.

A payment that cannot be applied in full where it falls in value order is
*unapplied*: it pays nothing and the fold goes on without it. The services
accept a new payment only when a replay with it leaves nothing unapplied, and
refuse a reversal or an activation that would (``replay_conflict``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from billing.allocation import Overpayment, Position, allocate
from billing.money import ZERO
from billing.schedule import Terms


@dataclass(frozen=True)
class LedgerLoan:
    """A loan a payment may pay: activated, with its schedule's start."""

    key: Hashable
    terms: Terms
    start: date
    taken_at: datetime


@dataclass(frozen=True)
class LedgerPayment:
    """A payment as the ledger orders it: by value time, then recording time, then ``seq``."""

    key: Hashable
    paid_at: datetime
    recorded_at: datetime
    seq: int
    amount: Decimal
    target: Hashable | None = None

    @property
    def value_order(self) -> tuple[datetime, datetime, int]:
        return (self.paid_at, self.recorded_at, self.seq)


@dataclass(frozen=True)
class Unapplied:
    """A payment the loans could not take in full where it falls; ``owed`` is what they owed."""

    key: Hashable
    owed: Decimal


@dataclass(frozen=True)
class Replay:
    """Every applied payment's shares by loan, each loan's total, and what did not fit."""

    allocations: dict[Hashable, dict[Hashable, Decimal]]
    paid: dict[Hashable, Decimal]
    unapplied: tuple[Unapplied, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.unapplied


def eligible(loans: Iterable[LedgerLoan], payment: LedgerPayment) -> list[LedgerLoan]:
    """The loans ``payment`` may pay: taken by its value time, and its target if it names one."""
    return [
        loan
        for loan in loans
        if loan.taken_at <= payment.paid_at and payment.target in (None, loan.key)
    ]


def apply_payment(
    loans: Sequence[LedgerLoan], paid: Mapping[Hashable, Decimal], payment: LedgerPayment
) -> dict[Hashable, Decimal]:
    """One step of the replay: ``payment``'s shares, given what each loan had been paid.

    Raises :class:`~billing.allocation.Overpayment` when the loans it may pay
    owe less than its amount. Because a payment recorded after every other in
    value order is exactly the replay's last step, the services take such a
    payment with this function on the loans' stored totals, without a replay.
    """
    positions = [
        Position(loan.key, loan.terms, loan.start, loan.taken_at, paid.get(loan.key, ZERO))
        for loan in eligible(loans, payment)
    ]
    return allocate(positions, payment.amount)


def replay(
    loans: Sequence[LedgerLoan],
    payments: Iterable[LedgerPayment],
    *,
    paid: Mapping[Hashable, Decimal] | None = None,
) -> Replay:
    """Apply ``payments`` in value order to ``loans``, each as the earlier ones left them.

    ``paid`` is what each loan had been paid before the first of ``payments``
    (default nothing): replaying only the payments from some point in value
    order on, from the totals the earlier ones left, gives the same shares as
    replaying them all (the fold's prefix is unchanged).
    """
    start = paid or {}
    paid = {loan.key: start.get(loan.key, ZERO) for loan in loans}
    allocations: dict[Hashable, dict[Hashable, Decimal]] = {}
    unapplied: list[Unapplied] = []
    for payment in sorted(payments, key=lambda p: p.value_order):
        try:
            shares = apply_payment(loans, paid, payment)
        except Overpayment as exc:
            unapplied.append(Unapplied(payment.key, exc.owed))
            continue
        allocations[payment.key] = shares
        for key, share in shares.items():
            paid[key] += share
    return Replay(allocations, paid, tuple(unapplied))


def split(
    payments: Iterable[LedgerPayment], at: tuple[datetime, datetime, int]
) -> tuple[list[LedgerPayment], list[LedgerPayment]]:
    """The payments before value-order position ``at``, and those at or after it."""
    before, after = [], []
    for payment in payments:
        (before if payment.value_order < at else after).append(payment)
    return before, after
