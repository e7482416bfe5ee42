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
import datetime
import time
from typing import Any, Callable, Dict, List, Optional

from ._client import ClientError, KubeClient, Source, WaitTimeout
from ._revisions import (
    REVISION_ANNOTATION,
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
    REASON_WAIT_TIMEOUT,
    Assessment,
    Change,
    Failure,
    RolloutRequest,
    apply_body,
    assess,
    canary_first,
    compare,
    deployment_strategy,
    desired_replicas,
    for_diff,
    name_mode_patch,
    plan_steps,
    replica_counts,
    selector_string,
    strategy_from_deployment_strategy,
    without_noise,
)
from ._status import ProgressTracker, deployment_status
from ._strategy import STRATEGY_RECREATE, Strategy, parse_strategy, strategy_to_dict

JSONDict = Dict[str, Any]

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# No wait_timeout: a wait is bounded by timeoutSeconds of no progress, and by this.
UNBOUNDED_WAIT_SECONDS = 7 * 24 * 3600


class RolloutError(Exception):
    """The rollout failed; ``result`` is the module result so far (for fail_json)."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class RolloutEngine:
    """Runs one rollout request; run() returns the module result or raises RolloutError."""

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
        self.timeline: List[JSONDict] = []
        self.what = f"Deployment {request.namespace}/{request.name}"
        self._last_counts: Optional[JSONDict] = None
        self._deadline: Optional[float] = None

    # --- reading ------------------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.call(
            f"reading {self.what}",
            self.client.apps.read_namespaced_deployment,
            self.request.name,
            self.request.namespace,
        )

    def _replica_sets(self, deployment: JSONDict) -> List[JSONDict]:
        listed = self.client.call(
            f"listing the ReplicaSets of {self.what}",
            self.client.apps.list_namespaced_replica_set,
            self.request.namespace,
            label_selector=selector_string(deployment["spec"].get("selector")),
        )
        return list((listed or {}).get("items", []))

    # --- writing ------------------------------------------------------------------------

    def _write(self, live: Optional[JSONDict], dry_run: bool, replicas: Optional[int] = None) -> JSONDict:
        """Apply the request's spec (server-side apply, or a strategic merge patch in name mode).

        Guarded by the live resourceVersion: a concurrent change gives 409, and the caller
        retries from a fresh read.
        """
        request = self.request
        kwargs: JSONDict = {}
        if request.body is not None:
            body = apply_body(request, replicas)
            if live is not None:
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            content_type = APPLY_PATCH
            kwargs["force"] = True
        else:
            if live is None:
                raise RolloutError(
                    f"{self.what} not found; give its definition to create it", self._result(False)
                )
            body = name_mode_patch(request, live)
            body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            if replicas is not None:
                body["spec"]["replicas"] = replicas
            content_type = STRATEGIC_MERGE_PATCH
        if dry_run:
            kwargs["dry_run"] = "All"
        written = self.client.call(
            f"applying {self.what}",
            self.client.apps.patch_namespaced_deployment,
            request.name,
            request.namespace,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=content_type,
            **kwargs,
        )
        if written is None:
            raise ClientError(f"applying {self.what}: namespace {request.namespace} not found", 404)
        return written

    def _patch(self, patch: Any, content_type: str, what: str) -> JSONDict:
        written = self.client.call(
            f"{what} on {self.what}",
            self.client.apps.patch_namespaced_deployment,
            self.request.name,
            self.request.namespace,
            patch,
            field_manager=FIELD_MANAGER,
            _content_type=content_type,
        )
        if written is None:
            raise ClientError(f"{what}: {self.what} was deleted", 404)
        return written

    def _control(self, spec: JSONDict, what: str) -> JSONDict:
        """Merge-patch control fields (strategy, replicas) guarded by a fresh resourceVersion."""

        def attempt() -> JSONDict:
            live = self._get()
            if live is None:
                raise ClientError(f"{what}: {self.what} was deleted", 404)
            patch = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]}, "spec": spec}
            return self._patch(patch, MERGE_PATCH, what)

        return self.client.retry_on_conflict(attempt, what)

    def _apply(self, replicas: Optional[int] = None) -> JSONDict:
        return self.client.retry_on_conflict(lambda: self._write(self._get(), False, replicas), "apply")

    # --- waiting ------------------------------------------------------------------------

    def _event(self, event: str, **details: Any) -> None:
        stamp = datetime.datetime.fromtimestamp(self.wall_clock(), tz=datetime.timezone.utc)
        self.timeline.append({"time": stamp.isoformat(timespec="milliseconds"), "event": event, **details})

    def _wait(self, goal: str, strategy: Strategy, target: int = 1) -> Assessment:
        """Watch the Deployment, its ReplicaSets and pods until ``goal``; _StepFailed on failure."""
        live = self._get()
        if live is None:
            raise _StepFailed(Failure("Deleted", f"{self.what} was deleted during the rollout"))
        selectors = {
            "namespace": self.request.namespace,
            "label_selector": selector_string(live["spec"].get("selector")),
        }
        sources = {
            "deployment": Source(
                self.client.apps.list_namespaced_deployment,
                {"namespace": self.request.namespace, "field_selector": f"metadata.name={self.request.name}"},
            ),
            "replica_sets": Source(self.client.apps.list_namespaced_replica_set, selectors),
            "pods": Source(self.client.core.list_namespaced_pod, selectors),
        }
        tracker = ProgressTracker(strategy.timeout_seconds, self.client.clock())

        def check(state: Dict[str, List[JSONDict]], now: float) -> Optional[Assessment]:
            deployment = state["deployment"][0] if state["deployment"] else None
            if deployment is not None:
                self._record_counts(deployment, state["replica_sets"])
            assessment = assess(goal, deployment, state["replica_sets"], state["pods"], tracker, now, target)
            return assessment if assessment.done or assessment.failure else None

        timeout: float = UNBOUNDED_WAIT_SECONDS
        if self._deadline is not None:
            timeout = max(self._deadline - self.client.clock(), 0.001)
        try:
            result = self.client.watch_sources(sources, check, timeout, f"{self.what} ({goal})")
        except WaitTimeout:
            raise _StepFailed(
                Failure(
                    REASON_WAIT_TIMEOUT,
                    f"wait_timeout ({self.request.wait_timeout}s) reached while waiting for {goal}",
                )
            ) from None
        if result.failure is not None:
            raise _StepFailed(result.failure)
        return result

    def _record_counts(self, deployment: JSONDict, replica_sets: List[JSONDict]) -> None:
        counts = replica_counts(deployment, replica_sets)
        if counts != self._last_counts:
            self._last_counts = counts
            self._event("replicas", **counts)

    # --- the rollout --------------------------------------------------------------------

    def _strategy(self, live: Optional[JSONDict]) -> Strategy:
        if self.request.strategy is not None:
            return self.request.strategy
        raw = strategy_from_deployment_strategy((live or {}).get("spec", {}).get("strategy"))
        return parse_strategy(raw)

    def run(self) -> JSONDict:
        request = self.request
        if request.wait_timeout is not None:
            self._deadline = self.client.clock() + request.wait_timeout
        live = self._get()
        replica_sets = self._replica_sets(live) if live is not None else []
        strategy = self._strategy(live)
        wanted_strategy = (
            deployment_strategy(strategy) if request.strategy is not None or live is None else None
        )
        desired = self._write(live, dry_run=True)
        change = compare(live, desired, wanted_strategy)
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
        if live is not None and change.template:
            self.planned_revision: Optional[int] = next_revision(desired, replica_sets)
        elif live is None:
            self.planned_revision = 1
        else:
            self.planned_revision = revision(current_rs) if current_rs is not None else None

        if not change.any:
            if request.wait and live is not None and not deployment_status(live).done:
                self._finish_unchanged_rollout(strategy)
            return self._result(False, deployment=self._get() or live)
        if self.check_mode:
            return self._result(True, deployment=desired)
        if live is not None and live["spec"].get("paused") and change.template:
            raise RolloutError(
                f"{self.what} is paused: its new template would not roll out; resume it first "
                "(kubectl rollout resume, or spec.paused: false) and run again",
                self._result(False),
            )

        try:
            if not request.wait:
                self._apply_all(live, strategy, wanted_strategy)
            elif live is None:
                self._create(strategy)
            elif change.template and strategy.type == STRATEGY_RECREATE:
                self._recreate(strategy, wanted_strategy, replicas)
            elif change.template:
                self._rolling(live, strategy, wanted_strategy, replicas)
            else:
                self._apply_all(live, strategy, wanted_strategy)
                self._wait(GOAL_COMPLETE, strategy)
                self._event("complete")
        except _StepFailed as failed:
            self._event("failed", reason=failed.failure.reason, message=failed.failure.message)
            self._fail(failed.failure, strategy, current_rs, live)
        final = self._get()
        if final is not None and request.wait:
            self.planned_revision = revision(final)
        return self._result(True, deployment=final)

    def _apply_all(self, live: Optional[JSONDict], strategy: Strategy, wanted: Optional[JSONDict]) -> None:
        """Strategy and spec in one go: what a scale or wait=false needs, no steps of our own."""
        if wanted is not None and live is not None and self.change.strategy:
            self._control({"strategy": wanted}, "setting the strategy")
        self._apply()
        if wanted is not None and live is None:
            self._control({"strategy": wanted}, "setting the strategy")
        self._event("applied", revision=self.planned_revision)

    def _create(self, strategy: Strategy) -> None:
        """A first deployment: Rolling starts all pods at once; Recreate validates one first."""
        replicas = desired_replicas(self.after or {})
        wanted = deployment_strategy(strategy)
        if strategy.type == STRATEGY_RECREATE and replicas > 1:
            self._apply(replicas=1)
            self._control({"strategy": wanted}, "setting the strategy")
            self._event("applied", revision=1, replicas=1)
            self._wait(GOAL_NEW_AVAILABLE, strategy, target=1)
            self._control({"replicas": replicas}, f"scaling to {replicas}")
            self._event("scaled", replicas=replicas)
        else:
            self._apply()
            self._control({"strategy": wanted}, "setting the strategy")
            self._event("applied", revision=1, replicas=replicas)
        self._wait(GOAL_COMPLETE, strategy)
        self._event("complete")

    def _rolling(self, live: JSONDict, strategy: Strategy, wanted: Optional[JSONDict], replicas: int) -> None:
        """Canary-first rolling update: no old pod goes until a new one is available."""
        final = wanted or live["spec"].get("strategy") or deployment_strategy(strategy)
        old_available = int(live.get("status", {}).get("availableReplicas") or 0)
        canary = canary_first(strategy, replicas, old_available)
        if canary:
            self._control({"strategy": deployment_strategy(strategy, canary=True)}, "canary strategy")
        elif self.change.strategy:
            self._control({"strategy": final}, "setting the strategy")
        self._apply()
        self._event("applied", revision=self.planned_revision, canary=canary)
        if canary:
            self._wait(GOAL_CANARY, strategy)
            self._event("canary_available")
            self._control({"strategy": final}, "restoring maxUnavailable after the canary")
        self._wait(GOAL_COMPLETE, strategy)
        self._event("complete")

    def _recreate(self, strategy: Strategy, wanted: Optional[JSONDict], replicas: int) -> None:
        """Old revision to 0 and gone, then the new one at 1 and available, then at full count."""
        self._control({"strategy": wanted or deployment_strategy(strategy)}, "setting the Recreate strategy")
        self._apply(replicas=0)
        self._event("applied", revision=self.planned_revision, replicas=0)
        self._wait(GOAL_OLD_GONE, strategy)
        self._event("old_scaled_down")
        # The mid seam: nothing of the application runs here.
        if replicas > 0:
            self._control({"replicas": 1}, "scaling the new revision to 1")
            self._event("scaled", replicas=1)
            self._wait(GOAL_NEW_AVAILABLE, strategy, target=1)
            self._event("new_validated")
        if replicas > 1:
            self._control({"replicas": replicas}, f"scaling the new revision to {replicas}")
            self._event("scaled", replicas=replicas)
        self._wait(GOAL_COMPLETE, strategy)
        self._event("complete")

    def _finish_unchanged_rollout(self, strategy: Strategy) -> None:
        """Nothing to write, but a rollout is under way: wait for it, like kubectl rollout status."""
        try:
            self._wait(GOAL_COMPLETE, strategy)
        except _StepFailed as failed:
            raise RolloutError(
                f"{self.what} already had this spec, but its rollout is not healthy: "
                f"{failed.failure.message}. Nothing was changed; fix the Deployment or roll it back "
                "(kubectl rollout undo)",
                self._result(False, failure=failed.failure),
            ) from None

    # --- failure ------------------------------------------------------------------------

    def _fail(
        self,
        failure: Failure,
        strategy: Strategy,
        previous_rs: Optional[JSONDict],
        before: Optional[JSONDict],
    ) -> None:
        """Roll back (when asked and possible) and raise RolloutError with the whole story."""
        detail = failure.message
        if not detail.startswith(failure.reason):
            detail = f"{failure.reason}: {detail}"
        cause = f"rollout of {self.what} to revision {self.planned_revision} failed: {detail}"
        if not self.request.rollback_on_failure or previous_rs is None or before is None:
            now = self._get()
            state = self._state_text(now)
            if previous_rs is None or before is None:
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
            rolled_back = self._roll_back(strategy, previous_rs, before)
        except (_StepFailed, ClientError) as exc:
            now = self._get()
            message = exc.failure.message if isinstance(exc, _StepFailed) else str(exc)
            raise RolloutError(
                f"{cause}. The rollback to revision {revision(previous_rs)} did not complete either: "
                f"{message}. {self._state_text(now)}; see kubectl rollout status and kubectl rollout history",
                self._result(True, deployment=now, failure=failure),
            ) from None
        images = ", ".join(
            f"{name}={image}" for name, image in sorted(images_of(previous_rs["spec"]["template"]).items())
        )
        raise RolloutError(
            f"{cause}. Rolled back to the template of revision {revision(previous_rs)} ({images}), "
            f"now revision {revision(rolled_back)}: {self._state_text(rolled_back)}",
            self._result(True, deployment=rolled_back, failure=failure, rolled_back=True),
        )

    def _roll_back(self, strategy: Strategy, previous_rs: JSONDict, before: JSONDict) -> JSONDict:
        """kubectl rollout undo to ``previous_rs``, with the replicas and strategy of ``before``."""
        previous_replicas = desired_replicas(before)
        final_strategy = before["spec"].get("strategy") or deployment_strategy(strategy)
        if self.request.strategy is not None:
            final_strategy = deployment_strategy(strategy)

        def attempt() -> JSONDict:
            live = self._get()
            if live is None:
                raise _StepFailed(Failure("Deleted", f"{self.what} was deleted"))
            operations: List[JSONDict] = [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": live["metadata"]["resourceVersion"],
                }
            ]
            operations += rollback_patch(live, previous_rs) or []
            operations += [
                {"op": "add", "path": "/spec/replicas", "value": previous_replicas},
                {"op": "add", "path": "/spec/strategy", "value": _without_nulls(final_strategy)},
                {"op": "add", "path": "/spec/paused", "value": False},
            ]
            return self._patch(operations, JSON_PATCH, "rolling back")

        self.client.retry_on_conflict(attempt, "rollback")
        self._event("rollback_started", to_revision=revision(previous_rs), replicas=previous_replicas)
        # The rollback gets its own time: wait_timeout bounded the rollout, not the way back.
        self._deadline = None
        self._wait(GOAL_COMPLETE, strategy)
        self._event("rolled_back")
        rolled_back = self._get()
        if rolled_back is None:
            raise _StepFailed(Failure("Deleted", f"{self.what} was deleted"))
        return rolled_back

    def _state_text(self, deployment: Optional[JSONDict]) -> str:
        if deployment is None:
            return f"{self.what} no longer exists"
        status = deployment.get("status", {})
        images = ", ".join(f"{n}={i}" for n, i in sorted(images_of(deployment["spec"]["template"]).items()))
        return (
            f"{self.what} is at revision {revision(deployment) or '?'} ({images}) with "
            f"{status.get('availableReplicas') or 0}/{desired_replicas(deployment)} pods available"
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
            "steps": getattr(self, "steps", []),
            "timeline": self.timeline,
            "rolled_back": rolled_back,
            "change": None
            if change is None
            else {
                "created": change.created,
                "template": change.template,
                "replicas": change.replicas,
                "strategy": change.strategy,
                "metadata": change.metadata,
            },
        }
        if rolled_back and deployment is not None:
            result["revision"] = revision(deployment)
            result["failed_revision"] = getattr(self, "planned_revision", None)
        if failure is not None:
            result["failure"] = {"reason": failure.reason, "message": failure.message}
        if self.diff and hasattr(self, "after"):
            result["diff"] = {"before": for_diff(self.before), "after": for_diff(self.after)}
        return result


def _without_nulls(strategy: JSONDict) -> JSONDict:
    return {key: value for key, value in strategy.items() if value is not None}


__all__ = ["REVISION_ANNOTATION", "RolloutEngine", "RolloutError"]
