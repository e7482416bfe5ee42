# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The rollout module's `analysis`: Argo Rollouts' background analysis, run by the one waiter.
#
# No thread and no sleep of its own: while the rollout's last wait (the `complete` phase) watches
# the Deployment, its ReplicaSets and pods, the waiter calls observe() at every change and at the
# analysis' next measurement time (watch_sources' wake), and observe() takes what is due:
#
#   waiting  until the new revision has an available pod (the canary's first, for canary-first)
#   running  measure what is due (_analysis_run.AnalysisRunner.advance); a Failed or Error
#            analysis is a Failure at once (rolled back per rollback_on_failure); an Inconclusive
#            one is a Failure the engine turns into a pause (unless accept_inconclusive)
#   holding  the Deployment is complete, but the analysis has measurements to take: the rollout
#            is complete when the analysis is. A metric measured until stopped (an interval, no
#            count) is stopped there, as Argo terminates a background analysis at the rollout's
#            end; `duration` stops the analysis that long after it started.
#
# Every measurement and the decision go to the rollout's timeline; result() is the task's
# `analysis` key (the analysis module's result: phase, message, measurements, metrics ...).
import dataclasses
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._analysis import PHASE_ERROR, PHASE_FAILED, PHASE_INCONCLUSIVE, AnalysisRun, Plan, format_seconds
from ._analysis_options import AnalysisOptionsError, AnalysisSpec, read_analysis, resolve_analysis
from ._analysis_run import AnalysisOutcome, AnalysisRunner, Provider, outcome_dict
from ._client import KubeClient
from ._rollout import Failure, RolloutInputError, RolloutRequest
from ._waiter import Timeline
from ._workloads import DEPLOYMENT

JSONDict = Dict[str, Any]

REASON_ANALYSIS_FAILED = "AnalysisFailed"
REASON_ANALYSIS_ERROR = "AnalysisError"
REASON_ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"
FAILURE_REASONS = {
    PHASE_FAILED: REASON_ANALYSIS_FAILED,
    PHASE_ERROR: REASON_ANALYSIS_ERROR,
    PHASE_INCONCLUSIVE: REASON_ANALYSIS_INCONCLUSIVE,
}


def with_analysis(request: RolloutRequest, options: Optional[JSONDict]) -> RolloutRequest:
    """The request with the `analysis` option read (RolloutInputError for a bad one)."""
    if not options:
        return request
    if request.kind != DEPLOYMENT:
        raise RolloutInputError(f"analysis is for Deployments, not a {request.kind} (for now)")
    if not request.wait:
        raise RolloutInputError("analysis needs wait=true: it runs while the module waits for the rollout")
    try:
        spec = read_analysis(options, where="analysis.")
    except AnalysisOptionsError as exc:
        raise RolloutInputError(str(exc)) from None
    return dataclasses.replace(request, analysis=spec)


def resolved(request: RolloutRequest, client: KubeClient) -> Tuple[RolloutRequest, List[str]]:
    """The request with its analysis' arguments filled in (Secrets read in its namespace), and
    the Secret values read, for the module to hide."""
    if request.analysis is None:
        return request, []
    try:
        run, secrets = resolve_analysis(request.analysis, client, request.namespace)
    except AnalysisOptionsError as exc:
        raise RolloutInputError(str(exc)) from None
    return dataclasses.replace(request, analysis_run=run), secrets


def _value(value: Any) -> Any:
    """A measurement's value, short enough for a timeline event."""
    text = repr(value)
    return value if len(text) <= 200 else text[:197] + "..."


