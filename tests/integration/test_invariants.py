"""Availability invariants of openrollout.k8s.rollout, seen by a watcher of its own (issue 8, part 1).

A `Recorder` (tests/integration/_reliability.py) watches the app's pods with the kubernetes client
while ansible-playbook runs the rollout, and every pod event is a moment where the invariants are
checked, with the deployment controller's own way of counting (see _reliability.py):

- Rolling: available >= replicas - maxUnavailable and total <= replicas + maxSurge, with the
  user's maxSurge / maxUnavailable (the module's canary step only tightens them);
- Recreate: never pods of the old and the new template at once (by pod-template-hash), and the
  new template on one pod, Ready, before a second one exists (the module's validation step).

Replicas, maxSurge, maxUnavailable and the new pods' readiness delay are drawn by hypothesis:
the fixed @examples in `make test`, RELIABILITY_TRIALS random ones more in `make reliability`.
The first two tests check the checker: the controller alone, with wider bounds than the ones
checked, must be caught.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from _reliability import (
    Recorder,
    dump,
    fresh_namespace,
    hypothesis_settings,
    moments,
    record,
    recreate_violations,
    rolling_violations,
)
from hypothesis import assume, example, given
from hypothesis import strategies as st
from kubernetes import client

pytestmark = pytest.mark.reliability

READY_AFTER = "openrollout.test/ready-after"
SURGE_OR_UNAVAILABLE = st.one_of(st.integers(0, 3), st.sampled_from(["25%", "50%", "100%"]))
READY_DELAY = st.sampled_from([None, "500ms", "1s", "2s", "3s"])


def app(
    namespace: str,
    image: str,
    replicas: int,
    strategy: dict[str, Any],
    ready_after: str | None = None,
) -> dict[str, Any]:
    """The Deployment `web` as the Kubernetes API takes it (strategy in Kubernetes' own words)."""
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }
    if ready_after:
        template["metadata"]["annotations"] = {READY_AFTER: ready_after}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": strategy,
            "template": template,
        },
    }


def rolling(max_surge: int | str, max_unavailable: int | str) -> dict[str, Any]:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }


def wait_complete(
    wait_for: Any, apps_v1: client.AppsV1Api, namespace: str, replicas: int, timeout: float = 60
) -> None:
    """kubectl rollout status's done-test, through a watch on the Deployment (conftest's wait_for)."""

    def done(d: client.V1Deployment) -> bool:
        s = d.status
        return (
            (s.observed_generation or 0) >= d.metadata.generation
            and (s.updated_replicas or 0) == replicas
            and (s.replicas or 0) == replicas
            and (s.available_replicas or 0) == replicas
        )

    wait_for(done, apps_v1.list_namespaced_deployment, timeout, namespace=namespace)


def roll_out(
    wait_for: Any,
    cluster: Any,
    core_v1: client.CoreV1Api,
    apps_v1: client.AppsV1Api,
    run_task: Any,
    slug: str,
    replicas: int,
    k8s_strategy: dict[str, Any],
    module_strategy: dict[str, Any],
    ready_after: str | None,
) -> tuple[dict[str, Any], list[Any], float, Recorder]:
    """v1 created with the API and complete; then v2 by the module while the Recorder watches."""
    with fresh_namespace(core_v1, slug) as namespace:
        apps_v1.create_namespaced_deployment(namespace, app(namespace, "web:v1", replicas, k8s_strategy))
        wait_complete(wait_for, apps_v1, namespace, replicas)
        started = time.monotonic()
        with Recorder(cluster.kubeconfig, namespace, kinds=("pod", "replicaset")) as recorder:
            result = run_task(
                "rollout",
                {
                    "definition": app(namespace, "web:v2", replicas, k8s_strategy, ready_after),
                    "strategy": module_strategy,
                    "wait_timeout": 240,
                },
            )
        assert not recorder.errors, recorder.errors
        return result, moments(recorder.events, {"app": "web"}), time.monotonic() - started, recorder


