# The real node of the local cluster: kubelet, containerd, runc, CNI (bridge + host-local) and
# kube-proxy on this machine, beside the KWOK nodes, plus a registry on loopback serving the test
# app's images. Sourced by up.sh, down.sh and status.sh after lib.sh; see README.md ("The real node").
#
# Everything it changes on the host is undone by node_teardown: processes, mounts, the pod bridge,
# the route of the Service range, iptables rules (kube-proxy's and ours), the sysctls it set.
# SC2030/SC2031: node_alive and node_claim look at another state dir's node in a subshell, on purpose.
# shellcheck shell=bash disable=SC2034,SC2030,SC2031

REAL_NODE_NAME=openrollout-node # kept in step with bootstrap.py
REAL_NODE_IP=10.88.0.1          # the pod bridge's gateway; what the node reports as InternalIP
POD_CIDR=10.88.0.0/24 # apart from the KWOK pods' made-up IPs (10.244.0.0/16, kwok/kwok.yaml)
SERVICE_CIDR=10.96.0.0/16 # kube-apiserver --service-cluster-ip-range
KWOK_POD_CIDR=10.244.0.0/16 # kwok/kwok.yaml: nothing answers there
NODE_BRIDGE=or-br0
# Pods land on the real node only if they tolerate this taint (and select the label), so every other
# pod of the tests stays on KWOK.
REAL_NODE_TAINT_KEY=openrollout.k8s/real-node
REAL_NODE_LABEL=openrollout.k8s/node=real
# Images of the real node come from our registry on loopback under this name; containerd maps it to
# 127.0.0.1:<REGISTRY_PORT> (certs.d/<name>/hosts.toml), so the name is never looked up.
REGISTRY_NAME=registry.openrollout.test
TESTAPP_IMAGE=$REGISTRY_NAME/openrollout/testapp
PAUSE_IMAGE=$REGISTRY_NAME/openrollout/pause:3.10
NODE_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack)
CNI_BIN_DIR=/usr/lib/cni
# node_paths: the node's paths for $CLUSTER_STATE_DIR. Sockets and containerd's runtime state get a
# short path (a unix socket path has 107 bytes at most), one per state dir.
node_paths() {
  NODE_DIR="$CLUSTER_STATE_DIR/node"
  NODE_RUN_DIR="/run/openrollout-$(printf '%s' "$CLUSTER_STATE_DIR" | cksum | cut -d' ' -f1)"
  CONTAINERD_SOCK="$NODE_RUN_DIR/containerd.sock"
}
node_paths
# One real node per machine: the bridge, the Service route and the iptables rules are host-wide.
REAL_NODE_OWNER=/run/openrollout-real-node.owner
NODE_COMPONENTS=(registry containerd kubelet kube-proxy)
# Built by build.sh into TOOLS_BIN_DIR (keyed by their sources): hack/cluster/go/{testapp,images,registry}.
NODE_TOOLS=(openrollout-testapp openrollout-images registry)
# The sysctls the node needs, or that kubelet sets on its own (protectKernelDefaults: false): their
# values before up.sh are saved in node/sysctl.saved and put back by node_teardown.
NODE_SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.ipv4.conf.all.route_localnet
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# iptables chain of ours (mangle table, where kube-proxy adds nothing): pods may talk to each other, to the node and to Services, never beyond
# the machine (no masquerade either).
EGRESS_CHAIN=OPENROLLOUT-EGRESS

real_node_wanted() { [ "${CLUSTER_REAL_NODE:-1}" != 0 ]; }

ctr_node() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# node_prerequisites: Debian's packages, installed with apt when missing; root is needed anyway.
node_prerequisites() {
  [ "$(id -u)" = 0 ] || { echo "the real node needs root (kubelet, containerd, iptables); run as root or set CLUSTER_REAL_NODE=0 for a KWOK-only cluster"; return 1; }
  local missing=() bin
  for bin in containerd containerd-shim-runc-v2 ctr runc iptables iptables-save conntrack ip; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
  done
  for bin in bridge host-local loopback; do
    [ -x "$CNI_BIN_DIR/$bin" ] || missing+=("cni-$bin")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  echo "cluster up: installing Debian packages for the real node (${NODE_PACKAGES[*]}; missing: ${missing[*]})"
  if ! DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
    ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${NODE_PACKAGES[@]}" iproute2 >/dev/null; then
    echo "apt-get install ${NODE_PACKAGES[*]} failed"
    return 1
  fi
}

