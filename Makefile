# Kliento. The two commands: `make run` (a working CRM on http://127.0.0.1:8000) and `make test`.
# Everything else: `make help`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml changes.
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
SERVE_ARGS ?=
PYTEST_ARGS ?=
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
BENCH_DBS ?= sqlite postgres
BENCH_ARGS ?= --contacts 100000

# Test runs get a throwaway data dir (secret key, job queue), so ./var is never touched.
# SQLite runs also drop a DATABASE_URL the caller may have exported.
TMP_DATA = d=$$(mktemp -d -t kliento-test.XXXXXX); trap 'rm -rf "$$d"' EXIT; mkdir "$$d/static"; export KLIENTO_DATA_DIR=$$d;
PYTEST = $(BIN)/pytest

.PHONY: help venv run test ci lint fmt check test-sqlite test-postgres test-browser bench

help:
	@echo "make run            create .venv if needed, then serve Kliento on http://$(HOST):$(PORT)"
	@echo "make test           the test suite on SQLite (without the browser tests)"
	@echo "make ci             lint, checks, suite on SQLite and PostgreSQL, browser tests"
	@echo "make lint | fmt     ruff check + format check | ruff format + fix"
	@echo "make test-postgres  the suite on PostgreSQL (PG_URL=$(PG_URL))"
	@echo "make test-browser   the Playwright tests in Debian's Chromium"
	@echo "make bench          the benchmarks in bench/ (BENCH_ARGS='$(BENCH_ARGS)', BENCH_DBS='$(BENCH_DBS)')"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/kliento serve --host $(HOST) --port $(PORT) $(SERVE_ARGS)

test: test-sqlite

test-sqlite: $(STAMP)
	@$(TMP_DATA) unset DATABASE_URL; $(PYTEST) -m "not browser" $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@$(TMP_DATA) export DATABASE_URL=$(PG_URL); $(PYTEST) -m "not browser" $(PYTEST_ARGS)

# Exit status 5 means pytest collected no browser tests: nothing to fail.
test-browser: $(STAMP)
	@$(TMP_DATA) unset DATABASE_URL; rc=0; $(PYTEST) -m browser $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "No browser tests collected."; rc=0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: $(STAMP)
	@$(TMP_DATA) unset DATABASE_URL; set -e; \
	$(BIN)/kliento manage check; \
	$(BIN)/kliento manage makemigrations --check --dry-run

# The PostgreSQL suite runs last so CI's closing lines are a full suite's results.
ci:
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-postgres

# Every bench/*.py script takes --db; results land in bench/results/ (see docs/BENCHMARKS.md).
bench: $(STAMP)
	@set -e; found=0; for f in bench/*.py; do [ -e "$$f" ] || continue; found=1; \
	  for db in $(BENCH_DBS); do echo "== $$f --db $$db $(BENCH_ARGS)"; \
	    $(BIN)/python "$$f" --db $$db $(BENCH_ARGS); done; done; \
	[ $$found -eq 1 ] || echo "No benchmarks in bench/ yet."
