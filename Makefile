# Everything a new clone needs: `make demo` runs an export on the local stack, `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins its own boto3, so it lives in a venv of its own (requirements-checkov.txt).
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# checkov's IAM checks, run on the roles SAM generates from each function's Policies.
IAM_CHECKS := CKV_AWS_60,CKV_AWS_61,CKV_AWS_62,CKV_AWS_63,CKV_AWS_107,CKV_AWS_108,CKV_AWS_109,CKV_AWS_110,CKV_AWS_111
export SAM_CLI_TELEMETRY := 0

.PHONY: setup test lint demo serve invoke build store clean openapi bench

# Python tools in .venv; dynalite (the local DynamoDB) and Elastic Path's SDK (its test) from npm.
$(STAMP): requirements-dev.txt local/package-lock.json tests/sdk/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	npm ci --prefix local --no-audit --no-fund --loglevel=error
	npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

setup: $(STAMP)

## Static checks and the whole test suite (what CI runs).
test: setup lint
	$(BIN)/pytest -q -n 2

lint: setup $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	for handler in functions/*/app.py; do $(BIN)/mypy --strict --follow-imports=silent $$handler || exit 1; done
	$(BIN)/sam validate --lint  # with the serverless rules (.cfnlintrc)
	$(CHECKOV) -f template.yaml  # suppressions are in the template, each with its reason
	mkdir -p .aws-sam && $(BIN)/python tools/sam_translate.py > .aws-sam/translated.json
	$(CHECKOV) -f .aws-sam/translated.json --check $(IAM_CHECKS)

## The main job: seed 120,001 products on the local stack, export them over HTTP, check the parts.
demo: setup
	$(BIN)/python -m local.demo $(ARGS)

## The whole service on http://127.0.0.1:3000 (PORT=... to change), for curl or EP's SDK.
serve: setup
	$(BIN)/python -m local.server --port $(or $(PORT),3000) $(ARGS)

## One function, one event, on the local runner (`sam local invoke` without Docker), against the running
## `make serve` or a fresh local stack: make invoke FN=JobsApiFunction EVENT=events/jobs_api-get-job.json
invoke: setup
	$(BIN)/python -m local.invoke $(FN) $(EVENT)

## Build the Lambda artefacts for python3.13/arm64. sam build looks for python3.13 on PATH: the directory of
## the runtime's interpreter (on PATH already, or any pyenv 3.13: local/runner/interpreter.py) goes first.
build: setup
	python_dir=$$($(BIN)/python -c 'import os; from local.runner.interpreter import runtime_python; \
	print(os.path.dirname(runtime_python("python3.13")))') && PATH="$$python_dir:$$PATH" $(BIN)/sam build

## Create a store and its application key in a deployed stack: make store STACK=product-export NAME="My store"
store: setup
	$(BIN)/python tools/create_store.py --stack $(STACK) --name "$(or $(NAME),store)"

## Benchmarks (not run by CI): part writer, memory, end to end on the local stack (30-60 min); prints a
## table, writes bench/results.json and bench/results.png. QUICK=1: small sizes, nothing saved.
bench: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python bench/run.py $(if $(QUICK),--quick)

## Regenerate docs/openapi.json from the code (tests/integration/test_openapi.py fails while it is stale).
openapi: setup
	PYTHONPATH=layers/shared $(BIN)/python -m product_export.api.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
