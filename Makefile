# c360: two commands on a fresh clone.
#   make run   set up, then the whole pipeline at the default scale
#   make test  set up, then every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(BIN)/python

.PHONY: setup system-deps venv run test lint format clean .venv-checkov .venv-audit

setup: system-deps venv

system-deps:
	@bash scripts/ensure-system-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

run: setup
	$(BIN)/c360 run

test: setup .venv-checkov .venv-audit .venv-bench
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf lake target logs .pytest_cache

# --- AWS packaging and template checks (infra/, c360/packaging.py) --------------------------------------------
# make package      dist/artifacts (Lambda zips, Glue scripts and library, runner source), dist/manifest.json and
#                   the rendered templates dist/infra/*.yaml; see infra/README.md "Deploy to AWS".
# make .venv-checkov  checkov in a venv of its own (its dependencies conflict with our boto3 pin).
DIST ?= dist
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov

.PHONY: package

package: venv
	$(BIN)/python -m c360.packaging --dist $(DIST)
	$(BIN)/python -m infra --manifest $(DIST)/manifest.json --out $(DIST)/infra/c360.yaml
	cp infra/bootstrap.yaml $(DIST)/infra/bootstrap.yaml

.venv-checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $@

# make .venv-audit  pip-audit in a venv of its own (tests/reliability/test_security.py audits our exact pins).
PIP_AUDIT_VERSION := 2.10.1
AUDIT_VENV := .venv-audit

.venv-audit: $(AUDIT_VENV)/.installed

$(AUDIT_VENV)/.installed:
	@test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip-audit==$(PIP_AUDIT_VERSION)
	@touch $@

# --- benchmarks (benchmarks/run.py): every measurement REPEAT times at SCALE, medians into BENCHMARKS.md --------
SCALE ?= 1
REPEAT ?= 3
# Optional: STEPS=generate,dbgen (a subset of the harness's steps), SOURCES=transactions (what generate makes).

# The export's peer, awswrangler, pins pyarrow<26 (ours is 26): it gets a venv of its own, built here, never at
# run time (tests/test_benchmark_harness.py runs the harness, peer included, at a tiny scale).
AWSWRANGLER_VERSION := 3.17.1
BENCH_VENV := .venv-bench

.PHONY: bench .venv-bench

bench: setup .venv-bench
	$(BIN)/python -m benchmarks.run --scale $(SCALE) --repeat $(REPEAT) --out BENCHMARKS.md \
		$(if $(STEPS),--steps $(STEPS)) $(if $(SOURCES),--sources $(SOURCES))

.venv-bench: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed:
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check awswrangler==$(AWSWRANGLER_VERSION)
	@touch $@
