"""The Custom strategy: the user's deployer runs with a namespace-scoped token, then the rollout completes."""

from __future__ import annotations

from kubernetes import client
from test_hooks import events
from test_rollout import assert_ok, deployment, images


def custom(**extra) -> dict:
    return {
        "type": "Custom",
        "customParams": {
            "image": "registry.example/deployer:1",
            "command": ["/deploy.sh"],
            "environment": [{"name": "TARGET", "value": "canary"}],
        },
        **extra,
    }


def test_custom_strategy_success(run_task, namespace, apps_v1, batch_v1, core_v1):
    rbac = client.RbacAuthorizationV1Api(apps_v1.api_client)
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": custom()}
    )
    assert_ok(result, True)
    order = events(result)
    assert (
        order.index("applied")
        < order.index("hook_started")
        < order.index("resumed_by_module")
        < order.index("complete")
    )
    [deployer] = result["hooks"]
    assert (deployer["phase"], deployer["job"], deployer["succeeded"]) == ("deployer", "web-2-deployer", True)
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert not live.spec.paused
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]
    assert live.status.available_replicas == 4 and live.status.updated_replicas == 4

    job = batch_v1.read_namespaced_job("web-2-deployer", namespace)
    pod = job.spec.template.spec
    assert pod.service_account_name == "web-deployer"
    [container] = pod.containers
    assert (container.image, container.command) == ("registry.example/deployer:1", ["/deploy.sh"])
    env = {e.name: e.value for e in container.env}
    assert env["OPENROLLOUT_DEPLOYMENT_NAME"] == "web"
    assert env["OPENROLLOUT_NEW_REVISION"] == "2" and env["OPENROLLOUT_OLD_REVISION"] == "1"
    assert env["OPENSHIFT_DEPLOYMENT_NAME"] == "web-2" and env["OPENSHIFT_DEPLOYMENT_OLD_NAME"] == "web-1"
    assert env["TARGET"] == "canary"
    # The token is the ServiceAccount's: a Role in this namespace only, no ClusterRole.
    role = rbac.read_namespaced_role("web-deployer", namespace)
    assert {r for rule in role.rules for r in rule.resources} == {
        "deployments",
        "deployments/scale",
        "replicasets",
        "pods",
        "pods/log",
    }
    binding = rbac.read_namespaced_role_binding("web-deployer", namespace)
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [
        ("ServiceAccount", "web-deployer", namespace)
    ]
    assert core_v1.read_namespaced_service_account("web-deployer", namespace)

    again = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": custom()}
    )
    assert_ok(again, False)
    assert again["hooks"] == []


def test_custom_strategy_failure_rolls_back(run_task, namespace, apps_v1):
    assert_ok(run_task("rollout", {"definition": deployment(namespace)}), True)
    failing = custom(annotations={"openrollout.test/exit-code": "2"})
    result = run_task(
        "rollout", {"definition": deployment(namespace, "registry.example/web:v2"), "strategy": failing}
    )
    assert result["failed"] and result["rolled_back"]
    assert result["failure"]["reason"] == "DeployerFailed"
    assert "web-2-deployer failed with exit code 2" in result["msg"]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
    assert not live.spec.paused and live.status.available_replicas == 4
