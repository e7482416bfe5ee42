# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import ast
import copy
import math
import os

import pytest
import yaml

from ansible_collections.openrollout.k8s.plugins.module_utils._analysis import (
    ERROR_RETRY_INTERVAL,
    PHASE_ERROR,
    PHASE_FAILED,
    PHASE_INCONCLUSIVE,
    PHASE_PENDING,
    PHASE_RUNNING,
    PHASE_SUCCESSFUL,
    AnalysisTemplateError,
    Measurement,
    Metric,
    RunSummary,
    SecretRef,
    assess,
    assess_metric,
    evaluate_result,
    format_seconds,
    is_worse,
    measure,
    next_due,
    next_measurements,
    parse_duration,
    parse_spec,
    parse_template,
    resolve,
    resolve_args,
)

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    HAS_HYPOTHESIS = True
except ImportError:  # pragma: no cover - hypothesis is in requirements-dev.txt
    HAS_HYPOTHESIS = False

NAN = float("nan")
INF = float("inf")
S, F, IN, E = PHASE_SUCCESSFUL, PHASE_FAILED, PHASE_INCONCLUSIVE, PHASE_ERROR
SUPPORTED = "(supported: prometheus, web, job, kubernetes)"
NOT_SUPPORTED = "is an Argo Rollouts provider that openrollout.k8s does not support"

# Argo Rollouts' own templates, copied from docs/features/analysis.md and docs/analysis/*.md.
SUCCESS_RATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  metrics:
  - name: success-rate
    interval: 5m
    # NOTE: prometheus queries return results in the form of a vector.
    # So it is common to access the index 0 of the returned array to obtain the value
    successCondition: result[0] >= 0.95
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: |
          sum(irate(
            istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]
          )) /
          sum(irate(
            istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]
          ))
"""
INLINE_SUCCESS_RATE = """
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  - name: prometheus-port
    value: 9090
  metrics:
  - name: success-rate
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: "http://prometheus.example.com:{{args.prometheus-port}}"
        query: |
          sum(irate(
            istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]
          )) /
          sum(irate(
            istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]
          ))
"""
ARGS_EXAMPLE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: args-example
spec:
  args:
  # required in Rollout due to no default value
  - name: service-name
  - name: stable-hash
  - name: latest-hash
  # optional in Rollout given the default value
  - name: api-url
    value: http://example/measure
  # from secret
  - name: api-token
    valueFrom:
      secretKeyRef:
        name: token-secret
        key: apiToken
  metrics:
  - name: webmetric
    successCondition: result == 'true'
    provider:
      web:
        # placeholders are resolved when an AnalysisRun is created
        url: "{{ args.api-url }}?service={{ args.service-name }}"
        headers:
          - key: Authorization
            value: "Bearer {{ args.api-token }}"
        jsonPath: "{$.results.ok}"
"""
DRY_RUN = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: dry-run
spec:
  dryRun:
  - metricName: total-5xx-errors
  measurementRetention:
  - metricName: total-5xx-errors
    limit: 20
  metrics:
  - name: total-5xx-errors
    interval: 5m
    failureCondition: result[0] >= 10
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: sum(irate(istio_requests_total{response_code~"5.*"}[5m]))
  - name: total-4xx-errors
    interval: 5m
    failureCondition: result[0] >= 10
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: sum(irate(istio_requests_total{response_code~"4.*"}[5m]))
"""
WEB_METRIC = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: web
spec:
  args:
  - name: service-name
  - name: api-token
    valueFrom:
      secretKeyRef: {name: token-secret, key: apiToken}
  metrics:
  - name: webmetric
    successCondition: "result.ok && result.successPercent >= 0.90"
    provider:
      web:
        method: POST
        url: "http://my-server.com/api/v1/measurement?service={{ args.service-name }}"
        timeoutSeconds: 20
        headers:
          - key: Authorization
            value: "Bearer {{ args.api-token }}"
          - key: Content-Type
            value: "application/json"
        jsonBody:
          key1: value_1
          key2:
            nestedObj: nested value
            key3: "{{ args.service-name }}"
        jsonPath: "{$.data}"
"""
TOKEN = SecretRef("token-secret", "apiToken")


def template(text=SUCCESS_RATE):
    return parse_template(yaml.safe_load(text))


def spec(*metrics, **extra):
    return {"metrics": list(metrics), **extra}


def metric(name="m", **fields):
    raw = {"name": name, "provider": {"prometheus": {"address": "http://p:9090", "query": "up"}}}
    raw.update(fields)
    return raw


def run_of(*metrics, **extra):
    return resolve(parse_spec(spec(*metrics, **extra), path=""))


def m(phase, at=0.0, name="m", value=None, message=""):
    return Measurement(name, phase, at, at, value, message)


def series(phases, name="m", step=60.0):
    return [m(phase, at=index * step, name=name) for index, phase in enumerate(phases)]


# ---------------------------------------------------------------------------------------------
# Durations: Go's time.ParseDuration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("1h0m0s", 3600.0),
        ("300ms", 0.3),
        ("2us", 2e-6),
        ("2\u00b5s", 2e-6),
        ("5ns", 5e-9),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("+5s", 5.0),
        ("-1m", -60.0),
        ("10m30s", 630.0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("5 m", 'time: unknown unit " m" in duration "5 m"'),
        ("s", 'time: invalid duration "s"'),
        (".", 'time: invalid duration "."'),
        ("1h-5m", 'time: unknown unit "h-" in duration "1h-5m"'),
        ("1.2.3s", 'time: missing unit in duration "1.2.3s"'),
        ("-5m", None),
        ("-", 'time: invalid duration "-"'),
    ],
)
def test_parse_duration_refuses(text, message):
    if message is None:  # Go reads a sign; the template refuses negative durations itself
        assert parse_duration(text) == -300.0
        return
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert str(err.value) == message


def test_parse_duration_not_a_string():
    with pytest.raises(ValueError, match="a duration is a string such as '30s', not int 30"):
        parse_duration(30)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (30, "30s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (5400, "1h30m0s"),
        (0.5, "500ms"),
        (-60, "-1m0s"),
    ],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


# ---------------------------------------------------------------------------------------------
# A measurement's phase: Argo's EvaluateResult (utils/evaluate/evaluate.go and its tests)


def bare_metric(success="", failure=""):
    # Conditions not compiled beforehand: evaluate_result compiles them, as Argo does per measurement.
    return Metric("m", "prometheus", {}, success_condition=success, failure_condition=failure)


@pytest.mark.parametrize(
    ("success", "failure", "phase"),
    [
        ("true", "false", S),  # TestEvaluateResultWithSuccess
        ("true", "true", F),  # TestEvaluateResultWithFailure
        ("false", "false", IN),  # TestEvaluateResultInconclusive
        ("", "false", S),  # TestEvaluateResultNoSuccessConditionAndNotFailing
        ("", "true", F),
        ("false", "", F),  # TestEvaluateResultNoFailureConditionAndNotSuccessful
        ("true", "", S),
        ("", "", S),  # TestEvaluateResultNoFailureConditionAndNoSuccessCondition
        ("a == true", "true", E),  # TestEvaluateResultWithErrorOnSuccessCondition
        ("true", "a == true", E),  # TestEvaluateResultWithErrorOnFailureCondition
    ],
)
def test_evaluate_result(success, failure, phase):
    assert evaluate_result(bare_metric(success, failure), True)[0] == phase


