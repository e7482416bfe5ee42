# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import (
    RolloutInputError,
    build_request,
    name_mode_patch,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import StrategyError, parse_strategy
from ansible_collections.openrollout.k8s.plugins.module_utils._workload_rollout import (
    check_workload_hooks,
    dropped_fields,
    forced_rollback_pods,
    fully_rolled_out,
    merge_update_strategy,
    partition_of,
    pod_ordinal,
    staged_rollout_under_way,
    statefulset_update_order,
    update_strategy_type,
    workload_strategy,
)

HOOK = {"execNewPod": {"containerName": "app", "command": ["/bin/true"]}}


# --- the strategy option mapped onto updateStrategy -----------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "partition", "parse", "overlay"),
    [
        # Nothing given: the native updateStrategy stays as it is.
        ("StatefulSet", None, None, None, None),
        ("DaemonSet", None, None, None, None),
        # Hooks and timeoutSeconds alone keep the native type (OnDelete stays OnDelete).
        (
            "StatefulSet",
            {"rollingParams": {"timeoutSeconds": 60, "pre": HOOK}},
            None,
            {"rollingParams": {"timeoutSeconds": 60, "pre": HOOK}},
            None,
        ),
        ("StatefulSet", {"type": "Rolling"}, None, {}, {"type": "RollingUpdate"}),
        ("DaemonSet", {"type": "RollingUpdate"}, None, {}, {"type": "RollingUpdate"}),
        ("StatefulSet", {"type": "OnDelete"}, None, {}, {"type": "OnDelete", "rollingUpdate": None}),
        ("DaemonSet", {"type": "on_delete"}, None, {}, {"type": "OnDelete", "rollingUpdate": None}),
        # A partition implies RollingUpdate.
        (
            "StatefulSet",
            None,
            2,
            None,
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        ),
        (
            "StatefulSet",
            {"type": "Rolling", "rollingParams": {"maxUnavailable": 2}},
            0,
            {"rollingParams": {"maxUnavailable": 2}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "partition": 0}},
        ),
        # DaemonSet: maxSurge alone means maxUnavailable 0 (the API refuses both non-zero, and
        # defaults maxUnavailable to 1).
        (
            "DaemonSet",
            {"type": "Rolling", "rollingParams": {"maxSurge": 1}},
            None,
            {"rollingParams": {"maxSurge": 1}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        ),
        (
            "DaemonSet",
            {"rolling_params": {"max_surge": "50%", "max_unavailable": 0}},
            None,
            {"rolling_params": {"max_surge": "50%", "max_unavailable": 0}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}},
        ),
        (
            "DaemonSet",
            {"rollingParams": {"maxSurge": 0, "maxUnavailable": 2}},
            None,
            {"rollingParams": {"maxSurge": 0, "maxUnavailable": 2}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 2}},
        ),
    ],
)
def test_workload_strategy(kind, raw, partition, parse, overlay):
    given = copy.deepcopy(raw)
    assert workload_strategy(kind, raw, partition) == (parse, overlay)
    assert raw == given, "the option must not be changed"


