#!/usr/bin/env bash
# Print the absolute path of the kubectl built for the local control plane.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
echo "$CLUSTER_BIN_DIR/kubectl"
if [ ! -x "$CLUSTER_BIN_DIR/kubectl" ]; then
  echo "kubectl-path: $CLUSTER_BIN_DIR/kubectl is not built yet: run make cluster-build" >&2
  exit 1
fi
