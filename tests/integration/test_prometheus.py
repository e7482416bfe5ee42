"""openrollout.k8s.analysis on real pods and the local cluster's real Prometheus (hack/cluster/prometheus.sh).

Nothing here is a fake. The test app (hack/cluster/go/testapp) runs on the real node. Its v1 serves
without errors, and its v2 answers 30% of `GET /` with a 500 (`ERROR_RATE=0.3`). Both sit behind one
Service and are annotated for scraping. The test app's load generator sends them requests the whole
time. Prometheus (built from its Go module, started by up.sh on loopback) scrapes their /metrics
every 2 s and answers the analysis' PromQL:

- a KWOK pod with the same annotations is never a target (its IP answers nothing);
- the analysis is Successful on v1 and Failed on v2, and its message names the metric;
- a dry-run metric that fails does not fail the analysis;
- a PromQL syntax error fails the task at once, with Prometheus' own words;
- Argo's success-rate template from its documentation runs unchanged: only its address is the local
  one. Prometheus records the test app's counter also as istio_requests_total (prometheus.sh);
- a Prometheus of the test's own, stopped during an analysis, gives Error after consecutiveErrorLimit.
  The shared one keeps running for the other tests;
- a healthy v2 rolled out while traffic runs passes the analysis and stays;
- a v2 with errors rolled out while traffic runs is found Failed by the analysis and undone with
  rollout_undo. v1 serves again, without an error.

The first seven share one namespace and one load run (a module fixture), in any order. Their xdist
group keeps them on one worker.
"""

from __future__ import annotations

import datetime
import json
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _realnode import (
    Load,
    app_container,
    app_deployment,
    app_service,
    failed_requests,
    prometheus_binary,
    prometheus_query,
    prometheus_url,
    served_versions,
)
from kubernetes import client
from test_return_docs import assert_documented
from test_rollout import assert_ok

pytestmark = [pytest.mark.usefixtures("real_node"), pytest.mark.xdist_group("prometheus")]

SCRAPE_INTERVAL = 2.0  # hack/cluster/prometheus.sh: PROMETHEUS_SCRAPE_INTERVAL
ERROR_RATES = {"v1": "0", "v2": "0.3"}
NAMESPACE_LABEL = "openrollout.test/integration"  # conftest.py's, for its clean-up
ROLLING = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 120}}

# Copied from Argo Rollouts' documentation (docs/features/analysis.md, "Background Analysis") as it is.
ARGO_SUCCESS_RATE = """\
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


def error_ratio_query(namespace: str, window: str = "20s") -> str:
    """The error ratio by version, as hack/cluster/README.md writes it, in one namespace."""
    selector = f'namespace="{namespace}"'
    return (
        f'sum by (version) (rate(testapp_requests_total{{{selector},code=~"5.."}}[{window}]))'
        f" / sum by (version) (rate(testapp_requests_total{{{selector}}}[{window}]))"
    )


def error_rate_metric(namespace: str, version: str, **fields: Any) -> dict[str, Any]:
    """An analysis metric: the error ratio of one version over 20 s, at most 5%."""
    selector = f'namespace="{namespace}",version="{version}"'
    query = (
        f'sum(rate(testapp_requests_total{{{selector},code=~"5.."}}[20s]))'
        f" / sum(rate(testapp_requests_total{{{selector}}}[20s]))"
    )
    metric = {
        "name": f"error-rate-{version}",
        "interval": "2s",
        "count": 3,
        "successCondition": "result[0] <= 0.05",
        "provider": {"prometheus": {"address": prometheus_url(), "query": query}},
    }
    metric.update(fields)
    return metric


def ratios_by_version(result: list[dict[str, Any]]) -> dict[str, float]:
    return {series["metric"].get("version", ""): float(series["value"][1]) for series in result}


def settled(ratios: dict[str, float]) -> bool:
    """Both versions measured, v1 without errors, v2 at its 30% (each window of n requests has
    floor(n*0.3) or one more failures: 20 requests already give 0.3 +- 0.05)."""
    return set(ratios) == set(ERROR_RATES) and ratios["v1"] == 0 and abs(ratios["v2"] - 0.3) <= 0.05


def wait_for_ratios(query: str, timeout: float) -> dict[str, float]:
    """Re-run ``query`` once per scrape interval, which is when its answer can change, until the
    ratios are settled; TimeoutError with the last answer after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        ratios = ratios_by_version(prometheus_query(query))
        if settled(ratios):
            return ratios
        if time.monotonic() > deadline:
            raise TimeoutError(f"the error ratios by version were {ratios} after {timeout}s ({query})")
        time.sleep(SCRAPE_INTERVAL)


