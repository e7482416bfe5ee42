# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The analysis loop (_analysis_run) with scripted providers and a fake clock that only moves when
# the loop sleeps or a provider takes time; and the providers (_analysis_providers) with a scripted
# HTTP function and a fake client. The real providers against real endpoints and the local
# cluster: tests/integration/test_analysis.py.
import base64
import json

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._analysis import (
    Measurement,
    SecretRef,
    parse_spec,
    resolve,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_providers import (
    HttpResponse,
    ProviderError,
    analysis_job,
    job_measurement,
    job_name,
    json_path,
    prometheus_query,
    read_secrets,
    web_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_run import (
    AnalysisRunner,
    outcome_dict,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._client import ClientError
from ansible_collections.openrollout.k8s.plugins.module_utils._hooks import JobOutcome


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def analysis(metrics, args=None, secrets=None, dry_run=()):
    spec = {"metrics": metrics}
    if args:
        spec["args"] = [
            {"name": name, **({} if value is None else {"value": value})} for name, value in args.items()
        ]
    return resolve(parse_spec(spec, path=""), {}, secrets or {}, dry_run=dry_run)


def scripted(values, clock, took=0.5):
    """A provider giving ``values`` in turn (an Exception is raised), each taking ``took`` seconds."""
    answers = list(values)
    calls = []

    def provider(metric, number):
        calls.append((metric.name, number, clock()))
        clock.now += took
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    provider.calls = calls
    return provider


WEB = {"web": {"url": "http://127.0.0.1:1/x"}}


def test_measures_at_interval_until_count_then_successful():
    clock = FakeClock()
    run = analysis(
        [{"name": "ok", "interval": "30s", "count": 3, "successCondition": "result > 1", "provider": WEB}]
    )
    web = scripted([2, 3, 4], clock)
    outcome = AnalysisRunner(run, {"web": web}, clock, clock.sleep).run_to_end()
    assert outcome.result.phase == "Successful"
    assert [c[1:] for c in web.calls] == [(1, 1000.0), (2, 1030.5), (3, 1061.0)]
    assert clock.sleeps == [30.0, 30.0]
    assert [m.value for m in outcome.measurements] == [2, 3, 4]


def test_failure_limit_then_failed_naming_the_metric():
    clock = FakeClock()
    run = analysis(
        [
            {
                "name": "rate",
                "interval": "10s",
                "count": 5,
                "failureLimit": 1,
                "successCondition": "result >= 0.95",
                "provider": WEB,
            }
        ]
    )
    outcome = AnalysisRunner(
        run, {"web": scripted([0.99, 0.5, 0.4, 1], clock)}, clock, clock.sleep
    ).run_to_end()
    assert outcome.result.phase == "Failed"
    assert len(outcome.measurements) == 3
    result = outcome_dict(outcome, lambda t: f"t{t:g}")
    assert result["message"] == 'Metric "rate" assessed Failed due to failed (2) > failureLimit (1)'
    assert result["decided_by"] == "rate"
    assert result["measurements"][1] == {
        "metric": "rate",
        "phase": "Failed",
        "value": 0.5,
        "message": "",
        "started_at": "t1010.5",
        "finished_at": "t1011",
        "time": "t1011",
    }
    assert "measurements" not in result["metrics"][0]


def test_errors_retry_after_ten_seconds_and_reset_on_success_then_error_after_the_limit():
    clock = FakeClock()
    run = analysis(
        [{"name": "up", "interval": "1m", "count": 10, "consecutiveErrorLimit": 2, "provider": WEB}]
    )
    down = ProviderError("GET http://127.0.0.1:1/x: [Errno 111] Connection refused")
    web = scripted([down, 1, down, down, down], clock, took=0)
    outcome = AnalysisRunner(run, {"web": web}, clock, clock.sleep).run_to_end()
    assert outcome.result.phase == "Error"
    # Argo's DefaultErrorRetryInterval after an Error, the interval after a success.
    assert clock.sleeps == [10.0, 60.0, 10.0, 10.0]
    assert outcome.result.message == (
        'Metric "up" assessed Error due to consecutiveErrors (3) > consecutiveErrorLimit (2): '
        '"Error Message: GET http://127.0.0.1:1/x: [Errno 111] Connection refused"'
    )


def test_a_fatal_error_ends_the_metric_at_once_without_waiting_for_the_error_limit():
    clock = FakeClock()
    run = analysis(
        [
            {"name": "ok", "interval": "5s", "count": 3, "provider": WEB},
            {
                "name": "rate",
                "interval": "5s",
                "count": 3,
                "successCondition": "result[0] < 0.05",
                "provider": {"prometheus": {"address": "http://p", "query": "sum(("}},
            },
        ]
    )
    rejected = ProviderError("Prometheus query 'sum((' failed: bad_data: 1:6: parse error", fatal=True)
    prometheus = scripted([rejected], clock, took=0)
    outcome = AnalysisRunner(
        run, {"web": scripted([1, 1, 1], clock, took=0), "prometheus": prometheus}, clock, clock.sleep
    ).run_to_end()
    assert outcome.result.phase == "Error"
    assert [(m.metric, m.phase) for m in outcome.measurements] == [("ok", "Successful"), ("rate", "Error")]
    assert clock.sleeps == [] and len(prometheus.calls) == 1
    assert outcome.result.message == (
        'Metric "rate" assessed Error due to an error no retry mends (consecutiveErrorLimit not waited for): '
        "\"Error Message: Prometheus query 'sum((' failed: bad_data: 1:6: parse error\""
    )


def test_dry_run_failure_does_not_decide():
    clock = FakeClock()
    run = analysis(
        [
            {"name": "main", "successCondition": "result == 1", "provider": WEB},
            {"name": "shadow", "successCondition": "result == 1", "provider": WEB},
        ],
        dry_run=["shadow"],
    )
    outcome = AnalysisRunner(run, {"web": scripted([1, 0], clock)}, clock, clock.sleep).run_to_end()
    assert outcome.result.phase == "Successful"
    assert outcome.result.dry_run_summary.failed == 1
    assert "dry-run, not deciding" in outcome.result.summary


def test_indefinite_metric_stops_at_the_duration_as_terminated():
    clock = FakeClock()
    run = analysis([{"name": "watch", "interval": "20s", "provider": WEB}])
    with pytest.raises(ValueError, match="needs a duration"):
        AnalysisRunner(run, {"web": scripted([], clock)}, clock, clock.sleep).run_to_end()
    outcome = AnalysisRunner(
        run, {"web": scripted([1] * 10, clock, took=0)}, clock, clock.sleep, duration=50
    ).run_to_end()
    assert outcome.result.phase == "Successful"
    assert outcome.result.terminated
    assert len(outcome.measurements) == 3  # at 0, 20 and 40 s; stopped at 50
    assert clock.sleeps == [20.0, 20.0, 10.0]


def test_a_provider_measurement_is_taken_as_it_is_and_secrets_are_redacted():
    clock = FakeClock()
    ref = SecretRef("creds", "token")
    template = parse_spec(
        {
            "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
            "metrics": [
                {
                    "name": "smoke",
                    "provider": {
                        "job": {
                            "spec": {
                                "template": {
                                    "spec": {
                                        "containers": [
                                            {"name": "c", "image": "i", "args": ["{{args.token}}"]}
                                        ]
                                    }
                                }
                            }
                        }
                    },
                }
            ],
        },
        path="",
    )
    run = resolve(template, {}, {ref: "s3cret"})

    def job(metric, number):
        return Measurement(
            metric.name, "Failed", clock(), clock(), {"log_tail": ["token s3cret refused"]}, "bad s3cret"
        )

    outcome = AnalysisRunner(run, {"job": job}, clock, clock.sleep).run_to_end()
    assert outcome.result.phase == "Failed"
    assert outcome.measurements[0].message == "bad *****"
    assert outcome.measurements[0].value == {"log_tail": ["token ***** refused"]}
    assert "s3cret" not in json.dumps(run.describe())


# --- providers ---------------------------------------------------------------------------


class Http:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, method, url, headers, body, timeout, insecure):
        self.requests.append((method, url, dict(headers), body, timeout, insecure))
        return self.answers.pop(0)


def metric_of(provider, **fields):
    return analysis([{"name": "m", "provider": provider, **fields}]).metric("m")


def prom(body, status=200):
    return HttpResponse(status, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.99"]}]}, [0.99]),
        ({"resultType": "vector", "result": []}, []),
        ({"resultType": "scalar", "result": [1, "3"]}, 3.0),
    ],
)
def test_prometheus_vector_and_scalar(data, expected):
    http = Http(prom({"status": "success", "data": data}))
    metric = metric_of(
        {
            "prometheus": {
                "address": "http://p:9090/",
                "query": "up",
                "headers": [{"key": "X-Scope", "value": "t"}],
            }
        }
    )
    assert prometheus_query(metric, http, now=lambda: 5.0) == expected
    method, url, headers, body, timeout, _insecure = http.requests[0]
    assert (method, url, headers["X-Scope"], timeout) == ("POST", "http://p:9090/api/v1/query", "t", 120.0)
    assert body == b"query=up&time=5.000"


def test_prometheus_error_and_matrix():
    bad = Http(
        prom({"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected"}, 400)
    )
    metric = metric_of({"prometheus": {"address": "http://p", "query": "sum(("}})
    with pytest.raises(
        ProviderError, match=r"Prometheus query 'sum\(\(' failed: bad_data: 1:5: parse error"
    ) as info:
        prometheus_query(metric, bad)
    assert info.value.fatal is True  # the same query is rejected again: no retry
    overloaded = Http(prom({"status": "error", "errorType": "unavailable", "error": "too many queries"}, 503))
    with pytest.raises(ProviderError, match="unavailable: too many queries") as info:
        prometheus_query(metric, overloaded)
    assert info.value.fatal is False
    matrix = Http(prom({"status": "success", "data": {"resultType": "matrix", "result": []}}))
    with pytest.raises(ProviderError, match="metric type not supported: the query gives a matrix"):
        prometheus_query(metric, matrix)
    html = Http(HttpResponse(404, b"<html>not found</html>"))
    with pytest.raises(ProviderError, match="answered 404, not its API's JSON"):
        prometheus_query(metric, html)


@pytest.mark.parametrize(
    ("path", "document", "expected"),
    [
        ("{$.data.ok}", {"data": {"ok": True}}, True),
        ("{.items[1].v}", {"items": [{"v": 1}, {"v": "2.5"}]}, "2.5"),
        ("$['a-b']", {"a-b": 3}, 3),
        ("{$}", {"x": 1}, {"x": 1}),
        ("{$.items[-1]}", {"items": [1, 2]}, 2),
    ],
)
def test_json_path(path, document, expected):
    assert json_path(path, document) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{$.data.missing}", "Could not find JSONPath in body: {$.data.missing}: missing is not found"),
        ("{$.items[5]}", "array index 5 out of bounds"),
        ("{$.items[?(@.v>1)]}", "filters, wildcards and '..' are not"),
    ],
)
def test_json_path_errors(path, message):
    with pytest.raises(
        ProviderError, match=message.replace("[", r"\[").replace("$", r"\$").replace("(", r"\(")
    ):
        json_path(path, {"data": {}, "items": []})


