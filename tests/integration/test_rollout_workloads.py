"""openrollout.k8s.rollout for StatefulSets and DaemonSets, on the local control plane.

Every verb the community.docker way where it applies: check mode (nothing written), real run
(changed), the same task again (not changed, no new ControllerRevision). The StatefulSet and
DaemonSet controllers are the real ones; KWOK plays the kubelet, and its failure labels make pods
crash-loop or fail to pull (hack/cluster/README.md).
"""

from __future__ import annotations

from typing import Any

from _ansible import start_task
from kubernetes import client

NEVER_READY = {"openrollout.test/never-ready": "true"}
IMAGE_PULL_BACKOFF = {"openrollout.test/image-pull-backoff": "true"}


def statefulset(
    namespace: str,
    image: str,
    replicas: int = 3,
    partition: int | None = None,
    labels: dict | None = None,
    update_strategy: dict | None = None,
) -> dict:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db", **(labels or {})}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if update_strategy is not None:
        spec["updateStrategy"] = update_strategy
    if partition is not None:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": namespace},
        "spec": spec,
    }


def daemonset(namespace: str, image: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def assert_ok(result: dict, changed: bool) -> None:
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is changed


def events(result: dict) -> list[str]:
    return [e["event"] for e in result["timeline"] if e["event"] != "replicas"]


def revisions(apps_v1: client.AppsV1Api, namespace: str, app: str) -> dict[int, str]:
    """ControllerRevision number -> the image its template stores."""
    listed = apps_v1.list_namespaced_controller_revision(namespace, label_selector=f"app={app}").items
    return {cr.revision: cr.data["spec"]["template"]["spec"]["containers"][0]["image"] for cr in listed}


def pod_images(core_v1: client.CoreV1Api, namespace: str, app: str) -> dict[str, str]:
    pods = core_v1.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return {p.metadata.name: p.spec.containers[0].image for p in pods if not p.metadata.deletion_timestamp}


def sts_template_image(apps_v1: client.AppsV1Api, namespace: str) -> str:
    return apps_v1.read_namespaced_stateful_set("db", namespace).spec.template.spec.containers[0].image


def hook(command: str) -> dict:
    return {
        "failurePolicy": "Abort",
        "execNewPod": {"containerName": "app", "command": ["/bin/sh", "-c", command]},
    }


def test_statefulset_partition_staged_in_two_tasks(run_task, namespace, apps_v1, core_v1, kubectl):
    check_create = run_task("rollout", {"definition": statefulset(namespace, "db:1")}, check=True)
    assert_ok(check_create, True)
    assert check_create["revision"] == 1
    assert apps_v1.list_namespaced_stateful_set(namespace).items == []

    first = run_task("rollout", {"definition": statefulset(namespace, "db:1")})
    assert_ok(first, True)
    assert (first["kind"], first["revision"], first["staged"]) == ("StatefulSet", 1, False)
    assert events(first) == ["applied", "complete"]

    # Stage 1: the new template reaches only the ordinals >= 2.
    staged = {"definition": statefulset(namespace, "db:2"), "partition": 2, "change_cause": "db 2"}
    check = run_task("rollout", staged, check=True, diff=True)
    assert_ok(check, True)
    assert (check["revision"], check["previous_revision"]) == (2, 1)
    assert check["steps"] == [{"pod": "db-2", "ordinal": 2}]
    assert check["diff"]["after"]["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 2
    assert revisions(apps_v1, namespace, "db") == {1: "db:1"}, "check mode wrote nothing"
    assert sts_template_image(apps_v1, namespace) == "db:1"

    real = run_task("rollout", staged)
    assert_ok(real, True)
    assert (real["revision"], real["previous_revision"], real["staged"]) == (2, 1, True)
    assert events(real) == ["applied", "complete", "staged"]
    assert real["update_strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    assert pod_images(core_v1, namespace, "db") == {"db-0": "db:1", "db-1": "db:1", "db-2": "db:2"}
    assert revisions(apps_v1, namespace, "db") == {1: "db:1", 2: "db:2"}
    status = kubectl("-n", namespace, "rollout", "status", "statefulset/db", "--watch=false")
    assert status.returncode == 0 and "partitioned roll out complete" in status.stdout, status.stderr

    assert_ok(run_task("rollout", staged, check=True), False)
    again = run_task("rollout", staged)
    assert_ok(again, False)
    assert (again["revision"], again["staged"], again["timeline"]) == (2, True, [])

    # Stage 2: a later task lowers the partition; no new revision.
    rest = dict(staged, partition=0)
    check = run_task("rollout", rest, check=True)
    assert_ok(check, True)
    assert check["change"]["template"] is False and check["change"]["strategy"] is True
    done = run_task("rollout", rest)
    assert_ok(done, True)
    assert (done["revision"], done["staged"]) == (2, False)
    assert pod_images(core_v1, namespace, "db") == {"db-0": "db:2", "db-1": "db:2", "db-2": "db:2"}
    assert revisions(apps_v1, namespace, "db") == {1: "db:1", 2: "db:2"}
    history = kubectl("-n", namespace, "rollout", "history", "statefulset/db")
    assert history.returncode == 0, history.stderr
    assert [line.split(None, 1) for line in history.stdout.splitlines()[2:] if line.strip()] == [
        ["1", "<none>"],
        ["2", "db 2"],
    ]
    assert_ok(run_task("rollout", rest, check=True), False)
    assert_ok(run_task("rollout", rest), False)


def test_statefulset_pre_and_post_hooks(run_task, namespace, apps_v1, batch_v1):
    strategy = {"rollingParams": {"timeoutSeconds": 120, "pre": hook("migrate"), "post": hook("smoke")}}
    first = run_task("rollout", {"definition": statefulset(namespace, "db:1"), "strategy": strategy})
    assert_ok(first, True)
    assert [(h["phase"], h["job"], h["succeeded"]) for h in first["hooks"]] == [
        ("pre", "db-1-sts-hook-pre", True),
        ("post", "db-1-sts-hook-post", True),
    ]

    # A staged rollout: pre before the write; post waits for the task that finishes it.
    args = {
        "kind": "StatefulSet",
        "name": "db",
        "namespace": namespace,
        "images": {"app": "db:2"},
        "partition": 1,
    }
    check = run_task("rollout", dict(args, strategy=strategy), check=True)
    assert check["hooks"] == [{"phase": "pre", "job": "db-2-sts-hook-pre", "planned": True}]
    staged = run_task("rollout", dict(args, strategy=strategy))
    assert_ok(staged, True)
    assert staged["staged"] is True
    assert [h["job"] for h in staged["hooks"]] == ["db-2-sts-hook-pre"]
    order = events(staged)
    assert order.index("hook_finished") < order.index("applied") < order.index("complete")
    pre = {j.metadata.name: j for j in batch_v1.list_namespaced_job(namespace).items}["db-2-sts-hook-pre"]
    assert pre.spec.template.spec.containers[0].image == "db:2"
    assert (pre.metadata.owner_references[0].kind, pre.metadata.owner_references[0].name) == (
        "StatefulSet",
        "db",
    )

    finish = dict(args, partition=0, strategy=strategy)
    check = run_task("rollout", finish, check=True)
    assert check["hooks"] == [{"phase": "post", "job": "db-2-sts-hook-post", "planned": True}]
    done = run_task("rollout", finish)
    assert_ok(done, True)
    assert (done["revision"], done["staged"]) == (2, False)
    assert [(h["phase"], h["job"], h["succeeded"]) for h in done["hooks"]] == [
        ("post", "db-2-sts-hook-post", True)
    ]
    assert events(done)[-3:] == ["complete", "hook_started", "hook_finished"]

    again = run_task("rollout", finish)
    assert_ok(again, False)
    assert again["hooks"] == []
    assert {j.metadata.name for j in batch_v1.list_namespaced_job(namespace).items} == {
        "db-2-sts-hook-pre",
        "db-2-sts-hook-post",
    }


def test_a_deployment_and_a_statefulset_of_one_name_keep_their_hook_jobs(run_task, namespace, batch_v1):
    hooks = {"timeoutSeconds": 120, "pre": hook("migrate"), "post": hook("smoke")}

    def web(image: str) -> dict:  # a Deployment named db, with pods of its own
        body = statefulset(namespace, image)
        body["kind"] = "Deployment"
        del body["spec"]["serviceName"]
        body["spec"]["selector"] = {"matchLabels": {"app": "db-web"}}
        body["spec"]["template"]["metadata"]["labels"] = {"app": "db-web"}
        return body

    def jobs() -> dict[str, tuple[str | None, str | None, str]]:
        """Job name -> its owner's kind, its openrollout.k8s/kind label, its uid."""
        return {
            j.metadata.name: (
                j.metadata.owner_references[0].kind if j.metadata.owner_references else None,
                (j.metadata.labels or {}).get("openrollout.k8s/kind"),
                j.metadata.uid,
            )
            for j in batch_v1.list_namespaced_job(namespace).items
        }

    deployment_run = {"definition": web("web:1"), "strategy": {"type": "Rolling", "rollingParams": hooks}}
    assert_ok(run_task("rollout", deployment_run), True)
    sts = run_task(
        "rollout", {"definition": statefulset(namespace, "db:1"), "strategy": {"rollingParams": hooks}}
    )
    assert_ok(sts, True)
    assert [(h["job"], h["succeeded"], h["skipped"]) for h in sts["hooks"]] == [
        ("db-1-sts-hook-pre", True, False),
        ("db-1-sts-hook-post", True, False),
    ]
    first = jobs()
    # The Deployment's Jobs keep their names (and were neither reused nor deleted by the
    # StatefulSet's). A pre hook on creation runs before its workload exists: owned once it does.
    assert {name: job[:2] for name, job in first.items()} == {
        "db-1-hook-pre": ("Deployment", None),
        "db-1-hook-post": ("Deployment", None),
        "db-1-sts-hook-pre": ("StatefulSet", "StatefulSet"),
        "db-1-sts-hook-post": ("StatefulSet", "StatefulSet"),
    }

    # Revision 2 of the Deployment: before-hook-creation deletes its own revision 1 Jobs only.
    again = run_task("rollout", dict(deployment_run, definition=web("web:2")))
    assert_ok(again, True)
    assert [h["job"] for h in again["hooks"]] == ["db-2-hook-pre", "db-2-hook-post"]
    second = jobs()
    assert set(second) == {"db-2-hook-pre", "db-2-hook-post", "db-1-sts-hook-pre", "db-1-sts-hook-post"}
    assert second["db-1-sts-hook-pre"] == first["db-1-sts-hook-pre"]
    assert second["db-1-sts-hook-post"] == first["db-1-sts-hook-post"]

    # And the StatefulSet's revision 2 leaves the Deployment's Jobs alone.
    args = {"definition": statefulset(namespace, "db:2"), "strategy": {"rollingParams": hooks}}
    check = run_task("rollout", args, check=True)
    assert [h["job"] for h in check["hooks"]] == ["db-2-sts-hook-pre", "db-2-sts-hook-post"]
    assert_ok(run_task("rollout", args), True)
    third = jobs()
    assert set(third) == {"db-2-hook-pre", "db-2-hook-post", "db-2-sts-hook-pre", "db-2-sts-hook-post"}
    assert third["db-2-hook-pre"] == second["db-2-hook-pre"]
    assert third["db-2-hook-post"] == second["db-2-hook-post"]


def test_daemonset_rolling_update_with_max_surge(run_task, namespace, apps_v1, core_v1):
    assert_ok(run_task("rollout", {"definition": daemonset(namespace, "agent:1")}), True)
    args = {
        "kind": "DaemonSet",
        "name": "agent",
        "namespace": namespace,
        "images": {"app": "agent:2"},
        "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": 1}},
    }
    check = run_task("rollout", args, check=True)
    assert_ok(check, True)
    assert check["revision"] == 2
    assert (
        apps_v1.read_namespaced_daemon_set("agent", namespace).spec.template.spec.containers[0].image
        == "agent:1"
    )

    real = run_task("rollout", args)
    assert_ok(real, True)
    assert (real["kind"], real["revision"], real["previous_revision"]) == ("DaemonSet", 2, 1)
    assert real["update_strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert set(pod_images(core_v1, namespace, "agent").values()) == {"agent:2"}
    assert len(pod_images(core_v1, namespace, "agent")) == 3
    # Surge: a node's old pod goes only once its new one is available, so all 3 stay available.
    counts = [e for e in real["timeline"] if e["event"] == "replicas"]
    assert counts and min(e["available"] for e in counts) == 3
    assert revisions(apps_v1, namespace, "agent") == {1: "agent:1", 2: "agent:2"}

    assert_ok(run_task("rollout", args, check=True), False)
    again = run_task("rollout", args)
    assert_ok(again, False)
    assert revisions(apps_v1, namespace, "agent") == {1: "agent:1", 2: "agent:2"}


def test_on_delete_is_applied_not_waited_for(run_task, namespace, apps_v1, core_v1):
    on_delete = {"type": "OnDelete"}
    assert_ok(
        run_task("rollout", {"definition": statefulset(namespace, "db:1", update_strategy=on_delete)}), True
    )
    before = pod_images(core_v1, namespace, "db")
    assert set(before.values()) == {"db:1"}

    args = {"definition": statefulset(namespace, "db:2", update_strategy=on_delete)}
    real = run_task("rollout", args)
    assert_ok(real, True)
    assert real["revision"] == 2 and real["strategy"]["type"] == "OnDelete"
    assert events(real) == ["applied", "observed"]
    assert real["warnings"] == [
        f"StatefulSet {namespace}/db has updateStrategy OnDelete: its pods take the new template only when "
        "they are deleted, so the task did not wait for them"
    ]
    assert pod_images(core_v1, namespace, "db") == before, "OnDelete: no pod replaced by the rollout"
    assert revisions(apps_v1, namespace, "db") == {1: "db:1", 2: "db:2"}
    assert_ok(run_task("rollout", args), False)

    # A post hook would wait for a rollout that never completes by itself: refused, nothing written.
    refused = run_task("rollout", dict(args, strategy={"rollingParams": {"post": hook("smoke")}}))
    assert refused["failed"] and not refused["changed"]
    assert refused["msg"].startswith("post hook: the StatefulSet has updateStrategy OnDelete")


def test_failing_statefulset_rollout_is_rolled_back(run_task, namespace, apps_v1, core_v1, kubectl):
    assert_ok(
        run_task("rollout", {"definition": statefulset(namespace, "db:1"), "change_cause": "one"}), True
    )
    args = {
        "definition": statefulset(namespace, "db:2", labels=NEVER_READY),
        "change_cause": "two",
        "strategy": {"rollingParams": {"timeoutSeconds": 120}},
    }
    failed = run_task("rollout", args)
    assert failed["failed"] and failed["changed"] and failed["rolled_back"]
    assert failed["failure"]["reason"] == "CrashLoopBackOff"
    assert (failed["failed_revision"], failed["previous_revision"], failed["revision"]) == (2, 1, 3)
    assert failed["msg"] == (
        f"rollout of StatefulSet {namespace}/db to revision 2 failed: CrashLoopBackOff: db-2 (container app). "
        f"Rolled back to the template of revision 1 (app=db:1), now revision 3: StatefulSet {namespace}/db "
        "is at revision 3 (app=db:1) with 3/3 pods available"
    )
    # The broken db-2 blocks an OrderedReady StatefulSet: the module deleted it (forced rollback).
    assert {"event": "unready_pods_deleted", "pods": ["db-2"]}.items() <= next(
        e for e in failed["timeline"] if e["event"] == "unready_pods_deleted"
    ).items()
    assert events(failed)[-3:] == ["unready_pods_deleted", "rollback_complete", "rolled_back"]

    live = apps_v1.read_namespaced_stateful_set("db", namespace)
    assert live.spec.template.spec.containers[0].image == "db:1"
    assert "openrollout.test/never-ready" not in live.spec.template.metadata.labels
    # Revision 1 came back as revision 3: the same ControllerRevision, renumbered, no duplicate.
    assert revisions(apps_v1, namespace, "db") == {2: "db:2", 3: "db:1"}
    assert set(pod_images(core_v1, namespace, "db").values()) == {"db:1"}
    status = kubectl("-n", namespace, "rollout", "status", "statefulset/db", "--watch=false")
    assert status.returncode == 0, status.stderr
    info = run_task("rollout_info", {"kind": "StatefulSet", "name": "db", "namespace": namespace})
    assert [(h["revision"], h["images"]["app"], h["current"]) for h in info["rollouts"][0]["history"]] == [
        (2, "db:2", False),
        (3, "db:1", True),
    ]


def test_recreate_and_mid_hook_are_refused(run_task, namespace, apps_v1):
    result = run_task(
        "rollout", {"definition": statefulset(namespace, "db:1"), "strategy": {"type": "Recreate"}}
    )
    assert result["failed"] and not result.get("changed")
    assert result["msg"] == (
        "a StatefulSet has no Recreate strategy: its controller replaces the pods one ordinal at a time, "
        "highest first; use type Rolling (updateStrategy RollingUpdate, with partition for a staged rollout) "
        "or OnDelete. To stop every pod first, scale to 0 and back"
    )
    mid = run_task(
        "rollout",
        {"definition": daemonset(namespace, "agent:1"), "strategy": {"rollingParams": {"mid": hook("x")}}},
    )
    assert mid["failed"] and mid["msg"].startswith("strategy.rollingParams.mid: a DaemonSet has no mid hook")
    assert apps_v1.list_namespaced_stateful_set(namespace).items == []
    assert apps_v1.list_namespaced_daemon_set(namespace).items == []


def test_scale_a_statefulset(run_task, namespace, apps_v1, core_v1):
    assert_ok(run_task("rollout", {"definition": statefulset(namespace, "db:1")}), True)
    args = {"kind": "StatefulSet", "name": "db", "namespace": namespace, "replicas": 5}
    check = run_task("rollout", args, check=True)
    assert_ok(check, True)
    assert check["change"] == {
        "created": False,
        "template": False,
        "replicas": True,
        "strategy": False,
        "metadata": False,
    }
    assert apps_v1.read_namespaced_stateful_set("db", namespace).spec.replicas == 3

    real = run_task("rollout", args)
    assert_ok(real, True)
    assert (real["revision"], real["previous_revision"], real["hooks"]) == (1, 1, [])
    assert events(real) == ["applied", "complete"]
    live = apps_v1.read_namespaced_stateful_set("db", namespace)
    assert (live.spec.replicas, live.status.ready_replicas) == (5, 5)
    assert sorted(pod_images(core_v1, namespace, "db")) == ["db-0", "db-1", "db-2", "db-3", "db-4"]
    assert revisions(apps_v1, namespace, "db") == {1: "db:1"}, "a scale makes no revision"

    assert_ok(run_task("rollout", args, check=True), False)
    assert_ok(run_task("rollout", args), False)


def test_a_statefulset_created_by_another_writer_during_the_first_pre_hook_is_left_alone(
    cluster, namespace, apps_v1, batch_v1, tmp_path, wait_for
):
    strategy = {
        "rollingParams": {"timeoutSeconds": 60, "pre": hook("migrate")},
        "annotations": {"openrollout.test/run-for": "6s"},
    }
    task = start_task(
        "rollout",
        {"definition": statefulset(namespace, "db:1"), "strategy": strategy},
        cluster.kubeconfig,
        tmp_path,
    )
    wait_for(lambda job: True, batch_v1.list_namespaced_job, 60, namespace=namespace)
    apps_v1.create_namespaced_stateful_set(namespace, statefulset(namespace, "db:other", replicas=1))
    result = task.result()
    assert result["failed"]
    assert result["failure"]["reason"] == "Superseded"
    assert "was changed by another writer while this run prepared its rollout" in result["msg"]
    assert "This run changed nothing" in result["msg"]
    live = apps_v1.read_namespaced_stateful_set("db", namespace)
    assert (sts_template_image(apps_v1, namespace), live.spec.replicas) == ("db:other", 1)


def superseded_by(
    apps_v1: client.AppsV1Api, namespace: str, image: str, task, kind: str = "StatefulSet"
) -> dict:
    """Set the image of the StatefulSet db (or the DaemonSet agent) as another writer would
    (kubectl set image); the run's result, which must be a failure with reason Superseded."""
    other = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    if kind == "StatefulSet":
        apps_v1.patch_namespaced_stateful_set("db", namespace, other)
    else:
        apps_v1.patch_namespaced_daemon_set("agent", namespace, other)
    result = task.result()
    assert result["failed"]
    assert result["failure"]["reason"] == "Superseded", result["msg"]
    return result


def test_a_statefulset_changed_by_another_writer_during_the_pre_hook_is_left_alone(
    cluster, run_task, namespace, apps_v1, batch_v1, tmp_path, wait_for
):
    assert_ok(run_task("rollout", {"definition": statefulset(namespace, "db:1", replicas=2)}), True)
    strategy = {
        "rollingParams": {"timeoutSeconds": 60, "pre": hook("migrate")},
        "annotations": {"openrollout.test/run-for": "6s"},
    }
    task = start_task(
        "rollout",
        {"definition": statefulset(namespace, "db:2", replicas=2), "strategy": strategy},
        cluster.kubeconfig,
        tmp_path,
    )
    wait_for(lambda job: True, batch_v1.list_namespaced_job, 60, namespace=namespace)
    result = superseded_by(apps_v1, namespace, "db:other", task)
    assert "was changed by another writer while this run prepared its rollout" in result["msg"]
    assert "This run changed nothing" in result["msg"]
    assert sts_template_image(apps_v1, namespace) == "db:other", "the run wrote its template over the other's"
    assert "applied" not in events(result)


def test_a_statefulset_taken_over_during_the_wait_is_not_rolled_back(
    cluster, run_task, namespace, apps_v1, tmp_path, wait_for
):
    assert_ok(run_task("rollout", {"definition": statefulset(namespace, "db:1", replicas=2)}), True)
    slow = statefulset(namespace, "db:2", replicas=2)
    slow["spec"]["template"]["metadata"]["annotations"] = {"openrollout.test/ready-after": "60s"}
    task = start_task(
        "rollout",
        {"definition": slow, "strategy": {"rollingParams": {"timeoutSeconds": 120}}},
        cluster.kubeconfig,
        tmp_path,
    )
    wait_for(
        lambda sts: sts.spec.template.spec.containers[0].image == "db:2",
        apps_v1.list_namespaced_stateful_set,
        60,
        namespace=namespace,
    )
    result = superseded_by(apps_v1, namespace, "db:3", task)
    assert "was changed by another writer during this rollout: its template is now" in result["msg"]
    assert "app=db:3" in result["msg"]
    assert "Nothing was rolled back, so as not to undo the other change" in result["msg"]
    assert result["rolled_back"] is False
    assert "complete" not in events(result) and "rollback_started" not in events(result)
    assert sts_template_image(apps_v1, namespace) == "db:3", "the run rolled back over the other writer"


def test_a_daemonset_taken_over_during_the_wait_is_not_rolled_back(
    cluster, run_task, namespace, apps_v1, tmp_path, wait_for
):
    assert_ok(run_task("rollout", {"definition": daemonset(namespace, "agent:1")}), True)
    slow = daemonset(namespace, "agent:2")
    slow["spec"]["template"]["metadata"]["annotations"] = {"openrollout.test/ready-after": "60s"}
    task = start_task("rollout", {"definition": slow}, cluster.kubeconfig, tmp_path)
    wait_for(
        lambda ds: ds.spec.template.spec.containers[0].image == "agent:2",
        apps_v1.list_namespaced_daemon_set,
        60,
        namespace=namespace,
    )
    result = superseded_by(apps_v1, namespace, "agent:3", task, kind="DaemonSet")
    assert (
        "was changed by another writer during this rollout: its template is now (app=agent:3)"
        in result["msg"]
    )
    assert result["rolled_back"] is False
    live = apps_v1.read_namespaced_daemon_set("agent", namespace)
    assert live.spec.template.spec.containers[0].image == "agent:3", (
        "the run rolled back over the other writer"
    )
