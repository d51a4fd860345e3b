# Two commands, on a fresh machine with Python 3.11+:
#   make demo   set up a virtualenv, install, replay the Donghu fire into SQLite
#   make test   set up with the dev extras, run lint, types and the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-dev lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

demo: setup
	$(BIN)/resilience demo

lint: setup-dev
	$(BIN)/ruff check .

typecheck: setup-dev
	$(BIN)/mypy

pytest: setup-dev
	$(BIN)/pytest -q

test: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: setup-dev
	$(BIN)/python benchmarks/commands.py
	$(BIN)/python benchmarks/rebuild.py
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/scenario.py
	$(BIN)/python benchmarks/deadlines.py
	$(BIN)/python benchmarks/live.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
