"""`make clean` keeps the database; `make clean-db` deletes it, after asking."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the Makefile next to a stand-in embedded database and virtualenv."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".pgdata").mkdir()
    (tmp_path / ".pgdata" / "PG_VERSION").write_text("16\n")
    (tmp_path / ".venv").mkdir()
    return tmp_path


def make(checkout: Path, *args: str, answer: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=checkout,
        input=answer,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_make_clean_keeps_the_database(checkout):
    result = make(checkout, "clean")
    assert result.returncode == 0, result.stderr
    assert not (checkout / ".venv").exists()
    assert (checkout / ".pgdata" / "PG_VERSION").exists()


@pytest.mark.parametrize("answer", ["", "n\n", "yes\n", "DELETE\n"])
def test_make_clean_db_keeps_the_database_unless_told_delete(checkout, answer):
    result = make(checkout, "clean-db", answer=answer)
    assert result.returncode != 0
    assert "Kept .pgdata/." in result.stdout
    assert (checkout / ".pgdata" / "PG_VERSION").exists()


def test_make_clean_db_deletes_when_confirmed(checkout):
    result = make(checkout, "clean-db", answer="delete\n")
    assert result.returncode == 0, result.stderr
    assert not (checkout / ".pgdata").exists()


def test_make_clean_db_force_asks_nothing(checkout):
    result = make(checkout, "clean-db", "FORCE=1")
    assert result.returncode == 0, result.stderr
    assert "Type" not in result.stdout
    assert not (checkout / ".pgdata").exists()


def fake_bin(tmp_path: Path, *, uid: int) -> dict[str, str]:
    """A PATH whose ``id -u`` says ``uid`` and whose ``apt-get`` only writes down its arguments."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "apt-get.calls"}\n')
    for tool in ("id", "apt-get"):
        (bin_dir / tool).chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


def make_with(checkout: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def tools(present: set[str]) -> list[str]:
    """``make`` variables naming each tool: an executable when ``present``, else nowhere."""
    names = {"CHROMIUM": "chromium", "CHROMEDRIVER": "chromium-driver", "PGBOUNCER": "pgbouncer"}
    return [
        f"{var}={'/bin/sh' if pkg in present else '/nonexistent'}" for var, pkg in names.items()
    ]


def test_system_deps_does_nothing_when_everything_is_there(checkout, tmp_path):
    everything = {"chromium", "chromium-driver", "pgbouncer"}
    result = make_with(checkout, fake_bin(tmp_path, uid=0), "system-deps", *tools(everything))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "apt-get.calls").exists()


def test_system_deps_installs_only_what_is_missing_after_one_update(checkout, tmp_path):
    result = make_with(checkout, fake_bin(tmp_path, uid=0), "system-deps", *tools({"chromium"}))
    assert result.returncode == 0, result.stderr
    assert "installed chromium-driver pgbouncer" in result.stdout
    calls = (tmp_path / "apt-get.calls").read_text().splitlines()
    assert len(calls) == 2
    assert calls[0].startswith("update")
    assert calls[1].startswith("install") and calls[1].endswith(" chromium-driver pgbouncer")


def test_system_deps_without_root_says_which_tests_skip(checkout, tmp_path):
    result = make_with(checkout, fake_bin(tmp_path, uid=1000), "system-deps", *tools(set()))
    assert result.returncode == 0, result.stderr
    assert "missing chromium chromium-driver pgbouncer and not root" in result.stdout
    assert not (tmp_path / "apt-get.calls").exists()


def test_make_test_and_ci_install_the_system_packages_first():
    makefile = (ROOT / "Makefile").read_text()
    assert "\ntest: lint system-deps\n" in makefile
    assert "make system-deps" in (ROOT / ".ci" / "run").read_text()
