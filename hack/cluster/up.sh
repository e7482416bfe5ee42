#!/usr/bin/env bash
# Start the local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
# and kwok (3 fake nodes), as background processes on 127.0.0.1 with free ports, state in
# <repo>/.cluster; then the real node (node.sh: registry, containerd, kubelet, kube-proxy) unless
# CLUSTER_REAL_NODE=0, and Prometheus scraping its pods (prometheus.sh) unless CLUSTER_PROMETHEUS=0.
# Reuses a running cluster; cleans a stale one. See hack/cluster/README.md.
set -euo pipefail
cluster_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$cluster_here/lib.sh"

start_time=$SECONDS
NODES=(kwok-node-0 kwok-node-1 kwok-node-2)
START_TIMEOUT="${CLUSTER_START_TIMEOUT:-90}" # seconds, per wait

say() { echo "cluster up: $*"; }
die() { echo "cluster up: ERROR: $*" >&2; exit 1; }

# --- 0. already running? stale? -------------------------------------------------------------
cluster_lock # one up.sh/down.sh at a time per state dir (pytest-xdist workers all call up.sh)
if [ -d "$CLUSTER_STATE_DIR" ]; then
  if all_alive && apiserver_ready; then
    say "local cluster already running (kubeconfig: $KUBECONFIG_PATH)"
    "$cluster_here/gateway-api.sh" || die "installing the Gateway API CRDs failed (see above)"
    exit 0
  fi
  say "found a stale or broken cluster in $CLUSTER_STATE_DIR: stopping what is left and starting fresh"
  stop_components
  rm -rf "$CLUSTER_STATE_DIR"
fi

# --- 1. binaries and python ------------------------------------------------------------------
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
if real_node_wanted; then
  BINARIES+=(kubelet kube-proxy)
  node_prerequisites || die "the real node cannot start (see above)"
  node_claim >&2 || die "the real node cannot start (see above)"
fi
if prometheus_wanted; then BINARIES+=(prometheus); fi
missing() { for bin in "${BINARIES[@]}"; do [ -x "$CLUSTER_BIN_DIR/$bin" ] || return 0; done; return 1; }
if missing; then # first run: build (minutes); build.sh is a no-op once everything is cached
  say "binaries missing in $CLUSTER_BIN_DIR: building them with hack/cluster/build.sh (make cluster-build)"
  "$cluster_here/build.sh" || die "building the control plane failed (see above); fix it, then run: make cluster-build"
fi
for bin in "${BINARIES[@]}"; do
  [ -x "$CLUSTER_BIN_DIR/$bin" ] || die "$CLUSTER_BIN_DIR/$bin is missing: run make cluster-build (hack/cluster/build.sh)"
done
if real_node_wanted; then
  for bin in "${NODE_TOOLS[@]}"; do
    [ -x "$TOOLS_BIN_DIR/$bin" ] || "$cluster_here/build.sh" || die "building the node's tools failed (see above)"
    [ -x "$TOOLS_BIN_DIR/$bin" ] || die "$TOOLS_BIN_DIR/$bin is missing: run make cluster-build (hack/cluster/build.sh)"
  done
fi
PYTHON="${CLUSTER_PYTHON:-$REPO_ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3 || true)"
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import cryptography, kubernetes' 2>/dev/null; then
  die "need a Python with 'cryptography' and 'kubernetes' (create the venv: python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt)"
fi

# --- 2. state, ports, credentials ------------------------------------------------------------
mkdir -p "$CLUSTER_STATE_DIR"/{logs,pids,etcd,kwok}
chmod 700 "$CLUSTER_STATE_DIR" "$CLUSTER_STATE_DIR/etcd"
started=() # components started so far, for cleanup on failure
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "${#started[@]}" -gt 0 ]; then
    echo "cluster up: stopping the components started so far (logs kept in $CLUSTER_STATE_DIR/logs)" >&2
    stop_components
  fi
}
trap on_exit EXIT

read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KWOK_PORT \
  REGISTRY_PORT KUBELET_PORT KUBELET_HEALTHZ_PORT PROXY_HEALTHZ_PORT PROXY_METRICS_PORT PROMETHEUS_PORT \
  < <("$PYTHON" "$cluster_here/bootstrap.py" free-ports 12)
cat >"$CLUSTER_STATE_DIR/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
KWOK_PORT=$KWOK_PORT
EOF
if real_node_wanted; then
  cat >>"$CLUSTER_STATE_DIR/ports.env" <<EOF
