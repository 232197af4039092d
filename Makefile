# One entry point for people and CI alike. Every target creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEV := $(VENV)/.stamp-dev
STAMP_DEMO := $(VENV)/.stamp-demo

.PHONY: demo test lint fmt typecheck bench clean docs-cli

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,local,server]'
	touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(BIN)/augment-ft run --config examples/demo.toml
	@echo "JSONL written to demo-out/train.jsonl (provenance beside it); report in demo-out/report.json"

fmt: $(STAMP_DEV)
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

lint: $(STAMP_DEV)
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples

typecheck: $(STAMP_DEV)
	$(BIN)/mypy --strict src

test: lint typecheck
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site
	$(BIN)/python -m pytest -W error -q

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/split_speed.py
	$(BIN)/python benchmarks/dedup_speed.py 100000
	$(BIN)/python benchmarks/backend_throughput.py

docs-cli: $(STAMP_DEV)
	$(BIN)/python -m augment_ft.cli_docs

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
