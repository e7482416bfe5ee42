"""openrollout.k8s.rollout_control on the local cluster: every action twice (changed, then not),
and in check mode (nothing written). kubectl is the reference for what pause, resume and restart
write. KWOK's test annotations (hack/cluster/README.md) make pods that become ready at a set
time, or never.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
from typing import Any

import pytest
from kubernetes import client

WEB = "registry.example/web"
NEVER_READY = {"openrollout.test/never-ready": "true"}
STUCK_PENDING = {"openrollout.test/stuck-pending": "true"}


def run(kubectl, *args: str) -> str:
    result = kubectl(*args)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def deployment(
    replicas: int = 3, labels: dict | None = None, annotations: dict | None = None, **spec: Any
) -> dict:
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": "web", **(labels or {})}},
        "spec": {"containers": [{"name": "app", "image": f"{WEB}:1"}]},
    }
    if annotations:
        template["metadata"]["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template,
            **spec,
        },
    }


def control(run_task, namespace: str, action: str, check: bool = False, **args: Any) -> dict[str, Any]:
    return run_task(
        "rollout_control",
        {"action": action, "name": "web", "namespace": namespace, **args},
        check=check,
        diff=check,
    )


def assert_ok(result: dict, changed: bool) -> None:
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is changed


def live(apps_v1: client.AppsV1Api, namespace: str, name: str = "web") -> client.V1Deployment:
    return apps_v1.read_namespaced_deployment(name, namespace)


def rolled_out(kubectl, namespace: str, resource: str = "deployment/web") -> None:
    run(kubectl, "-n", namespace, "rollout", "status", resource, "--timeout=90s")


def revisions(apps_v1: client.AppsV1Api, namespace: str) -> list[str]:
    sets = apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items
    return sorted(rs.metadata.annotations["deployment.kubernetes.io/revision"] for rs in sets)


# --- pause and resume ------------------------------------------------------------------------


def test_pause_then_resume(run_task, kubectl, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment())
    rolled_out(kubectl, namespace)
    generation = live(apps_v1, namespace).metadata.generation

    check = control(run_task, namespace, "pause", check=True)
    assert_ok(check, True)
    assert check["paused"] is True and check["diff"]["after"]["spec"]["paused"] is True
    assert live(apps_v1, namespace).metadata.generation == generation

    assert_ok(control(run_task, namespace, "pause"), True)
    assert live(apps_v1, namespace).spec.paused is True
    assert_ok(control(run_task, namespace, "pause", check=True), False)
    again = control(run_task, namespace, "pause")
    assert_ok(again, False)
    assert again["paused"] is True

    # while paused, a new image does not roll out
    run(kubectl, "-n", namespace, "set", "image", "deployment/web", f"app={WEB}:2")
    assert revisions(apps_v1, namespace) == ["1"]

    check = control(run_task, namespace, "resume", check=True)
    assert_ok(check, True)
    assert (check["revision"], check["previous_revision"], check["paused"]) == (2, 1, False)
    assert live(apps_v1, namespace).spec.paused is True

    resumed = control(run_task, namespace, "resume")
    assert_ok(resumed, True)
    assert (resumed["revision"], resumed["paused"]) == (2, False)
    assert resumed["deployment"]["status"]["updatedReplicas"] == 3
    assert resumed["deployment"]["status"]["availableReplicas"] == 3
    events = [e["event"] for e in resumed["timeline"] if e["event"] != "replicas"]
    assert events == ["resumed", "complete"]
    assert_ok(control(run_task, namespace, "resume", check=True), False)
    assert_ok(control(run_task, namespace, "resume"), False)
    assert revisions(apps_v1, namespace) == ["1", "2"]


def test_pause_is_for_deployments(run_task, namespace):
    result = run_task(
        "rollout_control", {"action": "pause", "kind": "StatefulSet", "name": "db", "namespace": namespace}
    )
    assert result["failed"]
    assert result["msg"].startswith("action pause is for Deployments: a StatefulSet has no spec.paused")


# --- restart ---------------------------------------------------------------------------------


def test_restart_deployment_twice(run_task, kubectl, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment())
    rolled_out(kubectl, namespace)
    generation = live(apps_v1, namespace).metadata.generation

    check = control(run_task, namespace, "restart", check=True)
    assert_ok(check, True)
    assert check["revision"] == 2
    assert (
        "kubectl.kubernetes.io/restartedAt"
        in check["diff"]["after"]["spec"]["template"]["metadata"]["annotations"]
    )
    assert live(apps_v1, namespace).metadata.generation == generation

    first = control(run_task, namespace, "restart")
    assert_ok(first, True)
    assert (first["revision"], first["previous_revision"]) == (2, 1)
    stamp = first["restarted_at"]
    assert datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")  # kubectl's format
    template = live(apps_v1, namespace).spec.template
    assert template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] == stamp
    assert first["deployment"]["status"]["availableReplicas"] == 3
    # a restart is asked for each time: always changed, a new revision each time
    second = control(run_task, namespace, "restart")
    assert_ok(second, True)
    assert (second["revision"], second["previous_revision"]) == (3, 2)
    assert revisions(apps_v1, namespace) == ["1", "2", "3"]
    status = kubectl("-n", namespace, "rollout", "status", "deployment/web", "--watch=false")
    assert status.returncode == 0, status.stderr


def test_restart_refuses_a_paused_deployment(run_task, kubectl, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment(paused=True))
    kubectl_says = kubectl("-n", namespace, "rollout", "restart", "deployment/web")
    assert kubectl_says.returncode != 0 and "paused" in kubectl_says.stderr
    result = control(run_task, namespace, "restart")
    assert result["failed"] and not result["changed"]
    assert result["msg"] == (
        "cannot restart paused deployment/web: resume it first (action: resume, or kubectl rollout resume)"
    )


@pytest.mark.parametrize(("kind", "name"), [("StatefulSet", "db"), ("DaemonSet", "agent")])
def test_restart_statefulset_and_daemonset(run_task, kubectl, apps_v1, namespace, kind, name):
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"registry.example/{name}:1"}]},
            },
        },
    }
    create = apps_v1.create_namespaced_daemon_set
    if kind == "StatefulSet":
        body["spec"].update(replicas=2, serviceName=name)
        create = apps_v1.create_namespaced_stateful_set
    create(namespace, body)
    rolled_out(kubectl, namespace, f"{kind.lower()}/{name}")
    args = {"action": "restart", "kind": kind, "name": name, "namespace": namespace}

    check = run_task("rollout_control", args, check=True)
    assert_ok(check, True)
    assert check["revision"] == 2
    result = run_task("rollout_control", args)
    assert_ok(result, True)
    assert (result["revision"], result["previous_revision"]) == (2, 1)
    assert result["workload"]["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": result["restarted_at"]
    }
    assert [e["event"] for e in result["timeline"] if e["event"] != "replicas"] == ["restarted", "complete"]
    status = kubectl("-n", namespace, "rollout", "status", f"{kind.lower()}/{name}", "--watch=false")
    assert status.returncode == 0, status.stderr


# --- retry -----------------------------------------------------------------------------------


def progress_reason(deployment: Any) -> str | None:
    for condition in deployment.status.conditions or []:
        if condition.type == "Progressing":
            return condition.reason
    return None


def test_retry_after_the_progress_deadline(run_task, kubectl, apps_v1, core_v1, namespace, wait_for):
    """A rollout whose pods stay Pending until the test fixes them, past its progress deadline.

    The fix is made on the pods (the stuck-pending label removed), not on the template, so there is
    no new revision: what the retried rollout runs is the same revision. The test makes the fix once
    the retry has made fresh pods and restarted the deadline (Progressing: FoundNewReplicaSet), so
    no timing is assumed but the deadline's 20 s.
    """
    body = deployment(replicas=2, labels=STUCK_PENDING, progressDeadlineSeconds=20)
    apps_v1.create_namespaced_deployment(namespace, body)
    wait_for(
        lambda d: progress_reason(d) == "ProgressDeadlineExceeded",
        apps_v1.list_namespaced_deployment,
        90,
        namespace=namespace,
    )
    generation = live(apps_v1, namespace).metadata.generation
    pods = sorted(p.metadata.name for p in core_v1.list_namespaced_pod(namespace).items)

    check = control(run_task, namespace, "retry", check=True)
    assert_ok(check, True)
    assert check["retried"] is True and check["failure_reason"] == "ProgressDeadlineExceeded"
    assert check["recreated_pods"] == pods
    assert check["progress_deadline_restarted"] is True
    assert live(apps_v1, namespace).metadata.generation == generation

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        retry = pool.submit(control, run_task, namespace, "retry")
        wait_for(
            lambda d: progress_reason(d) == "FoundNewReplicaSet",
            apps_v1.list_namespaced_deployment,
            90,
            namespace=namespace,
        )
        fresh = [p for p in core_v1.list_namespaced_pod(namespace).items if not p.metadata.deletion_timestamp]
        for pod in fresh:
            core_v1.patch_namespaced_pod(
                pod.metadata.name,
                namespace,
                {"metadata": {"labels": {"openrollout.test/stuck-pending": None}}},
            )
        result = retry.result(timeout=300)

    assert_ok(result, True)
    assert result["recreated_pods"] == pods
    assert not set(pods) & {p.metadata.name for p in fresh}  # the pods fixed are the fresh ones
    assert result["progress_deadline_seconds"] == 20
    assert (result["revision"], result["previous_revision"]) == (1, 1)  # no new revision
    events = [e["event"] for e in result["timeline"] if e["event"] != "replicas"]
    assert events == ["pods_recreated", "progress_deadline_restarted", "complete"]
    after = live(apps_v1, namespace)
    assert after.spec.progress_deadline_seconds == 20
    assert progress_reason(after) == "NewReplicaSetAvailable"
    assert after.status.available_replicas == 2
    assert revisions(apps_v1, namespace) == ["1"]

    assert_ok(control(run_task, namespace, "retry", check=True), False)
    again = control(run_task, namespace, "retry")
    assert_ok(again, False)
    assert again["retried"] is False
    assert again["message"] == 'nothing to retry: deployment "web" successfully rolled out'


def test_retry_of_a_crash_loop_fails_again_with_the_reason(
    run_task, kubectl, apps_v1, core_v1, namespace, wait_for
):
    apps_v1.create_namespaced_deployment(namespace, deployment(replicas=2, labels=NEVER_READY))
    crashing = wait_for(
        lambda pod: any(
            (s.state.waiting and s.state.waiting.reason == "CrashLoopBackOff")
            for s in (pod.status.container_statuses or [])
        ),
        core_v1.list_namespaced_pod,
        60,
        namespace=namespace,
    )
    result = control(run_task, namespace, "retry", timeout_seconds=60)
    assert result["failed"] and result["changed"], result.get("msg")
    assert result["failure_reason"] == "CrashLoopBackOff"
    assert crashing.metadata.name in result["recreated_pods"]
    assert result["failure"]["reason"] == "CrashLoopBackOff"
    assert result["msg"].startswith(
        f"retry of Deployment {namespace}/web: the rollout (revision 1) did not complete: CrashLoopBackOff: web-"
    )
    names = {p.metadata.name for p in core_v1.list_namespaced_pod(namespace).items}
    assert crashing.metadata.name not in names


def test_retry_refuses_a_paused_deployment(run_task, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment(paused=True))
    result = control(run_task, namespace, "retry")
    assert result["failed"]
    assert result["msg"] == f"cannot retry the rollout of paused Deployment {namespace}/web; resume it first"


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_a_slow_rollout(run_task, kubectl, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment())
    run(kubectl, "-n", namespace, "annotate", "deployment/web", "kubernetes.io/change-cause=one")
    rolled_out(kubectl, namespace)
    # revision 2: its pods take a minute to become ready; the old ones keep serving
    patch = {
        "metadata": {"annotations": {"kubernetes.io/change-cause": "two"}},
        "spec": {
            "template": {
                "metadata": {"annotations": {"openrollout.test/ready-after": "60s"}},
                "spec": {"containers": [{"name": "app", "image": f"{WEB}:2"}]},
            }
        },
    }
    run(kubectl, "-n", namespace, "patch", "deployment/web", "-p", json.dumps(patch))
    generation = live(apps_v1, namespace).metadata.generation

    check = control(run_task, namespace, "cancel", check=True)
    assert_ok(check, True)
    assert (check["cancelled"], check["cancelled_revision"], check["rolled_back_to"], check["revision"]) == (
        True,
        2,
        1,
        3,
    )
    assert live(apps_v1, namespace).metadata.generation == generation

    result = control(run_task, namespace, "cancel")
    assert_ok(result, True)
    assert (result["cancelled_revision"], result["rolled_back_to"], result["revision"]) == (2, 1, 3)
    now = live(apps_v1, namespace)
    assert now.spec.template.spec.containers[0].image == f"{WEB}:1"
    assert now.metadata.annotations["kubernetes.io/change-cause"] == "one"
    assert now.status.available_replicas == 3 and now.status.updated_replicas == 3
    assert [e["event"] for e in result["timeline"] if e["event"] != "replicas"] == ["applied", "complete"]

    assert_ok(control(run_task, namespace, "cancel", check=True), False)
    again = control(run_task, namespace, "cancel")
    assert_ok(again, False)
    assert again["cancelled"] is False
    assert again["message"] == 'no rollout in progress: deployment "web" successfully rolled out'


def test_cancel_a_first_rollout_has_nothing_to_go_back_to(run_task, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment(labels=NEVER_READY))
    result = control(run_task, namespace, "cancel")
    assert result["failed"]
    assert result["msg"] == (
        f"cannot cancel the rollout of Deployment {namespace}/web: it has no earlier revision to go back to "
        "(revision 1 is its first)"
    )