# node_alive <state dir>: a process of that cluster's real node still runs.
node_alive() {
  (
    CLUSTER_STATE_DIR="$1"
    local c
    for c in "${NODE_COMPONENTS[@]}"; do [ -z "$(component_pid "$c")" ] || exit 0; done
    exit 1
  )
}

# node_claim: take the machine-wide real node for this state dir, or say whose it is. A claim whose
# node runs no process any more (its processes were killed, its state dir removed) is stale: what it
# left on the host is cleaned, and the node is ours.
node_claim() {
  if [ -f "$REAL_NODE_OWNER" ]; then
    local owner
    owner="$(cat "$REAL_NODE_OWNER")"
    if [ "$owner" != "$CLUSTER_STATE_DIR" ] && node_alive "$owner"; then
      echo "the real node of this machine belongs to the cluster in $owner (one per machine: its bridge and iptables rules are host-wide); stop it (CLUSTER_STATE_DIR=$owner hack/cluster/down.sh) or start this one with CLUSTER_REAL_NODE=0"
      return 1
    fi
    # a stale claim, or our own from an earlier start: clean what it may have left, then take it
    (CLUSTER_STATE_DIR="$owner" && node_paths && node_host_cleanup)
  fi
  echo "$CLUSTER_STATE_DIR" >"$REAL_NODE_OWNER"
}

# node_network: the pod bridge with the node's address, the Service range routed onto it, the
# sysctls, and the egress guard.
node_network() {
  mkdir -p "$NODE_DIR"
  local s
  : >"$NODE_DIR/sysctl.saved"
  for s in "${NODE_SYSCTLS[@]}"; do
    echo "$s=$(sysctl -n "$s")" >>"$NODE_DIR/sysctl.saved"
  done
  sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 >/dev/null
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge
  ip addr replace "$REAL_NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # A ClusterIP that kube-proxy has not (yet) translated must not follow the default route off the
  # machine: on the bridge, it finds nobody and stays here.
  ip route replace "$SERVICE_CIDR" dev "$NODE_BRIDGE"
  # Nor a KWOK pod's made-up IP, which kube-proxy may put behind a Service that selects KWOK pods.
  ip route replace "$KWOK_POD_CIDR" dev "$NODE_BRIDGE"
  iptables -w -t mangle -N "$EGRESS_CHAIN" 2>/dev/null || iptables -w -t mangle -F "$EGRESS_CHAIN"
  iptables -w -t mangle -A "$EGRESS_CHAIN" -o "$NODE_BRIDGE" -j RETURN
  iptables -w -t mangle -A "$EGRESS_CHAIN" -m comment --comment "openrollout: pods never reach beyond this machine" -j DROP
  iptables -w -t mangle -C FORWARD -i "$NODE_BRIDGE" -j "$EGRESS_CHAIN" 2>/dev/null ||
    iptables -w -t mangle -I FORWARD 1 -i "$NODE_BRIDGE" -j "$EGRESS_CHAIN"
}

