# openrollout.k8s: the two commands are `make demo` and `make test` (README.md).
# Everything they need is set up here: the venv from requirements-dev.txt, and the
# control plane built from Go modules into ~/.cache/openrollout (hack/cluster/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
PY := $(VENV)/bin/python
KUBECONFIG_PATH := $(CURDIR)/.cluster/kubeconfig
# ansible-test needs the collection at .../ansible_collections/openrollout/k8s: a symlink
# in build/ keeps the repository root as the collection root.
COLLECTION_LINK := build/ansible_collections/openrollout/k8s
PYTEST_FLAGS ?= -q

.PHONY: help venv collection-link cluster-build cluster-up cluster-down cluster-status \
        kubectl-path test test-unit units test-integration lint lint-docs docs sanity demo clean

help:
	@echo "make demo            set everything up, start the local cluster, run the demo"
	@echo "make test            set everything up and run every test (what CI runs)"
	@echo "make cluster-build   build the control plane from Go modules (cached)"
	@echo "make cluster-up|cluster-down|cluster-status|kubectl-path"
	@echo "make test-unit|units|test-integration|lint|lint-docs|sanity"
	@echo "make docs            the docs site in build/docs/html"
	@echo "make release         the changelog fragments released under galaxy.yml's version (README.md)"
	@echo "make bench           benchmarks vs kubectl and kubernetes.core (BENCH_RUNS=5): docs/performance.md"
	@echo "make reliability     invariants, kill -9 and concurrency trials (RELIABILITY_TRIALS=15): docs/reliability.md"

$(VENV_STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV_STAMP)

collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@test -L $(COLLECTION_LINK) || ln -sfn ../../.. $(COLLECTION_LINK)

cluster-build:
	hack/cluster/build.sh

cluster-up: venv
	CLUSTER_PYTHON=$(CURDIR)/$(PY) hack/cluster/up.sh

cluster-down:
	hack/cluster/down.sh

cluster-status:
	hack/cluster/status.sh

kubectl-path:
	@hack/cluster/kubectl-path.sh

# ansible-lint: the production profile (.ansible-lint) on everything written in Ansible's YAML, offline;
# the collection is found through build/ansible_collections. ANSIBLE_HOME in build/: ansible-lint puts
# $ANSIBLE_HOME/collections first on the collections path, and a copy of this collection installed in
# ~/.ansible/collections would be linted against instead of the checkout. About 1 min of CPU.
ANSIBLE_LINT_PATHS := roles playbooks extensions/molecule tests

lint: venv collection-link
	$(VENV)/bin/ruff check plugins tests hack bench
	$(VENV)/bin/ruff format --check plugins tests hack bench
	$(VENV)/bin/mypy
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_HOME=$(CURDIR)/build/ansible-lint \
	  ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build $(VENV)/bin/ansible-lint --nocolor $(ANSIBLE_LINT_PATHS)
	$(VENV)/bin/antsibull-changelog lint
	$(VENV)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

# A release (README.md, "Cutting a release"): antsibull-changelog folds every fragment of
# changelogs/fragments/ into changelogs/changelog.yaml and CHANGELOG.rst under galaxy.yml's version, and
# deletes them, committed or not: run it in a clean checkout. It finds the plugins with ansible-doc.
.PHONY: release
release: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/antsibull-changelog release

