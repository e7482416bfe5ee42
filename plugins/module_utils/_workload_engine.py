# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The rollout engine for StatefulSets and DaemonSets: observe -> plan -> act -> wait, with the
# pieces the Deployment engine (_engine.py) uses: the same write (write_object: server-side
# apply or a name-mode patch, dry run first for idempotence), the same hook runner, the same
# timeline. What differs is that the workload's own controller drives the whole rollout, by its
# native updateStrategy: the module writes once and waits.
#
#   RollingUpdate:  pre hook -> apply -> kubectl's done-test (partition honoured) -> post hook
#                   (post once every pod is at the new revision: a partition above 0 leaves it
#                   to the task that lowers the partition)
#   OnDelete:       pre hook -> apply -> the controller has observed it (pods change when deleted)
#   Failure:        rollout_undo's rollback to the ControllerRevision that ran before, waited
#                   for; for a StatefulSet, not-ready pods of the failed revision are deleted
#                   (Kubernetes' forced rollback), since OrderedReady waits on them forever.
#
# Another writer (a second playbook, kubectl set image) is told by the pod template alone: these
# kinds carry no run marks. A template changed since planning stops the run before it writes; a
# template replaced after its write stops it as Superseded during the wait, or once the wait is
# done (before the post hook), without a rollback that would undo the other change
# (docs/reliability.md, "Two runs at once").
import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ._client import CONTROLLER_REVISIONS, RESOURCES_BY_KIND, ClientError, KubeClient
from ._engine import RolloutEngine, RolloutError, api_failure, write_object
from ._hook_runner import HookRunner, run_hook_step
from ._hooks import hook_job, hook_job_name, hook_source
from ._ownership import REASON_SUPERSEDED, changed_since, claim_refused, superseded
from ._revisions import images_of
from ._rollout import (
    Change,
    Failure,
    RolloutRequest,
    blank_image_refusal,
    compare,
    for_diff,
    selector_string,
    without_noise,
)
from ._strategy import Strategy, StrategyError, check_hooks, hook_to_dict, parse_strategy
from ._undo import ControllerRevisionUndo, UndoError, UndoRequest
from ._waiter import GOAL_OBSERVED, StepFailed, Timeline, WorkloadWaiter
from ._workload_rollout import (
    ON_DELETE,
    STATEFUL_SET,
    WORKLOAD_KINDS,
    check_workload_hooks,
    dropped_fields,
    fully_rolled_out,
    partition_of,
    staged_rollout_under_way,
    statefulset_update_order,
    update_strategy_type,
)
from ._workloads import (
    controller_revision_number,
    find_current_controller_revision,
    owned_controller_revisions,
    replica_counts,
    rollout_status,
)

JSONDict = Dict[str, Any]


