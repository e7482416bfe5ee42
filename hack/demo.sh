#!/usr/bin/env bash
# `make demo`: run the demo playbook against the local cluster (started by make).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBECONFIG:?set by make demo}" "${KUBECTL:?set by make demo}"
export ANSIBLE_COLLECTIONS_PATH="$PWD/build" ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-}"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
exec .venv/bin/ansible-playbook playbooks/demo_local_cluster.yml \
  -e "kubeconfig=$KUBECONFIG" -e "kubectl=$KUBECTL"
