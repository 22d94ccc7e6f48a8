import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from mo_loans.logging_json import JsonFormatter, RequestIdFilter
from mo_loans.observability.portfolio import portfolio_collector, risk_collector


class Scrape(dict):
    """``/metrics`` parsed: ``{(sample name, frozenset of label pairs): value}``."""

    def value(self, name: str, **labels: str) -> float:
        return self.get((name, frozenset(labels.items())), 0.0)

    def names(self) -> set[str]:
        return {name for name, _ in self}

    def family_total(self, name: str, **labels: str) -> float:
        """Sum over every series of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.items() if n == name and wanted <= ls)


def parse_metrics(text: str) -> Scrape:
    scrape = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            scrape[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return scrape


METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    """/metrics on the API port needs METRICS_TOKEN; these tests scrape it there."""
    settings.METRICS_TOKEN = METRICS_TOKEN


@pytest.fixture
def prometheus() -> APIClient:
    """A client that scrapes as Prometheus does: ``Authorization: Bearer <METRICS_TOKEN>``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    return client


@pytest.fixture
def scrape(prometheus):
    def _scrape() -> Scrape:
        response = prometheus.get("/metrics")
        assert response.status_code == 200
        return parse_metrics(response.content.decode())

    return _scrape


@pytest.fixture(autouse=True)
def _fresh_portfolio(settings):
    """Portfolio gauges computed on every scrape, never from a previous test's cache."""
    settings.METRICS_PORTFOLIO_TTL = 0
    portfolio_collector.clear()
    risk_collector.clear()
    yield
    portfolio_collector.clear()
    risk_collector.clear()


class JsonLines:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines() if line]

    def events(self, event: str) -> list[dict]:
        return [line for line in self.all() if line.get("event") == event]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Every log line written during the test, formatted as in production (LOG_FORMAT=json)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    loggers = [logging.getLogger("mo_loans.request"), logging.getLogger("mo_loans.events")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    try:
        yield JsonLines(stream)
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
