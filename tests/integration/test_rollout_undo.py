"""openrollout.k8s.rollout_undo on the local cluster, differential against the built kubectl.

Two identical workloads live in two namespaces and get the same revisions. One is rolled back
with `kubectl rollout undo`, the other with the module; then their templates, annotations and
revision numbers must be equal. Namespaces differ so the objects can have the same names and
their templates can be compared whole.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

WEB = "registry.example/web"
NEVER_READY = {"openrollout.test/never-ready": "true"}


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def twin(core_v1: client.CoreV1Api, namespace: str, wait_for) -> Iterator[str]:
    """A second fresh namespace, for the object kubectl rolls back."""
    name = f"{namespace[:50]}-k{secrets.token_hex(2)}"
    core_v1.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"openrollout.test/integration": "true"})
        )
    )
    try:
        wait_for(
            lambda sa: sa.metadata.name == "default",
            core_v1.list_namespaced_service_account,
            30,
            namespace=name,
        )
        yield name
    finally:
        try:
            core_v1.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def run(kubectl, *args: str) -> str:
    result = kubectl(*args)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def deployment(image: str = f"{WEB}:1", replicas: int = 3, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"team": "shop"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web", **(labels or {})}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def new_revision(kubectl, namespace: str, image: str, cause: str, env: str | None = None) -> None:
    """A new revision with a change-cause, the way users make them with kubectl."""
    container: dict[str, Any] = {"name": "app", "image": image}
    if env is not None:
        container["env"] = [{"name": "MODE", "value": env}]
    patch = json.dumps({"spec": {"template": {"spec": {"containers": [container]}}}})
    run(kubectl, "-n", namespace, "patch", "deployment/web", "-p", patch)
    run(
        kubectl,
        "-n",
        namespace,
        "annotate",
        "--overwrite",
        "deployment/web",
        f"kubernetes.io/change-cause={cause}",
    )
    run(kubectl, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s")


def same_history(kubectl, apps_v1, namespaces: tuple[str, ...]) -> None:
    """Both namespaces: a Deployment with revisions 1 (web:1), 2 (web:2), 3 (web:3 and env)."""
    for ns in namespaces:
        apps_v1.create_namespaced_deployment(ns, deployment())
        run(kubectl, "-n", ns, "annotate", "deployment/web", "kubernetes.io/change-cause=first")
        run(kubectl, "-n", ns, "rollout", "status", "deployment/web", "--timeout=90s")
        new_revision(kubectl, ns, f"{WEB}:2", "second")
        new_revision(kubectl, ns, f"{WEB}:3", "third", env="fast")


def state(apps_v1: client.AppsV1Api, namespace: str) -> dict[str, Any]:
    """What kubectl's undo decides: template, annotations, and each ReplicaSet's revision and image."""
    api = apps_v1.api_client
    live = api.sanitize_for_serialization(apps_v1.read_namespaced_deployment("web", namespace))
    sets = apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items
    return {
        "template": live["spec"]["template"],
        "annotations": live["metadata"].get("annotations"),
        "revision": live["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "replica_sets": sorted(
            (
                rs.metadata.annotations["deployment.kubernetes.io/revision"],
                rs.metadata.annotations.get("deployment.kubernetes.io/revision-history"),
                rs.spec.template.spec.containers[0].image,
                rs.metadata.annotations.get("kubernetes.io/change-cause"),
            )
            for rs in sets
        ),
        "available": live["status"].get("availableReplicas"),
    }


def undo(run_task, namespace: str, **args: Any) -> dict[str, Any]:
    return run_task("rollout_undo", {"name": "web", "namespace": namespace, **args})


def assert_ok(result: dict, changed: bool) -> None:
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is changed


# --- Deployments -----------------------------------------------------------------------------


def test_deployment_undo_matches_kubectl(run_task, kubectl, apps_v1, namespace, twin):
    same_history(kubectl, apps_v1, (namespace, twin))
    assert state(apps_v1, namespace) == state(apps_v1, twin)
    version = apps_v1.read_namespaced_deployment("web", namespace).metadata.resource_version

    # check mode: the plan, and nothing written
    check = run_task(
        "rollout_undo", {"name": "web", "namespace": namespace, "to_revision": 1}, check=True, diff=True
    )
    assert_ok(check, True)
    assert (check["revision"], check["previous_revision"], check["rolled_back_to"]) == (4, 3, 1)
    assert check["deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == f"{WEB}:1"
    assert check["diff"]["before"]["spec"]["template"] != check["diff"]["after"]["spec"]["template"]
    assert check["diff"]["after"]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"
    assert apps_v1.read_namespaced_deployment("web", namespace).metadata.resource_version == version

    # to revision 1: kubectl on one side, the module on the other
    run(kubectl, "-n", twin, "rollout", "undo", "deployment/web", "--to-revision=1")
    run(kubectl, "-n", twin, "rollout", "status", "deployment/web", "--timeout=90s")
    real = undo(run_task, namespace, to_revision=1)
    assert_ok(real, True)
    assert (real["revision"], real["previous_revision"], real["rolled_back_to"]) == (4, 3, 1)
    assert real["deployment"]["status"]["availableReplicas"] == 3
    assert [e["event"] for e in real["timeline"] if e["event"] != "replicas"] == ["applied", "complete"]
    ours, kubectls = state(apps_v1, namespace), state(apps_v1, twin)
    assert ours == kubectls
    assert ours["revision"] == "4"
    assert ours["annotations"]["kubernetes.io/change-cause"] == "first"
    assert ours["annotations"]["team"] == "shop"

    # the same task again: kubectl would fail (revision 1 is now 4); the module changes nothing
    assert_ok(
        run_task("rollout_undo", {"name": "web", "namespace": namespace, "to_revision": 1}, check=True), False
    )
    again = undo(run_task, namespace, to_revision=1)
    assert_ok(again, False)
    assert (again["revision"], again["rolled_back_to"]) == (4, 1)
    assert state(apps_v1, namespace) == kubectls

    # the previous revision (kubectl's rule: second-highest, now 3), both sides
    run(kubectl, "-n", twin, "rollout", "undo", "deployment/web")
    run(kubectl, "-n", twin, "rollout", "status", "deployment/web", "--timeout=90s")
    previous = undo(run_task, namespace)
    assert_ok(previous, True)
    assert (previous["revision"], previous["previous_revision"], previous["rolled_back_to"]) == (5, 4, 3)
    assert state(apps_v1, namespace) == state(apps_v1, twin)
    assert state(apps_v1, namespace)["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "fast"}
    ]

    # the current revision: kubectl skips, the module reports no change
    skipped = run(kubectl, "-n", twin, "rollout", "undo", "deployment/web", "--to-revision=5")
    assert "skipped rollback (current template already matches revision 5)" in skipped
    assert_ok(undo(run_task, namespace, to_revision=5), False)
    assert state(apps_v1, namespace) == state(apps_v1, twin)


def test_unknown_revision_lists_the_revisions(run_task, kubectl, apps_v1, namespace):
    same_history(kubectl, apps_v1, (namespace,))
    result = undo(run_task, namespace, to_revision=7)
    assert result["failed"] and not result["changed"]
    assert result["msg"] == "revision 7 not found for deployment/web; revisions available: 1, 2, 3"
    assert result["available_revisions"] == [1, 2, 3]


def test_no_previous_revision(run_task, kubectl, apps_v1, namespace):
    apps_v1.create_namespaced_deployment(namespace, deployment())
    result = undo(run_task, namespace)
    assert result["failed"]
    assert result["msg"] == "no previous revision to roll back to for deployment/web; revisions available: 1"


def test_paused_deployment_is_refused(run_task, kubectl, apps_v1, namespace):
    same_history(kubectl, apps_v1, (namespace,))
    run(kubectl, "-n", namespace, "rollout", "pause", "deployment/web")
    # (the controller writes the status on its own here: compare generations, not resourceVersions)
    generation = apps_v1.read_namespaced_deployment("web", namespace).metadata.generation
    for check in (True, False):
        result = run_task(
            "rollout_undo", {"name": "web", "namespace": namespace, "to_revision": 1}, check=check
        )
        assert result["failed"] and not result["changed"]
        assert result["msg"] == (
            "you cannot roll back a paused deployment; resume deployment/web first (spec.paused: false) and try again"
        )
    assert apps_v1.read_namespaced_deployment("web", namespace).metadata.generation == generation


def test_missing_deployment(run_task, namespace):
    result = undo(run_task, namespace)
    assert result["failed"]
    assert result["msg"] == f"Deployment {namespace}/web not found"


def test_rollback_to_a_broken_revision_fails_with_the_reason(run_task, kubectl, apps_v1, namespace):
    broken = deployment(labels=NEVER_READY)
    apps_v1.create_namespaced_deployment(namespace, broken)
    # revision 2 fixes it
    fix = {
        "spec": {
            "template": {
                "metadata": {"labels": {"openrollout.test/never-ready": None}},
                "spec": {"containers": [{"name": "app", "image": f"{WEB}:2"}]},
            }
        }
    }
    apps_v1.patch_namespaced_deployment("web", namespace, fix)
    run(kubectl, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s")

    result = undo(run_task, namespace, timeout_seconds=60)
    assert result["failed"] and result["changed"], result.get("msg")
    assert result["failure"]["reason"] == "CrashLoopBackOff"
    assert result["msg"].startswith(
        f"rollback of Deployment {namespace}/web to revision 1 (now revision 3) did not complete: CrashLoopBackOff: web-"
    )
    assert [e["event"] for e in result["timeline"] if e["event"] != "replicas"] == ["applied", "failed"]


def test_without_wait(run_task, kubectl, apps_v1, namespace):
    same_history(kubectl, apps_v1, (namespace,))
    result = undo(run_task, namespace, to_revision=2, wait=False)
    assert_ok(result, True)
    assert result["revision"] == 4
    assert [e["event"] for e in result["timeline"]] == ["applied"]
    run(kubectl, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s")
    assert state(apps_v1, namespace)["template"]["spec"]["containers"][0]["image"] == f"{WEB}:2"


# --- StatefulSets and DaemonSets -------------------------------------------------------------


def workload(kind: str, name: str, image: str) -> dict:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "annotations": {"team": "data"}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
    if kind == "StatefulSet":
        body["spec"].update(replicas=3, serviceName=name)
    return body


def controller_revision_history(kubectl, apps_v1, kind: str, name: str, namespaces: tuple[str, ...]) -> None:
    """Revisions 1 (:1), 2 (:2, cause "two"), 3 (:3 with env, cause "three") in each namespace.

    StatefulSet and DaemonSet revisions copy the workload's annotations once, when they are made,
    so the change-cause is annotated before the template changes.
    """
    create = {
        "StatefulSet": apps_v1.create_namespaced_stateful_set,
        "DaemonSet": apps_v1.create_namespaced_daemon_set,
    }
    resource = f"{kind.lower()}/{name}"
    for ns in namespaces:
        create[kind](ns, workload(kind, name, f"registry.example/{name}:1"))
        run(kubectl, "-n", ns, "rollout", "status", resource, "--timeout=90s")
        for number, cause, env in ((2, "two", None), (3, "three", "fast")):
            run(kubectl, "-n", ns, "annotate", "--overwrite", resource, f"kubernetes.io/change-cause={cause}")
            container: dict[str, Any] = {"name": "app", "image": f"registry.example/{name}:{number}"}
            if env:
                container["env"] = [{"name": "MODE", "value": env}]
            patch = json.dumps({"spec": {"template": {"spec": {"containers": [container]}}}})
            run(kubectl, "-n", ns, "patch", resource, "-p", patch)
            run(kubectl, "-n", ns, "rollout", "status", resource, "--timeout=90s")


def workload_state(apps_v1: client.AppsV1Api, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """The workload's template and annotations, and each ControllerRevision's number, name, image, cause.

    The module's own openrollout.k8s/revision-history annotation on ControllerRevisions is left out:
    kubectl does not write it.
    """
    api = apps_v1.api_client
    read = {
        "StatefulSet": apps_v1.read_namespaced_stateful_set,
        "DaemonSet": apps_v1.read_namespaced_daemon_set,
    }
    live = api.sanitize_for_serialization(read[kind](name, namespace))
    revisions = apps_v1.list_namespaced_controller_revision(namespace, label_selector=f"app={name}").items
    return {
        "template": live["spec"]["template"],
        "annotations": live["metadata"].get("annotations"),
        "revisions": sorted(
            (
                cr.revision,
                cr.metadata.name,
                cr.data["spec"]["template"]["spec"]["containers"][0]["image"],
                (cr.metadata.annotations or {}).get("kubernetes.io/change-cause"),
            )
            for cr in revisions
        ),
    }


@pytest.mark.parametrize(("kind", "name"), [("StatefulSet", "db"), ("DaemonSet", "agent")])
def test_controller_revision_undo_matches_kubectl(run_task, kubectl, apps_v1, namespace, twin, kind, name):
    controller_revision_history(kubectl, apps_v1, kind, name, (namespace, twin))
    assert workload_state(apps_v1, kind, name, namespace) == workload_state(apps_v1, kind, name, twin)
    resource = f"{kind.lower()}/{name}"
    args = {"kind": kind, "name": name, "namespace": namespace, "to_revision": 1}
    version = workload_state(apps_v1, kind, name, namespace)

    check = run_task("rollout_undo", args, check=True, diff=True)
    assert_ok(check, True)
    assert (check["revision"], check["previous_revision"], check["rolled_back_to"]) == (4, 3, 1)
    assert (
        check["workload"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == f"registry.example/{name}:1"
    )
    assert check["diff"]["before"]["spec"]["template"] != check["diff"]["after"]["spec"]["template"]
    assert workload_state(apps_v1, kind, name, namespace) == version

    run(kubectl, "-n", twin, "rollout", "undo", resource, "--to-revision=1")
    run(kubectl, "-n", twin, "rollout", "status", resource, "--timeout=90s")
    real = run_task("rollout_undo", args)
    assert_ok(real, True)
    assert (real["revision"], real["previous_revision"], real["rolled_back_to"]) == (4, 3, 1)
    assert [e["event"] for e in real["timeline"] if e["event"] != "replicas"] == ["applied", "complete"]
    ours = workload_state(apps_v1, kind, name, namespace)
    assert ours == workload_state(apps_v1, kind, name, twin)
    assert [r[0] for r in ours["revisions"]] == [2, 3, 4]
    assert ours["template"]["spec"]["containers"][0]["image"] == f"registry.example/{name}:1"
    assert "env" not in ours["template"]["spec"]["containers"][0]
    status = kubectl("-n", namespace, "rollout", "status", resource, "--watch=false")
    assert status.returncode == 0, status.stderr

    # again: revision 1 is revision 4 now; the module follows its note on the ControllerRevision
    assert_ok(run_task("rollout_undo", args, check=True), False)
    again = run_task("rollout_undo", args)
    assert_ok(again, False)
    assert (again["revision"], again["rolled_back_to"]) == (4, 1)

    # the previous revision, both sides (second-highest: 3)
    run(kubectl, "-n", twin, "rollout", "undo", resource)
    run(kubectl, "-n", twin, "rollout", "status", resource, "--timeout=90s")
    previous = run_task("rollout_undo", {"kind": kind, "name": name, "namespace": namespace})
    assert_ok(previous, True)
    assert (previous["revision"], previous["previous_revision"], previous["rolled_back_to"]) == (5, 4, 3)
    ours = workload_state(apps_v1, kind, name, namespace)
    assert ours == workload_state(apps_v1, kind, name, twin)
    assert ours["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "fast"}]


def test_controller_revision_unknown_revision(run_task, kubectl, apps_v1, namespace):
    controller_revision_history(kubectl, apps_v1, "DaemonSet", "agent", (namespace,))
    result = run_task(
        "rollout_undo", {"kind": "DaemonSet", "name": "agent", "namespace": namespace, "to_revision": 9}
    )
    assert result["failed"] and not result["changed"]
    assert result["msg"] == "revision 9 not found for daemonset/agent; revisions available: 1, 2, 3"
    assert result["available_revisions"] == [1, 2, 3]


def test_daemonset_rollback_to_a_broken_revision_fails_fast(run_task, kubectl, apps_v1, namespace):
    broken = workload("DaemonSet", "agent", "registry.example/agent:1")
    broken["spec"]["template"]["metadata"]["labels"].update(NEVER_READY)
    apps_v1.create_namespaced_daemon_set(namespace, broken)
    fix = {
        "spec": {
            "template": {
                "metadata": {"labels": {"openrollout.test/never-ready": None}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/agent:2"}]},
            }
        }
    }
    apps_v1.patch_namespaced_daemon_set("agent", namespace, fix)
    run(kubectl, "-n", namespace, "rollout", "status", "daemonset/agent", "--timeout=90s")

    result = run_task("rollout_undo", {"kind": "DaemonSet", "name": "agent", "namespace": namespace})
    assert result["failed"] and result["changed"], result.get("msg")
    assert result["failure"]["reason"] == "CrashLoopBackOff"
    assert result["msg"].startswith(
        f"rollback of DaemonSet {namespace}/agent to revision 1 (now revision 3) did not complete: "
        "CrashLoopBackOff: agent-"
    )
    assert [e["event"] for e in result["timeline"] if e["event"] != "replicas"] == ["applied", "failed"]


# --- A StatefulSet stuck on a broken revision: Kubernetes' forced rollback ----------------------


def stuck_statefulset(run_task, core_v1: client.CoreV1Api, namespace: str) -> dict[str, str]:
    """db at revision 1 (3 Ready pods), then revision 2 crash-looping, left as it is: the
    OrderedReady controller replaced db-2 and waits for it for ever. Pod name -> uid."""
    body = workload("StatefulSet", "db", "registry.example/db:1")
    body["metadata"]["namespace"] = namespace
    assert_ok(run_task("rollout", {"definition": body}), True)
    body["spec"]["template"]["metadata"]["labels"].update(NEVER_READY)
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/db:2"
    failed = run_task("rollout", {"definition": body, "rollback_on_failure": False})
    assert failed["failed"] and not failed.get("rolled_back")
    assert failed["failure"]["reason"] == "CrashLoopBackOff"
    return db_pods(core_v1, namespace)


def db_pods(core_v1: client.CoreV1Api, namespace: str) -> dict[str, str]:
    pods = core_v1.list_namespaced_pod(namespace, label_selector="app=db").items
    return {p.metadata.name: p.metadata.uid for p in pods if not p.metadata.deletion_timestamp}


def db_at_revision_1(apps_v1: client.AppsV1Api, core_v1: client.CoreV1Api, kubectl, namespace: str) -> None:
    status = kubectl("-n", namespace, "rollout", "status", "statefulset/db", "--watch=false")
    assert status.returncode == 0, status.stderr
    live = apps_v1.read_namespaced_stateful_set("db", namespace)
    assert (live.status.ready_replicas, live.status.current_revision) == (3, live.status.update_revision)
    pods = core_v1.list_namespaced_pod(namespace, label_selector="app=db").items
    assert sorted((p.metadata.name, p.spec.containers[0].image) for p in pods) == [
        (f"db-{i}", "registry.example/db:1") for i in range(3)
    ]


def test_stuck_statefulset_undo_replaces_the_unready_pods(run_task, kubectl, apps_v1, core_v1, namespace):
    before = stuck_statefulset(run_task, core_v1, namespace)
    args = {"kind": "StatefulSet", "name": "db", "namespace": namespace, "to_revision": 1}

    check = run_task("rollout_undo", args, check=True)
    assert_ok(check, True)
    assert check["deleted_pods"] == ["db-2"]
    assert db_pods(core_v1, namespace) == before  # nothing deleted
    assert (
        "openrollout.test/never-ready"
        in apps_v1.read_namespaced_stateful_set("db", namespace).spec.template.metadata.labels
    )

    # replace_unready_pods is on by default; wait_timeout bounds the whole rollback.
    real = run_task("rollout_undo", dict(args, wait_timeout=120))
    assert_ok(real, True)
    assert (real["previous_revision"], real["rolled_back_to"], real["revision"]) == (2, 1, 3)
    assert real["deleted_pods"] == ["db-2"]
    assert [e["event"] for e in real["timeline"] if e["event"] != "replicas"] == [
        "applied",
        "unready_pods_deleted",
        "complete",
    ]
    db_at_revision_1(apps_v1, core_v1, kubectl, namespace)
    after = db_pods(core_v1, namespace)
    assert after["db-2"] != before["db-2"]
    assert {n: after[n] for n in ("db-0", "db-1")} == {n: before[n] for n in ("db-0", "db-1")}

    again_check = run_task("rollout_undo", args, check=True)
    assert_ok(again_check, False)
    assert again_check["deleted_pods"] == []
    again = run_task("rollout_undo", args)
    assert_ok(again, False)
    assert (again["revision"], again["deleted_pods"]) == (3, [])
    assert db_pods(core_v1, namespace) == after


def test_stuck_statefulset_undo_without_replacing_pods_names_the_option(
    run_task, kubectl, apps_v1, core_v1, namespace
):
    before = stuck_statefulset(run_task, core_v1, namespace)
    args = {"kind": "StatefulSet", "name": "db", "namespace": namespace, "to_revision": 1}

    # As kubectl rollout undo: the template comes back, db-2 blocks the controller.
    stuck = run_task("rollout_undo", dict(args, replace_unready_pods=False, timeout_seconds=10))
    assert stuck["failed"] and stuck["changed"]
    assert stuck["failure"]["reason"] == "Timeout"
    assert stuck["deleted_pods"] == []
    assert stuck["msg"].startswith(
        f"rollback of StatefulSet {namespace}/db to revision 1 (now revision 3) did not complete: "
        "Timeout: no progress for 10s (timeoutSeconds)"
    )
    assert stuck["msg"].endswith(
        ". Not Ready at another revision: db-2; the StatefulSet controller waits for them and does "
        "not replace them (Kubernetes' forced rollback): run again with replace_unready_pods: true "
        "to delete them, or delete them"
    )
    assert db_pods(core_v1, namespace) == before

    # Run again with the option (its alias here): the template is back already, so the pods
    # are the whole change.
    check = run_task("rollout_undo", dict(args, force_rollback=True), check=True)
    assert_ok(check, True)
    assert check["deleted_pods"] == ["db-2"]
    assert db_pods(core_v1, namespace) == before
    fixed = run_task("rollout_undo", dict(args, force_rollback=True, wait_timeout=120))
    assert_ok(fixed, True)
    assert (fixed["revision"], fixed["deleted_pods"]) == (3, ["db-2"])
    assert [e["event"] for e in fixed["timeline"] if e["event"] != "replicas"] == [
        "unchanged",
        "unready_pods_deleted",
        "complete",
    ]
    db_at_revision_1(apps_v1, core_v1, kubectl, namespace)
    assert_ok(run_task("rollout_undo", dict(args, force_rollback=True)), False)
