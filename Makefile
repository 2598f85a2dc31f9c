# abuse-detector: one source of truth for tooling, used by CI and by people alike.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test test-unit test-integration lint fmt typecheck bench compile clean-compiled clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) ## Run the demo: embedded broker + worker + simulated campaigns (ARGS='--duration 60')
	$(BIN)/abuse-detector demo $(ARGS)

test: $(STAMP) ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Run the fast pure unit tests only
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) ## Run the tests against the embedded broker
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP) ## Lint with ruff
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests

fmt: $(STAMP) ## Format with ruff
	$(BIN)/ruff check --fix app tests
	$(BIN)/ruff format app tests

typecheck: $(STAMP) ## Type-check app/ with mypy
	$(BIN)/mypy app

bench: $(STAMP) ## Run the benchmarks, write bench/results.json
	$(BIN)/python -m bench $(ARGS)

compile: $(STAMP) ## Build the detection core into C extensions with mypyc (make clean-compiled undoes it)
	rm -rf build  # mypyc's incremental build can fail on a changed source: build afresh
	$(BIN)/python tools/build_core.py

clean-compiled: ## Remove the compiled core: back to pure Python
	rm -rf build app/*.so app/core/*.so

clean: clean-compiled ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
