"""The replay rule: one allocation for a set of payments, whatever order they were posted in."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import ZERO
from billing.replay import LedgerLoan, LedgerPayment, apply_payment, eligible, replay, split
from billing.schedule import make_terms

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def loan(key, amount="1000", weeks=10, day=0):
    terms = make_terms(amount=Decimal(amount), interest_rate=Decimal("0"), term_weeks=weeks)
    taken = T0 + timedelta(days=day)
    return LedgerLoan(key=key, terms=terms, start=taken.date(), taken_at=taken)


def payment(key, amount, day, seq=None, target=None, recorded_day=None):
    return LedgerPayment(
        key=key,
        paid_at=T0 + timedelta(days=day),
        recorded_at=T0 + timedelta(days=day if recorded_day is None else recorded_day),
        seq=key if seq is None else seq,
        amount=Decimal(amount),
        target=target,
    )


def test_a_late_posted_payment_takes_its_place_in_value_order():
    loans = [loan("a", day=0), loan("b", day=10)]
    # Paid on day 5 (only "a" existed), posted on day 20 after a day-15 payment.
    early = payment(2, "150", day=5, recorded_day=20)
    later = payment(1, "150", day=15)
    result = replay(loans, [later, early])
    assert result.allocations[2] == {"a": Decimal("150")}
    # By day 15 "a" had 150 of its 1000: 50 finishes "a"#2 (due day 14), then "b"#1
    # (due day 17) comes before "a"#3 (due day 21).
    assert result.allocations[1] == {"a": Decimal("50"), "b": Decimal("100")}
    assert result.paid == {"a": Decimal("200"), "b": Decimal("100")}


def test_a_payment_before_every_loan_is_unapplied():
    result = replay([loan("a", day=3)], [payment(1, "10", day=1)])
    assert result.allocations == {}
    assert [(u.key, u.owed) for u in result.unapplied] == [(1, ZERO)]


def test_ties_in_value_time_go_by_recording_time_then_seq():
    loans = [loan("a", weeks=1, amount="100")]
    first = payment(1, "60", day=1, recorded_day=2, seq=9)
    second = payment(2, "60", day=1, recorded_day=3, seq=1)
    result = replay(loans, [second, first])
    assert result.allocations == {1: {"a": Decimal("60")}}
    assert [u.key for u in result.unapplied] == [2]


def test_a_target_restricts_the_loans():
    loans = [loan("a", day=0), loan("b", day=0)]
    result = replay(loans, [payment(1, "50", day=1, target="b")])
    assert result.allocations[1] == {"b": Decimal("50")}
    assert eligible(loans, payment(2, "1", day=1, target="a")) == [loans[0]]


# --- properties ---------------------------------------------------------------


@st.composite
def books(draw):
    """A few loans and payments: some targeted, some before a loan was taken."""
    loan_count = draw(st.integers(min_value=1, max_value=4))
    loans = []
    for key in range(loan_count):
        weeks = draw(st.integers(min_value=1, max_value=12))
        amount = draw(st.integers(min_value=10, max_value=5000))
        day = draw(st.integers(min_value=0, max_value=60))
        loans.append(loan(f"L{key}", amount=str(amount), weeks=weeks, day=day))
    total = sum(item.terms.total_amount for item in loans)
    payments = []
    for key in range(draw(st.integers(min_value=0, max_value=12))):
        cents = draw(st.integers(min_value=1, max_value=int(total * 100 // 3) + 1))
        target = draw(st.one_of(st.none(), st.sampled_from([item.key for item in loans])))
        day = draw(st.integers(min_value=0, max_value=120))
        recorded = day + draw(st.integers(min_value=0, max_value=30))
        payments.append(
            payment(key, Decimal(cents) / 100, day=day, target=target, recorded_day=recorded)
        )
    return loans, payments


def post_in_order(loans, order):
    """Post payments one by one as the service does: keep one only if the replay still fits."""
    accepted = []
    for item in order:
        if replay(loans, [*accepted, item]).complete:
            accepted.append(item)
    return accepted


@settings(max_examples=200, deadline=None)
@given(books(), st.randoms(use_true_random=False))
def test_any_posting_order_ends_in_the_same_allocation(book, rng):
    loans, payments = book
    accepted = post_in_order(loans, payments)
    shuffled = list(accepted)
    rng.shuffle(shuffled)
    # Everything accepted in one order is accepted in any other, with the same details.
    assert post_in_order(loans, shuffled) == shuffled
    assert replay(loans, shuffled) == replay(loans, accepted)


@settings(max_examples=200, deadline=None)
@given(books(), st.data())
def test_removing_a_payment_never_unapplies_another(book, data):
    loans, payments = book
    accepted = post_in_order(loans, payments)
    if not accepted:
        return
    reversed_one = data.draw(st.sampled_from(accepted))
    rest = [item for item in accepted if item is not reversed_one]
    assert replay(loans, rest).complete


@settings(max_examples=200, deadline=None)
@given(books())
def test_sums_are_exact_and_eligibility_holds(book):
    loans, payments = book
    result = replay(loans, payments)
    by_key = {item.key: item for item in payments}
    by_loan = {item.key: item for item in loans}
    for key, shares in result.allocations.items():
        item = by_key[key]
        assert sum(shares.values(), ZERO) == item.amount
        for loan_key, share in shares.items():
            assert share > ZERO
            assert by_loan[loan_key].taken_at <= item.paid_at
            assert item.target in (None, loan_key)
    for loan_key, paid in result.paid.items():
        assert ZERO <= paid <= by_loan[loan_key].terms.total_amount
        assert paid == sum(
            (shares.get(loan_key, ZERO) for shares in result.allocations.values()), ZERO
        )
    applied = set(result.allocations)
    assert applied.isdisjoint(u.key for u in result.unapplied)
    assert applied | {u.key for u in result.unapplied} == set(by_key)


@settings(max_examples=200, deadline=None)
@given(books())
def test_the_last_payment_in_value_order_is_one_step_on_the_stored_totals(book):
    loans, payments = book
    accepted = post_in_order(loans, payments)
    if not accepted:
        return
    *earlier, last = sorted(accepted, key=lambda p: p.value_order)
    before = replay(loans, earlier)
    assert apply_payment(loans, before.paid, last) == replay(loans, accepted).allocations[last.key]


def test_recording_order_never_matters_for_a_fixed_set():
    loans = [loan("a", day=0, weeks=5), loan("b", day=3, weeks=5)]
    payments = [payment(i, "90", day=2 + 4 * i, recorded_day=40 - i) for i in range(6)]
    expected = replay(loans, payments)
    assert expected.complete
    assert replay(loans, list(reversed(payments))) == expected
    assert date(2026, 1, 1) == loans[0].start


@settings(max_examples=200, deadline=None)
@given(books(), st.data())
def test_replaying_a_suffix_from_the_prefix_totals_equals_a_full_replay(book, data):
    loans, payments = book
    accepted = post_in_order(loans, payments)
    full = replay(loans, accepted)
    if not accepted:
        return
    pivot = data.draw(st.sampled_from(accepted)).value_order
    before, after = split(accepted, pivot)
    prefix = replay(loans, before)
    suffix = replay(loans, after, paid=prefix.paid)
    assert {**prefix.allocations, **suffix.allocations} == full.allocations
    assert suffix.paid == full.paid
