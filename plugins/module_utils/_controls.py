# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass
from typing import Any

from ._revisions import find_new_replica_set, find_old_replica_sets, owned_by, revision
from ._status import PROGRESS_DEADLINE_EXCEEDED, deployment_status, pod_problems, unrecoverable
from ._workloads import pod_ready

# What rollout_control decides, on plain dicts and without a clock (the time comes in).
#
#   pause / resume  spec.paused, as kubectl rollout pause|resume (Deployments only)
#   restart         the kubectl.kubernetes.io/restartedAt pod-template annotation, as kubectl
#                   rollout restart; a new revision every time (all three kinds)
#   retry           oc rollout retry for a Deployment: the failed rollout of the current
#                   revision runs again, without a new revision (see retry_plan)
#   cancel          oc rollout cancel for a Deployment: back to the last complete revision
#                   (see cancel_target)

ACTIONS = ("pause", "resume", "restart", "retry", "cancel")
DEPLOYMENT_ONLY_ACTIONS = ("pause", "resume", "retry", "cancel")

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
# spec.progressDeadlineSeconds that means "no deadline" to the Deployment controller: it then
# removes the Progressing condition (syncRolloutStatus, HasProgressDeadline).
NO_PROGRESS_DEADLINE = 2147483647

JSONDict = dict[str, Any]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(obj: dict[str, Any]) -> str:
    return str(_dict(obj.get("metadata")).get("name") or "")


def _resource_version(obj: dict[str, Any]) -> Any:
    return _dict(obj.get("metadata")).get("resourceVersion")


# --- pause and resume -----------------------------------------------------------------


def paused(deployment: dict[str, Any]) -> bool:
    return _dict(deployment.get("spec")).get("paused") is True


def pause_patch(deployment: dict[str, Any], pause: bool) -> JSONDict | None:
    """The merge patch setting spec.paused to ``pause``, guarded by resourceVersion; None if it is so."""
    if paused(deployment) == pause:
        return None
    return {"metadata": {"resourceVersion": _resource_version(deployment)}, "spec": {"paused": pause}}


# --- restart ----------------------------------------------------------------------------


def restart_refusal(kind: str, workload: dict[str, Any]) -> str | None:
    """kubectl refuses to restart a paused Deployment (the new template would not roll out)."""
    if kind == "Deployment" and paused(workload):
        return (
            f"cannot restart paused deployment/{_name(workload)}: resume it first "
            "(action: resume, or kubectl rollout resume)"
        )
    return None


def restarted_at(now: float, previous: Any = None) -> str:
    """kubectl's restartedAt value: RFC 3339 to the second, UTC ("2026-11-23T10:00:00Z").

    A restart in the same second as the one before would write the same value and change
    nothing; it then gets milliseconds (still RFC 3339), so every restart is a new revision.
    """
    stamp = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    value = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value == previous:
        value = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return value


def restart_patch(workload: dict[str, Any], stamp: str) -> JSONDict:
    """The strategic merge patch kubectl rollout restart sends, guarded by resourceVersion."""
    return {
        "metadata": {"resourceVersion": _resource_version(workload)},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}},
    }


def current_restarted_at(workload: dict[str, Any]) -> Any:
    template = _dict(_dict(workload.get("spec")).get("template"))
    return _dict(_dict(template.get("metadata")).get("annotations")).get(RESTARTED_AT_ANNOTATION)


# --- retry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPlan:
    """What retrying a Deployment's rollout does.

    ``failed``: whether there is a failed rollout to retry; ``reason`` why it failed
    (ProgressDeadlineExceeded, or the first pod reason that waiting does not cure);
    ``restart_deadline``: the controller reported ProgressDeadlineExceeded, so its progress
    clock is restarted; ``pods``: the new revision's pods that are not ready, deleted so the
    ReplicaSet makes fresh ones (no crash-loop or image-pull back-off left).
    """

    failed: bool
    reason: str | None
    message: str
    restart_deadline: bool
    pods: tuple[JSONDict, ...]


