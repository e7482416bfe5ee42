#!/usr/bin/env bash
# Restart one component of a running local cluster with exactly the same command line, environment,
# ports and certificates (read back from /proc/<pid>/cmdline and /proc/<pid>/environ): a
# control-plane fault for the reliability tests (tests/integration/test_faults.py).
#
#   hack/cluster/restart.sh <component> [--down SECONDS] [--down-until FILE] [--signal TERM|KILL]
#
# <component>: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok.
# --down: how long the component stays stopped before it starts again (default 0).
# --down-until: it stays stopped until FILE exists (a test that runs it in the background says when,
#   tests/integration/test_fleet.py), 600 s at most; then --down's seconds more.
# --signal: TERM (default; after 5 s KILL) or KILL (a crash).
# Waits until the component serves again (etcd and kube-apiserver: the apiserver's /readyz;
# controller-manager and scheduler: their /healthz), 90 s at most. Honours CLUSTER_STATE_DIR.
#
# Do not use it on the shared .cluster that other people's tests run on: start your own with
# CLUSTER_STATE_DIR=<dir> hack/cluster/up.sh.
set -euo pipefail
cluster_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$cluster_here/lib.sh"

die() { echo "cluster restart: ERROR: $*" >&2; exit 1; }

component="${1:-}"
[ -n "$component" ] || die "usage: restart.sh <component> [--down SECONDS] [--down-until FILE] [--signal TERM|KILL]"
shift
down=0
until_file=""
signal=TERM
while [ $# -gt 0 ]; do
  case "$1" in
    --down) down="${2:?--down needs seconds}"; shift 2 ;;
    --down-until) until_file="${2:?--down-until needs a file}"; shift 2 ;;
    --signal) signal="${2:?--signal needs TERM or KILL}"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
case "$signal" in TERM | KILL) ;; *) die "--signal must be TERM or KILL, got $signal" ;; esac
case "$component" in
  etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kwok) ;;
  *) die "unknown component $component (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)" ;;
esac

pid="$(component_pid "$component")"
[ -n "$pid" ] || die "$component is not running in $CLUSTER_STATE_DIR (hack/cluster/status.sh)"

# The exact argv and environment, NUL-separated, before the process goes.
saved="$(mktemp -d)"
trap 'rm -rf "$saved"' EXIT
cp "/proc/$pid/cmdline" "$saved/cmdline"
cp "/proc/$pid/environ" "$saved/environ"
mapfile -d '' -t argv <"$saved/cmdline"
mapfile -d '' -t environ <"$saved/environ"
[ "${#argv[@]}" -gt 0 ] || die "cannot read the command line of $component (pid $pid)"

kill "-$signal" "$pid" 2>/dev/null || true
deadline=$((SECONDS + 5))
while kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  sleep 0.05
done
if [ -n "$until_file" ]; then
  waited=$SECONDS
  until [ -e "$until_file" ] || [ $((SECONDS - waited)) -ge 600 ]; do sleep 0.1; done
fi
[ "$down" = 0 ] || sleep "$down"

# As up.sh starts it: own session, stdin closed, output appended to its log, the pid written by
# the process itself before exec.
# shellcheck disable=SC2016 # expanded by the inner bash
setsid env -i "${environ[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$(pid_file "$component")" "${argv[@]}" \
  </dev/null >>"$(log_file "$component")" 2>&1 9>&- &

# shellcheck source=/dev/null
. "$CLUSTER_STATE_DIR/ports.env"
healthz() {
  local token
  token="$(awk -F, '$2 == "openrollout-admin" {print $1}' "$CLUSTER_STATE_DIR/pki/tokens.csv")"
  [ "$("$KUBECTL" --kubeconfig /dev/null --server "https://127.0.0.1:$1" \
    --certificate-authority "$CLUSTER_STATE_DIR/pki/ca.crt" --token "$token" --request-timeout=2s \
    get --raw /healthz 2>/dev/null)" = "ok" ]
}
case "$component" in
  etcd | kube-apiserver | kwok) ready() { apiserver_ready; } ;;
  kube-controller-manager) ready() { healthz "$KCM_PORT"; } ;;
  kube-scheduler) ready() { healthz "$SCHED_PORT"; } ;;
esac
deadline=$((SECONDS + ${CLUSTER_START_TIMEOUT:-90}))
until ready; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "cluster restart: ERROR: $component did not come back; last lines of its log:" >&2
    tail -n 20 "$(log_file "$component")" >&2
    exit 1
  fi
  sleep 0.1
done
echo "cluster restart: $component restarted (pid $(component_pid "$component"))"
