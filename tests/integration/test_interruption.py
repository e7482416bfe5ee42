"""kill -9 of ansible-playbook in the middle of a rollout with hooks, then the same task again (issue 8, part 2).

Each trial: the Deployment `web` at v1 (3 replicas, made with the API), then ansible-playbook
rolls out v2 with hooks that run for a while (Rolling: pre and post; Recreate: pre, mid and post;
the hook pods run 4 s and the new pods take 1 s to be Ready). Every process of the run
(ansible-playbook, its worker in a session of its own, the module) is killed with SIGKILL at a
moment that is either an event seen by the Recorder (a hook Job created or finished, the template
applied, the old pods gone, a scale) or a random time, and the same task is run again. The rerun must converge, from what is on the cluster alone:

- the v2 template at 3 replicas, all updated and available, not paused, the user's strategy (not
  the canary's maxUnavailable 0), the state annotation removed;
- two ReplicaSets, revisions 1 and 2: no revision lost, none made twice;
- each hook of revision 2 succeeded, as one Job with one pod; no hook Job created again after one
  of that name had succeeded; no hook pod left without its Job, none still running;
- the hooks where they belong: pre before the template changes, mid with no pod of the app,
  post with the 3 new pods Ready;
- across the kill and the rerun, the invariants of test_invariants.py (Rolling's bounds with
  maxSurge 1 and maxUnavailable 1; Recreate: never old and new pods at once).

Every trial is a line in build/reliability/trials.jsonl: the kill moment (seconds after the start,
the event, what the cluster showed) and the problems found (docs/reliability.md).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _ansible import start_task
from _reliability import (
    MARKER,
    REVISION_ANNOTATION,
    STATE_ANNOTATION,
    Event,
    Recorder,
    dump,
    fresh_namespace,
    hook_reruns,
    hypothesis_settings,
    image_of,
    is_finished,
    is_ready,
    job_finished,
    kill_marked,
    marked,
    moments,
    record,
    recreate_violations,
    rolling_violations,
    template_hash,
)
from hypothesis import example, given
from hypothesis import strategies as st
from kubernetes import client
from test_invariants import app, rolling, wait_complete

pytestmark = pytest.mark.reliability

REPLICAS = 3
HOOK = {
    "failurePolicy": "Abort",
    "execNewPod": {"containerName": "app", "command": ["/bin/sh", "-c", "migrate"]},
}
HOOKS = {"Rolling": ["pre", "post"], "Recreate": ["pre", "mid", "post"]}
MODULE_STRATEGY = {
    "Rolling": {
        "type": "Rolling",
        "rollingParams": {"maxSurge": 1, "maxUnavailable": 1, "pre": HOOK, "post": HOOK},
        "annotations": {"openrollout.test/run-for": "4s"},
    },
    "Recreate": {
        "type": "Recreate",
        "recreateParams": {"pre": HOOK, "mid": HOOK, "post": HOOK},
        "annotations": {"openrollout.test/run-for": "4s"},
    },
}
K8S_STRATEGY = {"Rolling": rolling(1, 1), "Recreate": {"type": "Recreate"}}
# Moments to kill at, as events the Recorder sees (see `Trigger`).
TRIGGERS = {
    "Rolling": [
        "job-created:pre",
        "job-done:pre",
        "applied",
        "new-available:1",
        "job-created:post",
        "job-done:post",
    ],
    "Recreate": [
        "job-created:pre",
        "job-done:pre",
        "applied",
        "old-gone",
        "job-created:mid",
        "job-done:mid",
        "scaled:1",
        "scaled:3",
        "job-created:post",
        "job-done:post",
    ],
}
# Seconds an uninterrupted run takes, measured once per strategy by the first timed trial.
REFERENCE_SECONDS: dict[str, float] = {}


class Trigger:
    """Kills the playbook (every process of the run) the moment the Recorder sees the event ``name``."""

    def __init__(self, name: str | None, token: str) -> None:
        self.name = name
        self.token = token
        self.started = False
        self.firing = threading.Event()
        self.killed: list[int] = []
        self.fired = threading.Event()
        self.at: float | None = None
        self.rv: int | None = None

    def matches(self, event: Event) -> bool:
        what, _colon, arg = (self.name or "").partition(":")
        obj = event.obj
        if event.type in ("LISTED", "DELETED"):
            return False
        if what == "job-created":
            return event.kind == "job" and event.type == "ADDED" and event.name == f"web-2-hook-{arg}"
        if what == "job-done":
            return event.kind == "job" and event.name == f"web-2-hook-{arg}" and job_finished(obj)
        if event.kind == "deployment" and image_of(obj) == "web:v2":
            status = obj.get("status") or {}
            if what == "applied":
                return True
            if what == "old-gone":
                return obj["spec"]["replicas"] == 0 and not status.get("replicas")
            if what == "scaled":
                return obj["spec"]["replicas"] == int(arg)
        if what == "new-available" and event.kind == "replicaset":
            template = obj["spec"]["template"]["spec"]["containers"][0]["image"]
            return template == "web:v2" and int(
                (obj.get("status") or {}).get("availableReplicas") or 0
            ) >= int(arg)
        return False

    def __call__(self, event: Event) -> None:
        if not self.started or self.fired.is_set() or not self.matches(event):
            return
        self.fire(event.rv)

    def fire(self, rv: int | None = None) -> None:
        self.firing.set()
        self.killed = kill_marked(self.token)
        self.at, self.rv = time.monotonic(), rv
        self.fired.set()


def snapshot(apps_v1: client.AppsV1Api, batch_v1: client.BatchV1Api, namespace: str) -> str:
    """What the cluster shows right after the kill: template, state annotation, hook Jobs."""
    live = apps_v1.read_namespaced_deployment("web", namespace)
    image = live.spec.template.spec.containers[0].image.split(":")[1]
    state = (live.metadata.annotations or {}).get(STATE_ANNOTATION)
    next_phase = json.loads(state).get("next") if state else "-"
    jobs = []
    for job in sorted(batch_v1.list_namespaced_job(namespace).items, key=lambda j: j.metadata.name):
        done = any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or [])
        jobs.append(f"{job.metadata.name.split('-hook-')[1]}:{'done' if done else 'running'}")
    return f"{image} replicas={live.spec.replicas} next={next_phase} jobs=[{' '.join(jobs)}]"


def seams(events: list[Event], strategy_type: str) -> list[str]:
    """Hooks where they belong: pre before the new template, mid with no app pod, post with all new Ready.

    Pods, Jobs and Deployments are ordered by resourceVersion (etcd's revision, one sequence for
    every kind on this cluster).
    """
    problems = []
    ordered = sorted(events, key=lambda e: (e.rv, e.type != "LISTED"))
    pods: dict[str, dict[str, Any]] = {}
    applied_at: int | None = None
    new_hash: str | None = None
    for event in ordered:
        if event.kind == "deployment" and applied_at is None and image_of(event.obj) == "web:v2":
            applied_at = event.rv
        if (
            event.kind == "replicaset"
            and event.obj["spec"]["template"]["spec"]["containers"][0]["image"] == "web:v2"
        ):
            new_hash = (event.obj["metadata"].get("labels") or {}).get("pod-template-hash")
        if event.kind == "pod" and (event.obj["metadata"].get("labels") or {}).get("app") == "web":
            if event.type == "DELETED":
                pods.pop(event.name, None)
            else:
                pods[event.name] = event.obj
        if event.kind != "job" or event.type != "ADDED":
            continue
        phase = event.name.rsplit("-hook-", 1)[1]
        alive = [p for p in pods.values() if not is_finished(p)]
        if phase == "pre" and applied_at is not None:
            problems.append(
                f"pre hook Job created (rv {event.rv}) after the new template was applied (rv {applied_at})"
            )
        if phase == "mid" and alive:
            problems.append(f"mid hook Job created (rv {event.rv}) while {len(alive)} app pods existed")
        if phase == "post":
            ready_new = [p for p in alive if template_hash(p) == new_hash and is_ready(p)]
            if len(ready_new) < REPLICAS:
                problems.append(
                    f"post hook Job created (rv {event.rv}) with {len(ready_new)}/{REPLICAS} new pods Ready"
                )
    return problems


def converged(
    apps_v1: client.AppsV1Api,
    batch_v1: client.BatchV1Api,
    core_v1: client.CoreV1Api,
    watch_until: Any,
    namespace: str,
    strategy_type: str,
) -> list[str]:
    """What is wrong with the cluster after the rerun (nothing, when it converged)."""
    problems = []
    live = apps_v1.read_namespaced_deployment("web", namespace)
    status = live.status
    if live.spec.template.spec.containers[0].image != "web:v2":
        problems.append(f"template is {live.spec.template.spec.containers[0].image}, not web:v2")
    if live.spec.replicas != REPLICAS or live.spec.paused:
        problems.append(f"spec.replicas {live.spec.replicas}, paused {live.spec.paused}")
    counts = (status.replicas, status.updated_replicas, status.available_replicas, status.ready_replicas)
    if counts != (REPLICAS,) * 4 or (status.observed_generation or 0) < live.metadata.generation:
        problems.append(
            f"status replicas/updated/available/ready {counts}, observedGeneration {status.observed_generation}"
        )
    strategy = live.spec.strategy
    if strategy_type == "Rolling":
        bounds = (strategy.type, strategy.rolling_update.max_surge, strategy.rolling_update.max_unavailable)
        if bounds != ("RollingUpdate", 1, 1):
            problems.append(f"strategy left as {bounds}, not the user's RollingUpdate 1/1")
    elif strategy.type != "Recreate":
        problems.append(f"strategy left as {strategy.type}")
    if STATE_ANNOTATION in (live.metadata.annotations or {}):
        problems.append(f"state annotation left: {live.metadata.annotations[STATE_ANNOTATION]}")

    sets = apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items
    revisions = sorted(
        (int(rs.metadata.annotations[REVISION_ANNOTATION]), rs.spec.template.spec.containers[0].image)
        for rs in sets
    )
    if revisions != [(1, "web:v1"), (2, "web:v2")]:
        problems.append(f"ReplicaSets (revision, image) {revisions}, expected [(1, 'web:v1'), (2, 'web:v2')]")

    jobs = {j.metadata.name: j for j in batch_v1.list_namespaced_job(namespace).items}
    expected = {f"web-2-hook-{phase}" for phase in HOOKS[strategy_type]}
    if set(jobs) != expected:
        problems.append(f"hook Jobs {sorted(jobs)}, expected {sorted(expected)}")
    for name, job in sorted(jobs.items()):
        if not any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or []):
            problems.append(f"hook Job {name} did not succeed: {job.status.conditions}")
    uids = {j.metadata.uid for j in jobs.values()}

    def settled(pods: list[client.V1Pod]) -> list[client.V1Pod] | None:
        # The garbage collector deletes the pods of deleted Jobs: wait for it, then judge.
        owned = [p for p in pods if {o.uid for o in p.metadata.owner_references or []} & uids]
        return pods if len(owned) == len(pods) and all(p.status.phase == "Succeeded" for p in pods) else None

    try:
        watch_until(
            core_v1.list_namespaced_pod,
            settled,
            30,
            namespace=namespace,
            label_selector="openrollout.k8s/deployment=web",
        )
    except TimeoutError:
        pods = core_v1.list_namespaced_pod(namespace, label_selector="openrollout.k8s/deployment=web").items
        problems.append(
            "hook pods not all Succeeded and owned by a hook Job: "
            + ", ".join(f"{p.metadata.name} {p.status.phase}" for p in pods)
        )
    pods = core_v1.list_namespaced_pod(namespace, label_selector="openrollout.k8s/deployment=web").items
    for name, job in sorted(jobs.items()):
        mine = [p for p in pods if job.metadata.uid in {o.uid for o in p.metadata.owner_references or []}]
        if len(mine) != 1:
            problems.append(f"hook Job {name} has {len(mine)} pods")
    return problems


def trial(
    wait_for: Any,
    watch_until: Any,
    cluster: Any,
    core_v1: client.CoreV1Api,
    apps_v1: client.AppsV1Api,
    batch_v1: client.BatchV1Api,
    run_task: Any,
    strategy_type: str,
    kill: str | float | None,
) -> None:
    """One kill (an event name, seconds after the start, or None: not killed) and a rerun."""
    with fresh_namespace(core_v1, f"kill-{strategy_type.lower()}") as namespace:
        apps_v1.create_namespaced_deployment(
            namespace, app(namespace, "web:v1", REPLICAS, K8S_STRATEGY[strategy_type])
        )
        wait_complete(wait_for, apps_v1, namespace, REPLICAS)
        args = {
            "definition": app(namespace, "web:v2", REPLICAS, K8S_STRATEGY[strategy_type], ready_after="1s"),
            "strategy": MODULE_STRATEGY[strategy_type],
            "wait_timeout": 240,
        }
        token = secrets.token_hex(8)
        trigger = Trigger(kill if isinstance(kill, str) else None, token)
        with (
            Recorder(cluster.kubeconfig, namespace, on_event=trigger) as recorder,
            tempfile.TemporaryDirectory(prefix="openrollout-kill-") as tmp,
        ):
            started = time.monotonic()
            task = start_task("rollout", args, cluster.kubeconfig, Path(tmp), env={MARKER: token})
            trigger.started = True
            if isinstance(kill, float):
                try:
                    task.process.wait(timeout=kill)
                except subprocess.TimeoutExpired:  # still running at the chosen moment: kill it
                    trigger.fire()
            task.process.wait(timeout=600)
            if trigger.firing.is_set():  # ansible-playbook may be gone before the kill is over
                trigger.fired.wait(timeout=30)
            killed = trigger.fired.is_set() and bool(trigger.killed)
            survivors = marked(token)
            first_seconds = time.monotonic() - started
            label = snapshot(apps_v1, batch_v1, namespace) if killed else "not killed (finished first)"
            rerun_started = time.monotonic()
            rerun = run_task("rollout", args, timeout=600)
            rerun_seconds = time.monotonic() - rerun_started
            problems = [] if not rerun.get("failed") else [f"the rerun failed: {rerun.get('msg')}"]
            problems += converged(apps_v1, batch_v1, core_v1, watch_until, namespace, strategy_type)
            time.sleep(0.2)  # the Recorder's last events
        problems += [f"process {pid} survived the kill" for pid in survivors]
        problems += hook_reruns(recorder.of("job"))
        problems += seams(recorder.events, strategy_type)
        timeline = moments(recorder.events, {"app": "web"})
        lag: list[float] = []
        invariants = (
            rolling_violations(timeline, REPLICAS, 1, 1, lag)
            if strategy_type == "Rolling"
            else recreate_violations(timeline)
        )
        problems += invariants
        problems += recorder.errors
        if problems:
            problems.append(f"events: {dump(recorder, namespace)}")
        if kill is None and not killed:
            REFERENCE_SECONDS.setdefault(strategy_type, first_seconds)
        record(
            f"interruption/{strategy_type}",
            kill=kill,
            killed_after=round((trigger.at or started) - started, 2) if killed else None,
            kill_label=label,
            processes_killed=len(trigger.killed),
            rerun_changed=rerun.get("changed"),
            rerun_resumed_from=rerun.get("resumed_from"),
            rerun_hooks=[(h.get("phase"), h.get("skipped")) for h in rerun.get("hooks") or []],
            rerun_adopted=[e["phase"] for e in rerun.get("timeline") or [] if e.get("adopted")],
            ok=not problems,
            violations=problems[:20],
            lag=lag,
            moments=len(timeline),
            seconds=round(first_seconds + rerun_seconds, 1),
        )
        assert problems == [], f"kill at {kill!r} ({label}): {problems}"


def kill_moment(strategy_type: str) -> Any:
    """An event of TRIGGERS, or a fraction of the uninterrupted run's length (resolved in the test)."""
    return st.one_of(st.sampled_from(TRIGGERS[strategy_type]), st.floats(0.0, 1.05))


