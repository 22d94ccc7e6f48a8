"""gunicorn settings; every value can be overridden from the environment.

Prometheus multiprocess mode: each worker writes its metric values to files in
``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics`` (served by any one worker)
adds up all of them. The directory is set here, before any worker starts,
emptied when gunicorn starts, and a dead worker's live gauges are dropped.
"""

import os
import shutil
import tempfile
from pathlib import Path

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads per worker (gthread). Requests spend most of their time waiting on
# PostgreSQL, so a few threads per process keep the CPUs busy; each thread holds
# its own database connection (workers × threads in all).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A worker silent for this long is killed and replaced (a stuck request).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (a rolling update) workers get this long to finish their requests.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle a worker after this many requests (give or take the jitter) so that a slow
# leak cannot grow forever. A restart costs a second of boot and drops the worker's
# keep-alive connections and database sessions: at 1,000 requests a second per
# worker, 10,000 meant a restart every 10-20 s. 200,000 ± 50,000 is minutes at full
# load and days at a normal one; the jitter keeps the workers from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "200000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "50000"))
# Each worker opens its own listening socket with SO_REUSEPORT, and the kernel
# spreads new connections over them. With one shared socket, whichever worker is
# idle first accepts, and keep-alive clients then stay on it: under load one worker
# served most connections while the other idled (docs/performance.md).
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1") == "1"
# Heartbeat files: /tmp is a memory-backed emptyDir on Kubernetes.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None
# gunicorn's control socket ($HOME/.gunicorn/gunicorn.ctl) is unused here, would be
# shared by every gunicorn of one user and cannot be made on a read-only root.
control_socket_disable = True

# --- logs ------------------------------------------------------------------------
# The app writes one JSON line per request itself (with the view and request id),
# so gunicorn's access log is off unless GUNICORN_ACCESS_LOG names a file ("-" is
# stdout). When on, each line is this JSON object; JsonLogger JSON-escapes every
# atom, so a quote in a user agent cannot break the line.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = (
    '{"event": "http_access", "time": "%(t)s", "remote_addr": "%(h)s", "method": "%(m)s", '
    '"path": "%(U)s", "query": "%(q)s", "status": %(s)s, "bytes": "%(b)s", '
    '"duration_ms": %(M)s, "user_agent": "%(a)s", "request_id": "%({x-request-id}o)s"}'
)
# gunicorn's own messages (boot, worker timeouts) as JSON when LOG_FORMAT=json.
logger_class = "mo_loans.logging_gunicorn.JsonLogger"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# --- Prometheus multiprocess mode ---------------------------------------------------
# Set in the master before any worker (or app module) exists. Given by the
# environment on Kubernetes and in Docker; a private temporary folder otherwise,
# so that two gunicorns on one machine never share (or wipe) each other's files.
# (This file is read again on a reload, hence the marker variable.)
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mo-loans-metrics-")
    os.environ["MO_LOANS_OWN_METRICS_DIR"] = "1"


# --- the metrics port -------------------------------------------------------------
# METRICS_PORT: every worker also listens on METRICS_BIND:METRICS_PORT, where the
# app serves /metrics and nothing else (mo_loans.observability.views). Added in
# on_starting, so that it joins whatever --bind the command line gave.
metrics_port = int(os.environ.get("METRICS_PORT", "0") or 0)
metrics_bind = os.environ.get("METRICS_BIND", "127.0.0.1")


def on_starting(server):
    """Start every run with an empty metrics folder: old files would add stale counts."""
    if metrics_port:
        address = f"{metrics_bind}:{metrics_port}"
        if address not in server.cfg.bind:
            server.cfg.set("bind", [*server.cfg.bind, address])
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    server.log.info("prometheus multiprocess dir %s", path)


def child_exit(server, worker):
    """Drop the live gauges of a worker that exited; its counters stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("MO_LOANS_OWN_METRICS_DIR"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
