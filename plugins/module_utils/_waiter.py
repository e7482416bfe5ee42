# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The one way to wait on a Deployment's rollout, shared by every module that changes one
# (rollout, undo, controls): watch the Deployment, its ReplicaSets and its pods together
# (_client.watch_sources) and ask the pure _rollout.assess() whether the goal is reached,
# failed, or stalled for longer than timeoutSeconds. What it sees goes to a Timeline.
import datetime
import time
from typing import Any, Callable, Dict, List, Optional, Protocol

from ._client import (
    CONTROLLER_REVISIONS,
    DEPLOYMENTS,
    EVENTS,
    PODS,
    REPLICA_SETS,
    RESOURCES_BY_KIND,
    KubeClient,
    Source,
    WaitTimeout,
)
from ._rollout import (
    GOAL_COMPLETE,
    REASON_DELETED,
    REASON_TIMEOUT,
    REASON_WAIT_TIMEOUT,
    Assessment,
    Failure,
    assess,
    replica_counts,
    selector_string,
)
from ._status import ProgressTracker, mount_problems, pod_problems, summarize_problems, unrecoverable
from ._workloads import DAEMON_SET, STATEFUL_SET, newest_revision_pods, pod_ready, rollout_status
from ._workloads import replica_counts as workload_counts

JSONDict = Dict[str, Any]

# WorkloadWaiter's goal for OnDelete workloads: the controller has seen the spec, nothing more.
GOAL_OBSERVED = "observed"

# Without a wait_timeout, a wait is bounded by timeoutSeconds of no progress, and by this.
UNBOUNDED_WAIT_SECONDS = 7 * 24 * 3600


class Background(Protocol):
    """Work a wait does while it watches (the rollout's analysis, _rollout_analysis.py)."""

    def observe(self, new_available: int, rollout_done: bool) -> Optional[Failure]:
        """At each change and at next_at(): a Failure ends the wait at once."""

    def holds(self) -> bool:
        """Whether a wait whose goal is reached goes on, for this work to finish."""

    def next_at(self) -> Optional[float]:
        """When (client clock) the wait is to wake up for it without any change; None: no need."""


class StepFailed(Exception):
    """A wait ended in failure; ``failure`` says why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Timeline:
    """Timestamped events of a rollout, for the module result (to print or plot)."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.wall_clock = wall_clock
        self.events: List[JSONDict] = []
        self._last_counts: Optional[JSONDict] = None

    def event(self, name: str, **details: Any) -> None:
        stamp = datetime.datetime.fromtimestamp(self.wall_clock(), tz=datetime.timezone.utc)
        self.events.append({"time": stamp.isoformat(timespec="milliseconds"), "event": name, **details})

    def record_counts(self, deployment: JSONDict, replica_sets: List[JSONDict]) -> None:
        """A ``replicas`` event each time the new or old ReplicaSets' counts change."""
        counts = replica_counts(deployment, replica_sets)
        if counts != self._last_counts:
            self._last_counts = counts
            self.event("replicas", **counts)


class _Waiter:
    """What both waiters share: the client, the overall deadline and the engine's guard.

    ``deadline`` (client clock) bounds every wait when set. ``guard(workload)``, when set, is
    asked at every change of the watched object: a Failure it returns ends the wait at once (the
    engines': another writer took it over).
    """

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.deadline: Optional[float] = None
        self.deadline_seconds: Optional[int] = None
        self.guard: Optional[Callable[[JSONDict], Optional[Failure]]] = None

    def set_deadline(self, seconds: Optional[int]) -> None:
        """Bound the waits to come to ``seconds`` from now in all (None: no overall bound)."""
        self.deadline_seconds = seconds
        self.deadline = None if seconds is None else self.client.clock() + seconds

    def time_left(self) -> Optional[float]:
        """Seconds left before the deadline; None without one."""
        return None if self.deadline is None else max(self.deadline - self.client.clock(), 0.0)


