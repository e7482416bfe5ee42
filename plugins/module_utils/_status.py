# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Is the rollout done, stuck, or broken? Pure readings of API objects.
#
# deployment_status() is kubectl's `rollout status` done-test with kubectl's exact
# messages (polymorphichelpers/rollout_status.go). pod_problems() and
# replica_set_problems() say why pods do not come up, the way kubectl's warnings
# do, and which of those reasons will not fix themselves (UNRECOVERABLE_REASONS),
# so a wait can fail fast instead of sitting out its timeout. ProgressTracker is
# OpenShift's timeoutSeconds: how long one scaling step may go without progress.
# Time is always passed in (``now``, seconds); nothing here reads a clock.

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"

# Waiting reasons that will not clear by waiting: a wait may stop on the first one.
UNRECOVERABLE_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "Unschedulable",
        "ErrImageNeverPull",
        "FailedMount",
    }
)

# Waiting reasons whose message names what is missing or wrong (a Secret, a ConfigMap, a key, the
# runtime's error): a summary gives it with the pod, as the name is what to fix.
#   CreateContainerConfigError: secret "db" not found / couldn't find key password in Secret shop/db
_NAMING_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "InvalidImageName"}
)

# Waiting reasons every healthy pod goes through: not problems.
_BENIGN_WAITING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})

# Pods listed per reason by summarize_problems before "and N more".
MAX_PODS_PER_REASON = 5
# Longest detail (a condition or container message) kept in a summary.
MAX_DETAIL_CHARS = 200


@dataclass(frozen=True)
class RolloutStatus:
    """Where a Deployment's rollout stands.

    ``done`` True: finished. ``failure`` set (to the condition reason,
    "ProgressDeadlineExceeded"): the controller gave up and waiting longer will not
    help. Otherwise still in progress; ``message`` says on what.
    """

    done: bool
    message: str
    failure: str | None


@dataclass(frozen=True)
class PodProblem:
    """Why a pod (or, with pod "", a ReplicaSet) is not coming up."""

    pod: str
    reason: str
    message: str
    container: str | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(mapping: dict[str, Any], key: str) -> int:
    value = mapping.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def _condition(status: dict[str, Any], condition_type: str) -> dict[str, Any] | None:
    for condition in _list(status.get("conditions")):
        if isinstance(condition, dict) and condition.get("type") == condition_type:
            return condition
    return None


# --- the done-test --------------------------------------------------------------------


def deployment_status(deployment: dict[str, Any]) -> RolloutStatus:
    """kubectl rollout status for a Deployment, message for message.

    In order:
      spec not yet seen by the controller (generation > observedGeneration)
          -> "Waiting for deployment spec update to be observed..."
      Progressing condition with reason ProgressDeadlineExceeded
          -> failure: 'deployment "web" exceeded its progress deadline'
      updatedReplicas < spec.replicas
          -> 'Waiting for deployment "web" rollout to finish: 1 out of 3 new
             replicas have been updated...'
      status.replicas > updatedReplicas
          -> '... rollout to finish: 2 old replicas are pending termination...'
      availableReplicas < updatedReplicas
          -> '... rollout to finish: 2 of 3 updated replicas are available...'
      otherwise done -> 'deployment "web" successfully rolled out'
    (kubectl's trailing newline is left off.)
    """
    metadata = _dict(deployment.get("metadata"))
    spec = _dict(deployment.get("spec"))
    status = _dict(deployment.get("status"))
    name = str(metadata.get("name") or "")

    if _int(metadata, "generation") > _int(status, "observedGeneration"):
        return RolloutStatus(False, "Waiting for deployment spec update to be observed...", None)

    progressing = _condition(status, "Progressing")
    if progressing is not None and progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return RolloutStatus(
            False,
            f'deployment "{name}" exceeded its progress deadline',
            PROGRESS_DEADLINE_EXCEEDED,
        )

    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    updated = _int(status, "updatedReplicas")
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool) and updated < replicas:
        return RolloutStatus(
            False,
            f"{waiting}{updated} out of {replicas} new replicas have been updated...",
            None,
        )
    current = _int(status, "replicas")
    if current > updated:
        return RolloutStatus(
            False,
            f"{waiting}{current - updated} old replicas are pending termination...",
            None,
        )
    available = _int(status, "availableReplicas")
    if available < updated:
        return RolloutStatus(
            False,
            f"{waiting}{available} of {updated} updated replicas are available...",
            None,
        )
    return RolloutStatus(True, f'deployment "{name}" successfully rolled out', None)


# --- why pods do not come up ----------------------------------------------------------


def _last_exit(container_status: dict[str, Any]) -> str:
    terminated = _dict(_dict(container_status.get("lastState")).get("terminated"))
    if "exitCode" not in terminated:
        return ""
    reason = terminated.get("reason")
    return f"last exit code {terminated.get('exitCode')}" + (f" ({reason})" if reason else "")


