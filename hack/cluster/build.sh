#!/usr/bin/env bash
# Build the local control plane from upstream Go modules into the cache:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy, etcd, kwok,
#   prometheus (unless CLUSTER_PROMETHEUS=0)
# and the real node's own tools (hack/cluster/go/testapp, images, registry) into TOOLS_BIN_DIR.
# Only what is missing is built, so the first run takes minutes and later ones nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"

die() { echo "cluster build: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (need Go >= 1.26 on PATH to build the control plane)."
go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
[ "${go_minor:-0}" -ge 26 ] 2>/dev/null || die "Go $(go env GOVERSION) is too old: Kubernetes $KUBE_VERSION needs Go >= 1.26."

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$CLUSTER_BIN_DIR"

build() { # build <wrapper dir> <ldflags> <package>...; build tags in $build_tags, if any
  local dir="$1" ldflags="$2"; shift 2
  local missing=()
  for pkg in "$@"; do [ -x "$CLUSTER_BIN_DIR/$(basename "$pkg")" ] || missing+=("$pkg"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  echo "cluster build: building ${missing[*]##*/} (first run only; a few minutes per component)"
  local tmp; tmp="$(mktemp -d "$CLUSTER_BIN_DIR/.build.XXXXXX")"
  local start=$SECONDS
  if ! (cd "$here/go/$dir" && go build -trimpath ${build_tags:+-tags "$build_tags"} -ldflags "$ldflags" -o "$tmp/" "${missing[@]}"); then
    rm -rf "$tmp"
    die "go build failed in hack/cluster/go/$dir (compiler output above)."
  fi
  mv "$tmp"/* "$CLUSTER_BIN_DIR/" && rmdir "$tmp"
  echo "cluster build: ${missing[*]##*/} built in $((SECONDS - start))s"
}

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitCommit=$KUBE_GIT_COMMIT -X $pkg.gitTreeState=clean"
  kube_ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build kubernetes "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl \
  k8s.io/kubernetes/cmd/kubelet \
  k8s.io/kubernetes/cmd/kube-proxy
build etcd "-s -w" openrollout.local/cluster/etcd
[ -x "$CLUSTER_BIN_DIR/etcd" ] || die "etcd missing after build"
build kwok "-s -w" sigs.k8s.io/kwok/cmd/kwok
# Prometheus with the Kubernetes service discovery only (file and HTTP are always in): none of the
# cloud ones, whose SDKs would double its build. No web UI either (its assets are built with npm):
# the HTTP API is all there. About 5 min cold.
if [ "${CLUSTER_PROMETHEUS:-1}" != 0 ]; then
  prom_ldflags="-s -w"
  for kv in Version="${PROMETHEUS_VERSION#v}" Revision=openrollout-built-from-go-modules Branch=HEAD \
    BuildUser=openrollout BuildDate=19700101-00:00:00; do
    prom_ldflags+=" -X github.com/prometheus/common/version.$kv"
  done
  build_tags=remove_all_sd,enable_kubernetes_sd build prometheus "$prom_ldflags" \
    github.com/prometheus/prometheus/cmd/prometheus
fi

# build_tool <module dir> <binary> <package>: one binary of ours into TOOLS_BIN_DIR, static.
build_tool() {
  local dir="$1" binary="$2" pkg="$3"
  [ -x "$TOOLS_BIN_DIR/$binary" ] && return 0
  echo "cluster build: building $binary (hack/cluster/go/$dir)"
  mkdir -p "$TOOLS_BIN_DIR"
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$TOOLS_BIN_DIR/.build.XXXXXX")"
  if ! (cd "$here/go/$dir" && go build -trimpath -ldflags "-s -w" -o "$tmp/$binary" "$pkg"); then
    rm -rf "$tmp"
    die "go build failed in hack/cluster/go/$dir (compiler output above)."
  fi
  mv "$tmp/$binary" "$TOOLS_BIN_DIR/" && rmdir "$tmp"
  echo "cluster build: $binary built in $((SECONDS - start))s"
}
build_tool testapp openrollout-testapp .
build_tool images openrollout-images .
build_tool registry registry github.com/distribution/distribution/v3/cmd/registry
