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
