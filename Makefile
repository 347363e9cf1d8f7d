# Everything goes through uv, installed into .tools/ on first use (only Python 3.11+ is needed before).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(CURDIR)/.tools/bin/uv
RUN := $(UV) run --frozen

.PHONY: help install run run-stack test test-python faults lint fmt bench clean

help:
	@echo "make run        start the whole scheduler (embedded mode) on http://127.0.0.1:8000"
	@echo "make test       run every test (unit, contract, integration, e2e, fast fault scenarios)"
	@echo "make faults     run the long fault-tolerance scenarios"
	@echo "make lint       ruff + mypy --strict"
	@echo "make fmt        format and autofix"
	@echo "make run-stack  api + 2 timekeepers + 2 executors over local PostgreSQL and RabbitMQ"
	@echo "make bench      benchmarks against Celery beat and APScheduler"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen
	@touch $@

install: .venv/.installed

run: install
	$(RUN) jobscheduler embedded

test: install
	$(RUN) pytest -m "not slow"

faults: install
	$(RUN) pytest -m slow tests/faults

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy libs services/api/src services/timekeeper/src services/executor/src services/cli/src tests

fmt: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache data test-output
