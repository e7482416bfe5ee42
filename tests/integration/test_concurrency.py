"""Two playbooks rolling out the same Deployment at once (issue 8, part 5).

The Deployment `web` is at v1 (3 replicas, pre and post hooks of 1 s); run A rolls out v2 and run B
v3, with the same strategy, B starting `offset` seconds after A. The behaviour, documented in
docs/reliability.md ("Two runs at once"), is that the last template written wins and the other
run fails, saying so; it never rolls back over the other's change. What is checked:

- at least one run succeeds, and a run that succeeds says what is live: its own image, its
  revision, complete. The last run to succeed has its template on the Deployment;
- a run that fails says it was superseded by another writer, naming the template that replaced its
  own (or that took its place before it wrote), and did not roll anything back;
- the Deployment is consistent at the end: one of the two templates, 3 replicas all updated and
  available, not paused, the user's strategy, no rollout state about the live revision;
- no revision lost or made twice: one ReplicaSet per template ever written, revision numbers
  unique; the hook Jobs of the live revision were made from the live template and succeeded;
  no hook pod left running.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from _ansible import start_task
from _reliability import (
    REVISION_ANNOTATION,
    STATE_ANNOTATION,
    Recorder,
    dump,
    fresh_namespace,
    hypothesis_settings,
    image_of,
    moments,
    record,
    recreate_violations,
    rolling_violations,
)
from hypothesis import example, given
from hypothesis import strategies as st
from kubernetes import client
from test_interruption import HOOK
from test_invariants import app, rolling, wait_complete

pytestmark = pytest.mark.reliability

REPLICAS = 3
MODULE_STRATEGY = {
    "Rolling": {
        "type": "Rolling",
        "rollingParams": {"maxSurge": 1, "maxUnavailable": 1, "pre": HOOK, "post": HOOK},
        "annotations": {"openrollout.test/run-for": "1s"},
    },
    "Recreate": {
        "type": "Recreate",
        "recreateParams": {"pre": HOOK, "mid": HOOK, "post": HOOK},
        "annotations": {"openrollout.test/run-for": "1s"},
    },
}
K8S_STRATEGY = {"Rolling": rolling(1, 1), "Recreate": {"type": "Recreate"}}
# The words a superseded run's message must contain (docs/reliability.md).
SUPERSEDED = "was changed by another writer"


def consistent(
    apps_v1: client.AppsV1Api,
    batch_v1: client.BatchV1Api,
    core_v1: client.CoreV1Api,
    namespace: str,
    strategy_type: str,
    written: list[str],
) -> list[str]:
    """What is wrong with the Deployment, its ReplicaSets and its hook Jobs at the end."""
    problems = []
    live = apps_v1.read_namespaced_deployment("web", namespace)
    image = live.spec.template.spec.containers[0].image
    if image not in ("web:v2", "web:v3"):
        problems.append(f"live template {image}")
    status = live.status
    counts = (status.replicas, status.updated_replicas, status.available_replicas)
    if live.spec.replicas != REPLICAS or live.spec.paused or counts != (REPLICAS,) * 3:
        problems.append(f"spec.replicas {live.spec.replicas}, paused {live.spec.paused}, status {counts}")
    strategy = live.spec.strategy
    if strategy_type == "Rolling":
        bounds = (strategy.type, strategy.rolling_update.max_surge, strategy.rolling_update.max_unavailable)
        if bounds != ("RollingUpdate", 1, 1):
            problems.append(f"strategy left as {bounds}")
    elif strategy.type != "Recreate":
        problems.append(f"strategy left as {strategy.type}")
    live_revision = int(live.metadata.annotations[REVISION_ANNOTATION])
    state = (live.metadata.annotations or {}).get(STATE_ANNOTATION)
    if state and json.loads(state).get("revision") == live_revision:
        problems.append(f"rollout state about the live revision left: {state}")

    sets = apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items
    by_image: dict[str, list[int]] = {}
    for rs in sets:
        by_image.setdefault(rs.spec.template.spec.containers[0].image, []).append(
            int(rs.metadata.annotations[REVISION_ANNOTATION])
        )
    revisions = sorted(r for rs in by_image.values() for r in rs)
    if any(len(r) > 1 for r in by_image.values()) or len(set(revisions)) != len(revisions):
        problems.append(f"revisions by image {by_image}")
    missing = [i for i in written if i not in by_image]
    if missing:
        problems.append(f"templates written but without a ReplicaSet (lost revisions): {missing}")
    if by_image.get(image) != [live_revision]:
        problems.append(f"live revision {live_revision} is not the ReplicaSet of {image}: {by_image}")

    phases = ["pre", "post"] if strategy_type == "Rolling" else ["pre", "mid", "post"]
    jobs = {j.metadata.name: j for j in batch_v1.list_namespaced_job(namespace).items}
    for phase in phases:
        name = f"web-{live_revision}-hook-{phase}"
        job = jobs.get(name)
        if job is None:
            problems.append(f"no hook Job {name} for the live revision (jobs: {sorted(jobs)})")
            continue
        if job.spec.template.spec.containers[0].image != image:
            problems.append(
                f"hook Job {name} made from {job.spec.template.spec.containers[0].image}, live is {image}"
            )
        if not any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or []):
            problems.append(f"hook Job {name} did not succeed")
    running = [
        p.metadata.name
        for p in core_v1.list_namespaced_pod(namespace, label_selector="openrollout.k8s/deployment=web").items
        if p.status.phase not in ("Succeeded", "Failed") and not p.metadata.deletion_timestamp
    ]
    if running:
        problems.append(f"hook pods still running: {running}")
    return problems


def judge(
    results: dict[str, dict[str, Any]], finished: dict[str, float], live_image: str
) -> tuple[str, list[str]]:
    """The outcome (who succeeded) and what is wrong with the two results."""
    problems = []
    succeeded = [run for run, result in results.items() if not result.get("failed")]
    if not succeeded:
        problems.append("both runs failed: " + " / ".join(r.get("msg", "") for r in results.values()))
    for run, result in results.items():
        image = {"A": "web:v2", "B": "web:v3"}[run]
        if result.get("failed"):
            if SUPERSEDED not in (result.get("msg") or "") or result.get("rolled_back"):
                problems.append(f"run {run} failed without saying it was superseded: {result.get('msg')}")
            continue
        deployment = result.get("deployment") or {}
        status = deployment.get("status") or {}
        if image_of(deployment) != image or status.get("availableReplicas") != REPLICAS:
            problems.append(f"run {run} succeeded but reports {image_of(deployment)} with {status}")
        if str(result.get("revision")) != deployment.get("metadata", {}).get("annotations", {}).get(
            REVISION_ANNOTATION
        ):
            problems.append(
                f"run {run} reports revision {result.get('revision')} for {deployment['metadata']}"
            )
    if succeeded:
        last = max(succeeded, key=lambda run: finished[run])
        if live_image != {"A": "web:v2", "B": "web:v3"}[last]:
            problems.append(f"run {last} succeeded last but {live_image} is live")
    outcome = "+".join(
        f"{run}:{'ok' if not results[run].get('failed') else 'failed'}" for run in sorted(results)
    )
    return outcome, problems


def two_runs(
    wait_for: Any,
    cluster: Any,
    core_v1: client.CoreV1Api,
    apps_v1: client.AppsV1Api,
    batch_v1: client.BatchV1Api,
    strategy_type: str,
    offset: float,
) -> None:
    with fresh_namespace(core_v1, f"two-{strategy_type.lower()}") as namespace:
        apps_v1.create_namespaced_deployment(
            namespace, app(namespace, "web:v1", REPLICAS, K8S_STRATEGY[strategy_type])
        )
        wait_complete(wait_for, apps_v1, namespace, REPLICAS)

        def args(image: str) -> dict[str, Any]:
            return {
                "definition": app(namespace, image, REPLICAS, K8S_STRATEGY[strategy_type], ready_after="1s"),
                "strategy": MODULE_STRATEGY[strategy_type],
                "wait_timeout": 240,
            }

        with Recorder(cluster.kubeconfig, namespace) as recorder, tempfile.TemporaryDirectory() as tmp:
            a_dir, b_dir = Path(tmp) / "a", Path(tmp) / "b"
            a_dir.mkdir()
            b_dir.mkdir()
            started = time.monotonic()
            runs = {"A": start_task("rollout", args("web:v2"), cluster.kubeconfig, a_dir)}
            time.sleep(offset)  # the moment B starts is the point of the trial
            runs["B"] = start_task("rollout", args("web:v3"), cluster.kubeconfig, b_dir)
            results, finished = {}, {}
            pending = dict(runs)
            while pending:
                for run, task in list(pending.items()):
                    if task.process.poll() is not None:
                        results[run], finished[run] = task.result(), time.monotonic()
                        del pending[run]
                time.sleep(0.1)
            seconds = time.monotonic() - started
            # A failed run leaves the controller mid-way: let it finish before judging the end state.
            live_image = (
                apps_v1.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image
            )
            wait_complete(wait_for, apps_v1, namespace, REPLICAS, timeout=120)
            time.sleep(0.2)
        written = sorted({image_of(e.obj) for e in recorder.of("deployment")} - {"web:v1"})
        outcome, problems = judge(results, finished, live_image)
        problems += consistent(apps_v1, batch_v1, core_v1, namespace, strategy_type, written)
        timeline = moments(recorder.events, {"app": "web"})
        lag: list[float] = []
        problems += (
            rolling_violations(timeline, REPLICAS, 1, 1, lag)
            if strategy_type == "Rolling"
            else recreate_violations(timeline)
        )
        problems += recorder.errors
        if problems:
            problems.append(f"events: {dump(recorder, namespace)}")
        record(
            f"concurrency/{strategy_type}",
            offset=offset,
            outcome=outcome,
            written=written,
            messages={run: (r.get("msg") or "")[:300] for run, r in results.items() if r.get("failed")},
            ok=not problems,
            violations=problems[:20],
            lag=lag,
            moments=len(timeline),
            seconds=round(seconds, 1),
        )
        assert problems == [], f"{strategy_type}, B {offset}s after A: {outcome}: {problems}"


@hypothesis_settings()
@given(strategy_type=st.sampled_from(["Rolling", "Recreate"]), offset=st.floats(0.0, 12.0))
@example(strategy_type="Rolling", offset=0.0)
def test_two_playbooks_on_one_deployment(
    wait_for, cluster, core_v1, apps_v1, batch_v1, strategy_type, offset
):
    two_runs(wait_for, cluster, core_v1, apps_v1, batch_v1, strategy_type, round(offset, 2))
