# Pinned versions of the local control plane. Sourced by the cluster scripts.
# shellcheck shell=bash disable=SC2034
# Kubernetes v1.36 is the newest line that builds with Go 1.26 (v1.37 wants Go 1.27).
KUBE_VERSION=v1.36.3
KUBE_GIT_COMMIT=openrollout-built-from-go-modules
ETCD_VERSION=v3.6.8     # build/dependencies.yaml of Kubernetes v1.36.3
KWOK_VERSION=v0.7.0
# Gateway API CRDs (standard channel), from the sigs.k8s.io/gateway-api Go module: gateway-api.sh.
# v1.7 wants Go 1.27 in its go.mod, which `go mod download` refuses with Go 1.26.
GATEWAY_API_VERSION=v1.6.3
# Prometheus, built from its Go module (v0.3XX.Y is Prometheus 3.XX.Y; go.mod of hack/cluster/go/prometheus
# pins it): Debian's package (2.42) is built without the Kubernetes service discovery. It wants Go >= 1.26.7.
PROMETHEUS_VERSION=v3.16.0
OPENROLLOUT_CACHE_DIR="${OPENROLLOUT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openrollout}"
CLUSTER_BIN_DIR="$OPENROLLOUT_CACHE_DIR/$KUBE_VERSION/bin"
# The node's own tools (hack/cluster/go/{testapp,images,registry}: the test app, the image
# publisher, the registry) change with this repository, so their cache is keyed by their sources.
_tools_hash() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/go"
  (cd "$dir" && find testapp images registry -type f ! -name '*_test.go' ! -name '*.md' 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum) |
    sha256sum | cut -c1-16
}
TOOLS_BIN_DIR="$OPENROLLOUT_CACHE_DIR/tools/$(_tools_hash)"
