# luna: `make run` starts the service on this machine, `make test` runs lint and every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.luna-installed

.PHONY: run test lint format install services test-tools bench load

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Starts PostgreSQL, RabbitMQ and Redis when they are installed but stopped.
services:
	@bash scripts/services.sh

# Debian packages the tests need (scripts/debian-packages.txt: add yours there); kubectl and
# manifest checkers for tests/deploy; LocalStack's S3 (its own venv) for the tests that need a
# store which checks presigned signatures.
test-tools: install
	@bash scripts/debian-packages.sh
	@bash scripts/install-deploy-tools.sh
	@bash scripts/localstack.sh install

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install services test-tools lint
	$(BIN)/pytest -q -p no:cacheprovider

run: install
	@bash scripts/run.sh

bench: install
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/liveness.py
	$(BIN)/python bench/status.py
	$(BIN)/python bench/upload_start.py
	$(BIN)/python bench/conformance.py

# k6 load tests (24 teams, 240 teams, a status soak) against a running luna: `make run` in
# another terminal, or LUNA_URL (+ DATABASE_URL for the accounts); see bench/load/run.py.
load: install
	$(BIN)/python bench/load/run.py