# analysis.md, "Handling Metric Results": NaN, infinity, the empty array, Datadog's nil.
@pytest.mark.parametrize(
    ("success", "failure", "value", "phase"),
    [
        ("isNaN(result) || result >= 0.95", "", NAN, S),
        ("result >= 0.95", "result < 0.95", NAN, IN),
        ("result >= 0.95", "", NAN, F),
        ("result >= 0.95", "", INF, S),
        ("", "isInf(result)", INF, F),
        ("len(result) == 0 || result[0] >= 0.95", "", [], S),
        ("len(result) > 0 && result[0] >= 0.95", "", [], F),
        ("default(result, 0) < 0.05", "", None, S),
        ("result < 0.05", "", None, E),
        # analysis.md, inconclusive runs
        ("result[0] >= 0.90", "result[0] < 0.50", [0.7], IN),
        ("result[0] >= 0.90", "result[0] < 0.50", [0.4], F),
        ("result[0] >= 0.90", "result[0] < 0.50", [0.95], S),
        # failure conditions: result[0] >= 10 fails the measurement
        ("", "result[0] >= 10", [12.0], F),
        ("", "result[0] >= 10", [2.0], S),
    ],
)
def test_documented_results(success, failure, value, phase):
    assert evaluate_result(bare_metric(success, failure), value)[0] == phase


@pytest.mark.parametrize(
    ("success", "failure", "value", "message"),
    [
        (
            "result < 0.05",
            "",
            None,
            'could not evaluate successCondition "result < 0.05": metric result is nil or empty: no data returned'
            " from the metric provider (invalid operation: < (mismatched types nil and float) at column 8)",
        ),
        (
            "result[0] >= 0.95",
            "",
            [],
            'could not evaluate successCondition "result[0] >= 0.95": metric result is nil or empty: no data'
            " returned from the metric provider (index 0 out of range (array length 0) at column 7)",
        ),
        (
            "",
            "result.errors > 5",
            "oops",
            "could not evaluate failureCondition \"result.errors > 5\": cannot fetch errors from string 'oops' at column 7",
        ),
        (
            "result[0]",
            "",
            [0.5],
            'could not evaluate successCondition "result[0]": expected bool, but got float 0.5 at column 1',
        ),
    ],
)
def test_evaluation_error_messages(success, failure, value, message):
    assert evaluate_result(bare_metric(success, failure), value) == (E, message)


def test_measure():
    run = resolve(template(), {"service-name": "svc"})
    got = measure(run.metric("success-rate"), [0.99], started_at=10.0, finished_at=10.5)
    assert got == Measurement("success-rate", S, 10.0, 10.5, [0.99], "")
    assert run.measure("success-rate", [0.5], started_at=11, finished_at=12).phase == F


def test_measurement_phase_is_checked():
    with pytest.raises(
        ValueError,
        match="a measurement's phase is one of Error, Failed, Inconclusive, Successful, not 'Running'",
    ):
        Measurement("m", PHASE_RUNNING, 0, 0)


def test_measurement_to_dict_spells_nan_and_inf_as_argo():
    assert m(S, value=[NAN, INF, -INF, 0.5]).to_dict() == {
        "metric": "m",
        "phase": S,
        "started_at": 0.0,
        "finished_at": 0.0,
        "value": ["NaN", "+Inf", "-Inf", 0.5],
        "message": "",
    }


# ---------------------------------------------------------------------------------------------
# A metric's phase: Argo's assessMetricStatus (analysis/analysis.go and analysis_test.go)


@pytest.mark.parametrize(
    ("fields", "phases", "terminating", "phase", "reason"),
    [
        # TestAssessMetricStatusNoMeasurements
        ({}, [], False, PHASE_PENDING, ""),
        ({}, [], True, S, ""),
        # TestAssessMetricStatusFailureLimit: failureLimit 2, three failures
        ({"interval": "60s", "failureLimit": 2}, [F, F, F], False, F, "failed (3) > failureLimit (2)"),
        ({"interval": "60s", "failureLimit": 2}, [F, F, F], True, F, "failed (3) > failureLimit (2)"),
        ({"interval": "60s", "failureLimit": 3}, [F, F, F], False, PHASE_RUNNING, ""),
        ({"interval": "60s", "failureLimit": 3}, [F, F, F], True, S, ""),
        # TestAssessMetricStatusInconclusiveLimit
        (
            {"interval": "60s", "inconclusiveLimit": 2},
            [IN, IN, IN],
            False,
            IN,
            "inconclusive (3) > inconclusiveLimit (2)",
        ),
        ({"interval": "60s", "inconclusiveLimit": 3}, [IN, IN, IN], False, PHASE_RUNNING, ""),
        ({"interval": "60s", "inconclusiveLimit": 3}, [IN, IN, IN], True, S, ""),
        # TestAssessMetricStatusConsecutiveErrors: the default limit is 4
        ({"interval": "60s"}, [E] * 5, False, E, "consecutiveErrors (5) > consecutiveErrorLimit (4)"),
        ({"interval": "60s"}, [E] * 4, False, PHASE_RUNNING, ""),
        ({"interval": "60s"}, [E] * 4, True, S, ""),
        (
            {"interval": "60s", "consecutiveErrorLimit": 0},
            [E],
            False,
            E,
            "consecutiveErrors (1) > consecutiveErrorLimit (0)",
        ),
        # a measurement that is not an Error resets the run of errors
        ({"interval": "60s"}, [E, E, E, E, S, E, E, E, E], False, PHASE_RUNNING, ""),
        (
            {"interval": "60s"},
            [E, E, E, E, S, E, E, E, E, E],
            False,
            E,
            "consecutiveErrors (5) > consecutiveErrorLimit (4)",
        ),
        # TestAssessMetricStatusCountReached
        ({"count": 10, "interval": "1m"}, [S] * 10, False, S, ""),
        # ... with 5 inconclusive among them: the first one already exceeds inconclusiveLimit 0
        (
            {"count": 10, "interval": "1m"},
            [S] * 5 + [IN] * 5,
            False,
            IN,
            "inconclusive (1) > inconclusiveLimit (0)",
        ),
        # errors do not count towards count
        ({"count": 2, "interval": "1m"}, [E, S], False, PHASE_RUNNING, ""),
        ({"count": 2, "interval": "1m"}, [E, S, S], False, S, ""),
        # failureLimit 0 (the default): the first failure fails the metric
        ({"count": 5, "interval": "1m"}, [S, F], False, F, "failed (1) > failureLimit (0)"),
        (
            {"count": 5, "interval": "1m", "failureLimit": 1},
            [F, S, F],
            False,
            F,
            "failed (2) > failureLimit (1)",
        ),
        ({"count": 5, "interval": "1m", "failureLimit": 1}, [F, S, S, S, S], False, S, ""),
        # count and interval unset: one measurement
        ({}, [S], False, S, ""),
        ({"count": 0}, [S], False, S, ""),
        ({}, [IN], False, IN, "inconclusive (1) > inconclusiveLimit (0)"),
        # an interval without a count: until stopped
        ({"interval": "1m"}, [S] * 50, False, PHASE_RUNNING, ""),
        ({"interval": "1m"}, [S] * 50, True, S, ""),
        ({"interval": "1m", "count": 0}, [S] * 3, False, PHASE_RUNNING, ""),
    ],
)
def test_assess_metric(fields, phases, terminating, phase, reason):
    run = run_of(metric(**fields))
    result = assess_metric(run.metrics[0], series(phases), terminating=terminating)
    assert (result.phase, result.reason) == (phase, reason)


