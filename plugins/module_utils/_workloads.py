# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ansible_collections.openrollout.k8s.plugins.module_utils._revisions import (
    CHANGE_CAUSE_ANNOTATION,
    RevisionNotFound,
    equal_ignore_hash,
    find_new_replica_set,
    history,
    images_of,
    owned_by,
    template_without_hash,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._status import (
    PodProblem,
    RolloutStatus,
    deployment_status,
    pod_problems,
    replica_set_problems,
    summarize_problems,
    unrecoverable,
)

# Rollout status and revision history of the three workloads that have revisions,
# on the API's JSON dicts, the way `kubectl rollout status|history` read them
# (kubectl v0.36 pkg/polymorphichelpers: rollout_status.go, history.go).
#
#   Deployment   revisions are its ReplicaSets (controller ownerReference, never labels);
#                number = the deployment.kubernetes.io/revision annotation (_revisions.py).
#   StatefulSet  revisions are ControllerRevisions it controls; number = .revision;
#   DaemonSet    pod template = .data.spec.template (the controllers store
#                {"spec": {"template": {..., "$patch": "replace"}}}); change-cause = the
#                ControllerRevision's own annotation, as kubectl shows it.
#
# "Current" is the revision whose template is the workload's template now (the
# Deployment controller's FindNewReplicaSet; the DaemonSet controller's Match). When no
# stored template equals it and the controller has observed the spec, the StatefulSet's
# status.updateRevision, or a DaemonSet's highest revision (both controllers renumber the
# revision they roll out to max + 1).
#
# Pods of a revision: a ReplicaSet's are the pods it controls; a ControllerRevision's are
# the workload's pods labelled controller-revision-hash with the StatefulSet revision's
# name (db-f97fb7694) or the DaemonSet revision's hash label (856668f66c).
#
# Time is passed in (``now``, epoch seconds). Nothing here is mutated.

DEPLOYMENT = "Deployment"
STATEFUL_SET = "StatefulSet"
DAEMON_SET = "DaemonSet"
KINDS = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET)

ROLLING_UPDATE = "RollingUpdate"
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
# kubectl's error for OnDelete StatefulSets and DaemonSets (it names the StatefulSet
# constant for both; the value is the same).
UNSUPPORTED_STRATEGY_MESSAGE = f"rollout status is only available for {ROLLING_UPDATE} strategy type"

JSONDict = dict[str, Any]


# --- small accessors ------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(mapping: dict[str, Any], key: str) -> int:
    value = mapping.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def _opt_int(mapping: dict[str, Any], key: str) -> int | None:
    value = mapping.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("metadata"))


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("spec"))


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("status"))


def _name(obj: dict[str, Any]) -> str:
    return str(_metadata(obj).get("name") or "")


def _uid(obj: dict[str, Any]) -> str:
    return str(_metadata(obj).get("uid") or "")


def parse_time(value: Any) -> float | None:
    """An API timestamp ("2026-11-23T15:24:08Z") as epoch seconds; None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    # Python < 3.11 does not read the "Z" suffix the API server writes.
    iso = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def describe_object(kind: str, obj: dict[str, Any]) -> str:
    """'Deployment ns/web': how messages name a workload."""
    namespace = _metadata(obj).get("namespace")
    name = _name(obj) or "<unnamed>"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# --- label selectors ------------------------------------------------------------------


def selector_string(selector: dict[str, Any]) -> str:
    """A LabelSelector as the string the API's ``labelSelector`` parameter takes.

    {"matchLabels": {"app": "web"},
     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                          {"key": "canary", "operator": "DoesNotExist"}]}
        -> "app=web,tier in (a,b),!canary"

    An empty selector gives "" (everything), as metav1.LabelSelectorAsSelector does.
    An unknown operator is a ValueError.
    """
    parts = [f"{key}={value}" for key, value in sorted(_dict(selector.get("matchLabels")).items())]
    for expression in _list(selector.get("matchExpressions")):
        expression = _dict(expression)
        key = str(expression.get("key") or "")
        operator = expression.get("operator")
        values = ",".join(sorted(str(v) for v in _list(expression.get("values"))))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise ValueError(f"label selector operator {operator!r} for key {key!r} is not supported")
    return ",".join(parts)


# --- pods -----------------------------------------------------------------------------


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's Ready condition is True."""
    for condition in _list(_dict(pod.get("status")).get("conditions")):
        if _dict(condition).get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def pod_available(pod: dict[str, Any], min_ready_seconds: int, now: float) -> bool:
    """Ready for at least ``min_ready_seconds`` (the controllers' IsPodAvailable).

    With minReadySeconds 10, a pod Ready since 12:00:00 is available from 12:00:10 on.
    """
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    for condition in _list(_status(pod).get("conditions")):
        if _dict(condition).get("type") == "Ready":
            since = parse_time(condition.get("lastTransitionTime"))
            return since is not None and since + min_ready_seconds <= now
    return False


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [pod for pod in pods if not _metadata(pod).get("deletionTimestamp")]


