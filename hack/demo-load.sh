#!/usr/bin/env bash
# The demo's load loop (playbooks/demo_local_cluster.yml): the test app's `load` generator
# (hack/cluster/go/testapp/README.md) in the background beside a rollout, then stopped and summed up.
#
#   hack/demo-load.sh start NAME URL   start it (a GET of URL every DEMO_LOAD_INTERVAL, a new connection
#                                      each time), at most DEMO_LOAD_LIMIT even if never stopped
#   hack/demo-load.sh stop NAME        let it run DEMO_LOAD_LINGER more (2s: what the Service serves
#                                      right after the task, once kube-proxy has caught up with the
#                                      endpoints), stop it (SIGTERM, it stops cleanly) and print its
#                                      JSON summary with `start` added: when it started (ISO 8601, UTC, ms)
#
# URL must be a Service's ClusterIP: the generator refuses anything but loopback and private
# addresses, so nothing leaves the machine. State in build/demo/load/NAME.{pid,start,json,err}.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/demo/load
action="${1:?start|stop}" name="${2:?name}"
mkdir -p "$dir"
base="$dir/$name"

stop_running() {
  local pid
  pid="$(cat "$base.pid" 2>/dev/null)" || return 0
  rm -f "$base.pid"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 100); do # 10 s at most; it stops within one request's timeout
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "$action" in
start)
  url="${3:?url}"
  testapp="$(hack/cluster/tools-path.sh)/openrollout-testapp"
  stop_running # a run of the same name left over by an interrupted demo
  rm -f "$base.json" "$base.err"
  date -u +%Y-%m-%dT%H:%M:%S.%3N+00:00 >"$base.start"
  # setsid and every descriptor redirected: the task that starts it returns at once.
  setsid "$testapp" load --url "$url" --interval "${DEMO_LOAD_INTERVAL:-50ms}" \
    --duration "${DEMO_LOAD_LIMIT:-180s}" --out "$base.json" </dev/null >/dev/null 2>"$base.err" &
  echo $! >"$base.pid"
  echo "load $name: GET $url every ${DEMO_LOAD_INTERVAL:-50ms} (pid $!)"
  ;;
stop)
  sleep "${DEMO_LOAD_LINGER:-2}"
  stop_running
  [ -s "$base.json" ] || {
    echo "load $name wrote no summary: $(cat "$base.err" 2>/dev/null)" >&2
    exit 1
  }
  # its summary (one JSON object) with the time it started first
  printf '{"start": "%s", ' "$(cat "$base.start")"
  tail -c +2 "$base.json"
  ;;
*)
  echo "usage: $0 start NAME URL | stop NAME" >&2
  exit 2
  ;;
esac
