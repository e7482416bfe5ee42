# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The rollout engine: observe -> plan -> act -> wait, the only place joining the pure core
# (_rollout, _revisions, _status, _fenceposts) and the client (_client). The Deployment
# controller stays in charge of ReplicaSets; the engine steers it only through fields of the
# Deployment (template, replicas, strategy), so `kubectl rollout status|history|undo` see a
# normal Deployment at every moment.
#
#   Rolling:  strategy maxUnavailable 0 -> new template -> one new pod available (canary)
#             -> the user's maxUnavailable -> rollout complete
#   Recreate: strategy Recreate -> new template at 0 replicas -> old pods gone [mid seam]
#             -> 1 replica available -> all replicas -> rollout complete
#   Failure:  kubectl's undo to the revision that ran before, at its replica count, waited for.
import copy
import json
import secrets
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ._analysis_options import analysis_providers, wall_time
from ._client import (
    APPLY_PATCH,
    DEPLOYMENTS,
    JSON_PATCH,
    MERGE_PATCH,
    REPLICA_SETS,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
    STRATEGIC_MERGE_PATCH,
    ClientError,
    KubeClient,
    Resource,
)
from ._hook_runner import HookFailed, HookRunner, run_hook_step
from ._hooks import custom_job, deployer_rbac, hook_job, hook_job_name, hook_source
from ._ownership import (
    REASON_SUPERSEDED,
    ROLLOUT_BOOKKEEPING,
    RUN_LABEL,
    STATE_ANNOTATION,
    changed_since,
    claim_refused,
    rollout_state,
    runs,
    stale_state,
    superseded,
)
from ._revisions import (
    REVISION_ANNOTATION,
    equal_ignore_hash,
    find_new_replica_set,
    images_of,
    next_revision,
    revision,
    rollback_patch,
)
from ._rollout import (
    FIELD_MANAGER,
    GOAL_CANARY,
    GOAL_COMPLETE,
    GOAL_NEW_AVAILABLE,
    GOAL_OLD_GONE,
    REASON_API_ERROR,
    Change,
    Failure,
    RolloutRequest,
    apply_body,
    blank_image_refusal,
    canary_first,
    capacity_gap,
    compare,
    deployment_strategy,
    desired_replicas,
    for_diff,
    name_mode_patch,
    plan_steps,
    replica_counts,
    same_deployment_strategy,
    selector_string,
    strategy_from_deployment_strategy,
    without_noise,
)
from ._rollout_analysis import REASON_ANALYSIS_INCONCLUSIVE, BackgroundAnalysis, planned
from ._status import deployment_status
from ._strategy import (
    HOOK_POINTS,
    STRATEGY_ANNOTATION,
    STRATEGY_CUSTOM,
    STRATEGY_RECREATE,
    Hook,
    Strategy,
    StrategyError,
    check_hooks,
    parse_strategy,
    recorded_strategy,
    serving_gaps,
    strategy_to_dict,
)
from ._waiter import DeploymentWaiter, StepFailed, Timeline

JSONDict = Dict[str, Any]

# STATE_ANNOTATION (_ownership.py): where a rollout of several phases records the next one, so
# that a run that stopped (stop_before, or killed) can go on: JSON, removed when the rollout ends.
# It is written together with the new template, so no moment has the one without the other.


def api_failure(exc: Union[StepFailed, ClientError]) -> Failure:
    """The Failure of a failed step, or of an API error (reason APIError)."""
    if isinstance(exc, StepFailed):
        return exc.failure
    return Failure(REASON_API_ERROR, str(exc))


