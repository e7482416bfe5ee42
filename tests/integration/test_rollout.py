"""openrollout.k8s.rollout on the local control plane, run by ansible-playbook as users run it.

Pattern of community.docker: check mode, real run, idempotent check mode, idempotent real run;
the check-mode result must announce what the real run does. KWOK's failure stages (see
hack/cluster/README.md) make pods that never become ready or never start.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.openrollout.k8s.plugins.module_utils._fenceposts import plan_rolling_steps

NEVER_READY = {"openrollout.test/never-ready": "true"}
STUCK_PENDING = {"openrollout.test/stuck-pending": "true"}


def deployment(
    namespace: str, image: str = "registry.example/web:v1", replicas: int = 4, **extra: Any
) -> dict:
    pod_labels = {"app": "web", **extra.pop("pod_labels", {})}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
    body["spec"].update(extra)
    return body


def images(apps_v1: client.AppsV1Api, namespace: str) -> list[str]:
    live = apps_v1.read_namespaced_deployment("web", namespace)
    return [c.image for c in live.spec.template.spec.containers]


def replica_sets(apps_v1: client.AppsV1Api, namespace: str) -> list[client.V1ReplicaSet]:
    return apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items


def assert_ok(result: dict, changed: bool) -> None:
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is changed


def four_runs(run_task, args: dict) -> tuple[dict, dict, dict, dict]:
    """check mode, real, idempotent check mode, idempotent real: community.docker's sequence."""
    return (
        run_task("rollout", args, check=True, diff=True),
        run_task("rollout", args, diff=True),
        run_task("rollout", args, check=True),
        run_task("rollout", args),
    )


