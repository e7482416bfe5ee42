"""The rollout state (openrollout.k8s/rollout) never comes back through an undo.

The state is on the Deployment while a rollout of several phases runs; the Deployment controller
copies the Deployment's annotations to the new revision's ReplicaSet, this one included, and an
undo (kubectl's, and rollout_undo's which is the same patch) copies the ReplicaSet's annotations
back. rollout_undo leaves it out; kubectl's brings it back, naming a revision older than the
Deployment's: stale, so the next task ignores it and removes it, as a change of nothing.
"""

from __future__ import annotations

import json

from kubernetes import client
from test_rollout import assert_ok, deployment

STATE_ANNOTATION = "openrollout.k8s/rollout"
# A post hook: the rollout records its state before the post phase (with the template).
STRATEGY = {
    "type": "Rolling",
    "rollingParams": {
        "maxSurge": 1,
        "maxUnavailable": 0,
        "post": {"failurePolicy": "Ignore", "execNewPod": {"containerName": "app", "command": ["smoke"]}},
    },
}


def annotations(apps_v1: client.AppsV1Api, namespace: str) -> dict[str, str]:
    return apps_v1.read_namespaced_deployment("web", namespace).metadata.annotations or {}


def copies(apps_v1: client.AppsV1Api, namespace: str) -> dict[str, dict]:
    """The rollout states the ReplicaSets carry, by their revision."""
    found = {}
    for rs in apps_v1.list_namespaced_replica_set(namespace, label_selector="app=web").items:
        notes = rs.metadata.annotations or {}
        if STATE_ANNOTATION in notes:
            found[notes["deployment.kubernetes.io/revision"]] = json.loads(notes[STATE_ANNOTATION])
    return found


def roll_out(run_task, namespace: str, version: str) -> dict:
    args = {
        "name": "web",
        "namespace": namespace,
        "images": {"app": f"registry.example/web:{version}"},
        "strategy": STRATEGY,
    }
    result = run_task("rollout", args)
    assert_ok(result, True)
    return result


def test_no_undo_brings_the_rollout_state_back(run_task, namespace, apps_v1, kubectl):
    first = run_task("rollout", {"definition": deployment(namespace, replicas=2), "strategy": STRATEGY})
    assert_ok(first, True)
    roll_out(run_task, namespace, "v2")
    assert STATE_ANNOTATION not in annotations(apps_v1, namespace)
    # The cause: the controller copied the state of revision 2's rollout onto its ReplicaSet.
    assert copies(apps_v1, namespace)["2"]["revision"] == 2
    roll_out(run_task, namespace, "v3")

    # rollout_undo to revision 2 (now 4): its ReplicaSet's copy of the state stays out.
    args = {"name": "web", "namespace": namespace, "to_revision": 2, "hooks": False}
    check = run_task("rollout_undo", args, check=True, diff=True)
    assert STATE_ANNOTATION not in check["diff"]["after"]["metadata"]["annotations"]
    undone = run_task("rollout_undo", args, diff=True)
    assert_ok(undone, True)
    assert STATE_ANNOTATION not in undone["diff"]["after"]["metadata"]["annotations"]
    assert STATE_ANNOTATION not in annotations(apps_v1, namespace)

    # kubectl's undo brings a copy back (revision 3's, now revision 5), naming revision 3.
    undo = kubectl("-n", namespace, "rollout", "undo", "deployment/web", "--to-revision=3")
    assert undo.returncode == 0, undo.stderr
    status = kubectl("-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s")
    assert status.returncode == 0, status.stderr
    assert json.loads(annotations(apps_v1, namespace)[STATE_ANNOTATION])["revision"] == 3

    # Stale: the next task neither resumes from it nor counts its removal as a change.
    same = {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v3"}}
    check = run_task("rollout", same, check=True)
    assert_ok(check, False)
    assert check["resumed_from"] is None
    again = run_task("rollout", same, diff=True)
    assert_ok(again, False)
    assert (again["resumed_from"], again["hooks"]) == (None, [])
    assert STATE_ANNOTATION not in annotations(apps_v1, namespace)
    assert STATE_ANNOTATION not in again["diff"]["after"]["metadata"]["annotations"]
    assert_ok(run_task("rollout", same), False)
