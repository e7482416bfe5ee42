#!/usr/bin/env bash
# Install the Gateway API CRDs (standard channel, GATEWAY_API_VERSION in versions.sh) on the local
# cluster, so that HTTPRoutes can be created and their backend weights set (the canary role's
# canary_traffic: gateway). up.sh runs it on a fresh cluster and on one already running; when the
# pinned version is installed it only reads one CRD (about 0.1 s).
#
# The CRDs come from the sigs.k8s.io/gateway-api Go module (config/crd/standard/), downloaded once
# through the Go module proxy and kept in ~/.cache/openrollout/gateway-api/<version>. The
# safe-upgrades ValidatingAdmissionPolicy of that directory is left out: it only guards upgrades
# of these CRDs. No Gateway controller runs: routes are stored and validated, never programmed.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

say() { echo "gateway api: $*"; }
die() { echo "gateway api: ERROR: $*" >&2; exit 1; }
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=30s "$@"; }

MODULE=sigs.k8s.io/gateway-api
CRD_DIR="$OPENROLLOUT_CACHE_DIR/gateway-api/$GATEWAY_API_VERSION"

installed_version() {
  kc get crd httproutes.gateway.networking.k8s.io \
    -o jsonpath='{.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version}' 2>/dev/null || true
}

[ "$(installed_version)" = "$GATEWAY_API_VERSION" ] && exit 0

# --- the CRD files, from the Go module (cached) -------------------------------------------------
# Several clusters starting at once (a fleet's) fetch it once: the first holds the lock, the others
# find it complete.
mkdir -p "$(dirname "$CRD_DIR")"
exec 8>"$(dirname "$CRD_DIR")/.fetch.lock"
command -v flock >/dev/null 2>&1 && flock -w 300 8
if [ ! -f "$CRD_DIR/.complete" ]; then
  command -v go >/dev/null 2>&1 || die "Go is not installed: it fetches $MODULE@$GATEWAY_API_VERSION (the CRDs)"
  say "fetching $MODULE@$GATEWAY_API_VERSION through the Go module proxy (first run only)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # Outside any go.mod; -mod=mod and GOTOOLCHAIN=local as build.sh: no toolchain download.
  info="$(cd "$tmp" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$MODULE@$GATEWAY_API_VERSION")" ||
    die "go mod download $MODULE@$GATEWAY_API_VERSION failed: $info"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  [ -d "$dir/config/crd/standard" ] || die "no config/crd/standard in $MODULE@$GATEWAY_API_VERSION ($info)"
  mkdir -p "$tmp/crds"
  for f in "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
    case "$f" in *_vap_*) continue ;; esac
    install -m 0644 "$f" "$tmp/crds/"
  done
  touch "$tmp/crds/.complete"
  rm -rf "$CRD_DIR"
  mv "$tmp/crds" "$CRD_DIR"
fi
exec 8>&-

# --- install -------------------------------------------------------------------------------------
# Server-side apply: these CRDs are too big for the last-applied annotation of a client-side apply.
say "installing the Gateway API $GATEWAY_API_VERSION CRDs (standard channel) from $CRD_DIR"
kc apply --server-side --force-conflicts --field-manager=openrollout-cluster -f "$CRD_DIR" >/dev/null ||
  die "applying the CRDs of $CRD_DIR failed"
kc wait --for=condition=Established --timeout=60s -f "$CRD_DIR" >/dev/null ||
  die "the Gateway API CRDs did not become Established within 60s"
[ "$(installed_version)" = "$GATEWAY_API_VERSION" ] || die "httproutes.gateway.networking.k8s.io is not at $GATEWAY_API_VERSION after the install"
say "Gateway API $GATEWAY_API_VERSION CRDs installed"