@pytest.mark.parametrize(
    ("kind", "raw", "partition", "message"),
    [
        (
            "StatefulSet",
            {"type": "Recreate"},
            None,
            "a StatefulSet has no Recreate strategy: its controller replaces the pods one ordinal at a time, "
            "highest first; use type Rolling (updateStrategy RollingUpdate, with partition for a staged "
            "rollout) or OnDelete. To stop every pod first, scale to 0 and back",
        ),
        (
            "DaemonSet",
            {"recreateParams": {"timeoutSeconds": 60}},
            None,
            "a DaemonSet has no Recreate strategy: its controller replaces the pod of each node in turn; use "
            "type Rolling (updateStrategy RollingUpdate, with maxUnavailable or maxSurge) or OnDelete. To stop "
            "every pod first, scale to 0 and back",
        ),
        (
            "StatefulSet",
            {"type": "Rolling", "recreate_params": {}},
            None,
            "strategy.recreate_params is for the Recreate strategy, which a StatefulSet has not",
        ),
        (
            "StatefulSet",
            {"type": "Custom", "customParams": {"image": "deployer:1"}},
            None,
            "a StatefulSet has no Custom strategy: the deployer runs while a paused Deployment waits, and a "
            "StatefulSet cannot be paused; use type Rolling (updateStrategy RollingUpdate, with partition for "
            "a staged rollout) or OnDelete",
        ),
        (
            "DaemonSet",
            {"type": "BlueGreen"},
            None,
            "strategy.type 'BlueGreen' is not a DaemonSet strategy; use Rolling (RollingUpdate) or OnDelete",
        ),
        (
            "StatefulSet",
            {"rollingParams": {"mid": HOOK}},
            None,
            "strategy.rollingParams.mid: a StatefulSet has no mid hook: its controller replaces the pods one "
            "ordinal at a time, highest first, so there is no moment when none of its pods runs "
            "(DeploymentConfig's mid hook needs Recreate); use pre or post",
        ),
        (
            "StatefulSet",
            {"rollingParams": {"maxSurge": 1}},
            None,
            "strategy.rollingParams.maxSurge: a StatefulSet has no maxSurge: each ordinal is replaced in "
            "place, never doubled; use maxUnavailable, or partition for a staged rollout",
        ),
        (
            "DaemonSet",
            None,
            1,
            "partition is for StatefulSets (a staged rollout by ordinal); a DaemonSet updates the pod of "
            "every node",
        ),
        ("StatefulSet", None, -1, "partition must be 0 or more, got -1"),
        (
            "StatefulSet",
            {"type": "OnDelete"},
            1,
            "updateStrategy OnDelete takes no partition: the pods take the new template only when they are "
            "deleted; use type Rolling",
        ),
        (
            "DaemonSet",
            {"type": "OnDelete", "rollingParams": {"maxSurge": 1}},
            None,
            "updateStrategy OnDelete takes no maxSurge, maxUnavailable: the pods take the new template only "
            "when they are deleted; use type Rolling",
        ),
        (
            "DaemonSet",
            {"rollingParams": {"maxSurge": "x"}},
            None,
            "strategy.rollingParams.maxSurge: invalid value 'x': expected a non-negative int (5) or a "
            "percentage ('25%')",
        ),
    ],
)
def test_workload_strategy_errors(kind, raw, partition, message):
    with pytest.raises(StrategyError) as exc:
        workload_strategy(kind, raw, partition)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("base", "overlay", "merged"),
    [
        (None, None, None),
        ({"type": "OnDelete"}, None, {"type": "OnDelete"}),
        (None, {"type": "RollingUpdate"}, {"type": "RollingUpdate"}),
        # A later task lowers the partition and keeps the rest.
        (
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 2, "maxUnavailable": 1}},
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            {"type": "OnDelete", "rollingUpdate": None},
            {"type": "OnDelete"},
        ),
        (
            {"type": "OnDelete"},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        ),
    ],
)
def test_merge_update_strategy(base, overlay, merged):
    before = copy.deepcopy(base)
    assert merge_update_strategy(base, overlay) == merged
    assert base == before


def sts(partition=None, update_type="RollingUpdate", current="db-1", update="db-2", replicas=3):
    strategy: dict = {"type": update_type}
    if partition is not None:
        strategy["rollingUpdate"] = {"partition": partition}
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"replicas": replicas, "updateStrategy": strategy},
        "status": {"currentRevision": current, "updateRevision": update},
    }


@pytest.mark.parametrize(
    ("workload", "expected"),
    [(sts(), "RollingUpdate"), (sts(update_type="OnDelete"), "OnDelete"), ({"spec": {}}, "RollingUpdate")],
)
def test_update_strategy_type(workload, expected):
    assert update_strategy_type(workload) == expected


@pytest.mark.parametrize(("workload", "expected"), [(sts(), 0), (sts(partition=2), 2), ({}, 0)])
def test_partition_of(workload, expected):
    assert partition_of(workload) == expected


@pytest.mark.parametrize(
    ("kind", "workload", "expected"),
    [
        ("DaemonSet", {}, True),
        # Done at partition 0: every pod is updated.
        ("StatefulSet", sts(partition=0), True),
        # 3 replicas at partition 2 after a template change: db-0 and db-1 keep the old revision.
        ("StatefulSet", sts(partition=2), False),
        # A partition with nothing held back (a new StatefulSet, or a scale): the controller says so.
        ("StatefulSet", sts(partition=2, current="db-2"), True),
    ],
)
def test_fully_rolled_out(kind, workload, expected):
    assert fully_rolled_out(kind, workload) is expected


