"""The compose `monitoring` profile: Prometheus config, Grafana provisioning, Loki and Alloy.

No Docker engine runs here, so each file is checked for shape, and every metric
a dashboard panel or an alert uses is looked up in a live scrape of /metrics.
"""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
GRAFANA = MONITORING / "grafana"

# The part of Prometheus's configuration file format that we use. Prometheus
# refuses unknown keys, so every level here refuses them too (a typo fails).
DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h|d|w|y))+$"}
LABELS = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
    "additionalProperties": {"type": "string"},
}
PROMETHEUS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["scrape_configs"],
    "properties": {
        "global": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "scrape_interval": DURATION,
                "scrape_timeout": DURATION,
                "evaluation_interval": DURATION,
                "external_labels": LABELS,
            },
        },
        "rule_files": {"type": "array", "items": {"type": "string"}},
        "scrape_configs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["job_name"],
                "properties": {
                    "job_name": {"type": "string", "minLength": 1},
                    "metrics_path": {"type": "string", "pattern": "^/"},
                    "scheme": {"enum": ["http", "https"]},
                    "scrape_interval": DURATION,
                    "scrape_timeout": DURATION,
                    "static_configs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["targets"],
                            "properties": {
                                "targets": {
                                    "type": "array",
                                    "items": {"type": "string", "pattern": r"^[^/:\s]+:\d+$"},
                                },
                                "labels": LABELS,
                            },
                        },
                    },
                },
            },
        },
    },
}
RULES_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "rules"],
                "properties": {
                    "name": {"type": "string"},
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["alert", "expr"],
                            "properties": {
                                "alert": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": DURATION,
                                "labels": LABELS,
                                "annotations": LABELS,
                            },
                        },
                    },
                },
            },
        }
    },
}

APP_METRIC = re.compile(r"\b((?:django|mo_loans)_[a-zA-Z0-9_]+)")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture
def exposed_metric_names(client, anon_client, prometheus) -> set[str]:
    """Sample names in a live /metrics, after requests and queries have been made."""
    from tests.ops.conftest import parse_metrics

    client.get("/api/customers")
    anon_client.get("/healthz")
    response = prometheus.get("/metrics")
    assert response.status_code == 200
    return parse_metrics(response.content.decode()).names()


def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "mo-loans.json").read_text())


def test_prometheus_config_is_well_formed_and_scrapes_the_api():
    config = load_yaml(MONITORING / "prometheus.yml")
    jsonschema.validate(config, PROMETHEUS_SCHEMA)
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "mo-loans-api"]
    assert job["metrics_path"] == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    metrics_port = compose()["x-app-env"]["METRICS_PORT"]
    assert targets == [f"api:{metrics_port}"]
    assert compose()["x-app-env"]["METRICS_BIND"] == "0.0.0.0"  # noqa: S104 (the container listens for the compose network)
    # The API is published; the metrics port stays inside the compose network.
    ports = compose()["services"]["api"]["ports"]
    assert "8000:8000" in ports
    assert not any(metrics_port in port for port in ports)


def test_the_prometheus_schema_catches_typos():
    config = load_yaml(MONITORING / "prometheus.yml")
    config["scrape_configs"][0]["metric_path"] = "/metrics"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, PROMETHEUS_SCHEMA)


@pytest.mark.django_db
def test_alert_rules_are_well_formed_and_use_exposed_metrics(exposed_metric_names):
    rules = load_yaml(MONITORING / "alerts.yml")
    jsonschema.validate(rules, RULES_SCHEMA)
    mounted = compose()["services"]["prometheus"]["volumes"]
    prometheus = load_yaml(MONITORING / "prometheus.yml")
    for rule_file in prometheus["rule_files"]:
        assert any(volume.endswith(f":{rule_file}:ro") for volume in mounted)
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(APP_METRIC.findall(rule["expr"])) <= exposed_metric_names, rule["alert"]


def test_monitoring_services_only_start_with_the_profile():
    services = compose()["services"]
    monitoring = {name for name, s in services.items() if "monitoring" in s.get("profiles", [])}
    assert monitoring == {"prometheus", "grafana", "loki", "alloy"}
    assert not any(services[name].get("profiles") for name in ("db", "migrate", "api"))


def test_every_file_the_compose_file_mounts_is_in_the_repository():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_grafana_datasources_point_at_the_compose_services():
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "datasources.yml")
    by_uid = {source["uid"]: source for source in datasources["datasources"]}
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["loki"]["url"] == "http://loki:3100"
    services = compose()["services"]
    assert {"prometheus", "loki"} <= set(services)


def test_grafana_loads_the_dashboard_folder_that_compose_mounts():
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")
    (provider,) = providers["providers"]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./deploy/monitoring/grafana/dashboards:{provider['options']['path']}:ro" in mounts


@pytest.mark.django_db
def test_every_dashboard_panel_queries_metrics_the_app_exposes(exposed_metric_names):
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "datasources.yml")
    types = {source["uid"]: source["type"] for source in datasources["datasources"]}
    board = dashboard()
    assert board["uid"] and board["title"]
    panels = board["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    used = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        kind = types[panel["datasource"]["uid"]]
        assert panel["datasource"]["type"] == kind
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel["targets"]:
            expr = target["expr"]
            assert target["datasource"] == panel["datasource"]
            if kind == "prometheus":
                metrics = set(APP_METRIC.findall(expr))
                assert metrics, f"{panel['title']}: no app metric in {expr}"
                assert metrics <= exposed_metric_names, panel["title"]
                used |= metrics
            else:
                assert kind == "loki"
                # The stream selector uses a label the log shipper sets.
                assert re.match(r'^\{service="api"\}', expr), expr
                assert "| json" in expr
    titles = " ".join(panel["title"].lower() for panel in panels)
    for subject in ("request rate", "latency", "error rate", "payments", "delinquent loans"):
        assert subject in titles
    assert {
        "mo_loans_http_request_duration_seconds_bucket",
        "mo_loans_payments_total",
        "mo_loans_portfolio_delinquent_loans",
    } <= used


def test_loki_keeps_logs_on_its_volume():
    config = load_yaml(MONITORING / "loki.yml")
    assert config["auth_enabled"] is False
    assert config["server"]["http_listen_port"] == 3100
    assert config["common"]["path_prefix"] == "/loki"
    assert any(v.endswith(":/loki") for v in compose()["services"]["loki"]["volumes"])
    (schema,) = config["schema_config"]["configs"]
    assert schema["store"] == "tsdb" and schema["schema"] == "v13"


def test_alloy_ships_container_logs_to_loki_with_a_service_label():
    text = (MONITORING / "config.alloy").read_text()
    code = re.sub(r"//.*", "", text)
    assert code.count("{") == code.count("}")
    assert 'url = "http://loki:3100/loki/api/v1/push"' in text
    assert 'target_label  = "service"' in text
    assert "__meta_docker_container_label_com_docker_compose_service" in text
    assert (
        "/var/run/docker.sock:/var/run/docker.sock:ro" in compose()["services"]["alloy"]["volumes"]
    )
    # Request ids stay in the line, never a label (one stream per request would sink Loki).
    assert "request_id" not in code