def test_assess_metric_counters():
    run = run_of(metric(interval="1m", count=6, failureLimit=2, inconclusiveLimit=2))
    result = assess_metric(run.metrics[0], series([S, E, F, IN, E, E, S]))
    assert (result.count, result.successful, result.failed, result.inconclusive, result.error) == (
        4,
        2,
        1,
        1,
        3,
    )
    assert result.consecutive_error == 0
    assert result.phase == PHASE_RUNNING
    assert len(result.measurements) == 7


def test_measurements_after_completion_are_not_counted():
    # Argo takes no measurement once a metric completed; a caller that gives more does not undo it.
    run = run_of(metric(interval="1m", count=2))
    result = assess_metric(run.metrics[0], series([S, S, F, F]))
    assert (result.phase, result.count, result.failed, len(result.measurements)) == (S, 2, 0, 2)


def test_assess_metric_message_is_the_last_measurement_s():
    run = run_of(metric(interval="1m"))
    measurements = [m(E, message="connection refused", at=t) for t in range(5)]
    result = assess_metric(run.metrics[0], measurements)
    assert result.message == "connection refused"
    assert (
        result.assessment
        == 'Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)'
    )


def test_a_fatal_error_completes_the_metric_at_once():
    # A provider's error that no retry mends (Prometheus' bad_data): Error at the first one, whatever
    # consecutiveErrorLimit says; an ordinary Error still waits for the limit.
    run = run_of(metric(interval="1m", count=5, consecutiveErrorLimit=4))
    rejected = Measurement("m", E, 0.0, 0.0, None, "bad_data: parse error", fatal=True)
    result = assess_metric(run.metrics[0], [m(S), rejected])
    assert (result.phase, result.error, result.consecutive_error) == (E, 1, 1)
    assert result.assessment == (
        'Metric "m" assessed Error due to an error no retry mends (consecutiveErrorLimit not waited for)'
    )
    assert assess_metric(run.metrics[0], [m(S), m(E)]).phase == PHASE_RUNNING
    assert run.error("m", "x", started_at=0, finished_at=0, fatal=True).fatal is True


def test_assess_metric_refuses_another_metric_s_measurement():
    run = run_of(metric())
    with pytest.raises(ValueError, match="a measurement of 'other' given for metric 'm'"):
        assess_metric(run.metrics[0], [m(S, name="other")])


@pytest.mark.parametrize(
    ("count", "interval", "effective"),
    [
        (None, None, 1),
        (0, None, 1),
        (1, None, 1),
        (None, "1m", None),
        (0, "1m", None),
        (5, "1m", 5),
        (1, "1m", 1),
    ],
)
def test_effective_count(count, interval, effective):
    fields = {}
    if count is not None:
        fields["count"] = count
    if interval is not None:
        fields["interval"] = interval
    got = run_of(metric(**fields)).metrics[0]
    assert got.effective_count == effective
    assert got.indefinite is (effective is None)


@pytest.mark.parametrize(
    ("current", "new", "worse"),
    [
        (S, F, True),
        (S, E, True),
        (S, IN, True),
        (IN, E, True),
        (E, F, True),
        (F, E, False),
        (E, IN, False),
        (S, S, False),
    ],
)
def test_is_worse(current, new, worse):
    assert is_worse(current, new) is worse


# ---------------------------------------------------------------------------------------------
# The analysis' phase: Argo's assessRunStatus


def two(a_fields=None, b_fields=None, **extra):
    return run_of(metric("a", **(a_fields or {})), metric("b", **(b_fields or {})), **extra)


def test_one_metric_running_keeps_the_analysis_running():
    run = two({}, {"interval": "1m", "count": 3})
    result = assess(run, [m(S, name="a"), m(S, name="b")])
    assert (result.phase, result.message, result.decided_by) == (PHASE_RUNNING, "", None)
    assert result.summary == "running: b"
    assert [r.phase for r in result.metrics] == [S, PHASE_RUNNING]


def test_every_metric_successful():
    run = two()
    result = assess(run, [m(S, name="a"), m(S, name="b")])
    assert (result.phase, result.message, result.decided_by) == (S, "", None)
    assert result.run_summary == RunSummary(count=2, successful=2)
    assert result.summary == "2 of 2 metric(s) Successful"


def test_a_failed_metric_decides_and_names_itself():
    run = two({}, {})
    result = assess(run, [m(S, name="a"), m(F, name="b")])
    assert result.phase == F
    assert result.message == 'Metric "b" assessed Failed due to failed (1) > failureLimit (0)'
    assert result.decided_by == "b"
    assert result.run_summary == RunSummary(count=2, successful=1, failed=1)


def test_a_failure_stops_the_metrics_still_running():
    # TestReconcileAnalysisRunTerminateSiblingAfterFail: the other metric is taken as Successful.
    run = two({"interval": "1m"}, {})
    result = assess(run, [m(S, name="a"), m(F, name="b")])
    assert result.phase == F
    assert [r.phase for r in result.metrics] == [S, F]


@pytest.mark.parametrize("phase", [F, IN])
def test_inconclusive_and_failed_stop_the_run(phase):
    run = two({"interval": "1m", "count": 10}, {})
    result = assess(run, [m(S, name="a"), m(phase, name="b")])
    assert result.phase == phase
    assert result.metrics[0].phase == S


def test_an_error_names_the_provider_s_message():
    # TestAssessRunStatusErrorMessageFromProvider
    run = run_of(metric(interval="1m"))
    measurements = [m(E, at=t, message="Post http://p:9090: connection refused") for t in range(5)]
    result = assess(run, measurements)
    assert result.phase == E
    assert result.message == (
        'Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4):'
        ' "Error Message: Post http://p:9090: connection refused"'
    )


@pytest.mark.parametrize(
    ("a", "b", "phase", "decided_by"),
    [
        ([IN], [E] * 5, E, "b"),
        ([E] * 5, [IN], E, "a"),
        ([F], [E] * 5, F, "a"),
        ([E] * 5, [F], F, "b"),
        ([IN], [F], F, "b"),
        ([F], [F], F, "a"),  # the same phase: the first one decides
        ([IN], [IN], IN, "a"),
    ],
)
def test_the_worst_phase_wins(a, b, phase, decided_by):
    # Argo's order, best to worst: Successful, Running, Pending, Inconclusive, Error, Failed
    run = two({"interval": "1m"}, {"interval": "1m"})
    result = assess(run, series(a, name="a") + series(b, name="b"))
    assert (result.phase, result.decided_by) == (phase, decided_by)


