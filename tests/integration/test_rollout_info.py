"""openrollout.k8s.rollout_info run by ansible-playbook against the local cluster, kubectl as the reference.

The module runs as a user runs it, through the `run_task` fixture (conftest.py, _ansible.py).

Each test builds its workloads with the API, lets the real controllers make the revisions, then
compares the module's history and status with what the built kubectl says about the same objects
(`kubectl rollout history`, `kubectl rollout status --watch=false`).
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

WEB = "registry.example/web"


# --- helpers ---------------------------------------------------------------------------------


# The tolerations the DaemonSet controller gives every daemon pod (AddOrUpdateDaemonPodTolerations in
# pkg/controller/daemon/util; network-unavailable only with hostNetwork, which these pods do not use).
DAEMON_POD_TOLERATIONS = {
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
}


def daemon_nodes(core_v1: client.CoreV1Api) -> list[str]:
    """The nodes a DaemonSet with no node selector and no tolerations of its own runs a pod on.

    As the DaemonSet controller decides it: a NoSchedule or NoExecute taint the daemon pod does not
    tolerate keeps it off (the bench's nodes, tainted openrollout.bench/scale, left by a killed
    make bench); a cordoned node still gets one (the pod tolerates node.kubernetes.io/unschedulable).
    Only Ready nodes: a pod on a node that is not Ready never becomes ready.
    """
    names = []
    for node in core_v1.list_node().items:
        taints = {
            (t.key, t.effect) for t in node.spec.taints or [] if t.effect in ("NoSchedule", "NoExecute")
        }
        ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        if ready and taints <= DAEMON_POD_TOLERATIONS:
            names.append(node.metadata.name)
    return names


def pod_template(app: str, image: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app, **(labels or {})}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(name: str, image: str, replicas: int = 2, selector: dict | None = None, **spec: Any) -> dict:
    match = selector or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"tier": "front"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": pod_template(match["app"], image, {k: v for k, v in match.items() if k != "app"}),
            **spec,
        },
    }


def set_image(kubectl, namespace: str, resource: str, image: str, cause: str) -> None:
    """A new revision whose change-cause is `cause`.

    The controllers record it differently. The Deployment controller keeps copying the
    Deployment's annotations to its new ReplicaSet, so the cause is annotated after the image
    change (annotated before, it would land on the old revision too). StatefulSet and DaemonSet
    revisions copy the annotations once, when they are made, so there it comes first.
    """
    image_change = ("-n", namespace, "set", "image", resource, f"app={image}")
    annotation = ("-n", namespace, "annotate", "--overwrite", resource, f"kubernetes.io/change-cause={cause}")
    first, then = (
        (image_change, annotation) if resource.startswith("deployment/") else (annotation, image_change)
    )
    run(kubectl, *first)
    run(kubectl, *then)


def run(kubectl, *args: str) -> str:
    result = kubectl(*args)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def rolled_out(kubectl, namespace: str, resource: str) -> None:
    run(kubectl, "-n", namespace, "rollout", "status", resource, "--timeout=90s")


def kubectl_history(kubectl, namespace: str, resource: str) -> list[tuple[int, str | None]]:
    """`kubectl rollout history` as (revision, change-cause or None) rows."""
    out = run(kubectl, "-n", namespace, "rollout", "history", resource)
    lines = [line for line in out.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.startswith("REVISION"))
    rows = []
    for line in lines[header + 1 :]:
        fields = line.split(None, 1)
        cause = fields[1].strip() if len(fields) > 1 else "<none>"
        rows.append((int(fields[0]), None if cause == "<none>" else cause))
    return rows


def kubectl_status(kubectl, namespace: str, resource: str) -> tuple[int, str]:
    result = kubectl("-n", namespace, "rollout", "status", resource, "--watch=false")
    return result.returncode, (result.stdout + result.stderr).strip()


def info(run_task, **args: Any) -> dict[str, Any]:
    result = run_task("rollout_info", args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    return result


def only(result: dict[str, Any]) -> dict[str, Any]:
    [rollout] = result["rollouts"]
    return rollout


def owned_names(items: list, uid: str) -> set[str]:
    return {
        item.metadata.name
        for item in items
        if any(ref.uid == uid and ref.controller for ref in item.metadata.owner_references or [])
    }


# --- Deployments -----------------------------------------------------------------------------


def test_deployment_history_matches_kubectl(run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api):
    apps_v1.create_namespaced_deployment(namespace, deployment("web", f"{WEB}:1"))
    rolled_out(kubectl, namespace, "deployment/web")
    set_image(kubectl, namespace, "deployment/web", f"{WEB}:2", "image 2")
    rolled_out(kubectl, namespace, "deployment/web")
    set_image(kubectl, namespace, "deployment/web", f"{WEB}:3", "image 3")
    rolled_out(kubectl, namespace, "deployment/web")
    # Selectors overlap: web-canary's ReplicaSets carry app=web too. kubectl and the module keep
    # only what web controls (owner references), never what its labels happen to select.
    canary = deployment("web-canary", f"{WEB}:canary", 1, selector={"app": "web", "track": "canary"})
    apps_v1.create_namespaced_deployment(namespace, canary)
    rolled_out(kubectl, namespace, "deployment/web-canary")

    rollout = only(info(run_task, name="web", namespace=namespace))

    assert [(e["revision"], e["change_cause"]) for e in rollout["history"]] == kubectl_history(
        kubectl, namespace, "deployment/web"
    )
    assert [(e["revision"], e["change_cause"]) for e in rollout["history"]] == [
        (1, None),
        (2, "image 2"),
        (3, "image 3"),
    ]
    web = apps_v1.read_namespaced_deployment("web", namespace)
    replica_sets = apps_v1.list_namespaced_replica_set(namespace).items
    assert {e["name"] for e in rollout["history"]} == owned_names(replica_sets, web.metadata.uid)
    assert [e["images"] for e in rollout["history"]] == [{"app": f"{WEB}:{n}"} for n in (1, 2, 3)]
    assert [e["current"] for e in rollout["history"]] == [False, False, True]
    assert [(e["replicas"], e["ready_replicas"], e["available_replicas"]) for e in rollout["history"]] == [
        (0, 0, 0),
        (0, 0, 0),
        (2, 2, 2),
    ]
    assert all(e["created"].endswith("Z") for e in rollout["history"])
    assert rollout["current_revision"] == 3
    assert (rollout["kind"], rollout["name"], rollout["namespace"]) == ("Deployment", "web", namespace)
    assert rollout["uid"] == web.metadata.uid
    assert rollout["paused"] is False

    code, message = kubectl_status(kubectl, namespace, "deployment/web")
    assert code == 0
    assert rollout["status"] == {
        "done": True,
        "message": message,
        "reason": None,
        "stuck": False,
        "problems": [],
        "problems_summary": "",
        "replicas": {"desired": 2, "updated": 2, "ready": 2, "available": 2},
    }
    assert message == 'deployment "web" successfully rolled out'


def test_revision_detail_and_an_unknown_revision(
    run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api
):
    apps_v1.create_namespaced_deployment(namespace, deployment("web", f"{WEB}:1"))
    rolled_out(kubectl, namespace, "deployment/web")
    set_image(kubectl, namespace, "deployment/web", f"{WEB}:2", "image 2")
    rolled_out(kubectl, namespace, "deployment/web")

    detail = only(info(run_task, name="web", namespace=namespace, revision=1))["revision_detail"]
    assert detail["revision"] == 1
    assert detail["current"] is False
    assert detail["images"] == {"app": f"{WEB}:1"}
    # the Deployment's template at revision 1: as the ReplicaSet stores it, less the hash label
    assert detail["template"]["metadata"]["labels"] == {"app": "web"}
    assert detail["template"]["spec"]["containers"][0]["image"] == f"{WEB}:1"
    rs = apps_v1.read_namespaced_replica_set(detail["name"], namespace)
    assert detail["annotations"] == rs.metadata.annotations
    assert "Image:\tregistry.example/web:1" in run(
        kubectl, "-n", namespace, "rollout", "history", "deployment/web", "--revision=1"
    )

    failed = run_task("rollout_info", {"name": "web", "namespace": namespace, "revision": 99})
    assert failed["failed"] is True
    assert failed["msg"] == f"revision 99 not found for Deployment {namespace}/web; revisions available: 1, 2"
    assert failed["available_revisions"] == [1, 2]
    assert "Traceback" not in failed.get("exception", "")


def test_stuck_rollout_names_the_crash_looping_pod_then_the_deadline(
    run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api, core_v1: client.CoreV1Api, wait_for
):
    apps_v1.create_namespaced_deployment(namespace, deployment("web", f"{WEB}:1"))
    rolled_out(kubectl, namespace, "deployment/web")
    patch = {"spec": {"template": {"metadata": {"labels": {"openrollout.test/never-ready": "true"}}}}}
    apps_v1.patch_namespaced_deployment("web", namespace, patch)
    crashing = wait_for(
        lambda p: any(
            (s.state.waiting and s.state.waiting.reason == "CrashLoopBackOff")
            for s in (p.status.container_statuses or [])
        ),
        core_v1.list_namespaced_pod,
        60,
        namespace=namespace,
        label_selector="openrollout.test/never-ready=true",
    )
    # maxSurge 1, maxUnavailable 0 (25% of 2): one new pod crash-loops, the two old ones stay
    wait_for(
        lambda d: d.status.updated_replicas == 1 and d.status.observed_generation == d.metadata.generation,
        apps_v1.list_namespaced_deployment,
        60,
        namespace=namespace,
    )

    status = only(info(run_task, name="web", namespace=namespace))["status"]
    code, message = kubectl_status(kubectl, namespace, "deployment/web")
    assert code == 0
    assert status["message"] == message
    assert (
        message
        == 'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...'
    )
    assert status["done"] is False
    assert status["reason"] is None
    assert status["stuck"] is True
    [problem] = status["problems"]
    assert problem["pod"] == crashing.metadata.name
    assert (problem["reason"], problem["container"]) == ("CrashLoopBackOff", "app")
    assert problem["message"].endswith("last exit code 1 (Error)")
    assert status["problems_summary"] == f"CrashLoopBackOff: {crashing.metadata.name} (container app)"

    # A shorter deadline is not a new revision; the controller then gives up on this one.
    apps_v1.patch_namespaced_deployment("web", namespace, {"spec": {"progressDeadlineSeconds": 1}})
    wait_for(
        lambda d: any(c.reason == "ProgressDeadlineExceeded" for c in d.status.conditions or []),
        apps_v1.list_namespaced_deployment,
        60,
        namespace=namespace,
    )
    rollout = only(info(run_task, name="web", namespace=namespace))
    status = rollout["status"]
    code, message = kubectl_status(kubectl, namespace, "deployment/web")
    assert code == 1
    assert message == 'error: deployment "web" exceeded its progress deadline'
    assert status["message"] == 'deployment "web" exceeded its progress deadline'
    assert (status["done"], status["reason"], status["stuck"]) == (False, "ProgressDeadlineExceeded", True)
    assert [p["pod"] for p in status["problems"]] == [crashing.metadata.name]
    assert [(e["revision"], e["current"]) for e in rollout["history"]] == [(1, False), (2, True)]


def test_label_selectors_and_a_missing_name(run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api):
    apps_v1.create_namespaced_deployment(namespace, deployment("web-b", f"{WEB}:1", 1))
    apps_v1.create_namespaced_deployment(namespace, deployment("web-a", f"{WEB}:1", 1))
    other = deployment("batch", f"{WEB}:1", 1)
    other["metadata"]["labels"] = {"tier": "back"}
    apps_v1.create_namespaced_deployment(namespace, other)

    result = info(run_task, namespace=namespace, label_selectors=["tier=front"])
    assert [r["name"] for r in result["rollouts"]] == ["web-a", "web-b"]
    assert info(run_task, namespace=namespace, label_selectors=["tier=middle"])["rollouts"] == []

    failed = run_task("rollout_info", {"name": "nope", "namespace": namespace})
    assert failed["failed"] is True
    assert failed["msg"] == f"Deployment {namespace}/nope not found"
    assert "Traceback" not in failed.get("exception", "")


def test_check_mode_returns_the_same_and_changes_nothing(
    run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api
):
    apps_v1.create_namespaced_deployment(namespace, deployment("web", f"{WEB}:1"))
    rolled_out(kubectl, namespace, "deployment/web")
    before = apps_v1.read_namespaced_deployment("web", namespace).metadata.resource_version

    checked = run_task("rollout_info", {"name": "web", "namespace": namespace, "revision": 1}, check=True)
    real = info(run_task, name="web", namespace=namespace, revision=1)

    assert not checked.get("failed"), checked.get("msg")
    assert checked["changed"] is False
    assert checked["rollouts"] == real["rollouts"]
    assert apps_v1.read_namespaced_deployment("web", namespace).metadata.resource_version == before


# --- StatefulSets and DaemonSets -------------------------------------------------------------


def test_statefulset_history_and_a_partitioned_rollout(
    run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api
):
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": pod_template("db", "registry.example/db:1"),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        },
    }
    apps_v1.create_namespaced_stateful_set(namespace, sts)
    rolled_out(kubectl, namespace, "statefulset/db")
    # partition 2: only db-2 moves to revision 2
    set_image(kubectl, namespace, "statefulset/db", "registry.example/db:2", "db 2")
    rolled_out(kubectl, namespace, "statefulset/db")

    rollout = only(info(run_task, kind="StatefulSet", name="db", namespace=namespace))

    assert [(e["revision"], e["change_cause"]) for e in rollout["history"]] == kubectl_history(
        kubectl, namespace, "statefulset/db"
    )
    assert [(e["revision"], e["change_cause"]) for e in rollout["history"]] == [(1, None), (2, "db 2")]
    current = apps_v1.read_namespaced_stateful_set("db", namespace)
    assert [e["name"] for e in rollout["history"]] == [
        current.status.current_revision,
        current.status.update_revision,
    ]
    assert [e["current"] for e in rollout["history"]] == [False, True]
    assert [e["images"] for e in rollout["history"]] == [
        {"app": "registry.example/db:1"},
        {"app": "registry.example/db:2"},
    ]
    # pods per revision: db-0 and db-1 at revision 1, db-2 at revision 2
    assert [(e["replicas"], e["ready_replicas"], e["available_replicas"]) for e in rollout["history"]] == [
        (2, 2, 2),
        (1, 1, 1),
    ]
    assert rollout["current_revision"] == 2

    code, message = kubectl_status(kubectl, namespace, "statefulset/db")
    assert code == 0
    assert (
        rollout["status"]["message"]
        == message
        == "partitioned roll out complete: 1 new pods have been updated..."
    )
    assert rollout["status"]["done"] is True
    assert rollout["status"]["replicas"] == {"desired": 3, "updated": 1, "ready": 3, "available": 3}

    detail = only(info(run_task, kind="StatefulSet", name="db", namespace=namespace, revision=1))[
        "revision_detail"
    ]
    assert detail["template"]["spec"]["containers"][0]["image"] == "registry.example/db:1"
    assert "$patch" not in detail["template"]


def test_daemonset_history(
    run_task, kubectl, namespace: str, apps_v1: client.AppsV1Api, core_v1: client.CoreV1Api
):
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": pod_template("agent", "registry.example/agent:1"),
        },
    }
    apps_v1.create_namespaced_daemon_set(namespace, ds)
    rolled_out(kubectl, namespace, "daemonset/agent")
    set_image(kubectl, namespace, "daemonset/agent", "registry.example/agent:2", "agent 2")
    rolled_out(kubectl, namespace, "daemonset/agent")

    rollout = only(info(run_task, kind="DaemonSet", name="agent", namespace=namespace))

    assert [(e["revision"], e["change_cause"]) for e in rollout["history"]] == kubectl_history(
        kubectl, namespace, "daemonset/agent"
    )
    assert [(e["revision"], e["change_cause"]) for e in rollout["history"]] == [(1, None), (2, "agent 2")]
    assert [e["current"] for e in rollout["history"]] == [False, True]
    # one pod per node it can run on: not the cluster's node count (leftover bench nodes are tainted)
    nodes = len(daemon_nodes(core_v1))
    assert nodes >= 1
    assert apps_v1.read_namespaced_daemon_set("agent", namespace).status.desired_number_scheduled == nodes
    assert [(e["replicas"], e["ready_replicas"]) for e in rollout["history"]] == [(0, 0), (nodes, nodes)]
    code, message = kubectl_status(kubectl, namespace, "daemonset/agent")
    assert code == 0
    assert rollout["status"]["message"] == message == 'daemon set "agent" successfully rolled out'
    assert rollout["status"]["done"] is True

    # kubectl's template for revision 1 and the module's agree
    detail = only(info(run_task, kind="DaemonSet", name="agent", namespace=namespace, revision=1))[
        "revision_detail"
    ]
    described = run(kubectl, "-n", namespace, "rollout", "history", "daemonset/agent", "--revision=1")
    assert f"Image:\t{detail['template']['spec']['containers'][0]['image']}" in described
    assert json.dumps(detail["template"]).count("registry.example/agent:1") == 1


def test_a_missing_namespace_is_said(run_task, namespace):
    listed = run_task("rollout_info", {"namespace": f"{namespace}-typo"})
    assert (bool(listed.get("failed")), listed["rollouts"]) == (False, [])
    assert listed["warnings"] == [f"namespace {namespace}-typo not found: no Deployment to list"]
    assert "warnings" not in run_task("rollout_info", {"namespace": namespace})  # there, with nothing in it
