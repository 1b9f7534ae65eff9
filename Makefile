# Tawny: `make run` starts the whole platform with demo data; `make test` runs every test.
# Both install what they need first (a virtualenv in .venv from the locked uv.lock).

SHELL := /bin/bash
PYTHON ?= python3
NPM ?= npm
CHROMIUM := /usr/bin/chromium
FAKETIME := /usr/bin/faketime
# How far ahead `make test-future` moves the clock (libfaketime's relative offset syntax).
FUTURE ?= +365d
# Which tests `make test-future` runs (all by default): make test-future TESTS=tests/geo
TESTS ?=
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Create .venv and install the locked dependencies

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

# Debian's Chromium, which the browser tests drive (never a browser download of Playwright's own).
$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	else sudo apt-get update && sudo apt-get install -y chromium; fi

# Debian's faketime, which runs the tests with the clock moved forward (make test-future).
$(FAKETIME):
	if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y faketime; \
	else sudo apt-get update && sudo apt-get install -y faketime; fi

.PHONY: web
web: node_modules/.installed ## Install the web client's libraries from package-lock.json (npm ci)

# The web client's JavaScript (and its style sheet and page): ESLint's recommended rules and
# Prettier's layout, both pinned in package-lock.json (eslint.config.js, prettier.config.js).
WEB_FORMATTED := services/gateway/web eslint.config.js prettier.config.js

.PHONY: lint-web
lint-web: web ## ESLint and prettier --check on the web client (part of make lint)
	node_modules/.bin/eslint --max-warnings 0 .
	node_modules/.bin/prettier --check $(WEB_FORMATTED)

.PHONY: format-web
format-web: web ## Format the web client with Prettier (part of make format)
	node_modules/.bin/prettier --write $(WEB_FORMATTED)

.PHONY: browser
browser: web | $(CHROMIUM) ## The web client's libraries and Chromium for the browser tests

.PHONY: run
run: install web ## Start the whole platform with demo data and print the URLs (Ctrl-C stops it)
	$(BIN)/python -m deploy.devstack

.PHONY: lint
lint: install lint-web ## ruff check, ruff format --check, mypy; ESLint and Prettier on the web client
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services shared deploy tests bench replay chaos

.PHONY: format
format: install format-web ## Format and autofix (the web client with Prettier too)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: test
test: install browser lint ## Lint, then unit, integration, end-to-end and browser tests on real PostgreSQL and Kafka
	$(BIN)/pytest

# Every process the tests start (PostgreSQL, Tansu, the services, Chromium) inherits the shifted
# clock through LD_PRELOAD, so dates stored, compared and rendered all agree.
.PHONY: test-future
test-future: install browser | $(FAKETIME) ## The tests with the clock a year ahead (FUTURE=+365d): none may depend on today's date
	$(FAKETIME) -f '$(FUTURE)' $(BIN)/pytest $(TESTS)

.PHONY: test-fast
test-fast: install web ## Tests without the end-to-end ones
	$(BIN)/pytest -m "not e2e"

.PHONY: check-deploy
check-deploy: install ## The k8s manifests against Kubernetes' and the operators' schemas, the Dockerfile (hadolint, its dependencies), dashboard and rules against the code (part of make test)
	$(BIN)/pytest -q tests/deploy/test_schemas.py tests/deploy/test_image.py \
		tests/deploy/test_monitoring.py tests/deploy/test_k8s.py

.PHONY: screenshots
screenshots: install browser ## Run the browser journeys and save the main screens to docs/screenshots
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/browser/test_journeys.py \
		tests/browser/test_verification.py tests/browser/test_preferences.py \
		tests/browser/test_dashboard.py

.PHONY: bench-geo
bench-geo: install ## Geo benchmark: 1M synthetic subscribers, resolution and fan-out times, measured twice (~8 min on a quiet box; writes bench/results/geo.json)
	$(BIN)/python -m bench.geo

.PHONY: bench-dispatch
bench-dispatch: install ## Dispatch benchmark: email, web push and FCM, 1, 2 and 4 dispatchers vs the least-code sender on the same sink (20,000 recipients per sender by default; --recipients, --channels, --processes, --runs, --profile via BENCH_DISPATCH_ARGS="..."; writes bench/results/dispatch.json)
	$(BIN)/python -m bench.dispatch $(BENCH_DISPATCH_ARGS)

.PHONY: bench-fanout
bench-fanout: install ## Fan-out staging: an all-London alert's 2,000 recipient batches into the outbox, one at a time vs bulk (~1 min; writes bench/results/fanout.json)
	$(BIN)/python -m bench.fanout

.PHONY: bench-gateway
bench-gateway: install ## Gateway benchmark: CPU per request against the least-code proxy, then the busiest routes on the dev stack at their target rates and twice them, open loop (~4 min; writes bench/results/gateway.json)
	$(BIN)/python -m bench.gateway

.PHONY: replay
replay: install ## Replay the year at 1:100 on a local stack, an hour a second (plan, seed, run; writes bench/results/replay.json and docs/replay/*.png)
	test -f .replay/plan.jsonl || $(BIN)/python -m replay plan
	$(BIN)/python -m replay embedded --scale $(or $(SCALE),0.01) --speed $(or $(SPEED),3600) --plots docs/replay

.PHONY: bench-api
bench-api: install ## Locust against a local stack: resident and officer API behaviour, headless (writes bench/results/api_load.json)
	$(BIN)/python -m replay.api_load --users $(or $(USERS),50) --run-time $(or $(RUN_TIME),60)

.PHONY: bench-api-steps
bench-api-steps: install ## Locust at fixed rates on a local stack: creates 50/100/200 a second, reads 100 to 750, until errors (bench/results/api_load.json)
	$(BIN)/python -m replay.api_load --steps --step-time $(or $(STEP_TIME),30)

.PHONY: chaos
chaos: install ## Fault suite: starts its own platform, seeds 2,000 watchers of one ward, kills dispatchers, the broker, PostgreSQL and a service, breaks the providers; table of lost, doubled and recovery per fault, non-zero exit on any loss (~20 min; CHAOS_ARGS="--only kill --recipients 500")
	$(BIN)/python -m chaos $(CHAOS_ARGS)

.PHONY: bench
bench: bench-geo bench-fanout bench-dispatch bench-gateway ## Every benchmark

.PHONY: openapi
openapi: install ## Publish every service's OpenAPI document to docs/api/v1/ (a test checks they match the services)
	$(BIN)/python -m deploy.openapi_documents

.PHONY: clean
clean: ## Remove the virtualenv, the dev stack's data and caches
	rm -rf $(VENV) .tools .devstack .pytest_cache .mypy_cache .ruff_cache node_modules
