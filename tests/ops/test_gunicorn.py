"""gunicorn.conf.py for real: two workers, one aggregated /metrics, JSON log lines on stdout."""

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.ops.conftest import parse_metrics
from tests.support.gunicorn import GunicornServer, free_port

NASTY_AGENT = 'probe "quoted" \\ back\\slash'


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (http to localhost)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


def healthz_count(metrics_base: str) -> float:
    _, _, body = get(f"{metrics_base}/metrics")
    scrape = parse_metrics(body.decode())
    return scrape.value(
        "mo_loans_http_request_duration_seconds_count", view="healthz", method="GET", status="200"
    )


def worker_pids(metrics_dir: Path, master: int) -> set[int]:
    pids = {int(path.stem.rsplit("_", 1)[1]) for path in metrics_dir.glob("*.db")}
    return pids - {master}


@pytest.fixture
def server(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from a previous run")
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "METRICS_TOKEN"} | {
        "METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GUNICORN_ACCESS_LOG": "-",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_PORTFOLIO_TTL": "0",
    }
    gunicorn = GunicornServer(
        env=env,
        workers=2,
        ready_path="/metrics",
        ready_any_status=True,
        start_timeout=30,
        log_path=tmp_path / "stdout.log",
        inherit_env=False,
    )
    with gunicorn:
        gunicorn.wait_for(f"http://127.0.0.1:{metrics_port}/metrics", any_status=True)
        yield gunicorn.url, gunicorn.process, metrics_dir, gunicorn.log_path, metrics_port


def status_of(url: str) -> int:
    try:
        return get(url)[0]
    except urllib.error.HTTPError as error:
        return error.code


def test_metrics_are_served_on_the_metrics_port_only(server):
    base, _, _, _, metrics_port = server
    metrics = f"http://127.0.0.1:{metrics_port}"
    status, headers, body = get(f"{metrics}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"mo_loans_http_request_duration_seconds" in body
    assert status_of(f"{base}/metrics") == 404  # no METRICS_TOKEN: not on the API port
    assert status_of(f"{metrics}/api/customers") == 404
    assert status_of(f"{metrics}/healthz") == 404


def test_metrics_add_up_every_worker_and_survive_worker_restarts(server):
    base, master, metrics_dir, _, metrics_port = server
    metrics = f"http://127.0.0.1:{metrics_port}"
    assert not (metrics_dir / "counter_999999.db").exists(), "stale files are removed at start"
    for _ in range(20):
        status, headers, _ = get(f"{base}/healthz", {"User-Agent": NASTY_AGENT})
        assert status == 200 and headers["X-Request-ID"]
    # Whichever worker answers the scrape, it reports all twenty.
    assert {healthz_count(metrics) for _ in range(6)} == {20}

    workers = worker_pids(metrics_dir, master.pid)
    assert 1 <= len(workers) <= 2
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while worker_pids(metrics_dir, master.pid) <= workers and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            get(f"{metrics}/metrics")
        except OSError:
            continue
    # Counters of workers that are gone still count.
    assert healthz_count(metrics) == 20


def is_probe(line: dict) -> bool:
    return line.get("path") == "/healthz"


def test_every_line_gunicorn_and_the_app_write_is_json(server):
    base, master, _, log_path, _ = server
    get(f"{base}/healthz", {"User-Agent": NASTY_AGENT, "X-Request-ID": "gunicorn-log-1"})
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert any(line.get("logger") == "gunicorn.error" for line in lines)
    (app_line,) = [line for line in lines if line.get("event") == "http_request" and is_probe(line)]
    (access,) = [line for line in lines if line.get("event") == "http_access" and is_probe(line)]
    assert app_line["request_id"] == access["request_id"] == "gunicorn-log-1"
    assert access["user_agent"] == NASTY_AGENT
    assert access["status"] == 200 and access["path"] == "/healthz"
    assert isinstance(access["duration_ms"], int)


def test_gunicorn_passes_the_raw_path_so_an_encoded_slash_is_no_route(server):
    base, _, _, _, _ = server
    request = urllib.request.Request(  # noqa: S310 (http to localhost)
        f"{base}/api/customers/acme%2F", method="PATCH", data=b"{}"
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    # 404 before authentication: the path names no resource. Routed as "acme", it would be 401.
    assert answer.value.code == 404
    assert json.loads(answer.value.read())["code"] == "route_not_found"
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{base}/api/customers/acme/", timeout=5)  # noqa: S310
    assert answer.value.code == 401
