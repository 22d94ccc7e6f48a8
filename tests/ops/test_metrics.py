"""GET /metrics: request, database and business metrics in Prometheus text format."""

import importlib
import sys
import types
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.urls import clear_url_caches
from django.utils import timezone

from mo_loans import observability
from tests.ops.conftest import METRICS_TOKEN

pytestmark = pytest.mark.django_db


def test_metrics_need_the_bearer_token_not_an_api_key_and_speak_prometheus_text(prometheus):
    response = prometheus.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Bearer ", f"Basic {METRICS_TOKEN}", METRICS_TOKEN]
)
def test_with_a_token_the_api_port_answers_only_to_it(anon_client, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = anon_client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"
    assert b"mo_loans_" not in response.content


def test_without_a_token_the_api_port_does_not_serve_metrics(prometheus, settings):
    settings.METRICS_TOKEN = ""
    response = prometheus.get("/metrics")
    assert response.status_code == 404
    assert b"mo_loans_" not in response.content


def test_the_metrics_port_serves_metrics_and_nothing_else(anon_client, client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_PORT = 9100
    on_port = {"SERVER_PORT": "9100"}
    assert anon_client.get("/metrics", **on_port).status_code == 200
    assert anon_client.get("/metrics", SERVER_PORT="80").status_code == 404
    for path in ("/api/customers", "/healthz", "/admin/"):
        assert client.get(path, **on_port).status_code == 404, path
    settings.METRICS_TOKEN = METRICS_TOKEN  # a token, when set, is asked for there too
    assert anon_client.get("/metrics", **on_port).status_code == 401


def test_metrics_answer_get_only(prometheus):
    assert prometheus.post("/metrics").status_code == 405


def test_requests_are_counted_and_timed_by_view_and_status(anon_client, client, scrape):
    before = scrape()
    anon_client.get("/healthz")
    anon_client.get("/healthz")
    client.get("/api/no-such-route")
    anon_client.get("/api/customers")  # no key
    after = scrape()

    def delta(name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    latency = "mo_loans_http_request_duration_seconds_count"
    assert delta(latency, view="healthz", method="GET", status="200") == 2
    assert delta(latency, view="mo_loans.api.views.api_not_found", method="GET", status="404") == 1
    assert after.family_total(latency, status="401") - before.family_total(latency, status="401")
    assert "mo_loans_http_request_duration_seconds_bucket" in after.names()
    # One series per request, not django-prometheus's twenty (docs/performance.md).
    assert not any(name.startswith("django_http") for name in after.names())


def test_invented_methods_do_not_become_label_values(anon_client, scrape):
    anon_client.generic("BREW", "/healthz")
    names = {labels for name, labels in scrape() if name.startswith("mo_loans_http")}
    methods = {value for labels in names for key, value in labels if key == "method"}
    assert "BREW" not in methods
    assert "other" in methods


def test_database_queries_are_timed(client, scrape):
    client.get("/api/customers")
    after = scrape()
    labels = {"alias": "default", "vendor": "postgresql"}
    assert after.value("django_db_query_duration_seconds_count", **labels) > 0
    assert after.value("django_db_execute_total", **labels) > 0


def test_business_functions_move_their_counters(scrape):
    before = scrape()
    observability.loan_created(
        external_id="L1",
        customer_external_id="C1",
        amount=Decimal("1000.00"),
        total_amount=Decimal("1100.00"),
    )
    observability.loan_activated(
        external_id="L1", customer_external_id="C1", total_amount=Decimal("1100.00")
    )
    observability.loan_rejected(external_id="L2", customer_external_id="C1")
    observability.payment_recorded(
        external_id="P1",
        customer_external_id="C1",
        status="completed",
        amount=Decimal("300.10"),
        details=[("L1", Decimal("300.10"))],
    )
    observability.payment_recorded(
        external_id="P2",
        customer_external_id="C1",
        status="rejected",
        amount=Decimal("99999.00"),
        details=[],
        rejection_reason="exceeds what the loans owe",
    )
    after = scrape()

    def delta(name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("mo_loans_loans_created_total") == 1
    assert delta("mo_loans_loans_created_amount_total") == pytest.approx(1000.00)
    assert delta("mo_loans_loans_activated_total") == 1
    assert delta("mo_loans_loans_activated_amount_total") == pytest.approx(1100.00)
    assert delta("mo_loans_loans_rejected_total") == 1
    assert delta("mo_loans_payments_total", status="completed") == 1
    assert delta("mo_loans_payments_total", status="rejected") == 1
    assert delta("mo_loans_payments_amount_total", status="completed") == pytest.approx(300.10)
    assert delta("mo_loans_payments_amount_total", status="rejected") == pytest.approx(99999.00)


def test_an_unknown_payment_status_is_logged_not_counted(scrape, json_logs):
    before = scrape()
    observability.payment_recorded(
        external_id="P9",
        customer_external_id="C1",
        status="refunded",
        amount=Decimal("1.00"),
        details=[],
    )
    after = scrape()
    series = {k for k in after if k[0] == "mo_loans_payments_total"}
    assert series == {k for k in before if k[0] == "mo_loans_payments_total"}
    assert any(line["level"] == "ERROR" for line in json_logs.all())


def test_every_payment_status_series_exists_before_the_first_payment(scrape):
    names = scrape()
    for status in ("completed", "rejected"):
        assert ("mo_loans_payments_total", frozenset({("status", status)})) in names


# --- portfolio gauges ------------------------------------------------------------


def _fake_selector(monkeypatch, selector):
    module = types.ModuleType("loans.selectors")
    module.portfolio_delinquency = selector
    monkeypatch.setitem(sys.modules, "loans.selectors", module)


def test_portfolio_gauges_report_what_the_selector_says(monkeypatch, scrape):
    seen = []

    def selector(*, as_of):
        seen.append(as_of)
        return {
            "delinquent_loans": 3,
            "delinquent_customers": 2,
            "overdue_amount": Decimal("220000.50"),
        }

    _fake_selector(monkeypatch, selector)
    after = scrape()
    assert seen == [timezone.localdate()]
    assert after.value("mo_loans_portfolio_delinquent_loans") == 3
    assert after.value("mo_loans_portfolio_delinquent_customers") == 2
    assert after.value("mo_loans_portfolio_overdue_amount") == 220000.50
    assert after.value("mo_loans_portfolio_scrape_error") == 0


def test_portfolio_answer_is_reused_within_the_ttl(monkeypatch, scrape, settings):
    calls = []

    def selector(*, as_of):
        calls.append(as_of)
        return {"delinquent_loans": 0, "delinquent_customers": 0, "overdue_amount": Decimal(0)}

    _fake_selector(monkeypatch, selector)
    settings.METRICS_PORTFOLIO_TTL = 60
    scrape()
    scrape()
    assert len(calls) == 1


def test_a_failing_portfolio_query_reports_an_error_and_keeps_metrics_up(monkeypatch, scrape):
    def selector(*, as_of):
        raise OperationalError("connection refused")

    _fake_selector(monkeypatch, selector)
    after = scrape()
    assert after.value("mo_loans_portfolio_scrape_error") == 1
    assert "mo_loans_portfolio_delinquent_loans" not in after.names()
    assert "mo_loans_http_request_duration_seconds_count" in after.names()


@pytest.mark.django_db(transaction=True)
def test_metrics_still_answer_when_the_database_is_down(monkeypatch, anon_client, prometheus):
    from tests.ops.conftest import parse_metrics

    monkeypatch.setitem(connection.settings_dict, "HOST", "/nonexistent/mo-loans-socket-dir")
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"connect_timeout": 1})
    connection.close()
    try:
        assert anon_client.get("/readyz").status_code == 503
        response = prometheus.get("/metrics")
    finally:
        connection.close()
    assert response.status_code == 200
    after = parse_metrics(response.content.decode())
    assert after.value("mo_loans_portfolio_scrape_error") == 1
    # /readyz's failed attempt is already counted when /metrics collects.
    errors = after.value(
        "django_db_new_connection_errors_total", alias="default", vendor="postgresql"
    )
    assert errors >= 1


def test_portfolio_gauges_count_real_delinquent_loans(scrape):
    pytest.importorskip("loans.services")
    from tests.factories import CustomerFactory, make_loan

    customer = CustomerFactory()
    # Taken five weeks ago and never paid: four instalments missed.
    make_loan(
        customer=customer,
        external_id="late",
        amount="1000.00",
        interest_rate="0.10",
        term_weeks=10,
        taken_at=timezone.now() - timedelta(days=35),
    )
    make_loan(
        customer=customer, external_id="pending", amount="1000.00", term_weeks=10
    )  # pending: not counted
    after = scrape()
    assert after.value("mo_loans_portfolio_scrape_error") == 0
    assert after.value("mo_loans_portfolio_delinquent_loans") == 1
    assert after.value("mo_loans_portfolio_delinquent_customers") == 1
    assert after.value("mo_loans_portfolio_overdue_amount") == pytest.approx(440.00)


def test_metrics_can_be_switched_off(prometheus, settings):
    import mo_loans.urls

    settings.METRICS_ENABLED = False
    try:
        importlib.reload(mo_loans.urls)
        clear_url_caches()
        assert prometheus.get("/metrics").status_code == 404
    finally:
        settings.METRICS_ENABLED = True
        importlib.reload(mo_loans.urls)
        clear_url_caches()
    assert prometheus.get("/metrics").status_code == 200
