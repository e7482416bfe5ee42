"""The deploy role's report of hooks, and its rollouts without deploy_strategy.

With deploy_mid_tasks the role calls openrollout.k8s.rollout twice (up to the mid seam, then on
from it): the hook pods and the timeline of both calls are in deploy_result. Without
deploy_strategy, the strategy recorded on the Deployment runs, hooks included. Hook pods are Jobs'
pods, finished by KWOK (exit 0).
"""

from __future__ import annotations

import re

from test_canary_gateway import run_role
from test_rollout import assert_ok, deployment


def hook(*command: str) -> dict:
    return {"failurePolicy": "Abort", "execNewPod": {"containerName": "app", "command": list(command)}}


def summary(output: str) -> str:
    """The role's line about hooks, from its "Show what happened" output."""
    found = re.findall(r'"(hooks(?: planned)?: [^"]*)"', output)
    assert found, output
    return found[-1]


def role_vars(namespace: str, version: str, **extra) -> dict:
    return {
        "deploy_name": "web",
        "deploy_namespace": namespace,
        "deploy_images": {"app": f"registry.example/web:{version}"},
        **extra,
    }


def test_hook_pods_of_both_calls_around_the_mid_seam_are_reported(run_task, cluster, namespace, tmp_path):
    strategy = {"type": "Recreate", "recreateParams": {"timeoutSeconds": 120, "pre": hook("migrate")}}
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace, replicas=2), "strategy": strategy}), True
    )
    mid = tmp_path / "mid.yml"
    mid.write_text("- name: Mid\n  ansible.builtin.debug:\n    msg: no pod of the app runs\n")
    variables = role_vars(namespace, "v2", deploy_strategy=strategy, deploy_mid_tasks=str(mid))

    rc, planned, output = run_role(cluster.kubeconfig, tmp_path, variables, role="deploy", check=True)
    assert rc == 0, output
    assert [(h["phase"], h.get("planned")) for h in planned["hooks"]] == [("pre", True)]
    assert planned["ansible_hooks"] == [{"phase": "mid", "planned": True}]
    assert summary(output) == "hooks planned: pod pre, tasks mid"

    rc, result, output = run_role(cluster.kubeconfig, tmp_path, variables, role="deploy")
    assert rc == 0, output
    assert [(h["phase"], h["job"], h["succeeded"]) for h in result["hooks"]] == [
        ("pre", "web-2-hook-pre", True)
    ]
    assert [h["phase"] for h in result["ansible_hooks"]] == ["mid"]
    events = [e["event"] for e in result["timeline"] if e["event"] != "replicas"]
    assert events[:3] == ["hook_started", "hook_finished", "applied"], events
    assert "stopped" in events and "resumed" in events and events[-1] == "complete"
    assert summary(output) == "hooks: pod pre, tasks mid"


def test_without_deploy_strategy_the_recorded_hooks_run(run_task, cluster, namespace, tmp_path):
    strategy = {
        "type": "Rolling",
        "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "pre": hook("migrate"), "post": hook("smoke")},
    }
    assert_ok(
        run_task("rollout", {"definition": deployment(namespace, replicas=2), "strategy": strategy}), True
    )
    rc, result, output = run_role(cluster.kubeconfig, tmp_path, role_vars(namespace, "v2"), role="deploy")
    assert rc == 0, output
    assert [(h["phase"], h["succeeded"]) for h in result["hooks"]] == [("pre", True), ("post", True)]
    assert summary(output) == "hooks: pod pre, pod post"