def test_web_request_json_path_number_and_status():
    metric = metric_of({"web": {"url": "http://h/x", "jsonPath": "{$.rate}", "timeoutSeconds": 3}})
    assert web_request(metric, Http(HttpResponse(200, b'{"rate": "0.97"}'))) == 0.97
    with pytest.raises(ProviderError, match="received non 2xx response code: 503"):
        web_request(metric, Http(HttpResponse(503, b"")))
    with pytest.raises(ProviderError, match="Could not parse JSON body"):
        web_request(metric, Http(HttpResponse(200, b"ok")))
    post = metric_of({"web": {"url": "http://h/x", "method": "POST", "jsonBody": {"a": 1}}})
    http = Http(HttpResponse(201, b"[1]"))
    assert web_request(post, http) == [1]
    assert http.requests[0][0] == "POST" and http.requests[0][3] == b'{"a": 1}'


def test_job_name_and_body():
    assert job_name("success-rate", "Smoke_Test", 2, "abc123") == "success-rate-smoke-test-2-abc123"
    assert len(job_name("a" * 80, "m", 1, "abc123")) == 63
    metric = metric_of({"job": {"metadata": {"labels": {"team": "x"}}, "spec": {"template": {"spec": {}}}}})
    body = analysis_job(metric, "checks", "shop", 1, "fff000")
    assert body["metadata"]["name"] == "checks-m-1-fff000"
    assert body["metadata"]["labels"] == {
        "team": "x",
        "openrollout.k8s/analysis": "checks",
        "openrollout.k8s/metric": "m",
    }
    with pytest.raises(ProviderError, match="spec must be a Job spec"):
        analysis_job(metric_of({"job": {"spec": {}}}), "checks", "shop", 1)


