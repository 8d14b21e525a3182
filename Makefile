# Polku: `make run` serves suggestions, `make test` runs the tests. Both set up first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3

.DEFAULT_GOAL := help
.PHONY: help setup run test test-all lint format bench clean browser-deps postgres-deps mlflow-ui notebook wheel
# `make run PORT=8080 HOST=0.0.0.0` serves elsewhere; `make mlflow-ui MLFLOW_PORT=5001`.
PORT ?= 8000
HOST ?= 127.0.0.1
MLFLOW_PORT ?= 5000

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Make .venv and install Polku with its dev extras

$(STAMP): pyproject.toml
	@echo "setup 1/3: creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: upgrading pip"
	$(PY) -m pip install --quiet --upgrade pip
	@echo "setup 3/3: installing Polku and its dev tools (a few minutes on a fresh machine)"
	$(PY) -m pip install --progress-bar off --no-input -e '.[dev]'
	touch $(STAMP)

run: setup ## Generate a world and train a champion if none, then serve (PORT=8000 HOST=127.0.0.1)
	$(VENV)/bin/polku run --host $(HOST) --port $(PORT)

mlflow-ui: setup ## Open the MLflow UI on the embedded store's runs and registry (MLFLOW_PORT=5000)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.polku/mlflow.db --port $(MLFLOW_PORT)

notebook: setup ## Execute the evaluators' notebooks into .polku/notebooks/ (outputs and plots kept)
	@mkdir -p .polku/notebooks
	@for nb in notebooks/*.ipynb; do \
	  out=.polku/notebooks/$$(basename $$nb); cp $$nb $$out; echo "executing $$nb -> $$out"; \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter-execute --inplace --timeout=900 $$out \
	    || exit 1; \
	done
	@echo "open them with: $(VENV)/bin/jupyter notebook .polku/notebooks/ (or any .ipynb viewer)"

test: setup ## Run the default test suite and docstring examples (all but tests marked slow), in two processes
	$(VENV)/bin/pytest -m "not slow" -n 2

test-all: setup ## Run every test, slow ones included
	$(VENV)/bin/pytest

lint: setup ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup ## Apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## Run the benchmarks and rewrite their sections of BENCHMARKS.md (needs root for wrk)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

browser-deps: ## Install Debian's Chromium for the browser tests (needs root)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

postgres-deps: ## Install Debian's PostgreSQL for the audit store's PostgreSQL tests (needs root)
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq postgresql)

wheel: setup ## Build dist/polku-*.whl (offline; install it with its extra: 'polku-*.whl[postgres]')
	$(PY) -m pip wheel --no-deps --no-build-isolation --no-index -w dist .

clean: ## Remove the environment and local state (generated data, MLflow store, audit db)
	rm -rf $(VENV) .polku data/generated
