"""Refuse to start with settings that are unsafe in production.

Imported by ``mo_loans.settings``: it must import nothing from Django's apps.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# What the example files ship (settings.ini.example, docker-compose.yml,
# deploy/k8s/secret.example.yaml) and the old built-in default: never a real key.
PLACEHOLDER_PREFIXES = ("change-me", "replace-with-", "insecure-", "django-insecure-")


def is_placeholder_secret_key(key: str) -> bool:
    return not key.strip() or key.strip().lower().startswith(PLACEHOLDER_PREFIXES)


def checkout_secret_key(path: Path) -> str:
    """A random key kept in a git-ignored file of this checkout, made on first use.

    Only for the embedded database (no ``DATABASE_HOST``): a developer's own
    machine. Any other deployment must set ``SECRET_KEY`` itself.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


def secret_key_check(*, key: str, debug: bool) -> None:
    """With DEBUG off, a missing or placeholder SECRET_KEY stops the process at start."""
    if not debug and is_placeholder_secret_key(key):
        raise ImproperlyConfigured(
            "SECRET_KEY is missing or a placeholder and DEBUG is off: refusing to start. "
            "Set SECRET_KEY to a long random string, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
