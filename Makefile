# Two commands work on a fresh machine: `make dev` and `make test` (see README.md).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
# pytest-xdist workers for each pass of `make test`; each has its own Temporal dev server and
# PostgreSQL database (0: one process). Two halve the wall time on two cores: most tests wait.
PYTEST_WORKERS ?= 2

.PHONY: dev test install constraints system-deps lint schemas test-sqlite test-postgres docs bench clean

# constraints.txt pins every package to the version the suite last passed with, so a fresh
# checkout, `make dev` and CI install the same set; pyproject.toml keeps the ranges.
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## constraints: pin what is installed in .venv (after upgrading a dependency and passing `make test`)
constraints:
	$(BIN)/python scripts/constraints.py > constraints.txt.new
	mv constraints.txt.new constraints.txt

## dev: install into .venv and run the whole stack (Temporal + UI, worker, API, demo)
dev: install
	$(BIN)/lockstep dev

## system-deps: what the suite needs from the OS (git, a running PostgreSQL)
system-deps:
	bash scripts/system-deps.sh

## lint: ruff (rules and formatting), mypy --strict, the import contracts (layers, workflows do no I/O),
## no import cycle between packages (scripts/import_cycles.py), schemas/ up to date
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/import_cycles.py
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

## docs: regenerate docs/cli.md and docs/openapi.json from the code (tests fail while they are stale)
docs: install
	$(BIN)/python -m scripts.gen_cli_docs
	$(BIN)/python -m scripts.gen_openapi

bench: install
	$(BIN)/python bench/plan_scale.py
	$(BIN)/python bench/orchestration_overhead.py
	$(BIN)/python bench/webhook_ingest.py
	$(BIN)/python bench/webhook_ingest.py --with-worker
	$(BIN)/python bench/policy_eval.py

clean:
	rm -rf $(VENV) .lockstep .pytest_cache .mypy_cache .ruff_cache
