#!/usr/bin/env bash
# Build the local control plane from upstream Go modules into the cache:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok.
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

build() { # build <wrapper dir> <ldflags> <package>...
  local dir="$1" ldflags="$2"; shift 2
  local missing=()
  for pkg in "$@"; do [ -x "$CLUSTER_BIN_DIR/$(basename "$pkg")" ] || missing+=("$pkg"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  echo "cluster build: building ${missing[*]##*/} (first run only; a few minutes per component)"
  local tmp; tmp="$(mktemp -d "$CLUSTER_BIN_DIR/.build.XXXXXX")"
  local start=$SECONDS
  if ! (cd "$here/go/$dir" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${missing[@]}"); then
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
  k8s.io/kubernetes/cmd/kubectl
build etcd "-s -w" openrollout.local/cluster/etcd
[ -x "$CLUSTER_BIN_DIR/etcd" ] || die "etcd missing after build"
build kwok "-s -w" sigs.k8s.io/kwok/cmd/kwok
