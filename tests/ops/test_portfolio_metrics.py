"""PAR and bucket gauges: the figures of GET /api/portfolio, at scrape time, cached."""

import sys
import types
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.utils import timezone

from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


def book():
    customer = CustomerFactory()
    # 35 days ago, never paid: oldest missed instalment due 28 days ago (bucket 8-30).
    make_loan(
        customer=customer,
        external_id="late",
        amount="1000.00",
        term_weeks=10,
        taken_at=timezone.now() - timedelta(days=35),
    )
    make_loan(customer=customer, external_id="new", amount="3000.00", taken_at=timezone.now())
    make_loan(customer=customer, external_id="pending", amount="500.00")


def test_risk_gauges_equal_the_portfolio_answer(client, scrape):
    book()
    body = client.get("/api/portfolio").json()
    after = scrape()
    assert after.value("mo_loans_portfolio_risk_scrape_error") == 0
    for days, ratio in body["par"].items():
        assert after.value("mo_loans_par_ratio", days=days) == pytest.approx(float(ratio))
    assert after.value("mo_loans_par_ratio", days="1") == pytest.approx(0.25)
    assert after.value("mo_loans_portfolio_active_loans") == 2
    assert after.value("mo_loans_portfolio_outstanding_principal") == pytest.approx(4000.0)
    for bucket in body["buckets"]:
        name = bucket["bucket"]
        assert after.value("mo_loans_portfolio_bucket_loans", bucket=name) == bucket["loans"]
        assert after.value("mo_loans_portfolio_bucket_outstanding", bucket=name) == pytest.approx(
            float(bucket["outstanding"])
        )
        assert after.value(
            "mo_loans_portfolio_bucket_outstanding_principal", bucket=name
        ) == pytest.approx(float(bucket["outstanding_principal"]))
    assert after.value("mo_loans_portfolio_bucket_loans", bucket="8-30") == 1
    assert after.value("mo_loans_par30_alert_threshold") == pytest.approx(0.10)


def test_risk_gauges_are_reused_within_the_ttl(scrape, settings):
    settings.METRICS_PORTFOLIO_TTL = 600
    assert scrape().value("mo_loans_portfolio_active_loans") == 0
    book()
    assert scrape().value("mo_loans_portfolio_active_loans") == 0  # the cached answer
    settings.METRICS_PORTFOLIO_TTL = 0
    assert scrape().value("mo_loans_portfolio_active_loans") == 2


def test_the_alert_threshold_comes_from_settings(scrape, settings):
    settings.METRICS_PAR30_ALERT_THRESHOLD = Decimal("0.05")
    assert scrape().value("mo_loans_par30_alert_threshold") == pytest.approx(0.05)


def test_a_failing_risk_query_reports_an_error_and_keeps_the_rest(monkeypatch, scrape):
    def portfolio_as_of(*, as_of):
        raise OperationalError("connection refused")

    module = types.ModuleType("loans.portfolio")
    module.portfolio_as_of = portfolio_as_of
    monkeypatch.setitem(sys.modules, "loans.portfolio", module)
    after = scrape()
    assert after.value("mo_loans_portfolio_risk_scrape_error") == 1
    assert "mo_loans_par_ratio" not in after.names()
    assert after.value("mo_loans_portfolio_scrape_error") == 0
    assert "mo_loans_portfolio_delinquent_loans" in after.names()


def test_the_dashboard_and_alerts_use_the_risk_gauges():
    from tests.ops.test_monitoring_stack import MONITORING, dashboard, load_yaml

    exprs = " ".join(t["expr"] for panel in dashboard()["panels"] for t in panel["targets"])
    for name in (
        "mo_loans_par_ratio",
        "mo_loans_portfolio_bucket_loans",
        "mo_loans_portfolio_bucket_outstanding",
        "mo_loans_par30_alert_threshold",
    ):
        assert name in exprs
    rules = {
        rule["alert"]: rule
        for group in load_yaml(MONITORING / "alerts.yml")["groups"]
        for rule in group["rules"]
    }
    assert rules["MoLoansPar30High"]["expr"] == (
        'max(mo_loans_par_ratio{days="30"}) > max(mo_loans_par30_alert_threshold)'
    )
