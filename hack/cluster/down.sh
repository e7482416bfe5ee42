#!/usr/bin/env bash
# Stop the local control plane started by up.sh (SIGTERM, then SIGKILL after 5 s) and delete its
# state dir (<repo>/.cluster: etcd data, credentials, logs). Safe when nothing runs.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

cluster_lock
if [ ! -d "$CLUSTER_STATE_DIR" ]; then
  echo "cluster down: nothing to stop ($CLUSTER_STATE_DIR does not exist)"
  exit 0
fi
stop_components
rm -rf "$CLUSTER_STATE_DIR"
echo "cluster down: stopped; removed $CLUSTER_STATE_DIR"
