"""Lifecycle hooks (pre / mid / post) of openrollout.k8s.rollout, on the local control plane.

Hook pods are Jobs' pods, finished by KWOK's pod-complete stage: the strategy's annotations
reach the hook pod, so `openrollout.test/exit-code` makes a hook fail with that code, and the
label `openrollout.test/logs` gives it a log served through the API server (hack/cluster/README.md).
"""

from __future__ import annotations

from typing import Any

from _ansible import start_task
from kubernetes import client
from test_rollout import assert_ok, deployment, images


def hook(command: str = "migrate", policy: str = "Abort", **extra: Any) -> dict:
    return {
        "failurePolicy": policy,
        "execNewPod": {"containerName": "app", "command": ["/bin/sh", "-c", command], **extra},
    }


def events(result: dict) -> list[str]:
    return [e["event"] for e in result["timeline"] if e["event"] != "replicas"]


def jobs(batch_v1: client.BatchV1Api, namespace: str) -> dict[str, client.V1Job]:
    return {j.metadata.name: j for j in batch_v1.list_namespaced_job(namespace).items}


def test_rolling_pre_and_post_hooks_run_once_in_order(run_task, namespace, apps_v1, batch_v1, core_v1):
    strategy = {
        "type": "Rolling",
        "rollingParams": {
            "maxSurge": 1,
            "maxUnavailable": 1,
            "pre": hook(env=[{"name": "STEP", "value": "pre"}]),
            "post": hook(),
        },
    }
    first = run_task("rollout", {"definition": deployment(namespace), "strategy": strategy})
    assert_ok(first, True)
    assert [h["phase"] for h in first["hooks"]] == ["pre", "post"]
    assert events(first)[:3] == ["hook_started", "hook_finished", "applied"]
    assert events(first)[-3:] == ["complete", "hook_started", "hook_finished"]
    # The pre hook ran before the Deployment existed; it is the Deployment's once it does, so it
    # goes with it (garbage collection) instead of staying until the next rollout.
    created = apps_v1.read_namespaced_deployment("web", namespace)
    owners = {
        n: [(r.kind, r.uid) for r in j.metadata.owner_references or []]
        for n, j in jobs(batch_v1, namespace).items()
    }
    assert owners == {
        n: [("Deployment", created.metadata.uid)] for n in ("web-1-hook-pre", "web-1-hook-post")
    }
    assert not [w for w in first.get("warnings", []) if "hook Job" in w]

    args = {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    check = run_task("rollout", args, check=True)
    assert_ok(check, True)
    assert check["hooks"] == [
        {"phase": "pre", "job": "web-2-hook-pre", "planned": True},
        {"phase": "post", "job": "web-2-hook-post", "planned": True},
    ]
    assert set(jobs(batch_v1, namespace)) == {"web-1-hook-pre", "web-1-hook-post"}

    real = run_task("rollout", args)
    assert_ok(real, True)
    assert [(h["phase"], h["job"], h["succeeded"], h["exit_code"], h["attempts"]) for h in real["hooks"]] == [
        ("pre", "web-2-hook-pre", True, 0, 1),
        ("post", "web-2-hook-post", True, 0, 1),
    ]
    order = events(real)
    assert (
        order.index("hook_finished")
        < order.index("applied")
        < order.index("complete")
        < order.index("hook_started", order.index("complete"))
    )
    # before-hook-creation: revision 1's hook Jobs are gone, revision 2's stay for kubectl logs.
    current = jobs(batch_v1, namespace)
    assert set(current) == {"web-2-hook-pre", "web-2-hook-post"}
    pre = current["web-2-hook-pre"]
    assert pre.metadata.labels["openrollout.k8s/hook"] == "pre"
    assert pre.metadata.owner_references[0].kind == "Deployment"
    container = pre.spec.template.spec.containers[0]
    assert container.image == "registry.example/web:v2"  # the NEW template's image
    assert container.command == ["/bin/sh", "-c", "migrate"]
    env = {e.name: e.value for e in container.env}
    assert env["STEP"] == "pre"
    assert env["OPENROLLOUT_DEPLOYMENT_NAME"] == "web"
    assert env["OPENROLLOUT_DEPLOYMENT_NAMESPACE"] == namespace
    assert env["OPENROLLOUT_DEPLOYMENT_REVISION"] == "2"
    assert env["OPENSHIFT_DEPLOYMENT_NAME"] == "web-2"
    assert "app" not in (pre.spec.template.metadata.labels or {})  # not a pod of the app

    again = run_task("rollout", args)
    assert_ok(again, False)
    assert again["hooks"] == []
    assert {n: j.metadata.uid for n, j in jobs(batch_v1, namespace).items()} == {
        n: j.metadata.uid for n, j in current.items()
    }


def test_recreate_mid_hook_runs_with_no_app_pod(run_task, namespace, apps_v1):
    strategy = {"type": "Recreate", "recreateParams": {"pre": hook(), "mid": hook(), "post": hook()}}
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": strategy}), True)
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    )
    assert_ok(result, True)
    assert [h["phase"] for h in result["hooks"]] == ["pre", "mid", "post"]
    timeline = list(result["timeline"])
    started = [e for e in timeline if e["event"] == "hook_started"]
    assert [e["phase"] for e in started] == ["pre", "mid", "post"]
    names = [e["event"] for e in timeline]
    mid_at = timeline.index(started[1])
    # mid: after the old pods are gone and before the new revision gets its first pod.
    assert names.index("old_scaled_down") < mid_at < names.index("new_validated")
    seen = [e for e in timeline[:mid_at] if e["event"] == "replicas"][-1]
    assert seen["old"]["replicas"] == seen["new"]["replicas"] == 0
    assert seen["old"]["ready"] == seen["new"]["ready"] == 0
    # pre ran while the old revision still served all its pods.
    pre_at = timeline.index(started[0])
    assert names.index("applied") > pre_at
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]


