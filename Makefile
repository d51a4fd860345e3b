# Two commands, on a fresh machine with Python 3.11+:
#   make demo   set up a virtualenv, install, replay the Donghu fire into SQLite
#   make test   set up with the dev extras, run lint, types and the whole suite
#   make docs   build the documentation site (guides and API reference) into site/, with
#               warnings as errors (CI runs it after make test)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test docs setup setup-dev lint typecheck pytest bench clean

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

# mkdocs.yml: the guides in docs/ and the API reference generated from the docstrings
# (docs/api/). --strict: a broken link, a page left out of the nav or a reference that
# does not resolve fails the build.
docs: setup-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# make bench: every benchmark, each recording its headline figures in benchmarks/results/,
# then the closing table (benchmarks/table.py: the issue's figures before, these after,
# the goals). About 40 minutes on the 2-core machines here. Sizes: commands and bulk on
# SQLite and PostgreSQL; rebuild of 100k and 1M events on both; history of 1k, 10k and
# 100k incidents in one community (SQLite); a city of $(CITY_COMMUNITIES) communities over a
# year on PostgreSQL. PostgreSQL is postgresql://postgres@127.0.0.1:5432/postgres; a
# benchmark that fails is named at the end (its rows read "not run") and make fails.
# make bench BENCH_FULL=1: the issue's full city, 1,000 communities (about 8M events: an
# hour or more on top). CITY_COMMUNITIES=N, HISTORY_SIZES=1000,10000 change the sizes.
CITY_COMMUNITIES ?= 40
HISTORY_SIZES ?= 1000,10000,100000
BENCH_FULL ?=
BENCH_FAILED := benchmarks/results/failed.txt
bench_step = @echo "== benchmarks/$(1)"; started=$$(date +%s); \
	$(BIN)/python benchmarks/$(1) || echo "benchmarks/$(1)" >> $(BENCH_FAILED); \
	echo "== benchmarks/$(1): $$(($$(date +%s) - started)) s"

bench: setup-dev
	@rm -rf benchmarks/results && mkdir -p benchmarks/results && date +%s > benchmarks/results/started
	$(call bench_step,commands.py --store both)
	$(call bench_step,chain.py)
	$(call bench_step,rebuild.py --events 100000 --store sqlite)
	$(call bench_step,rebuild.py --events 100000 --store postgres)
	$(call bench_step,rebuild.py --events 1000000 --store sqlite --repeat 2)
	$(call bench_step,rebuild.py --events 1000000 --store postgres --repeat 2)
	$(call bench_step,replay.py)
	$(call bench_step,history.py --sizes $(HISTORY_SIZES))
	$(call bench_step,city.py $(if $(BENCH_FULL),--full,--communities $(CITY_COMMUNITIES)))
	$(call bench_step,protection.py)
	$(call bench_step,scenario.py)
	$(call bench_step,deadlines.py)
	$(call bench_step,live.py)
	@$(BIN)/python benchmarks/table.py
	@test ! -s $(BENCH_FAILED) || { echo "failed: $$(cat $(BENCH_FAILED) | tr '\n' ' ')"; exit 1; }

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