class DeploymentWaiter(_Waiter):
    """Waits on one Deployment (its ReplicaSets and pods) until a goal of _rollout.assess."""

    def __init__(self, client: KubeClient, namespace: str, name: str, timeline: Timeline) -> None:
        super().__init__(client)
        self.namespace = namespace
        self.name = name
        self.timeline = timeline
        # Set for the waits of a rollout's analysis: observed at every change and woken up for.
        self.background: Optional[Background] = None

    def wait(self, goal: str, timeout_seconds: float, target: int = 1) -> Assessment:
        """Watch until ``goal`` (see _rollout.assess); StepFailed when it fails or stalls."""
        what = f"Deployment {self.namespace}/{self.name}"
        live = self.client.get(f"reading {what}", DEPLOYMENTS, self.namespace, self.name)
        if live is None:
            raise StepFailed(Failure("Deleted", f"{what} was deleted during the rollout"))
        selectors = {"label_selector": selector_string(live["spec"].get("selector"))}
        sources = {
            "deployment": Source(
                DEPLOYMENTS, self.namespace, {"field_selector": f"metadata.name={self.name}"}
            ),
            "replica_sets": Source(REPLICA_SETS, self.namespace, selectors),
            "pods": Source(PODS, self.namespace, selectors, keep=pod_for_wait),
            "events": mount_events(self.namespace),
        }
        tracker = ProgressTracker(timeout_seconds, self.client.clock())

        def check(state: Dict[str, List[JSONDict]], now: float) -> Optional[Assessment]:
            deployment = state["deployment"][0] if state["deployment"] else None
            if deployment is not None:
                self.timeline.record_counts(deployment, state["replica_sets"])
                failure = self.guard(deployment) if self.guard is not None else None
                if failure is not None:
                    return Assessment(False, failure, "")
            assessment = assess(
                goal, deployment, state["replica_sets"], state["pods"], tracker, now, target, state["events"]
            )
            background = self.background
            if background is not None and deployment is not None and assessment.failure is None:
                new_available = replica_counts(deployment, state["replica_sets"])["new"]["available"]
                failure = background.observe(new_available, assessment.done)
                if failure is not None:
                    return Assessment(False, failure, assessment.message)
                if assessment.done and background.holds():
                    return None
            return assessment if assessment.done or assessment.failure else None

        timeout: float = UNBOUNDED_WAIT_SECONDS
        if self.deadline is not None:
            timeout = max(self.deadline - self.client.clock(), 0.001)
        extra: Dict[str, Any] = {} if self.background is None else {"wake": self.background.next_at}
        try:
            result = self.client.watch_sources(sources, check, timeout, f"{what} ({goal})", **extra)
        except WaitTimeout:
            raise StepFailed(
                Failure(
                    REASON_WAIT_TIMEOUT,
                    f"wait_timeout ({self.deadline_seconds}s) reached while waiting for {goal}",
                )
            ) from None
        if result.failure is not None:
            raise StepFailed(result.failure)
        return result