class BackgroundAnalysis:
    """One background analysis of a rollout; see the top of this module."""

    def __init__(
        self,
        spec: AnalysisSpec,
        run: AnalysisRun,
        providers: Dict[str, Provider],
        clock: Callable[[], float],
        timeline: Timeline,
        to_time: Callable[[float], str],
        revision: Optional[int] = None,
    ) -> None:
        self.spec = spec
        self.run = run
        # The runner's sleep is never called: the waiter waits.
        self.runner = AnalysisRunner(run, providers, clock=clock, sleep=_no_sleep, duration=spec.duration)
        self.clock = clock
        self.timeline = timeline
        self.to_time = to_time
        self.revision = revision
        self.plan: Optional[Plan] = None
        self.done = False
        self.skipped: Optional[str] = None
        self.failure: Optional[Failure] = None
        self._stop_at: Optional[float] = None

    @property
    def started(self) -> bool:
        return self.runner.started_at is not None

    def holds(self) -> bool:
        """Whether the rollout's end waits for this analysis still."""
        return not self.done

    def next_at(self) -> Optional[float]:
        """When the waiter is to wake up for the next measurement (client clock), if ever."""
        if self.done or self.plan is None:
            return None
        times = [at for at in (self.plan.next_at, self._stop_at) if at is not None]
        return min(times) if times else None

    def observe(self, new_available: int, rollout_done: bool) -> Optional[Failure]:
        """Start, measure what is due, decide. The Failure that ends the rollout, else None."""
        if self.done:
            return self.failure
        if not self.started:
            if new_available < 1:
                if rollout_done:  # 0 replicas: no pod of the new revision to analyse
                    self.done = True
                    self.skipped = "the new revision has no pod (0 replicas): nothing was measured"
                    self.timeline.event("analysis_skipped", reason=self.skipped)
                return None
            self.runner.start()
            started_at = self.runner.started_at or 0.0
            if self.spec.duration is not None:
                self._stop_at = started_at + self.spec.duration
            self.timeline.event(
                "analysis_started",
                analysis=self.spec.name,
                metrics=[metric.name for metric in self.run.metrics],
                revision=self.revision,
            )
        if rollout_done and self.run.indefinite and self.spec.duration is None:
            # Argo: a background analysis still running when the rollout completes is terminated.
            self._stop_at = self.clock()
        taken = len(self.runner.measurements)
        self.plan = self.runner.advance(stop_at=self._stop_at)
        for measurement in self.runner.measurements[taken:]:
            details: JSONDict = {"metric": measurement.metric, "phase": measurement.phase}
            details["value"] = _value(measurement.value)
            if measurement.message:
                details["message"] = measurement.message
            self.timeline.event("analysis_measured", **details)
        if not self.plan.done:
            return None
        self.done = True
        result = self.plan.result
        self.timeline.event(
            "analysis_completed", phase=result.phase, message=result.summary, decided_by=result.decided_by
        )
        reason = FAILURE_REASONS.get(result.phase)
        if reason is None or (result.phase == PHASE_INCONCLUSIVE and self.spec.accept_inconclusive):
            return None
        self.failure = Failure(reason, f"{reason}: {result.message or result.summary}")
        return self.failure

    def result(self) -> JSONDict:
        """The task's `analysis`: the analysis module's result, so far if it did not complete."""
        if not self.started or self.plan is None:
            return {
                "phase": None,
                "message": self.skipped
                or "the analysis did not start: no pod of the new revision was available",
                "measurements": [],
            }
        started_at = self.runner.started_at or 0.0
        outcome = AnalysisOutcome(self.plan.result, tuple(self.runner.measurements), started_at, self.clock())
        result = outcome_dict(outcome, self.to_time)
        result["message"] = self.plan.result.summary if not result["message"] else result["message"]
        return result


def planned(spec: AnalysisSpec, run: AnalysisRun, revision: Optional[int]) -> JSONDict:
    """Check mode's `analysis`: what would be measured, and when; nothing is."""
    until = (
        f"stopped {format_seconds(spec.duration)} after it starts"
        if spec.duration is not None
        else ("stopped when the rollout is complete" if run.indefinite else "complete")
    )
    return {
        "phase": None,
        "message": (
            f"the analysis {spec.name} would run from the first available pod of revision "
            f"{revision} until it is {until}; nothing is measured in check mode"
        ),
        "measurements": [],
        "planned": run.describe(),
    }


def _no_sleep(seconds: float) -> None:  # pragma: no cover - never called, see BackgroundAnalysis
    raise RuntimeError("the rollout's waiter waits, not the analysis")


__all__ = [
    "FAILURE_REASONS",
    "REASON_ANALYSIS_ERROR",
    "REASON_ANALYSIS_FAILED",
    "REASON_ANALYSIS_INCONCLUSIVE",
    "BackgroundAnalysis",
    "planned",
    "resolved",
    "with_analysis",
]
