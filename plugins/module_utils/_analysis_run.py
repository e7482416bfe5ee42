# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The analysis loop (docs/dev/analysis-core.md, "The caller's loop"): ask the core what is due,
# measure it through its provider, hand the measurement back, and sleep until the next one is due,
# on an injected clock and sleep (the client's), so unit tests script time and never sleep.
#
#     runner = AnalysisRunner(run, providers, clock=client.clock, sleep=client.sleep, duration=None)
#     outcome = runner.run()       # outcome.result (AnalysisResult), outcome.measurements
#
# A provider is `provider(metric, number) -> value | Measurement`: the value goes to the metric's
# conditions (run.measure), a Measurement (a job decides its own phase) is taken as it is;
# ProviderError is a measurement in phase Error. Every message and value is redacted (Secret
# values in the arguments never reach the result).
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._analysis import AnalysisResult, AnalysisRun, Measurement, Metric, Plan, next_measurements
from ._analysis_providers import ProviderError

# (metric, the measurement's number for that metric, from 1) -> the provider's value or a Measurement.
Provider = Callable[[Metric, int], Any]


@dataclass(frozen=True)
class AnalysisOutcome:
    """The analysis' result and every measurement taken, in the order they were taken."""

    result: AnalysisResult
    measurements: Tuple[Measurement, ...]
    started_at: float
    finished_at: float


@dataclass
class AnalysisRunner:
    """One analysis run to its end. ``duration`` (seconds) stops it (Argo's terminate): required
    for a metric measured until stopped, a bound for the others."""

    run: AnalysisRun
    providers: Mapping[str, Provider]
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    duration: Optional[float] = None
    measurements: List[Measurement] = field(default_factory=list)
    started_at: Optional[float] = None

    def __post_init__(self) -> None:
        missing = sorted({m.provider_type for m in self.run.metrics} - set(self.providers))
        if missing:
            raise ValueError(f"no provider for {', '.join(missing)}")

    def run_to_end(self) -> AnalysisOutcome:
        if self.run.indefinite and self.duration is None:
            raise ValueError("an analysis with a metric measured until stopped needs a duration")
        self.start()
        started_at = self.clock() if self.started_at is None else self.started_at
        deadline = None if self.duration is None else started_at + self.duration
        while True:
            plan = self.advance(stop_at=deadline)
            if plan.done:
                return self.outcome(plan)
            now = self.clock()
            wait = plan.wait(now)
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0.0))
            self.sleep(wait)

    # The steps of run_to_end, for a caller that waits in its own way (the rollout's waiter
    # measures from its watch loop, _rollout_analysis.py): start() once, then advance() whenever
    # the plan's next_at has come, until plan.done.

    def start(self) -> None:
        self.started_at = self.clock()

    def advance(self, stop_at: Optional[float] = None) -> Plan:
        """Take every measurement due now; the plan after them (done, or when the next is due).
        From ``stop_at`` on (client clock), the run is stopped (Argo's terminate)."""
        if self.started_at is None:
            raise ValueError("advance() before start()")
        while True:
            now = self.clock()
            plan = next_measurements(
                self.run,
                self.measurements,
                started_at=self.started_at,
                now=now,
                terminate=stop_at is not None and now >= stop_at,
            )
            if plan.done or not plan.measure:
                return plan
            for name in plan.measure:
                self.measurements.append(self._measure(self.run.metric(name)))

    def outcome(self, plan: Plan) -> AnalysisOutcome:
        """The outcome of a run whose ``plan`` is done."""
        if not plan.done or self.started_at is None:
            raise ValueError("the analysis is not done")
        return AnalysisOutcome(plan.result, tuple(self.measurements), self.started_at, self.clock())

    def _measure(self, metric: Metric) -> Measurement:
        number = 1 + sum(1 for m in self.measurements if m.metric == metric.name)
        start = self.clock()
        try:
            value = self.providers[metric.provider_type](metric, number)
        except ProviderError as exc:
            return self.run.error(
                metric.name, str(exc), started_at=start, finished_at=self.clock(), fatal=exc.fatal
            )
        if isinstance(value, Measurement):
            return Measurement(
                value.metric,
                value.phase,
                value.started_at,
                value.finished_at,
                redacted(value.value, self.run),
                self.run.redact(value.message),
                value.fatal,
            )
        measurement = self.run.measure(metric.name, value, started_at=start, finished_at=self.clock())
        return measurement


def redacted(value: Any, run: AnalysisRun) -> Any:
    """``value`` with the run's Secret values replaced in every string it holds."""
    if isinstance(value, str):
        return run.redact(value)
    if isinstance(value, dict):
        return {key: redacted(item, run) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(item, run) for item in value]
    return value


def outcome_dict(outcome: AnalysisOutcome, to_time: Callable[[float], str]) -> Dict[str, Any]:
    """The module's result: phase, message (naming the deciding metric), every measurement with
    its times as ``to_time`` writes them, and each metric's counters."""
    result = outcome.result.to_dict()
    measurements = []
    for measurement in outcome.measurements:
        entry = measurement.to_dict()
        entry["started_at"] = to_time(measurement.started_at)
        entry["finished_at"] = to_time(measurement.finished_at)
        entry["time"] = entry["finished_at"]
        measurements.append(entry)
    metrics = [{k: v for k, v in metric.items() if k != "measurements"} for metric in result["metrics"]]
    return {
        "phase": result["phase"],
        "message": result["message"],
        "decided_by": result["decided_by"],
        "terminated": result["terminated"],
        "measurements": measurements,
        "metrics": metrics,
        "run_summary": result["run_summary"],
        "dry_run_summary": result["dry_run_summary"],
        "started_at": to_time(outcome.started_at),
        "finished_at": to_time(outcome.finished_at),
    }


__all__ = ["AnalysisOutcome", "AnalysisRunner", "Provider", "outcome_dict", "redacted"]
