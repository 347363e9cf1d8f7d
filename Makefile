# Everything goes through uv (installed into .tools/ on first use) and npm: only Python 3.11+, Node.js 20+
# and make are needed beforehand.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(CURDIR)/.tools/bin/uv
RUN := $(UV) run --frozen
DASHBOARD := services/dashboard
DASHBOARD_SOURCES := $(shell find $(DASHBOARD)/src $(DASHBOARD)/index.html $(DASHBOARD)/package.json \
	$(DASHBOARD)/vite.config.* $(DASHBOARD)/tsconfig*.json -type f 2>/dev/null)
# `make run-stack` uses the local PostgreSQL and RabbitMQ unless told otherwise.
STACK_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/jobscheduler

.PHONY: help install dashboard openapi run run-stack token test faults guarantees chaos lint fmt bench bench-legs clean

help:
	@echo "make run        start the whole scheduler (embedded mode) on http://127.0.0.1:8000"
	@echo "make test       every test: dashboard unit tests, then unit/contract/integration/e2e/fast faults"
	@echo "make faults     the long fault-tolerance scenarios (broker kill, minute-long database outage, ...)"
	@echo "make guarantees render the README's guarantees table from what the fault scenarios measured"
	@echo "make chaos      3 minutes of seeded random faults on a real cluster (CHAOS_SECONDS, CHAOS_SEED)"
	@echo "make lint       ruff + mypy --strict"
	@echo "make fmt        format and autofix"
	@echo "make run-stack  api + 2 timekeepers + 2 executors over local PostgreSQL and RabbitMQ"
	@echo "make token      print a Super Admin token for the embedded installation"
	@echo "make openapi    after an API change: refresh the OpenAPI snapshot and the dashboard's types"
	@echo "make bench      benchmarks against Celery beat, APScheduler and two limits (not part of make test)"
	@echo "make bench-legs the longer benchmark legs: long runs, 10 M runs of history, a 2 x 30 min soak, migrations"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen
	@touch $@

$(DASHBOARD)/node_modules/.installed: $(DASHBOARD)/package-lock.json
	cd $(DASHBOARD) && npm ci --no-audit --no-fund
	@touch $@

$(DASHBOARD)/dist/index.html: $(DASHBOARD)/node_modules/.installed $(DASHBOARD_SOURCES)
	cd $(DASHBOARD) && npm run build

install: .venv/.installed

# After an API change: refresh the OpenAPI snapshot and the dashboard's generated types (tests check both).
openapi: install $(DASHBOARD)/node_modules/.installed
	$(RUN) python scripts/export_openapi.py
	cd $(DASHBOARD) && npm run gen:types

dashboard: $(DASHBOARD)/dist/index.html

run: install dashboard
	SCHEDULER_LOG_FORMAT=$${SCHEDULER_LOG_FORMAT:-console} $(RUN) jobscheduler embedded

run-stack: install dashboard
	SCHEDULER_DATABASE_URL=$${SCHEDULER_DATABASE_URL:-$(STACK_DATABASE_URL)} $(RUN) jobscheduler stack

token: install
	@$(RUN) jobscheduler token

# The fault scenarios record what they measure here; `make guarantees` puts it into the README's table.
MEASUREMENTS := $(CURDIR)/test-output/measurements.jsonl

test: install dashboard
	cd $(DASHBOARD) && npm test
	@mkdir -p test-output
	SCHEDULER_TEST_MEASUREMENTS=$(MEASUREMENTS) $(RUN) pytest -m "not slow"

faults: install
	@mkdir -p test-output
	SCHEDULER_TEST_MEASUREMENTS=$(MEASUREMENTS) $(RUN) pytest -m slow tests/faults

# After `make test` and `make faults`: append their measurements to tests/faults/measurements.jsonl and render the
# README's guarantees table from it (a unit test fails when the table is not that rendering).
guarantees: install
	$(RUN) python scripts/guarantees_table.py --collect $(MEASUREMENTS)
	rm -f $(MEASUREMENTS)

# The chaos run (tests/chaos): CHAOS_SECONDS of faults (default 180), seeded by CHAOS_SEED (default: random,
# printed first); exits non-zero on any anomaly. It bounds itself at its window plus 7 minutes.
chaos: install
	$(RUN) python -m tests.chaos $(if $(CHAOS_SECONDS),--seconds $(CHAOS_SECONDS)) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy libs services/api/src services/timekeeper/src services/executor/src services/cli/src tests scripts

fmt: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache data test-output $(DASHBOARD)/node_modules $(DASHBOARD)/dist

# Benchmarks (issue #8): not part of `make test`. Peers live in their own venv; the product runs from .venv.
# BENCH_TIMEOUT bounds the whole run (the harness stops itself at BENCH_BUDGET_S and writes what it has).
BENCH_VENV := benchmarks/.venv
BENCH_TIMEOUT ?= 1600

$(BENCH_VENV)/.installed: benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	@touch $@

# After the run, the README's benchmark figures are rendered from results/latest.json (a unit test checks them).
bench: install $(BENCH_VENV)/.installed
	timeout --kill-after=30 $(BENCH_TIMEOUT) $(BENCH_VENV)/bin/python -m benchmarks.run
	$(BENCH_VENV)/bin/python -m benchmarks.readme_figures

# The longer legs of issue 21 at full scale (≈ 1 h 35 min): long runs, 10 M runs of history, the soak twice, the
# migration path on 1 M runs.
# Each writes its entry of benchmarks/results/legs.json; options (scaled-down runs): benchmarks/README.md.
bench-legs: install $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m benchmarks.legs long-runs
	$(BENCH_VENV)/bin/python -m benchmarks.legs history
	$(BENCH_VENV)/bin/python -m benchmarks.legs soak
	$(BENCH_VENV)/bin/python -m benchmarks.legs migration