def test_failing_pre_hook_aborts_before_any_change(run_task, namespace, apps_v1):
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    strategy = {
        "type": "Rolling",
        "rollingParams": {"pre": hook()},
        "labels": {"openrollout.test/logs": "hook-fail"},
        "annotations": {"openrollout.test/exit-code": "3"},
    }
    before = apps_v1.read_namespaced_deployment("web", namespace)
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    )
    assert result["failed"]
    assert result["failure"]["reason"] == "HookFailed"
    assert result["msg"].startswith("pre hook web-2-hook-pre failed with exit code 3; last log lines: ")
    assert "migration 0042_create_users failed, exiting with code 3" in result["msg"]
    assert result["msg"].endswith(
        f"Only the pre hook's Job ran; the Deployment itself was not changed: Deployment {namespace}/web is at "
        "revision 1 (app=registry.example/web:v1) with 4/4 pods available"
    )
    [record] = result["hooks"]
    assert record["exit_code"] == 3 and not record["succeeded"]
    assert record["log_tail"][-1].endswith("migration 0042_create_users failed, exiting with code 3")
    after = apps_v1.read_namespaced_deployment("web", namespace)
    assert after.metadata.generation == before.metadata.generation
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]


def test_failing_mid_hook_rolls_back_to_the_previous_revision(run_task, namespace, apps_v1):
    strategy = {
        "type": "Recreate",
        "recreateParams": {"mid": hook()},
        "annotations": {"openrollout.test/exit-code": "4"},
    }
    plain = {"type": "Recreate"}
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": plain}), True)
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    )
    assert result["failed"] and result["rolled_back"]
    assert "mid hook web-2-hook-mid failed with exit code 4; no log available" in result["msg"]
    assert "Rolled back to the template of revision 1" in result["msg"]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
    assert live.status.available_replicas == 4


def test_ignore_policy_warns_and_goes_on(run_task, namespace, apps_v1):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"post": hook(policy="Ignore")},
        "annotations": {"openrollout.test/exit-code": "5"},
    }
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    )
    assert_ok(result, True)
    [record] = result["hooks"]
    assert (record["phase"], record["succeeded"], record["exit_code"]) == ("post", False, 5)
    assert any(
        "post hook web-2-hook-post failed with exit code 5" in w and "failurePolicy Ignore" in w
        for w in result["warnings"]
    )
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]


def test_retry_policy_retries_until_its_deadline(run_task, namespace, apps_v1):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"timeoutSeconds": 2, "pre": hook(policy="Retry")},
        "activeDeadlineSeconds": 6,
        "annotations": {"openrollout.test/exit-code": "1"},
    }
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    )
    assert result["failed"]
    [record] = result["hooks"]
    assert record["attempts"] >= 2
    assert f"failurePolicy Retry ran out of time after {record['attempts']} attempts" in result["msg"]
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]