@pytest.mark.parametrize(
    ("workload", "expected"),
    [(None, False), (sts(), True), (sts(current="db-2"), False), ({"status": {}}, False)],
)
def test_staged_rollout_under_way(workload, expected):
    assert staged_rollout_under_way(workload) is expected


@pytest.mark.parametrize(
    ("replicas", "partition", "pods"),
    [
        (3, 0, ["db-2", "db-1", "db-0"]),
        (5, 3, ["db-4", "db-3"]),
        (3, 3, []),
        (3, 5, []),
        (0, 0, []),
    ],
)
def test_statefulset_update_order(replicas, partition, pods):
    order = statefulset_update_order("db", replicas, partition)
    assert [step["pod"] for step in order] == pods
    assert [step["ordinal"] for step in order] == [int(pod.rsplit("-", 1)[1]) for pod in pods]


@pytest.mark.parametrize(
    ("overlay", "stored", "dropped"),
    [
        (None, {}, []),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "partition": 1}},
            None,
            [
                "maxUnavailable",
                "partition",
            ],
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "partition": 1}},
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            ["maxUnavailable"],
        ),
    ],
)
def test_dropped_fields(overlay, stored, dropped):
    assert dropped_fields(overlay, stored) == dropped


def test_post_hook_with_on_delete_is_refused():
    strategy = parse_strategy({"rollingParams": {"pre": HOOK, "post": HOOK}})
    check_workload_hooks("DaemonSet", strategy, "RollingUpdate")
    check_workload_hooks("DaemonSet", parse_strategy({"rollingParams": {"pre": HOOK}}), "OnDelete")
    with pytest.raises(StrategyError) as exc:
        check_workload_hooks("DaemonSet", strategy, "OnDelete")
    assert str(exc.value).startswith("post hook: the DaemonSet has updateStrategy OnDelete")


# --- the request for a StatefulSet or DaemonSet ---------------------------------------


def params(**given):
    base = {
        "definition": None,
        "name": None,
        "namespace": None,
        "kind": None,
        "images": None,
        "replicas": None,
        "partition": None,
        "strategy": None,
        "change_cause": None,
        "rollback_on_failure": True,
        "wait": True,
        "wait_timeout": None,
        "stop_before": None,
    }
    base.update(given)
    return base


def workload(kind="StatefulSet", update_strategy=None):
    body = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "db", "namespace": "data"},
        "spec": {
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "app", "image": "db:1"}]},
            },
        },
    }
    if kind == "StatefulSet":
        body["spec"].update(replicas=3, serviceName="db")
    if update_strategy is not None:
        body["spec"]["updateStrategy"] = update_strategy
    return body


