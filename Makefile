# Two commands work on a fresh machine: `make dev` and `make test` (see README.md).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
# pytest-xdist workers for each pass of `make test`; each has its own Temporal dev server and
# PostgreSQL database (0: one process). Two halve the wall time on two cores: most tests wait.
PYTEST_WORKERS ?= 2

.PHONY: dev test install system-deps lint schemas test-sqlite test-postgres bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## dev: install into .venv and run the whole stack (Temporal + UI, worker, API, demo)
dev: install
	$(BIN)/lockstep dev

## system-deps: what the suite needs from the OS (git, a running PostgreSQL)
system-deps:
	bash scripts/system-deps.sh

## lint: ruff, mypy --strict, the import contract (workflows do no I/O), schemas/ up to date
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/gen_schemas.py --check

## schemas: regenerate schemas/*.json (the editors' JSON Schemas) from the models; commit them
schemas: install
	$(BIN)/python scripts/gen_schemas.py

## test: everything on SQLite, then again on PostgreSQL every test that uses a database (-m store)
test: install system-deps lint test-sqlite test-postgres

test-sqlite: install
	bash scripts/pytest.sh -n $(PYTEST_WORKERS)

test-postgres: install
	LOCKSTEP_TEST_DATABASE=postgresql bash scripts/pytest.sh -n $(PYTEST_WORKERS) -m store

bench: install
	$(BIN)/python bench/plan_scale.py
	$(BIN)/python bench/orchestration_overhead.py
	$(BIN)/python bench/webhook_ingest.py
	$(BIN)/python bench/webhook_ingest.py --with-worker
	$(BIN)/python bench/policy_eval.py

clean:
	rm -rf $(VENV) .lockstep .pytest_cache .mypy_cache .ruff_cache