def test_hook_naming_an_unknown_container_is_refused(run_task, namespace):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"pre": {"execNewPod": {"containerName": "nope", "command": ["x"]}}},
    }
    result = run_task("rollout", {"definition": deployment(namespace), "strategy": strategy})
    assert result["failed"]
    assert (
        result["msg"] == "pre hook: container 'nope' is not a container of the pod template; containers: app"
    )


def test_stop_before_mid_lets_ansible_act_with_no_app_pod_then_goes_on(run_task, namespace, apps_v1, core_v1):
    strategy = {"type": "Recreate", "recreateParams": {"pre": hook(), "post": hook()}}
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": strategy}), True)
    args = {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}

    stopped = run_task("rollout", {**args, "stop_before": "mid"})
    assert_ok(stopped, True)
    assert stopped["stopped_before"] == "mid"
    assert [h["phase"] for h in stopped["hooks"]] == ["pre"]
    assert events(stopped)[-2:] == ["old_scaled_down", "stopped"]
    # What Ansible tasks see at the mid seam: the new template, no pod of the app at all.
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]
    assert live.spec.replicas == 0
    app_pods = [
        p
        for p in core_v1.list_namespaced_pod(namespace, label_selector="app=web").items
        if not p.metadata.deletion_timestamp
    ]
    assert app_pods == []
    assert '"next": "mid"' in live.metadata.annotations["openrollout.k8s/rollout"]

    same = run_task("rollout", {**args, "stop_before": "mid"})
    assert_ok(same, False)
    assert same["stopped_before"] == "mid"

    resumed = run_task("rollout", args)
    assert_ok(resumed, True)
    assert resumed["resumed_from"] == "mid"
    assert [h["phase"] for h in resumed["hooks"]] == ["post"]  # pre is not run again
    assert resumed["revision"] == stopped["revision"] == 2
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.replicas == 4 and live.status.available_replicas == 4
    assert "openrollout.k8s/rollout" not in (live.metadata.annotations or {})

    again = run_task("rollout", args)
    assert_ok(again, False)
    assert again["hooks"] == [] and again["resumed_from"] is None


def test_stop_before_post_then_the_post_hook_runs_once(run_task, namespace):
    strategy = {"type": "Rolling", "rollingParams": {"pre": hook(), "post": hook()}}
    assert_ok(run_task("rollout", {"definition": deployment(namespace), "strategy": strategy}), True)
    args = {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": strategy}
    stopped = run_task("rollout", {**args, "stop_before": "post"})
    assert_ok(stopped, True)
    assert (stopped["stopped_before"], [h["phase"] for h in stopped["hooks"]]) == ("post", ["pre"])
    assert stopped["deployment"]["status"]["updatedReplicas"] == 4
    resumed = run_task("rollout", args)
    assert_ok(resumed, True)
    assert (resumed["resumed_from"], [h["phase"] for h in resumed["hooks"]]) == ("post", ["post"])
    assert_ok(run_task("rollout", args), False)


def test_stop_before_mid_needs_recreate(run_task, namespace):
    result = run_task("rollout", {"definition": deployment(namespace), "stop_before": "mid"})
    assert result["failed"]
    assert (
        result["msg"]
        == "stop_before: mid needs the Recreate strategy (a Rolling update has no moment without pods)"
    )


def test_rollback_hook_runs_when_a_failed_rollout_is_rolled_back(run_task, namespace, apps_v1):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"pre": hook("migrate up"), "rollback": hook("migrate down")},
    }
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    broken = deployment(
        namespace, "registry.example/web:v2", pod_labels={"openrollout.test/never-ready": "true"}
    )
    result = run_task("rollout", {"definition": broken, "strategy": strategy})
    assert result["failed"] and result["rolled_back"]
    assert [(h["phase"], h["job"], h["succeeded"]) for h in result["hooks"]] == [
        ("pre", "web-2-hook-pre", True),
        ("rollback", "web-2-hook-rollback", True),
    ]
    order = events(result)
    assert (
        order.index("failed")
        < order.index("hook_started", order.index("failed"))
        < order.index("rollback_started")
    )
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
    assert "rollback hook failed" not in result["msg"]


def test_resume_after_mid_in_name_mode_keeps_the_replica_count(run_task, namespace, apps_v1):
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace), "strategy": {"type": "Recreate"}}), True
    )
    args = {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}}
    stopped = run_task("rollout", {**args, "stop_before": "mid"})
    assert_ok(stopped, True)
    assert apps_v1.read_namespaced_deployment("web", namespace).spec.replicas == 0
    resumed = run_task("rollout", args)
    assert_ok(resumed, True)
    assert resumed["resumed_from"] == "mid"
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.replicas == 4 and live.status.available_replicas == 4