def _container_problems(pod: str, statuses: list[Any]) -> list[PodProblem]:
    problems: list[PodProblem] = []
    for container_status in statuses:
        if not isinstance(container_status, dict):
            continue
        container = container_status.get("name")
        container = container if isinstance(container, str) else None
        state = _dict(container_status.get("state"))
        waiting = _dict(state.get("waiting"))
        terminated = _dict(state.get("terminated"))
        reason = waiting.get("reason")
        if isinstance(reason, str) and reason and reason not in _BENIGN_WAITING_REASONS:
            details = [str(waiting.get("message") or ""), _last_exit(container_status)]
            problems.append(PodProblem(pod, reason, "; ".join(d for d in details if d), container))
            continue
        exit_code = terminated.get("exitCode")
        if isinstance(exit_code, int) and exit_code != 0 and _int(container_status, "restartCount") > 0:
            problems.append(
                PodProblem(
                    pod,
                    str(terminated.get("reason") or "Error"),
                    str(terminated.get("message") or f"exit code {exit_code}"),
                    container,
                )
            )
    return problems


def pod_problems(pods: list[dict[str, Any]]) -> list[PodProblem]:
    """What keeps each pod from becoming ready, in pod order.

    - PodScheduled False with reason Unschedulable: reason "Unschedulable", the
      scheduler's message ("0/3 nodes are available: 3 Insufficient cpu.").
    - An init or app container waiting for any reason but the normal
      ContainerCreating / PodInitializing: that reason (CrashLoopBackOff,
      ErrImagePull...) with its message, plus the last exit code when known.
    - A container terminated with a non-zero exit code after restarting at least
      once: its reason ("Error", "OOMKilled").
    Pods being deleted are skipped: old pods going away are not a problem.
    """
    problems: list[PodProblem] = []
    for pod in pods:
        if not isinstance(pod, dict):
            continue
        metadata = _dict(pod.get("metadata"))
        if metadata.get("deletionTimestamp"):
            continue
        name = str(metadata.get("name") or "")
        status = _dict(pod.get("status"))
        scheduled = _condition(status, "PodScheduled")
        if (
            scheduled is not None
            and scheduled.get("status") == "False"
            and scheduled.get("reason") == "Unschedulable"
        ):
            problems.append(PodProblem(name, "Unschedulable", str(scheduled.get("message") or ""), None))
        problems.extend(_container_problems(name, _list(status.get("initContainerStatuses"))))
        problems.extend(_container_problems(name, _list(status.get("containerStatuses"))))
    return problems


# The kubelet's FailedMount for a volume whose Secret or ConfigMap does not exist (a missing key of
# one is "configmap references non-existent config key"): the pod stays ContainerCreating with no
# word in its status, and the kubelet retries until the object appears. Other mount failures (a
# slow network volume, an attach in progress) may clear by waiting: they are not problems here.
#   MountVolume.SetUp failed for volume "config" : configmap "web-config" not found
_MISSING_SOURCE = re.compile(
    r'(?:(?:secret|configmap) "[^"]+" not found|configmap references non-existent config key'
    r"|references non-existent secret key)"
)


