# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
from typing import Any

from ._fenceposts import FencepostError, is_zero
from ._revisions import owned_by
from ._strategy import Strategy, StrategyError
from ._workloads import CONTROLLER_REVISION_HASH_LABEL, pod_ready

# What the rollout module decides for a StatefulSet or DaemonSet, on plain dicts: how the
# DeploymentConfig-style ``strategy`` option (and ``partition``) map onto the workload's native
# ``spec.updateStrategy``, and what a rollout of it looks like. Pure; the engine
# (_workload_engine.py) acts on these answers.
#
#   strategy.type Rolling         -> updateStrategy.type RollingUpdate
#   strategy.type OnDelete        -> updateStrategy.type OnDelete (pods take the template when deleted)
#   strategy.type Recreate/Custom -> an error that says what to use instead
#   no strategy.type              -> the native type is kept (the definition's, else the live one)
#   rollingParams.maxUnavailable  -> rollingUpdate.maxUnavailable (both kinds)
#   rollingParams.maxSurge        -> rollingUpdate.maxSurge (DaemonSet; alone, maxUnavailable 0)
#   partition                     -> rollingUpdate.partition (StatefulSet)
#
# Only the fields the user gives are written: the API server's defaults (StatefulSet partition 0,
# DaemonSet maxUnavailable 1 and maxSurge 0) stay the defaults, not DeploymentConfig's 25%.

STATEFUL_SET = "StatefulSet"
DAEMON_SET = "DaemonSet"
WORKLOAD_KINDS = (STATEFUL_SET, DAEMON_SET)
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"

JSONDict = dict[str, Any]

_HOW_PODS_GO = {
    STATEFUL_SET: "its controller replaces the pods one ordinal at a time, highest first",
    DAEMON_SET: "its controller replaces the pod of each node in turn",
}
_INSTEAD = {
    STATEFUL_SET: "use type Rolling (updateStrategy RollingUpdate, with partition for a staged rollout) "
    "or OnDelete",
    DAEMON_SET: "use type Rolling (updateStrategy RollingUpdate, with maxUnavailable or maxSurge) "
    "or OnDelete",
}


def _fold(value: Any) -> str:
    return str(value).replace("_", "").replace("-", "").lower()


def _given(block: Any, *names: str) -> tuple[str, Any] | None:
    """The first of ``names`` set (not None) in ``block``, as (name, value)."""
    if not isinstance(block, dict):
        return None
    for name in names:
        if block.get(name) is not None:
            return name, block[name]
    return None


