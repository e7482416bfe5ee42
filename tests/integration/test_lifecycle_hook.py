"""openrollout.k8s.lifecycle_hook: one hook for an existing Deployment, on the local control plane.

As in test_hooks.py, hook pods are Jobs' pods finished by KWOK's pod-complete stage: the
`openrollout.test/exit-code` annotation makes the hook exit with that code, and the label
`openrollout.test/logs` gives it a log served through the API server (hack/cluster/README.md).
The sequence is community.docker's: check mode, real run, idempotent check mode, idempotent real run.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from test_hooks import hook, jobs
from test_rollout import assert_ok, deployment

HOOK_OK_LOG = [
    "connecting to database postgres://db:5432/app",
    "running migration 0041_add_orders_index",
    "running migration 0042_create_users",
    "migrations complete: 2 applied, 0 pending",
]


def web(run_task, namespace: str, image: str = "registry.example/web:v1", **args: Any) -> dict:
    """The Deployment `web` (1 replica), rolled out by the rollout module: revision 1, complete."""
    result = run_task("rollout", {"definition": deployment(namespace, image, replicas=1), **args})
    assert_ok(result, True)
    return result


def events(result: dict) -> list[str]:
    return [e["event"] for e in result["timeline"]]


def uids(batch_v1: client.BatchV1Api, namespace: str) -> dict[str, str]:
    return {name: job.metadata.uid for name, job in jobs(batch_v1, namespace).items()}


def test_check_real_idempotent_then_force(run_task, namespace, batch_v1):
    web(run_task, namespace)
    args = {
        "name": "web",
        "namespace": namespace,
        "hook": hook(env=[{"name": "STEP", "value": "by hand"}]),
        "labels": {"openrollout.test/logs": "hook-ok", "team": "shop"},
    }

    check = run_task("lifecycle_hook", args, check=True)
    assert_ok(check, True)
    assert check["hook"] == {
        "phase": "manual",
        "job": "web-1-hook-manual",
        "failure_policy": "Abort",
        "planned": True,
    }
    assert check["definition"]["metadata"]["name"] == "web-1-hook-manual"
    assert check["timeline"] == []
    assert jobs(batch_v1, namespace) == {}  # check mode creates nothing

    real = run_task("lifecycle_hook", args)
    assert_ok(real, True)
    record = real["hook"]
    assert (record["job"], record["phase"], record["succeeded"], record["skipped"]) == (
        "web-1-hook-manual",
        "manual",
        True,
        False,
    )
    assert (record["exit_code"], record["attempts"], record["reason"]) == (0, 1, "Completed")
    assert record["log_tail"] == HOOK_OK_LOG
    assert real["revision"] == 1
    assert events(real) == ["hook_started", "hook_finished"]
    # What check mode announced is what was created.
    assert real["definition"] == check["definition"]
    job = jobs(batch_v1, namespace)["web-1-hook-manual"]
    assert job.metadata.labels["openrollout.k8s/hook"] == "manual"
    assert job.metadata.labels["openrollout.k8s/revision"] == "1"
    assert job.metadata.labels["team"] == "shop"
    assert job.metadata.owner_references[0].kind == "Deployment"
    container = job.spec.template.spec.containers[0]
    assert container.image == "registry.example/web:v1"
    assert container.command == ["/bin/sh", "-c", "migrate"]
    env = {e.name: e.value for e in container.env}
    assert env["STEP"] == "by hand"
    assert env["OPENROLLOUT_DEPLOYMENT_REVISION"] == "1"
    assert env["OPENSHIFT_DEPLOYMENT_NAME"] == "web-1"
    assert "app" not in (job.spec.template.metadata.labels or {})  # not a pod of the app
    created = uids(batch_v1, namespace)

    check_again = run_task("lifecycle_hook", args, check=True)
    again = run_task("lifecycle_hook", args)
    assert_ok(check_again, False)
    assert_ok(again, False)
    assert again["hook"]["skipped"] and again["hook"]["succeeded"]
    assert again["hook"]["reason"] == "AlreadySucceeded"
    assert check_again["hook"] == again["hook"]
    assert events(again) == ["hook_skipped"]
    assert uids(batch_v1, namespace) == created

    forced_check = run_task("lifecycle_hook", {**args, "force": True}, check=True)
    assert_ok(forced_check, True)
    assert forced_check["hook"]["planned"]
    assert uids(batch_v1, namespace) == created

    forced = run_task("lifecycle_hook", {**args, "force": True})
    assert_ok(forced, True)
    assert not forced["hook"]["skipped"] and forced["hook"]["succeeded"]
    assert forced["hook"]["attempts"] == 1
    assert events(forced) == ["hook_job_deleted", "hook_started", "hook_finished"]
    rerun = uids(batch_v1, namespace)
    assert set(rerun) == {"web-1-hook-manual"}
    assert rerun["web-1-hook-manual"] != created["web-1-hook-manual"]


def test_hook_pod_is_built_from_the_current_template(run_task, namespace, batch_v1):
    web(run_task, namespace)
    web(run_task, namespace, "registry.example/web:v2")
    result = run_task(
        "lifecycle_hook", {"name": "web", "namespace": namespace, "hook": hook(), "phase": "seed"}
    )
    assert_ok(result, True)
    assert result["hook"]["job"] == "web-2-hook-seed"
    job = jobs(batch_v1, namespace)["web-2-hook-seed"]
    assert job.spec.template.spec.containers[0].image == "registry.example/web:v2"

    # Another revision names the Job; the pod still comes from the current template, with a warning.
    older = run_task(
        "lifecycle_hook",
        {"name": "web", "namespace": namespace, "hook": hook(), "phase": "seed", "revision": 1},
    )
    assert_ok(older, True)
    assert older["hook"]["job"] == "web-1-hook-seed"
    assert any("built from the current pod template (revision 2)" in w for w in older["warnings"])
    # before-hook-creation: the phase's earlier Job (revision 2's) is gone.
    assert set(jobs(batch_v1, namespace)) == {"web-1-hook-seed"}


def test_failing_hook_reports_exit_code_and_log(run_task, namespace, batch_v1):
    web(run_task, namespace)
    args = {
        "name": "web",
        "namespace": namespace,
        "hook": hook(),
        "labels": {"openrollout.test/logs": "hook-fail"},
        "annotations": {"openrollout.test/exit-code": "3"},
    }
    result = run_task("lifecycle_hook", args)
    assert result["failed"] and result["changed"], result.get("msg")
    assert result["msg"].startswith("manual hook web-1-hook-manual failed with exit code 3; last log lines: ")
    assert result["msg"].endswith("migration 0042_create_users failed, exiting with code 3")
    assert "Traceback" not in result["_stdout"]
    record = result["hook"]
    assert (record["succeeded"], record["exit_code"], record["attempts"]) == (False, 3, 1)
    assert record["log_tail"][-1].endswith("migration 0042_create_users failed, exiting with code 3")
    # The failed Job stays for kubectl logs, and a failed Job does not count: the next run runs it again.
    assert set(jobs(batch_v1, namespace)) == {"web-1-hook-manual"}
    again = run_task("lifecycle_hook", args)
    assert again["failed"] and again["hook"]["attempts"] == 1 and not again["hook"]["skipped"]


def test_ignore_policy_warns_and_succeeds(run_task, namespace):
    web(run_task, namespace)
    result = run_task(
        "lifecycle_hook",
        {
            "name": "web",
            "namespace": namespace,
            "hook": hook(policy="Ignore"),
            "annotations": {"openrollout.test/exit-code": "5"},
        },
    )
    assert_ok(result, True)
    assert (result["hook"]["succeeded"], result["hook"]["exit_code"]) == (False, 5)
    assert result["warnings"] == [
        "manual hook web-1-hook-manual failed with exit code 5; no log available "
        "(failurePolicy Ignore: the task succeeds)"
    ]


def test_timeout_stops_the_hook(run_task, namespace, batch_v1):
    web(run_task, namespace)
    result = run_task(
        "lifecycle_hook",
        {
            "name": "web",
            "namespace": namespace,
            "hook": hook(),
            "annotations": {"openrollout.test/run-for": "60s"},
            "timeout": 2,
        },
    )
    assert result["failed"]
    assert result["hook"]["reason"] == "WaitTimeout"
    assert result["msg"].startswith("manual hook web-1-hook-manual failed: WaitTimeout")
    assert jobs(batch_v1, namespace) == {}  # never left running


def test_mid_hook_run_by_hand_is_not_run_again_by_the_rollout(run_task, namespace, batch_v1):
    strategy = {"type": "Recreate", "recreateParams": {"mid": hook()}}
    web(run_task, namespace, strategy={"type": "Recreate"})
    v2 = {"definition": deployment(namespace, "registry.example/web:v2", replicas=1), "strategy": strategy}
    stopped = run_task("rollout", {**v2, "stop_before": "mid"})
    assert_ok(stopped, True)

    by_hand = run_task(
        "lifecycle_hook", {"name": "web", "namespace": namespace, "phase": "mid", "hook": hook()}
    )
    assert_ok(by_hand, True)
    assert by_hand["hook"]["job"] == "web-2-hook-mid"
    assert jobs(batch_v1, namespace)["web-2-hook-mid"].spec.template.spec.containers[0].image == (
        "registry.example/web:v2"
    )
    created = uids(batch_v1, namespace)

    resumed = run_task("rollout", v2)
    assert_ok(resumed, True)
    [mid] = resumed["hooks"]
    assert (mid["job"], mid["skipped"]) == ("web-2-hook-mid", True)
    assert uids(batch_v1, namespace) == created


def test_unknown_container_is_refused(run_task, namespace, batch_v1):
    web(run_task, namespace)
    result = run_task(
        "lifecycle_hook",
        {
            "name": "web",
            "namespace": namespace,
            "hook": {"execNewPod": {"containerName": "nope", "command": ["x"]}},
        },
    )
    assert result["failed"] and not result["changed"]
    assert result["msg"] == "hook: container 'nope' is not a container of the pod template; containers: app"
    assert jobs(batch_v1, namespace) == {}


def test_bad_input_is_refused_with_the_option_named(run_task, namespace):
    web(run_task, namespace)
    base = {"name": "web", "namespace": namespace, "hook": hook()}
    cases = [
        ({**base, "name": "nothere"}, f"Deployment {namespace}/nothere not found"),
        (
            {**base, "hook": {"execNewPod": {"containerName": "app"}}},
            "hook.execNewPod.command is required: the command the hook pod runs, like "
            "['/bin/sh', '-c', 'make migrate']",
        ),
        ({**base, "phase": "Pre_Deploy"}, "phase 'Pre_Deploy' is not a valid phase name"),
        ({**base, "labels": {"tier": 1}}, "labels.tier must be a string, got 1 (quote it in YAML)"),
    ]
    for args, message in cases:
        result = run_task("lifecycle_hook", args)
        assert result["failed"], args
        assert result["msg"].startswith(message), result["msg"]
