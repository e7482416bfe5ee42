# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# rollout_undo: kubectl rollout undo as an idempotent task, then a wait for the rollback.
#
#   observe  the workload and its revisions: a Deployment's ReplicaSets, a StatefulSet's or
#            DaemonSet's ControllerRevisions (controller owner reference, never labels alone)
#   decide   the target (_revisions.undo_target, _workloads.controller_revision_undo_target),
#            kubectl's refusal of a paused Deployment, kubectl's patch, or nothing when the
#            template already matches
#   act      kubectl's patch, guarded by the resourceVersion it was computed from
#            (check mode: the same patch as a server dry run)
#   wait     _waiter.DeploymentWaiter (the rollout module's) or _waiter.WorkloadWaiter
#
# The controllers do the rest as for kubectl: they give the target ReplicaSet or
# ControllerRevision the next revision number and roll the pods to it.
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._client import (
    CONTROLLER_REVISIONS,
    DEPLOYMENTS,
    JSON_PATCH,
    MERGE_PATCH,
    PODS,
    REPLICA_SETS,
    RESOURCES_BY_KIND,
    STRATEGIC_MERGE_PATCH,
    ClientError,
    KubeClient,
    WaitTimeout,
)
from ._hook_runner import HookRunner, run_hook_step
from ._hooks import hook_job
from ._ownership import ROLLOUT_BOOKKEEPING
from ._revisions import (
    RevisionNotFound,
    find_new_replica_set,
    images_of,
    next_revision,
    revision,
    rollback_patch,
    rollback_refusal,
    template_without_hash,
    undo_target,
)
from ._rollout import (
    FIELD_MANAGER,
    GOAL_COMPLETE,
    REASON_API_ERROR,
    Failure,
    for_diff,
    selector_string,
    without_noise,
)
from ._status import deployment_status
from ._strategy import Hook, StrategyError, recorded_strategy, validate_hook_against_template
from ._waiter import DeploymentWaiter, StepFailed, Timeline, WorkloadWaiter
from ._workload_rollout import forced_rollback_pods
from ._workloads import (
    DEPLOYMENT,
    KINDS,
    ROLLING_UPDATE,
    STATEFUL_SET,
    controller_revision_matches,
    controller_revision_number,
    controller_revision_patch,
    controller_revision_template,
    controller_revision_undo_target,
    find_current_controller_revision,
    next_controller_revision,
    rollout_status,
    undo_history_patch,
)

JSONDict = Dict[str, Any]

DEFAULT_TIMEOUT_SECONDS = 600


class UndoInputError(ValueError):
    """The module's options do not describe an undo."""


