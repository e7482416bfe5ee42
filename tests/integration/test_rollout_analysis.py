"""openrollout.k8s.rollout's `analysis` (Argo's background analysis) on KWOK pods, with the `web`
provider on a tiny HTTP server of this test (test_analysis.TinyServer): fast, and every answer
scripted. The real-pod test with the cluster's Prometheus and the test app's ERROR_RATE is in
test_real_pods.py (test_an_analysis_on_prometheus_rolls_a_failing_version_back_under_load).

The analysis starts at the new revision's first available pod, runs while the Deployment rolls
on, and the rollout is complete when both are; Failed fails the rollout at once and rolls it back;
Inconclusive pauses the Deployment, and the same task again resumes it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_analysis import TinyServer
from test_return_docs import assert_documented
from test_rollout import deployment, images


@pytest.fixture
def server():
    started: list[TinyServer] = []

    def start(routes):
        started.append(TinyServer(routes))
        return started[-1]

    yield start
    for each in started:
        with contextlib.suppress(OSError):
            each.stop()


def web_metric(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "error-rate",
        "provider": {"web": {"url": url, "timeoutSeconds": 2, "jsonPath": "{$.rate}"}},
        **extra,
    }


def names(result: dict[str, Any]) -> list[str]:
    return [event["event"] for event in result["timeline"]]


def at(result: dict[str, Any], event: str, **match: Any) -> datetime.datetime:
    for entry in result["timeline"]:
        if entry["event"] == event and all(entry.get(k) == v for k, v in match.items()):
            return datetime.datetime.fromisoformat(entry["time"])
    raise AssertionError(f"no {event} {match} in {names(result)}")


def rates(values: list[float]):
    """A route answering ``values`` in turn (the last one from then on)."""
    return lambda n, _form: (200, {"rate": values[min(n, len(values)) - 1]})


def test_a_healthy_analysis_check_real_and_idempotent(run_task, namespace, apps_v1, server) -> None:
    srv = server({"/rate": rates([0.0, 0.01, 0.0])})
    first = run_task("rollout", {"definition": deployment(namespace, replicas=3)})
    assert not first.get("failed"), first.get("msg")
    analysis = {
        "metrics": [web_metric(f"{srv.url}/rate", interval="1s", count=3, successCondition="result <= 0.05")]
    }
    args = {"definition": deployment(namespace, "registry.example/web:v2", replicas=3), "analysis": analysis}

    check = run_task("rollout", args, check=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    assert check["analysis"]["phase"] is None and check["analysis"]["measurements"] == []
    assert "nothing is measured in check mode" in check["analysis"]["message"]
    assert [p["name"] for p in check["analysis"]["planned"]] == ["error-rate"]
    assert srv.hits.get("/rate") is None  # check mode measures nothing
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]

    real = run_task("rollout", args)
    assert not real.get("failed"), real.get("msg")
    assert real["changed"] is True and real["rolled_back"] is False
    assert real["analysis"]["phase"] == "Successful"
    assert [m["value"] for m in real["analysis"]["measurements"]] == [0.0, 0.01, 0.0]
    assert srv.hits["/rate"] == 3
    order = names(real)
    # From the new revision's first available pod to the end: complete once the analysis is.
    first_pod = next(
        i for i, e in enumerate(real["timeline"]) if e["event"] == "replicas" and e["new"]["available"] >= 1
    )
    assert first_pod < order.index("analysis_started")
    assert all(e["new"]["available"] == 0 for e in real["timeline"][:first_pod] if e["event"] == "replicas")
    assert order.count("analysis_measured") == 3
    assert order.index("analysis_completed") < order.index("complete")
    assert at(real, "analysis_completed") <= at(real, "complete")
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.status.available_replicas == 3 and not live.spec.paused

    check_again = run_task("rollout", args, check=True)
    again = run_task("rollout", args)
    for result in (check_again, again):
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False
        assert result["analysis"] is None
    assert srv.hits["/rate"] == 3  # nothing to roll out: no analysis
    assert_documented("rollout", check, real, again)


def test_a_failed_analysis_fails_at_once_and_rolls_back(run_task, namespace, apps_v1, server) -> None:
    srv = server({"/rate": rates([0.0, 0.3])})
    first = run_task("rollout", {"definition": deployment(namespace, replicas=4)})
    assert not first.get("failed"), first.get("msg")
    analysis = {
        "metrics": [web_metric(f"{srv.url}/rate", interval="1s", count=10, successCondition="result <= 0.05")]
    }
    failed = run_task(
        "rollout",
        {"definition": deployment(namespace, "registry.example/web:v2", replicas=4), "analysis": analysis},
    )
    assert failed["failed"] is True
    assert failed["rolled_back"] is True
    assert failed["failure"]["reason"] == "AnalysisFailed"
    metric_message = 'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)'
    assert failed["msg"].startswith(
        f"rollout of Deployment {namespace}/web to revision 2 failed: AnalysisFailed: {metric_message}. "
        "Rolled back to the template of revision 1 (app=registry.example/web:v1), now revision 3: "
    )
    assert failed["analysis"]["phase"] == "Failed"
    assert failed["analysis"]["message"] == metric_message
    assert [m["phase"] for m in failed["analysis"]["measurements"]] == ["Successful", "Failed"]
    assert srv.hits["/rate"] == 2  # stopped at the failing measurement
    # Back on v1 at full capacity.
    assert images(apps_v1, namespace) == ["registry.example/web:v1"]
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.status.available_replicas == 4 and live.status.updated_replicas == 4
    order = names(failed)
    assert order.index("analysis_completed") < order.index("failed") < order.index("rollback_started")
    failing = at(failed, "analysis_measured", phase="Failed")
    rolled_back = (at(failed, "rolled_back") - failing).total_seconds()
    print(
        f"failing measurement -> rollback written: {(at(failed, 'rollback_started') - failing).total_seconds():.2f}s,"
        f" -> rolled back at 4/4: {rolled_back:.2f}s"
    )
    assert rolled_back < 30
    assert_documented("rollout", failed)


def test_inconclusive_pauses_and_the_same_task_again_goes_on(run_task, namespace, apps_v1, server) -> None:
    answers = {"rate": 0.5}
    srv = server({"/rate": lambda n, _f: (200, answers)})
    first = run_task("rollout", {"definition": deployment(namespace, replicas=3)})
    assert not first.get("failed"), first.get("msg")
    metric = web_metric(
        f"{srv.url}/rate",
        interval="1s",
        count=2,
        successCondition="result <= 0.05",
        failureCondition="result > 0.9",
    )
    args = {
        "definition": deployment(namespace, "registry.example/web:v2", replicas=3),
        "analysis": {"metrics": [metric]},
    }
    stopped = run_task("rollout", args)
    assert stopped["failed"] is True
    assert stopped["failure"]["reason"] == "AnalysisInconclusive"
    assert stopped["stopped_before"] == "complete" and stopped["rolled_back"] is False
    assert stopped["analysis"]["phase"] == "Inconclusive"
    assert "it is paused there (spec.paused), as Argo Rollouts pauses a Rollout" in stopped["msg"]
    assert "To go on, run this task again" in stopped["msg"]
    assert (
        f"kubectl rollout resume deployment/web -n {namespace}, then kubectl rollout undo" in stopped["msg"]
    )
    assert names(stopped)[-1] == "paused"
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.paused is True
    state = json.loads(live.metadata.annotations["openrollout.k8s/rollout"])
    assert state["next"] == "complete" and state["paused"] == "analysis"

    answers["rate"] = 0.0  # the person looked, and it is fine now
    again = run_task("rollout", args)
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is True and again["resumed_from"] == "complete"
    assert again["analysis"]["phase"] == "Successful"
    assert "resumed_by_module" in names(again)
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert not live.spec.paused
    assert "openrollout.k8s/rollout" not in (live.metadata.annotations or {})
    assert images(apps_v1, namespace) == ["registry.example/web:v2"]
    assert live.status.available_replicas == 3
    assert_documented("rollout", stopped, again)


def test_a_template_file_found_as_ansible_finds_files_with_a_secret_argument(
    run_task,
    namespace,
    core_v1,
    apps_v1,
    server,
    tmp_path: Path,
) -> None:
    from kubernetes import client

    seen: list[str] = []

    def checked(n: int, form: dict) -> Any:
        seen.extend(form.get("t") or [])
        return 200, {"rate": 0.0}

    srv = server({"/rate": checked})
    core_v1.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"token": "s3cr3tv4lue"}),
    )
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "error-rate"},
        "spec": {
            "args": [
                {"name": "base"},
                {"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            ],
            # Measured until stopped: stopped when the Deployment is complete.
            "metrics": [
                web_metric(
                    "{{args.base}}/rate?t={{args.token}}", interval="1s", successCondition="result <= 0.05"
                )
            ],
        },
    }
    path = tmp_path / "error-rate.yaml"
    path.write_text(yaml.safe_dump(template))
    first = run_task("rollout", {"definition": deployment(namespace, replicas=2)})
    assert not first.get("failed"), first.get("msg")
    args = {
        "definition": deployment(namespace, "registry.example/web:v2", replicas=2),
        "analysis": {"src": str(path), "args": {"base": srv.url}},
    }
    result = run_task("rollout", args)
    assert not result.get("failed"), result.get("msg")
    assert result["analysis"]["phase"] == "Successful"
    assert result["analysis"]["terminated"] is True  # stopped at the rollout's end
    assert seen and set(seen) == {"s3cr3tv4lue"}  # the provider got the Secret's value...
    assert "s3cr3tv4lue" not in json.dumps(result)  # ...which the result never shows
    assert "s3cr3tv4lue" not in result["_stdout"]

    missing = run_task("rollout", {**args, "analysis": {"src": "no-such-template.yaml"}})
    assert missing["failed"] is True
    assert missing["msg"].startswith("cannot find analysis.src no-such-template.yaml on the controller")


def test_bad_analysis_input_fails_before_anything_is_written(run_task, namespace, apps_v1) -> None:
    args = {"definition": deployment(namespace, replicas=2)}
    syntax = run_task(
        "rollout",
        {**args, "analysis": {"metrics": [web_metric("http://127.0.0.1:1/", successCondition="result >")]}},
    )
    assert syntax["failed"] is True
    assert syntax["msg"].startswith("invalid analysis: metrics[0].successCondition: ")
    no_wait = run_task("rollout", {**args, "wait": False, "analysis": {"metrics": [web_metric("http://x/")]}})
    assert no_wait["msg"] == "analysis needs wait=true: it runs while the module waits for the rollout"
    both = run_task("rollout", {**args, "analysis": {"metrics": [web_metric("http://x/")], "src": "a.yaml"}})
    assert both["failed"] is True and "mutually exclusive" in both["msg"]
    assert apps_v1.list_namespaced_deployment(namespace).items == []


# --- real pods, the cluster's Prometheus ----------------------------------------------------

ROLLING = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 120}}


def error_rate_analysis(namespace: str, version: str, prometheus: str) -> dict[str, Any]:
    """Argo's usual error-rate metric on the test app's testapp_requests_total (the version's 5xx
    share over 10 s), measured 4 times 3 s apart from 8 s after the first pod of ``version``: at
    100 requests a second and a 2 s scrape, its rate has samples by then."""
    selector = f'namespace="{namespace}",version="{version}"'
    query = (
        f'sum(rate(testapp_requests_total{{{selector},code=~"5.."}}[10s]))'
        f" / sum(rate(testapp_requests_total{{{selector}}}[10s]))"
    )
    return {
        "metrics": [
            {
                "name": "error-rate",
                "initialDelay": "8s",
                "interval": "3s",
                "count": 4,
                "failureCondition": "len(result) > 0 && result[0] > 0.1",
                "provider": {"prometheus": {"address": prometheus, "query": query}},
            }
        ]
    }


@pytest.mark.usefixtures("real_node")
def test_an_analysis_on_prometheus_rolls_a_failing_version_back_under_load(
    run_task, namespace, core_v1, apps_v1
):
    """v1 under load; v2 answers 30% of requests with 500 (ERROR_RATE=0.3): the analysis on the
    cluster's real Prometheus fails it, the module rolls back to v1 at 3/3 on its own; then a
    healthy v3 passes the same analysis and is promoted. Every request is answered throughout,
    the only errors being v2's own 500s."""
    from _realnode import Load, app_container, app_deployment, app_service, prometheus_url

    prometheus = prometheus_url()

    def version(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        return app_deployment(
            namespace, name, 3, container=app_container(name, env=env), labels={"version": name}, scrape=True
        )

    first = run_task("rollout", {"definition": version("v1"), "strategy": ROLLING})
    assert not first.get("failed"), first.get("msg")
    ip = app_service(core_v1, namespace)
    with Load(f"http://{ip}/", interval="10ms") as load:
        bad = run_task(
            "rollout",
            {
                "definition": version("v2", {"ERROR_RATE": "0.3"}),
                "strategy": ROLLING,
                "analysis": error_rate_analysis(namespace, "v2", prometheus),
            },
        )
        good = run_task(
            "rollout",
            {
                "definition": version("v3"),
                "strategy": ROLLING,
                "analysis": error_rate_analysis(namespace, "v3", prometheus),
            },
        )
        summary = load.stop()

    assert bad["failed"] is True and bad["rolled_back"] is True, bad.get("msg")
    assert bad["failure"]["reason"] == "AnalysisFailed"
    assert 'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)' in bad["msg"]
    failing = bad["analysis"]["measurements"][-1]
    assert failing["phase"] == "Failed" and 0.2 <= failing["value"][0] <= 0.4, failing
    assert (
        "Rolled back to the template of revision 1 (app=registry.openrollout.test/openrollout/testapp:v1)"
        in (bad["msg"])
    )
    measured = at(bad, "analysis_measured", phase="Failed")
    to_rollback = (at(bad, "rolled_back") - measured).total_seconds()
    from_start = (measured - at(bad, "analysis_started")).total_seconds()

    assert not good.get("failed"), good.get("msg")
    assert good["analysis"]["phase"] == "Successful"
    assert [m["value"][0] for m in good["analysis"]["measurements"]] == [0.0] * 4
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.template.spec.containers[0].image.endswith("testapp:v3")
    assert live.status.available_replicas == 3 and not live.spec.paused
    # Served throughout: no connection failed, the only errors were v2's own 500s.
    errors = [point for point in summary["timeline"] if point[1] != "ok"]
    assert set(summary["errors"]) <= {"http_500"}, summary["errors"]
    assert all(point[2] == "v2" for point in errors), errors[:20]
    assert summary["timeline"][-1][2] == "v3"
    print(
        f"v2: analysis started -> failing measurement {from_start:.1f}s, failing measurement -> rolled back "
        f"at 3/3 {to_rollback:.1f}s; v3 promoted after {len(good['analysis']['measurements'])} measurements; "
        f"load {summary['by_version']}, {summary['failed']} of {summary['sent']} answered 500"
    )
    assert to_rollback < 60
