# Brickyard developer and demo tasks. Every target installs what it needs on a fresh
# Debian 12 machine (run as root), so `make demo` and `make test` work from a new clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv postgres promtool chromium test lint typecheck unit integration contract demo demo-clean bench clean

$(STAMP): pyproject.toml
	@if ! $(PY) -m venv --help >/dev/null 2>&1 || ! $(PY) -c 'import ensurepip' >/dev/null 2>&1; then \
	  echo "installing python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null; fi
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# PostgreSQL 15 for the tests that also run on it (tests/pg.py starts its own server on
# loopback, in a temporary directory). Only the tests need it: the server runs on SQLite
# without it. Installed without Debian's default cluster, so nothing listens on 5432.
PG_BIN := /usr/lib/postgresql/15/bin
postgres:
	@if [ ! -x $(PG_BIN)/initdb ]; then \
	  echo "installing postgresql-15 (for the PostgreSQL tests)"; \
	  mkdir -p /etc/postgresql-common; \
	  [ -e /etc/postgresql-common/createcluster.conf ] || \
	    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    -o Dpkg::Options::=--force-confold postgresql-15 >/dev/null; fi

# promtool checks and unit-tests deploy/prometheus/alerts.yml (tests/unit/test_prometheus_rules.py).
promtool:
	@if ! command -v promtool >/dev/null 2>&1; then \
	  echo "installing prometheus (for promtool)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends prometheus >/dev/null; fi

# Headless Chromium for the dashboard's browser tests (tests/browser, driven by Playwright with
# executable_path=/usr/bin/chromium: Playwright's own browser download is never used).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing chromium (for the dashboard's browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

LINT_PATHS := $(wildcard src tests bench)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

# The README's test command: lint, types, then every test suite.
test: $(STAMP) postgres promtool chromium lint typecheck
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# Leaves the server running (detached; pid and log in .demo) and prints how to use it.
# BRICKYARD_DEMO_DIR (default .demo) and TB_NAME (the bed, default tb) select another demo.
demo: $(STAMP)
	$(BIN)/python -m brickyard.demo

# Unmounts, deletes the demo volume, stops the server, removes the GlusterFS test bed
# (testbed/tb down), then .demo. The server is looked for even when .demo is gone.
demo-clean:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m brickyard.demo clean; else rm -rf .demo; fi

bench: $(STAMP)
	$(BIN)/python bench/create.py

clean: demo-clean
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