def test_first_deployment_check_real_and_idempotent(run_task, namespace, apps_v1):
    args = {"definition": deployment(namespace, replicas=3), "change_cause": "first"}
    check, real, check_again, again = four_runs(run_task, args)

    assert_ok(check, True)
    assert check["deployment"]["spec"]["replicas"] == 3
    assert check["diff"]["before"] == {}
    assert (
        check["diff"]["after"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example/web:v1"
    )

    assert_ok(real, True)
    assert real["revision"] == check["revision"] == 1
    assert real["previous_revision"] is None
    assert real["steps"] == check["steps"] == [{"new": 0, "old": 0}, {"new": 3, "old": 0}]
    assert real["deployment"]["status"]["availableReplicas"] == 3
    assert real["timeline"][0]["event"] == "applied"
    assert real["timeline"][-1]["event"] == "complete"
    # The Deployment carries the strategy the module used (OpenShift's default).
    assert real["deployment"]["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }

    assert_ok(check_again, False)
    assert_ok(again, False)
    assert again["revision"] == 1
    assert len(replica_sets(apps_v1, namespace)) == 1


def test_check_mode_writes_nothing(run_task, namespace, apps_v1):
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    before = apps_v1.read_namespaced_deployment("web", namespace)
    result = run_task(
        "rollout",
        {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}, "replicas": 6},
        check=True,
    )
    assert_ok(result, True)
    assert result["revision"] == 2
    assert result["change"]["template"] and result["change"]["replicas"]
    assert (
        result["deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example/web:v2"
    )
    after = apps_v1.read_namespaced_deployment("web", namespace)
    assert after.metadata.resource_version == before.metadata.resource_version
    assert len(replica_sets(apps_v1, namespace)) == 1


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable"),
    [(1, 0), (0, 1), ("25%", "25%"), (2, 1), ("50%", "50%")],
)
def test_rolling_update(run_task, namespace, apps_v1, kubectl, max_surge, max_unavailable):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": strategy}), True)
    args = {
        "definition": deployment(namespace, "registry.example/web:v2"),
        "strategy": strategy,
        "change_cause": "v2",
    }
    check, real, check_again, again = four_runs(run_task, args)

    assert_ok(check, True)
    assert_ok(real, True)
    assert (check["revision"], real["revision"]) == (2, 2)
    assert real["previous_revision"] == 1
    expected_steps = [{"new": n, "old": o} for n, o in plan_rolling_steps(4, 4, max_surge, max_unavailable)]
    assert check["steps"] == real["steps"] == expected_steps
    assert check["diff"]["before"]["spec"]["template"] != check["diff"]["after"]["spec"]["template"]
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]
    status = real["deployment"]["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (4, 4, 4)
    # The user's strategy is what the Deployment keeps.
    assert real["deployment"]["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": max_surge,
        "maxUnavailable": max_unavailable,
    }
    events = [e["event"] for e in real["timeline"]]
    assert events[0] == "applied" and events[-1] == "complete"
    # Canary-first: no old pod went away before a new one was available.
    canary = real["timeline"][0]["canary"]
    assert canary == (max_surge != 0 and max_unavailable != 0)
    if canary:
        counts = [e for e in real["timeline"] if e["event"] == "replicas"]
        for entry in counts:
            if entry["old"]["replicas"] < 4:
                assert entry["new"]["available"] >= 1, real["timeline"]
        assert "canary_available" in events

    assert_ok(check_again, False)
    assert_ok(again, False)
    assert again["revision"] == 2
    assert len(replica_sets(apps_v1, namespace)) == 2
    rollout_status = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=10s")
    assert rollout_status.returncode == 0, rollout_status.stderr


def test_recreate_update(run_task, namespace, apps_v1):
    strategy = {"type": "Recreate", "recreateParams": {"timeoutSeconds": 60}}
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": strategy}), True)
    args = {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    check, real, check_again, again = four_runs(run_task, args)

    assert_ok(check, True)
    assert check["steps"] == [
        {"new": 0, "old": 4},
        {"new": 0, "old": 0},
        {"new": 1, "old": 0},
        {"new": 4, "old": 0},
    ]
    assert_ok(real, True)
    assert real["revision"] == 2
    assert [e["event"] for e in real["timeline"] if e["event"] != "replicas"] == [
        "applied",
        "old_scaled_down",
        "scaled",
        "new_validated",
        "scaled",
        "complete",
    ]
    # Never old and new pods at once; the new revision ran at 1 before it ran at 4.
    counts = [e for e in real["timeline"] if e["event"] == "replicas"]
    assert all(not (e["old"]["replicas"] and e["new"]["replicas"]) for e in counts), counts
    scaled = [e["replicas"] for e in real["timeline"] if e["event"] == "scaled"]
    assert scaled == [1, 4]
    assert real["deployment"]["spec"]["strategy"] == {"type": "Recreate"}
    assert real["deployment"]["status"]["availableReplicas"] == 4
    assert_ok(check_again, False)
    assert_ok(again, False)
    assert len(replica_sets(apps_v1, namespace)) == 2


def test_first_deployment_with_recreate_validates_one_pod_first(run_task, namespace):
    result = run_task("rollout", {"definition": deployment(namespace), "strategy": {"type": "Recreate"}})
    assert_ok(result, True)
    # Created at 0 (the mid hook's place), then 1 pod validated, then all of them.
    assert [e["replicas"] for e in result["timeline"] if e["event"] in ("applied", "scaled")] == [0, 1, 4]
    assert result["deployment"]["spec"]["replicas"] == 4
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace), "strategy": {"type": "Recreate"}}), False
    )


def test_replicas_only_is_a_scale_not_a_revision(run_task, namespace, apps_v1):
    assert_ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}), True)
    args = {"name": "web", "namespace": namespace, "replicas": 5}
    check, real, check_again, again = four_runs(run_task, args)
    assert_ok(check, True)
    assert check["steps"] == [{"new": 2, "old": 0}, {"new": 5, "old": 0}]
    assert_ok(real, True)
    assert real["change"] == {
        "created": False,
        "template": False,
        "replicas": True,
        "strategy": False,
        "metadata": False,
    }
    assert real["revision"] == real["previous_revision"] == 1
    assert real["deployment"]["status"]["availableReplicas"] == 5
    assert_ok(check_again, False)
    assert_ok(again, False)
    [rs] = replica_sets(apps_v1, namespace)
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"


