"""gunicorn's own log lines as JSON (``logger_class`` in ``gunicorn.conf.py``).

* The error log (start-up, worker boots and timeouts) goes through
  :class:`mo_loans.logging_json.JsonFormatter` when ``LOG_FORMAT=json``.
* The access log, when switched on, is ``access_log_format``: a JSON object
  whose atoms are JSON-escaped here, so a quote, backslash or control character
  in a path or user agent cannot break the line.
"""

from __future__ import annotations

import json
import os

from gunicorn.glogging import Logger, SafeAtoms

from mo_loans.logging_json import JsonFormatter


def json_escape(value: str) -> str:
    """``value`` as the inside of a JSON string literal."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


class JsonAtoms(SafeAtoms):
    def __init__(self, atoms):
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = json_escape(value) if isinstance(value, str) else value


class JsonLogger(Logger):
    atoms_wrapper_class = JsonAtoms

    def setup(self, cfg):
        super().setup(cfg)
        if os.environ.get("LOG_FORMAT", "json") == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())
