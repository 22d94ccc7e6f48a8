"""BILLING_DPD_BUCKETS: parsing, validation and the bucket of a days-past-due count."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.buckets import (
    CURRENT,
    DEFAULT_BUCKETS,
    SETTING,
    BucketConfigError,
    bucket_for,
    bucket_names,
    parse_buckets,
)


def test_the_default_buckets():
    buckets = parse_buckets(DEFAULT_BUCKETS)
    assert bucket_names(buckets) == ["current", "1-7", "8-30", "31-60", "61-90", "91-"]
    assert [bucket_for(d, buckets) for d in (0, 1, 7, 8, 30, 31, 60, 61, 90, 91, 5000)] == [
        "current",
        "1-7",
        "1-7",
        "8-30",
        "8-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "91-",
        "91-",
    ]


def test_spaces_around_ranges_are_allowed():
    assert bucket_names(parse_buckets(" 1-30 , 31- ")) == ["current", "1-30", "31-"]


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("", "empty"),
        ("1-7,,8-", "is not a range"),
        ("1-7,8-30,abc", "is not a range"),
        ("2-7,8-", "must start at 1"),
        ("0-7,8-", "must start at 1"),
        ("1-7,7-30,31-", "overlaps"),
        ("1-7,9-30,31-", "leaves a gap"),
        ("1-7,8-,31-", "only the last range may be open-ended"),
        ("1-7,8-30", "must be open-ended"),
        ("1-7,30-8,31-", "leaves a gap"),
        ("1-0,1-", "ends before it starts"),
        ("1--7,8-", "is not a range"),
    ],
)
def test_bad_settings_name_the_setting_and_the_fault(spec, fault):
    with pytest.raises(BucketConfigError) as error:
        parse_buckets(spec)
    assert SETTING in str(error.value)
    assert fault in str(error.value)


@st.composite
def valid_specs(draw):
    widths = draw(st.lists(st.integers(1, 400), max_size=8))
    ranges, low = [], 1
    for width in widths:
        ranges.append(f"{low}-{low + width - 1}")
        low += width
    ranges.append(f"{low}-")
    return ",".join(ranges)


@given(valid_specs(), st.integers(0, 5000))
def test_every_days_past_due_falls_in_exactly_one_bucket(spec, days):
    buckets = parse_buckets(spec)
    holding = [bucket.name for bucket in buckets if bucket.holds(days)]
    if days == 0:
        assert holding == []
        assert bucket_for(days, buckets) == CURRENT
    else:
        assert len(holding) == 1
        assert bucket_for(days, buckets) == holding[0]
    assert bucket_names(buckets)[0] == CURRENT
    assert ",".join(bucket_names(buckets)[1:]) == spec


@given(valid_specs(), st.data())
def test_any_overlap_or_gap_is_refused(spec, data):
    parts = spec.split(",")
    if len(parts) < 2:
        return
    index = data.draw(st.integers(1, len(parts) - 1))
    low, high = parts[index].split("-")
    shift = data.draw(st.sampled_from([-1, 1]))
    new_low = int(low) + shift
    if new_low < 1 or (high and int(high) < new_low):
        return
    parts[index] = f"{new_low}-{high}"
    with pytest.raises(BucketConfigError, match=r"overlaps|gap"):
        parse_buckets(",".join(parts))