REGISTRY_PORT=$REGISTRY_PORT
KUBELET_PORT=$KUBELET_PORT
KUBELET_HEALTHZ_PORT=$KUBELET_HEALTHZ_PORT
PROXY_HEALTHZ_PORT=$PROXY_HEALTHZ_PORT
PROXY_METRICS_PORT=$PROXY_METRICS_PORT
EOF
fi
if prometheus_wanted; then echo "PROMETHEUS_PORT=$PROMETHEUS_PORT" >>"$CLUSTER_STATE_DIR/ports.env"; fi
"$PYTHON" "$cluster_here/bootstrap.py" credentials "$CLUSTER_STATE_DIR" "$API_PORT"
cp "$CLUSTER_STATE_DIR/admin.kubeconfig" "$KUBECONFIG_PATH"
pki="$CLUSTER_STATE_DIR/pki"

# --- helpers ---------------------------------------------------------------------------------
# start <component> <command...>: run detached (own session, so it outlives this script and its
# terminal), stdin closed, output to logs/<component>.log; the pid is written by the process itself
# before exec, so it is right even if setsid has to fork.
start() {
  local name="$1"; shift
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$(pid_file "$name")" "$@" \
    </dev/null >"$(log_file "$name")" 2>&1 9>&- &
  started+=("$name")
}

# fail <component> <message>: show the component's log tail and give up (on_exit stops the rest).
fail() {
  local name="$1" log
  log="$(log_file "$name")"
  echo "cluster up: ERROR: $2" >&2
  if [ -s "$log" ]; then
    echo "----- last 30 lines of $log -----" >&2
    tail -n 30 "$log" >&2
    echo "-----" >&2
    if grep -q 'address already in use' "$log"; then
      echo "cluster up: a port picked as free was taken meanwhile (ports: $CLUSTER_STATE_DIR/ports.env); run up.sh again" >&2
    fi
  fi
  exit 1
}

# check_alive: every component started so far still runs (a pid file appears within a moment).
check_alive() {
  local c
  for c in "${started[@]}"; do
    if [ -z "$(component_pid "$c")" ]; then
      sleep 0.2 # the pid file may not be written yet
      [ -n "$(component_pid "$c")" ] || fail "$c" "$c exited during start-up"
    fi
  done
}

