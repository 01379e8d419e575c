# The two commands a newcomer needs: `make reproduce` (the whole study) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= all

.PHONY: install lock reproduce try stage report notebook results-pages test test-fast lint browser benchmark gpu-check clean

# (Re)install whenever the lock changes: exactly the versions of requirements.lock, each checked
# against its hashes, then this project itself (no dependencies of its own beyond the lock).
# torch is its CPU build (2.13.0+cpu); where pip does not find it, add PyTorch's CPU index:
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu make install
$(VENV)/.installed: requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Resolve pyproject.toml's ranges (with the test extras) again into requirements.lock, with hashes.
# tests/test_lock.py fails while the two disagree.
lock:
	test -d .venv-lock || $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q pip-tools==7.6.2
	.venv-lock/bin/pip-compile -q --generate-hashes --allow-unsafe --extra test --strip-extras \
		--no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml

# Each run writes into its own folder, results/{run}/, its report too: the run's name is `run` in
# the config, else its config files' names (SNAKEMAKE_ARGS="--configfile configs/our-rules.yaml":
# results/our-rules/), else default. RUN_FOLDER names it from the same arguments, as the workflow does.
RUN_FOLDER := $(BIN)/python -m multihop.configuration
# The run's report in its folder: $(1) Snakemake's arguments, $(2) the working directory (--directory).
write_report = folder=$$($(RUN_FOLDER) $(1)) && $(BIN)/snakemake $(1) --report $$folder/report.html && \
	echo "report: $(CURDIR)/$(2)$$folder/report.html"

reproduce: install
	$(BIN)/snakemake $(SNAKEMAKE_ARGS) --cores $(CORES)
	$(call write_report,$(SNAKEMAKE_ARGS))

# Rerun one analysis of the catalog, e.g. `make stage ANALYSIS=backpatching`: its shards (for every
# model and split), then what follows from them (its parts, the stages, findings, figures, tables).
# SNAKEMAKE_ARGS reach both calls, e.g. SNAKEMAKE_ARGS="--configfile my.yaml".
stage: install
	@test -n "$(ANALYSIS)" || { echo "make stage needs ANALYSIS=<an analysis of multihop/analyses/catalog.py>"; exit 2; }
	$(BIN)/snakemake $(SNAKEMAKE_ARGS) --cores $(CORES) $(ANALYSIS) --forcerun analysis_shard
	$(BIN)/snakemake $(SNAKEMAKE_ARGS) --cores $(CORES)

# The report again from the results there are (nothing is computed).
report: install
	$(call write_report,$(SNAKEMAKE_ARGS))

# docs/notebook.ipynb run again, its printouts and figures stored in it (the tests run it too).
notebook: install
	$(BIN)/python docs/refresh_notebook.py

# docs/results.md and the README's table of findings again, from the run in docs/reference-run/.
results-pages: install
	$(BIN)/python docs/refresh_results.py

# The tiny run of .test/ (about a minute and a half): the whole chain on a tiny excerpt and a tiny taught model.
# Its run is named test (.test/config.yaml): .test/results/test/.
TRY := --directory .test --configfile .test/config.yaml
try: install
	$(BIN)/snakemake $(TRY) --cores $(CORES)
	$(call write_report,$(TRY),.test/)

# snakemake --lint, failing on every lint but one: rules name no conda environment, on purpose
# (no test could build one here; environment.yml describes the whole project's environment).
lint: install
	$(BIN)/ruff check multihop scripts tests benchmarks data
	$(BIN)/ruff format --check multihop scripts tests benchmarks data
	$(BIN)/snakefmt --check Snakefile rules
	@log=$$(mktemp); $(BIN)/snakemake --lint > $$log 2>&1; \
	grep -q 'Lints for rule\|Congratulations' $$log || { cat $$log; exit 1; }; \
	if grep '^    \* ' $$log | grep -v 'Specify a conda environment or container'; then cat $$log; exit 1; fi; \
	echo "snakemake --lint: no lint but the deliberate one (no per-rule conda environments)"

test: lint browser
	$(BIN)/pytest

# Debian's Chromium, in which the tests open the report (tests/test_workflow.py, first_screen).
browser:
	@test -x /usr/bin/chromium || { \
		command -v apt-get > /dev/null || { echo "the tests need Chromium at /usr/bin/chromium"; exit 1; }; \
		apt-get install -y -q chromium > /dev/null || { apt-get update -q && apt-get install -y -q chromium > /dev/null; }; }

# The unit tier (tiny random models; no workflow runs, no default model): within two minutes.
test-fast: install
	$(BIN)/pytest -m "not workflow and not slow"

benchmark: install
	$(BIN)/python benchmarks/extract_wikidata.py
	$(BIN)/python benchmarks/engine_speed.py

# The engine against transformers' generate on CUDA: every tiny family in float32 and bfloat16, on
# one GPU and over two where there are two, then the engine benchmark on the GPU (not yet run on
# one). Exits non-zero on an error or a difference where identity is promised. The lock pins torch's
# CPU build: this swaps in the same version's CUDA build first. The test suite runs the same check
# on the CPU (tests/test_devicecheck.py).
TORCH_CUDA ?= cu128
gpu-check: install
	@if $(BIN)/python -c 'import sys, torch; sys.exit(torch.version.cuda is not None)'; then \
		version=$$($(BIN)/python -c 'import torch; print(torch.__version__.split("+")[0])'); \
		$(BIN)/python -m pip install -q "torch==$$version+$(TORCH_CUDA)" \
			--index-url https://download.pytorch.org/whl/$(TORCH_CUDA) --extra-index-url https://pypi.org/simple; \
	fi
	$(BIN)/python -m multihop.engine.devicecheck --device cuda

clean:
	rm -rf results .snakemake
