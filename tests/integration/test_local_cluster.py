"""Proof that the local control plane is real: real apiserver, controllers and scheduler; kwok nodes.

Every kwok behaviour documented in hack/cluster/README.md (labels and annotations) has a test here
showing it does exactly what it says. No sleeps: every wait is a watch with a timeout.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

pytestmark = pytest.mark.integration

LOGS_DIR = Path(__file__).resolve().parents[2] / "hack" / "cluster" / "kwok" / "logs"
TIMEOUT = 60
IMAGE_V1, IMAGE_V2 = "registry.example/app:v1", "registry.example/app:v2"

WaitFor = Callable[..., Any]  # the wait_for / watch_until / wait_pod fixtures
Kubectl = Callable[..., subprocess.CompletedProcess[str]]  # the kubectl fixture


# --- helpers ---------------------------------------------------------------------------------


def condition_of(obj: Any, type_: str) -> Any:
    """The status condition `type_` of a pod, node, deployment or job, or None."""
    return next((c for c in (obj.status.conditions or []) if c.type == type_), None)


def has_condition(obj: Any, type_: str, status: str = "True") -> bool:
    cond = condition_of(obj, type_)
    return cond is not None and cond.status == status


def is_ready(obj: Any) -> bool:
    return has_condition(obj, "Ready")


def container_state(p: Any) -> Any:
    statuses = p.status.container_statuses or []
    return statuses[0].state if statuses else None


def waiting_reason(p: Any) -> str | None:
    state = container_state(p)
    return state.waiting.reason if state and state.waiting else None


def finished(p: Any) -> bool:
    return p.status.phase in ("Succeeded", "Failed")


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels, annotations=annotations),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=IMAGE_V1)], **spec),
    )


def deployment(name: str, image: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=image)]),
            ),
        ),
    )


def job(name: str, annotations: dict[str, str], labels: dict[str, str] | None = None) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(annotations=annotations, labels=labels),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="hook", image="registry.example/hook:v1")],
                ),
            ),
        ),
    )


def rollout_complete(d: Any) -> bool:
    """kubectl rollout status' done-test (without the paused/progress-deadline parts)."""
    s = d.status
    want = d.spec.replicas
    return (
        (s.observed_generation or 0) >= d.metadata.generation
        and (s.updated_replicas or 0) == want
        and (s.replicas or 0) == want
        and (s.available_replicas or 0) == want
    )


def revision(obj: Any) -> str | None:
    return (obj.metadata.annotations or {}).get("deployment.kubernetes.io/revision")


def replica_sets_by_revision(apps_v1: client.AppsV1Api, namespace: str) -> dict[str | None, Any]:
    replica_sets: list[Any] = apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items
    assert len({revision(rs) for rs in replica_sets}) == len(replica_sets)
    return {revision(rs): rs for rs in replica_sets}


def log_messages(name: str) -> list[str]:
    """The message column of a CRI-format log file in hack/cluster/kwok/logs/."""
    return [line.split(" ", 3)[3] for line in (LOGS_DIR / f"{name}.log").read_text().splitlines() if line]


@pytest.fixture
def wait_pod(wait_for: WaitFor, core_v1: client.CoreV1Api, namespace: str) -> WaitFor:
    """wait_pod(name, predicate, timeout=TIMEOUT): the pod once `predicate` holds for it."""

    def wait(name: str, predicate: Callable[[client.V1Pod], bool], timeout: float = TIMEOUT) -> client.V1Pod:
        return wait_for(
            predicate,
            core_v1.list_namespaced_pod,
            timeout,
            namespace=namespace,
            field_selector=f"metadata.name={name}",
        )

    return wait


# --- (a) nodes and auth ----------------------------------------------------------------------


def test_three_ready_kwok_nodes(core_v1: client.CoreV1Api) -> None:
    # the cluster's own nodes: not the bench's (also type=kwok), which a killed make bench may leave
    nodes: list[Any] = core_v1.list_node(label_selector="type=kwok,!openrollout.bench/scale").items
    assert sorted(n.metadata.name for n in nodes) == [
        "kwok-node-0",
        "kwok-node-1",
        "kwok-node-2",
    ]
    for n in nodes:
        assert is_ready(n), n.metadata.name
        assert n.metadata.annotations["kwok.x-k8s.io/node"] == "fake"
        assert n.status.allocatable == {"cpu": "32", "memory": "256Gi", "pods": "110"}
        assert [a.address for a in n.status.addresses if a.type == "InternalIP"] == ["127.0.0.1"]


def test_rbac_is_enforced(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "*", "*", "--all-namespaces").stdout.strip() == "yes"
    denied = kubectl(
        "auth",
        "can-i",
        "create",
        "deployments.apps",
        "-n",
        "default",
        "--as",
        "system:serviceaccount:default:default",
    )
    assert denied.stdout.strip() == "no"


# --- (b) the real Deployment and ReplicaSet controllers --------------------------------------