# node_configs <registry port> <kubelet port> <kubelet healthz port> <proxy healthz> <proxy metrics>
node_configs() {
  local registry_port="$1" kubelet_port="$2" kubelet_healthz="$3" proxy_healthz="$4" proxy_metrics="$5"
  local pki="$CLUSTER_STATE_DIR/pki"
  mkdir -p "$NODE_DIR"/{containerd,cni/net.d,cni/ipam,kubelet,registry} \
    "$NODE_DIR/containerd/certs.d/$REGISTRY_NAME" "$NODE_RUN_DIR"

  cat >"$NODE_DIR/containerd/certs.d/$REGISTRY_NAME/hosts.toml" <<EOF
# Generated by up.sh: $REGISTRY_NAME is our registry on loopback, over plain HTTP.
server = "http://127.0.0.1:$registry_port"

[host."http://127.0.0.1:$registry_port"]
  capabilities = ["pull", "resolve"]
EOF

  cat >"$NODE_DIR/containerd/config.toml" <<EOF
# Generated by up.sh (hack/cluster/node.sh). containerd $(containerd --version | awk '{print $3}').
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_RUN_DIR/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.opt"]

[grpc]
  address = "$CONTAINERD_SOCK"

[debug]
  level = "warn"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Without CAP_SYS_RESOURCE, runc cannot lower a process's oom_score_adj: every sandbox failed with
  # "can't get final child's PID from pipe: EOF" until this was set.
  restrict_oom_score_adj = true
  # Network namespaces under our state dir, not /run/netns: down.sh finds every one of them.
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  disable_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE_DIR/containerd/certs.d"
EOF

  # No masquerade and no default route: a pod reaches the other pods and the node on the bridge, and
  # Services through the node; anything else is "network unreachable" in the pod (and EGRESS_CHAIN
  # drops it on the node, should a pod add a route of its own).
  cat >"$NODE_DIR/cni/net.d/10-openrollout.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "openrollout",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$REAL_NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR", "gw": "$REAL_NODE_IP"}],
        "dataDir": "$NODE_DIR/cni/ipam"
      }
    }
  ]
}
EOF

  # Pods get no name server (nothing in this cluster resolves names): a lookup fails at once on the
  # pod's own loopback, and never goes to the machine's resolver.
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$NODE_DIR/resolv.conf"

  cat >"$NODE_DIR/kubelet/config.yaml" <<EOF
# Generated by up.sh (hack/cluster/node.sh).
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $REAL_NODE_IP
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# cgroups v1 and no CAP_SYS_RESOURCE here: no QoS cgroup tree, no node allocatable enforcement.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
resolvConf: $NODE_DIR/resolv.conf
clusterDomain: cluster.local
registerWithTaints:
- key: $REAL_NODE_TAINT_KEY
  value: "true"
  effect: NoSchedule
serializeImagePulls: false
# A test machine's disk fills with other things: evict only when it is really full.
evictionHard: {memory.available: 200Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Status every 4 s (the default is 10): a test sees a node condition change sooner.
nodeStatusUpdateFrequency: 4s
volumePluginDir: $NODE_DIR/kubelet/volume-plugins
maxPods: 110
EOF

  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
# Generated by up.sh (hack/cluster/node.sh).
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $CLUSTER_STATE_DIR/kube-proxy.kubeconfig
mode: iptables
hostnameOverride: $REAL_NODE_NAME
bindAddress: $REAL_NODE_IP
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:$proxy_healthz
metricsBindAddress: 127.0.0.1:$proxy_metrics
# Leave the host's conntrack table sizes and timeouts as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  syncPeriod: 30s
  minSyncPeriod: 0s
nodePortAddresses: ["$REAL_NODE_IP/32"]
EOF
}

# node_tasks_kill: SIGKILL every container of ours and delete the tasks, so that their shims exit.
node_tasks_kill() {
  [ -S "$CONTAINERD_SOCK" ] || return 0
  local ids id
  ids="$(ctr_node tasks ls -q 2>/dev/null || true)"
  [ -n "$ids" ] || return 0
  for id in $ids; do ctr_node tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  local deadline=$((SECONDS + 10))
  for id in $ids; do
    until ctr_node tasks delete "$id" >/dev/null 2>&1 || ! ctr_node tasks ls -q 2>/dev/null | grep -qx "$id"; do
      [ "$SECONDS" -lt "$deadline" ] || break
      sleep 0.2
    done
  done
}

