"""BILLING_DPD_BUCKETS is checked at start-up: a bad value stops manage.py with its name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def check(buckets: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BILLING_DPD_BUCKETS": buckets, "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("buckets", "fault"),
    [
        ("1-7,9-30,31-", "leaves a gap"),
        ("1-10,8-30,31-", "overlaps"),
        ("1-7,8-30", "must be open-ended"),
    ],
)
def test_a_bad_bucket_setting_stops_start_up_naming_it(buckets, fault):
    result = check(buckets)
    assert result.returncode != 0
    assert "ImproperlyConfigured: BILLING_DPD_BUCKETS=" in result.stderr
    assert fault in result.stderr


def test_a_good_bucket_setting_starts():
    result = check("1-30,31-90,91-")
    assert result.returncode == 0, result.stderr