def test_deployment_rollout_and_undo(
    namespace: str,
    apps_v1: client.AppsV1Api,
    core_v1: client.CoreV1Api,
    kubectl: Kubectl,
    wait_for: WaitFor,
    watch_until: WaitFor,
) -> None:
    apps_v1.create_namespaced_deployment(namespace, deployment("web", IMAGE_V1, 3))

    ready = watch_until(
        core_v1.list_namespaced_pod,
        lambda pods: [p for p in pods if is_ready(p)] if sum(map(is_ready, pods)) == 3 else None,
        TIMEOUT,
        namespace=namespace,
        label_selector="app=web",
    )
    assert {p.spec.containers[0].image for p in ready} == {IMAGE_V1}
    assert {p.metadata.owner_references[0].kind for p in ready} == {"ReplicaSet"}
    assert all(p.spec.node_name.startswith("kwok-node-") for p in ready)
    wait_for(
        lambda d: rollout_complete(d) and revision(d) == "1",
        apps_v1.list_namespaced_deployment,
        TIMEOUT,
        namespace=namespace,
    )

    apps_v1.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGE_V2}]}}}},
    )
    wait_for(
        lambda d: d.metadata.generation == 2 and rollout_complete(d) and revision(d) == "2",
        apps_v1.list_namespaced_deployment,
        TIMEOUT,
        namespace=namespace,
    )
    by_revision = replica_sets_by_revision(apps_v1, namespace)
    assert set(by_revision) == {"1", "2"}
    assert by_revision["2"].spec.template.spec.containers[0].image == IMAGE_V2
    assert (by_revision["1"].spec.replicas, by_revision["2"].spec.replicas) == (0, 3)

    undo = kubectl("rollout", "undo", "deployment/web", "-n", namespace)
    assert undo.returncode == 0, undo.stderr
    d = wait_for(
        lambda d: d.metadata.generation == 3 and rollout_complete(d) and revision(d) == "3",
        apps_v1.list_namespaced_deployment,
        TIMEOUT,
        namespace=namespace,
    )
    assert d.spec.template.spec.containers[0].image == IMAGE_V1
    by_revision = replica_sets_by_revision(apps_v1, namespace)
    assert set(by_revision) == {"2", "3"}, "undo reuses revision 1's ReplicaSet, now revision 3"
    assert by_revision["3"].spec.template.spec.containers[0].image == IMAGE_V1
    assert (by_revision["2"].spec.replicas, by_revision["3"].spec.replicas) == (0, 3)


# --- (c) the failure stages ------------------------------------------------------------------


def test_never_ready_label_crash_loops(namespace: str, core_v1: client.CoreV1Api, wait_pod: WaitFor) -> None:
    core_v1.create_namespaced_pod(namespace, pod("crash", labels={"openrollout.test/never-ready": "true"}))
    p = wait_pod("crash", lambda p: waiting_reason(p) == "CrashLoopBackOff")
    assert p.status.phase == "Running"
    assert p.status.container_statuses[0].restart_count > 0
    assert p.status.container_statuses[0].ready is False
    assert has_condition(p, "Ready", "False")


def test_image_pull_backoff_label(namespace: str, core_v1: client.CoreV1Api, wait_pod: WaitFor) -> None:
    core_v1.create_namespaced_pod(
        namespace, pod("pull", labels={"openrollout.test/image-pull-backoff": "true"})
    )
    p = wait_pod("pull", lambda p: waiting_reason(p) == "ImagePullBackOff")
    assert p.status.phase == "Pending"
    assert has_condition(p, "Ready", "False")


def test_ready_after_annotation_delays_readiness(
    namespace: str, core_v1: client.CoreV1Api, wait_pod: WaitFor
) -> None:
    delay = 5
    core_v1.create_namespaced_pod(
        namespace,
        pod("slow", annotations={"openrollout.test/ready-after": f"{delay}s"}),
    )
    # Running first, its container started, but not Ready (like a readiness probe not passed yet)...
    started = wait_pod("slow", lambda p: p.status.phase == "Running")
    assert has_condition(started, "Ready", "False")
    assert condition_of(started, "Ready").reason == "ContainersNotReady"
    assert container_state(started).running is not None
    # ...and Ready once the delay has passed.
    p = wait_pod("slow", is_ready, timeout=delay + TIMEOUT)
    elapsed = (condition_of(p, "Ready").last_transition_time - p.metadata.creation_timestamp).total_seconds()
    assert elapsed >= delay - 1, f"Ready {elapsed}s after creation, expected >= {delay - 1}s"