def workload_strategy(
    kind: str, raw: dict[str, Any] | None, partition: int | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Split the ``strategy`` option for a StatefulSet or DaemonSet.

    Returns (the strategy block for parse_strategy, hooks and timeoutSeconds; the
    updateStrategy fields the task sets, None when it sets none). StrategyError says what a
    workload of ``kind`` cannot do and what to write instead.

    Examples (DaemonSet):
        {"type": "Rolling", "rollingParams": {"maxSurge": 1}}
            -> ({"rollingParams": {"maxSurge": 1}},
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
        {"rollingParams": {"pre": {...}}} -> ({"rollingParams": {"pre": {...}}}, None)
    """
    if kind not in WORKLOAD_KINDS:
        raise ValueError(f"workload_strategy is for {' and '.join(WORKLOAD_KINDS)}, not {kind}")
    overlay: dict[str, Any] = {}
    rolling_update: dict[str, Any] = {}
    parse: dict[str, Any] | None = None
    native_type: str | None = None
    if raw is not None:
        if not isinstance(raw, dict):
            raise StrategyError(f"strategy must be a dict, got {type(raw).__name__}")
        parse = copy.deepcopy(raw)
        type_given = _given(raw, "type")
        recreate = _given(raw, "recreateParams", "recreate_params")
        custom = _given(raw, "customParams", "custom_params")
        folded = _fold(type_given[1]) if type_given else None
        if folded == "recreate" or (recreate and folded is None):
            raise StrategyError(
                f"a {kind} has no Recreate strategy: {_HOW_PODS_GO[kind]}; {_INSTEAD[kind]}. "
                "To stop every pod first, scale to 0 and back"
            )
        if recreate:
            raise StrategyError(
                f"strategy.{recreate[0]} is for the Recreate strategy, which a {kind} has not"
            )
        if folded == "custom" or custom:
            raise StrategyError(
                f"a {kind} has no Custom strategy: the deployer runs while a paused Deployment waits, "
                f"and a {kind} cannot be paused; {_INSTEAD[kind]}"
            )
        if folded in ("rolling", "rollingupdate"):
            native_type = ROLLING_UPDATE
        elif folded == "ondelete":
            native_type = ON_DELETE
        elif type_given:
            raise StrategyError(
                f"strategy.type {type_given[1]!r} is not a {kind} strategy; "
                "use Rolling (RollingUpdate) or OnDelete"
            )
        parse.pop("type", None)
        params_key = _given(raw, "rollingParams", "rolling_params")
        params = params_key[1] if params_key else {}
        if _given(params, "mid"):
            raise StrategyError(
                f"strategy.{params_key[0] if params_key else 'rollingParams'}.mid: a {kind} has no mid hook: "
                f"{_HOW_PODS_GO[kind]}, so there is no moment when none of its pods runs (DeploymentConfig's "
                "mid hook needs Recreate); use pre or post"
            )
        surge = _given(params, "maxSurge", "max_surge")
        unavailable = _given(params, "maxUnavailable", "max_unavailable")
        if surge and kind == STATEFUL_SET:
            raise StrategyError(
                f"strategy.rollingParams.{surge[0]}: a StatefulSet has no maxSurge: each ordinal is "
                "replaced in place, never doubled; use maxUnavailable, or partition for a staged rollout"
            )
        if surge:
            rolling_update["maxSurge"] = surge[1]
        if unavailable:
            rolling_update["maxUnavailable"] = unavailable[1]
        if surge and not unavailable and not _zero(surge[1], "maxSurge"):
            # The DaemonSet API refuses maxSurge with a non-zero maxUnavailable, and its default
            # maxUnavailable is 1: surging means keeping every old pod until its successor is ready.
            rolling_update["maxUnavailable"] = 0
    if partition is not None:
        if kind != STATEFUL_SET:
            raise StrategyError(
                f"partition is for StatefulSets (a staged rollout by ordinal); a {kind} updates the pod "
                "of every node"
            )
        if partition < 0:
            raise StrategyError(f"partition must be 0 or more, got {partition}")
        rolling_update["partition"] = partition
    if native_type == ON_DELETE:
        if rolling_update:
            raise StrategyError(
                f"updateStrategy OnDelete takes no {', '.join(sorted(rolling_update))}: the pods take "
                "the new template only when they are deleted; use type Rolling"
            )
        overlay = {"type": ON_DELETE, "rollingUpdate": None}
    elif native_type == ROLLING_UPDATE or rolling_update:
        overlay = {"type": ROLLING_UPDATE}
        if rolling_update:
            overlay["rollingUpdate"] = rolling_update
    return parse, overlay or None


def _zero(value: Any, name: str) -> bool:
    try:
        return is_zero(value)
    except FencepostError as exc:
        raise StrategyError(f"strategy.rollingParams.{name}: {exc}") from None


def merge_update_strategy(base: Any, overlay: dict[str, Any] | None) -> dict[str, Any] | None:
    """The definition's updateStrategy with the task's fields (workload_strategy) on top.

    {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}} + {"rollingUpdate": {"partition": 0}}
        -> {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    OnDelete drops rollingUpdate, which the API refuses with it.
    """
    if overlay is None:
        return copy.deepcopy(base) if isinstance(base, dict) else None
    merged: dict[str, Any] = copy.deepcopy(base) if isinstance(base, dict) else {}
    merged["type"] = overlay["type"]
    if overlay["type"] == ON_DELETE:
        merged.pop("rollingUpdate", None)
        return merged
    if overlay.get("rollingUpdate"):
        current = merged.get("rollingUpdate")
        merged["rollingUpdate"] = {
            **(current if isinstance(current, dict) else {}),
            **overlay["rollingUpdate"],
        }
    return merged


def update_strategy_type(workload: Any) -> str:
    """The workload's updateStrategy type (RollingUpdate, the API's default, when unset)."""
    spec = workload.get("spec") if isinstance(workload, dict) else None
    strategy = spec.get("updateStrategy") if isinstance(spec, dict) else None
    kind = strategy.get("type") if isinstance(strategy, dict) else None
    return str(kind or ROLLING_UPDATE)


def partition_of(workload: Any) -> int:
    """A StatefulSet's rollingUpdate.partition (0 when unset)."""
    spec = workload.get("spec") if isinstance(workload, dict) else {}
    strategy = (spec or {}).get("updateStrategy") or {}
    value = (strategy.get("rollingUpdate") or {}).get("partition")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def dropped_fields(overlay: dict[str, Any] | None, stored: Any) -> list[str]:
    """rollingUpdate fields the task set that the API server did not keep (a feature gate off).

    StatefulSet maxUnavailable is such a field where MaxUnavailableStatefulSet is disabled.
    """
    wanted = (overlay or {}).get("rollingUpdate") or {}
    kept = (stored.get("rollingUpdate") if isinstance(stored, dict) else None) or {}
    return sorted(key for key in wanted if key not in kept)


def check_workload_hooks(kind: str, strategy: Strategy, update_type: str) -> None:
    """Hooks a rollout of this workload can run: no mid (parse refuses it), no post with OnDelete."""
    if update_type == ON_DELETE and "post" in strategy.hooks:
        raise StrategyError(
            f"post hook: the {kind} has updateStrategy OnDelete, so its pods take the new template only when "
            "they are deleted and the rollout never completes on its own; remove the post hook, or use "
            "type Rolling"
        )


def statefulset_update_order(name: str, replicas: int, partition: int) -> list[dict[str, Any]]:
    """The pods a StatefulSet rolling update replaces, in its order: highest ordinal first, down to
    the partition. 5 replicas, partition 3: db-4 then db-3 (db-0 to db-2 keep the old revision)."""
    return [
        {"pod": f"{name}-{ordinal}", "ordinal": ordinal} for ordinal in range(replicas - 1, partition - 1, -1)
    ]


def fully_rolled_out(kind: str, workload: dict[str, Any]) -> bool:
    """Once kubectl's done-test has passed: is every pod at the newest revision?

    A DaemonSet, yes. A StatefulSet, when no partition holds pods back (partition 0), or when
    its controller says so (currentRevision is updateRevision: for example a new StatefulSet, or
    a partition above every ordinal that changed). 5 replicas at partition 3 after a template
    change: no, db-0 to db-2 keep the old revision until a later task lowers the partition.
    """
    if kind != STATEFUL_SET:
        return True
    status = workload.get("status") or {}
    update = status.get("updateRevision")
    return partition_of(workload) == 0 or (bool(update) and status.get("currentRevision") == update)


def pod_ordinal(statefulset_name: str, pod: dict[str, Any]) -> int | None:
    """A StatefulSet pod's ordinal: its apps.kubernetes.io/pod-index label, else its name's end
    (db-2: 2); None when neither says."""
    metadata = pod.get("metadata") or {}
    index = (metadata.get("labels") or {}).get("apps.kubernetes.io/pod-index")
    if isinstance(index, str) and index.isdigit():
        return int(index)
    name = str(metadata.get("name") or "")
    prefix = f"{statefulset_name}-"
    tail = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def forced_rollback_pods(
    statefulset: dict[str, Any], pods: list[dict[str, Any]], revision_name: str
) -> list[dict[str, Any]]:
    """The pods Kubernetes' forced rollback deletes once ``statefulset`` is back at the
    ControllerRevision ``revision_name``, by name.

    With a broken revision, the controller waits for its pod to be Running and Ready before it
    replaces anything, so reverting the template is not enough: the pods already made from the
    broken revision must be deleted, and the controller makes them again from the reverted one
    (the StatefulSet documentation's "Forced rollback"). They are the pods the StatefulSet
    controls (controller reference to its uid), not being deleted, not Ready, at another revision
    (label controller-revision-hash), at an ordinal the controller rolls to ``revision_name``.
    Below a RollingUpdate partition a deleted pod comes back at the current revision, so those
    stay. 3 replicas, db-2 in CrashLoopBackOff at the broken revision, db-0 and db-1 Ready at the
    good one: [db-2]. The same with partition 3: [] (the partition holds every ordinal back).
    """
    uid = str((statefulset.get("metadata") or {}).get("uid") or "")
    partition = partition_of(statefulset) if update_strategy_type(statefulset) == ROLLING_UPDATE else 0
    name = str((statefulset.get("metadata") or {}).get("name") or "")
    chosen = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        if (
            not owned_by(pod, uid)
            or metadata.get("deletionTimestamp")
            or (metadata.get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) == revision_name
            or pod_ready(pod)
        ):
            continue
        ordinal = pod_ordinal(name, pod)
        if partition > 0 and (ordinal is None or ordinal < partition):
            continue
        chosen.append(pod)
    return sorted(chosen, key=lambda pod: str(pod["metadata"].get("name")))


def staged_rollout_under_way(workload: dict[str, Any] | None) -> bool:
    """A StatefulSet some of whose pods are still at an older revision (currentRevision behind
    updateRevision), for example held back by a partition."""
    if workload is None:
        return False
    status = workload.get("status") or {}
    update, current = status.get("updateRevision"), status.get("currentRevision")
    return bool(update) and bool(current) and update != current


__all__ = [
    "DAEMON_SET",
    "ON_DELETE",
    "ROLLING_UPDATE",
    "STATEFUL_SET",
    "WORKLOAD_KINDS",
    "check_workload_hooks",
    "dropped_fields",
    "forced_rollback_pods",
    "fully_rolled_out",
    "merge_update_strategy",
    "partition_of",
    "pod_ordinal",
    "staged_rollout_under_way",
    "statefulset_update_order",
    "update_strategy_type",
    "workload_strategy",
]
