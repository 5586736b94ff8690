# pssgen: the README's two commands are `make generate` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: generate test test-fast tools lint bench clean

$(STAMP): pyproject.toml
	@echo ">> creating $(VENV) and installing pssgen with its test dependencies"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## generate: set up the venv and render out/ (Rego, Gatekeeper bundle, docs)
generate: $(STAMP)
	@echo ">> rendering out/"
	$(VENV)/bin/pssgen generate

## corpus: rebuild conformance/corpus, the project's own fixtures, from generator/parity/fixtures.py
.PHONY: corpus
corpus: $(STAMP)
	$(PY) -m generator.parity.fixtures conformance/corpus

## tools: build the pinned OPA, gator and PSA oracle into .tools/ (skipped when present)
tools: $(STAMP)
	@echo ">> pinned tools (OPA, gator, upstream PSA oracle)"
	$(VENV)/bin/pssgen tools install

## cluster-tools: build the local cluster's pinned kube-apiserver, kubectl, etcd and Gatekeeper into .tools/ (skipped
## when present; about 10 minutes cold on 2 cores). `make test` needs them: tests/test_cluster_harness.py starts one.
.PHONY: cluster-tools
cluster-tools: $(STAMP)
	$(VENV)/bin/pssgen tools install kube-apiserver kubectl etcd gatekeeper

## cluster: start a local kube-apiserver + etcd + Gatekeeper with out/gatekeeper applied, print the KUBECONFIG to
## export, and keep it up until Ctrl-C (which stops everything it started)
.PHONY: cluster
cluster: cluster-tools
	$(VENV)/bin/pssgen cluster

## lint: ruff (rules and format), mypy --strict over the package, and the import-linter contracts (one-way imports)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict generator
	$(VENV)/bin/lint-imports

## test: set up everything and run every test (unit, conformance, generated-bundle checks)
test: tools cluster-tools lint
	@echo ">> pytest"
	$(VENV)/bin/pytest

## test-fast: the unit tests that need no pinned tool (no OPA, gator, Regal or oracle), in well under a minute
test-fast: $(STAMP)
	$(VENV)/bin/pytest tests -m "not slow and not tools" -q

## bench: every speed figure beside its target, each the median of several runs (bench/run.py; about 18 minutes
## on 2 cores). REGO=dir QUERY=q [SHAPE=pss|raw|gatekeeper] times other Rego beside out/rego, e.g.
## `make bench REGO=out/rego QUERY=data.main.deny SHAPE=raw`; BENCH_ARGS=--quick for a two-minute run.
bench: tools
	$(PY) bench/run.py $(if $(REGO),--rego '$(REGO)' --query '$(QUERY)' $(if $(SHAPE),--input-shape $(SHAPE))) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools .pytest_cache