def test_image_only_change_by_name(run_task, namespace, apps_v1, kubectl):
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "change_cause": "v1"}), True)
    args = {
        "name": "web",
        "namespace": namespace,
        "images": {"app": "registry.example/web:v2"},
        "change_cause": "bump to v2",
    }
    check, real, check_again, again = four_runs(run_task, args)
    assert_ok(check, True)
    assert_ok(real, True)
    assert real["revision"] == 2
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]
    assert_ok(check_again, False)
    assert_ok(again, False)
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace)
    assert history.returncode == 0, history.stderr
    rows = [line.split(None, 1) for line in history.stdout.splitlines()[2:] if line.strip()]
    assert rows == [["1", "v1"], ["2", "bump to v2"]]


def test_unknown_container_is_a_clear_error(run_task, namespace):
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    result = run_task("rollout", {"name": "web", "namespace": namespace, "images": {"nginx": "nginx:2"}})
    assert result["failed"]
    assert (
        result["msg"]
        == "images names container(s) nginx that the pod template does not have; containers: app"
    )


def test_never_ready_rollout_fails_with_crashloopbackoff_and_rolls_back(
    run_task, namespace, apps_v1, kubectl
):
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "change_cause": "good"}), True)
    broken = deployment(namespace, "registry.example/web:v2", pod_labels=NEVER_READY)
    result = run_task("rollout", {"definition": broken, "change_cause": "broken"})

    assert result["failed"] and result["changed"] and result["rolled_back"], result.get("msg")
    assert result["failure"]["reason"] == "CrashLoopBackOff"
    assert result["msg"].startswith(
        f"rollout of Deployment {namespace}/web to revision 2 failed: CrashLoopBackOff: web-"
    )
    assert "(container app)" in result["msg"]
    assert (
        "Rolled back to the template of revision 1 (app=registry.example/web:v1), now revision 3"
        in result["msg"]
    )
    assert result["failed_revision"] == 2 and result["revision"] == 3
    # Back on the previous template, at full capacity, with its change-cause.
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
    assert live.status.available_replicas == 4 and live.status.updated_replicas == 4
    assert live.metadata.annotations["kubernetes.io/change-cause"] == "good"
    events = [e["event"] for e in result["timeline"] if e["event"] != "replicas"]
    assert events == ["applied", "failed", "rollback_started", "rolled_back"]
    status = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=10s")
    assert status.returncode == 0, status.stderr


def test_failure_without_rollback_says_where_it_stopped(run_task, namespace, apps_v1):
    assert_ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}), True)
    broken = deployment(namespace, "registry.example/web:v2", replicas=2, pod_labels=NEVER_READY)
    result = run_task("rollout", {"definition": broken, "rollback_on_failure": False})
    assert result["failed"] and not result["rolled_back"]
    assert result["failure"]["reason"] == "CrashLoopBackOff"
    assert (
        f"Deployment {namespace}/web is at revision 2 (app=registry.example/web:v2) with 2/2 pods available, "
        "all of revision 1 (revision 2 has 0); rollback_on_failure is false, so it was left as it is"
    ) in result["msg"]
    assert "kubectl rollout undo (to revision 1)" in result["msg"]
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]


def test_timeout_seconds_is_honoured(run_task, namespace, apps_v1):
    strategy = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 3}}
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace, replicas=2), "strategy": strategy}), True
    )
    stuck = deployment(namespace, "registry.example/web:v2", replicas=2, pod_labels=STUCK_PENDING)
    started = time.monotonic()
    result = run_task("rollout", {"definition": stuck, "strategy": strategy})
    elapsed = time.monotonic() - started

    assert result["failed"] and result["rolled_back"]
    assert result["failure"]["reason"] == "Timeout"
    assert "no progress for 3s (timeoutSeconds)" in result["msg"]
    assert "pods not ready: web-" in result["msg"]
    assert elapsed < 60  # a bound, not a benchmark: far below the 600 s default
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
    assert apps_v1.read_namespaced_deployment("web", namespace).status.available_replicas == 2


