# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The rollout's background analysis (_rollout_analysis) and the shared options (_analysis_options)
# with scripted providers and a fake clock: when it starts, what it measures at each look of the
# waiter, when it decides, and what it tells the timeline. The waiter and the engine with it, on
# the local cluster: tests/integration/test_rollout_analysis.py.
import dataclasses

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_options import (
    AnalysisOptionsError,
    duration_seconds,
    read_analysis,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import RolloutInputError, build_request
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout_analysis import (
    REASON_ANALYSIS_ERROR,
    REASON_ANALYSIS_FAILED,
    REASON_ANALYSIS_INCONCLUSIVE,
    BackgroundAnalysis,
    planned,
    with_analysis,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import Timeline


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def metric(name="rate", **extra):
    return {"name": name, "provider": {"web": {"url": "http://127.0.0.1:1/rate"}}, **extra}


def background(metrics, values, clock=None, **options):
    """A BackgroundAnalysis whose web provider gives ``values`` in turn."""
    clock = clock or FakeClock()
    spec = read_analysis({"metrics": metrics, **options})
    from ansible_collections.openrollout.k8s.plugins.module_utils._analysis import resolve

    run = resolve(spec.template, spec.args, {}, dry_run=spec.dry_run_metrics)
    answers = iter(values)
    timeline = Timeline(wall_clock=lambda: 0.0)
    providers = {"web": lambda _metric, _number: next(answers)}
    analysis = BackgroundAnalysis(spec, run, providers, clock, timeline, lambda t: f"t={t:g}", revision=3)
    return analysis, clock, timeline


def events(timeline):
    return [(e["event"], e.get("phase")) for e in timeline.events]


def test_it_starts_at_the_first_available_pod_and_measures_on_its_interval():
    analysis, clock, timeline = background(
        [metric(interval="10s", count=3, successCondition="result >= 0.95")], [0.99, 0.98, 0.97]
    )
    assert analysis.observe(new_available=0, rollout_done=False) is None
    assert not analysis.started and analysis.next_at() is None and timeline.events == []
    assert analysis.observe(new_available=1, rollout_done=False) is None
    assert analysis.started and len(analysis.runner.measurements) == 1
    assert analysis.next_at() == 1010.0
    clock.now = 1005.0  # a change of the Deployment in between: nothing is due
    assert analysis.observe(1, False) is None and len(analysis.runner.measurements) == 1
    clock.now = 1010.0
    assert analysis.observe(2, False) is None
    # The Deployment is complete; one measurement to go: the rollout waits for it.
    assert analysis.observe(3, True) is None and analysis.holds()
    clock.now = 1020.0
    assert analysis.observe(3, True) is None
    assert not analysis.holds() and analysis.next_at() is None
    assert events(timeline) == [
        ("analysis_started", None),
        ("analysis_measured", "Successful"),
        ("analysis_measured", "Successful"),
        ("analysis_measured", "Successful"),
        ("analysis_completed", "Successful"),
    ]
    assert timeline.events[0]["metrics"] == ["rate"] and timeline.events[0]["revision"] == 3
    result = analysis.result()
    assert result["phase"] == "Successful"
    assert [m["value"] for m in result["measurements"]] == [0.99, 0.98, 0.97]
    assert result["measurements"][0]["started_at"] == "t=1000"


def test_a_failed_measurement_fails_the_rollout_at_once_with_argos_message():
    analysis, clock, timeline = background(
        [metric(interval="10s", count=5, successCondition="result <= 0.05")], [0.01, 0.3]
    )
    assert analysis.observe(1, False) is None
    clock.now = 1010.0
    failure = analysis.observe(1, False)
    assert failure is not None and failure.reason == REASON_ANALYSIS_FAILED
    assert (
        failure.message
        == 'AnalysisFailed: Metric "rate" assessed Failed due to failed (1) > failureLimit (0)'
    )
    assert analysis.done and not analysis.holds()
    assert timeline.events[-1]["event"] == "analysis_completed"
    assert timeline.events[-1]["decided_by"] == "rate"
    assert analysis.observe(1, False) is failure  # asked again, the same decision
    assert analysis.result()["phase"] == "Failed"


def test_errors_past_the_limit_are_an_error_that_fails_the_rollout():
    from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_providers import ProviderError

    def down(_metric, _number):
        raise ProviderError("GET http://127.0.0.1:1/rate: Connection refused")

    analysis, clock, _timeline = background([metric(interval="1s", count=3, consecutiveErrorLimit=1)], [])
    analysis.runner.providers = {"web": down}
    assert analysis.observe(1, False) is None
    assert analysis.next_at() == 1010.0  # Argo's 10 s after an Error, whatever the interval
    clock.now = 1010.0
    failure = analysis.observe(1, False)
    assert failure is not None and failure.reason == REASON_ANALYSIS_ERROR
    assert "Connection refused" in failure.message


def test_inconclusive_is_a_failure_of_its_own_unless_accepted():
    both = {"successCondition": "result > 10", "failureCondition": "result < 0"}
    analysis, _clock, _timeline = background([metric(**both)], [5])
    failure = analysis.observe(1, False)
    assert failure is not None and failure.reason == REASON_ANALYSIS_INCONCLUSIVE
    accepted, _clock, timeline = background([metric(**both)], [5], accept_inconclusive=True)
    assert accepted.observe(1, False) is None and accepted.done
    assert timeline.events[-1]["phase"] == "Inconclusive"


def test_a_metric_measured_until_stopped_is_stopped_when_the_rollout_is_complete():
    analysis, clock, _timeline = background([metric(interval="5s", successCondition="result < 1")], [0, 0, 0])
    assert analysis.observe(1, False) is None
    clock.now = 1005.0
    assert analysis.observe(2, False) is None
    clock.now = 1007.0
    assert analysis.observe(2, True) is None
    assert analysis.done and not analysis.holds()
    result = analysis.result()
    assert result["phase"] == "Successful" and result["terminated"] is True
    assert len(result["measurements"]) == 2


def test_duration_stops_the_analysis_that_long_after_it_started():
    analysis, clock, _timeline = background(
        [metric(interval="5s", count=100, successCondition="result < 1")], [0] * 10, duration="12s"
    )
    analysis.observe(1, False)
    assert analysis.next_at() == 1005.0
    clock.now = 1010.0
    analysis.observe(1, False)
    assert analysis.next_at() == 1012.0  # the stop comes before the next measurement
    clock.now = 1012.0
    assert analysis.observe(1, True) is None and analysis.done
    assert analysis.result()["terminated"] is True


def test_no_pod_of_the_new_revision_when_the_rollout_is_done_skips_it():
    analysis, _clock, timeline = background([metric()], [])
    assert analysis.observe(0, True) is None
    assert analysis.done and not analysis.holds()
    assert timeline.events[-1]["event"] == "analysis_skipped"
    assert analysis.result() == {
        "phase": None,
        "message": "the new revision has no pod (0 replicas): nothing was measured",
        "measurements": [],
    }


def test_check_mode_plans_and_measures_nothing():
    spec = read_analysis({"metrics": [metric(interval="1m", successCondition="result < 1")]})
    from ansible_collections.openrollout.k8s.plugins.module_utils._analysis import resolve

    run = resolve(spec.template, {}, {})
    plan = planned(spec, run, 4)
    assert plan["phase"] is None and plan["measurements"] == []
    assert plan["message"] == (
        "the analysis analysis would run from the first available pod of revision 4 until it is "
        "stopped when the rollout is complete; nothing is measured in check mode"
    )
    assert plan["planned"][0]["name"] == "rate"


REQUEST = {"name": "web", "namespace": "shop", "images": {"app": "web:2"}}


def test_the_option_is_read_with_the_request_and_refused_where_it_cannot_run():
    request = with_analysis(build_request(REQUEST), {"metrics": [metric()], "args": {}})
    assert request.analysis is not None and request.analysis.accept_inconclusive is False
    assert with_analysis(build_request(REQUEST), None).analysis is None
    with pytest.raises(RolloutInputError, match="analysis needs wait=true"):
        with_analysis(build_request({**REQUEST, "wait": False}), {"metrics": [metric()]})
    stateful = dataclasses.replace(build_request(REQUEST), kind="StatefulSet")
    with pytest.raises(RolloutInputError, match="analysis is for Deployments, not a StatefulSet"):
        with_analysis(stateful, {"metrics": [metric()]})
    with pytest.raises(RolloutInputError, match=r"give exactly one of analysis.template, analysis.src"):
        with_analysis(build_request(REQUEST), {"args": {}})
    with pytest.raises(RolloutInputError, match=r"invalid analysis: .*successCondition"):
        with_analysis(build_request(REQUEST), {"metrics": [metric(successCondition="result >")]})
    with pytest.raises(RolloutInputError, match=r"analysis\.duration 'soon' is not a duration"):
        with_analysis(build_request(REQUEST), {"metrics": [metric()], "duration": "soon"})


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, None), ("", None), ("90", 90.0), ("1.5", 1.5), ("1m30s", 90.0)]
)
def test_durations(value, seconds):
    assert duration_seconds(value) == seconds


def test_a_template_file_that_holds_two_documents_is_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("kind: AnalysisTemplate\n---\nkind: AnalysisTemplate\n")
    with pytest.raises(AnalysisOptionsError, match="must hold one AnalysisTemplate, it holds 2 documents"):
        read_analysis({"src": str(path)})
