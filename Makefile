# Everything a new clone needs: `make demo` runs an export on the embedded stack, `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: setup test lint unit demo build validate store clean

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

## Static checks and the whole test suite (what CI runs).
test: setup lint
	$(BIN)/pytest -q -n 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	for handler in functions/*/app.py; do $(BIN)/mypy --strict --follow-imports=silent $$handler || exit 1; done
	$(BIN)/sam validate --lint

## An export of a seeded catalogue through the real handlers and state machine, in one process.
demo: setup
	$(BIN)/python -m local.demo $(ARGS)

## Build the Lambda artefacts for python3.13/arm64 (needs Python 3.13 on PATH, e.g. through pyenv).
build: setup
	PYENV_VERSION=3.11.7:3.13.0 $(BIN)/sam build

## Create a store and its application key in a deployed stack: make store STACK=product-export NAME="My store"
store: setup
	$(BIN)/python tools/create_store.py --stack $(STACK) --name "$(or $(NAME),store)"

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
