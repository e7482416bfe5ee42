"""An API error in the middle of a rollout takes the path of a failed step (reason APIError).

Two realistic ways for the API server to refuse a request once the new template is written:

- test_a_role_without_list_on_pods: the account's Role has every rule `rollout` needs except
  `list` on pods, which only the waits use: the template is written, the first wait is refused
  (403). The rollback's patch is allowed, its wait is refused too: the message says the rollback
  was written and how to follow it, and the Deployment controller brings the previous revision
  back at full capacity by itself.
- test_a_policy_refusing_a_later_patch: a ValidatingAdmissionPolicy freezes maxUnavailable at 0
  for web:v2 once it runs at 0, so the patch that restores the user's maxUnavailable after the
  canary is refused (422) while the canary itself went through; the rollback (web:v1) is
  allowed, and the task rolls back fully by itself, as after a failed step.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from _tasks import Task, run_tasks
from kubernetes import client
from kubernetes.client.rest import ApiException
from test_rbac import Grants, documented_roles, web, without

STRATEGY = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 1, "timeoutSeconds": 60}}
STATE_ANNOTATION = "openrollout.k8s/rollout"


def back_on_v1_at_full_capacity(deployment: Any) -> bool:
    status = deployment.status
    return (
        deployment.spec.template.spec.containers[0].image == "web:v1"
        and status.observed_generation == deployment.metadata.generation
        and (status.updated_replicas or 0) == 2
        and (status.available_replicas or 0) == 2
        and (status.replicas or 0) == 2
    )


def assert_back_on_v1(apps_v1: client.AppsV1Api, namespace: str, wait_for: Any) -> None:
    """The Deployment as a user would check it: previous template, full capacity, nothing of ours left."""
    wait_for(back_on_v1_at_full_capacity, apps_v1.list_namespaced_deployment, 60, namespace=namespace)
    deployment = apps_v1.read_namespaced_deployment("web", namespace)
    assert deployment.spec.strategy.rolling_update.max_unavailable == 1  # not the canary's 0
    assert not deployment.spec.paused
    assert STATE_ANNOTATION not in (deployment.metadata.annotations or {})


@pytest.fixture
def v1_deployed(run_task, namespace):
    created = run_task("rollout", {"definition": web(namespace, "web:v1"), "strategy": STRATEGY})
    assert not created.get("failed"), created.get("msg")
    assert created["revision"] == 1


def test_a_role_without_list_on_pods(v1_deployed, cluster, k8s_api, namespace, apps_v1, wait_for):
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = {
        "host": kubeconfig["clusters"][0]["cluster"]["server"],
        "ca_cert": str(Path(cluster.kubeconfig).parent / "pki" / "ca.crt"),
    }
    rules = without(documented_roles()["rollout"], "pods", "list")
    token = Grants(k8s_api, namespace).token("ci", rules)

    run = run_tasks(
        [
            Task(
                "rollout",
                {
                    "namespace": namespace,
                    **server,
                    "api_key": token,
                    "name": "web",
                    "images": {"app": "web:v2"},
                },
            )
        ]
    )
    result = run.results[0]
    msg = str(result.get("msg"))
    assert result.get("failed"), msg
    assert token not in run.output
    refused = (
        f"forbidden: needs list on pods in namespace {namespace} (user system:serviceaccount:{namespace}:ci)"
    )
    assert msg.startswith(f"rollout of Deployment {namespace}/web to revision 2 failed: APIError: "), msg
    assert refused in result["failure"]["message"]
    assert result["failure"]["reason"] == "APIError"
    assert result["changed"] is True and result["rolled_back"] is False
    assert "The rollback to revision 1 did not complete either: " in msg
    assert msg.endswith(
        "; the rollback was written (the template is revision 1's again) and the Deployment controller "
        f"goes on with it: follow it with kubectl rollout status deployment/web -n {namespace}"
    ), msg
    # The state as read right after the rollback's patch: the template is web:v1's; the controller
    # may not have renumbered the revision yet (3, or still 2), and surge pods may still count as
    # available (3/2).
    assert re.search(
        rf"\. Deployment {namespace}/web is at revision [23] \(app=web:v1\) with [0-3]/2 pods available[^;]*; ",
        msg,
    ), msg
    events = [event["event"] for event in result["timeline"]]
    assert events[:2] == ["applied", "failed"] and "rollback_started" in events, events
    # What the message says: the controller finishes the rollback by itself.
    assert_back_on_v1(apps_v1, namespace, wait_for)


def test_a_policy_refusing_a_later_patch(v1_deployed, k8s_api, run_task, namespace, apps_v1, wait_for):
    admission = client.AdmissionregistrationV1Api(k8s_api)
    name = f"no-unavailable-v2-{namespace}"[:63]
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "operations": ["UPDATE"],
                            "resources": ["deployments"],
                        }
                    ]
                },
                "validations": [
                    {
                        # A freeze: web:v2 rolling out with maxUnavailable 0 keeps it at 0.
                        "expression": "!(object.spec.template.spec.containers[0].image == 'web:v2'"
                        " && has(oldObject.spec.strategy.rollingUpdate)"
                        " && oldObject.spec.strategy.rollingUpdate.maxUnavailable == 0"
                        " && has(object.spec.strategy.rollingUpdate)"
                        " && object.spec.strategy.rollingUpdate.maxUnavailable != 0)",
                        "message": "web:v2 keeps maxUnavailable 0",
                    }
                ],
            },
        }
    )
    try:
        admission.create_validating_admission_policy_binding(
            {
                "metadata": {"name": name},
                "spec": {
                    "policyName": name,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                    },
                },
            }
        )
        # The policy is in force once a dry run of what it refuses is refused: web:v2 at
        # maxUnavailable 0 (allowed), then at 1 (refused), both dry runs on a copy of web.
        probe = web(namespace, "web:v2")
        probe["metadata"]["name"] = "probe"
        probe["spec"]["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
        probe["spec"]["replicas"] = 0
        apps_v1.create_namespaced_deployment(namespace, probe)
        refused = {"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 1}}}}
        deadline = time.monotonic() + 30
        while True:
            try:
                apps_v1.patch_namespaced_deployment("probe", namespace, refused, dry_run="All")
            except ApiException as exc:
                assert exc.status in (403, 422), exc
                break
            assert time.monotonic() < deadline, "the ValidatingAdmissionPolicy never took effect"
            time.sleep(0.2)

        result = run_task(
            "rollout",
            {"namespace": namespace, "name": "web", "images": {"app": "web:v2"}, "strategy": STRATEGY},
        )
        msg = str(result.get("msg"))
        assert result.get("failed"), msg
        assert "failure" in result, msg
        assert result["failure"]["reason"] == "APIError"
        assert "web:v2 keeps maxUnavailable 0" in result["failure"]["message"]
        assert msg.startswith(
            f"rollout of Deployment {namespace}/web to revision 2 failed: APIError: restoring maxUnavailable "
            f"after the canary on Deployment {namespace}/web: "
        ), msg
        assert msg.endswith(
            f"Rolled back to the template of revision 1 (app=web:v1), now revision 3: Deployment {namespace}/web "
            "is at revision 3 (app=web:v1) with 2/2 pods available"
        ), msg
        assert result["rolled_back"] is True
        assert (result["revision"], result["failed_revision"]) == (3, 2)
        events = [event["event"] for event in result["timeline"] if event["event"] != "replicas"]
        assert events == ["applied", "canary_available", "failed", "rollback_started", "rolled_back"], events
        assert "canary_available" in events
        assert_back_on_v1(apps_v1, namespace, wait_for)
    finally:
        for delete in (
            admission.delete_validating_admission_policy_binding,
            admission.delete_validating_admission_policy,
        ):
            try:
                delete(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
