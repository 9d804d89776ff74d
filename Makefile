# opsgraph — every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck schema bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: migrate and serve on the embedded default (SQLite + in-memory bus)
run: $(STAMP)
	$(BIN)/opsgraph serve

## test: ruff, mypy --strict, then the whole pytest suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

## schema: rewrite schema.graphql from the code
schema: $(STAMP)
	$(BIN)/opsgraph export-schema > schema.graphql

## bench: run the benchmarks against PostgreSQL (prints JSON)
bench: $(STAMP)
	command -v wrk >/dev/null || apt-get install -y wrk
	command -v prometheus-alertmanager >/dev/null || apt-get install -y prometheus-alertmanager
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/slo.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
