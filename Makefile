# The two commands a newcomer needs: `make reproduce` (the whole study) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= all

.PHONY: install reproduce report test lint format benchmark clean

# (Re)install whenever the dependencies change. torch is pinned to a CPU build (see pyproject.toml).
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

reproduce: install
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html
	@echo "report: $(abspath results/report.html)"

lint: install
	$(BIN)/ruff check multihop scripts tests benchmarks data
	$(BIN)/ruff format --check multihop scripts tests benchmarks data
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

format: install
	$(BIN)/ruff format multihop scripts tests benchmarks data
	$(BIN)/ruff check --fix multihop scripts tests benchmarks data
	$(BIN)/snakefmt Snakefile rules

test: lint
	$(BIN)/pytest

benchmark: install
	$(BIN)/python benchmarks/extract_wikidata.py
	$(BIN)/python benchmarks/evaluation_throughput.py

clean:
	rm -rf results .snakemake