def test_hooks_of_a_deployment_whose_name_is_longer_than_a_label_value(run_task, namespace, batch_v1):
    # Deployment names go to 253 characters, label values to 63: the hook Job's labels must fit.
    name = "web-" + "a" * 70
    strategy = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 1, "pre": hook()}}
    for image, revision in (("registry.example/web:v1", 1), ("registry.example/web:v2", 2)):
        body = deployment(namespace, image, replicas=2)
        body["metadata"]["name"] = name
        result = run_task("rollout", {"definition": body, "strategy": strategy})
        assert_ok(result, True)
        assert [(h["phase"], h["succeeded"]) for h in result["hooks"]] == [("pre", True)]
        assert result["revision"] == revision
    # before-hook-creation found revision 1's Job by its label and deleted it.
    remaining = list(jobs(batch_v1, namespace).values())
    assert len(remaining) == 1
    label = remaining[0].metadata.labels["openrollout.k8s/deployment"]
    assert len(label) == 63 and label.startswith("web-aaa")
    assert remaining[0].metadata.labels["openrollout.k8s/revision"] == "2"


def test_two_long_deployment_names_with_one_start_have_hook_jobs_of_their_own(run_task, namespace, batch_v1):
    # Cut to fit 63 characters, both names would give the same Job name: the second Deployment's
    # pre hook would replace (delete) the first one's Job.
    strategy = {"type": "Rolling", "rollingParams": {"pre": hook()}}
    for app in ("one", "two"):
        body = deployment(namespace, replicas=1, selector={"matchLabels": {"app": app}})
        body["metadata"]["name"] = "payments-reconciliation-worker-eu-west-1-primary-queue-" + app
        body["spec"]["template"]["metadata"]["labels"] = {"app": app}
        result = run_task("rollout", {"definition": body, "strategy": strategy})
        assert_ok(result, True)
        assert [(h["phase"], h["succeeded"], h["skipped"]) for h in result["hooks"]] == [("pre", True, False)]
    made = {
        job.metadata.labels["openrollout.k8s/deployment"]: name
        for name, job in jobs(batch_v1, namespace).items()
    }
    assert sorted(made) == [
        "payments-reconciliation-worker-eu-west-1-primary-queue-one",
        "payments-reconciliation-worker-eu-west-1-primary-queue-two",
    ]
    assert len(set(made.values())) == 2 and all(len(name) <= 63 for name in made.values())


def test_a_failing_pre_hook_of_a_first_rollout_creates_nothing_and_says_so(run_task, namespace, apps_v1):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"pre": hook()},
        "annotations": {"openrollout.test/exit-code": "3"},
    }
    result = run_task("rollout", {"definition": deployment(namespace), "strategy": strategy})
    assert result["failed"]
    assert result["msg"].startswith("pre hook web-1-hook-pre failed with exit code 3")
    assert result["msg"].endswith(f"Only the pre hook's Job ran; Deployment {namespace}/web was not created")
    assert apps_v1.list_namespaced_deployment(namespace).items == []


def test_a_deployment_created_by_another_writer_during_the_first_pre_hook_is_left_alone(
    cluster, namespace, apps_v1, batch_v1, tmp_path, wait_for
):
    # Server-side apply cannot guard a create with a resourceVersion: the run checks that the
    # Deployment it found missing is still missing when it writes, and stops otherwise.
    strategy = {
        "type": "Rolling",
        "rollingParams": {"pre": hook()},
        "annotations": {"openrollout.test/run-for": "6s"},
    }
    task = start_task(
        "rollout", {"definition": deployment(namespace), "strategy": strategy}, cluster.kubeconfig, tmp_path
    )
    wait_for(
        lambda job: job.metadata.name == "web-1-hook-pre",
        batch_v1.list_namespaced_job,
        60,
        namespace=namespace,
    )
    apps_v1.create_namespaced_deployment(
        namespace, deployment(namespace, "registry.example/web:other", replicas=2)
    )
    result = task.result()
    assert result["failed"]
    assert result["failure"]["reason"] == "Superseded"
    assert "was changed by another writer while this run prepared its rollout" in result["msg"]
    assert "nothing was rolled back" in result["msg"]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert (live.spec.template.spec.containers[0].image, live.spec.replicas) == (
        "registry.example/web:other",
        2,
    )
    assert "openrollout.k8s/rollout" not in (live.metadata.annotations or {})
