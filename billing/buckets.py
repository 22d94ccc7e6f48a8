"""Days-past-due buckets (``BILLING_DPD_BUCKETS``).

A bucket setting is a comma-separated list of day ranges, ``low-high`` or, for
the last one only, ``low-`` (open-ended): ``1-7,8-30,31-60,61-90,91-``. The
ranges must start at 1, follow each other with no gap and no overlap, and the
last must be open-ended, so that every loan with a missed instalment (days past
due ≥ 1) falls in exactly one bucket. A loan with none (days past due 0) is
``current``. A bucket's name is its range as written: ``"1-7"``, ``"91-"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SETTING = "BILLING_DPD_BUCKETS"
DEFAULT_BUCKETS = "1-7,8-30,31-60,61-90,91-"
CURRENT = "current"

_RANGE = re.compile(r"(\d+)-(\d*)")


class BucketConfigError(ValueError):
    """The bucket setting cannot be used; the message names the setting and the fault."""


@dataclass(frozen=True)
class Bucket:
    name: str
    low: int  # days past due, inclusive
    high: int | None  # inclusive; None: open-ended

    def holds(self, days_past_due: int) -> bool:
        return days_past_due >= self.low and (self.high is None or days_past_due <= self.high)


def _fail(spec: str, reason: str) -> BucketConfigError:
    return BucketConfigError(
        f"{SETTING}={spec!r} is invalid: {reason}. Write contiguous day ranges starting at 1, "
        f"the last one open-ended, e.g. {DEFAULT_BUCKETS!r}."
    )


def parse_buckets(spec: str) -> tuple[Bucket, ...]:
    """The buckets a ``BILLING_DPD_BUCKETS`` value describes, in order; :class:`BucketConfigError`
    when they are malformed, overlap, leave a gap, do not start at 1 or do not end open."""
    parts = [part.strip() for part in spec.split(",")]
    if not spec.strip():
        raise _fail(spec, "it is empty")
    buckets: list[Bucket] = []
    for index, part in enumerate(parts):
        match = _RANGE.fullmatch(part)
        if match is None:
            raise _fail(spec, f"{part!r} is not a range such as '8-30' or '91-'")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else None
        last = index == len(parts) - 1
        expected_low = 1 if not buckets else buckets[-1].high + 1  # type: ignore[operator]
        if low != expected_low:
            if not buckets:
                raise _fail(spec, f"the first range must start at 1, not {low}")
            kind = "overlaps the previous range" if low < expected_low else "leaves a gap"
            raise _fail(spec, f"{part!r} {kind}: it should start at {expected_low}")
        if high is None and not last:
            raise _fail(spec, f"only the last range may be open-ended, not {part!r}")
        if high is not None and high < low:
            raise _fail(spec, f"{part!r} ends before it starts")
        if high is not None and last:
            raise _fail(spec, f"the last range must be open-ended ('{low}-'), not {part!r}")
        buckets.append(Bucket(part, low, high))
    return tuple(buckets)


DEFAULT = parse_buckets(DEFAULT_BUCKETS)


def bucket_names(buckets: Sequence[Bucket] = DEFAULT) -> list[str]:
    """Every bucket a loan can be in, ``current`` first."""
    return [CURRENT, *(bucket.name for bucket in buckets)]


def bucket_for(days_past_due: int, buckets: Sequence[Bucket] = DEFAULT) -> str:
    """The name of the bucket ``days_past_due`` falls in; ``current`` for 0 (nothing missed)."""
    if days_past_due < 1:
        return CURRENT
    for bucket in buckets:
        if bucket.holds(days_past_due):
            return bucket.name
    raise ValueError(f"{days_past_due} days past due falls in no bucket")  # parse_buckets forbids