def retry_plan(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> RetryPlan:
    """OpenShift's oc rollout retry, for a Deployment.

    oc refuses a rollout that has not failed ("only failed deployments can be retried"),
    deletes the failed deployment's deployer and hook pods and marks it New, so the same
    revision is deployed again. Here the controller keeps going after a failure, so a
    retry means: fresh pods for the new revision's not-ready ones, and, when the controller
    gave up (ProgressDeadlineExceeded, which it never clears by itself without progress), a
    new progress deadline. No new revision. A rollout that has not failed has nothing to retry.
    """
    status = deployment_status(deployment)
    new_rs = find_new_replica_set(deployment, replica_sets)
    uid = str(_dict((new_rs or {}).get("metadata")).get("uid") or "")
    new_pods = [
        pod
        for pod in pods
        if uid
        and owned_by(pod, uid)
        and not _dict(pod.get("metadata")).get("deletionTimestamp")
        and _dict(pod.get("status")).get("phase") not in ("Succeeded",)
    ]
    broken = unrecoverable(pod_problems(new_pods))
    deadline = status.failure == PROGRESS_DEADLINE_EXCEEDED
    if not deadline and not broken:
        return RetryPlan(False, None, status.message, False, ())
    not_ready = tuple(
        sorted(
            (pod for pod in new_pods if not pod_ready(pod)),
            key=_name,
        )
    )
    reason = PROGRESS_DEADLINE_EXCEEDED if deadline else broken[0].reason
    return RetryPlan(True, reason, status.message, deadline, not_ready)


def progress_deadline_patch(deployment: dict[str, Any], seconds: int) -> JSONDict:
    """The merge patch setting spec.progressDeadlineSeconds, guarded by resourceVersion."""
    return {
        "metadata": {"resourceVersion": _resource_version(deployment)},
        "spec": {"progressDeadlineSeconds": seconds},
    }


def progress_condition_cleared(deployment: dict[str, Any]) -> bool:
    """The controller has seen the current spec and reports no ProgressDeadlineExceeded."""
    metadata, status = _dict(deployment.get("metadata")), _dict(deployment.get("status"))
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        return False
    return deployment_status(deployment).failure != PROGRESS_DEADLINE_EXCEEDED


# --- cancel -----------------------------------------------------------------------------


def rollout_in_progress(deployment: dict[str, Any]) -> bool:
    """A rollout that is not complete by kubectl's done-test (failed ones included)."""
    return not deployment_status(deployment).done


def cancel_target(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> JSONDict | None:
    """The revision a cancelled rollout goes back to: the last complete one, as far as it shows.

    The Deployment does not record which revision last completed. The one that was serving
    when the rollout began still has its pods while the rollout runs, so: the old ReplicaSet
    with the most available pods (the newest on a tie). When no old pod is available (the
    Recreate strategy scaled them to 0, or the rollout has already replaced them all), the
    newest old revision, which is kubectl's "previous revision". None without old revisions.

        revisions 1 (0 pods), 2 (3 available), 3 in progress (1)  -> 2
        1 (2 available), 2 interrupted (1 available), 3 (1)       -> 1
        Recreate: 1 (0), 2 (0), 3 in progress                      -> 2
    """
    old = [rs for rs in find_old_replica_sets(deployment, replica_sets) if revision(rs) > 0]
    if not old:
        return None

    def key(rs: dict[str, Any]) -> tuple[int, int]:
        available = _dict(rs.get("status")).get("availableReplicas")
        return (available if isinstance(available, int) else 0, revision(rs))

    return copy.deepcopy(max(old, key=key))


__all__ = [
    "ACTIONS",
    "DEPLOYMENT_ONLY_ACTIONS",
    "NO_PROGRESS_DEADLINE",
    "RESTARTED_AT_ANNOTATION",
    "RetryPlan",
    "cancel_target",
    "current_restarted_at",
    "pause_patch",
    "paused",
    "progress_condition_cleared",
    "progress_deadline_patch",
    "restart_patch",
    "restart_refusal",
    "restarted_at",
    "retry_plan",
    "rollout_in_progress",
]