def resolve(kill: str | float, strategy_type: str, run: Any) -> str | float | None:
    if isinstance(kill, str):
        return kill
    if strategy_type not in REFERENCE_SECONDS:
        run(None)  # an uninterrupted run, which is a trial too: its rerun must change nothing
    return round(kill * REFERENCE_SECONDS[strategy_type], 2)


@hypothesis_settings()
@given(kill=kill_moment("Rolling"))
@example(kill="job-created:post")
def test_rolling_rollout_killed_then_rerun_converges(
    wait_for, watch_until, cluster, core_v1, apps_v1, batch_v1, run_task, kill
):
    def run(moment: str | float | None) -> None:
        trial(wait_for, watch_until, cluster, core_v1, apps_v1, batch_v1, run_task, "Rolling", moment)

    run(resolve(kill, "Rolling", run))


@hypothesis_settings()
@given(kill=kill_moment("Recreate"))
@example(kill="applied")
def test_recreate_rollout_killed_then_rerun_converges(
    wait_for, watch_until, cluster, core_v1, apps_v1, batch_v1, run_task, kill
):
    def run(moment: str | float | None) -> None:
        trial(wait_for, watch_until, cluster, core_v1, apps_v1, batch_v1, run_task, "Recreate", moment)

    run(resolve(kill, "Recreate", run))