@hypothesis_settings()
@given(
    replicas=st.integers(1, 6),
    max_surge=SURGE_OR_UNAVAILABLE,
    max_unavailable=SURGE_OR_UNAVAILABLE,
    ready_after=READY_DELAY,
)
@example(replicas=5, max_surge="25%", max_unavailable="25%", ready_after="1s")
@example(replicas=3, max_surge=0, max_unavailable=1, ready_after="500ms")
def test_rolling_keeps_availability_and_surge_bounds(
    wait_for, cluster, core_v1, apps_v1, run_task, replicas, max_surge, max_unavailable, ready_after
):
    assume(not (max_surge == 0 and max_unavailable == 0))  # the API refuses both 0
    strategy = {
        "type": "Rolling",
        "rollingParams": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }
    result, timeline, seconds, recorder = roll_out(
        wait_for,
        cluster,
        core_v1,
        apps_v1,
        run_task,
        "inv-rolling",
        replicas,
        rolling(max_surge, max_unavailable),
        strategy,
        ready_after,
    )
    lag: list[float] = []
    violations = rolling_violations(timeline, replicas, max_surge, max_unavailable, lag)
    if violations:
        violations.append(f"events: {dump(recorder, recorder.namespace)}")
    params = {
        "replicas": replicas,
        "maxSurge": max_surge,
        "maxUnavailable": max_unavailable,
        "ready_after": ready_after,
    }
    record(
        "invariants/Rolling",
        params=params,
        ok=not result.get("failed") and not violations,
        violations=violations[:20],
        lag=lag,
        max_pods=max(m.active for m in timeline),
        min_available=min(m.available for m in timeline),
        moments=len(timeline),
        seconds=round(seconds, 1),
    )
    assert not result.get("failed"), result.get("msg")
    assert violations == [], f"{params}: {len(violations)} violations, first ones: {violations[:5]}"
    last = timeline[-1]
    assert (last.active, last.available) == (replicas, replicas), last.describe()


@hypothesis_settings()
@given(replicas=st.integers(1, 6), ready_after=READY_DELAY)
@example(replicas=3, ready_after="1s")
def test_recreate_never_runs_two_templates_at_once(
    wait_for, cluster, core_v1, apps_v1, run_task, replicas, ready_after
):
    result, timeline, seconds, recorder = roll_out(
        wait_for,
        cluster,
        core_v1,
        apps_v1,
        run_task,
        "inv-recreate",
        replicas,
        {"type": "Recreate"},
        {"type": "Recreate"},
        ready_after,
    )
    violations = recreate_violations(timeline)
    # The module's own promise: the new template is validated on one Ready pod before the others.
    hashes = [h for m in timeline for h in m.alive_by_hash]
    new_hash = next((h for m in reversed(timeline) for h in m.alive_by_hash), None)
    for moment in timeline:
        if moment.alive_by_hash.get(new_hash or "", 0) > 1 and moment.available < 1:
            violations.append(f"a second new pod before the first was Ready: {moment.describe()}")
            break
    if violations:
        violations.append(f"events: {dump(recorder, recorder.namespace)}")
    params = {"replicas": replicas, "ready_after": ready_after}
    record(
        "invariants/Recreate",
        params=params,
        ok=not result.get("failed") and not violations,
        violations=violations[:20],
        moments=len(timeline),
        seconds=round(seconds, 1),
    )
    assert not result.get("failed"), result.get("msg")
    assert violations == [], f"{params}: {violations[:5]}"
    assert len(set(hashes)) == 2, "the watcher saw both templates"
    last = timeline[-1]
    assert (last.active, last.available) == (replicas, replicas), last.describe()


# --- the checker checked: the controller alone, judged against tighter bounds, is caught ---------


def controller_only(
    wait_for: Any,
    cluster: Any,
    core_v1: client.CoreV1Api,
    apps_v1: client.AppsV1Api,
    strategy: dict[str, Any],
) -> list[Any]:
    with fresh_namespace(core_v1, "inv-control") as namespace:
        apps_v1.create_namespaced_deployment(namespace, app(namespace, "web:v1", 4, strategy))
        wait_complete(wait_for, apps_v1, namespace, 4)
        with Recorder(cluster.kubeconfig, namespace, kinds=("pod", "replicaset")) as recorder:
            template = app(namespace, "web:v2", 4, strategy, ready_after="1s")["spec"]["template"]
            apps_v1.patch_namespaced_deployment("web", namespace, {"spec": {"template": template}})
            wait_complete(wait_for, apps_v1, namespace, 4)
        return moments(recorder.events, {"app": "web"})


def test_the_watcher_catches_a_rolling_update_wider_than_allowed(wait_for, cluster, core_v1, apps_v1):
    timeline = controller_only(wait_for, cluster, core_v1, apps_v1, rolling(2, 2))
    # The controller keeps its own bounds...
    assert rolling_violations(timeline, 4, 2, 2) == []
    # ...and the checker flags the same rollout against maxSurge 1 / maxUnavailable 1.
    flagged = rolling_violations(timeline, 4, 1, 1)
    assert any(v.startswith("ReplicaSets' replicas 6 > 5") for v in flagged), flagged
    assert any(v.startswith("available 2 < 3") for v in flagged), flagged
    # Pods alone, as a watcher of pods only sees them: the same rollout is caught too.
    pods_only = [m for m in timeline if m.rs_replicas is not None]
    for moment in pods_only:
        moment.rs_replicas = None
    assert any(v.startswith("total 6 > 5") for v in rolling_violations(pods_only, 4, 1, 1))


def test_the_watcher_catches_two_templates_at_once(wait_for, cluster, core_v1, apps_v1):
    timeline = controller_only(wait_for, cluster, core_v1, apps_v1, rolling(1, 0))
    assert recreate_violations(timeline)