class WorkloadRolloutEngine:
    """Runs one rollout request for a StatefulSet or DaemonSet; run() returns the module result
    or raises RolloutError (with the result so far)."""

    def __init__(
        self,
        client: KubeClient,
        request: RolloutRequest,
        check_mode: bool = False,
        diff: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.diff = diff
        self.wall_clock = wall_clock
        self.kind = request.kind
        self.resource = RESOURCES_BY_KIND[request.kind]
        self.timeline = Timeline(wall_clock)
        self.waiter = WorkloadWaiter(client, request.kind, request.namespace, request.name, self.timeline)
        self.waiter.guard = self._superseded
        self.hook_runner = HookRunner(client, self.timeline)
        self.strategy: Strategy = request.strategy or parse_strategy(None)
        self.hooks: List[JSONDict] = []
        self.warnings: List[str] = list(request.warnings)
        self.what = f"{request.kind} {request.namespace}/{request.name}"
        self.change: Optional[Change] = None
        self.before: Optional[JSONDict] = None
        self.after: Optional[JSONDict] = None
        self.previous_revision: Optional[int] = None
        self.planned_revision: Optional[int] = None
        self.rollback_to: Optional[int] = None
        self.steps: List[JSONDict] = []
        self.staged = False
        self.rollback_hook_failure: Optional[str] = None
        # Has this run written the workload? From there on an API error is a failed step
        # (reason APIError: rollback per rollback_on_failure); before, the API's message alone.
        self.written = False
        # The pod template this run wrote, once written: another one on the workload later means
        # another writer took the rollout over.
        self.owned_template: Optional[JSONDict] = None

    # --- reading and writing ------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.get(
            f"reading {self.what}", self.resource, self.request.namespace, self.request.name
        )

    def _revisions(self, workload: JSONDict) -> List[JSONDict]:
        return self.client.list(
            f"listing the ControllerRevisions of {self.what}",
            CONTROLLER_REVISIONS,
            self.request.namespace,
            label_selector=selector_string(workload.get("spec", {}).get("selector")),
        )

    def _write(self, live: Optional[JSONDict], dry_run: bool) -> JSONDict:
        if self.request.body is None and live is None:
            raise RolloutError(
                self.client.not_found(
                    self.what, self.request.namespace, "; give its definition to create it"
                ),
                self._result(False),
            )
        return write_object(self.client, self.resource, self.request, live, dry_run)

    def _apply(self) -> JSONDict:
        live = self._get()
        if live is not None and (self.before is None or changed_since(self.before, live)):
            # Created, or its template changed, by another writer since this run planned (during
            # the pre hook, say): a server-side apply has no resourceVersion to guard it, so it
            # would take the other writer's change over.
            raise StepFailed(claim_refused(live, self.what))
        written = self._write(live, False)
        if live is None:  # the pre hook ran before its owner existed: it has one now
            self.hook_runner.own_pre_hooks(self.hooks, written, self.warnings)
        return written

    def _superseded(self, workload: JSONDict) -> Optional[Failure]:
        """The failure when another writer replaced the template this run wrote; else None."""
        if self.owned_template is None:
            return None
        return superseded(workload, None, self.owned_template, self.what)

    def _check_owner(self, workload: Optional[JSONDict]) -> None:
        failure = self._superseded(workload) if workload is not None else None
        if failure is not None:
            raise StepFailed(failure)

    def _current_number(self, workload: Optional[JSONDict]) -> Optional[int]:
        if workload is None:
            return None
        current = find_current_controller_revision(self.kind, workload, self._revisions(workload))
        return controller_revision_number(current) if current is not None else None

    # --- the rollout --------------------------------------------------------------------

    def run(self) -> JSONDict:
        request, strategy = self.request, self.strategy
        self.waiter.set_deadline(request.wait_timeout)
        live = self._get()
        revisions = self._revisions(live) if live is not None else []
        desired = self._write(live, dry_run=True)
        change = compare(live, desired, None)
        live_update = (live or {}).get("spec", {}).get("updateStrategy")
        change = dataclasses.replace(
            change, strategy=live is not None and live_update != desired["spec"].get("updateStrategy")
        )
        self.change, self.before, self.after = change, live, desired
        current = find_current_controller_revision(self.kind, live, revisions) if live is not None else None
        self.previous_revision = controller_revision_number(current) if current is not None else None
        if live is None:
            self.planned_revision = 1
        elif change.template:
            owned = owned_controller_revisions(live, revisions)
            self.planned_revision = max((controller_revision_number(cr) for cr in owned), default=0) + 1
        else:
            self.planned_revision = self.previous_revision
        update_type = update_strategy_type(desired)
        replicas = int(desired["spec"].get("replicas") or 0)
        if self.kind == STATEFUL_SET and change.template and live is not None and update_type != ON_DELETE:
            self.steps = statefulset_update_order(request.name, replicas, partition_of(desired))
        # What the task rolls back to on failure: the template it found; when it finishes a
        # staged rollout (a lower partition), the revision the older pods still run.
        staged_before = self.kind == STATEFUL_SET and staged_rollout_under_way(live) and not change.template
        if change.template:
            self.rollback_to = self.previous_revision
        elif staged_before and live is not None:
            older = live["status"].get("currentRevision")
            self.rollback_to = next(
                (controller_revision_number(cr) for cr in revisions if cr["metadata"]["name"] == older), None
            )
        refusal = blank_image_refusal(desired["spec"]["template"], self.what)
        if refusal is not None:
            raise RolloutError(refusal, self._result(False))
        try:
            self.warnings.extend(check_hooks(strategy, desired["spec"]["template"]))
            check_workload_hooks(self.kind, strategy, update_type)
        except StrategyError as exc:
            raise RolloutError(str(exc), self._result(False)) from None
        dropped = dropped_fields(request.update_strategy, desired["spec"].get("updateStrategy"))
        if dropped:
            self.warnings.append(
                f"the API server did not keep updateStrategy.rollingUpdate {', '.join(dropped)} of "
                f"{self.what}: its feature gate is off on this cluster (MaxUnavailableStatefulSet "
                "for a StatefulSet's maxUnavailable), so the controller's default applies"
            )
        if strategy.hooks and not request.wait and change.template:
            self.warnings.append("lifecycle hooks need wait=true: they were not run")
        pre = change.template and request.wait
        post = request.wait and (change.template or staged_before)

        if not change.any:
            if (
                request.wait
                and live is not None
                and update_type != ON_DELETE
                and not rollout_status(self.kind, live).done
            ):
                self._finish_unchanged_rollout()
            final = self._get() or live
            self.staged = final is not None and not fully_rolled_out(self.kind, final)
            return self._result(False, final)
        if self.check_mode:
            held = self.kind == STATEFUL_SET and live is not None and partition_of(desired) > 0
            self.hooks = [
                {
                    "phase": phase,
                    "job": hook_job_name(request.name, self.planned_revision or 1, phase, self.kind),
                    "planned": True,
                }
                for phase, wanted in (("pre", pre), ("post", post and not held))
                if wanted and self._has_hook(phase)
            ]
            return self._result(True, desired)

        try:
            if pre:
                self._run_hook("pre")
        except StepFailed as failed:
            self.timeline.event("failed", reason=failed.failure.reason, message=failed.failure.message)
            unchanged = (
                f"Only the pre hook's Job ran; the {self.kind} itself was not changed: "
                f"{self._state_text(live)}"
                if live is not None
                else f"Only the pre hook's Job ran; {self.what} was not created"
            )
            raise RolloutError(
                f"{failed.failure.message}. {unchanged}", self._result(True, live, failure=failed.failure)
            ) from None
        try:
            written = self.client.retry_on_conflict(self._apply, "apply")
            self.written = True
            if change.template:
                self.owned_template = written["spec"]["template"]
            applied: JSONDict = {"revision": self.planned_revision, "update_strategy": update_type}
            if self.kind == STATEFUL_SET:
                applied["partition"] = partition_of(desired)
            self.timeline.event("applied", **applied)
            if request.wait and update_type == ON_DELETE:
                self.waiter.wait(strategy.timeout_seconds, GOAL_OBSERVED)
                self.timeline.event("observed")
                if change.template:
                    self.warnings.append(
                        f"{self.what} has updateStrategy OnDelete: its pods take the new template only when "
                        "they are deleted, so the task did not wait for them"
                    )
            elif request.wait:
                self.waiter.wait(strategy.timeout_seconds)
                self.timeline.event("complete")
                final = self._get()
                self._check_owner(final)
                if final is not None and not fully_rolled_out(self.kind, final):
                    self.staged = True
                    self.timeline.event("staged", partition=partition_of(final))
                elif post:
                    if staged_before:
                        self.planned_revision = self._current_number(final) or self.planned_revision
                    self._run_hook("post")
        except (StepFailed, ClientError) as exc:
            if isinstance(exc, ClientError) and not self.written:
                raise  # nothing written: the API's message alone
            failure = api_failure(exc)
            self.timeline.event("failed", reason=failure.reason, message=failure.message)
            if failure.reason == REASON_SUPERSEDED and not self.written:
                now, state = self._state_now()
                raise RolloutError(
                    f"{failure.message}. This run changed nothing: {state}",
                    self._result(False, now, failure=failure),
                ) from None
            self._fail(failure)
        final = self._get()
        if request.wait and final is not None:
            self.planned_revision = self._current_number(final) or self.planned_revision
        return self._result(True, final)

    def _finish_unchanged_rollout(self) -> None:
        """Nothing to write, but a rollout is under way: wait for it, like kubectl rollout status."""
        try:
            self.waiter.wait(self.strategy.timeout_seconds)
        except StepFailed as failed:
            raise RolloutError(
                f"{self.what} already had this spec, but its rollout is not healthy: "
                f"{failed.failure.message}. Nothing was changed; fix the {self.kind} or roll it back "
                f"(openrollout.k8s.rollout_undo, or kubectl rollout undo)",
                self._result(False, failure=failed.failure),
            ) from None

    # --- hooks --------------------------------------------------------------------------

    def _has_hook(self, phase: str) -> bool:
        hook = self.strategy.hooks.get(phase)
        return self.request.hooks and hook is not None and hook.exec_new_pod is not None

    def _run_hook(self, phase: str) -> None:
        """Run the phase's hook, if any, from the new template; StepFailed when it aborts."""
        if not self._has_hook(phase):
            return
        hook = self.strategy.hooks[phase]
        live = self._get() if phase != "pre" or self.before is not None else None
        job = hook_job(
            hook_source(self.after or {}, live), hook, phase, self.planned_revision or 1, self.strategy
        )
        run_hook_step(self.hook_runner, job, hook, phase, self.waiter.time_left, self.hooks, self.warnings)

    # --- failure ------------------------------------------------------------------------

    def _fail(self, failure: Failure) -> None:
        """Roll back (when asked and possible) and raise RolloutError with the whole story."""
        detail = failure.message
        if not detail.startswith(failure.reason):
            detail = f"{failure.reason}: {detail}"
        cause = f"rollout of {self.what} to revision {self.planned_revision} failed: {detail}"
        target = self.rollback_to
        if failure.reason == REASON_SUPERSEDED:
            # Rolling back would undo the other writer's change: the last writer wins.
            now, state = self._state_now()
            raise RolloutError(
                f"{cause}. Nothing was rolled back, so as not to undo the other change: {state}; "
                "run this task again once the other rollout is done to roll out this one",
                self._result(True, now, failure=failure),
            )
        if not self.request.rollback_on_failure or target is None:
            now, state = self._state_now()
            if target is None and self.before is None:
                advice = "there is no previous revision to roll back to; fix the definition and run again"
            elif target is None:
                advice = "the template did not change, so there is no revision to roll back to"
            else:
                advice = (
                    f"rollback_on_failure is false, so it was left as it is; roll it back with "
                    f"openrollout.k8s.rollout_undo (to revision {target}) or run again with a fix"
                )
            raise RolloutError(f"{cause}. {state}; {advice}", self._result(True, now, failure=failure))
        try:
            self._run_hook("rollback")
        except StepFailed as failed:
            self.rollback_hook_failure = failed.failure.message
        undo_timeline = Timeline(self.wall_clock)
        undo = ControllerRevisionUndo(
            self.client,
            UndoRequest(
                kind=self.kind,
                namespace=self.request.namespace,
                name=self.request.name,
                to_revision=target,
                wait=True,
                wait_timeout=None,  # the way back gets its own time: wait_timeout bounded the rollout
                timeout_seconds=self.strategy.timeout_seconds,
                replace_unready_pods=True,
            ),
            timeline=undo_timeline,
        )
        self.timeline.event("rollback_started", to_revision=target)
        try:
            undone = undo.run()
        except (UndoError, ClientError) as exc:
            self._merge(undo_timeline)
            now, state = self._state_now()
            written = any(event["event"] == "applied" for event in undo_timeline.events)
            raise RolloutError(
                f"{cause}. The rollback to revision {target} did not complete either: {exc}. "
                f"{state}; {self._how_to_continue(exc, target, written)}",
                self._result(True, now, failure=failure),
            ) from None
        self._merge(undo_timeline)
        self.timeline.event("rolled_back", revision=undone.get("revision"))
        now = self._state_now()[0]
        template = (now or {}).get("spec", {}).get("template") or {}  # the target's, now
        images = ", ".join(f"{name}={image}" for name, image in sorted(images_of(template).items()))
        hook_note = (
            f". The rollback hook failed: {self.rollback_hook_failure}" if self.rollback_hook_failure else ""
        )
        failed_revision = self.planned_revision
        self.planned_revision = undone.get("revision")
        raise RolloutError(
            f"{cause}. Rolled back to the template of revision {target} ({images}), now revision "
            f"{undone.get('revision')}: {self._state_text(now)}{hook_note}",
            self._result(True, now, failure=failure, rolled_back=True, failed_revision=failed_revision),
        )

    def _merge(self, undo_timeline: Timeline) -> None:
        """The undo's events in the rollout's timeline; its applied and complete are the rollback's."""
        renamed = {"applied": "rollback_applied", "complete": "rollback_complete"}
        for event in undo_timeline.events:
            self.timeline.events.append({**event, "event": renamed.get(event["event"], event["event"])})

    def _state_now(self) -> Tuple[Optional[JSONDict], str]:
        """The workload as it is now and its state in words; read for a failure's message, so
        an API error reading it is said, not raised."""
        try:
            now = self._get()
            return now, self._state_text(now)
        except ClientError as exc:
            return None, f"The state of {self.what} could not be read ({exc})"

    def _how_to_continue(self, exc: Exception, target: int, written: bool) -> str:
        """After a rollback that did not complete: what is left to do, and the command for it."""
        ref = f"{self.kind.lower()}/{self.request.name} -n {self.request.namespace}"
        if not isinstance(exc, ClientError):  # the undo's own failure: written, and did not come back
            return "see kubectl rollout status and kubectl rollout history"
        if written:
            return (
                f"the rollback was written (the template is revision {target}'s again) and the "
                f"{self.kind} controller goes on with it: follow it with kubectl rollout status {ref}"
            )
        return (
            f"nothing was rolled back; roll it back with openrollout.k8s.rollout_undo (to revision "
            f"{target}) or kubectl rollout undo {ref} --to-revision={target}, or run this task again "
            "once the API accepts it"
        )

    def _state_text(self, workload: Optional[JSONDict]) -> str:
        if workload is None:
            return f"{self.what} no longer exists"
        counts = replica_counts(self.kind, workload)
        images = ", ".join(f"{n}={i}" for n, i in sorted(images_of(workload["spec"]["template"]).items()))
        desired = counts["desired"] if counts["desired"] is not None else 1
        return (
            f"{self.what} is at revision {self._current_number(workload) or '?'} ({images}) with "
            f"{counts['available']}/{desired} pods available"
        )

    # --- result -------------------------------------------------------------------------

    def _strategy_dict(self, workload: Optional[JSONDict]) -> JSONDict:
        """The strategy used: the native updateStrategy type, timeoutSeconds and the hooks."""
        strategy = self.strategy
        return {
            "type": update_strategy_type(workload or self.after or {}),
            "timeout_seconds": strategy.timeout_seconds,
            "hooks": {phase: hook_to_dict(hook) for phase, hook in sorted(strategy.hooks.items())},
            "labels": dict(strategy.labels),
            "annotations": dict(strategy.annotations),
            "active_deadline_seconds": strategy.active_deadline_seconds,
        }

    def _result(
        self,
        changed: bool,
        workload: Optional[JSONDict] = None,
        failure: Optional[Failure] = None,
        rolled_back: bool = False,
        failed_revision: Optional[int] = None,
    ) -> JSONDict:
        change = self.change
        shown = workload or self.after
        result: JSONDict = {
            "changed": changed,
            "kind": self.kind,
            "revision": self.planned_revision,
            "previous_revision": self.previous_revision,
            "workload": without_noise(workload),
            "strategy": self._strategy_dict(shown),
            "update_strategy": (shown or {}).get("spec", {}).get("updateStrategy"),
            "steps": self.steps,
            "staged": self.staged,
            "timeline": self.timeline.events,
            "rolled_back": rolled_back,
            "change": None if change is None else change.summary(),
            "hooks": self.hooks,
            "stopped_before": None,
            "resumed_from": None,
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        if rolled_back:
            result["failed_revision"] = failed_revision
        if failure is not None:
            result["failure"] = {"reason": failure.reason, "message": failure.message}
        if self.diff and self.after is not None:
            result["diff"] = {"before": for_diff(self.before), "after": for_diff(self.after)}
        return result


def engine_for(
    client: KubeClient, request: RolloutRequest, check_mode: bool = False, diff: bool = False
) -> Union[RolloutEngine, WorkloadRolloutEngine]:
    """The engine for the request's kind: RolloutEngine for a Deployment, else WorkloadRolloutEngine."""
    if request.kind in WORKLOAD_KINDS:
        return WorkloadRolloutEngine(client, request, check_mode, diff)
    return RolloutEngine(client, request, check_mode, diff)


__all__ = ["WorkloadRolloutEngine", "engine_for"]
