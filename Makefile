# opsgraph — every target sets up what it needs on a fresh machine.
#
# Dependencies are locked in uv.lock (every package, transitive ones included,
# with hashes). `make run` and `make test` install exactly the locked versions
# with `uv sync --locked`, which also fails when pyproject.toml and uv.lock
# disagree; `make lock` refreshes the lock deliberately.
PYTHON     ?= python3
UV_VERSION := 0.13.9
TOOLS      := .tools
UV         := $(TOOLS)/bin/uv
BIN        := .venv/bin
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
# Let Python keep the modules it compiles: with PYTHONDONTWRITEBYTECODE set (as some
# machines do) every process compiles all of its imports again, about 2 s for the
# server, and the suite starts dozens of them.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run demo test check lint typecheck lock schema bench clean

# uv itself, pinned, in a small virtualenv of its own (it then builds .venv).
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

## run: migrate and serve on the embedded default (SQLite + in-memory bus)
run: $(UV)
	$(UV) sync --locked --no-dev
	$(BIN)/opsgraph serve

## demo: a living demo on a fresh embedded database of its own (var/demo.db): seeds a
## workspace, prints its keys and the dashboard's address, keeps its data moving
DEMO_DB := var/demo.db
demo: $(UV)
	$(UV) sync --locked --no-dev
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	OPSGRAPH_DATABASE_URL=sqlite+aiosqlite:///./$(DEMO_DB) OPSGRAPH_REDIS_URL=memory:// \
	  $(BIN)/opsgraph demo

## test: system packages the suite drives, lock check, ruff, mypy --strict, import layers, then the whole pytest suite
test: $(UV)
	bash scripts/system-packages.sh
	$(UV) sync --locked
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

## lock: re-resolve uv.lock from pyproject.toml (newest versions that fit)
lock: $(UV)
	$(UV) lock --upgrade

## schema: rewrite schema.graphql from the code
schema: $(UV)
	$(UV) sync --locked
	$(BIN)/opsgraph export-schema > schema.graphql

## bench: run the benchmarks against PostgreSQL (prints JSON); needs wrk and Alertmanager
bench: $(UV)
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk" >&2; exit 1; }
	@command -v prometheus-alertmanager >/dev/null || { \
	  echo "bench needs Alertmanager: apt-get install prometheus-alertmanager" >&2; exit 1; }
	$(UV) sync --locked
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.graphql_http
	$(BIN)/python -m bench.fanout
	$(BIN)/python -m bench.alerts
	$(BIN)/python -m bench.slo
	$(BIN)/python -m bench.escalation
	$(BIN)/python -m bench.notify
	$(BIN)/python -m bench.backup
	@command -v npm >/dev/null || { echo "bench.list needs Node.js and npm" >&2; exit 1; }
	cd bench/postgraphile && npm ci --no-audit --no-fund
	$(BIN)/python -m bench.list
	$(BIN)/python -m bench.forecast

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
