"""A failure the API reports at once ends the rollout at once, with the API's reason.

The ReplicaSet controller sets ReplicaFailure (FailedCreate) on the new ReplicaSet in the first
second when it cannot create a pod: a missing ServiceAccount, a quota. The rollout fails on it
then, not at the progress deadline (each task has a wait_timeout far below the deadlines: a wait
that sat it out would fail with WaitTimeout). A template with a blank image, which the API takes
but no pod can be made from, is refused before anything is written.
"""

from __future__ import annotations

import pytest
from kubernetes import client
from test_rollout import assert_ok, deployment, images

PATIENT = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 600}}


def assert_failed_fast(result: dict, reason: str, words: str) -> None:
    assert result.get("failed"), result
    assert result["failure"]["reason"] == reason, result["msg"]
    assert words in result["failure"]["message"]
    assert words in result["msg"]


def test_a_missing_service_account_fails_at_once_and_rolls_back(run_task, namespace, apps_v1):
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace, replicas=2), "strategy": PATIENT}), True
    )
    broken = deployment(namespace, "registry.example/web:v2", replicas=2, progressDeadlineSeconds=600)
    broken["spec"]["template"]["spec"]["serviceAccountName"] = "missing"
    result = run_task("rollout", {"definition": broken, "strategy": PATIENT, "wait_timeout": 120})
    assert_failed_fast(result, "FailedCreate", 'serviceaccount "missing" not found')
    assert result["rolled_back"] is True
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]


def test_an_exceeded_quota_fails_at_once(run_task, namespace, core_v1):
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace, replicas=2), "strategy": PATIENT}), True
    )
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="pods"), spec=client.V1ResourceQuotaSpec(hard={"pods": "2"})
    )
    core_v1.create_namespaced_resource_quota(namespace, quota)
    args = {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}}
    result = run_task("rollout", {**args, "wait_timeout": 120})
    assert_failed_fast(result, "QuotaExceeded", "exceeded quota: pods")
    assert result["rolled_back"] is True


@pytest.mark.parametrize(
    ("image", "refusal"),
    [
        (" ", "container app of Deployment {namespace}/web has no image (empty or blank)"),
        ("", "container app of Deployment {namespace}/web has no image (empty or blank)"),
    ],
)
def test_a_blank_image_is_refused_before_anything_is_written(run_task, namespace, apps_v1, image, refusal):
    blank = deployment(namespace, image)
    for check in (True, False):
        result = run_task("rollout", {"definition": blank}, check=check)
        assert result.get("failed") and result["changed"] is False, result["msg"]
        assert result["msg"].startswith(refusal.format(namespace=namespace)), result["msg"]
    assert apps_v1.list_namespaced_deployment(namespace).items == []

    # name mode: an existing Deployment keeps its image; the task that would blank it is refused.
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    apps_v1.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"initContainers": [{"name": "init", "image": " "}]}}}},
    )
    before = apps_v1.read_namespaced_deployment("web", namespace).metadata.generation
    result = run_task(
        "rollout", {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}}
    )
    assert result.get("failed") and result["changed"] is False, result
    assert "container init of" in result["msg"] and "images: {init: <image>}" in result["msg"]
    assert apps_v1.read_namespaced_deployment("web", namespace).metadata.generation == before
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
