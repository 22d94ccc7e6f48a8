"""deploy/k8s: every manifest validates (kubernetes-validate --strict) and fits the app."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent
# The oldest Kubernetes minor we claim to support, and the newest the validator ships.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
NOT_APPLIED_BY_KUSTOMIZE = {
    "secret.example.yaml",
    "secret-migrate.example.yaml",
    "migrate-job.yaml",
}


def manifests() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly(version):
    result = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "-k", version, *map(str, manifests())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(manifests()), result.stdout


def test_the_required_kinds_are_there():
    kinds = {yaml.safe_load(path.read_text())["kind"] for path in manifests()}
    assert kinds >= {
        "Namespace",
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "Job",
        "HorizontalPodAutoscaler",
    }


def test_kustomization_applies_everything_but_the_secret_example_and_the_job():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert all((K8S / name).exists() for name in listed)
    assert listed == {path.name for path in manifests()} - NOT_APPLIED_BY_KUSTOMIZE


def api_container() -> dict:
    (container,) = load("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return container


def test_probes_use_readyz_and_healthz():
    container = api_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    (port,) = [port for port in container["ports"] if port["name"] == "http"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {port['containerPort']}" in dockerfile


def test_metrics_have_their_own_port_that_no_service_exposes():
    container = api_container()
    config = load("configmap.yaml")["data"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == int(config["METRICS_PORT"])
    annotations = load("deployment.yaml")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == config["METRICS_PORT"]
    service_ports = [port["targetPort"] for port in load("service.yaml")["spec"]["ports"]]
    assert service_ports == ["http"]
    assert "METRICS_TOKEN" not in config  # a secret, when used


def test_pods_run_locked_down_as_the_images_user():
    pod = load("deployment.yaml")["spec"]["template"]["spec"]
    job_pod = load("migrate-job.yaml")["spec"]["template"]["spec"]
    cron_pod = load("close-portfolio-cronjob.yaml")["spec"]["jobTemplate"]["spec"]["template"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile).group(1)
    for spec in (pod, job_pod, cron_pod["spec"]):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert str(spec["securityContext"]["runAsUser"]) == uid
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {"requests", "limits"} <= set(container["resources"])
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts  # noqa: S108 (a mount path, not a file we open)


def test_the_metrics_folder_is_a_writable_volume():
    container = api_container()
    env = {item["name"]: item.get("value") for item in container["env"]}
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts


def test_allowed_hosts_include_the_pod_ip_for_probes_and_scrapes():
    env = {item["name"]: item for item in api_container()["env"]}
    names = list(env)
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert "$(POD_IP)" in env["ALLOWED_HOSTS"]["value"]
    # $(VAR) only expands variables defined before it.
    assert names.index("POD_IP") < names.index("ALLOWED_HOSTS")
    assert names.index("PUBLIC_HOSTS") < names.index("ALLOWED_HOSTS")


def test_config_keys_are_settings_the_app_reads():
    settings_py = (ROOT / "mo_loans/settings.py").read_text()
    read = set(re.findall(r'config\(\s*"([A-Z0-9_]+)"', settings_py))
    read |= set(re.findall(r'environ.get\("([A-Z_]+)"', (ROOT / "gunicorn.conf.py").read_text()))
    read.add("PUBLIC_HOSTS")  # combined into ALLOWED_HOSTS by the Deployment
    config = set(load("configmap.yaml")["data"])
    secret = set(load("secret.example.yaml")["stringData"])
    assert config - read == set()
    assert secret <= read
    assert {"SECRET_KEY", "DATABASE_PASSWORD"} <= secret
    assert not {"SECRET_KEY", "DATABASE_PASSWORD"} & config


def test_service_hpa_pdb_and_ingress_point_at_the_api():
    deployment = load("deployment.yaml")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = load("service.yaml")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = load("pdb.yaml")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = load("hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


def test_the_ingress_never_routes_metrics_or_admin():
    ingress = load("ingress.yaml")
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    # The API, and the docs pages' own files (the admin's static files stay inside).
    assert paths == ["/api/", "/static/drf_spectacular_sidecar/"]


def test_the_secret_examples_hold_placeholders_only():
    for name in ("secret.example.yaml", "secret-migrate.example.yaml"):
        values = load(name)["stringData"].values()
        assert all(value.startswith("replace-with-") for value in values)


def test_only_the_migrate_job_gets_the_owners_credentials():
    read = set(re.findall(r'config\(\s*"([A-Z_]+)"', (ROOT / "mo_loans/settings.py").read_text()))
    owner_secret = load("secret-migrate.example.yaml")
    assert set(owner_secret["stringData"]) == {"DATABASE_OWNER_PASSWORD"} <= read
    name = owner_secret["metadata"]["name"]
    (job,) = load("migrate-job.yaml")["spec"]["template"]["spec"]["containers"]
    assert name in {ref.get("secretRef", {}).get("name") for ref in job["envFrom"]}
    assert {"name": "DATABASE_OWNER_USER", "value": "mo_loans_owner"} in job["env"]
    api = api_container()
    assert name not in {ref.get("secretRef", {}).get("name") for ref in api["envFrom"]}
    assert "DATABASE_OWNER_USER" not in {item["name"] for item in api["env"]}
    config = load("configmap.yaml")["data"]
    assert config["DATABASE_USER"] != "mo_loans_owner"
    assert not {"DATABASE_OWNER_USER", "DATABASE_OWNER_PASSWORD"} & set(config)


def test_the_api_reaches_primary_and_replica_through_pgbouncer_and_migrates_directly():
    config = load("configmap.yaml")["data"]
    service = load("pgbouncer-service.yaml")
    assert config["DATABASE_HOST"] == config["DATABASE_REPLICA_HOST"] == service["metadata"]["name"]
    assert config["DATABASE_PORT"] == str(service["spec"]["ports"][0]["port"])
    ini = load("pgbouncer-config.yaml")["data"]["pgbouncer.ini"]
    assert "pool_mode = transaction" in ini
    assert f"\n{config['DATABASE_NAME']} = host=postgres-rw." in ini
    assert f"\n{config['DATABASE_REPLICA_NAME']} = host=postgres-ro." in ini
    pods = load("pgbouncer-deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pods.items()
    (job,) = load("migrate-job.yaml")["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in job["env"]}
    assert env["DATABASE_HOST"].startswith("postgres-rw.") and env["DATABASE_PORT"] == "5432"


def test_days_are_closed_nightly_on_the_primary_by_the_app_role():
    cron = load("close-portfolio-cronjob.yaml")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    # Its midnight is the app's: days are local dates in TIME_ZONE.
    assert cron["timeZone"] == load("configmap.yaml")["data"]["TIME_ZONE"]
    (container,) = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "close_portfolio"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["DATABASE_HOST"].startswith("postgres-rw.")
    assert "DATABASE_OWNER_USER" not in env
    assert {ref.get("secretRef", {}).get("name") for ref in container["envFrom"]} >= {
        "mo-loans-secrets"
    }