def test_dry_run_metric_never_decides():
    run = two({}, {}, dryRun=[{"metricName": "b"}])
    result = assess(run, [m(S, name="a"), m(F, name="b")])
    assert result.phase == S
    assert result.decided_by is None
    assert result.metrics[1].phase == F
    assert result.metrics[1].dry_run
    assert result.run_summary == RunSummary(count=1, successful=1)
    assert result.dry_run_summary == RunSummary(count=1, failed=1)
    assert result.summary == (
        '1 of 1 metric(s) Successful; dry-run, not deciding: Metric "b" assessed Failed due to failed (1) > failureLimit (0)'
    )


def test_dry_run_failure_does_not_stop_the_others():
    run = two({"interval": "1m", "count": 3}, {}, dryRun=[{"metricName": "b"}])
    result = assess(run, [m(S, name="a"), m(F, name="b")])
    assert result.phase == PHASE_RUNNING
    assert result.metrics[0].phase == PHASE_RUNNING


def test_dry_run_metric_still_running_keeps_the_analysis_running():
    run = two({}, {"interval": "1m", "count": 3}, dryRun=[{"metricName": "b"}])
    assert assess(run, [m(S, name="a"), m(S, name="b")]).phase == PHASE_RUNNING


def test_only_dry_run_metrics():
    run = two({}, {}, dryRun=[{"metricName": ".*"}])
    result = assess(run, [m(F, name="a"), m(E, name="b"), m(E, at=1, name="b")])
    assert result.phase == PHASE_RUNNING  # b still has errors to go
    result = assess(run, [m(F, name="a"), m(S, name="b")])
    assert result.phase == S
    assert result.run_summary == RunSummary()
    assert result.dry_run_summary == RunSummary(count=2, successful=1, failed=1)


def test_terminate_when_nothing_failed():
    run = two({"interval": "1m"}, {"interval": "1m"})
    result = assess(run, [m(S, name="a")], terminate=True)
    assert (result.phase, result.message, result.terminated) == (S, "Run Terminated", True)
    assert [r.phase for r in result.metrics] == [S, S]
    assert result.summary == "2 of 2 metric(s) Successful (stopped before every measurement was taken)"


def test_terminate_when_a_metric_failed():
    run = two({"interval": "1m"}, {"interval": "1m"})
    result = assess(run, [m(S, name="a"), m(F, name="b")], terminate=True)
    assert result.phase == F
    assert result.message == 'Metric "b" assessed Failed due to failed (1) > failureLimit (0)'


def test_terminate_before_any_measurement():
    run = two({"interval": "1m"}, {"initialDelay": "5m"})
    assert assess(run, [], terminate=True).phase == S


def test_no_measurement_yet():
    result = assess(two(), [])
    assert result.phase == PHASE_RUNNING
    assert [r.phase for r in result.metrics] == [PHASE_PENDING, PHASE_PENDING]


def test_assess_refuses_an_unknown_metric():
    with pytest.raises(ValueError, match="a measurement of 'x', which is not a metric of the analysis"):
        assess(two(), [m(S, name="x")])


def test_result_to_dict_and_measurements_in_time_order():
    run = two({"interval": "1m", "count": 2}, {})
    measurements = [m(S, at=0, name="a"), m(S, at=5, name="b", value=[0.9]), m(S, at=60, name="a")]
    result = assess(run, measurements)
    assert [(x.metric, x.finished_at) for x in result.measurements] == [("a", 0), ("b", 5), ("a", 60)]
    as_dict = result.to_dict()
    assert as_dict["phase"] == S
    assert as_dict["message"] == "2 of 2 metric(s) Successful"
    assert as_dict["run_summary"] == {"count": 2, "successful": 2, "failed": 0, "inconclusive": 0, "error": 0}
    assert as_dict["metrics"][1]["measurements"][0]["value"] == [0.9]
    assert as_dict["metrics"][0]["count"] == 2


# ---------------------------------------------------------------------------------------------
# The planner: Argo's generateMetricTasks and calculateNextReconcileTime


def test_first_measurement_is_due_at_the_start():
    plan = next_measurements(run_of(metric()), [], started_at=100.0, now=100.0)
    assert (plan.measure, plan.next_at, plan.done) == (("m",), None, False)
    assert plan.due == (("m", 100.0),)
    assert plan.wait(100.0) == 0.0


def test_initial_delay():
    # TestGenerateMetricTasksHonorInitialDelay / TestCalculateNextReconcileTimeInitialDelay
    run = two({"interval": "60s"}, {"interval": "60s", "initialDelay": "40s"})
    plan = next_measurements(run, [], started_at=0.0, now=0.0)
    assert plan.measure == ("a",)
    assert plan.next_at == 40.0
    plan = next_measurements(run, [m(S, at=0.0, name="a")], started_at=0.0, now=30.0)
    assert (plan.measure, plan.next_at, plan.wait(30.0)) == ((), 40.0, 10.0)
    plan = next_measurements(run, [m(S, at=0.0, name="a")], started_at=0.0, now=40.0)
    assert plan.measure == ("b",)
    assert plan.next_at == 60.0


def test_interval():
    # TestGenerateMetricTasksInterval: not within the interval, then due
    run = run_of(metric(interval="60s"))
    done_at = [m(S, at=50.0)]
    assert next_measurements(run, done_at, started_at=0, now=100.0).measure == ()
    assert next_measurements(run, done_at, started_at=0, now=100.0).next_at == 110.0
    assert next_measurements(run, done_at, started_at=0, now=110.0).measure == ("m",)


def test_error_is_retried_after_ten_seconds_whatever_the_interval():
    # TestCalculateNextReconcileUponError
    for fields in ({}, {"interval": "5m"}):
        run = run_of(metric(**fields))
        plan = next_measurements(run, [m(E, at=100.0)], started_at=0, now=100.0)
        assert plan.next_at == 100.0 + ERROR_RETRY_INTERVAL == 110.0
        assert next_due(run.metrics[0], [m(E, at=100.0)], 0) == 110.0


def test_earliest_metric_is_next():
    # TestCalculateNextReconcileEarliestMetric
    run = two({"interval": "60s"}, {"interval": "60s"})
    plan = next_measurements(run, [m(S, at=20.0, name="a"), m(S, at=0.0, name="b")], started_at=0, now=30.0)
    assert plan.next_at == 60.0
    assert plan.due == (("a", 80.0), ("b", 60.0))


def test_completed_metric_is_not_measured_again():
    # TestGenerateMetricTasksNoIntervalOrCount
    run = two({}, {"interval": "60s", "count": 2})
    plan = next_measurements(run, [m(S, name="a"), m(S, name="b")], started_at=0, now=500.0)
    assert plan.measure == ("b",)
    assert [name for name, _at in plan.due] == ["b"]


def test_nothing_is_measured_once_a_metric_failed():
    # TestGenerateMetricTasksFailing
    run = two({"interval": "60s"}, {})
    plan = next_measurements(run, [m(F, name="b")], started_at=0, now=500.0)
    assert plan.done
    assert plan.measure == ()
    assert plan.result.phase == F


