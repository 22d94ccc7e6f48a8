"""Safe defaults: no start on a placeholder SECRET_KEY; a production profile for check --deploy."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mo_loans.settings_checks import checkout_secret_key, is_placeholder_secret_key

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3y-" + "x1Y2z3W4" * 8


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "HTTPS"}}
    # DATABASE_HOST set: settings never start the embedded server, and nothing connects.
    base |= {"DATABASE_HOST": "unused.invalid", "ALLOWED_HOSTS": "loans.example.com"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def shipped_placeholders() -> list[str]:
    ini = (ROOT / "settings.ini.example").read_text()
    secret = yaml.safe_load((ROOT / "deploy/k8s/secret.example.yaml").read_text())
    return [
        re.search(r"^SECRET_KEY=(.*)$", ini, re.MULTILINE).group(1),
        secret["stringData"]["SECRET_KEY"],
        "insecure-dev-key-change-me-in-production",  # the old built-in default
        "change-me-in-production",  # the old compose default
        "",
    ]


@pytest.mark.parametrize("key", shipped_placeholders())
def test_every_shipped_placeholder_is_a_placeholder(key):
    assert is_placeholder_secret_key(key)


def test_a_random_key_is_not_a_placeholder():
    assert not is_placeholder_secret_key(STRONG_KEY)


def test_debug_off_and_a_placeholder_key_refuses_to_start():
    result = manage("check", DEBUG="False", SECRET_KEY="change-me")
    assert result.returncode != 0
    assert "SECRET_KEY is missing or a placeholder" in result.stderr


def test_debug_off_and_no_key_with_a_database_host_refuses_to_start():
    result = manage("check", DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY is missing or a placeholder" in result.stderr


def test_debug_on_may_use_a_placeholder():
    result = manage("check", DEBUG="True", SECRET_KEY="change-me")
    assert result.returncode == 0, result.stderr


def test_compose_has_no_fallback_secret_key():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    value = compose["x-app-env"]["SECRET_KEY"]
    assert value.startswith("${SECRET_KEY:?"), value  # required: compose stops without it


def test_a_checkout_key_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / ".secret_key"
    first = checkout_secret_key(path)
    assert len(first) >= 50 and not is_placeholder_secret_key(first)
    assert checkout_secret_key(path) == first
    assert path.stat().st_mode & 0o077 == 0


def test_the_production_profile_passes_check_deploy():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY=STRONG_KEY,
        HTTPS="True",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_the_profile_check_deploy_complains():
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=STRONG_KEY)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout + result.stderr


def test_the_k8s_config_turns_the_profile_on():
    config = yaml.safe_load((ROOT / "deploy/k8s/configmap.yaml").read_text())["data"]
    assert config["HTTPS"] == "True"
    assert config["DEBUG"] == "False"


@pytest.mark.django_db
def test_https_redirect_spares_probes_and_scrapes(anon_client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert anon_client.get("/healthz").status_code == 200
    assert anon_client.get("/readyz").status_code == 200
    assert anon_client.get("/api/customers").status_code == 301
    forwarded = anon_client.get("/api/customers", HTTP_X_FORWARDED_PROTO="https")
    assert forwarded.status_code == 401
