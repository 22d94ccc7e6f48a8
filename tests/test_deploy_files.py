"""No Docker engine runs here, so the deployment files are checked against their schemas."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_compose_file_matches_the_compose_spec():
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_migrations_once_before_the_api():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:16")
    assert "migrate" in services["migrate"]["command"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_dockerfile_runs_gunicorn_as_a_non_root_user_with_a_healthcheck():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    user_lines = [line for line in lines if line.startswith("USER ")]
    assert user_lines and user_lines[-1] not in {"USER root", "USER 0"}
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert any(line.startswith("CMD") and "gunicorn" in line for line in lines)
