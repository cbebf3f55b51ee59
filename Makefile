# The commands the README names. `make demo` and `make test` set everything up on first use.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# cdk-nag 2's gate runs in a venv of its own (see its target below).
NAG2_VENV := .venv-nag2
CDK_NAG_2 := cdk-nag==2.38.2
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# jsii warns loudly on Node 20; the CDK still supports running on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
# Never talk to AWS from here: a dummy account/region for anything that asks.
export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: setup bundle demo synth test lint check clean bench dist docs probe probe-dry-run mutate mutate-again

BUNDLE := constructs/ivs_replication/_bundle/handler.zip
HANDLER_SOURCES := $(wildcard lambda/replication/ivs_replication_handler/*.py) \
	lambda/replication/ivs_replication_handler/requirements.txt

setup: $(VENV)/.installed $(NAG2_VENV)/.installed node_modules/.installed $(BUNDLE)

## The prebuilt Lambda bundle the construct ships (the wheel build makes the same bytes).
bundle: $(VENV)/.installed
	$(PY) hatch_build.py --out $(BUNDLE)

$(BUNDLE): $(VENV)/.installed hatch_build.py $(HANDLER_SOURCES)
	$(PY) hatch_build.py --out $@

$(VENV)/.installed: pyproject.toml emulator/pyproject.toml lambda/replication/ivs_replication_handler/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The emulator first: the library's `testing` extra (in `dev`) asks for it by name.
	$(PY) -m pip install --quiet -e ./emulator -e '.[dev]'
	touch $@

## cdk-nag 2 cannot share a venv with cdk-nag 3 (in .venv): its gate (tests/app/test_cdk_nag2.py)
## runs in a venv of its own, with the same aws-cdk-lib and constructs as .venv, and the
## repository's packages on its PYTHONPATH.
$(NAG2_VENV)/.installed: $(VENV)/.installed
	test -x $(NAG2_VENV)/bin/python || python3 -m venv $(NAG2_VENV)
	$(NAG2_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NAG2_VENV)/bin/python -m pip install --quiet '$(CDK_NAG_2)' \
		$$($(PY) -m pip freeze | grep -iE '^(aws-cdk-lib|constructs)==')
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The main job: synthesize app.py with the pinned CDK CLI, then create, update and delete its
## replication through the real handler against the local IVS endpoint (nothing reaches AWS).
demo: setup
	$(PY) -m example.local_demo

synth: setup
	cdk synth --quiet
	@echo "Template: cdk.out/IvsReplicationExample.template.json"

## All tests: the library's (unit, handler at the AWS edge, construct, CDK CLI synth, packaging,
## local deployments, lifecycle under faults, gates), then the emulator's own, run on their own.
test: setup
	$(PY) -m pytest -q -n 2 --dist worksteal
	cd emulator && $(CURDIR)/$(PY) -m pytest -q -n 2

# One mypy cache for every run: the CDK's type information is read once.
MYPY := mypy --strict --cache-dir $(CURDIR)/.mypy_cache

## Linters, `mypy --strict` once over each package, and the import contracts between them.
lint: setup
	ruff check .
	ruff format --check .
	$(MYPY) -p ivs_replication -p ivs_replication_handler -p ivs_realtime_emulator \
		-p ivs_replication_probe -p ivs_replication_cli
	$(MYPY) app.py example bench tools hatch_build.py
	lint-imports

## Once, in a sandbox AWS account: measure what IVS answers where it is undocumented, and
## write it as an emulator service profile (creates and deletes two stages and an encoder).
probe: setup
	$(PY) -m ivs_replication_probe $(PROBE_ARGS)

## The probe against an in-process emulator (what CI runs in emulator/tests/test_probe.py).
probe-dry-run: setup
	$(PY) -m ivs_replication_probe --dry-run --output cdk.out/probe-dry-run.json

check: lint test

## Release artifacts: sdist and wheel of the library and of the emulator, checked by twine.
dist: setup
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	$(PY) -m build --no-isolation --outdir dist emulator
	twine check --strict dist/*

## The user guide (docs/, mkdocs.yml) with the API reference from the docstrings, into
## build/site/: offline, and --strict, so a broken link or a missing reference fails.
docs: setup
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet

# mutmut names a module by its path, so it runs where the handler package sits at the top level.
MUTMUT := mutmut==3.8.1
MUTATE_DIR := build/mutate

# Which mutants to run (mutmut's names, wildcards allowed), e.g. one module at a time:
# make mutate MUTANTS='ivs_replication_handler.replicas*'. Default: all.
MUTANTS ?=

## Mutation testing of the handler's core (replicas, lifecycle, reconciler, registry; see
## [tool.mutmut] in pyproject.toml) with the fast tests: not in CI, it takes long (hours for
## all on two cores; MUTANTS picks some). Prints the score per module and the survivors, with
## the reasons of the accepted ones (tools/mutation_survivors.toml); `cd build/mutate &&
## mutmut show <name>` prints a mutant's diff.
mutate: setup
	$(PY) -m pip install --quiet '$(MUTMUT)'
	rm -rf $(MUTATE_DIR)
	mkdir -p $(MUTATE_DIR)
	cp -r lambda/replication/ivs_replication_handler tests pyproject.toml $(MUTATE_DIR)/
	cd $(MUTATE_DIR) && $(CURDIR)/$(VENV)/bin/mutmut run --max-children 2 $(foreach m,$(MUTANTS),'$(m)') || true
	cd $(MUTATE_DIR) && $(CURDIR)/$(PY) $(CURDIR)/tools/mutation_report.py

## After new tests (or changed code): re-test in the last `make mutate`'s directory, keeping
## its verdicts: the mutants of changed functions, then the survivors not accepted (or the
## MUTANTS named). Prints the report over every mutant, as `make mutate` does.
mutate-again: setup
	@test -d $(MUTATE_DIR)/mutants || { echo "no earlier run in $(MUTATE_DIR): run make mutate first" >&2; exit 2; }
	rm -rf $(MUTATE_DIR)/ivs_replication_handler $(MUTATE_DIR)/tests
	cp -r lambda/replication/ivs_replication_handler tests pyproject.toml $(MUTATE_DIR)/
	cd $(MUTATE_DIR) && if [ -n "$(MUTANTS)" ]; then \
		$(CURDIR)/$(VENV)/bin/mutmut run --max-children 2 $(foreach m,$(MUTANTS),'$(m)') || true; \
	else \
		$(CURDIR)/$(VENV)/bin/mutmut run --max-children 2 || true; \
		names=$$($(CURDIR)/$(PY) $(CURDIR)/tools/mutation_report.py --unexplained); \
		if [ -n "$$names" ]; then $(CURDIR)/$(VENV)/bin/mutmut run --max-children 2 $$names || true; fi; \
	fi
	cd $(MUTATE_DIR) && $(CURDIR)/$(PY) $(CURDIR)/tools/mutation_report.py

## Benchmarks against in-run baselines (AwsCustomResource, bare boto3); writes bench/results.json.
bench: setup
	$(PY) -m bench.run

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache dist build constructs/ivs_replication/_bundle \
		$(NAG2_VENV)
