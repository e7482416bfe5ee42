"""rollout_undo runs the lifecycle hooks recorded with the revisions it moves between.

The rollout module records its strategy on the Deployment (openrollout.k8s/strategy); the
Deployment controller copies it to each new revision's ReplicaSet, and kubectl's undo copies it
back. Hook pods are Jobs' pods, finished by KWOK's pod-complete stage (exit 0).
"""

from __future__ import annotations

from kubernetes import client
from test_rollout import assert_ok, deployment

STRATEGY_ANNOTATION = "openrollout.k8s/strategy"


def hook(*command: str) -> dict:
    return {"failurePolicy": "Abort", "execNewPod": {"containerName": "app", "command": list(command)}}


def strategy(version: str) -> dict:
    return {
        "type": "Rolling",
        "rollingParams": {
            "maxSurge": 1,
            "maxUnavailable": 0,
            "pre": hook("migrate", "--to", version),
            "post": hook("smoke", version),
            "rollback": hook("migrate", "--down-from", version),
        },
    }


def events(result: dict) -> list[str]:
    return [e["event"] for e in result["timeline"] if e["event"] != "replicas"]


def jobs(batch_v1: client.BatchV1Api, namespace: str) -> dict[str, client.V1Job]:
    return {j.metadata.name: j for j in batch_v1.list_namespaced_job(namespace).items}


def command_and_image(job: client.V1Job) -> tuple[list[str], str]:
    container = job.spec.template.spec.containers[0]
    return container.command, container.image


def test_undo_runs_the_hooks_recorded_with_the_revision(run_task, namespace, apps_v1, batch_v1):
    for version in ("v1", "v2"):
        image = f"registry.example/web:{version}"
        result = run_task(
            "rollout", {"definition": deployment(namespace, image), "strategy": strategy(version)}
        )
        assert_ok(result, True)
        assert [h["phase"] for h in result["hooks"]] == ["pre", "post"]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert '"--to","v2"' in live.metadata.annotations[STRATEGY_ANNOTATION]
    before = set(jobs(batch_v1, namespace))
    assert before == {"web-2-hook-pre", "web-2-hook-post"}

    args = {"name": "web", "namespace": namespace, "to_revision": 1}
    check = run_task("rollout_undo", args, check=True)
    assert_ok(check, True)
    assert check["hooks"] == [
        {"phase": "rollback", "job": "web-2-hook-rollback", "planned": True},
        {"phase": "pre", "job": "web-3-hook-pre", "planned": True},
        {"phase": "post", "job": "web-3-hook-post", "planned": True},
    ]
    assert set(jobs(batch_v1, namespace)) == before, "check mode ran no hook"

    real = run_task("rollout_undo", args)
    assert_ok(real, True)
    assert (real["revision"], real["rolled_back_to"]) == (3, 1)
    assert [(h["phase"], h["job"], h["succeeded"]) for h in real["hooks"]] == [
        ("rollback", "web-2-hook-rollback", True),
        ("pre", "web-3-hook-pre", True),
        ("post", "web-3-hook-post", True),
    ]
    hook_run = ["hook_started", "hook_finished"]
    assert events(real) == [*hook_run, *hook_run, "applied", "complete", *hook_run]
    ran = jobs(batch_v1, namespace)
    # The revision left behind undoes its own migration, from its own template ...
    assert command_and_image(ran["web-2-hook-rollback"]) == (
        ["migrate", "--down-from", "v2"],
        "registry.example/web:v2",
    )
    # ... and the revision gone back to runs the hooks it was rolled out with, from its template.
    assert command_and_image(ran["web-3-hook-pre"]) == (["migrate", "--to", "v1"], "registry.example/web:v1")
    assert command_and_image(ran["web-3-hook-post"]) == (["smoke", "v1"], "registry.example/web:v1")
    assert ran["web-3-hook-pre"].metadata.owner_references[0].kind == "Deployment"
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.template.spec.containers[0].image == "registry.example/web:v1"
    assert '"--to","v1"' in live.metadata.annotations[STRATEGY_ANNOTATION], "revision 1's strategy came back"

    again = run_task("rollout_undo", args)
    assert_ok(again, False)
    assert again["hooks"] == []
    assert set(jobs(batch_v1, namespace)) == set(ran)

    # hooks: false rolls back (to revision 2, the previous one) and runs none.
    quiet = run_task("rollout_undo", {"name": "web", "namespace": namespace, "hooks": False})
    assert_ok(quiet, True)
    assert (quiet["revision"], quiet["rolled_back_to"], quiet["hooks"]) == (4, 2, [])
    assert set(jobs(batch_v1, namespace)) == set(ran)
    assert events(quiet) == ["applied", "complete"]


def test_undo_to_a_revision_without_recorded_hooks_runs_none(run_task, namespace, apps_v1, batch_v1, kubectl):
    apps_v1.create_namespaced_deployment(namespace, deployment(namespace, "registry.example/web:v1"))
    status = kubectl("-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s")
    assert status.returncode == 0, status.stderr
    rolled = run_task(
        "rollout",
        {
            "name": "web",
            "namespace": namespace,
            "images": {"app": "registry.example/web:v2"},
            "strategy": strategy("v2"),
        },
    )
    assert_ok(rolled, True)

    # Revision 1 was made by kubectl: nothing recorded, so only revision 2's rollback hook runs.
    undo = run_task("rollout_undo", {"name": "web", "namespace": namespace})
    assert_ok(undo, True)
    assert [(h["phase"], h["job"]) for h in undo["hooks"]] == [("rollback", "web-2-hook-rollback")]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert STRATEGY_ANNOTATION not in (live.metadata.annotations or {})