def test_terminate_ends_an_indefinite_analysis():
    run = run_of(metric(interval="1m"))
    assert run.indefinite
    plan = next_measurements(run, series([S, S]), started_at=0, now=1000.0, terminate=True)
    assert plan.done
    assert plan.result.phase == S
    assert plan.result.message == "Run Terminated"


def loop(run, values, *, until=None, started_at=0.0, duration=1.0):
    """The caller's loop with a fake clock: each measurement takes `duration` seconds.

    ``values`` is the providers' answers in order, or a function of the metric's name.
    """
    now = started_at
    measurements = []
    feed = iter(values) if not callable(values) else None
    for _step in range(1000):
        plan = next_measurements(
            run, measurements, started_at=started_at, now=now, terminate=until is not None and now >= until
        )
        if plan.done:
            return plan.result, measurements
        if not plan.measure:
            assert plan.next_at is not None and plan.next_at > now
            now = plan.next_at
            continue
        for name in plan.measure:
            value = values(name) if feed is None else next(feed)
            if isinstance(value, Exception):
                measurements.append(run.error(name, str(value), started_at=now, finished_at=now + duration))
            else:
                measurements.append(run.measure(name, value, started_at=now, finished_at=now + duration))
        now += duration
    raise AssertionError("the loop did not end")


def test_loop_count_and_interval():
    # analysis.md: interval 60s, count 5, successCondition result[0] >= 0.95
    run = run_of(metric(successCondition="result[0] >= 0.95", interval="60s", count=5))
    result, measurements = loop(run, [[0.99]] * 5)
    assert result.phase == S
    assert [x.started_at for x in measurements] == [0.0, 61.0, 122.0, 183.0, 244.0]


def test_loop_background_analysis_fails_after_failure_limit():
    # analysis.md: background analysis, failureLimit 3: the fourth failed measurement fails it
    run = resolve(template(), {"service-name": "guestbook-svc.default.svc.cluster.local"})
    values = [[0.99], [0.90], [0.98], [0.91], [0.80], [0.70]]
    result, measurements = loop(run, values)
    assert result.phase == F
    assert len(measurements) == 6
    assert result.message == 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    assert [x.started_at for x in measurements] == [0.0, 301.0, 602.0, 903.0, 1204.0, 1505.0]


def test_loop_background_analysis_until_stopped():
    run = resolve(template(), {"service-name": "svc"})
    result, measurements = loop(run, [[0.99]] * 100, until=1000.0)
    assert (result.phase, result.message) == (S, "Run Terminated")
    assert len(measurements) == 4  # at 0, 301, 602, 903


def test_loop_errors_then_error_phase():
    run = run_of(metric(successCondition="result[0] >= 0.95", interval="5m", count=3))
    result, measurements = loop(run, [RuntimeError("connection refused")] * 5)
    assert result.phase == E
    assert [x.started_at for x in measurements] == [0.0, 11.0, 22.0, 33.0, 44.0]
    assert result.message.endswith(': "Error Message: connection refused"')


def test_loop_errors_then_recovers():
    run = run_of(metric(successCondition="result[0] >= 0.95", interval="5m", count=2))
    result, measurements = loop(run, [RuntimeError("timeout"), [0.99], RuntimeError("timeout"), [0.97]])
    assert result.phase == S
    assert [x.started_at for x in measurements] == [0.0, 11.0, 312.0, 323.0]


def test_loop_inconclusive():
    run = run_of(metric(successCondition="result[0] >= 0.90", failureCondition="result[0] < 0.50"))
    result, _measurements = loop(run, [[0.7]])
    assert result.phase == IN
    assert (
        result.message == 'Metric "m" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)'
    )


def test_loop_two_metrics_with_a_dry_run():
    run = resolve(template(DRY_RUN))
    # 5xx (dry-run) fails every time, 4xx passes: the analysis goes on until stopped
    result, measurements = loop(
        run, lambda name: [50.0] if name == "total-5xx-errors" else [1.0], until=1000.0
    )
    assert result.phase == S
    assert result.metric("total-5xx-errors").phase == F
    assert result.metric("total-4xx-errors").phase == S
    assert len([x for x in measurements if x.metric == "total-5xx-errors"]) == 4  # failureLimit 3
    assert len([x for x in measurements if x.metric == "total-4xx-errors"]) == 4  # at 0, 301, 602, 903


if HAS_HYPOTHESIS:
    _PHASES = st.sampled_from([S, F, IN, E])

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.fixed_dictionaries(
                {
                    "count": st.sampled_from([None, 0, 1, 3]),
                    "interval": st.sampled_from([None, "10s", "1m"]),
                    "initialDelay": st.sampled_from([None, "5s"]),
                    "failureLimit": st.sampled_from([None, 0, 1]),
                    "inconclusiveLimit": st.sampled_from([None, 0, 2]),
                    "consecutiveErrorLimit": st.sampled_from([None, 0, 2]),
                    "dry": st.booleans(),
                }
            ),
            min_size=1,
            max_size=3,
        ),
        st.lists(_PHASES, min_size=200, max_size=200),
    )
    def test_the_loop_always_ends_or_waits(configs, phases):
        raws = []
        rules = []
        for index, config in enumerate(configs):
            fields = {k: v for k, v in config.items() if v is not None and k != "dry"}
            if fields.get("count") in (3,) and "interval" not in fields:
                fields["interval"] = "10s"
            for limit in ("failureLimit", "inconclusiveLimit"):
                if fields.get("count") and fields.get(limit, 0) > fields["count"]:
                    del fields[limit]
            raws.append(metric(f"m{index}", **fields))
            if config["dry"]:
                rules.append({"metricName": f"^m{index}$"})
        run = run_of(*raws, dryRun=rules)
        feed = iter(phases)
        now = 0.0
        measurements = []
        for _step in range(150):
            plan = next_measurements(run, measurements, started_at=0.0, now=now, terminate=now > 600)
            if plan.done:
                assert plan.result.phase in (S, F, IN, E)
                return
            assert plan.measure or (plan.next_at is not None and plan.next_at > now)
            for name in plan.measure:
                measurements.append(Measurement(name, next(feed), now, now + 1))
            now = now + 1 if plan.measure else plan.next_at
        raise AssertionError("the analysis did not end")


# ---------------------------------------------------------------------------------------------
# Templates: Argo's as they are


def test_background_analysis_template():
    parsed = template()
    assert (parsed.name, parsed.kind, parsed.metric_names) == (
        "success-rate",
        "AnalysisTemplate",
        ("success-rate",),
    )
    assert [arg.name for arg in parsed.args] == ["service-name"]
    run = resolve(parsed, {"service-name": "guestbook-svc.default.svc.cluster.local"})
    (got,) = run.metrics
    assert (got.name, got.provider_type, got.interval, got.count, got.failure_limit) == (
        "success-rate",
        "prometheus",
        300.0,
        None,
        3,
    )
    assert got.consecutive_error_limit == 4
    assert got.indefinite
    assert 'destination_service=~"guestbook-svc.default.svc.cluster.local"' in got.provider["query"]
    assert "{{" not in got.provider["query"]
    assert got.provider["address"] == "http://prometheus.example.com:9090"


