# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# rollout_control: pause, resume, restart, retry and cancel as idempotent tasks.
# The decisions are _controls.py's; this reads, writes (guarded by resourceVersion, 409
# retried from a fresh read) and waits (_waiter). cancel is an undo (_undo.DeploymentUndo)
# to the revision _controls.cancel_target chooses.
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from ._client import (
    CONTROLLER_REVISIONS,
    DEPLOYMENTS,
    MERGE_PATCH,
    PODS,
    REPLICA_SETS,
    RESOURCES_BY_KIND,
    STRATEGIC_MERGE_PATCH,
    ClientError,
    KubeClient,
    Resource,
)
from ._controls import (
    ACTIONS,
    DEPLOYMENT_ONLY_ACTIONS,
    NO_PROGRESS_DEADLINE,
    RESTARTED_AT_ANNOTATION,
    cancel_target,
    current_restarted_at,
    pause_patch,
    paused,
    progress_condition_cleared,
    progress_deadline_patch,
    restart_patch,
    restart_refusal,
    restarted_at,
    retry_plan,
    rollout_in_progress,
)
from ._revisions import find_new_replica_set, next_revision, revision
from ._rollout import FIELD_MANAGER, GOAL_COMPLETE, Failure, for_diff, selector_string, without_noise
from ._status import deployment_status
from ._undo import DeploymentUndo, UndoError, UndoRequest
from ._waiter import DeploymentWaiter, StepFailed, Timeline, WorkloadWaiter
from ._workloads import (
    DEPLOYMENT,
    KINDS,
    ROLLING_UPDATE,
    controller_revision_number,
    find_current_controller_revision,
    next_controller_revision,
)

JSONDict = Dict[str, Any]

DEFAULT_TIMEOUT_SECONDS = 600
# How long retry waits for the controller to drop ProgressDeadlineExceeded (one sync).
CLEAR_CONDITION_SECONDS = 60


class ControlInputError(ValueError):
    """The module's options do not describe a control action."""


class ControlError(Exception):
    """The action was refused or failed; ``result`` is the module result so far (for fail_json)."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class ControlRequest:
    action: str
    kind: str
    namespace: str
    name: str
    wait: bool
    wait_timeout: Optional[int]
    timeout_seconds: int


def build_control_request(params: Dict[str, Any]) -> ControlRequest:
    """The module's options (type-checked by Ansible) as a request; ControlInputError when wrong."""
    action = str(params.get("action"))
    if action not in ACTIONS:
        raise ControlInputError(f"action must be one of {', '.join(ACTIONS)}, got {action}")
    kind = str(params.get("kind") or DEPLOYMENT)
    if kind not in KINDS:
        raise ControlInputError(f"kind must be one of {', '.join(KINDS)}, got {kind}")
    if action in DEPLOYMENT_ONLY_ACTIONS and kind != DEPLOYMENT:
        raise ControlInputError(
            f"action {action} is for Deployments: a {kind} has no "
            + ("spec.paused" if action in ("pause", "resume") else "progress deadline or ReplicaSets")
            + "; restart works for every kind, and rollout_undo rolls a "
            + f"{kind} back"
        )
    wait_timeout = params.get("wait_timeout")
    if wait_timeout is not None and wait_timeout <= 0:
        raise ControlInputError(f"wait_timeout must be more than 0 seconds, got {wait_timeout}")
    timeout_seconds = params.get("timeout_seconds")
    if timeout_seconds is None:
        timeout_seconds = DEFAULT_TIMEOUT_SECONDS
    if timeout_seconds <= 0:
        raise ControlInputError(f"timeout_seconds must be more than 0 seconds, got {timeout_seconds}")
    return ControlRequest(
        action=action,
        kind=kind,
        namespace=str(params.get("namespace") or "default"),
        name=str(params["name"]),
        wait=bool(params.get("wait", True)),
        wait_timeout=wait_timeout,
        timeout_seconds=int(timeout_seconds),
    )