class RolloutError(Exception):
    """The rollout failed; ``result`` is the module result so far (for fail_json)."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


class RolloutEngine:
    """Runs one rollout request; run() returns the module result or raises RolloutError."""

    def __init__(
        self,
        client: KubeClient,
        request: RolloutRequest,
        check_mode: bool = False,
        diff: bool = False,
        wall_clock: Callable[[], float] = time.time,
        run_id: Optional[str] = None,
    ) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.diff = diff
        self.wall_clock = wall_clock
        self.timeline = Timeline(wall_clock)
        self.waiter = DeploymentWaiter(client, request.namespace, request.name, self.timeline)
        self.hook_runner = HookRunner(client, self.timeline)
        self.hooks: List[JSONDict] = []
        self.warnings: List[str] = list(request.warnings)
        self.stopped_before: Optional[str] = None
        self.rollback_hook_failure: Optional[str] = None
        self.resumed_from: Optional[str] = None
        self.plan: JSONDict = {}
        self.rollback_to: Optional[JSONDict] = None
        self.rollback_replicas: Optional[int] = None
        self.rollback_strategy: Optional[JSONDict] = None
        self.what = f"Deployment {request.namespace}/{request.name}"
        self.deployer_rbac_ready = False
        self.strategy_source: Optional[str] = None  # see _strategy()
        # Who this run is, in the rollout state it writes; and, once its template is on the
        # Deployment, that template: another writer's change makes the run stop (_ownership.py).
        self.run_id = run_id or secrets.token_hex(6)
        self.taken_over: frozenset[str] = frozenset()  # run ids already on the Deployment at planning
        self.owning = False
        self.claimed = False
        self.template_written = False
        self.owned_template: Optional[JSONDict] = None
        self.state_written: Optional[str] = None
        self.apply_state: Optional[str] = None
        # Has this run written to the Deployment (its past the point of no return for API errors),
        # and has its rollback been written (the template is the previous one's again)?
        self.wrote = False
        self.rollback_written = False
        self.waiter.guard = self._superseded
        # The task's `analysis` (_rollout_analysis.py): its result once it ran, or its plan.
        self.analysis_result: Optional[JSONDict] = None
        self.analysis_jobs: List[str] = []

    # --- reading ------------------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.get(f"reading {self.what}", DEPLOYMENTS, self.request.namespace, self.request.name)

    def _replica_sets(self, deployment: JSONDict) -> List[JSONDict]:
        return self.client.list(
            f"listing the ReplicaSets of {self.what}",
            REPLICA_SETS,
            self.request.namespace,
            label_selector=selector_string(deployment["spec"].get("selector")),
        )

    # --- writing ------------------------------------------------------------------------

    def _write(
        self,
        live: Optional[JSONDict],
        dry_run: bool,
        replicas: Optional[int] = None,
        state: Optional[str] = None,
    ) -> JSONDict:
        """Apply the request's spec (see write_object); retried by the caller on 409.

        ``state``, the rollout state, is written in the same request as the template.
        """
        if self.request.body is None and live is None:
            raise RolloutError(
                self.client.not_found(
                    self.what, self.request.namespace, "; give its definition to create it"
                ),
                self._result(False),
            )
        annotations = {STATE_ANNOTATION: state} if state is not None else None
        return write_object(self.client, DEPLOYMENTS, self.request, live, dry_run, replicas, annotations)

    def _patch(self, patch: Any, content_type: str, what: str) -> JSONDict:
        written = self.client.patch(
            f"{what} on {self.what}",
            DEPLOYMENTS,
            self.request.namespace,
            self.request.name,
            patch,
            content_type,
            field_manager=FIELD_MANAGER,
        )
        if written is None:
            raise ClientError(f"{what}: {self.what} was deleted", 404)
        self.wrote = True
        return written

    def _control(
        self,
        spec: JSONDict,
        what: str,
        annotations: Optional[JSONDict] = None,
        guard: bool = True,
        labels: Optional[JSONDict] = None,
    ) -> JSONDict:
        """Merge-patch control fields (strategy, replicas, state annotation) at a fresh resourceVersion."""

        def attempt() -> JSONDict:
            live = self._get()
            if live is None:
                raise ClientError(f"{what}: {self.what} was deleted", 404)
            self._check_owner(live)
            # Only our own annotation goes unguarded: nobody else writes it, and the controller's
            # status updates would otherwise make every such patch a conflict.
            metadata: JSONDict = {"resourceVersion": live["metadata"]["resourceVersion"]} if guard else {}
            if annotations:
                metadata["annotations"] = annotations
            if labels:
                metadata["labels"] = labels
            patch: JSONDict = {"metadata": metadata}
            if spec:
                patch["spec"] = spec
            return self._patch(patch, MERGE_PATCH, what)

        return self.client.retry_on_conflict(attempt, what)

    def _apply(self, replicas: Optional[int] = None, state: Optional[str] = None) -> JSONDict:
        """Write the new spec, from a fresh read that must still be what this run planned from.

        The template and rollout state of that read are compared with the planning read's: if
        another writer changed them (another run of a rollout, kubectl), this run writes nothing
        and stops (_ownership.claim_refused). A 409 from the controller's status updates is
        retried.
        """

        def attempt() -> JSONDict:
            live = self._get()
            if live is not None and self.before is None:
                # Created by another writer since this run found nothing: a server-side apply
                # has no resourceVersion to guard a create with, so it would take it over.
                raise StepFailed(claim_refused(live, self.what))
            if live is not None and self.before is not None and self.change.template:
                if self.owning:  # claimed before the pre hook: the claim must still stand
                    taken = superseded(live, self.run_id, None, self.what, self.taken_over) is not None
                else:
                    taken = changed_since(self.before, live)
                if taken or not equal_ignore_hash(live["spec"]["template"], self.before["spec"]["template"]):
                    raise StepFailed(claim_refused(live, self.what))
            return self._write(live, False, replicas, state)

        written = self.client.retry_on_conflict(attempt, "apply")
        self.wrote = True
        if self.before is None:  # the pre hook ran before its owner existed: it has one now
            self.hook_runner.own_pre_hooks(self.hooks, written, self.warnings)
        if self.change.template:
            self.owning = self.template_written = True
            if self.strategy.type != STRATEGY_CUSTOM:  # a deployer may change the template itself
                self.owned_template = copy.deepcopy((self.after or {}).get("spec", {}).get("template"))
        return written

    def _release(self) -> None:
        """Remove this run's marks (run label, rollout state) when it stops early (pre hook, rollback)."""
        if not (self.claimed or self.state_written):
            return
        live = self._get()
        if live is None or superseded(live, self.run_id, None, self.what, self.taken_over) is not None:
            return  # another run's now: its marks stay
        self._control(
            {},
            "clearing the rollout state",
            annotations={STATE_ANNOTATION: None} if self.state_written else None,
            labels={RUN_LABEL: None} if self.claimed else None,
            guard=False,
        )

    def _drop_stale_state(self) -> Optional[JSONDict]:
        """Remove a rollout state an undo brought back (_ownership.stale_state), and read again.

        Guarded by the resourceVersion it was found stale at: a run writing its own state
        meanwhile is never undone. Bookkeeping of ours, not the user's: it is no change of the task.
        """

        def attempt() -> Optional[JSONDict]:
            live = self._get()
            if live is None or not stale_state(live):
                return live
            patch = {
                "metadata": {
                    "resourceVersion": live["metadata"]["resourceVersion"],
                    "annotations": {STATE_ANNOTATION: None},
                }
            }
            self.client.patch(
                f"removing a stale rollout state from {self.what}",
                DEPLOYMENTS,
                self.request.namespace,
                self.request.name,
                patch,
                MERGE_PATCH,
                field_manager=FIELD_MANAGER,
            )
            return self._get()

        return self.client.retry_on_conflict(attempt, "removing a stale rollout state")

    def _superseded(self, deployment: JSONDict) -> Optional[Failure]:
        """The failure when another writer took the Deployment over from this run; else None."""
        if not self.owning:
            return None
        return superseded(deployment, self.run_id, self.owned_template, self.what, self.taken_over)

    def _check_owner(self, live: JSONDict) -> None:
        failure = self._superseded(live)
        if failure is not None:
            raise StepFailed(failure)

    def _claim(self, live: JSONDict, next_phase: Optional[str] = None) -> None:
        """Mark the Deployment with this run's id (and the state before ``next_phase``), guarded.

        Guarded by the resourceVersion the run planned from: of two runs that planned from the
        same Deployment the second gets a 409, reads again, finds the first one's mark (or
        template), and stops, having written nothing. A 409 from the controller's status
        updates alone is retried. The run label does not move the Deployment's generation.
        """
        seen = live
        marks: JSONDict = {"labels": {RUN_LABEL: self.run_id}}
        if next_phase is not None:
            marks["annotations"] = {STATE_ANNOTATION: self._state_json(next_phase)}

        def attempt() -> JSONDict:
            nonlocal seen
            patch = {"metadata": {"resourceVersion": seen["metadata"]["resourceVersion"], **marks}}
            try:
                return self._patch(patch, MERGE_PATCH, "recording the rollout state")
            except ClientError as exc:
                if exc.status != 409:
                    raise
                now = self._get()
                if now is None:
                    raise ClientError(f"recording the rollout state: {self.what} was deleted", 404) from None
                if changed_since(seen, now):
                    raise StepFailed(claim_refused(now, self.what)) from None
                seen = now
                raise

        self.client.retry_on_conflict(attempt, "recording the rollout state")
        self.owning = self.claimed = True
        if next_phase is not None:
            self.state_written = next_phase

    # --- the rollout --------------------------------------------------------------------

    def _strategy(self, live: Optional[JSONDict]) -> Strategy:
        """The strategy of this rollout; where it comes from goes to ``strategy_source``.

        The task's (its strategy option, or its definition's); else the one recorded on the
        Deployment (STRATEGY_ANNOTATION, hooks included: a DeploymentConfig's strategy is part of
        the object, and every new deployment runs its hooks), as long as the Deployment's
        spec.strategy is still the one recorded with it; else the live spec.strategy; else, for
        a new Deployment, the default.
        """
        request = self.request
        if request.strategy is not None:
            self.strategy_source = request.strategy_source or "task"
            return request.strategy
        if live is None:
            self.strategy_source = "default"
            return parse_strategy(None)
        live_strategy = live.get("spec", {}).get("strategy") or {}
        try:
            recorded = recorded_strategy(live)
        except StrategyError as exc:
            raise RolloutError(
                f"{exc}; give strategy to record a new one on {self.what}", self._result(False)
            ) from None
        if recorded is not None:
            # Mid-canary (a rollout stopped or killed there), maxUnavailable is 0 for a while.
            if any(
                same_deployment_strategy(live_strategy, deployment_strategy(recorded, canary))
                for canary in (False, True)
            ):
                self.strategy_source = "recorded"
                return recorded
            self.warnings.append(
                f"the strategy recorded on {self.what} ({STRATEGY_ANNOTATION}: {recorded.type}) is not "
                f"its spec.strategy any more ({live_strategy.get('type', 'RollingUpdate')}), which "
                "another writer changed: the live spec.strategy was followed, without the recorded "
                "hooks; give strategy to choose"
            )
        self.strategy_source = "deployment"
        return parse_strategy(strategy_from_deployment_strategy(live_strategy))

    def run(self) -> JSONDict:
        request = self.request
        self.waiter.set_deadline(request.wait_timeout)
        read: List[Optional[JSONDict]] = [self._get()]
        if read[0] is not None and stale_state(read[0]) and not self.check_mode:
            read = [self._drop_stale_state()]

        def observe() -> Tuple[Optional[JSONDict], JSONDict]:
            # The Deployment and the server's dry run of the task on it, from one read: a 409
            # (the controller's status update in between) reads again.
            current = read.pop() if read else self._get()
            return current, self._write(current, dry_run=True)

        live, desired = self.client.retry_on_conflict(observe, "planning the rollout")
        if live is None:
            self.warnings.extend(request.creation_warnings)
        replica_sets = self._replica_sets(live) if live is not None else []
        strategy = self._strategy(live)
        wanted_strategy = (
            deployment_strategy(strategy) if request.strategy is not None or live is None else None
        )
        change = compare(live, desired, wanted_strategy)
        if request.test and live is not None and not change.template and change.replicas:
            # A test DeploymentConfig sits at 0 after its rollout: that is not a change to undo.
            at_zero = {**desired, "spec": {**desired["spec"], "replicas": live["spec"].get("replicas")}}
            change = compare(live, at_zero, wanted_strategy)
            desired = at_zero
        replicas = desired_replicas(desired)
        current_rs = find_new_replica_set(live, replica_sets) if live is not None else None
        old_replicas = sum(
            int(rs.get("spec", {}).get("replicas") or 0) for rs in replica_sets if rs.get("spec")
        )
        self.strategy = strategy
        self.previous_revision = revision(current_rs) if current_rs is not None else None
        self.steps = plan_steps(strategy, change, replicas, old_replicas if live is not None else 0)
        self.change = change
        self.before, self.after = live, desired
        self.taken_over = frozenset(runs(live)) if live is not None else frozenset()
        if live is not None and change.template:
            self.planned_revision: Optional[int] = next_revision(desired, replica_sets)
        elif live is None:
            self.planned_revision = 1
        else:
            self.planned_revision = revision(current_rs) if current_rs is not None else None

        refusal = blank_image_refusal(desired["spec"]["template"], self.what)
        if refusal is not None:
            raise RolloutError(refusal, self._result(False))
        self._check_hooks(strategy, desired)
        if self.change.template:
            self.warnings.extend(serving_gaps(strategy, desired["spec"]["template"]))
            if live is not None:
                self.warnings.extend(capacity_gap(strategy, replicas, old_replicas))
        if request.stop_before == "mid" and strategy.type != STRATEGY_RECREATE:
            raise RolloutError(
                "stop_before: mid needs the Recreate strategy (a Rolling update has no moment without pods)",
                self._result(False),
            )
        self.rollback_to = current_rs
        self.rollback_replicas = desired_replicas(live) if live is not None else None
        self.rollback_strategy = (live or {}).get("spec", {}).get("strategy") or deployment_strategy(strategy)
        if request.strategy is not None:
            self.rollback_strategy = deployment_strategy(strategy)

        state = saved_state(live) if live is not None and not change.template and request.wait else None
        if state is not None and live is not None:
            return self._resume(state, strategy, live, replica_sets, replicas)
        if not change.any:
            if request.wait and live is not None and not deployment_status(live).done:
                self._finish_unchanged_rollout(strategy)
            return self._result(False, deployment=self._get() or live)
        if self.check_mode:
            if self._analysing():
                self.analysis_result = planned(request.analysis, request.analysis_run, self.planned_revision)
            self.hooks = [
                {
                    "phase": phase,
                    "job": hook_job_name(request.name, self.planned_revision or 1, phase),
                    "planned": True,
                }
                for phase in self._hook_phases(strategy)
            ]
            return self._result(True, deployment=desired)
        if live is not None and live["spec"].get("paused") and change.template:
            raise RolloutError(
                f"{self.what} is paused: its new template would not roll out; resume it first "
                "(kubectl rollout resume, or spec.paused: false) and run again",
                self._result(False),
            )

        if request.wait and change.template:
            old_available = int((live or {}).get("status", {}).get("availableReplicas") or 0)
            canary = live is not None and canary_first(strategy, replicas, old_available)
            final = wanted_strategy or (live or {}).get("spec", {}).get("strategy")
            self.plan = {
                "replicas": replicas,
                # Recreate keeps rollingUpdate: None, so that the merge patch removes it.
                "strategy": final or deployment_strategy(strategy),
                "canary": canary,
                "creating": live is None,
            }
        try:
            if live is not None and self.plan and "pre" in self._hook_phases(strategy):
                # Before the pre hook runs: of two runs started at once, one runs its hooks.
                self._claim(live)
            self._run_hook("pre", strategy)
        except (StepFailed, ClientError) as exc:
            if isinstance(exc, ClientError) and not self.wrote:
                raise  # nothing written (the claim was refused, or not made): the API's message alone
            failure = api_failure(exc)
            self.timeline.event("failed", reason=failure.reason, message=failure.message)
            if failure.reason == REASON_SUPERSEDED:
                now, now_text = self._state_now()
                raise RolloutError(
                    f"{failure.message}. This run changed nothing: {now_text}",
                    self._result(False, deployment=now, failure=failure),
                ) from None
            unmarked = self._try(self._release)
            note = f" (its run label could not be removed: {unmarked})" if unmarked else ""
            # changed: true, for the hook's Job; the rollout itself never started.
            unchanged = (
                f"Only the pre hook's Job ran; the Deployment itself was not changed{note}: "
                f"{self._state_text(live)}"
                if live is not None
                else f"Only the pre hook's Job ran; {self.what} was not created{note}"
            )
            raise RolloutError(
                f"{failure.message}. {unchanged}", self._result(True, deployment=live, failure=failure)
            ) from None
        try:
            if not request.wait:
                self._apply_all(live, strategy, wanted_strategy)
            elif not change.template:
                self._apply_all(live, strategy, wanted_strategy)
                self.waiter.wait(GOAL_COMPLETE, strategy.timeout_seconds)
                self.timeline.event("complete")
            else:
                phases = rollout_phases(strategy.type, self.plan["canary"])
                self._run_phases(phases, phases[0], strategy)
        except (StepFailed, ClientError) as exc:
            if isinstance(exc, ClientError) and not self.wrote:
                raise  # nothing written yet: the API's message alone
            failure = api_failure(exc)
            self.timeline.event("failed", reason=failure.reason, message=failure.message)
            self._fail(failure, strategy)
        final_deployment = self._get()
        if final_deployment is not None and request.wait and not self.stopped_before:
            self.planned_revision = revision(final_deployment)
        return self._result(True, deployment=final_deployment)

    def _apply_all(self, live: Optional[JSONDict], strategy: Strategy, wanted: Optional[JSONDict]) -> None:
        """Strategy and spec in one go: what a scale or wait=false needs, no steps of our own."""
        if wanted is not None and live is not None and self.change.strategy:
            self._control({"strategy": wanted}, "setting the strategy")
        self._apply()
        if wanted is not None and live is None:
            self._control({"strategy": wanted}, "setting the strategy")
        self.timeline.event("applied", revision=self.planned_revision)

    # --- the phases of a rollout --------------------------------------------------------
    #
    # Rolling:  apply -> canary -> complete -> post
    # Recreate: apply -> old_gone -> mid -> validate -> scale -> complete -> post
    # Before each phase after apply, the Deployment's annotation openrollout.k8s/rollout says
    # which phase is next; a run that stopped there (stop_before, or killed) goes on from it.

    def _run_phases(self, phases: List[str], start: str, strategy: Strategy) -> None:
        saved = self.resumed_from is not None or self.claimed
        todo = phases[phases.index(start) :]
        for index, phase in enumerate(todo):
            following = todo[index + 1] if index + 1 < len(todo) else None
            if phase == "apply":
                # The state of the phase after apply goes with the template, in one write: a run
                # killed right after it finds both (docs/reliability.md, violations found).
                if following is not None and (saved or self._needs_state(following, strategy)):
                    self.apply_state = self._state_json(following)
                    self.state_written = following
                    saved = True
            elif self._needs_state(phase, strategy) and self.state_written != phase:
                self._save_state(phase)
                saved = True
            if phase == self.request.stop_before:
                self.stopped_before = phase
                self.timeline.event("stopped", before=phase)
                return
            getattr(self, f"_phase_{phase}")(strategy)
        if saved:
            self._clear_state()
        elif self.owning:
            now = self._get()
            if now is not None:
                self._check_owner(now)
        if self.request.test:
            # OpenShift's test deployments: roll out, prove it works, then scale to 0.
            self._control({"replicas": 0}, "scaling the test deployment to 0")
            self.timeline.event("scaled", replicas=0, test=True)
            self.waiter.wait(GOAL_COMPLETE, strategy.timeout_seconds)

    def _clear_state(self) -> None:
        """Remove the rollout state once every phase is done. The rollout has succeeded by then:
        an API error here is said as it is, and rolls nothing back."""
        try:
            self._control(
                {},
                "clearing the rollout state",
                annotations={STATE_ANNOTATION: None},
                labels={RUN_LABEL: None} if self.claimed else None,
                guard=False,
            )
        except ClientError as exc:
            now, state = self._state_now()
            raise RolloutError(
                f"The rollout is complete, but its state annotation {STATE_ANNOTATION} could not be "
                f"removed: {exc}. Nothing was rolled back. {state}. Run the task again to remove it "
                "(a hook that has run is not run again).",
                self._result(True, deployment=now),
            ) from None

    def _needs_state(self, phase: str, strategy: Strategy) -> bool:
        """Is there anything a rerun could not redo from the Deployment alone, from ``phase`` on?

        Yes while the Deployment does not say its final replicas or strategy (canary, Recreate's
        steps, Custom's pause), while hooks are still to run, and where the user stops.
        """
        if self.request.stop_before is not None:
            return True
        if phase in ("canary", "old_gone", "mid", "validate", "scale", "custom"):
            return True
        return "post" in self._hook_phases(strategy)

    def _resume(
        self,
        state: JSONDict,
        strategy: Strategy,
        live: JSONDict,
        replica_sets: List[JSONDict],
        replicas: int,
    ) -> JSONDict:
        """Go on with a rollout that stopped before ``state["next"]``."""
        self.planned_revision = int(state["revision"])
        self.previous_revision = state.get("previous_revision")
        self.rollback_to = next(
            (rs for rs in replica_sets if revision(rs) == self.previous_revision and self.previous_revision),
            None,
        )
        self.rollback_replicas = state.get("previous_replicas")
        self.rollback_strategy = state.get("previous_strategy") or self.rollback_strategy
        # The user's count if the task gives one; else the planned one (the live count is 0 at mid).
        given = self.request.replicas is not None or "replicas" in (self.request.body or {}).get("spec", {})
        self.plan = {
            "replicas": replicas if given else int(state.get("replicas", replicas)),
            "strategy": state["strategy"],
            "canary": bool(state.get("canary")),
            "creating": False,
        }
        phases = rollout_phases(strategy.type, self.plan["canary"])
        start = state["next"] if state["next"] in phases else "complete"
        if start == self.request.stop_before:
            self.stopped_before = start
            return self._result(False, deployment=live)
        if self.check_mode:
            self.resumed_from = start
            return self._result(True, deployment=live)
        self.resumed_from = start
        self.timeline.event("resumed", phase=start, revision=self.planned_revision)
        try:
            # This run takes the rollout over (a run killed earlier wrote the state): guarded, so
            # that of two runs resuming at once only one goes on.
            self._claim(live, start)
            if strategy.type != STRATEGY_CUSTOM:
                self.owned_template = copy.deepcopy(live["spec"]["template"])
            if state.get("paused") == "analysis" and live["spec"].get("paused"):
                # Paused by an Inconclusive analysis of an earlier run: this run is the person's go.
                self._control({"paused": False}, "resuming after an Inconclusive analysis")
                self.timeline.event("resumed_by_module", reason="analysis was Inconclusive")
            self._run_phases(phases, start, strategy)
        except (StepFailed, ClientError) as exc:
            if isinstance(exc, ClientError) and not self.wrote:
                raise  # the claim was refused: nothing written
            failure = api_failure(exc)
            self.timeline.event("failed", reason=failure.reason, message=failure.message)
            self._fail(failure, strategy)
        return self._result(True, deployment=self._get())

    def _save_state(self, next_phase: str) -> None:
        self._control(
            {},
            f"recording the rollout state ({next_phase})",
            annotations={STATE_ANNOTATION: self._state_json(next_phase)},
            guard=False,
        )
        self.state_written = next_phase

    def _state_json(self, next_phase: str) -> str:
        """The rollout state before ``next_phase``: what a rerun needs to go on, and who wrote it."""
        state = {
            "revision": self.planned_revision,
            "next": next_phase,
            "replicas": self.plan["replicas"],
            "strategy": self.plan["strategy"],
            "canary": self.plan["canary"],
            "previous_revision": self.previous_revision,
            "previous_replicas": self.rollback_replicas,
            "previous_strategy": _without_nulls(self.rollback_strategy) if self.rollback_strategy else None,
            "run": self.run_id,
        }
        return json.dumps(state, sort_keys=True)

    def _phase_apply(self, strategy: Strategy) -> None:
        creating = self.plan["creating"]
        if strategy.type == STRATEGY_CUSTOM:
            # The deployer's RBAC first: refused (403), the task fails before anything is written.
            self._ensure_deployer_rbac()
            # Paused with the new template: the controller makes no pod until the deployer is done.
            if creating:
                self._apply(replicas=0, state=self.apply_state)
                self._control({"paused": True, "strategy": self.plan["strategy"]}, "pausing for the deployer")
            else:
                self._control({"paused": True, "strategy": self.plan["strategy"]}, "pausing for the deployer")
                self._apply(state=self.apply_state)
            self.timeline.event("applied", revision=self.planned_revision, paused=True)
            return
        if strategy.type == STRATEGY_RECREATE:
            if not creating:
                self._control({"strategy": self.plan["strategy"]}, "setting the Recreate strategy")
            self._apply(replicas=0, state=self.apply_state)
            if creating:
                self._control({"strategy": self.plan["strategy"]}, "setting the Recreate strategy")
            self.timeline.event("applied", revision=self.planned_revision, replicas=0)
            return
        first = deployment_strategy(strategy, canary=True) if self.plan["canary"] else self.plan["strategy"]
        if not creating and (self.plan["canary"] or self.change.strategy):
            self._control({"strategy": first}, "setting the strategy")
        self._apply(state=self.apply_state)
        if creating:
            self._control({"strategy": first}, "setting the strategy")
        self.timeline.event(
            "applied",
            revision=self.planned_revision,
            replicas=self.plan["replicas"],
            canary=self.plan["canary"],
        )

    def _phase_custom(self, strategy: Strategy) -> None:
        """The Custom strategy: the user's deployer Job runs, then the Deployment rolls out."""
        self._ensure_deployer_rbac()
        live = self._get()
        source = copy.deepcopy(self.after or {})
        if live is not None:
            source["metadata"]["uid"] = live["metadata"]["uid"]
        job = custom_job(source, strategy, self.planned_revision or 1, self.previous_revision)
        deployer = Hook(failure_policy="Abort", exec_new_pod=None, tag_images=[])
        try:
            record = self.hook_runner.run(job, deployer, "deployer", self.waiter.time_left)
        except HookFailed as failed:
            self.hooks.append(failed.record)
            raise StepFailed(
                Failure("DeployerFailed", str(failed).replace("deployer hook", "Custom deployer"))
            ) from None
        self.hooks.append(record)
        self._control({"paused": False, "replicas": self.plan["replicas"]}, "resuming after the deployer")
        self.timeline.event("resumed_by_module", replicas=self.plan["replicas"])

    def _ensure_deployer_rbac(self) -> None:
        """The deployer's ServiceAccount, Role and RoleBinding (namespace-scoped), created once."""
        if self.deployer_rbac_ready:
            return
        resources = {resource.kind: resource for resource in (SERVICE_ACCOUNTS, ROLES, ROLE_BINDINGS)}
        for obj in deployer_rbac(self.request.namespace, self.request.name):
            try:
                self.client.create(
                    f"creating the deployer's {obj['kind']}",
                    resources[obj["kind"]],
                    self.request.namespace,
                    obj,
                )
            except ClientError as exc:
                if exc.status != 409:  # already there from an earlier rollout
                    raise
        self.deployer_rbac_ready = True

    def _phase_canary(self, strategy: Strategy) -> None:
        """Canary-first: no old pod went while maxUnavailable was 0; one new pod is available now."""
        self.waiter.wait(GOAL_CANARY, strategy.timeout_seconds)
        self.timeline.event("canary_available")
        self._control({"strategy": self.plan["strategy"]}, "restoring maxUnavailable after the canary")

    def _phase_old_gone(self, strategy: Strategy) -> None:
        self.waiter.wait(GOAL_OLD_GONE, strategy.timeout_seconds)
        self.timeline.event("old_scaled_down")

    def _phase_mid(self, strategy: Strategy) -> None:
        # Nothing of the application runs here.
        self._run_hook("mid", strategy)

    def _phase_validate(self, strategy: Strategy) -> None:
        if self.plan["replicas"] > 0:
            self._control({"replicas": 1}, "scaling the new revision to 1")
            self.timeline.event("scaled", replicas=1)
            self.waiter.wait(GOAL_NEW_AVAILABLE, strategy.timeout_seconds, target=1)
            self.timeline.event("new_validated")

    def _phase_scale(self, strategy: Strategy) -> None:
        replicas = self.plan["replicas"]
        if replicas > 1:
            self._control({"replicas": replicas}, f"scaling the new revision to {replicas}")
            self.timeline.event("scaled", replicas=replicas)

    def _phase_complete(self, strategy: Strategy) -> None:
        analysis = self._background_analysis()
        self.waiter.background = analysis
        try:
            self.waiter.wait(GOAL_COMPLETE, strategy.timeout_seconds)
        finally:
            self.waiter.background = None
            if analysis is not None:
                self.analysis_result = analysis.result()
                if self.analysis_jobs:
                    self.analysis_result["jobs"] = list(self.analysis_jobs)
        self.timeline.event("complete")

    # --- analysis -----------------------------------------------------------------------

    def _analysing(self) -> bool:
        """Is there an analysis to run: the task gives one and a new revision rolls out?"""
        return (
            self.request.analysis is not None
            and self.request.analysis_run is not None
            and self.request.wait
            and bool(self.change.template or self.resumed_from)
        )

    def _background_analysis(self) -> Optional[BackgroundAnalysis]:
        """The analysis for the complete phase's wait (the waiter runs it), or None."""
        if not self._analysing():
            return None
        spec = self.request.analysis
        providers = analysis_providers(
            self.client,
            self.request.namespace,
            spec.name,
            self.analysis_jobs,
            HookRunner(self.client, Timeline(self.wall_clock), sleep=self.client.sleep),
            self.waiter.time_left,
        )
        return BackgroundAnalysis(
            spec,
            self.request.analysis_run,
            providers,
            self.client.clock,
            self.timeline,
            wall_time(self.client.clock),
            revision=self.planned_revision,
        )

    def _pause_inconclusive(self, failure: Failure) -> None:
        """An Inconclusive analysis: the Deployment paused where it is, as Argo Rollouts pauses a
        Rollout, and the state recorded, so that the same task again goes on (raises RolloutError)."""
        state = json.loads(self._state_json("complete"))
        state["paused"] = "analysis"
        ref = f"deployment/{self.request.name} -n {self.request.namespace}"
        try:
            self._control(
                {"paused": True},
                "pausing on an Inconclusive analysis",
                annotations={STATE_ANNOTATION: json.dumps(state, sort_keys=True)},
            )
        except (StepFailed, ClientError) as exc:
            now, text = self._state_now()
            raise RolloutError(
                f"rollout of {self.what} to revision {self.planned_revision} stopped: {failure.message}. "
                f"It could not be paused ({api_failure(exc).message}), so the Deployment controller "
                f"goes on with it: {text}",
                self._result(True, deployment=now, failure=failure),
            ) from None
        self.state_written = "complete"
        self.stopped_before = "complete"
        self.timeline.event("paused", reason=failure.reason)
        now, text = self._state_now()
        raise RolloutError(
            f"rollout of {self.what} to revision {self.planned_revision} stopped: {failure.message}. "
            f"{text}; it is paused there (spec.paused), as Argo Rollouts pauses a Rollout on an "
            "Inconclusive analysis, for a person to decide. To go on, run this task again: it resumes "
            "the Deployment and analyses the rest of the rollout again (analysis.accept_inconclusive: "
            "true lets an Inconclusive analysis pass; without analysis it is not analysed). To roll "
            f"back: kubectl rollout resume {ref}, then kubectl rollout undo {ref} (or "
            "openrollout.k8s.rollout_control action: resume, then openrollout.k8s.rollout_undo)",
            self._result(True, deployment=now, failure=failure),
        )

    def _phase_post(self, strategy: Strategy) -> None:
        self._run_hook("post", strategy)

    def _finish_unchanged_rollout(self, strategy: Strategy) -> None:
        """Nothing to write, but a rollout is under way: wait for it, like kubectl rollout status."""
        try:
            self.waiter.wait(GOAL_COMPLETE, strategy.timeout_seconds)
        except StepFailed as failed:
            raise RolloutError(
                f"{self.what} already had this spec, but its rollout is not healthy: "
                f"{failed.failure.message}. Nothing was changed; fix the Deployment or roll it back "
                "(kubectl rollout undo)",
                self._result(False, failure=failed.failure),
            ) from None

    # --- hooks --------------------------------------------------------------------------

    def _hook_phases(self, strategy: Strategy) -> List[str]:
        """The phases whose hooks run: only when a new revision rolls out, and with wait."""
        if not (self.change.template or self.resumed_from) or not self.request.wait or not self.request.hooks:
            return []
        return [p for p in HOOK_POINTS if p in strategy.hooks and strategy.hooks[p].exec_new_pod is not None]

    def _check_hooks(self, strategy: Strategy, desired: JSONDict) -> None:
        """Hooks must name a container and volumes of the new template; tagImages is not ours."""
        if not self.request.hooks:
            return
        try:
            self.warnings.extend(check_hooks(strategy, desired["spec"]["template"]))
        except StrategyError as exc:
            hint = (
                f" (a hook recorded with the strategy in {STRATEGY_ANNOTATION}); give a strategy, or "
                "hooks: false to roll out without the recorded hooks"
                if self.strategy_source == "recorded"
                else ""
            )
            raise RolloutError(f"{exc}{hint}", self._result(False)) from None
        if strategy.hooks and not self.request.wait and self.change.template:
            self.warnings.append("lifecycle hooks need wait=true: they were not run")

    def _run_hook(self, phase: str, strategy: Strategy) -> None:
        """Run the phase's hook, if any, from the new template; StepFailed when it aborts."""
        wanted = phase in self._hook_phases(strategy) or (
            phase == "rollback"
            and self.request.hooks
            and phase in strategy.hooks
            and strategy.hooks[phase].exec_new_pod is not None
        )
        if not wanted:
            return
        hook = strategy.hooks[phase]
        deployment = self._get() if phase != "pre" or self.before is not None else None
        if deployment is not None and phase in ("mid", "post"):
            self._check_owner(deployment)
        job = hook_job(
            hook_source(self.after or {}, deployment), hook, phase, self.planned_revision or 1, strategy
        )
        try:
            run_hook_step(
                self.hook_runner, job, hook, phase, self.waiter.time_left, self.hooks, self.warnings
            )
        except StepFailed:
            last = self.hooks[-1] if self.hooks else {}
            if phase != "rollback" and self.owning and last.get("reason") == "Deleted":
                # Its Job was deleted while it ran: by another run that took the rollout over?
                now = self._get()
                if now is not None:
                    self._check_owner(now)
            raise

    # --- failure ------------------------------------------------------------------------

    def _fail(self, failure: Failure, strategy: Strategy) -> None:
        """Roll back (when asked and possible) and raise RolloutError with the whole story."""
        if failure.reason == REASON_ANALYSIS_INCONCLUSIVE:
            self._pause_inconclusive(failure)
        self.owning = False  # from here on, what this run writes is the way back, not its rollout
        previous_rs = self.rollback_to
        detail = failure.message
        if not detail.startswith(failure.reason):
            detail = f"{failure.reason}: {detail}"
        cause = f"rollout of {self.what} to revision {self.planned_revision} failed: {detail}"
        if failure.reason == REASON_SUPERSEDED:
            # Rolling back would undo the other writer's change: the last writer wins.
            now, state = self._state_now()
            done = (
                "Nothing was rolled back, so as not to undo the other change"
                if self.template_written
                else "This run had not written its template yet; nothing was rolled back"
            )
            raise RolloutError(
                f"{cause}. {done}: {state}; run this task again once the other "
                "rollout is done to roll out this one",
                self._result(self.template_written, deployment=now, failure=failure),
            )
        if not self.request.rollback_on_failure or previous_rs is None:
            now, state = self._state_now()
            if previous_rs is None:
                advice = "there is no previous revision to roll back to; fix the definition and run again"
            else:
                advice = (
                    f"rollback_on_failure is false, so it was left as it is; roll back with "
                    f"kubectl rollout undo (to revision {revision(previous_rs)}) or run again with a fix"
                )
            raise RolloutError(
                f"{cause}. {state}; {advice}", self._result(True, deployment=now, failure=failure)
            )
        try:
            rolled_back = self._roll_back(strategy, previous_rs)
        except (StepFailed, ClientError) as exc:
            now, state = self._state_now()
            message = api_failure(exc).message
            raise RolloutError(
                f"{cause}. The rollback to revision {revision(previous_rs)} did not complete either: "
                f"{message}. {state}; {self._how_to_continue(exc, previous_rs, now)}",
                self._result(True, deployment=now, failure=failure),
            ) from None
        if self.claimed:
            unmarked = self._try(self._release)
            if unmarked:
                self.warnings.append(
                    f"the rollback is complete, but its run label stays on {self.what}: {unmarked}"
                )
        images = ", ".join(
            f"{name}={image}" for name, image in sorted(images_of(previous_rs["spec"]["template"]).items())
        )
        hook_note = (
            f". The rollback hook failed: {self.rollback_hook_failure}" if self.rollback_hook_failure else ""
        )
        raise RolloutError(
            f"{cause}. Rolled back to the template of revision {revision(previous_rs)} ({images}), "
            f"now revision {revision(rolled_back)}: {self._state_text(rolled_back)}{hook_note}",
            self._result(True, deployment=rolled_back, failure=failure, rolled_back=True),
        )

    def _roll_back(self, strategy: Strategy, previous_rs: JSONDict) -> JSONDict:
        """kubectl rollout undo to ``previous_rs``, with the replicas and strategy from before the task."""
        # The rollback hook (for example, undo a data migration the pre or mid hook made) runs
        # first, from the failed revision's template. Its failure is reported; the rollback of
        # the application goes on regardless: capacity first.
        try:
            self._run_hook("rollback", strategy)
        except StepFailed as failed:
            self.rollback_hook_failure = failed.failure.message
        previous_replicas = self.rollback_replicas
        if previous_replicas is None:
            previous_replicas = int(previous_rs.get("spec", {}).get("replicas") or 1)
        final_strategy = self.rollback_strategy or deployment_strategy(strategy)

        def attempt() -> JSONDict:
            live = self._get()
            if live is None:
                raise StepFailed(Failure("Deleted", f"{self.what} was deleted"))
            operations: List[JSONDict] = [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": live["metadata"]["resourceVersion"],
                }
            ]
            operations += rollback_patch(live, previous_rs, drop=ROLLOUT_BOOKKEEPING) or []
            if not operations[1:]:
                # The template is already the previous one: still drop our state annotation.
                annotations = dict(live["metadata"].get("annotations") or {})
                if STATE_ANNOTATION in annotations:
                    del annotations[STATE_ANNOTATION]
                    operations.append(
                        {"op": "replace", "path": "/metadata/annotations", "value": annotations}
                    )
            operations += [
                {"op": "add", "path": "/spec/replicas", "value": previous_replicas},
                {"op": "add", "path": "/spec/strategy", "value": _without_nulls(final_strategy)},
                {"op": "add", "path": "/spec/paused", "value": False},
            ]
            try:
                return self._patch(operations, JSON_PATCH, "rolling back")
            except ClientError as exc:
                # A failed JSON patch "test" is a bare 422: if the Deployment moved meanwhile,
                # it is a conflict, retried from a fresh read.
                now = self._get() if exc.status == 422 else None
                if (
                    now is not None
                    and now["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]
                ):
                    raise ClientError(f"{exc} (the Deployment changed meanwhile)", 409) from None
                raise

        self.client.retry_on_conflict(attempt, "rollback")
        self.rollback_written = True
        self.timeline.event("rollback_started", to_revision=revision(previous_rs), replicas=previous_replicas)
        # The rollback gets its own time: wait_timeout bounded the rollout, not the way back.
        self.waiter.set_deadline(None)
        self.waiter.wait(GOAL_COMPLETE, strategy.timeout_seconds)
        self.timeline.event("rolled_back")
        rolled_back = self._get()
        if rolled_back is None:
            raise StepFailed(Failure("Deleted", f"{self.what} was deleted"))
        return rolled_back

    def _state_text(
        self, deployment: Optional[JSONDict], replica_sets: Optional[List[JSONDict]] = None
    ) -> str:
        """``Deployment shop/web is at revision 6 (app=web:v3) with 4/4 pods available``; with its
        ``replica_sets``, which revision the available pods run when some are older ones':
        ``... with 4/4 pods available, all of revision 5 (revision 6 has 0)``."""
        if deployment is None:
            return f"{self.what} no longer exists"
        status = deployment.get("status", {})
        number = revision(deployment) or "?"
        images = ", ".join(f"{n}={i}" for n, i in sorted(images_of(deployment["spec"]["template"]).items()))
        available = int(status.get("availableReplicas") or 0)
        text = (
            f"{self.what} is at revision {number} ({images}) with "
            f"{available}/{desired_replicas(deployment)} pods available"
        )
        counts = replica_counts(deployment, replica_sets or [])
        if not counts["old"]["available"]:
            return text
        new_rs = find_new_replica_set(deployment, replica_sets or [])
        new_uid = (new_rs or {}).get("metadata", {}).get("uid")
        older = sorted(
            revision(rs)
            for rs in replica_sets or []
            if rs["metadata"].get("uid") != new_uid and (rs.get("status") or {}).get("availableReplicas")
        )
        where = f"revision {older[0]}" if len(older) == 1 else "revisions " + ", ".join(map(str, older))
        new = counts["new"]["available"]
        # The new ReplicaSet's own number: while a rollback is under way the Deployment's
        # annotation may still name the revision rolled away from.
        new_number = (revision(new_rs) if new_rs is not None else None) or number
        if not new:
            return f"{text}, all of {where} (revision {new_number} has 0)"
        return f"{text}: {new} of revision {new_number}, {counts['old']['available']} of {where}"

    def _state_now(self) -> Tuple[Optional[JSONDict], str]:
        """The Deployment as it is now and its state in words; read for a failure's message, so
        an API error reading it is said, not raised."""
        try:
            now = self._get()
            replica_sets = self._replica_sets(now) if now is not None else []
        except ClientError as exc:
            return None, f"The state of {self.what} could not be read ({exc})"
        return now, self._state_text(now, replica_sets)

    def _try(self, action: Callable[[], Any]) -> Optional[str]:
        """Run a clean-up ``action`` after a failure; its API error, if any, as text."""
        try:
            action()
        except ClientError as exc:
            return str(exc)
        return None

    def _how_to_continue(
        self, exc: Union[StepFailed, ClientError], previous_rs: JSONDict, now: Optional[JSONDict]
    ) -> str:
        """After a rollback that did not complete: what is left to do, and the command for it."""
        target = revision(previous_rs)
        ref = f"deployment/{self.request.name} -n {self.request.namespace}"
        if isinstance(exc, StepFailed):  # written, then the previous revision failed to come back
            return "see kubectl rollout status and kubectl rollout history"
        if self.rollback_written:
            return (
                f"the rollback was written (the template is revision {target}'s again) and the "
                f"Deployment controller goes on with it: follow it with kubectl rollout status {ref}"
            )
        paused = bool((now or {}).get("spec", {}).get("paused"))
        resume = (
            f"it is paused: resume it (openrollout.k8s.rollout_control with action: resume, or "
            f"kubectl rollout resume {ref}), then "
            if paused
            else ""
        )
        return (
            f"nothing was rolled back; {resume}roll it back with kubectl rollout undo {ref} "
            f"--to-revision={target} (or openrollout.k8s.rollout_undo), or run this task again "
            "once the API accepts it, to go on with the rollout"
        )

    # --- result -------------------------------------------------------------------------

    def _result(
        self,
        changed: bool,
        deployment: Optional[JSONDict] = None,
        failure: Optional[Failure] = None,
        rolled_back: bool = False,
    ) -> JSONDict:
        change: Optional[Change] = getattr(self, "change", None)
        result: JSONDict = {
            "changed": changed,
            "revision": getattr(self, "planned_revision", None),
            "previous_revision": getattr(self, "previous_revision", None),
            "deployment": without_noise(deployment),
            "strategy": strategy_to_dict(self.strategy) if hasattr(self, "strategy") else None,
            "strategy_source": self.strategy_source,
            "steps": getattr(self, "steps", []),
            "timeline": self.timeline.events,
            "rolled_back": rolled_back,
            "change": None if change is None else change.summary(),
        }
        result["hooks"] = self.hooks
        result["analysis"] = self.analysis_result
        result["stopped_before"] = self.stopped_before
        result["resumed_from"] = self.resumed_from
        if self.warnings:
            result["warnings"] = list(self.warnings)
        if rolled_back and deployment is not None:
            result["revision"] = revision(deployment)
            result["failed_revision"] = getattr(self, "planned_revision", None)
        if failure is not None:
            result["failure"] = {"reason": failure.reason, "message": failure.message}
        if self.diff and hasattr(self, "after"):
            result["diff"] = {"before": for_diff(self.before), "after": for_diff(self.after)}
        return result


def write_object(
    client: KubeClient,
    resource: Resource,
    request: RolloutRequest,
    live: Optional[JSONDict],
    dry_run: bool,
    replicas: Optional[int] = None,
    annotations: Optional[JSONDict] = None,
) -> JSONDict:
    """Write the request to a Deployment, StatefulSet or DaemonSet, or ask for a dry run of it.

    Definition mode: server-side apply (field manager openrollout.k8s, forced), so fields
    applied before and gone from the definition are removed. Name mode: a strategic merge
    patch of just what the options change (``live`` must exist). ``replicas`` replaces the
    count written, and ``annotations`` are written with it (the rollout state). Guarded by the
    live resourceVersion: a concurrent change gives 409, and the caller retries from a fresh read.
    """
    what = f"{resource.kind} {request.namespace}/{request.name}"
    kwargs: JSONDict = {}
    if request.body is not None:
        body = apply_body(request, replicas, live)
        if live is not None:
            body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        content_type = APPLY_PATCH
        kwargs["force"] = True
    else:
        if live is None:
            raise ClientError(f"{what} not found; give its definition to create it", 404)
        body = name_mode_patch(request, live)
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        if replicas is not None:
            body["spec"]["replicas"] = replicas
        content_type = STRATEGIC_MERGE_PATCH
    if annotations:
        body["metadata"]["annotations"] = {**(body["metadata"].get("annotations") or {}), **annotations}
    if dry_run:
        kwargs["dry_run"] = "All"
    written = client.patch(
        f"applying {what}",
        resource,
        request.namespace,
        request.name,
        body,
        content_type,
        field_manager=FIELD_MANAGER,
        **kwargs,
    )
    if written is None:
        raise ClientError(f"applying {what}: namespace {request.namespace} not found", 404)
    return written


def rollout_phases(strategy_type: str, canary: bool) -> List[str]:
    """The phases of a rollout of a new template (see RolloutEngine._run_phases)."""
    if strategy_type == STRATEGY_CUSTOM:
        return ["apply", "custom", "complete", "post"]
    if strategy_type == STRATEGY_RECREATE:
        return ["apply", "old_gone", "mid", "validate", "scale", "complete", "post"]
    return ["apply", *(["canary"] if canary else []), "complete", "post"]


def saved_state(deployment: JSONDict) -> Optional[JSONDict]:
    """The state a stopped rollout left on the Deployment, if it is about its current revision."""
    state = rollout_state(deployment)
    if state is None or not isinstance(state.get("next"), str) or "strategy" not in state:
        return None
    if state.get("revision") != revision(deployment):
        return None  # about another revision (for example brought back by kubectl rollout undo)
    return state


def _without_nulls(strategy: JSONDict) -> JSONDict:
    return {key: value for key, value in strategy.items() if value is not None}


__all__ = ["REVISION_ANNOTATION", "RolloutEngine", "RolloutError", "write_object"]