# --- ControllerRevisions (StatefulSet, DaemonSet) -------------------------------------


def controller_revision_number(revision: dict[str, Any]) -> int:
    """The ControllerRevision's .revision (0 when missing)."""
    return max(_int(revision, "revision"), 0)


def controller_revision_template(revision: dict[str, Any]) -> dict[str, Any]:
    """The pod template a ControllerRevision stores, without the "$patch" directive."""
    template = copy.deepcopy(_dict(_dict(_dict(revision.get("data")).get("spec")).get("template")))
    template.pop("$patch", None)
    return template


def _sort_key(obj: dict[str, Any], number: int) -> tuple[int, float, str]:
    created = parse_time(_metadata(obj).get("creationTimestamp"))
    return number, float("-inf") if created is None else created, _name(obj)


def owned_controller_revisions(
    workload: dict[str, Any], revisions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The workload's ControllerRevisions (controller ownerReference), by revision then age."""
    uid = _uid(workload)
    owned = [cr for cr in revisions if owned_by(cr, uid)]
    return sorted(owned, key=lambda cr: _sort_key(cr, controller_revision_number(cr)))


def find_current_controller_revision(
    kind: str, workload: dict[str, Any], revisions: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The ControllerRevision of the workload's current template, or None.

    The highest-numbered one whose template equals the workload's. Failing that, once the
    controller has observed the spec: the StatefulSet's status.updateRevision (by name),
    or the DaemonSet's highest revision.
    """
    owned = owned_controller_revisions(workload, revisions)
    template = _dict(_spec(workload).get("template"))
    matches = [cr for cr in owned if equal_ignore_hash(controller_revision_template(cr), template)]
    if matches:
        return matches[-1]
    metadata, status = _metadata(workload), _status(workload)
    if not owned or _int(status, "observedGeneration") < _int(metadata, "generation"):
        return None
    if kind == STATEFUL_SET:
        update = status.get("updateRevision")
        return next((cr for cr in reversed(owned) if _name(cr) == update), None)
    if kind == DAEMON_SET:
        return owned[-1]
    return None


def revision_pod_label(kind: str, revision: dict[str, Any]) -> str:
    """The controller-revision-hash label value the revision's pods carry.

    StatefulSet pods carry the ControllerRevision's name; DaemonSet pods its hash label
    (the name's suffix when the label is missing).
    """
    if kind == STATEFUL_SET:
        return _name(revision)
    labels = _dict(_metadata(revision).get("labels"))
    value = labels.get(CONTROLLER_REVISION_HASH_LABEL)
    if isinstance(value, str) and value:
        return value
    return _name(revision).rsplit("-", 1)[-1]


def pods_of_controller_revision(
    kind: str, workload: dict[str, Any], revision: dict[str, Any], pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The workload's live pods at ``revision``."""
    uid, label = _uid(workload), revision_pod_label(kind, revision)
    return [
        pod
        for pod in _live(pods)
        if owned_by(pod, uid)
        and _dict(_metadata(pod).get("labels")).get(CONTROLLER_REVISION_HASH_LABEL) == label
    ]


def _change_cause(obj: dict[str, Any]) -> str | None:
    cause = _dict(_metadata(obj).get("annotations")).get(CHANGE_CAUSE_ANNOTATION)
    return cause if isinstance(cause, str) and cause else None


def controller_revision_history(
    kind: str,
    workload: dict[str, Any],
    revisions: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    now: float,
) -> list[JSONDict]:
    """One entry per ControllerRevision of a StatefulSet or DaemonSet, oldest revision first.

    The keys of _revisions.history's entries; the counts are the workload's pods at that
    revision (replicas: live pods, ready_replicas, available_replicas after minReadySeconds).
    """
    current = find_current_controller_revision(kind, workload, revisions)
    min_ready = _int(_spec(workload), "minReadySeconds")
    entries: list[JSONDict] = []
    for cr in owned_controller_revisions(workload, revisions):
        at_revision = pods_of_controller_revision(kind, workload, cr, pods)
        entries.append(
            {
                "revision": controller_revision_number(cr),
                "change_cause": _change_cause(cr),
                "images": images_of(controller_revision_template(cr)),
                "created": _metadata(cr).get("creationTimestamp"),
                "replicas": len(at_revision),
                "ready_replicas": sum(1 for pod in at_revision if pod_ready(pod)),
                "available_replicas": sum(1 for pod in at_revision if pod_available(pod, min_ready, now)),
                "current": current is not None and _name(cr) == _name(current),
                "name": _name(cr),
            }
        )
    return entries


# --- the done-tests (kubectl rollout status) ------------------------------------------


def statefulset_status(sts: dict[str, Any]) -> RolloutStatus:
    """kubectl rollout status for a StatefulSet, message for message.

    In order:
      updateStrategy not RollingUpdate (OnDelete)
          -> "rollout status is only available for RollingUpdate strategy type"
             (kubectl's error; not done: only deleting the pods makes progress)
      observedGeneration 0 or behind generation
          -> "Waiting for statefulset spec update to be observed..."
      readyReplicas < spec.replicas
          -> "Waiting for 2 pods to be ready..."
      rollingUpdate given: updatedReplicas < replicas - partition
          -> "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated..."
          otherwise done -> "partitioned roll out complete: 3 new pods have been updated..."
          (the API server always defaults rollingUpdate.partition to 0, so this is the usual end;
          replicas 5, partition 3: done once the 2 highest ordinals are updated and all 5 ready)
      no rollingUpdate: updateRevision != currentRevision
          -> "waiting for statefulset rolling update to complete 2 pods at revision db-7c9...",
          otherwise done -> "statefulset rolling update complete 3 pods at revision db-7c9..."
    """
    spec, status, metadata = _spec(sts), _status(sts), _metadata(sts)
    strategy = _dict(spec.get("updateStrategy"))
    if strategy.get("type") != ROLLING_UPDATE:
        return RolloutStatus(False, UNSUPPORTED_STRATEGY_MESSAGE, None)
    observed = _int(status, "observedGeneration")
    if observed == 0 or _int(metadata, "generation") > observed:
        return RolloutStatus(False, "Waiting for statefulset spec update to be observed...", None)
    replicas = _opt_int(spec, "replicas")
    ready = _int(status, "readyReplicas")
    if replicas is not None and ready < replicas:
        return RolloutStatus(False, f"Waiting for {replicas - ready} pods to be ready...", None)
    updated = _int(status, "updatedReplicas")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, dict):
        partition = _opt_int(rolling, "partition")
        if replicas is not None and partition is not None and updated < replicas - partition:
            return RolloutStatus(
                False,
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {replicas - partition} new pods have been updated...",
                None,
            )
        return RolloutStatus(
            True, f"partitioned roll out complete: {updated} new pods have been updated...", None
        )
    update_revision = str(status.get("updateRevision") or "")
    current_revision = str(status.get("currentRevision") or "")
    if update_revision != current_revision:
        return RolloutStatus(
            False,
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {update_revision}...",
            None,
        )
    return RolloutStatus(
        True,
        f"statefulset rolling update complete {_int(status, 'currentReplicas')} pods "
        f"at revision {current_revision}...",
        None,
    )


def daemonset_status(ds: dict[str, Any]) -> RolloutStatus:
    """kubectl rollout status for a DaemonSet, message for message.

    In order:
      updateStrategy not RollingUpdate (OnDelete)
          -> "rollout status is only available for RollingUpdate strategy type" (not done)
      generation > observedGeneration
          -> "Waiting for daemon set spec update to be observed..."
      updatedNumberScheduled < desiredNumberScheduled
          -> 'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...'
      numberAvailable < desiredNumberScheduled
          -> 'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...'
      otherwise done -> 'daemon set "agent" successfully rolled out'
    """
    spec, status, metadata = _spec(ds), _status(ds), _metadata(ds)
    if _dict(spec.get("updateStrategy")).get("type") != ROLLING_UPDATE:
        return RolloutStatus(False, UNSUPPORTED_STRATEGY_MESSAGE, None)
    if _int(metadata, "generation") > _int(status, "observedGeneration"):
        return RolloutStatus(False, "Waiting for daemon set spec update to be observed...", None)
    name = _name(ds)
    desired = _int(status, "desiredNumberScheduled")
    updated = _int(status, "updatedNumberScheduled")
    available = _int(status, "numberAvailable")
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return RolloutStatus(
            False, f"{waiting}{updated} out of {desired} new pods have been updated...", None
        )
    if available < desired:
        return RolloutStatus(False, f"{waiting}{available} of {desired} updated pods are available...", None)
    return RolloutStatus(True, f'daemon set "{name}" successfully rolled out', None)


def rollout_status(kind: str, workload: dict[str, Any]) -> RolloutStatus:
    """kubectl's done-test for ``kind`` (one of KINDS)."""
    if kind == DEPLOYMENT:
        return deployment_status(workload)
    if kind == STATEFUL_SET:
        return statefulset_status(workload)
    if kind == DAEMON_SET:
        return daemonset_status(workload)
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def replica_counts(kind: str, workload: dict[str, Any]) -> dict[str, int | None]:
    """desired / updated / ready / available pods, from the workload's status.

    DaemonSets: desiredNumberScheduled, updatedNumberScheduled, numberReady, numberAvailable.
    desired is None when a Deployment or StatefulSet leaves spec.replicas unset.
    """
    spec, status = _spec(workload), _status(workload)
    if kind == DAEMON_SET:
        return {
            "desired": _int(status, "desiredNumberScheduled"),
            "updated": _int(status, "updatedNumberScheduled"),
            "ready": _int(status, "numberReady"),
            "available": _int(status, "numberAvailable"),
        }
    return {
        "desired": _opt_int(spec, "replicas"),
        "updated": _int(status, "updatedReplicas"),
        "ready": _int(status, "readyReplicas"),
        "available": _int(status, "availableReplicas"),
    }


# --- the newest revision and what keeps it from coming up -----------------------------


def _controlled_pods(owner: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uid = _uid(owner)
    return [pod for pod in _live(pods) if owned_by(pod, uid)]


def newest_revision_pods(
    kind: str,
    workload: dict[str, Any],
    children: list[dict[str, Any]],
    pods: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The live pods of the revision being rolled out to (empty before it exists).

    ``children``: the namespace's ReplicaSets for a Deployment, ControllerRevisions otherwise
    (only those the workload controls count).
    """
    if kind == DEPLOYMENT:
        new_rs = find_new_replica_set(workload, children)
        return [] if new_rs is None else _controlled_pods(new_rs, pods)
    current = find_current_controller_revision(kind, workload, children)
    return [] if current is None else pods_of_controller_revision(kind, workload, current, pods)


def rollout_problems(
    kind: str,
    workload: dict[str, Any],
    children: list[dict[str, Any]],
    pods: list[dict[str, Any]],
) -> list[PodProblem]:
    """Why the newest revision's pods do not come up (CrashLoopBackOff, Unschedulable...).

    For a Deployment also the new ReplicaSet's ReplicaFailure (FailedCreate, QuotaExceeded).
    """
    problems: list[PodProblem] = []
    if kind == DEPLOYMENT:
        new_rs = find_new_replica_set(workload, children)
        if new_rs is not None:
            problems.extend(replica_set_problems(new_rs))
    problems.extend(pod_problems(newest_revision_pods(kind, workload, children, pods)))
    return problems


def _problem_dict(problem: PodProblem) -> JSONDict:
    return {
        "pod": problem.pod or None,
        "container": problem.container,
        "reason": problem.reason,
        "message": problem.message,
    }


def status_report(
    kind: str,
    workload: dict[str, Any],
    children: list[dict[str, Any]],
    pods: list[dict[str, Any]],
) -> JSONDict:
    """The ``status`` the rollout_info module returns for one workload.

    done / message: kubectl's done-test and message. reason: ProgressDeadlineExceeded when
    the Deployment controller gave up, else None. problems: what keeps the newest
    revision's pods from coming up. stuck: not done and waiting will not help (the
    deadline passed, or a pod problem that does not clear by itself, like CrashLoopBackOff).
    """
    status = rollout_status(kind, workload)
    problems = rollout_problems(kind, workload, children, pods)
    return {
        "done": status.done,
        "message": status.message,
        "reason": status.failure,
        "stuck": not status.done and (status.failure is not None or bool(unrecoverable(problems))),
        "problems": [_problem_dict(problem) for problem in problems],
        "problems_summary": summarize_problems(problems),
        "replicas": replica_counts(kind, workload),
    }


# --- history and one revision in detail -----------------------------------------------


def revision_history(
    kind: str,
    workload: dict[str, Any],
    children: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    now: float,
) -> list[JSONDict]:
    """kubectl rollout history as data: one entry per revision, oldest first.

    Keys: revision, change_cause, images, created, replicas, ready_replicas,
    available_replicas, current, name (see _revisions.history and controller_revision_history).
    """
    if kind == DEPLOYMENT:
        return history(workload, children)
    return controller_revision_history(kind, workload, children, pods, now)


def _revision_objects(workload: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> ReplicaSet or ControllerRevision the workload controls."""
    uid = _uid(workload)
    return {_name(child): child for child in children if owned_by(child, uid)}


def revision_detail(
    kind: str,
    workload: dict[str, Any],
    children: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    number: int,
    now: float,
) -> JSONDict:
    """One revision in detail: its history entry plus ``annotations`` and ``template``.

    The template is the workload's pod template at that revision: a ReplicaSet's without
    the pod-template-hash label it adds, a ControllerRevision's without "$patch". When
    several objects claim the number (manual edits), the newest wins, as in kubectl.
    RevisionNotFound lists the revisions that exist.
    """
    entries = revision_history(kind, workload, children, pods, now)
    matches = [entry for entry in entries if entry["revision"] == number]
    available = sorted({entry["revision"] for entry in entries if entry["revision"] > 0})
    if number <= 0 or not matches:
        listed = ", ".join(str(n) for n in available) if available else "none"
        what = describe_object(kind, workload)
        raise RevisionNotFound(
            f"revision {number} not found for {what}; revisions available: {listed}",
            available,
            number,
        )
    entry = dict(matches[-1])
    obj = _revision_objects(workload, children)[entry["name"]]
    if kind == DEPLOYMENT:
        template = template_without_hash(_dict(_spec(obj).get("template")))
    else:
        template = controller_revision_template(obj)
    entry["annotations"] = dict(_dict(_metadata(obj).get("annotations")))
    entry["template"] = template
    return entry


def describe_workload(
    kind: str,
    workload: dict[str, Any],
    children: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    now: float,
    revision: int | None = None,
) -> JSONDict:
    """Everything rollout_info returns about one workload.

    ``children``: ReplicaSets (Deployment) or ControllerRevisions (StatefulSet, DaemonSet)
    of its namespace, ``pods``: its pods (by its selector); objects it does not control
    are ignored. ``revision``: also return that revision in detail (RevisionNotFound if
    it does not exist).
    """
    metadata = _metadata(workload)
    entries = revision_history(kind, workload, children, pods, now)
    current = next((entry["revision"] for entry in reversed(entries) if entry["current"]), None)
    result: JSONDict = {
        "kind": kind,
        "name": _name(workload),
        "namespace": metadata.get("namespace"),
        "uid": metadata.get("uid"),
        "paused": _spec(workload).get("paused") is True,
        "status": status_report(kind, workload, children, pods),
        "current_revision": current,
        "history": entries,
    }
    if revision is not None:
        result["revision_detail"] = revision_detail(kind, workload, children, pods, revision, now)
    return result


# --- undo (rollout_undo for StatefulSets and DaemonSets) ------------------------------
#
# kubectl (polymorphichelpers/rollback.go, StatefulSetRollbacker and DaemonSetRollbacker):
# the target is the ControllerRevision numbered ``to_revision``, or the second-highest one;
# "skipped rollback" when the workload's template is the one stored; else the workload is
# patched with the ControllerRevision's data as a strategic merge patch. That data is
# {"spec": {"template": {..., "$patch": "replace"}}}, so the whole template is replaced
# and nothing else (kubectl does not touch the workload's annotations here). The
# controller then gives that ControllerRevision the next number, max + 1.

# Revisions a ControllerRevision had before an undo renumbered it ("1,4"), kept by
# rollout_undo in the manner of the Deployment controller's revision-history annotation on
# ReplicaSets, so that undoing to the same revision twice finds it.
UNDO_HISTORY_ANNOTATION = "openrollout.k8s/revision-history"


def _kind_name(kind: str, workload: dict[str, Any]) -> str:
    return f"{kind.lower()}/{_name(workload) or '<unnamed>'}"


def undo_history(revision: dict[str, Any]) -> list[int]:
    """The numbers a ControllerRevision had before (UNDO_HISTORY_ANNOTATION), oldest first."""
    value = _dict(_metadata(revision).get("annotations")).get(UNDO_HISTORY_ANNOTATION)
    numbers = []
    for part in value.split(",") if isinstance(value, str) else []:
        try:
            number = int(part.strip())
        except ValueError:
            continue
        if number > 0:
            numbers.append(number)
    return numbers


def controller_revision_undo_target(
    kind: str,
    workload: dict[str, Any],
    revisions: list[dict[str, Any]],
    to_revision: int | None,
) -> dict[str, Any]:
    """The ControllerRevision to roll back to, by kubectl's rule.

    ``to_revision`` None or 0: the second-highest revision (revisions 1, 2, 4 -> 2).
    Otherwise that revision; when an earlier undo renumbered it, the one whose
    UNDO_HISTORY_ANNOTATION holds it. When several claim a number, the newest.
    RevisionNotFound lists the revisions that exist.
    """
    owned = owned_controller_revisions(workload, revisions)
    available = sorted({controller_revision_number(cr) for cr in owned if controller_revision_number(cr) > 0})
    listed = ", ".join(str(n) for n in available) if available else "none"
    name = _kind_name(kind, workload)
    if not to_revision:
        if len(owned) < 2:
            raise RevisionNotFound(
                f"no previous revision to roll back to for {name}; revisions available: {listed}",
                available,
                None,
            )
        return owned[-2]
    matches = [cr for cr in owned if controller_revision_number(cr) == to_revision]
    if not matches:
        matches = [cr for cr in owned if to_revision in undo_history(cr)]
    if to_revision < 0 or not matches:
        raise RevisionNotFound(
            f"revision {to_revision} not found for {name}; revisions available: {listed}",
            available,
            to_revision,
        )
    return matches[-1]


def controller_revision_matches(workload: dict[str, Any], revision: dict[str, Any]) -> bool:
    """The workload's template is the one the ControllerRevision stores (kubectl's *Match)."""
    return equal_ignore_hash(controller_revision_template(revision), _dict(_spec(workload).get("template")))


def controller_revision_patch(revision: dict[str, Any], resource_version: str) -> dict[str, Any]:
    """kubectl's rollback patch (the ControllerRevision's data), guarded by ``resource_version``.

    Send it as application/strategic-merge-patch+json: the "$patch": "replace" inside
    replaces the whole pod template. A resourceVersion in a patch makes the API server
    answer 409 Conflict when the object has changed since.
    """
    patch = copy.deepcopy(_dict(revision.get("data")))
    patch["metadata"] = {"resourceVersion": resource_version}
    return patch


def undo_history_patch(revision: dict[str, Any]) -> dict[str, Any] | None:
    """The merge patch recording the ControllerRevision's number in UNDO_HISTORY_ANNOTATION.

    None when it is already the last entry. Guarded by the ControllerRevision's resourceVersion.
    """
    number = controller_revision_number(revision)
    history = undo_history(revision)
    if number <= 0 or (history and history[-1] == number):
        return None
    value = ",".join(str(n) for n in [*history, number])
    return {
        "metadata": {
            "resourceVersion": _metadata(revision).get("resourceVersion"),
            "annotations": {UNDO_HISTORY_ANNOTATION: value},
        }
    }


def next_controller_revision(workload: dict[str, Any], revisions: list[dict[str, Any]]) -> int:
    """The number the controller gives a rollback: the highest of the workload's revisions + 1."""
    owned = owned_controller_revisions(workload, revisions)
    return max((controller_revision_number(cr) for cr in owned), default=0) + 1


__all__ = [
    "CONTROLLER_REVISION_HASH_LABEL",
    "DAEMON_SET",
    "DEPLOYMENT",
    "KINDS",
    "STATEFUL_SET",
    "UNDO_HISTORY_ANNOTATION",
    "UNSUPPORTED_STRATEGY_MESSAGE",
    "RevisionNotFound",
    "controller_revision_history",
    "controller_revision_matches",
    "controller_revision_number",
    "controller_revision_patch",
    "controller_revision_template",
    "controller_revision_undo_target",
    "daemonset_status",
    "describe_object",
    "describe_workload",
    "find_current_controller_revision",
    "newest_revision_pods",
    "next_controller_revision",
    "owned_controller_revisions",
    "parse_time",
    "pod_available",
    "pod_ready",
    "pods_of_controller_revision",
    "replica_counts",
    "revision_detail",
    "revision_history",
    "revision_pod_label",
    "rollout_problems",
    "rollout_status",
    "selector_string",
    "statefulset_status",
    "status_report",
    "undo_history",
    "undo_history_patch",
]