def targets_of(namespace: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{prometheus_url()}/api/v1/targets?state=any", timeout=5) as answer:
        data = json.loads(answer.read())["data"]
    dropped = [
        t
        for t in data["droppedTargets"]
        if t.get("discoveredLabels", {}).get("__meta_kubernetes_namespace") == namespace
    ]
    assert not dropped, f"pods of {namespace} discovered but dropped: {dropped}"
    return [t for t in data["activeTargets"] if t.get("labels", {}).get("namespace") == namespace]


def until(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.2 s (a module fixture cannot use the function-scoped watch_until)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.2)


@dataclass
class Scraped:
    namespace: str
    url: str
    ratios: dict[str, float]
    settled_after: float
    load: Load


@pytest.fixture(scope="module")
def scraped(core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api, real_node: str) -> Iterator[Scraped]:
    """v1 and v2 (30% errors) behind the Service `web` of a namespace of the module's own, under load
    the whole module long, once Prometheus' error ratios by version are settled."""
    namespace = f"it-prometheus-{secrets.token_hex(3)}"
    core_v1.create_namespace({"metadata": {"name": namespace, "labels": {NAMESPACE_LABEL: "true"}}})
    load = None
    try:
        until(
            lambda: core_v1.list_namespaced_service_account(namespace).items, 30, "its default ServiceAccount"
        )
        started = time.monotonic()
        for version, rate in ERROR_RATES.items():
            apps_v1.create_namespaced_deployment(
                namespace,
                app_deployment(
                    namespace,
                    version,
                    1,
                    name=f"web-{version}",
                    container=app_container(version, env={"ERROR_RATE": rate}),
                    labels={"service": "web", "version": version},
                    scrape=True,
                ),
            )
        # Annotated too, but on a KWOK node: Prometheus lists only the real node's pods.
        core_v1.create_namespaced_pod(
            namespace,
            {
                "metadata": {
                    "name": "kwok-web",
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
                },
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:v1"}]},
            },
        )
        ip = app_service(core_v1, namespace, selector={"service": "web"})
        until(
            lambda: all(
                (d.status.available_replicas or 0) == 1
                for d in apps_v1.list_namespaced_deployment(namespace).items
            ),
            90,
            "web-v1 and web-v2 available",
        )
        load = Load(f"http://{ip}/", interval="10ms", limit="600s").start()
        ratios = wait_for_ratios(error_ratio_query(namespace), timeout=90)
        yield Scraped(namespace, f"http://{ip}/", ratios, time.monotonic() - started, load)
    finally:
        if load is not None:
            load.__exit__()
        core_v1.delete_namespace(namespace)


@pytest.fixture
def traffic(scraped: Scraped) -> Scraped:
    """The module's namespace under load: the load started again, and the ratios settled again,
    where its 10 min cap has ended it (a busy machine, tests of other modules in between)."""
    if not scraped.load.running():
        scraped.load.__exit__()
        scraped.load = Load(scraped.url, interval="10ms", limit="600s").start()
        scraped.ratios = wait_for_ratios(error_ratio_query(scraped.namespace), timeout=90)
    return scraped


def test_prometheus_scrapes_the_pods_and_sees_each_version_s_error_ratio(scraped: Scraped) -> None:
    assert settled(scraped.ratios), scraped.ratios
    # One target per app pod, up, with the pod's version label kept as a target label; the KWOK
    # pod is not even discovered.
    targets = targets_of(scraped.namespace)
    assert sorted(t["labels"]["version"] for t in targets) == ["v1", "v2"], targets
    assert all(t["health"] == "up" and t["labels"]["pod"].startswith("web-v") for t in targets), targets
    up = prometheus_query(f'up{{namespace="{scraped.namespace}"}}')
    assert sorted(s["metric"]["version"] for s in up) == ["v1", "v2"], up
    print(
        f"error ratios {scraped.ratios}, settled {scraped.settled_after:.1f}s after the Deployments were created"
    )


def test_analysis_is_successful_on_the_healthy_version(run_task, traffic: Scraped) -> None:
    result = run_task("analysis", {"metrics": [error_rate_metric(traffic.namespace, "v1")]})
    assert not result.get("failed"), result.get("msg")
    assert result["phase"] == "Successful"
    assert [m["value"] for m in result["measurements"]] == [[0.0]] * 3
    assert result["message"] == "1 of 1 metric(s) Successful"
    assert_documented("analysis", result)


def test_analysis_fails_on_the_version_with_errors_and_names_the_metric(run_task, traffic: Scraped) -> None:
    metric = error_rate_metric(traffic.namespace, "v2", failureLimit=1)
    result = run_task("analysis", {"metrics": [metric]})
    assert result["failed"] is True
    assert result["phase"] == "Failed" and result["decided_by"] == "error-rate-v2"
    assert result["msg"] == (
        'analysis Failed: Metric "error-rate-v2" assessed Failed due to failed (2) > failureLimit (1)'
    )
    values = [m["value"][0] for m in result["measurements"]]
    assert len(values) == 2 and all(abs(v - 0.3) <= 0.05 for v in values), values
    print("measurements:", [(m["finished_at"], m["phase"], m["value"]) for m in result["measurements"]])


def test_a_dry_run_metric_that_fails_does_not_fail_the_analysis(run_task, traffic: Scraped) -> None:
    metrics = [error_rate_metric(traffic.namespace, "v1"), error_rate_metric(traffic.namespace, "v2")]
    result = run_task("analysis", {"metrics": metrics, "dry_run_metrics": ["-v2$"]})
    assert not result.get("failed"), result.get("msg")
    assert result["phase"] == "Successful"
    by_metric = {m["name"]: m for m in result["metrics"]}
    assert by_metric["error-rate-v1"]["phase"] == "Successful"
    assert by_metric["error-rate-v2"]["phase"] == "Failed" and by_metric["error-rate-v2"]["dry_run"] is True
    assert result["dry_run_summary"]["failed"] == 1 and result["run_summary"]["successful"] == 1
    assert "dry-run, not deciding" in result["message"]


def test_a_promql_syntax_error_fails_at_once_in_prometheus_words(run_task, traffic: Scraped) -> None:
    metric = error_rate_metric(traffic.namespace, "v1", interval="30s", count=5)
    query = f'sum(rate(testapp_requests_total{{namespace="{traffic.namespace}"}}[20s])'
    metric["provider"]["prometheus"]["query"] = query
    result = run_task("analysis", {"metrics": [metric]})
    assert result["failed"] is True and result["phase"] == "Error"
    # One measurement, no retry 10 s later, whatever consecutiveErrorLimit (4) says: the analysis
    # ends with it (the task's own time is mostly ansible-playbook's start on a busy machine).
    took = (
        datetime.datetime.fromisoformat(result["finished_at"])
        - datetime.datetime.fromisoformat(result["started_at"])
    ).total_seconds()
    assert len(result["measurements"]) == 1 and took < 5, (took, result["measurements"])
    message = result["measurements"][0]["message"]
    assert message.startswith(f"Prometheus query {query!r} failed: bad_data: ")
    assert "parse error" in message
    assert result["msg"].startswith(
        'analysis Error: Metric "error-rate-v1" assessed Error due to an error no retry mends '
        '(consecutiveErrorLimit not waited for): "Error Message: Prometheus query '
    )
    print(f"{took:.1f}s: {result['msg']}")


def test_argo_s_success_rate_template_from_its_docs_runs_unchanged(
    run_task, traffic: Scraped, tmp_path: Path
) -> None:
    """Argo's template, with only its address changed, against the pods: irate over Prometheus'
    istio_requests_total, recorded from the test app's counter. Its metric has an interval and no
    count (measured until the rollout ends), so the task gives a duration: the run is Terminated
    after the first measurement, as Argo terminates it when the rollout completes."""
    path = tmp_path / "success-rate.yaml"
    path.write_text(ARGO_SUCCESS_RATE.replace("http://prometheus.example.com:9090", prometheus_url()))
    service = f"web-v1.{traffic.namespace}.svc.cluster.local"
    result = run_task("analysis", {"src": str(path), "args": {"service-name": service}, "duration": "3s"})
    assert not result.get("failed"), result.get("msg")
    assert result["phase"] == "Successful" and result["terminated"] is True
    assert [m["value"] for m in result["measurements"]] == [[1.0]]
    # The same template on v2 measures its 70%: Failed, which failureLimit 3 tolerates once.
    bad = run_task(
        "analysis",
        {
            "src": str(path),
            "args": {"service-name": f"web-v2.{traffic.namespace}.svc.cluster.local"},
            "duration": "3s",
        },
    )
    assert [m["phase"] for m in bad["measurements"]] == ["Failed"]
    assert abs(bad["measurements"][0]["value"][0] - 0.7) <= 0.05, bad["measurements"]
    assert bad["phase"] == "Successful" and bad["metrics"][0]["failed"] == 1


def test_the_load_generator_counts_what_prometheus_sees(scraped: Scraped) -> None:
    """The load generator's own count agrees with Prometheus: of 8 s of requests of its own (beside
    the module's load), only v2 failed, with 500s, at about its 30% (a sample of v2's requests,
    whose failures are evenly spread); v1 never. A timeout or two are the 2 shared cores' load,
    named, not counted as the app's."""
    with Load(scraped.url, interval="10ms", limit="8s") as load:
        time.sleep(8)
        summary = load.stop()
    errors = dict(summary["errors"])
    served_500 = errors.pop("http_500", 0)
    assert set(errors) <= {"timeout"} and sum(errors.values()) <= 5, failed_requests(summary)
    failed_by = {point[2] for point in summary["timeline"] if point[1] == "fail" and point[2]}
    assert failed_by == {"v2"}, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2"}
    assert abs(served_500 / summary["by_version"]["v2"] - 0.3) <= 0.07, (served_500, summary["by_version"])
    print(
        f"load: {summary['sent']} requests, {served_500} answered 500, other errors {errors}, by version {summary['by_version']}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query_requests(url: str) -> int:
    """How many /api/v1/query requests a Prometheus answered, from its own /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=2) as answer:
        text = answer.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line
    )


def test_prometheus_stopped_gives_error_after_consecutive_error_limit(run_task, tmp_path: Path) -> None:
    """A Prometheus of the test's own (the cluster's binary, another port, no scrape), stopped once
    it answered the first measurement: the next ones find nothing listening, Error, and the second
    Error in a row exceeds consecutiveErrorLimit 1, 10 s after the first (Argo's retry interval)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 2s}\n")
    prometheus = subprocess.Popen(
        [
            str(prometheus_binary()),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the test's Prometheus did not get ready in 30 s"
                time.sleep(0.2)
        metric = {
            "name": "up",
            "interval": "2s",
            "count": 5,
            "consecutiveErrorLimit": 1,
            "successCondition": "result[0] == 1",
            "provider": {"prometheus": {"address": url, "query": "vector(1)", "timeout": 2}},
        }
        task = threading.Thread(target=lambda: results.append(run_task("analysis", {"metrics": [metric]})))
        task.start()
        deadline = time.monotonic() + 120
        while query_requests(url) < 1:
            assert time.monotonic() < deadline and task.is_alive(), "the analysis never queried Prometheus"
            time.sleep(0.1)
        prometheus.send_signal(signal.SIGTERM)
        prometheus.wait(timeout=30)
        stopped = time.monotonic()
        task.join(timeout=120)
        ended = time.monotonic()
    finally:
        if prometheus.poll() is None:
            prometheus.kill()
    [result] = results
    assert result["failed"] is True and result["phase"] == "Error"
    assert [m["phase"] for m in result["measurements"]] == ["Successful", "Error", "Error"]
    assert "Connection refused" in result["measurements"][1]["message"]
    assert result["msg"].startswith(
        'analysis Error: Metric "up" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1): '
        f'"Error Message: POST {url}/api/v1/query: '
    )
    assert ended - stopped >= 10, "the second Error came before Argo's 10 s retry interval"
    print(f"Error {ended - stopped:.1f}s after Prometheus stopped: {result['msg']}")


def test_a_version_with_errors_is_found_by_the_analysis_and_undone_while_traffic_runs(
    run_task, namespace: str, core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api
) -> None:
    """The flow of a playbook without a controller: roll out v2, analyse it on Prometheus while the
    traffic runs, and roll back with rollout_undo when the analysis fails."""
    v1 = app_deployment(namespace, "v1", 2, scrape=True)
    assert_ok(run_task("rollout", {"definition": v1, "strategy": ROLLING}), True)
    ip = app_service(core_v1, namespace)
    with Load(f"http://{ip}/", limit="300s") as load:
        v2 = app_deployment(
            namespace, "v2", 2, container=app_container("v2", env={"ERROR_RATE": "0.3"}), scrape=True
        )
        rolled = run_task("rollout", {"definition": v2, "strategy": ROLLING})
        assert_ok(rolled, True)
        metric = error_rate_metric(
            namespace, "v2", name="error-rate", initialDelay="6s", count=4, failureLimit=1
        )
        analysed = run_task("analysis", {"metrics": [metric]})
        undone = run_task("rollout_undo", {"name": "web", "namespace": namespace})
        summary = load.stop()
    with Load(f"http://{ip}/", limit="2s") as after:
        time.sleep(2)
        after_summary = after.stop()

    assert analysed["failed"] is True and analysed["phase"] == "Failed"
    assert (
        analysed["msg"]
        == 'analysis Failed: Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)'
    )
    values = [m["value"][0] for m in analysed["measurements"] if m["phase"] == "Failed"]
    assert len(values) == 2 and all(abs(v - 0.3) <= 0.1 for v in values), analysed["measurements"]
    assert_ok(undone, True)
    assert (
        apps_v1.read_namespaced_deployment("web", namespace)
        .spec.template.spec.containers[0]
        .image.endswith(":v1")
    )
    # Under load the whole time: only v2's injected 500s failed, and v1 serves alone, without an
    # error, once undone.
    assert set(summary["errors"]) == {"http_500"}, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2"} and summary["timeline"][-1][2] == "v1"
    assert after_summary["failed"] == 0 and served_versions(after_summary) == {"v1"}, failed_requests(
        after_summary
    )
    timeline = {
        "rollout": [(e["time"], e["event"]) for e in rolled["timeline"] if e["event"] != "replicas"],
        "analysis": [(analysed["started_at"], "started", None)]
        + [(m["finished_at"], m["phase"], m["value"]) for m in analysed["measurements"]],
        "undo": [(e["time"], e["event"]) for e in undone.get("timeline", []) if e["event"] != "replicas"],
        "load": {k: summary[k] for k in ("sent", "ok", "failed", "by_version", "errors")},
    }
    print(json.dumps(timeline))


def test_a_healthy_version_passes_the_analysis_and_stays_while_traffic_runs(
    run_task, namespace: str, core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api
) -> None:
    """The same flow with a healthy v2: the analysis is Successful on its own measurements (v2's
    error ratio is 0, not absent: the test app counts its 500s from 0), so the playbook goes on
    and v2 is the release; not one request fails."""
    assert_ok(
        run_task(
            "rollout", {"definition": app_deployment(namespace, "v1", 2, scrape=True), "strategy": ROLLING}
        ),
        True,
    )
    ip = app_service(core_v1, namespace)
    with Load(f"http://{ip}/", limit="300s") as load:
        assert_ok(
            run_task(
                "rollout",
                {"definition": app_deployment(namespace, "v2", 2, scrape=True), "strategy": ROLLING},
            ),
            True,
        )
        metric = error_rate_metric(
            namespace, "v2", name="error-rate", initialDelay="6s", count=3, failureLimit=1
        )
        analysed = run_task("analysis", {"metrics": [metric]})
        summary = load.stop()
    assert not analysed.get("failed"), analysed.get("msg")
    assert analysed["phase"] == "Successful"
    assert [m["value"] for m in analysed["measurements"]] == [[0.0]] * 3
    assert summary["failed"] == 0, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2"} and summary["timeline"][-1][2] == "v2"
    image = apps_v1.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image
    assert image.endswith(":v2"), image