def test_inline_cluster_template_with_a_default():
    parsed = template(INLINE_SUCCESS_RATE)
    assert parsed.kind == "ClusterAnalysisTemplate"
    run = resolve(parsed, {"service-name": "svc"})
    (got,) = run.metrics
    assert got.provider["address"] == "http://prometheus.example.com:9090"
    assert got.effective_count == 1
    assert got.interval is None


def test_args_example_with_a_secret():
    parsed = template(ARGS_EXAMPLE)
    args = {"service-name": "svc", "stable-hash": "abc", "latest-hash": "def"}
    assert parsed.secret_refs(args) == (TOKEN,)
    run = resolve(parsed, args, {TOKEN: "s3cr3t"})
    (got,) = run.metrics
    assert got.provider["url"] == "http://example/measure?service=svc"
    assert got.provider["headers"] == [{"key": "Authorization", "value": "Bearer s3cr3t"}]
    assert got.provider["jsonPath"] == "{$.results.ok}"
    assert "s3cr3t" not in repr(run)
    assert run.describe()[0]["config"]["headers"] == [{"key": "Authorization", "value": "Bearer *****"}]
    assert run.redact("401 for Bearer s3cr3t") == "401 for Bearer *****"
    error = run.error("webmetric", "rejected token s3cr3t", started_at=0, finished_at=1)
    assert error.message == "rejected token *****"


def test_a_given_value_overrides_a_default_and_a_secret():
    parsed = template(ARGS_EXAMPLE)
    args = {
        "service-name": "svc",
        "stable-hash": "a",
        "latest-hash": "b",
        "api-url": "http://other-api",
        "api-token": "t",
    }
    assert parsed.secret_refs(args) == ()
    run = resolve(parsed, args)
    assert run.metrics[0].provider["url"] == "http://other-api?service=svc"
    assert run.secrets == ()


def test_web_metric_with_json_body():
    run = resolve(template(WEB_METRIC), {"service-name": "svc"}, {TOKEN: "t0k"})
    provider = run.metrics[0].provider
    assert provider["jsonBody"] == {"key1": "value_1", "key2": {"nestedObj": "nested value", "key3": "svc"}}
    assert provider["timeoutSeconds"] == 20
    assert (
        run.measure("webmetric", {"ok": True, "successPercent": 0.95}, started_at=0, finished_at=1).phase == S
    )
    assert (
        run.measure("webmetric", {"ok": True, "successPercent": 0.5}, started_at=0, finished_at=1).phase == F
    )


def test_dry_run_and_measurement_retention():
    parsed = template(DRY_RUN)
    assert parsed.dry_run == ("total-5xx-errors",)
    assert parsed.notes == ("spec.measurementRetention is ignored: every measurement is kept and returned",)
    run = resolve(parsed)
    assert run.dry_run_metrics == ("total-5xx-errors",)
    assert run.notes == parsed.notes


@pytest.mark.parametrize(
    ("rules", "dry"),
    [
        ([".*"], ("total-5xx-errors", "total-4xx-errors")),
        (["total-4xx-errors"], ("total-5xx-errors", "total-4xx-errors")),
        (["4xx"], ("total-5xx-errors", "total-4xx-errors")),  # a search, as Go's regexp.MatchString
        (["^total-5"], ("total-5xx-errors",)),
    ],
)
def test_dry_run_rules_from_the_caller(rules, dry):
    run = resolve(template(DRY_RUN), dry_run=[r for r in rules if r != "total-5xx-errors"])
    assert run.dry_run_metrics == dry


def test_templated_count_interval_limits_and_conditions():
    raw = metric(
        "{{args.name}}",
        interval="{{ args.interval }}",
        count="{{args.count}}",
        failureLimit="{{args.limit}}",
        successCondition="result[0] >= {{args.threshold}}",
    )
    parsed = parse_spec(
        spec(raw, args=[{"name": n} for n in ("name", "interval", "count", "limit", "threshold")]),
        path="",
    )
    run = resolve(parsed, {"name": "rate", "interval": "30s", "count": 4, "limit": "1", "threshold": 0.9})
    (got,) = run.metrics
    assert (got.name, got.interval, got.count, got.failure_limit) == ("rate", 30.0, 4, 1)
    assert got.success_condition == "result[0] >= 0.9"
    assert run.measure("rate", [0.95], started_at=0, finished_at=0).phase == S


@pytest.mark.parametrize(
    ("given", "text"),
    [(9090, "9090"), (True, "true"), (False, "false"), (0.5, "0.5"), (2.0, "2"), ("x", "x")],
)
def test_argument_values_are_strings(given, text):
    parsed = parse_spec(spec(metric(provider={"web": {"url": "{{args.x}}"}}), args=[{"name": "x"}]), path="")
    assert resolve_args(parsed, {"x": given}) == {"x": text}


def test_metrics_written_directly():
    parsed = parse_spec({"metrics": [metric("up", successCondition="result[0] == 1")]}, path="")
    assert parsed.path == ""
    assert resolve(parsed).metrics[0].success_condition == "result[0] == 1"


def test_the_template_is_not_changed():
    doc = yaml.safe_load(ARGS_EXAMPLE)
    before = copy.deepcopy(doc)
    parsed = parse_template(doc)
    resolve(parsed, {"service-name": "svc", "stable-hash": "a", "latest-hash": "b"}, {TOKEN: "t"})
    assert doc == before
    assert "{{ args.api-token }}" in parsed.metrics[0]["provider"]["web"]["headers"][0]["value"]


def test_describe_for_check_mode():
    run = resolve(template(), {"service-name": "svc"})
    (described,) = run.describe()
    assert described == {
        "name": "success-rate",
        "provider": "prometheus",
        "config": run.metrics[0].provider,
        "interval": "5m",
        "initial_delay": None,
        "count": None,
        "measurements": "until stopped",
        "success_condition": "result[0] >= 0.95",
        "failure_condition": None,
        "failure_limit": 3,
        "inconclusive_limit": 0,
        "consecutive_error_limit": 4,
        "dry_run": False,
    }


def test_metric_lookup():
    run = resolve(template(), {"service-name": "svc"})
    with pytest.raises(KeyError, match="no metric named 'x' \\(metrics: success-rate\\)"):
        run.metric("x")


def with_metric(**changes):
    raw = metric(successCondition="result[0] >= 0.95", interval="1m")
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "spec": {"metrics": [raw]}}


