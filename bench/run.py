"""Benchmarks side by side: openrollout.k8s.rollout, kubernetes.core.k8s (wait: true), kubectl.

    make bench                        # what this is for: sets everything up, then runs this
    python bench/run.py --runs 5      # the same, on a running local cluster

Writes bench/results/<date>.json (the raw runs), then docs/performance.md and
docs/performance-latency.svg from it (bench/report.py; ``--report-only FILE`` redoes just that).
The scenarios are in bench/_scenarios.py, how each tool is run and timed in bench/_tools.py, the
request counters and the watch in bench/_cluster.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Set

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import _client_cost  # noqa: E402
import report  # noqa: E402
from _cluster import Cluster, Recorder  # noqa: E402
from _scenarios import Bench  # noqa: E402
from _tools import kill_running  # noqa: E402

JSONDict = Dict[str, Any]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def machine() -> JSONDict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(kubectl: str, cluster: Cluster) -> JSONDict:
    from ansible.release import __version__ as ansible_core

    out = subprocess.run(
        [kubectl, "version", "-o", "json"],
        env=dict(os.environ, KUBECONFIG=str(cluster.kubeconfig)),
        capture_output=True,
        text=True,
        check=False,
    )
    data = json.loads(out.stdout or "{}")
    manifest = REPO_ROOT / "build/bench-collections/ansible_collections/kubernetes/core/MANIFEST.json"
    galaxy = (REPO_ROOT / "galaxy.yml").read_text()
    ours = next(
        (line.split(":", 1)[1].strip() for line in galaxy.splitlines() if line.startswith("version:")), "?"
    )
    return {
        "kubernetes_server": data.get("serverVersion", {}).get("gitVersion"),
        "kubectl": data.get("clientVersion", {}).get("gitVersion"),
        "ansible_core": ansible_core,
        "kubernetes_core": json.loads(manifest.read_text())["collection_info"]["version"],
        "openrollout_k8s": ours,
        "openrollout_commit": _git("rev-parse", "--short", "HEAD").strip(),
        # the bench runs the work tree: which files of plugins/ differ from that commit
        "openrollout_changed_files": sorted(
            line[3:] for line in _git("status", "--porcelain", "--", "plugins").splitlines() if line.strip()
        ),
    }


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description="openrollout.k8s benchmarks (issue 7)")
    parser.add_argument("--runs", type=int, default=_env_int("BENCH_RUNS", 5))
    parser.add_argument("--scale-runs", type=int, default=_env_int("BENCH_SCALE_RUNS", 2))
    parser.add_argument(
        "--scale-deployment-runs", type=int, default=_env_int("BENCH_SCALE_DEPLOYMENT_RUNS", 1)
    )
    parser.add_argument("--scale-replicas", type=int, default=_env_int("BENCH_SCALE_REPLICAS", 1000))
    parser.add_argument("--scale-deployments", type=int, default=_env_int("BENCH_SCALE_DEPLOYMENTS", 50))
    parser.add_argument("--slow-delay", default=os.environ.get("BENCH_SLOW_DELAY", "20s"))
    parser.add_argument(
        "--kubectl-timeouts",
        default=os.environ.get("BENCH_KUBECTL_TIMEOUTS", "30s,120s"),
        help="real_failure: the `kubectl rollout status --timeout` values of the manual rollback",
    )
    parser.add_argument(
        "--only",
        default=os.environ.get("BENCH_ONLY", ""),
        help="comma-separated scenarios to run (default all)",
    )
    parser.add_argument("--kubeconfig", type=Path, default=REPO_ROOT / ".cluster/kubeconfig")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--report-only", type=Path, help="only regenerate the docs from this results file")
    args = parser.parse_args()

    if args.report_only:
        report.write(json.loads(args.report_only.read_text()), args.report_only, REPO_ROOT)
        return

    scenarios = {
        "fast",
        "api_load",
        "scale_replicas",
        "scale_deployments",
        "client",
        "real_pods",
        "real_failure",
    }
    only = {name.strip() for name in args.only.split(",") if name.strip()} or scenarios
    unknown = only - scenarios
    if unknown:
        raise SystemExit(f"unknown scenarios {sorted(unknown)}; choose from {sorted(scenarios)}")

    kubectl = subprocess.run(
        [str(REPO_ROOT / "hack/cluster/kubectl-path.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    work_dir = REPO_ROOT / "build/bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(args.kubeconfig.resolve(), work_dir)
    started = time.time()
    results: JSONDict = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "runs": args.runs,
            "scale_runs": args.scale_runs,
            "scale_deployment_runs": args.scale_deployment_runs,
            "scale_replicas": args.scale_replicas,
            "scale_deployments": args.scale_deployments,
            "slow_delay": args.slow_delay,
            "kubectl_timeouts": args.kubectl_timeouts,
        },
        "scenarios": {},
    }
    stop = Stop()
    deployments = None
    try:
        log("setting up: namespace openrollout-bench, one ServiceAccount + FlowSchema per tool, bench nodes")
        cluster.setup()
        results["versions"] = versions(kubectl, cluster)
        # Room for everything the bench runs at once, with a wide margin: a rollout of N replicas
        # needs up to 1.25 N pods plus the old ones still terminating, and the Deployments of the
        # earlier scenarios stay. The nodes are fake: their capacity costs nothing.
        pods_per_node = args.scale_replicas + 6 * args.scale_deployments + 500
        cluster.add_scale_nodes(2, pods_per_node)
        results["cluster"] = {
            "what": "hack/cluster local control plane: etcd, kube-apiserver, kube-controller-manager, "
            "kube-scheduler built from upstream, pods simulated by KWOK",
            "bench_nodes": f"2 extra KWOK nodes, {pods_per_node} pods each, tainted for the bench only",
            "real_node": "openrollout-node (hack/cluster/node.sh): kubelet, containerd, runc, bridge CNI, "
            "kube-proxy on this machine, tainted; the real_pods and real_failure scenarios only",
        }
        deployments = Recorder(cluster.apps.list_namespaced_deployment).start()
        bench = Bench(cluster, deployments, kubectl, work_dir / "plays", log)
        run_scenarios(args, only, bench, cluster, results)
    finally:
        stop.cleaning_up()
        if deployments is not None:
            deployments.stop()
        log("cleaning up the bench namespace, nodes, FlowSchemas")
        cluster.teardown()
    finish(args, results, started, partial=only != scenarios)


class Stop:
    """SIGTERM (timeout, a CI cancel, kill) ends the bench as Ctrl-C does: through main()'s clean-up.

    Either signal raises SystemExit(128 + signal) where the bench is, so the finally that removes
    the namespace, the FlowSchemas and the tainted nodes runs; the tools running are killed first
    (bench/_tools.py, in any thread); subprocess.run kills its own child on the way out. A signal
    that comes during the clean-up is noted, not obeyed: the clean-up runs once.
    """

    def __init__(self) -> None:
        self.cleaning = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def cleaning_up(self) -> None:
        self.cleaning = True

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.cleaning:
            self._say(f"{name} during the clean-up: finishing it first")
            return
        self.cleaning = True
        kill_running()
        self._say(f"{name}: stopping, then cleaning up")
        raise SystemExit(128 + signum)

    @staticmethod
    def _say(message: str) -> None:
        # not print(): the signal may come in the middle of one, and a reentrant print raises
        os.write(sys.stdout.fileno(), f"[bench {time.strftime('%H:%M:%S')}] {message}\n".encode())


def run_scenarios(args: Any, only: Set[str], bench: Bench, cluster: Cluster, results: JSONDict) -> None:
    """Each scenario in turn; one that breaks is recorded with its error and the others still run."""
    scenarios = results["scenarios"]

    def fast() -> None:
        log(f"scenarios 1, 2 and 5: fast 10-replica rollout, and ours with hooks, {args.runs} runs")
        pods = Recorder(cluster.core.list_namespaced_pod, label_selector="openrollout.k8s/hook").start()
        jobs = Recorder(cluster.batch.list_namespaced_job, label_selector="openrollout.k8s/hook").start()
        try:
            scenarios["fast"], scenarios["hooks"] = bench.fast(args.runs, pods, jobs)
        finally:
            pods.stop()
            jobs.stop()

    def api_load() -> None:
        log(f"scenario 3: API load, fast and slow ({args.slow_delay}) rollouts, {args.runs} runs each")
        scenarios["api_load"] = bench.api_load(args.runs, args.slow_delay)

    def scale_replicas() -> None:
        log(f"scenario 4a: {args.scale_replicas}-replica rollout, {args.scale_runs} runs")
        scenarios["scale_replicas"] = bench.scale_replicas(args.scale_runs, args.scale_replicas)

    def scale_deployments() -> None:
        log(
            f"scenario 4b: {args.scale_deployments} Deployments in one play, "
            f"{args.scale_deployment_runs} runs"
        )
        scenarios["scale_deployments"] = bench.scale_deployments(
            args.scale_deployment_runs, args.scale_deployments
        )

    def real_pods() -> None:
        log(f"real pods: 10-replica rollout of the test app on the real node, {args.runs} runs")
        scenarios["real_pods"] = bench.real_pods(args.runs)

    def real_failure() -> None:
        timeouts = [t.strip() for t in args.kubectl_timeouts.split(",") if t.strip()]
        log(f"real failure: CrashLoopBackOff until v1 is back, ours vs kubectl {timeouts}, {args.runs} runs")
        replica_sets = Recorder(cluster.apps.list_namespaced_replica_set).start()
        try:
            scenarios["real_failure"] = bench.real_failure(args.runs, replica_sets, timeouts)
        finally:
            replica_sets.stop()

    def client() -> None:
        log(f"what the kubernetes client costs a module process, {min(args.runs, 3)} runs")
        scenarios["client"] = _client_cost.measure(cluster.kubeconfig, min(args.runs, 3))

    steps = {
        "fast": fast,
        "api_load": api_load,
        "scale_replicas": scale_replicas,
        "scale_deployments": scale_deployments,
        "client": client,
        "real_pods": real_pods,
        "real_failure": real_failure,
    }
    for name, step in steps.items():
        if name not in only:
            continue
        try:
            step()
        except Exception as exc:
            log(f"scenario {name} FAILED: {exc}")
            scenarios[name] = {"error": f"{type(exc).__name__}: {str(exc)[-4000:]}"}


def finish(args: Any, results: JSONDict, started: float, partial: bool) -> None:
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["duration_seconds"] = round(time.time() - started, 1)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{datetime.date.today().isoformat()}.json"
    earlier = latest_results(args.results_dir, path) if partial else None
    if earlier is not None:
        results = merge(json.loads(earlier.read_text()), results)
        log(f"merged {sorted(results['merged'][-1]['scenarios'])} into the results of {earlier}, as {path}")
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    log(f"results: {path} ({round(time.time() - started, 1)} s)")
    report.write(results, path, REPO_ROOT)


def latest_results(results_dir: Path, today: Path) -> Optional[Path]:
    """What a BENCH_ONLY run merges into: today's results, else the newest day's (``<date>.json``;
    variants such as ``<date>-typed-client.json`` are kept apart), so that a partial run on another
    day still reports every scenario, each with the run it came from."""
    if today.exists():
        return today
    days = sorted(p for p in results_dir.glob("*.json") if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.stem))
    return days[-1] if days else None


def merge(earlier: JSONDict, later: JSONDict) -> JSONDict:
    """A BENCH_ONLY run replaces its scenarios in the day's results and keeps the others.

    The merged run's date, machine and versions are kept under ``merged``, so the report can say
    which scenarios came from which commit and load.
    """
    ran = sorted(later["scenarios"])
    merged = dict(earlier)
    merged["scenarios"] = dict(earlier.get("scenarios", {}))
    merged["scenarios"].update(later["scenarios"])
    # An earlier merged run keeps only the scenarios this one does not replace.
    kept = [
        dict(run, scenarios=[name for name in run["scenarios"] if name not in ran])
        for run in earlier.get("merged", [])
    ]
    merged["merged"] = [
        *(run for run in kept if run["scenarios"]),
        {
            "scenarios": ran,
            "date": later["date"],
            "machine": later["machine"],
            "versions": later.get("versions", {}),
            "config": later["config"],
            "duration_seconds": later["duration_seconds"],
        },
    ]
    return merged


if __name__ == "__main__":
    main()
