# Shared by up.sh, down.sh and status.sh (sourced, not run).
# State of the local cluster lives in $CLUSTER_STATE_DIR (default: <repo>/.cluster):
#   kubeconfig            admin kubeconfig (system:masters) for users and tests
#   ports.env             the ports picked at start
#   pki/  *.kubeconfig    credentials (bootstrap.py)
#   etcd/                 etcd data
#   kwok/                 generated kwok config
#   logs/<component>.log  pids/<component>.pid
#   node/                 the real node's (node.sh)
#   prometheus/           Prometheus' config and data (prometheus.sh); prometheus-url its address
# shellcheck shell=bash disable=SC2034

cluster_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
. "$cluster_here/versions.sh"
REPO_ROOT="$(cd "$cluster_here/../.." && pwd)"
CLUSTER_STATE_DIR="${CLUSTER_STATE_DIR:-$REPO_ROOT/.cluster}"
KUBECTL="$CLUSTER_BIN_DIR/kubectl"
KUBECONFIG_PATH="$CLUSTER_STATE_DIR/kubeconfig"
# Start order; stopped in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwok-logs)

pid_file() { echo "$CLUSTER_STATE_DIR/pids/$1.pid"; }
log_file() { echo "$CLUSTER_STATE_DIR/logs/$1.log"; }

# component_pid <name>: the pid of a live process of ours, or nothing. "Ours" means its command
# line mentions our state dir, so a recycled pid of an unrelated process is never reported.
component_pid() {
  local f pid
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CLUSTER_STATE_DIR/"; then
    echo "$pid"
  fi
}

# apiserver_ready: /readyz answers "ok" through the admin kubeconfig.
apiserver_ready() {
  [ -x "$KUBECTL" ] && [ -f "$KUBECONFIG_PATH" ] || return 1
  [ "$("$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=3s get --raw /readyz 2>/dev/null)" = "ok" ]
}

# optional_components: the components of the real node and Prometheus, when they were started.
optional_components() {
  [ ! -d "$NODE_DIR" ] || printf '%s\n' "${NODE_COMPONENTS[@]}"
  [ ! -d "$PROMETHEUS_DIR" ] || echo prometheus
}

# all_alive: every component has a live process (the real node's and Prometheus too, when started).
all_alive() {
  local c extra
  mapfile -t extra < <(optional_components)
  for c in "${COMPONENTS[@]}" "${extra[@]}"; do
    [ -n "$(component_pid "$c")" ] || return 1
  done
}

# stop_pids <pid>...: SIGTERM each, SIGKILL what is left after <STOP_GRACE> seconds (default 5).
stop_pids() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + ${STOP_GRACE:-5})) left pid
  while :; do
    left=()
    for pid in "$@"; do
      if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        left+=("$pid")
      fi
    done
    [ "${#left[@]}" -gt 0 ] || return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "${left[@]}" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}

# stop_component <name>: stop one component if it runs.
stop_component() {
  local pid
  pid="$(component_pid "$1")"
  [ -z "$pid" ] || stop_pids "$pid"
}

# stop_components: Prometheus first (it scrapes the node's pods), then the real node (pods, then its
# processes, then what it left on the host), then every other live component in reverse start order.
# Safe when nothing runs.
stop_components() {
  stop_component prometheus
  if [ -d "$NODE_DIR" ]; then node_teardown; fi
  local i c pid pids=()
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c="${COMPONENTS[$i]}"
    pid="$(component_pid "$c")"
    [ -z "$pid" ] || pids+=("$pid")
  done
  stop_pids "${pids[@]}"
}

# cluster_lock: serialise up.sh/down.sh on one state dir (e.g. several pytest-xdist workers all
# calling up.sh). The lock file lives outside the state dir, which down.sh deletes; fd 9 is
# closed in every started component so none of them keeps the lock.
cluster_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  local key
  key="$(printf '%s' "$CLUSTER_STATE_DIR" | cksum | cut -d' ' -f1)"
  exec 9>"${TMPDIR:-/tmp}/openrollout-cluster-$key.lock"
  flock -w 300 9 || { echo "cluster: another up.sh/down.sh holds the lock for $CLUSTER_STATE_DIR" >&2; exit 1; }
}

# shellcheck source=node.sh
. "$cluster_here/node.sh"
# shellcheck source=prometheus.sh
. "$cluster_here/prometheus.sh"