def test_definition_mode_keeps_the_native_update_strategy():
    request = build_request(
        params(
            definition=workload(update_strategy={"type": "OnDelete"}),
            strategy={"rollingParams": {"pre": HOOK}},
        )
    )
    assert (request.kind, request.namespace, request.name) == ("StatefulSet", "data", "db")
    assert request.body["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert request.update_strategy is None
    assert sorted(request.strategy.hooks) == ["pre"]


def test_definition_mode_merges_the_partition():
    definition = workload(update_strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    request = build_request(params(definition=definition, partition=0, images={"app": "db:2"}))
    assert request.body["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0},
    }
    assert request.body["spec"]["template"]["spec"]["containers"][0]["image"] == "db:2"
    assert definition["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 2
    assert request.strategy is None


def test_name_mode_patch_for_a_daemonset():
    request = build_request(
        params(
            name="agent",
            namespace="ops",
            kind="DaemonSet",
            images={"app": "agent:2"},
            strategy={"type": "Rolling", "rollingParams": {"maxSurge": 1}},
        )
    )
    assert request.kind == "DaemonSet"
    live = workload("DaemonSet")
    assert name_mode_patch(request, live) == {
        "metadata": {},
        "spec": {
            "template": {"spec": {"containers": [{"name": "app", "image": "agent:2"}]}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
        },
    }


def test_name_mode_partition_alone_is_a_change():
    request = build_request(params(name="db", kind="StatefulSet", partition=1))
    assert request.update_strategy == {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    assert name_mode_patch(request, workload())["spec"] == {"updateStrategy": request.update_strategy}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            params(definition=workload(), kind="DaemonSet"),
            "kind 'DaemonSet' differs from the definition's kind 'StatefulSet'",
        ),
        (
            params(name="db", kind="Pod", images={"app": "x:1"}),
            "kind must be one of Deployment, StatefulSet, DaemonSet, got 'Pod'",
        ),
        (
            params(name="agent", kind="DaemonSet", replicas=3),
            "a DaemonSet has no replicas: it runs one pod on each node its selector and tolerations allow",
        ),
        (
            params(definition=workload(), stop_before="post"),
            "stop_before is for Deployments (the module's own phases); a StatefulSet's controller rolls it out "
            "in one go. Use partition for a staged StatefulSet rollout",
        ),
        (
            params(name="web", images={"app": "web:2"}, partition=1),
            "partition is for StatefulSets (a staged rollout by ordinal); for a Deployment use the canary role, "
            "or stop_before",
        ),
        (
            params(definition=workload(), strategy={"type": "Recreate"}),
            "a StatefulSet has no Recreate strategy: its controller replaces the pods one ordinal at a time, "
            "highest first; use type Rolling (updateStrategy RollingUpdate, with partition for a staged "
            "rollout) or OnDelete. To stop every pod first, scale to 0 and back",
        ),
        (
            params(name="db", kind="StatefulSet"),
            "nothing to change: with name, give images, replicas, strategy, partition or change_cause "
            "(or give the whole StatefulSet as definition)",
        ),
        (
            params(definition=dict(workload("DaemonSet"), apiVersion="extensions/v1beta1")),
            "definition has apiVersion 'extensions/v1beta1': use apps/v1 for a DaemonSet",
        ),
    ],
)
def test_build_request_errors_for_workloads(given, message):
    with pytest.raises(RolloutInputError) as exc:
        build_request(given)
    assert str(exc.value) == message


# --- Kubernetes' forced rollback: the pods a StatefulSet's controller waits on forever ----------


def sts(update_strategy: dict | None = None) -> dict:
    spec: dict = {"replicas": 3}
    if update_strategy is not None:
        spec["updateStrategy"] = update_strategy
    return {"kind": "StatefulSet", "metadata": {"name": "db", "uid": "u1"}, "spec": spec}


def pod(name: str, revision: str = "db-bad", ready: bool = False, owner: str = "u1", **metadata) -> dict:
    return {
        "metadata": {
            "name": name,
            "labels": {"controller-revision-hash": revision},
            "ownerReferences": [{"kind": "StatefulSet", "uid": owner, "controller": True}],
            **metadata,
        },
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.mark.parametrize(
    "workload, pods, expected",
    [
        # db-2 crash-loops at the broken revision, db-0 and db-1 are Ready at the good one.
        (sts(), [pod("db-0", "db-good", True), pod("db-1", "db-good", True), pod("db-2")], ["db-2"]),
        # Ready pods of another revision are the controller's rolling update's, not ours.
        (sts(), [pod("db-1", ready=True), pod("db-2")], ["db-2"]),
        # At the target revision already (a new pod still starting): left alone.
        (sts(), [pod("db-2", "db-good")], []),
        # Being deleted, or not the StatefulSet's (another owner, or none as controller).
        (sts(), [pod("db-2", deletionTimestamp="2026-11-23T10:00:00Z"), pod("db-1", owner="u2")], []),
        # Sorted by name, whatever the list's order.
        (sts(), [pod("db-2"), pod("db-10"), pod("db-1")], ["db-1", "db-10", "db-2"]),
        # Below a partition a deleted pod comes back at the current revision: it stays.
        (
            sts({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}),
            [pod("db-1"), pod("db-2")],
            ["db-2"],
        ),
        (sts({"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}), [pod("db-1"), pod("db-2")], []),
        # OnDelete has no partition: every such pod goes (the controller makes it at the target).
        (
            sts({"type": "OnDelete", "rollingUpdate": {"partition": 3}}),
            [pod("db-1"), pod("db-2")],
            ["db-1", "db-2"],
        ),
    ],
)
def test_forced_rollback_pods(workload, pods, expected):
    assert [p["metadata"]["name"] for p in forced_rollback_pods(workload, pods, "db-good")] == expected


@pytest.mark.parametrize(
    "metadata, expected",
    [
        ({"name": "db-2"}, 2),
        ({"name": "db-12"}, 12),
        ({"name": "db-2", "labels": {"apps.kubernetes.io/pod-index": "7"}}, 7),
        ({"name": "other-2"}, None),
        ({"name": "db-x"}, None),
    ],
)
def test_pod_ordinal(metadata, expected):
    assert pod_ordinal("db", {"metadata": metadata}) == expected