# wait_for <component> <description> <command...>: poll a health check until it succeeds; fail
# fast if any component dies, or after $START_TIMEOUT seconds (showing <component>'s log).
wait_for() {
  local name="$1" what="$2"; shift 2
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    check_alive
    [ "$SECONDS" -lt "$deadline" ] || fail "$name" "timed out after ${START_TIMEOUT}s waiting for $what"
    sleep 0.2
  done
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# healthz <port>: a component's /healthz over TLS, verified against the cluster CA.
healthz() {
  local token
  token="$(awk -F, '$2 == "openrollout-admin" {print $1}' "$pki/tokens.csv")"
  [ "$("$KUBECTL" --kubeconfig /dev/null --server "https://127.0.0.1:$1" \
    --certificate-authority "$pki/ca.crt" --token "$token" --request-timeout=2s \
    get --raw /healthz 2>/dev/null)" = "ok" ]
}

nodes_ready() {
  local ready
  ready="$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')"
  for n in "${NODES[@]}"; do grep -qx "$n=True" <<<"$ready" || return 1; done
}

rbac_enforced() {
  [ "$(kc auth can-i '*' '*' --all-namespaces)" = "yes" ] &&
    [ "$(kc auth can-i create deployments.apps -n default --as system:serviceaccount:default:default 2>/dev/null)" = "no" ]
}

# --- 3. etcd and kube-apiserver --------------------------------------------------------------
say "starting etcd (:$ETCD_PORT) and kube-apiserver (:$API_PORT) from $CLUSTER_BIN_DIR"
start etcd "$CLUSTER_BIN_DIR/etcd" \
  --name=openrollout \
  --data-dir="$CLUSTER_STATE_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="openrollout=http://127.0.0.1:$ETCD_PEER_PORT" \
  --auto-compaction-retention=1 \
  --quota-backend-bytes=2147483648 \
  --unsafe-no-fsync=true \
  --log-level=warn

start kube-apiserver "$CLUSTER_BIN_DIR/kube-apiserver" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --endpoint-reconciler-type=none \
  --secure-port="$API_PORT" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --tls-cert-file="$pki/apiserver.crt" \
  --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --token-auth-file="$pki/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" \
  --kubelet-certificate-authority="$pki/ca.crt" \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP \
  --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$pki/front-proxy-client.crt" \
  --proxy-client-key-file="$pki/front-proxy-client.key" \
  --allow-privileged=true \
  --profiling=false \
  --v=1

wait_for kube-apiserver "kube-apiserver /readyz" apiserver_ready

# --- 4. controllers, scheduler, kwok ---------------------------------------------------------
say "starting kube-controller-manager (:$KCM_PORT), kube-scheduler (:$SCHED_PORT), kwok (:$KWOK_PORT)"
kcm_kc="$CLUSTER_STATE_DIR/kube-controller-manager.kubeconfig"
start kube-controller-manager "$CLUSTER_BIN_DIR/kube-controller-manager" \
  --kubeconfig="$kcm_kc" \
  --authentication-kubeconfig="$kcm_kc" \
  --authorization-kubeconfig="$kcm_kc" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --tls-cert-file="$pki/kube-controller-manager.crt" \
  --tls-private-key-file="$pki/kube-controller-manager.key" \
  --client-ca-file="$pki/ca.crt" \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" \
  --cluster-signing-key-file="$pki/ca.key" \
  --leader-elect=false \
  --kube-api-qps=100 \
  --kube-api-burst=200 \
  --v=1

sched_kc="$CLUSTER_STATE_DIR/kube-scheduler.kubeconfig"
start kube-scheduler "$CLUSTER_BIN_DIR/kube-scheduler" \
  --kubeconfig="$sched_kc" \
  --authentication-kubeconfig="$sched_kc" \
  --authorization-kubeconfig="$sched_kc" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHED_PORT" \
  --tls-cert-file="$pki/kube-scheduler.crt" \
  --tls-private-key-file="$pki/kube-scheduler.key" \
  --client-ca-file="$pki/ca.crt" \
  --leader-elect=false \
  --kube-api-qps=100 \
  --kube-api-burst=200 \
  --v=1

# kwok serves container logs from Logs objects: their CRD must exist before kwok starts. Prometheus'
# role goes in the same call (one kubectl less), whether Prometheus runs or not.
kc apply -f "$cluster_here/kwok/crds/kwok.x-k8s.io_logs.yaml" -f "$cluster_here/prometheus/rbac.yaml" >/dev/null
wait_for kube-apiserver "the Logs CRD to be established" \
  kc wait --for=condition=Established --timeout=5s crd/logs.kwok.x-k8s.io
cat >"$CLUSTER_STATE_DIR/kwok/cluster-logs.yaml" <<EOF
# Generated by up.sh: pods without their own Logs object get empty container logs.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: default-empty
spec:
  logs:
  - logsFile: $cluster_here/kwok/logs/empty.log
    previousLogsFile: $cluster_here/kwok/logs/empty.log
EOF
kwok_configs=("--config=$cluster_here/kwok/kwok.yaml" "--config=$CLUSTER_STATE_DIR/kwok/cluster-logs.yaml")
for stage in "$cluster_here"/kwok/stages/*.yaml; do kwok_configs+=("--config=$stage"); done
# KWOK_WORKDIR keeps kwok from also loading a personal ~/.kwok/kwok.yaml.
start kwok env KWOK_WORKDIR="$CLUSTER_STATE_DIR/kwok" "$CLUSTER_BIN_DIR/kwok" \
  --kubeconfig="$CLUSTER_STATE_DIR/kwok.kubeconfig" \
  "${kwok_configs[@]}" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 \
  --node-port="$KWOK_PORT" \
  --server-address="127.0.0.1:$KWOK_PORT" \
  --tls-cert-file="$pki/kwok.crt" \
  --tls-private-key-file="$pki/kwok.key"

start kwok-logs "$PYTHON" "$cluster_here/kwok/logs_linker.py" \
  --kubeconfig="$CLUSTER_STATE_DIR/kwok.kubeconfig" \
  --logs-dir="$cluster_here/kwok/logs"

for n in "${NODES[@]}"; do
  cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $n
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
done | kc create -f - >/dev/null

# --- 5. the real node --------------------------------------------------------------------------
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }
real_node_ready() {
  [ "$(kc get node "$REAL_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
if real_node_wanted; then
  say "starting the real node $REAL_NODE_NAME ($REAL_NODE_IP): registry (:$REGISTRY_PORT), containerd, kubelet (:$KUBELET_PORT), kube-proxy"
  node_network || die "setting up the pod bridge $NODE_BRIDGE, the Service route or the egress guard failed"
  node_configs "$REGISTRY_PORT" "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$PROXY_HEALTHZ_PORT" "$PROXY_METRICS_PORT"
  # The registry's config lives in the state dir so that its command line names it (component_pid).
  cp "$cluster_here/registry/config.yml" "$NODE_DIR/registry.yml"
  start registry env REGISTRY_HTTP_ADDR="127.0.0.1:$REGISTRY_PORT" \
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$NODE_DIR/registry" OTEL_TRACES_EXPORTER=none \
    "$TOOLS_BIN_DIR/registry" serve "$NODE_DIR/registry.yml"
  start containerd "$(command -v containerd)" --config "$NODE_DIR/containerd/config.toml"
  wait_for registry "the registry on 127.0.0.1:$REGISTRY_PORT" http_ok "http://127.0.0.1:$REGISTRY_PORT/v2/"
  "$TOOLS_BIN_DIR/openrollout-images" push --registry "127.0.0.1:$REGISTRY_PORT" \
    --binary "$TOOLS_BIN_DIR/openrollout-testapp" >"$NODE_DIR/images.txt" 2>"$(log_file images)" ||
    fail images "pushing the test app's images to the registry failed"
  wait_for containerd "containerd on $CONTAINERD_SOCK" ctr_node version
  start kubelet "$CLUSTER_BIN_DIR/kubelet" \
    --config="$NODE_DIR/kubelet/config.yaml" \
    --kubeconfig="$CLUSTER_STATE_DIR/kubelet.kubeconfig" \
    --root-dir="$NODE_DIR/kubelet/root" \
    --cert-dir="$NODE_DIR/kubelet/pki" \
    --hostname-override="$REAL_NODE_NAME" \
    --node-ip="$REAL_NODE_IP" \
    --node-labels="$REAL_NODE_LABEL" \
    --v=1
  start kube-proxy "$CLUSTER_BIN_DIR/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml" --v=1
fi
if prometheus_wanted; then
  say "starting prometheus (127.0.0.1:$PROMETHEUS_PORT), scraping the annotated pods of $REAL_NODE_NAME every $PROMETHEUS_SCRAPE_INTERVAL"
  prometheus_config
  echo "http://127.0.0.1:$PROMETHEUS_PORT" >"$PROMETHEUS_URL_FILE"
  start prometheus "$CLUSTER_BIN_DIR/prometheus" \
    --config.file="$PROMETHEUS_DIR/prometheus.yml" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=1d
fi

# --- 6. wait until usable --------------------------------------------------------------------
wait_for kube-controller-manager "kube-controller-manager /healthz" healthz "$KCM_PORT"
wait_for kube-scheduler "kube-scheduler /healthz" healthz "$SCHED_PORT"
wait_for kwok "nodes ${NODES[*]} Ready (kwok)" nodes_ready
if real_node_wanted; then
  wait_for kubelet "node $REAL_NODE_NAME Ready (kubelet)" real_node_ready
  wait_for kube-proxy "kube-proxy /healthz" http_ok "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"
fi
if prometheus_wanted; then wait_for prometheus "prometheus /-/ready" prometheus_ready; fi
wait_for kube-controller-manager "ServiceAccount default/default" kc get serviceaccount default -n default
wait_for kube-apiserver "RBAC (admin can do anything, default SA cannot)" rbac_enforced
"$cluster_here/gateway-api.sh" || fail kube-apiserver "installing the Gateway API CRDs failed (see above)"
check_alive

say "local cluster ready in $((SECONDS - start_time))s"
if real_node_wanted; then
  echo "  real node:  $REAL_NODE_NAME (taint $REAL_NODE_TAINT_KEY, label $REAL_NODE_LABEL), images $TESTAPP_IMAGE:{v1,v2,v3,broken}"
fi
if prometheus_wanted; then
  echo "  prometheus: $(cat "$PROMETHEUS_URL_FILE") (pods annotated prometheus.io/scrape: \"true\")"
fi
echo "  kubeconfig: $KUBECONFIG_PATH"
echo "  server:     https://127.0.0.1:$API_PORT"
echo "  kubectl:    $KUBECTL"
echo "  use:        export KUBECONFIG=$KUBECONFIG_PATH"