def mount_problems(events: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[PodProblem]:
    """The ``pods`` that wait for a volume whose Secret or ConfigMap is missing, from the kubelet's
    FailedMount Events (core/v1), with its message: reason "FailedMount", in pod order.

    An Event counts only for a pod of ``pods`` that is not being deleted and has no ready
    container (its uid: a pod of the same name from another revision does not count).
    """
    by_uid: dict[str, str] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("reason") != "FailedMount":
            continue
        message = str(event.get("message") or "")
        uid = _dict(event.get("involvedObject")).get("uid")
        if uid and _MISSING_SOURCE.search(message):
            by_uid[str(uid)] = message
    problems: list[PodProblem] = []
    for pod in pods:
        metadata = _dict(pod.get("metadata")) if isinstance(pod, dict) else {}
        found = by_uid.get(str(metadata.get("uid") or ""))
        if found is None or metadata.get("deletionTimestamp"):
            continue
        statuses = _list(_dict(pod.get("status")).get("containerStatuses"))
        if any(_dict(c).get("ready") for c in statuses):
            continue
        problems.append(PodProblem(str(metadata.get("name") or ""), "FailedMount", found, None))
    return problems


def replica_set_problems(rs: dict[str, Any]) -> list[PodProblem]:
    """A ReplicaSet that cannot create pods (condition ReplicaFailure), as problems with pod "".

    The reason is the condition's (FailedCreate, FailedDelete), or "QuotaExceeded"
    when the message is about a quota ('pods "web-1" is forbidden: exceeded quota:
    compute, requested: cpu=1, used: cpu=4, limited: cpu=4').
    """
    problems: list[PodProblem] = []
    status = _dict(rs.get("status"))
    for condition in _list(status.get("conditions")):
        if not isinstance(condition, dict):
            continue
        if condition.get("type") != "ReplicaFailure" or condition.get("status") != "True":
            continue
        message = str(condition.get("message") or "")
        reason = str(condition.get("reason") or "FailedCreate")
        if "quota" in message.lower():
            reason = "QuotaExceeded"
        problems.append(PodProblem("", reason, message, None))
    return problems


def unrecoverable(problems: list[PodProblem]) -> list[PodProblem]:
    """The problems whose reason is in UNRECOVERABLE_REASONS."""
    return [problem for problem in problems if problem.reason in UNRECOVERABLE_REASONS]


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_DETAIL_CHARS:
        return text
    return text[: MAX_DETAIL_CHARS - 3].rstrip() + "..."


def _describe(problem: PodProblem) -> str:
    if not problem.pod:
        return _shorten(problem.message)
    if problem.container:
        if problem.message and problem.reason in _NAMING_REASONS:
            return f"{problem.pod} (container {problem.container}: {_shorten(problem.message)})"
        return f"{problem.pod} (container {problem.container})"
    if problem.message:
        return f"{problem.pod} ({_shorten(problem.message)})"
    return problem.pod


def summarize_problems(problems: list[PodProblem]) -> str:
    """One line for a failure message, grouped by reason in order of appearance.

      "CrashLoopBackOff: web-7d9-abc (container app), web-7d9-def; "
      "Unschedulable: web-7d9-xyz (0/3 nodes are available: 3 Insufficient cpu.)"

    A pod is described by its container when one is known, else by the message.
    At most MAX_PODS_PER_REASON per reason, then "and N more". "" for no problems.
    """
    groups: dict[str, list[str]] = {}
    for problem in problems:
        items = groups.setdefault(problem.reason, [])
        description = _describe(problem)
        if description and description not in items:
            items.append(description)
    parts = []
    for reason, items in groups.items():
        shown = ", ".join(items[:MAX_PODS_PER_REASON])
        more = len(items) - MAX_PODS_PER_REASON
        if more > 0:
            shown += f" and {more} more"
        parts.append(f"{reason}: {shown}" if shown else reason)
    return "; ".join(parts)


# --- progress -------------------------------------------------------------------------


def progress_snapshot(deployment: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(updatedReplicas, readyReplicas, availableReplicas, replicas, observedGeneration).

    Any change between two snapshots counts as progress for ProgressTracker.
    """
    status = _dict(deployment.get("status"))
    return (
        _int(status, "updatedReplicas"),
        _int(status, "readyReplicas"),
        _int(status, "availableReplicas"),
        _int(status, "replicas"),
        _int(status, "observedGeneration"),
    )


class ProgressTracker:
    """OpenShift's timeoutSeconds: a step fails after that long without progress.

    Not a deadline for the whole step: every observed change restarts the timer.
    With timeout 600, a step that gains one ready pod every 5 minutes never times
    out; one that sees nothing change for 10 minutes does.

        tracker = ProgressTracker(600, now=0)
        tracker.observe(snapshot_a, now=10)    # True: first sighting
        tracker.observe(snapshot_a, now=300)   # False: nothing moved
        tracker.stalled(now=611)               # True: 601 s since the last change
    """

    def __init__(self, timeout_seconds: float, now: float) -> None:
        if timeout_seconds < 0:
            raise ValueError(f"timeout_seconds must not be negative, got {timeout_seconds}")
        self.timeout_seconds = float(timeout_seconds)
        self.last_progress = float(now)
        self.last_snapshot: tuple[Any, ...] | None = None

    def observe(self, snapshot: tuple[Any, ...], now: float) -> bool:
        """Record a snapshot; True (and the timer restarts) when it differs from the last one."""
        if snapshot == self.last_snapshot:
            return False
        self.last_snapshot = snapshot
        self.last_progress = float(now)
        return True

    def reset(self, now: float) -> None:
        """Restart the timer (a new step begins), keeping the last snapshot."""
        self.last_progress = float(now)

    def stalled(self, now: float) -> bool:
        """True when there has been no progress for more than timeout_seconds."""
        return now - self.last_progress > self.timeout_seconds

    def remaining(self, now: float) -> float:
        """Seconds of no progress left before the timeout (0 once it is reached)."""
        return max(0.0, self.timeout_seconds - (now - self.last_progress))


__all__ = [
    "MAX_DETAIL_CHARS",
    "MAX_PODS_PER_REASON",
    "PROGRESS_DEADLINE_EXCEEDED",
    "UNRECOVERABLE_REASONS",
    "PodProblem",
    "ProgressTracker",
    "RolloutStatus",
    "deployment_status",
    "mount_problems",
    "pod_problems",
    "progress_snapshot",
    "replica_set_problems",
    "summarize_problems",
    "unrecoverable",
]