class RolloutControl:
    """Runs one control action; run() returns the module result or raises ControlError."""

    def __init__(
        self,
        client: KubeClient,
        request: ControlRequest,
        check_mode: bool = False,
        diff: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.diff = diff
        self.wall_clock = wall_clock
        self.timeline = Timeline(wall_clock)
        self.what = f"{request.kind} {request.namespace}/{request.name}"
        self.object_key = "deployment" if request.kind == DEPLOYMENT else "workload"
        self.result: JSONDict = {
            "changed": False,
            "action": request.action,
            "kind": request.kind,
            "revision": None,
            "previous_revision": None,
            self.object_key: None,
            "timeline": self.timeline.events,
        }

    # --- reading and writing ------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.get(
            f"reading {self.what}",
            RESOURCES_BY_KIND[self.request.kind],
            self.request.namespace,
            self.request.name,
        )

    def _must_get(self) -> JSONDict:
        live = self._get()
        if live is None:
            raise self._fail(self.client.not_found(self.what, self.request.namespace))
        return live

    def _list(self, resource: Resource, workload: JSONDict) -> List[JSONDict]:
        return self.client.list(
            f"listing the {resource.kind}s of {self.what}",
            resource,
            self.request.namespace,
            label_selector=selector_string(workload.get("spec", {}).get("selector")),
        )

    def _children(self, workload: JSONDict) -> List[JSONDict]:
        if self.request.kind == DEPLOYMENT:
            return self._list(REPLICA_SETS, workload)
        return self._list(CONTROLLER_REVISIONS, workload)

    def _revision(self, workload: JSONDict, children: List[JSONDict]) -> Optional[int]:
        if self.request.kind == DEPLOYMENT:
            new_rs = find_new_replica_set(workload, children)
            return revision(workload) or (revision(new_rs) if new_rs is not None else None) or None
        current = find_current_controller_revision(self.request.kind, workload, children)
        return controller_revision_number(current) if current is not None else None

    def _patch(
        self, build: Callable[[JSONDict], Optional[JSONDict]], content_type: str, what: str
    ) -> JSONDict:
        """Re-read, build the patch (None: nothing to do), send it; 409 retried from a fresh read."""

        def attempt() -> JSONDict:
            live = self._must_get()
            patch = build(live)
            if patch is None:
                return live
            kwargs: JSONDict = {"dry_run": "All"} if self.check_mode else {}
            written = self.client.patch(
                f"{what} {self.what}",
                RESOURCES_BY_KIND[self.request.kind],
                self.request.namespace,
                self.request.name,
                patch,
                content_type,
                field_manager=FIELD_MANAGER,
                **kwargs,
            )
            if written is None:
                raise self._fail(f"{self.what} was deleted")
            return written

        return self.client.retry_on_conflict(attempt, what)

    def _fail(self, message: str, **extra: Any) -> ControlError:
        return ControlError(message, {**self.result, **extra})

    # --- the actions --------------------------------------------------------------------

    def run(self) -> JSONDict:
        live = self._must_get()
        children = self._children(live)
        number = self._revision(live, children)
        self.result.update(previous_revision=number, revision=number)
        self.result[self.object_key] = without_noise(live)
        if self.request.kind == DEPLOYMENT:
            self.result["paused"] = paused(live)
        action = getattr(self, f"_{self.request.action}")
        after: JSONDict = action(live, children)
        self.result[self.object_key] = without_noise(after)
        if self.request.kind == DEPLOYMENT:
            self.result["paused"] = paused(after)
        if self.diff:
            self.result["diff"] = {"before": for_diff(live), "after": for_diff(after)}
        return self.result

    def _pause(self, live: JSONDict, children: List[JSONDict]) -> JSONDict:
        if pause_patch(live, True) is None:
            return live
        self.result["changed"] = True
        after = self._patch(lambda fresh: pause_patch(fresh, True), MERGE_PATCH, "pausing")
        self.timeline.event("paused")
        return after

    def _resume(self, live: JSONDict, children: List[JSONDict]) -> JSONDict:
        if pause_patch(live, False) is None:
            return live
        self.result["changed"] = True
        after = self._patch(lambda fresh: pause_patch(fresh, False), MERGE_PATCH, "resuming")
        self.timeline.event("resumed")
        if self.check_mode:
            # A template changed while paused rolls out now: the revision it will get.
            self.result["revision"] = next_revision(after, children)
            return after
        return self._wait_if_asked(after)

    def _restart(self, live: JSONDict, children: List[JSONDict]) -> JSONDict:
        refusal = restart_refusal(self.request.kind, live)
        if refusal is not None:
            raise self._fail(refusal)
        stamp = restarted_at(self.wall_clock(), current_restarted_at(live))
        self.result["changed"] = True
        self.result["restarted_at"] = stamp

        def build(fresh: JSONDict) -> JSONDict:
            refused = restart_refusal(self.request.kind, fresh)
            if refused is not None:
                raise self._fail(refused)
            return restart_patch(fresh, stamp)

        after = self._patch(build, STRATEGIC_MERGE_PATCH, "restarting")
        if self.request.kind == DEPLOYMENT:
            self.result["revision"] = next_revision(after, children)
        else:
            self.result["revision"] = next_controller_revision(after, children)
        if self.check_mode:
            return after
        self.timeline.event("restarted", restarted_at=stamp, revision=self.result["revision"])
        return self._wait_if_asked(after)

    def _retry(self, live: JSONDict, children: List[JSONDict]) -> JSONDict:
        if paused(live):
            raise self._fail(f"cannot retry the rollout of paused {self.what}; resume it first")
        pods = self._list(PODS, live)
        plan = retry_plan(live, children, pods)
        self.result.update(
            retried=plan.failed,
            failure_reason=plan.reason,
            recreated_pods=[str(pod["metadata"]["name"]) for pod in plan.pods],
            progress_deadline_restarted=plan.restart_deadline,
        )
        if not plan.failed:
            # oc: "only failed deployments can be retried". Nothing to do is not an error for a task.
            self.result["message"] = f"nothing to retry: {plan.message}"
            return self._wait_if_asked(live) if rollout_in_progress(live) else live
        self.result["changed"] = True
        if self.check_mode:
            return live
        for pod in plan.pods:
            self._delete_pod(pod)
        if plan.pods:
            self.timeline.event("pods_recreated", pods=self.result["recreated_pods"])
        after = live
        if plan.restart_deadline:
            after = self._restart_progress_deadline(live)
            self.timeline.event("progress_deadline_restarted")
        return self._wait_if_asked(after)

    def _cancel(self, live: JSONDict, children: List[JSONDict]) -> JSONDict:
        if not rollout_in_progress(live):
            self.result["cancelled"] = False
            self.result["message"] = f"no rollout in progress: {deployment_status(live).message}"
            return live
        target = cancel_target(live, children)
        if target is None:
            raise self._fail(
                f"cannot cancel the rollout of {self.what}: it has no earlier revision to go back to "
                f"(revision {self.result['revision']} is its first)"
            )
        request = self.request
        undo = DeploymentUndo(
            self.client,
            UndoRequest(
                kind=DEPLOYMENT,
                namespace=request.namespace,
                name=request.name,
                to_revision=revision(target),
                wait=request.wait,
                wait_timeout=request.wait_timeout,
                timeout_seconds=request.timeout_seconds,
            ),
            self.check_mode,
            False,
            self.wall_clock,
        )
        self.result["cancelled_revision"] = self.result["revision"]
        try:
            done = undo.run()
        except UndoError as exc:
            self.timeline.events.extend(exc.result.get("timeline") or [])
            raise self._fail(
                f"cancelling the rollout of revision {self.result['revision']}: {exc}",
                cancelled=True,
                rolled_back_to=exc.result.get("rolled_back_to"),
                failure=exc.result.get("failure"),
            ) from None
        self.timeline.events.extend(done["timeline"])
        self.result.update(
            changed=done["changed"],
            cancelled=True,
            rolled_back_to=done["rolled_back_to"],
            revision=done["revision"],
        )
        return dict(done["deployment"] or live)

    # --- retry's steps ------------------------------------------------------------------

    def _delete_pod(self, pod: JSONDict) -> None:
        """Delete one pod, only if it is still the same one (uid precondition); gone is fine."""
        metadata = pod["metadata"]
        try:
            self.client.delete(
                f"deleting pod {self.request.namespace}/{metadata['name']}",
                PODS,
                self.request.namespace,
                metadata["name"],
                body={"preconditions": {"uid": metadata["uid"]}},
            )
        except ClientError as exc:
            if exc.status != 409:  # 409: the uid differs, the pod was already replaced
                raise

    def _restart_progress_deadline(self, live: JSONDict) -> JSONDict:
        """A new progress deadline without a new revision.

        progressDeadlineSeconds 2147483647 means "none" to the controller, which then removes
        the Progressing condition; back at the original value, it finds no condition and starts
        a new one (FoundNewReplicaSet) from now. Both writes are guarded; the original value
        is put back even if the wait between them fails.
        """
        original = int(live.get("spec", {}).get("progressDeadlineSeconds") or 600)
        self._patch(
            lambda fresh: progress_deadline_patch(fresh, NO_PROGRESS_DEADLINE),
            MERGE_PATCH,
            "suspending the progress deadline of",
        )
        try:
            self.client.watch_until(
                DEPLOYMENTS,
                self.request.namespace,
                lambda objects: True if objects and progress_condition_cleared(objects[0]) else None,
                CLEAR_CONDITION_SECONDS,
                f"the controller to clear ProgressDeadlineExceeded on {self.what}",
                field_selector=f"metadata.name={self.request.name}",
            )
        finally:
            restored = self._patch(
                lambda fresh: progress_deadline_patch(fresh, original),
                MERGE_PATCH,
                "restoring the progress deadline of",
            )
        self.result["progress_deadline_seconds"] = original
        return restored

    # --- waiting ------------------------------------------------------------------------

    def _wait_if_asked(self, after: JSONDict) -> JSONDict:
        request = self.request
        if not request.wait or self.check_mode or (request.kind == DEPLOYMENT and paused(after)):
            return after
        try:
            if request.kind == DEPLOYMENT:
                waiter = DeploymentWaiter(self.client, request.namespace, request.name, self.timeline)
                waiter.set_deadline(request.wait_timeout)
                waiter.wait(GOAL_COMPLETE, request.timeout_seconds)
            elif (after.get("spec", {}).get("updateStrategy") or {}).get("type") == ROLLING_UPDATE:
                workload_waiter = WorkloadWaiter(
                    self.client, request.kind, request.namespace, request.name, self.timeline
                )
                workload_waiter.set_deadline(request.wait_timeout)
                workload_waiter.wait(request.timeout_seconds)
            else:
                self.result.setdefault("warnings", []).append(
                    f"{self.what} has updateStrategy OnDelete: its pods take the new template only when "
                    "they are deleted, so the rollout was not waited for"
                )
                return after
        except StepFailed as failed:
            raise self._wait_failed(failed.failure) from None
        self.timeline.event("complete")
        final = self._get() or after
        self.result["revision"] = self._revision(final, self._children(final))
        return final

    def _wait_failed(self, failure: Failure) -> ControlError:
        self.timeline.event("failed", reason=failure.reason, message=failure.message)
        detail = failure.message
        if not detail.startswith(failure.reason):
            detail = f"{failure.reason}: {detail}"
        now = self._get()
        number = self._revision(now, self._children(now)) if now is not None else None
        number = number or self.result["revision"]
        return self._fail(
            f"{self.request.action} of {self.what}: the rollout (revision {number}) did not complete: "
            f"{detail}",
            failure={"reason": failure.reason, "message": failure.message},
            **{self.object_key: without_noise(now)},
        )


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "RESTARTED_AT_ANNOTATION",
    "ControlError",
    "ControlInputError",
    "ControlRequest",
    "RolloutControl",
    "build_control_request",
]