@pytest.mark.parametrize(
    ("exit_code", "phase", "reason", "job_condition"),
    [("3", "Failed", "Error", "Failed"), ("0", "Succeeded", "Completed", "Complete")],
)
def test_exit_code_annotation_on_job_pod(
    namespace: str,
    batch_v1: client.BatchV1Api,
    core_v1: client.CoreV1Api,
    wait_for: WaitFor,
    exit_code: str,
    phase: str,
    reason: str,
    job_condition: str,
) -> None:
    batch_v1.create_namespaced_job(namespace, job("hook", {"openrollout.test/exit-code": exit_code}))
    p = wait_for(
        finished,
        core_v1.list_namespaced_pod,
        TIMEOUT,
        namespace=namespace,
        label_selector="job-name=hook",
    )
    assert p.status.phase == phase
    terminated = container_state(p).terminated
    assert (terminated.exit_code, terminated.reason) == (int(exit_code), reason)
    wait_for(
        lambda j: has_condition(j, job_condition),
        batch_v1.list_namespaced_job,
        TIMEOUT,
        namespace=namespace,
    )


def test_run_for_annotation_delays_completion(
    namespace: str,
    batch_v1: client.BatchV1Api,
    core_v1: client.CoreV1Api,
    wait_for: WaitFor,
) -> None:
    batch_v1.create_namespaced_job(namespace, job("hook", {"openrollout.test/run-for": "3s"}))
    p = wait_for(
        finished,
        core_v1.list_namespaced_pod,
        TIMEOUT,
        namespace=namespace,
        label_selector="job-name=hook",
    )
    assert p.status.phase == "Succeeded"
    ran = (container_state(p).terminated.finished_at - p.metadata.creation_timestamp).total_seconds()
    assert ran >= 2, f"finished {ran}s after creation, expected >= 2s"


def test_stuck_pending_label_stays_pending(
    namespace: str, core_v1: client.CoreV1Api, wait_pod: WaitFor
) -> None:
    core_v1.create_namespaced_pod(namespace, pod("stuck", labels={"openrollout.test/stuck-pending": "true"}))
    core_v1.create_namespaced_pod(namespace, pod("witness"))
    # Once a pod created after it is Ready, kwok has had its chance to act on the stuck one.
    wait_pod("witness", is_ready)
    p = wait_pod("stuck", lambda p: p.spec.node_name is not None)
    assert has_condition(p, "PodScheduled"), "the real scheduler bound it"
    with pytest.raises(TimeoutError):
        wait_pod(
            "stuck",
            lambda p: p.status.phase != "Pending" or bool(p.status.container_statuses),
            timeout=3,
        )
    stuck: Any = core_v1.read_namespaced_pod("stuck", namespace)
    assert stuck.status.phase == "Pending"


def test_unmatched_node_selector_is_unschedulable(
    namespace: str, core_v1: client.CoreV1Api, wait_pod: WaitFor
) -> None:
    core_v1.create_namespaced_pod(
        namespace,
        pod("nowhere", node_selector={"openrollout.test/no-such-node": "true"}),
    )
    p = wait_pod("nowhere", lambda p: has_condition(p, "PodScheduled", "False"))
    scheduled = condition_of(p, "PodScheduled")
    assert scheduled.reason == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in scheduled.message
    assert p.status.phase == "Pending"
    assert p.spec.node_name is None


# --- (d) container logs through the apiserver ------------------------------------------------


@pytest.mark.parametrize(("logs", "exit_code"), [("hook-ok", "0"), ("hook-fail", "3")])
def test_logs_label_serves_file_through_apiserver(
    namespace: str,
    core_v1: client.CoreV1Api,
    batch_v1: client.BatchV1Api,
    custom_objects: client.CustomObjectsApi,
    kubectl: Kubectl,
    wait_for: WaitFor,
    logs: str,
    exit_code: str,
) -> None:
    batch_v1.create_namespaced_job(
        namespace,
        job(
            "hook",
            {"openrollout.test/exit-code": exit_code},
            labels={"openrollout.test/logs": logs},
        ),
    )
    p = wait_for(
        finished,
        core_v1.list_namespaced_pod,
        TIMEOUT,
        namespace=namespace,
        label_selector="job-name=hook",
    )
    # kwok serves a pod's logs from a Logs object that logs_linker.py creates for the label: wait
    # for it rather than race it.
    wait_for(
        lambda o: o["metadata"]["name"] == p.metadata.name,
        functools.partial(
            custom_objects.list_namespaced_custom_object,
            "kwok.x-k8s.io",
            "v1alpha1",
            plural="logs",
        ),
        TIMEOUT,
        namespace=namespace,
    )

    out = kubectl("logs", "-n", namespace, p.metadata.name)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == log_messages(logs)
    # The same through the Python client (what the collection uses).
    text = core_v1.read_namespaced_pod_log(p.metadata.name, namespace, container="hook")
    assert text.splitlines() == log_messages(logs)


def test_pod_without_logs_label_has_empty_logs(
    namespace: str, core_v1: client.CoreV1Api, kubectl: Kubectl, wait_pod: WaitFor
) -> None:
    core_v1.create_namespaced_pod(namespace, pod("quiet"))
    wait_pod("quiet", is_ready)
    out = kubectl("logs", "-n", namespace, "quiet")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