# Every problem names the field, in the template's spelling, and says what is wrong.
@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            with_metric(provider={"datadog": {"query": "q"}}),
            f"spec.metrics[0].provider.datadog: datadog {NOT_SUPPORTED} {SUPPORTED}",
        ),
        (
            with_metric(provider={"plugin": {"x": {}}}),
            f"spec.metrics[0].provider.plugin: plugin {NOT_SUPPORTED} {SUPPORTED}",
        ),
        (
            with_metric(provider={"graphana": {}}),
            "spec.metrics[0].provider.graphana: unknown provider 'graphana' (supported: prometheus, web, job, kubernetes)",
        ),
        (
            with_metric(provider={"prometheus": {}, "web": {}}),
            "spec.metrics[0].provider: several providers given (prometheus, web): a metric has exactly one",
        ),
        (
            with_metric(provider={}),
            "spec.metrics[0].provider: no provider given: a metric needs one (prometheus, web, job, kubernetes)",
        ),
        (
            with_metric(provider=None),
            "spec.metrics[0].provider: is missing: a metric needs one provider (prometheus, web, job, kubernetes)",
        ),
        (
            with_metric(provider={"prometheus": "up"}),
            "spec.metrics[0].provider.prometheus: must be a mapping, not string",
        ),
        (with_metric(count=-1), "spec.metrics[0].count: must be >= 0"),
        (with_metric(count="five"), "spec.metrics[0].count: must be an int, not string 'five'"),
        (with_metric(count=2.5), "spec.metrics[0].count: must be an int, not float 2.5"),
        (with_metric(count=True), "spec.metrics[0].count: must be an int, not bool True"),
        (with_metric(inconclusiveLimit=-2), "spec.metrics[0].inconclusiveLimit: must be >= 0"),
        (with_metric(consecutiveErrorLimit=-1), "spec.metrics[0].consecutiveErrorLimit: must be >= 0"),
        (
            with_metric(failureLimit=-1),
            "spec.metrics[0].failureLimit: must be >= 0 (Argo Rollouts 1.8 reads -1 as 'no failure limit'"
            " only together with consecutiveSuccessLimit, which is not supported)",
        ),
        (with_metric(count=2, failureLimit=3), "spec.metrics[0]: count (2) must be >= failureLimit (3)"),
        (
            with_metric(count=2, inconclusiveLimit=3),
            "spec.metrics[0]: count (2) must be >= inconclusiveLimit (3)",
        ),
        (
            with_metric(count=3, interval=None),
            "spec.metrics[0].interval: must be given when count > 1 (count is 3): the time between measurements",
        ),
        (
            with_metric(interval="5x"),
            'spec.metrics[0].interval: time: unknown unit "x" in duration "5x" (a duration is written 30s, 5m, 1h30m)',
        ),
        (
            with_metric(interval="5"),
            'spec.metrics[0].interval: time: missing unit in duration "5" (a duration is written 30s, 5m, 1h30m)',
        ),
        (
            with_metric(interval=300),
            "spec.metrics[0].interval: must be a duration string such as '30s', not int 300",
        ),
        (with_metric(interval="-5m"), "spec.metrics[0].interval: '-5m' is negative"),
        (with_metric(interval="0s"), "spec.metrics[0].interval: must be more than 0s"),
        (
            with_metric(initialDelay="soon"),
            'spec.metrics[0].initialDelay: time: invalid duration "soon" (a duration is written 30s, 5m, 1h30m)',
        ),
        (
            with_metric(successCondition="result[0] >= "),
            "spec.metrics[0].successCondition: unexpected end of the expression: an operand is missing at column 14 in 'result[0] >='",
        ),
        (
            with_metric(failureCondition="reslt > 1"),
            "spec.metrics[0].failureCondition: unknown name reslt (the only variable is result) at column 1 in 'reslt > 1'",
        ),
        (with_metric(successCondition=5), "spec.metrics[0].successCondition: must be a string, not int 5"),
        (
            with_metric(consecutiveSuccessLimit=3),
            "spec.metrics[0].consecutiveSuccessLimit: consecutiveSuccessLimit (Argo Rollouts 1.8) is not supported",
        ),
        (
            with_metric(successLimit=3),
            "spec.metrics[0].successLimit: is not a field of an Argo Rollouts metric (its fields: name, interval,"
            " initialDelay, count, successCondition, failureCondition, failureLimit, inconclusiveLimit,"
            " consecutiveErrorLimit, provider)",
        ),
        (with_metric(name=None), "spec.metrics[0].name: must be a string, not nil None"),
        (with_metric(name=""), "spec.metrics[0].name: must not be empty"),
        (
            {"kind": "AnalysisTemplate", "spec": {"metrics": []}},
            "spec.metrics: no metrics given: an analysis needs at least one",
        ),
        (
            {"kind": "AnalysisTemplate", "spec": {}},
            "spec.metrics: no metrics given: an analysis needs at least one",
        ),
        (
            {"kind": "AnalysisTemplate", "spec": {"metrics": {"name": "m"}}},
            "spec.metrics: must be a list, not map",
        ),
        (
            {"kind": "AnalysisTemplate", "spec": {"metrics": ["m"]}},
            "spec.metrics[0]: must be a mapping, not string",
        ),
        (
            {"kind": "AnalysisTemplate", "spec": {"metrics": [metric("a"), metric("a")]}},
            "spec.metrics[1].name: duplicate name 'a'",
        ),
        (
            {"kind": "AnalysisTemplate", "spec": {"metrics": [metric()], "terminate": True}},
            "spec.terminate: is not a field of an AnalysisTemplate spec (its fields: metrics, args, dryRun, measurementRetention)",
        ),
        (
            {"kind": "AnalysisTemplate"},
            "spec: is missing: a AnalysisTemplate has its metrics in spec.metrics",
        ),
        (
            {"apiVersion": "argoproj.io/v1beta1", "spec": {}},
            "apiVersion: must be argoproj.io/v1alpha1, not 'argoproj.io/v1beta1'",
        ),
        (
            {"kind": "Rollout", "spec": {}},
            "kind: must be one of AnalysisTemplate, ClusterAnalysisTemplate, not 'Rollout'",
        ),
        (
            {"kind": "AnalysisRun", "spec": {}},
            "kind: must be one of AnalysisTemplate, ClusterAnalysisTemplate, not 'AnalysisRun' (an AnalysisRun's spec can be given as the metrics)",
        ),
        (
            {"kind": "AnalysisTemplate", "spec": {"metrics": [metric()]}, "data": {}},
            "data: is not a field of a AnalysisTemplate (apiVersion, kind, metadata, spec)",
        ),
        ("metrics: []", "template: must be a mapping, not string"),
        # dry-run rules
        (
            {"spec": {"metrics": [metric()], "dryRun": [{"metricName": "*"}]}},
            "spec.dryRun[0].metricName: '*' is not a valid regular expression (nothing to repeat at position 0): use '.*' for every metric",
        ),
        (
            {"spec": {"metrics": [metric()], "dryRun": [{"metricName": "m"}, {"metricName": "m"}]}},
            "spec.dryRun[1]: two dryRun rules have the same metricName 'm'",
        ),
        (
            {"spec": {"metrics": [metric()], "dryRun": [{"name": "m"}]}},
            "spec.dryRun[0].name: is not a field of a dryRun rule (its fields: metricName)",
        ),
        # arguments
        (
            {"spec": {"metrics": [metric()], "args": [{"name": "a"}, {"name": "a"}]}},
            "spec.args[1].name: duplicate argument 'a'",
        ),
        (
            {
                "spec": {
                    "metrics": [metric()],
                    "args": [
                        {"name": "a", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                    ],
                }
            },
            "spec.args[0]: has both value and valueFrom: give one",
        ),
        (
            {"spec": {"metrics": [metric()], "args": [{"name": "a", "valueFrom": {"configMapKeyRef": {}}}]}},
            "spec.args[0].valueFrom.configMapKeyRef: is not a valueFrom source (secretKeyRef)",
        ),
        (
            {
                "spec": {
                    "metrics": [metric()],
                    "args": [{"name": "a", "valueFrom": {"secretKeyRef": {"name": "s"}}}],
                }
            },
            "spec.args[0].valueFrom.secretKeyRef.key: must be a string, not nil None",
        ),
        (
            {"spec": {"metrics": [metric()], "args": [{"name": "a", "value": ["x"]}]}},
            "spec.args[0].value: must be a string, a number or a bool, not array",
        ),
        (
            {"spec": {"metrics": [metric()], "args": [{"value": "x"}]}},
            "spec.args[0].name: must be a string, not nil None",
        ),
        # {{args.x}} tags
        (
            {
                "spec": {
                    "args": [{"name": "service-name"}],
                    "metrics": [metric(provider={"web": {"url": "http://{{args.servce-name}}/"}})],
                }
            },
            "spec.metrics[0].provider.web.url: failed to resolve {{args.servce-name}}: no such argument (the template's arguments: service-name)",
        ),
        (
            {"spec": {"metrics": [metric(successCondition="result > {{ inputs.x }}")]}},
            "spec.metrics[0].successCondition: failed to resolve {{ inputs.x }}: no such argument (the template's arguments: none)",
        ),
        (
            {
                "spec": {
                    "args": [{"name": "x"}],
                    "metrics": [metric(provider={"web": {"url": "http://{{args.x"}})],
                }
            },
            "spec.metrics[0].provider.web.url: '{{' without a closing '}}' in 'http://{{args.x'",
        ),
    ],
)
def test_template_errors(doc, message):
    with pytest.raises(AnalysisTemplateError) as err:
        parse_template(doc)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("args", "secrets", "message"),
    [
        (
            {"stable-hash": "a", "latest-hash": "b"},
            {TOKEN: "t"},
            "args.service-name: has no value: the template declares it without a default, so it must be given in args",
        ),
        (
            {"service-name": "s", "stable-hash": "a", "latest-hash": "b"},
            None,
            "args.api-token: comes from key 'apiToken' of Secret 'token-secret', whose value was not given",
        ),
        (
            {"service-name": "s", "stable-hash": "a", "latest-hash": "b", "servce": "x"},
            {TOKEN: "t"},
            "args.servce: the template has no such argument (its arguments: service-name, stable-hash, latest-hash, api-url, api-token)",
        ),
        (
            {"service-name": ["s"], "stable-hash": "a", "latest-hash": "b"},
            {TOKEN: "t"},
            "args.service-name: must be a string, a number or a bool, not array",
        ),
        (
            {"service-name": "s", "stable-hash": "a", "latest-hash": "b"},
            {TOKEN: 5},
            "args.api-token: must be a string, not int 5",
        ),
    ],
)
def test_argument_errors(args, secrets, message):
    with pytest.raises(AnalysisTemplateError) as err:
        resolve(template(ARGS_EXAMPLE), args, secrets)
    assert str(err.value) == message