# node_host_cleanup: what the node leaves on the host once its processes are gone: shims, mounts,
# network namespaces, the bridge, the Service route, iptables rules, sysctls. Idempotent.
node_host_cleanup() {
  local pid
  # shims of our containerd (it passes its address on their command line)
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # mounts under our dirs, deepest first: container rootfs, pod volumes (tmpfs), network namespaces
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v a="$NODE_DIR/" -v b="$NODE_RUN_DIR/" 'index($5, a) == 1 || index($5, b) == 1 {print $5}' \
    /proc/self/mountinfo | sort -r)
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then ip link del "$NODE_BRIDGE" 2>/dev/null || true; fi
  ip route del "$SERVICE_CIDR" dev "$NODE_BRIDGE" 2>/dev/null || true
  ip route del "$KWOK_POD_CIDR" dev "$NODE_BRIDGE" 2>/dev/null || true
  while iptables -w -t mangle -D FORWARD -i "$NODE_BRIDGE" -j "$EGRESS_CHAIN" 2>/dev/null; do :; done
  iptables -w -t mangle -F "$EGRESS_CHAIN" 2>/dev/null || true
  iptables -w -t mangle -X "$EGRESS_CHAIN" 2>/dev/null || true
  # kube-proxy's chains as its --cleanup removes them, then what kubelet adds (KUBE-FIREWALL,
  # KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, in IPv4 and IPv6), which --cleanup leaves
  if [ -x "$CLUSTER_BIN_DIR/kube-proxy" ]; then
    "$CLUSTER_BIN_DIR/kube-proxy" --cleanup --v=0 >/dev/null 2>&1 || true
  fi
  node_kube_chains_cleanup
  if [ -f "$NODE_DIR/sysctl.saved" ]; then
    local line
    while read -r line; do sysctl -q -w "$line" >/dev/null 2>&1 || true; done <"$NODE_DIR/sysctl.saved"
  fi
  rm -rf "$NODE_RUN_DIR"
  if [ -f "$REAL_NODE_OWNER" ] && [ "$(cat "$REAL_NODE_OWNER")" = "$CLUSTER_STATE_DIR" ]; then
    rm -f "$REAL_NODE_OWNER"
  fi
}

# node_kube_chains_cleanup: every KUBE-* chain, and the rules that jump to one, in every table of
# iptables and ip6tables. Only the real node's kubelet and kube-proxy make such chains here (one real
# node per machine).
node_kube_chains_cleanup() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" >/dev/null 2>&1 || continue
    for table in filter nat mangle raw; do
      # iptables-save quotes comments: eval splits each rule back into its words
      while read -r rule; do
        eval "$cmd -w -t $table ${rule/#-A/-D}" 2>/dev/null || true
      done < <("$cmd-save" -t "$table" 2>/dev/null | grep -E '^-A [A-Z_]+ .*-j KUBE-' | grep -vE '^-A KUBE-' || true)
      for chain in $("$cmd-save" -t "$table" 2>/dev/null | grep -oE '^:KUBE-[^ ]+' | cut -c2- || true); do
        "$cmd" -w -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd-save" -t "$table" 2>/dev/null | grep -oE '^:KUBE-[^ ]+' | cut -c2- || true); do
        "$cmd" -w -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# node_teardown: stop the node's processes (pods first), then clean the host.
node_teardown() {
  local c
  for c in kube-proxy kubelet; do stop_component "$c"; done
  node_tasks_kill
  for c in containerd registry; do stop_component "$c"; done
  node_host_cleanup
}

# node_state: one line per node-level fact, for status.sh.
node_state() {
  local bridge="absent" rules="absent"
  ip -br addr show "$NODE_BRIDGE" >/dev/null 2>&1 && bridge="$(ip -br addr show "$NODE_BRIDGE" | awk '{print $2, $3}')"
  iptables -w -t mangle -S "$EGRESS_CHAIN" >/dev/null 2>&1 && rules="present"
  echo "  pod bridge $NODE_BRIDGE: $bridge; Service route: $(ip route show "$SERVICE_CIDR" 2>/dev/null | head -1)"
  echo "  egress guard ($EGRESS_CHAIN): $rules; kube-proxy chains: $(iptables-save -t nat 2>/dev/null | grep -c '^:KUBE-' || true)"
  if [ -S "$CONTAINERD_SOCK" ]; then
    echo "  containers running: $(ctr_node tasks ls -q 2>/dev/null | wc -l); images: $(ctr_node images ls -q 2>/dev/null | grep -vc '^sha256:' || true)"
  fi
}
