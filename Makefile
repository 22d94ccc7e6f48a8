# MO Loans. `make run` serves the API, `make test` runs lint and the test suite.
# Both create the virtual environment and install what they need first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test lint format migrate bench bench-http wrk db-stop clean clean-db system-deps browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt dev-requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r dev-requirements.txt
	touch $(VENV)/.runtime $@

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/gunicorn mo_loans.wsgi --config gunicorn.conf.py --bind 127.0.0.1:$(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Debian packages some tests need: chromium and chromium-driver (tests/browser/),
# pgbouncer (tests/ops/test_pgbouncer.py). Whatever is missing is installed with
# apt-get when we are root (one `apt-get update` first); otherwise say why: the
# tests that need it then skip, each saying so.
SYSTEM_DEPS_LOG := /tmp/mo-loans-system-deps.log
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
PGBOUNCER ?= /usr/sbin/pgbouncer
system-deps:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	[ -x $(CHROMEDRIVER) ] || missing="$$missing chromium-driver"; \
	[ -x $(PGBOUNCER) ] || missing="$$missing pgbouncer"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "system-deps: missing$$missing and not root; the tests that need them will skip"; \
		exit 0; fi; \
	echo "system-deps: installing$$missing with apt-get (log: $(SYSTEM_DEPS_LOG))"; \
	if { apt-get update -qq -o DPkg::Lock::Timeout=600 && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 $$missing; } >$(SYSTEM_DEPS_LOG) 2>&1; then \
		echo "system-deps: installed$$missing"; \
	else \
		echo "system-deps: apt-get failed (see $(SYSTEM_DEPS_LOG)); the tests that need$$missing will skip"; \
		tail -n 3 $(SYSTEM_DEPS_LOG); fi

# The name of the target before it also installed pgbouncer.
browser-deps: system-deps

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
# A throwaway SECRET_KEY when none is set (settings refuse to start without one
# once DATABASE_HOST is set; the embedded database uses the checkout's .secret_key).
test: lint system-deps
	SECRET_KEY="$${SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Benchmarks work on scratch databases; like the tests, they need no SECRET_KEY of yours.
THROWAWAY_KEY = SECRET_KEY="$${SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')}"

bench: $(VENV)/.dev
	$(THROWAWAY_KEY) $(BIN)/python bench/run.py $(BENCH)

# HTTP load under gunicorn with Debian's wrk (issue 14); figures in docs/performance.md.
# wrk is installed with apt-get when missing and we are root; otherwise say so and stop.
WRK_LOG := /tmp/mo-loans-wrk.log
wrk:
	@if command -v wrk >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "bench-http: wrk is missing and not root: apt-get install wrk" >&2; exit 1; fi; \
	echo "bench-http: installing wrk with apt-get (log: $(WRK_LOG))"; \
	{ apt-get update -qq -o DPkg::Lock::Timeout=600 && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 wrk; } >$(WRK_LOG) 2>&1 \
	|| { echo "bench-http: apt-get failed (see $(WRK_LOG))" >&2; tail -n 3 $(WRK_LOG); exit 1; }

bench-http: $(VENV)/.dev wrk
	$(THROWAWAY_KEY) $(BIN)/python bench/bench_http.py

# The embedded PostgreSQL keeps running after make run / make test; this stops it.
db-stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m mo_loans.embedded_db stop; \
	else echo "No $(VENV) here, so no embedded PostgreSQL was started from it."; fi

# Removes the virtual environment only. The embedded database (.pgdata/, your
# customers, loans and payments) stays: deleting it is `make clean-db`.
clean: db-stop
	rm -rf $(VENV)

# Deletes the embedded database for good (and this checkout's .secret_key). It
# asks first; FORCE=1 skips the question (scripts, CI).
clean-db:
	@if [ -d .pgdata ] && [ "$(FORCE)" != "1" ]; then \
	  printf 'Delete the embedded database in .pgdata/ and everything in it? Type "delete" to confirm: '; \
	  read answer; \
	  if [ "$$answer" != "delete" ]; then echo "Kept .pgdata/."; exit 1; fi; \
	fi
	-@if [ -x $(BIN)/python ]; then $(BIN)/python -c "from mo_loans.embedded_db import embedded_stop; embedded_stop()"; fi
	rm -rf .pgdata .secret_key
