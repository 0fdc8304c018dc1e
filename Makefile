# Everything a new clone needs: `make demo` runs an export on the local stack, `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: setup test lint demo serve build store clean

# Python tools in .venv; dynalite (the local DynamoDB) and Elastic Path's SDK (its test) from npm.
$(STAMP): requirements-dev.txt local/package-lock.json tests/sdk/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	npm ci --prefix local --no-audit --no-fund --loglevel=error
	npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error
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

## The main job: seed 120,001 products on the local stack, export them over HTTP, check the parts.
demo: setup
	$(BIN)/python -m local.demo $(ARGS)

## The whole service on http://127.0.0.1:3000 (PORT=... to change), for curl or EP's SDK.
serve: setup
	$(BIN)/python -m local.server --port $(or $(PORT),3000) $(ARGS)

## Build the Lambda artefacts for python3.13/arm64 (needs Python 3.13 on PATH, e.g. through pyenv).
build: setup
	PYENV_VERSION=3.11.7:3.13.0 $(BIN)/sam build

## Create a store and its application key in a deployed stack: make store STACK=product-export NAME="My store"
store: setup
	$(BIN)/python tools/create_store.py --stack $(STACK) --name "$(or $(NAME),store)"

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