class UndoError(Exception):
    """The undo was refused or failed; ``result`` is the module result so far (for fail_json)."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class HookStep:
    """A lifecycle hook an undo runs: its phase, the hook, and the Job that runs it."""

    phase: str
    hook: Hook
    job: JSONDict


@dataclass(frozen=True)
class UndoRequest:
    """An undo. ``replace_unready_pods``: for a StatefulSet, delete the pods of other revisions
    that are not ready once the controller has taken the rollback in (Kubernetes' "forced
    rollback", which kubectl leaves to the user); the rollout module's automatic rollback sets it,
    and the rollout_undo module's option of that name (true there by default).
    ``hooks``: for a Deployment, run the lifecycle hooks recorded with the revisions (the
    rollout_undo module's ``hooks`` option, true there by default)."""

    kind: str
    namespace: str
    name: str
    to_revision: Optional[int]
    wait: bool
    wait_timeout: Optional[int]
    timeout_seconds: int
    replace_unready_pods: bool = False
    hooks: bool = False


def build_undo_request(params: Dict[str, Any]) -> UndoRequest:
    """The module's options (type-checked by Ansible) as a request; UndoInputError when out of range."""
    to_revision = params.get("to_revision")
    if to_revision is not None and to_revision < 0:
        raise UndoInputError(
            f"to_revision must be 1 or more (or 0 for the previous revision), got {to_revision}"
        )
    wait_timeout = params.get("wait_timeout")
    if wait_timeout is not None and wait_timeout <= 0:
        raise UndoInputError(f"wait_timeout must be more than 0 seconds, got {wait_timeout}")
    timeout_seconds = params.get("timeout_seconds")
    if timeout_seconds is None:
        timeout_seconds = DEFAULT_TIMEOUT_SECONDS
    if timeout_seconds <= 0:
        raise UndoInputError(f"timeout_seconds must be more than 0 seconds, got {timeout_seconds}")
    kind = str(params.get("kind") or DEPLOYMENT)
    if kind not in KINDS:
        raise UndoInputError(f"kind must be one of {', '.join(KINDS)}, got {kind}")
    hooks = params.get("hooks")
    replace = params.get("replace_unready_pods")
    return UndoRequest(
        hooks=True if hooks is None else bool(hooks),
        replace_unready_pods=True if replace is None else bool(replace),
        kind=kind,
        namespace=str(params.get("namespace") or "default"),
        name=str(params["name"]),
        to_revision=to_revision or None,
        wait=bool(params.get("wait", True)),
        wait_timeout=wait_timeout,
        timeout_seconds=int(timeout_seconds),
    )


class Undo:
    """What undoing any kind shares: the result, the failures, the diff. run() is per kind."""

    # The result's key for the workload at the end.
    object_key = "workload"

    def __init__(
        self,
        client: KubeClient,
        request: UndoRequest,
        check_mode: bool = False,
        diff: bool = False,
        wall_clock: Callable[[], float] = time.time,
        timeline: Optional[Timeline] = None,
    ) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.diff = diff
        self.timeline = timeline if timeline is not None else Timeline(wall_clock)
        self.what = f"{request.kind} {request.namespace}/{request.name}"
        self.warnings: List[str] = []
        self.rollback_hook_failure: Optional[str] = None
        # wait_timeout bounds the whole task, hooks included.
        self.deadline = None if request.wait_timeout is None else client.clock() + request.wait_timeout
        self.result: JSONDict = {
            "changed": False,
            "kind": request.kind,
            "revision": None,
            "previous_revision": None,
            "rolled_back_to": None,
            self.object_key: None,
            "timeline": self.timeline.events,
            "hooks": [],
            "deleted_pods": [],
        }

    def run(self) -> JSONDict:
        raise NotImplementedError

    def _time_left(self) -> Optional[float]:
        return None if self.deadline is None else max(self.deadline - self.client.clock(), 0.0)

    def _fail(self, message: str, **extra: Any) -> UndoError:
        return UndoError(message, {**self._finish(), **extra})

    def _finish(self) -> JSONDict:
        if self.warnings:
            self.result["warnings"] = list(self.warnings)
        return self.result

    def _set_diff(self, before: JSONDict, after: JSONDict) -> None:
        if self.diff:
            self.result["diff"] = {"before": for_diff(before), "after": for_diff(after)}

    def _api_failed(self, exc: ClientError) -> UndoError:
        """An API error once the rollback is written: the task changed the workload, and the
        workload's controller goes on with the rollback without the task. Says so, and how to
        follow it; the API's message alone would read as if nothing had been done."""
        self.timeline.event("failed", reason=REASON_API_ERROR, message=str(exc))
        ref = f"{self.request.kind.lower()}/{self.request.name} -n {self.request.namespace}"
        return self._fail(
            f"{self.what} was rolled back to revision {self.result['rolled_back_to']} (now revision "
            f"{self.result['revision']}), but then {exc}. The {self.request.kind} controller goes on with "
            f"the rollback: follow it with kubectl rollout status {ref}",
            failure={"reason": REASON_API_ERROR, "message": str(exc)},
        )

    def _wait_failed(
        self, failure: Failure, now: Optional[JSONDict], number: Any, unchanged: bool, hint: str = ""
    ) -> UndoError:
        """The UndoError for a failed wait: the reason, how far the rollback got, and ``hint``."""
        self.timeline.event("failed", reason=failure.reason, message=failure.message)
        detail = failure.message
        if not detail.startswith(failure.reason):
            detail = f"{failure.reason}: {detail}"
        if unchanged:
            message = (
                f"{self.what} already has the template of revision {self.result['rolled_back_to']}, "
                f"but its rollout does not complete: {detail}"
            )
        else:
            message = (
                f"rollback of {self.what} to revision {self.result['rolled_back_to']} "
                f"(now revision {number}) did not complete: {detail}"
            )
        return self._fail(
            message + hint,
            failure={"reason": failure.reason, "message": failure.message},
            **{self.object_key: without_noise(now)},
        )


def undo_for(client: KubeClient, request: UndoRequest, check_mode: bool = False, diff: bool = False) -> Undo:
    """The undo for the request's kind."""
    if request.kind == DEPLOYMENT:
        return DeploymentUndo(client, request, check_mode, diff)
    return ControllerRevisionUndo(client, request, check_mode, diff)


class DeploymentUndo(Undo):
    """Rolls one Deployment back to one of its ReplicaSets, as kubectl does."""

    object_key = "deployment"

    # --- reading ------------------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.get(f"reading {self.what}", DEPLOYMENTS, self.request.namespace, self.request.name)

    def _replica_sets(self, deployment: JSONDict) -> List[JSONDict]:
        return self.client.list(
            f"listing the ReplicaSets of {self.what}",
            REPLICA_SETS,
            self.request.namespace,
            label_selector=selector_string(deployment.get("spec", {}).get("selector")),
        )

    # --- the undo -----------------------------------------------------------------------

    def run(self) -> JSONDict:
        request = self.request
        live = self._get()
        if live is None:
            raise self._fail(self.client.not_found(self.what, self.request.namespace))
        replica_sets = self._replica_sets(live)
        current_rs = find_new_replica_set(live, replica_sets)
        previous = revision(live) or (revision(current_rs) if current_rs is not None else 0)
        self.result.update(previous_revision=previous or None, revision=previous or None)
        self.result["deployment"] = without_noise(live)
        try:
            target = undo_target(live, replica_sets, request.to_revision)
        except RevisionNotFound as exc:
            raise self._fail(str(exc), available_revisions=exc.available) from None
        # What was asked for, or kubectl's "previous" resolved to a number.
        self.result["rolled_back_to"] = request.to_revision or revision(target)
        refusal = rollback_refusal(live)
        if refusal is not None:
            raise self._fail(refusal)

        patch = rollback_patch(live, target, drop=ROLLOUT_BOOKKEEPING)
        if patch is None:
            self.timeline.event("unchanged", revision=previous)
            if request.wait and not self.check_mode and not deployment_status(live).done:
                self._wait(live, unchanged=True)
                live = self._get() or live
            self._set_diff(live, live)
            self.result["deployment"] = without_noise(live)
            return self._finish()

        planned = next_revision(
            {**live, "spec": {**live["spec"], "template": target["spec"]["template"]}}, replica_sets
        )
        self.result.update(changed=True, revision=planned)
        plan = self._hook_plan(live, target, previous, planned)
        if self.check_mode:
            after = self._send(live, patch, dry_run=True)
            self._set_diff(live, after)
            self.result["deployment"] = without_noise(after)
            self.result["hooks"] = [
                {"phase": step.phase, "job": step.job["metadata"]["name"], "planned": True} for step in plan
            ]
            return self._finish()

        try:
            self._run_hooks(plan, ("rollback", "pre"))
        except StepFailed as failed:
            ran = [h["job"] for h in self.result["hooks"] if h["phase"] == "rollback" and h.get("succeeded")]
            note = f" (the rollback hook {ran[0]} had run)" if ran else ""
            raise self._fail(f"{failed.failure.message}. {self.what} was not rolled back{note}") from None
        written = self.client.retry_on_conflict(lambda: self._roll_back(target), "rollback")
        self.timeline.event(
            "applied",
            to_revision=revision(target),
            revision=planned,
            images=images_of(target["spec"]["template"]),
        )
        self._set_diff(live, written)
        self.result["deployment"] = without_noise(written)
        if request.wait:
            try:
                self._wait(written)
                final = self._get()
                if final is not None:
                    self.result["deployment"] = without_noise(final)
                    self.result["revision"] = revision(final) or planned
                self._run_hooks(plan, ("post",))
            except StepFailed as failed:
                raise self._fail(
                    f"{self.what} was rolled back to revision {self.result['rolled_back_to']} (now revision "
                    f"{self.result['revision']}), but {failed.failure.message}"
                ) from None
            except ClientError as exc:
                raise self._api_failed(exc) from None
        if self.rollback_hook_failure:
            raise self._fail(
                f"{self.what} was rolled back to revision {self.result['rolled_back_to']} (now revision "
                f"{self.result['revision']}), but its rollback hook failed: {self.rollback_hook_failure}"
            )
        return self._finish()

    # --- hooks --------------------------------------------------------------------------

    def _hook_plan(self, live: JSONDict, target: JSONDict, current: int, planned: int) -> List[HookStep]:
        """The hooks this undo runs: the strategy recorded with each revision (STRATEGY_ANNOTATION).

        The revision left behind runs its ``rollback`` hook (like a failed rollout's), from its
        template; the revision gone back to runs its ``pre`` and ``post`` hooks, from its own
        template, as when it was rolled out. A ``mid`` hook has no moment here: the Deployment
        controller rolls the undo out alone.
        """
        if not self.request.hooks:
            return []
        try:
            leaving, going = recorded_strategy(live), recorded_strategy(target)
        except StrategyError as exc:
            raise self._fail(f"{exc}; give hooks: false to roll back without lifecycle hooks") from None
        metadata = {
            "name": self.request.name,
            "namespace": self.request.namespace,
            "uid": live["metadata"]["uid"],
        }
        steps: List[HookStep] = []
        for strategy, phases, template, number in (
            (leaving, ("rollback",), live["spec"]["template"], current),
            (going, ("pre", "post"), template_without_hash(target["spec"]["template"]), planned),
        ):
            if strategy is None:
                continue
            source = {"kind": DEPLOYMENT, "metadata": metadata, "spec": {"template": template}}
            for phase in phases:
                hook = strategy.hooks.get(phase)
                if hook is None or hook.exec_new_pod is None:
                    continue
                try:
                    validate_hook_against_template(
                        hook, template, f"{phase} hook recorded with revision {number}"
                    )
                except StrategyError as exc:
                    raise self._fail(
                        f"{exc}; give hooks: false to roll back without lifecycle hooks"
                    ) from None
                steps.append(HookStep(phase, hook, hook_job(source, hook, phase, number or 1, strategy)))
        if going is not None and "mid" in going.hooks:
            self.warnings.append(
                f"the mid hook recorded with revision {revision(target)} was not run: the Deployment "
                "controller rolls the undo out alone, with no moment of the module's between old and new pods"
            )
        if steps and not self.request.wait:
            self.warnings.append("lifecycle hooks need wait=true: they were not run")
            return []
        return steps

    def _run_hooks(self, plan: List[HookStep], phases: Tuple[str, ...]) -> None:
        """Run the planned hooks of ``phases``; StepFailed when one aborts (the rollback hook's
        failure is kept for the end: the undo goes on, capacity first)."""
        runner = HookRunner(self.client, self.timeline)
        for step in plan:
            if step.phase not in phases:
                continue
            try:
                run_hook_step(
                    runner,
                    step.job,
                    step.hook,
                    step.phase,
                    self._time_left,
                    self.result["hooks"],
                    self.warnings,
                )
            except StepFailed as failed:
                if step.phase != "rollback":
                    raise
                self.rollback_hook_failure = failed.failure.message

    def _roll_back(self, target: JSONDict) -> JSONDict:
        """One attempt: re-read, re-check, send kubectl's patch guarded by the read's resourceVersion."""
        live = self._get()
        if live is None:
            raise self._fail(f"{self.what} was deleted")
        refusal = rollback_refusal(live)
        if refusal is not None:
            raise self._fail(refusal)
        patch = rollback_patch(live, target, drop=ROLLOUT_BOOKKEEPING)
        if patch is None:  # someone else rolled it back in between
            return live
        return self._send(live, patch, dry_run=False)

    def _send(self, live: JSONDict, patch: List[JSONDict], dry_run: bool) -> JSONDict:
        version = live["metadata"]["resourceVersion"]
        operations = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}, *patch]
        kwargs: JSONDict = {"dry_run": "All"} if dry_run else {}
        try:
            written = self.client.patch(
                f"rolling back {self.what}",
                DEPLOYMENTS,
                self.request.namespace,
                self.request.name,
                operations,
                JSON_PATCH,
                field_manager=FIELD_MANAGER,
                **kwargs,
            )
        except ClientError as exc:
            # A failed JSON patch "test" is a 422 with no detail: a moved resourceVersion
            # means a concurrent write, which retry_on_conflict retries from a fresh read.
            if exc.status == 422 and self._moved(version):
                raise ClientError(f"{exc} (the Deployment changed meanwhile)", 409) from None
            raise
        if written is None:
            raise self._fail(f"{self.what} was deleted")
        return written

    def _moved(self, version: str) -> bool:
        now = self._get()
        return now is None or now["metadata"].get("resourceVersion") != version

    def _wait(self, deployment: JSONDict, unchanged: bool = False) -> None:
        request = self.request
        waiter = DeploymentWaiter(self.client, request.namespace, request.name, self.timeline)
        waiter.set_deadline(request.wait_timeout)
        try:
            waiter.wait(GOAL_COMPLETE, request.timeout_seconds)
        except StepFailed as failed:
            now = self._get()
            number = revision(now or deployment) or self.result["revision"]
            raise self._wait_failed(failed.failure, now, number, unchanged) from None
        self.timeline.event("complete")