def test_wait_timeout_fails_and_rolls_back(run_task, namespace, apps_v1):
    assert_ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}), True)
    slow = deployment(namespace, "registry.example/web:v2", replicas=2)
    slow["spec"]["template"]["metadata"]["annotations"] = {"openrollout.test/ready-after": "60s"}
    result = run_task("rollout", {"definition": slow, "wait_timeout": 3})
    assert result["failed"] and result["rolled_back"]
    assert result["failure"]["reason"] == "WaitTimeout"
    assert "wait_timeout (3s) reached" in result["msg"]
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]


def test_kubectl_rollout_undo_still_works_after_the_module(run_task, namespace, apps_v1, kubectl):
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    assert_ok(run_task("rollout", {"name": "web", "namespace": namespace, "images": {"app": "web:v2"}}), True)
    undo = kubectl("rollout", "undo", "deployment/web", "-n", namespace)
    assert undo.returncode == 0, undo.stderr
    status = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    assert status.returncode == 0, status.stderr
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]


def test_removed_fields_are_removed(run_task, namespace, apps_v1):
    with_env = deployment(namespace)
    with_env["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]
    assert_ok(run_task("rollout", {"definition": with_env}), True)
    fewer = copy.deepcopy(with_env)
    fewer["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    assert_ok(run_task("rollout", {"definition": fewer}), True)
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert [e.name for e in live.spec.template.spec.containers[0].env] == ["A"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"definition": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}},
            "definition has kind 'Service': this module rolls out kind Deployment, StatefulSet or DaemonSet "
            "(apiVersion apps/v1) or DeploymentConfig (apps.openshift.io/v1)",
        ),
        (
            {"definition": "kind: [unclosed"},
            "the definition is not valid YAML",
        ),
        (
            {
                "name": "web",
                "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": 0, "maxUnavailable": 0}},
            },
            "strategy.rollingParams: maxSurge and maxUnavailable cannot both be 0",
        ),
        (
            {
                "name": "web",
                "strategy": {"type": "Rolling", "rollingParams": {"pre": {"failurePolicy": "Abort"}}},
            },
            "strategy.rollingParams.pre",
        ),
        ({"name": "nothing-here", "replicas": 2}, "Deployment {namespace}/nothing-here not found"),
        ({"name": "web"}, "nothing to change: with name, give images, replicas, strategy or change_cause"),
    ],
)
def test_bad_input_is_a_clear_error(run_task, namespace, args, message):
    args = {**args, "namespace": namespace} if "definition" not in args else args
    result = run_task("rollout", args)
    assert result["failed"]
    assert message.format(namespace=namespace) in result["msg"]
    assert "Traceback" not in result.get("module_stderr", "") + result["msg"]


def test_rolling_with_no_surge_and_all_unavailable_warns_that_a_failure_leaves_no_pod(run_task, namespace):
    strategy = {"type": "Rolling", "rollingParams": {"maxSurge": 0, "maxUnavailable": "100%"}}
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": strategy}), True)
    args = {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    check, real, check_again, again = four_runs(run_task, args)
    warning = (
        "maxUnavailable 100% with maxSurge 0 lets all 4 old pods go before any new pod is available: "
        "if the new revision fails, no pod serves until the rollback is complete"
    )
    for result in (check, real):
        assert_ok(result, True)
        assert [w for w in result.get("warnings", []) if w.startswith(warning)], result.get("warnings")
    # The plan in check mode shows the moment with no pod at all.
    assert {"new": 0, "old": 0} in check["steps"]
    for result in (check_again, again):  # nothing to roll out: nothing to warn about
        assert_ok(result, False)
        assert not [w for w in result.get("warnings", []) if w.startswith("maxUnavailable")]