# The modules', roles' and filter's documentation as antsibull-docs renders it: schema, markup
# (O(), RV(), ...) and references, for every plugin. About 40 s (one ansible-doc per plugin type), so
# it is apart from make lint; make test runs it.
lint-docs: venv collection-link
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build \
	  $(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs .

# The docs site in build/docs/html (not committed): antsibull-docs and Sphinx, offline; the guides of
# docs/ included. See hack/docs/build.sh.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(VENV_STAMP) hack/docs/requirements.txt
	$(PY) -m pip install -q -r hack/docs/requirements.txt
	@touch $@

docs: $(DOCS_STAMP) collection-link
	hack/docs/build.sh

# ansible-test sanity, without Docker; hack/ansible-test.sh says where it runs and how it gets its
# requirements (PyPI only). It tests the files git shows: tracked ones and untracked ones that are
# not ignored; an ignored file is never tested. Each skipped test, with its reason:
#   pslint      the collection has no PowerShell, and pwsh is packaged neither by Debian nor by PyPI
# tests/sanity/ignore-*.txt stay empty: a failure is fixed, not ignored.
SANITY_SKIP := pslint

sanity: venv
	hack/ansible-test.sh sanity $(addprefix --skip-test ,$(SANITY_SKIP))

# The quick loop: pytest on tests/unit in the checkout (about 15 s).
test-unit: venv collection-link
	$(VENV)/bin/pytest $(PYTEST_FLAGS) tests/unit

# The same tests as a collection's CI runs them: `ansible-test units` on a copy of the files git shows
# (hack/ansible-test.sh), with the collection loader and each test in its own fork. `make test` runs
# this one, not test-unit: the tests run once.
UNITS_WORKERS ?= 2
units: venv
	hack/ansible-test.sh units --num-workers $(UNITS_WORKERS)

# Two workers: most of a test's time is ansible-playbook starting up and the cluster acting, and
# each test has its own namespace. --dist loadgroup: the tests of a module that starts clusters of
# its own (test_fleet.py, pytest.mark.xdist_group) all go to one worker, which starts them once; the
# other tests are spread over the workers as before.
# A failed test runs once more (INTEGRATION_RERUNS), in a new namespace: on 2 shared cores a test
# that waits on the cluster can fail from the machine's load alone. A test that passes on its rerun
# is named, with its first failure, at the end of `make test` (hack/test-failures.py), to be
# looked into; one that fails twice fails the run.
INTEGRATION_WORKERS ?= 2
INTEGRATION_RERUNS ?= 1
INTEGRATION_REPORT := build/test-results/integration.xml
INTEGRATION_RERUN_REPORT := build/test-results/integration-reruns.jsonl
test-integration: cluster-up collection-link
	$(VENV)/bin/pytest $(PYTEST_FLAGS) -n $(INTEGRATION_WORKERS) --dist loadgroup --reruns $(INTEGRATION_RERUNS) \
	  --junitxml=$(INTEGRATION_REPORT) tests/integration

# The reliability suite (docs/reliability.md): availability invariants seen by a watcher of its own,
# every process of ansible-playbook killed with SIGKILL in the middle of rollouts with hooks, two
# playbooks on one Deployment. RELIABILITY_TRIALS random trials per test on top of the fixed ones
# that `make test` runs. One JSON line per trial in build/reliability/trials.jsonl, summed up at the
# end; figures and duration in docs/reliability.md.
RELIABILITY_TRIALS ?= 15
.PHONY: reliability
reliability: cluster-up collection-link
	rm -f build/reliability/trials.jsonl
	rc=0; RELIABILITY_TRIALS=$(RELIABILITY_TRIALS) $(VENV)/bin/pytest $(PYTEST_FLAGS) -n $(INTEGRATION_WORKERS) \
	  -m reliability tests/integration || rc=$$?; \
	  $(PY) tests/integration/_reliability.py summary build/reliability/trials.jsonl; exit $$rc

# Control-plane faults (tests/integration/test_faults.py): kube-apiserver, etcd and kube-controller-manager
# restarted in the middle of a rollout wait, and a watch made too old by etcd compaction, on a cluster the
# test starts and stops itself (never the shared one). About 2-3 minutes; skipped in `make test`.
.PHONY: reliability-faults
reliability-faults: venv collection-link
	RELIABILITY_FAULTS=1 $(VENV)/bin/pytest $(PYTEST_FLAGS) tests/integration/test_faults.py

# The cluster is stopped whatever the outcome; the exit status is the tests'. Molecule's output
# follows the integration tests', so the failed integration tests, and the flaky ones, are named
# again at the very end, where a CI log's tail shows them.
test: venv collection-link
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lint-docs
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory units
	$(MAKE) --no-print-directory cluster-up
	rm -f $(INTEGRATION_REPORT)
	rc=0; $(MAKE) --no-print-directory test-integration || rc=$$?; \
	  $(MAKE) --no-print-directory molecule || rc=$$?; \
	  hack/cluster/down.sh; \
	  $(PY) hack/test-failures.py --reruns $(INTEGRATION_RERUN_REPORT) $(INTEGRATION_REPORT); exit $$rc

# The roles' molecule scenarios (extensions/molecule/, shared settings in its config.yml) on the local
# cluster: the default driver with nothing to create, Ansible on localhost; each scenario makes and
# deletes its own namespace (with the built kubectl). converge, idempotence, verify.
.PHONY: molecule
molecule: cluster-up collection-link
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" K8S_AUTH_KUBECONFIG=$(KUBECONFIG_PATH) \
	  KUBECTL=$$(hack/cluster/kubectl-path.sh) $(VENV)/bin/molecule test --all

demo: cluster-up collection-link
	KUBECONFIG=$(KUBECONFIG_PATH) KUBECTL=$$(hack/cluster/kubectl-path.sh) hack/demo.sh

# Benchmarks (bench/, not part of `make test`): about 20 minutes. They write bench/results/<date>.json
# and regenerate docs/performance.md and its chart. kubernetes.core is not on PyPI on its own and
# Galaxy is out of reach, so it is taken out of the pinned, hash-checked `ansible` bundle wheel
# (bench/kubernetes-core.txt) into build/bench-collections. BENCH_RUNS, BENCH_SCALE_RUNS,
# BENCH_SCALE_DEPLOYMENT_RUNS, BENCH_SCALE_REPLICAS, BENCH_SCALE_DEPLOYMENTS, BENCH_SLOW_DELAY,
# BENCH_KUBECTL_TIMEOUTS, BENCH_ONLY: see bench/run.py.
.PHONY: bench kubernetes-core
BENCH_STAMP := $(VENV)/.bench-installed
KUBERNETES_CORE_STAMP := build/bench-collections/.installed

$(BENCH_STAMP): $(VENV_STAMP) bench/requirements.txt
	$(PY) -m pip install -q -r bench/requirements.txt
	@touch $@

$(KUBERNETES_CORE_STAMP): bench/kubernetes-core.txt bench/install_kubernetes_core.py | $(VENV_STAMP)
	$(PY) bench/install_kubernetes_core.py --requirement bench/kubernetes-core.txt --dest build/bench-collections
	@touch $@

kubernetes-core: $(KUBERNETES_CORE_STAMP)

bench: cluster-up collection-link $(BENCH_STAMP) $(KUBERNETES_CORE_STAMP)
	$(PY) bench/run.py

clean: cluster-down
	rm -rf build $(VENV)