class ControllerRevisionUndo(Undo):
    """Rolls a StatefulSet or DaemonSet back to one of its ControllerRevisions, as kubectl does."""

    object_key = "workload"

    # --- reading ------------------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.get(
            f"reading {self.what}",
            RESOURCES_BY_KIND[self.request.kind],
            self.request.namespace,
            self.request.name,
        )

    def _revisions(self, workload: JSONDict) -> List[JSONDict]:
        return self.client.list(
            f"listing the ControllerRevisions of {self.what}",
            CONTROLLER_REVISIONS,
            self.request.namespace,
            label_selector=selector_string(workload.get("spec", {}).get("selector")),
        )

    def _current_number(self, workload: JSONDict, revisions: List[JSONDict]) -> Optional[int]:
        current = find_current_controller_revision(self.request.kind, workload, revisions)
        return controller_revision_number(current) if current is not None else None

    # --- the undo -----------------------------------------------------------------------

    def run(self) -> JSONDict:
        request = self.request
        live = self._get()
        if live is None:
            raise self._fail(self.client.not_found(self.what, self.request.namespace))
        revisions = self._revisions(live)
        previous = self._current_number(live, revisions)
        self.result.update(previous_revision=previous, revision=previous, workload=without_noise(live))
        try:
            target = controller_revision_undo_target(request.kind, live, revisions, request.to_revision)
        except RevisionNotFound as exc:
            raise self._fail(str(exc), available_revisions=exc.available) from None
        self.result["rolled_back_to"] = request.to_revision or controller_revision_number(target)

        if controller_revision_matches(live, target):
            self.timeline.event("unchanged", revision=previous)
            # A rollback done before without replace_unready_pods (or by kubectl) can be stuck
            # on the broken revision's pods: they go now, and that is this run's change.
            if self._forces_rollback():
                if self.check_mode:
                    self._plan_pod_deletions(live, target)
                else:
                    self._replace_unready_pods(live, target)
                self.result["changed"] = bool(self.result["deleted_pods"])
            if (
                request.wait
                and not self.check_mode
                and self._waitable(live)
                and not rollout_status(request.kind, live).done
            ):
                self._wait(live, unchanged=True)
                live = self._get() or live
            self._set_diff(live, live)
            self.result["workload"] = without_noise(live)
            return self._finish()

        planned = next_controller_revision(live, revisions)
        self.result.update(changed=True, revision=planned)
        if self.check_mode:
            after = self._send(controller_revision_patch(target, live["metadata"]["resourceVersion"]), True)
            self._set_diff(live, after)
            self.result["workload"] = without_noise(after)
            if self._forces_rollback():
                self._plan_pod_deletions(live, target)
            return self._finish()

        self._record_history(target)
        written = self.client.retry_on_conflict(lambda: self._roll_back(target), "rollback")
        self.timeline.event(
            "applied",
            to_revision=controller_revision_number(target),
            revision=planned,
            images=images_of(controller_revision_template(target)),
        )
        self._set_diff(live, written)
        self.result["workload"] = without_noise(written)
        try:
            if self._forces_rollback():
                self._replace_unready_pods(written, target)
            if request.wait and self._waitable(written):
                self._wait(written)
                final = self._get()
                if final is not None:
                    self.result["workload"] = without_noise(final)
                    self.result["revision"] = self._current_number(final, self._revisions(final)) or planned
        except ClientError as exc:
            raise self._api_failed(exc) from None
        return self._finish()

    def _waitable(self, workload: JSONDict) -> bool:
        """kubectl's done-test needs RollingUpdate: with OnDelete, pods change only when deleted."""
        strategy = (workload.get("spec", {}).get("updateStrategy") or {}).get("type")
        if strategy == ROLLING_UPDATE:
            return True
        self.warnings.append(
            f"{self.what} has updateStrategy {strategy}: its pods take the template only when they "
            "are deleted, so the rollback was not waited for"
        )
        return False

    def _forces_rollback(self) -> bool:
        """Kubernetes' forced rollback is for StatefulSets: the DaemonSet controller replaces an
        unavailable old pod at once, and a Deployment's new ReplicaSet scales up past it."""
        return self.request.replace_unready_pods and self.request.kind == STATEFUL_SET

    def _pods(self, workload: JSONDict) -> List[JSONDict]:
        return self.client.list(
            f"listing the pods of {self.what}",
            PODS,
            self.request.namespace,
            label_selector=selector_string(workload.get("spec", {}).get("selector")),
        )

    def _plan_pod_deletions(self, live: JSONDict, target: JSONDict) -> None:
        """Check mode: the pods _replace_unready_pods would delete, as they are now."""
        pods = forced_rollback_pods(live, self._pods(live), target["metadata"]["name"])
        if pods:
            self.result.update(changed=True, deleted_pods=[pod["metadata"]["name"] for pod in pods])

    def _replace_unready_pods(self, written: JSONDict, target: JSONDict) -> None:
        """Kubernetes' forced rollback of a StatefulSet: delete the not-ready pods of other revisions.

        With podManagementPolicy OrderedReady, the controller makes no progress while a pod is
        not Running and Ready, so a pod of a broken revision (CrashLoopBackOff, ImagePullBackOff)
        blocks the rollback forever. Once the controller has taken the rollback in (its
        updateRevision is the target's), each such pod is deleted with a uid precondition, and
        the controller makes it again at the target revision. Ready pods are left to the
        controller's rolling update, and so are pods below a partition (forced_rollback_pods).
        """
        request, name = self.request, target["metadata"]["name"]
        generation = int(written["metadata"].get("generation") or 0)

        def taken(objects: List[JSONDict]) -> Optional[JSONDict]:
            for sts in objects:
                status = sts.get("status") or {}
                if (
                    int(status.get("observedGeneration") or 0) >= generation
                    and status.get("updateRevision") == name
                ):
                    return sts
            return None

        try:
            sts = self.client.watch_until(
                RESOURCES_BY_KIND[request.kind],
                request.namespace,
                taken,
                request.timeout_seconds,
                f"{self.what} to take the rollback in",
                field_selector=f"metadata.name={request.name}",
            )
        except WaitTimeout:
            return  # the wait that follows reports what is stuck
        replaced = []
        for pod in forced_rollback_pods(sts, self._pods(sts), name):
            metadata = pod["metadata"]
            try:
                self.client.delete(
                    f"deleting pod {request.namespace}/{metadata['name']} of a failed revision",
                    PODS,
                    request.namespace,
                    metadata["name"],
                    body={"preconditions": {"uid": metadata["uid"]}},
                )
            except ClientError as exc:
                if exc.status != 409:  # 409: the uid differs, the controller replaced it already
                    raise
                continue
            replaced.append(metadata["name"])
        if replaced:
            self.timeline.event("unready_pods_deleted", pods=sorted(replaced))
        self.result["deleted_pods"] = sorted(replaced)

    def _stuck_hint(self, now: Optional[JSONDict]) -> str:
        """After a failed wait without replace_unready_pods: the StatefulSet's unready pods of
        other revisions that its controller waits on, and the option that deletes them."""
        if now is None or self.request.kind != STATEFUL_SET or self.request.replace_unready_pods:
            return ""
        update = (now.get("status") or {}).get("updateRevision")
        stuck = forced_rollback_pods(now, self._pods(now), update) if update else []
        if not stuck:
            return ""
        names = ", ".join(pod["metadata"]["name"] for pod in stuck)
        return (
            f". Not Ready at another revision: {names}; the StatefulSet controller waits for them "
            "and does not replace them (Kubernetes' forced rollback): run again with "
            "replace_unready_pods: true to delete them, or delete them"
        )

    def _record_history(self, target: JSONDict) -> None:
        """Note the target's number on it before the controller renumbers it (_workloads.undo_history)."""
        name = target["metadata"]["name"]
        what = f"ControllerRevision {self.request.namespace}/{name}"

        def attempt() -> None:
            fresh = self.client.get(f"reading {what}", CONTROLLER_REVISIONS, self.request.namespace, name)
            patch = undo_history_patch(fresh) if fresh is not None else None
            if patch is not None:
                self.client.patch(
                    f"annotating {what}",
                    CONTROLLER_REVISIONS,
                    self.request.namespace,
                    name,
                    patch,
                    MERGE_PATCH,
                    field_manager=FIELD_MANAGER,
                )

        self.client.retry_on_conflict(attempt, "revision history")

    def _roll_back(self, target: JSONDict) -> JSONDict:
        """One attempt: re-read, re-check, send the ControllerRevision's data guarded by resourceVersion."""
        live = self._get()
        if live is None:
            raise self._fail(f"{self.what} was deleted")
        if controller_revision_matches(live, target):  # someone else rolled it back in between
            return live
        return self._send(controller_revision_patch(target, live["metadata"]["resourceVersion"]), False)

    def _send(self, patch: JSONDict, dry_run: bool) -> JSONDict:
        kwargs: JSONDict = {"dry_run": "All"} if dry_run else {}
        written = self.client.patch(
            f"rolling back {self.what}",
            RESOURCES_BY_KIND[self.request.kind],
            self.request.namespace,
            self.request.name,
            patch,
            STRATEGIC_MERGE_PATCH,
            field_manager=FIELD_MANAGER,
            **kwargs,
        )
        if written is None:
            raise self._fail(f"{self.what} was deleted")
        return written

    def _wait(self, workload: JSONDict, unchanged: bool = False) -> None:
        request = self.request
        waiter = WorkloadWaiter(self.client, request.kind, request.namespace, request.name, self.timeline)
        waiter.set_deadline(request.wait_timeout)
        try:
            waiter.wait(request.timeout_seconds)
        except StepFailed as failed:
            now = self._get()
            number = self._current_number(now, self._revisions(now)) if now is not None else None
            raise self._wait_failed(
                failed.failure, now, number or self.result["revision"], unchanged, self._stuck_hint(now)
            ) from None
        self.timeline.event("complete")


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "ControllerRevisionUndo",
    "DeploymentUndo",
    "Undo",
    "UndoError",
    "UndoInputError",
    "UndoRequest",
    "build_undo_request",
    "undo_for",
]