def test_a_value_from_a_rollout_field_needs_a_value():
    doc = {
        "spec": {
            "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
            "metrics": [metric()],
        }
    }
    parsed = parse_template(doc)
    with pytest.raises(AnalysisTemplateError) as err:
        resolve(parsed)
    assert str(err.value) == (
        "args.hash: valueFrom.podTemplateHashValue reads a field of an Argo Rollout, which is not supported: pass its value in args"
    )
    assert resolve(parsed, {"hash": "abc"}).metrics[0].name == "m"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            ["nothing"],
            "dry_run_metrics: rule 'nothing' matches no metric name (metrics: total-5xx-errors, total-4xx-errors)",
        ),
        (
            ["total-5xx-errors"],
            "dry_run_metrics: 'total-5xx-errors' is already a dryRun rule of the template",
        ),
        (
            ["("],
            "dry_run_metrics[0].metricName: '(' is not a valid regular expression (missing ), unterminated subpattern at position 0)",
        ),
    ],
)
def test_dry_run_rule_errors(rules, message):
    with pytest.raises(AnalysisTemplateError) as err:
        resolve(template(DRY_RUN), dry_run=rules)
    assert str(err.value) == message


def test_a_template_rule_that_matches_nothing():
    parsed = parse_template({"spec": {"metrics": [metric("a")], "dryRun": [{"metricName": "b"}]}})
    with pytest.raises(AnalysisTemplateError) as err:
        resolve(parsed)
    assert str(err.value) == "spec.dryRun[0]: rule 'b' matches no metric name (metrics: a)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"interval": "5 minutes"},
            'spec.metrics[0].interval: time: unknown unit " minutes" in duration "5 minutes" (a duration is written 30s, 5m, 1h30m)',
        ),
        ({"count": "lots"}, "spec.metrics[0].count: must be an int, not string 'lots'"),
        (
            {"threshold": "high"},
            "spec.metrics[0].successCondition: unknown name high (the only variable is result) at column 14 in 'result[0] >= high'",
        ),
        ({"name": "dup"}, "spec.metrics[1].name: duplicate name 'dup'"),
    ],
)
def test_errors_found_once_the_arguments_are_in(args, message):
    values = {"interval": "1m", "count": "2", "threshold": "0.9", "name": "first"}
    values.update(args)
    doc = {
        "spec": {
            "args": [{"name": n} for n in values],
            "metrics": [
                metric(
                    "{{args.name}}",
                    interval="{{args.interval}}",
                    count="{{args.count}}",
                    successCondition="result[0] >= {{args.threshold}}",
                ),
                metric("dup"),
            ],
        }
    }
    parsed = parse_template(doc)
    with pytest.raises(AnalysisTemplateError) as err:
        resolve(parsed, values)
    assert str(err.value) == message


def test_error_carries_path_and_reason():
    with pytest.raises(AnalysisTemplateError) as err:
        parse_template(with_metric(count=-1))
    assert (err.value.path, err.value.reason) == ("spec.metrics[0].count", "must be >= 0")
    assert isinstance(err.value, ValueError)


# ---------------------------------------------------------------------------------------------
# Purity: these modules are the pure layer


_CORE = ("_analysis.py", "_analysis_expr.py")
_ALLOWED_IMPORTS = {"__future__", "copy", "math", "re", "collections.abc", "dataclasses", "typing"}


def _module_utils():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "..", "..", "plugins", "module_utils")


@pytest.mark.parametrize("name", _CORE)
def test_core_imports_only_the_standard_library(name):
    with open(os.path.join(_module_utils(), name), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    for module in imported:
        assert not module.split(".")[0].lstrip(".").startswith(("ansible", "kubernetes")), module
    assert imported - _ALLOWED_IMPORTS <= {"._analysis_expr"}, imported
    # nor Python's own evaluation, nor a clock
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & {"eval", "exec", "compile", "__import__", "open"}


def test_nan_is_not_swallowed():
    run = run_of(metric(successCondition="result >= 0.95"))
    got = run.measure("m", NAN, started_at=0, finished_at=0)
    assert got.phase == F
    assert math.isnan(got.value)


def test_run_error_names_a_metric_of_the_run():
    run = run_of(metric())
    assert run.error("m", "boom", started_at=0, finished_at=1) == Measurement("m", E, 0, 1, None, "boom")
    with pytest.raises(KeyError):
        run.error("x", "boom", started_at=0, finished_at=1)
