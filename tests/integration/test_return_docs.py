"""Every key a module returns is described in its RETURN documentation, checked on real runs.

Each test runs a module the way a user does (ansible-playbook, the local cluster) through the paths
that return the most: check and diff mode, hooks, a failure with its automatic rollback, each action
of rollout_control. Then every key of each result, nested ones included, is looked up in the
module's RETURN block: a dict documented with `contains` is followed, a list of dicts with
`contains` is followed for each element, a dict documented without `contains` (a whole Kubernetes
object) is taken as it is. Ansible's own keys (changed, failed, msg, warnings...) are not the
module's to document.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml
from test_hooks import hook
from test_rollout import NEVER_READY, deployment

MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"
# Ansible's keys, and run_task's record of ansible-playbook's output.
COMMON = {"changed", "failed", "msg", "warnings", "deprecations", "invocation", "exception", "_stdout"}


def return_doc(module: str) -> dict[str, Any]:
    """The module's RETURN block, read from its source (nothing is imported)."""
    tree = ast.parse((MODULES / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "RETURN" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value)) or {}
    raise AssertionError(f"{module} has no RETURN")


def undocumented(value: dict[str, Any], doc: dict[str, Any], path: str = "") -> list[str]:
    """The paths of the keys of `value` that `doc` (RETURN, or a `contains`) does not describe."""
    missing = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in doc:
            missing.append(where)
            continue
        contains = doc[key].get("contains")
        if not contains:
            continue
        if isinstance(item, dict):
            missing += undocumented(item, contains, where)
        elif isinstance(item, list):
            for element in item:
                if isinstance(element, dict):
                    missing += undocumented(element, contains, f"{where}[]")
    return missing


def assert_documented(module: str, *results: dict[str, Any]) -> None:
    doc = return_doc(module)
    missing = sorted(
        {path for r in results for path in undocumented({k: v for k, v in r.items() if k not in COMMON}, doc)}
    )
    assert missing == [], f"{module} returns keys its RETURN does not describe: {', '.join(missing)}"


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("failed"), result.get("msg")
    return result


def test_undocumented_finds_what_is_missing() -> None:
    doc = {
        "a": {"type": "dict", "contains": {"b": {"type": "int"}}},
        "l": {"type": "list", "elements": "dict", "contains": {"c": {"type": "str"}}},
        "free": {"type": "dict"},
    }
    value = {"a": {"b": 1, "x": 2}, "l": [{"c": "y"}, {"d": 1}], "free": {"anything": 1}, "z": 0}
    assert undocumented(value, doc) == ["a.x", "l[].d", "z"]


def test_rollout(run_task, namespace) -> None:
    strategy = {
        "type": "Rolling",
        "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "pre": hook(), "post": hook()},
    }
    created = ok(
        run_task(
            "rollout", {"definition": deployment(namespace, replicas=2), "strategy": strategy}, diff=True
        )
    )
    args = {
        "name": "web",
        "namespace": namespace,
        "images": {"app": "registry.example/web:v2"},
        "change_cause": "v2",
    }
    planned = ok(run_task("rollout", args, check=True, diff=True))
    updated = ok(run_task("rollout", args, diff=True))
    broken = deployment(namespace, "registry.example/web:v3", replicas=2, pod_labels=NEVER_READY)
    failed = run_task("rollout", {"definition": broken, "strategy": {"type": "Recreate"}})
    assert failed["failed"] and failed["rolled_back"], failed.get("msg")
    assert created["hooks"] and failed["failure"]
    assert_documented("rollout", created, planned, updated, failed)


def test_rollout_info(run_task, namespace) -> None:
    ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}))
    ok(
        run_task(
            "rollout", {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}}
        )
    )
    one = ok(run_task("rollout_info", {"name": "web", "namespace": namespace, "revision": 1}))
    every = ok(run_task("rollout_info", {"namespace": namespace, "kind": "Deployment"}))
    assert one["rollouts"][0]["revision_detail"]
    assert_documented("rollout_info", one, every)


def test_rollout_undo(run_task, namespace) -> None:
    ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}))
    ok(
        run_task(
            "rollout", {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}}
        )
    )
    args = {"name": "web", "namespace": namespace}
    planned = ok(run_task("rollout_undo", args, check=True, diff=True))
    undone = ok(run_task("rollout_undo", args, diff=True))
    missing = run_task("rollout_undo", {**args, "to_revision": 9})
    assert missing["failed"] and missing["available_revisions"], missing.get("msg")
    assert_documented("rollout_undo", planned, undone, missing)


def test_rollout_control(run_task, namespace) -> None:
    ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}))
    ok(
        run_task(
            "rollout", {"name": "web", "namespace": namespace, "images": {"app": "registry.example/web:v2"}}
        )
    )
    results = []
    # One Deployment through every action, each in check and diff mode, then for real.
    for action in ("pause", "resume", "restart", "retry", "cancel"):
        args = {"name": "web", "namespace": namespace, "action": action, "wait_timeout": 60}
        results += [
            run_task("rollout_control", args, check=True, diff=True),
            run_task("rollout_control", args, diff=True),
        ]
    assert_documented("rollout_control", *results)


def test_lifecycle_hook(run_task, namespace) -> None:
    ok(run_task("rollout", {"definition": deployment(namespace, replicas=1)}))
    args = {"name": "web", "namespace": namespace, "hook": hook()}
    planned = ok(run_task("lifecycle_hook", args, check=True))
    ran = ok(run_task("lifecycle_hook", args))
    failing = run_task(
        "lifecycle_hook",
        {**args, "phase": "post", "hook": hook(), "annotations": {"openrollout.test/exit-code": "3"}},
    )
    assert failing["failed"], failing.get("msg")
    assert_documented("lifecycle_hook", planned, ran, failing)


def test_analysis(run_task, namespace) -> None:
    from test_analysis import job_metric

    ok(run_task("rollout", {"definition": deployment(namespace, replicas=1)}))
    kubernetes = {
        "name": "done",
        "successCondition": "result == true",
        "provider": {"kubernetes": {"name": "web", "query": "status.done"}},
    }
    args = {"namespace": namespace, "metrics": [job_metric("smoke"), kubernetes]}
    planned = ok(run_task("analysis", args, check=True))
    ran = ok(run_task("analysis", args))
    failing = run_task("analysis", {**args, "metrics": [job_metric("smoke", 3), kubernetes]})
    assert failing["failed"], failing.get("msg")
    assert_documented("analysis", planned, ran, failing)
