#!/usr/bin/env bash
# Show the local control plane's state. Exit 0 when it runs (every component alive and the
# apiserver ready), 3 when it does not.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if [ ! -d "$CLUSTER_STATE_DIR" ]; then
  echo "local cluster: not running (no $CLUSTER_STATE_DIR; start it with hack/cluster/up.sh)"
  exit 3
fi
running=true
all_alive || running=false
ready=false
apiserver_ready && ready=true
[ "$ready" = true ] || running=false

echo "local cluster: $([ "$running" = true ] && echo running || echo "NOT running (stale or broken: run hack/cluster/up.sh to restart it)")"
echo "kubeconfig:    $KUBECONFIG_PATH"
if [ -f "$CLUSTER_STATE_DIR/ports.env" ]; then
  # shellcheck disable=SC1091
  . "$CLUSTER_STATE_DIR/ports.env"
  echo "server:        https://127.0.0.1:${API_PORT:-?}   (apiserver ready: $ready)"
fi
echo "components:"
mapfile -t extra < <(optional_components)
for c in "${COMPONENTS[@]}" "${extra[@]}"; do
  pid="$(component_pid "$c")"
  if [ -n "$pid" ]; then state="alive"; else state="DEAD"; pid="$(cat "$(pid_file "$c")" 2>/dev/null || echo -)"; fi
  printf '  %-24s pid %-8s %-6s log %s\n' "$c" "$pid" "$state" "$(log_file "$c")"
done
if [ "$ready" = true ]; then
  echo "nodes:"
  "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" get nodes -o wide 2>&1 | sed 's/^/  /'
fi
if [ -d "$NODE_DIR" ]; then
  echo "real node $REAL_NODE_NAME ($REAL_NODE_IP, pods $POD_CIDR, run dir $NODE_RUN_DIR):"
  node_state
  [ ! -f "$NODE_DIR/images.txt" ] || { echo "  images in the registry ($REGISTRY_NAME):"; sed 's/^/    /' "$NODE_DIR/images.txt"; }
else
  echo "real node: not started (CLUSTER_REAL_NODE=0)"
fi
if [ -d "$PROMETHEUS_DIR" ]; then
  prometheus_state
else
  echo "prometheus: not started (CLUSTER_PROMETHEUS=0 or CLUSTER_REAL_NODE=0)"
fi
[ "$running" = true ] || exit 3