class Runner:
    def __init__(self, outcome=None, error=None):
        self.outcome, self.error = outcome, error

    def run_job(self, job, time_left):
        if self.error:
            raise self.error
        return self.outcome, ["line 1", "boom"], None


def test_job_measurement_phases():
    clock = FakeClock()
    metric = metric_of({"job": {"spec": {"template": {"spec": {}}}}})
    job = {"metadata": {"name": "j-1"}}
    ok = job_measurement(metric, job, Runner(JobOutcome(True, True, 0, "Completed", "", "p")), clock)
    assert (ok.phase, ok.value["exit_code"]) == ("Successful", 0)
    failed = job_measurement(metric, job, Runner(JobOutcome(True, False, 3, "Error", "", "p")), clock)
    assert failed.phase == "Failed"
    assert failed.message == "job j-1 failed with exit code 3; last log lines: line 1 | boom"
    with pytest.raises(ProviderError, match="forbidden"):
        job_measurement(metric, job, Runner(error=ClientError("forbidden: create jobs")), clock)


class SecretsClient:
    def __init__(self, objects):
        self.objects = objects
        self.reads = []

    def get(self, what, resource, namespace, name):
        self.reads.append(name)
        return self.objects.get(name)

    def not_found(self, what, namespace):
        return f"{what} not found"


def test_read_secrets():
    data = {"token": base64.b64encode(b"s3cret").decode()}
    client = SecretsClient({"creds": {"data": data}})
    refs = (SecretRef("creds", "token"), SecretRef("creds", "token"))
    assert read_secrets(client, "shop", refs) == {SecretRef("creds", "token"): "s3cret"}
    assert client.reads == ["creds"]
    with pytest.raises(ClientError, match="Secret shop/creds has no key 'user' \\(keys: token\\)"):
        read_secrets(client, "shop", (SecretRef("creds", "user"),))
    with pytest.raises(ClientError, match="Secret shop/other not found"):
        read_secrets(client, "shop", (SecretRef("other", "k"),))