class WorkloadWaiter(_Waiter):
    """Waits on a StatefulSet or DaemonSet until kubectl's done-test (_workloads.rollout_status) passes.

    Watches the workload, its ControllerRevisions and its pods together. Fails at once on a pod
    reason that waiting does not cure among the newest revision's pods (CrashLoopBackOff,
    ImagePullBackOff, Unschedulable ...), and after ``timeout_seconds`` with no change in the
    workload's counts or its pods (OpenShift's timeoutSeconds).
    """

    def __init__(self, client: KubeClient, kind: str, namespace: str, name: str, timeline: Timeline) -> None:
        if kind not in (STATEFUL_SET, DAEMON_SET):
            raise ValueError(f"WorkloadWaiter waits on a StatefulSet or a DaemonSet, not a {kind}")
        super().__init__(client)
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.timeline = timeline

    def wait(self, timeout_seconds: float, goal: str = GOAL_COMPLETE) -> Assessment:
        """Watch until ``goal``; StepFailed when it fails or stalls.

        GOAL_COMPLETE: kubectl's done-test for the kind. GOAL_OBSERVED: the controller has seen
        the latest spec (status.observedGeneration), all there is to wait for with OnDelete.
        """
        what = f"{self.kind} {self.namespace}/{self.name}"
        resource = RESOURCES_BY_KIND[self.kind]
        live = self.client.get(f"reading {what}", resource, self.namespace, self.name)
        if live is None:
            raise StepFailed(Failure(REASON_DELETED, f"{what} was deleted during the rollout"))
        selectors = {"label_selector": selector_string(live["spec"].get("selector"))}
        sources = {
            "workload": Source(resource, self.namespace, {"field_selector": f"metadata.name={self.name}"}),
            "revisions": Source(CONTROLLER_REVISIONS, self.namespace, selectors),
            "pods": Source(PODS, self.namespace, selectors, keep=pod_for_wait),
            "events": mount_events(self.namespace),
        }
        tracker = ProgressTracker(timeout_seconds, self.client.clock())
        last_counts: List[Optional[JSONDict]] = [None]

        def check(state: Dict[str, List[JSONDict]], now: float) -> Optional[Assessment]:
            if not state["workload"]:
                return Assessment(
                    False, Failure(REASON_DELETED, f"{what} was deleted during the rollout"), ""
                )
            workload = state["workload"][0]
            failure = self.guard(workload) if self.guard is not None else None
            if failure is not None:
                return Assessment(False, failure, "")
            counts = workload_counts(self.kind, workload)
            if counts != last_counts[0]:
                last_counts[0] = counts
                self.timeline.event("replicas", **counts)
            if goal == GOAL_OBSERVED and observed(workload):
                return Assessment(True, None, "the controller has observed the change")
            status = rollout_status(self.kind, workload)
            if status.done and goal == GOAL_COMPLETE:
                return Assessment(True, None, status.message)
            pods = newest_revision_pods(self.kind, workload, state["revisions"], state["pods"])
            problems = pod_problems(pods) + mount_problems(state["events"], pods)
            broken = unrecoverable(problems)
            if broken:
                return Assessment(
                    False, Failure(broken[0].reason, summarize_problems(broken)), status.message
                )
            tracker.observe(
                (
                    tuple(counts.values()),
                    workload.get("status", {}).get("observedGeneration"),
                    tuple(sorted(_pod_state(pod) for pod in state["pods"])),
                ),
                now,
            )
            if tracker.stalled(now):
                detail = f"; {summarize_problems(problems)}" if problems else ""
                return Assessment(
                    False,
                    Failure(
                        REASON_TIMEOUT,
                        f"no progress for {tracker.timeout_seconds:g}s (timeoutSeconds): "
                        f"{status.message}{detail}",
                    ),
                    status.message,
                )
            return None

        timeout: float = UNBOUNDED_WAIT_SECONDS
        if self.deadline is not None:
            timeout = max(self.deadline - self.client.clock(), 0.001)
        try:
            result = self.client.watch_sources(sources, check, timeout, f"{what} ({goal})")
        except WaitTimeout:
            raise StepFailed(
                Failure(
                    REASON_WAIT_TIMEOUT,
                    f"wait_timeout ({self.deadline_seconds}s) reached while waiting for the rollout "
                    + ("to complete" if goal == GOAL_COMPLETE else "to be observed"),
                )
            ) from None
        if result.failure is not None:
            raise StepFailed(result.failure)
        return result


def observed(workload: JSONDict) -> bool:
    """The controller has seen the workload's latest spec (observedGeneration >= generation)."""
    generation = (workload.get("metadata") or {}).get("generation") or 0
    return bool(int((workload.get("status") or {}).get("observedGeneration") or 0) >= int(generation))


def pod_for_wait(pod: JSONDict) -> JSONDict:
    """What a wait needs of a pod: its metadata (owners, labels, deletion) and status.

    The spec and managedFields are most of a pod's size and never read by the waits (about
    25 MiB for 1,000 pods in full, 7.5 MiB without them).
    """
    metadata = dict(pod.get("metadata") or {})
    metadata.pop("managedFields", None)
    return {"metadata": metadata, "status": pod.get("status") or {}}


def mount_events(namespace: str) -> Source:
    """The kubelet's FailedMount Events of the namespace's pods, for _status.mount_problems.

    Optional: without list/watch on events the wait goes on, and a pod waiting for a missing
    Secret or ConfigMap volume is found by timeoutSeconds instead of at once.
    """
    return Source(
        EVENTS,
        namespace,
        {"field_selector": "involvedObject.kind=Pod,reason=FailedMount"},
        keep=event_for_wait,
        optional=True,
    )


def event_for_wait(event: JSONDict) -> JSONDict:
    """What mount_problems reads of an Event: its reason, message and pod's uid."""
    involved = event.get("involvedObject") or {}
    return {
        "metadata": {"name": (event.get("metadata") or {}).get("name")},
        "reason": event.get("reason"),
        "message": event.get("message"),
        "involvedObject": {"uid": involved.get("uid"), "name": involved.get("name")},
    }


def _pod_state(pod: JSONDict) -> tuple[str, str, bool]:
    """A pod's name, phase and readiness: a change in any is progress."""
    phase = (pod.get("status") or {}).get("phase")
    return (str((pod.get("metadata") or {}).get("name")), str(phase), pod_ready(pod))


__all__ = [
    "GOAL_OBSERVED",
    "UNBOUNDED_WAIT_SECONDS",
    "Background",
    "DeploymentWaiter",
    "StepFailed",
    "Timeline",
    "WorkloadWaiter",
    "event_for_wait",
    "mount_events",
    "observed",
    "pod_for_wait",
]
