"""Analyses in the canary and blue_green roles (issue #18, items 2b and 2c), through ansible-playbook.

The metrics use the `web` provider against a tiny HTTP server this test starts on 127.0.0.1
(test_analysis.TinyServer), or the `kubernetes` provider. Each answer of the server also records the
cluster as it is at that moment (the Deployments' replicas, the Services' selectors), so the tests
check what the analysis saw: the canary held at its share, the preview on the new colour with the
Service still on the old one, the Service on the new colour with the old one still running. The
Deployments are real, their pods KWOK's.

The last test is all real: the test app on the real node, under load, and the cluster's Prometheus.
A v2 answering 30% of its requests with a 500 goes live on green; the post-promotion analysis finds
its error ratio on Prometheus and the role switches the Service back to blue, without a request lost.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Callable

import pytest
import yaml
from _realnode import Load, app_container, app_deployment, app_service, failed_requests, served_versions
from kubernetes import client
from test_analysis import TinyServer
from test_canary_gateway import run_role, stable, track_pods
from test_prometheus import error_rate_metric
from test_rollout import assert_ok

V1 = "registry.example/web:v1"
V2 = "registry.example/web:v2"
COLOR = "openrollout.k8s/color"


def rate_metric(url: str, count: int = 2, **extra: Any) -> dict[str, Any]:
    """A success rate read from ``url`` every second, ``count`` times; below 0.95 fails at once."""
    return {
        "name": "rate",
        "interval": "1s",
        "count": count,
        "failureLimit": 0,
        "successCondition": "result >= 0.95",
        "provider": {"web": {"url": url, "jsonPath": "{$.rate}", "timeoutSeconds": 5}},
        **extra,
    }


class Recorder:
    """Routes for a TinyServer answering a rate, each answer noting ``observe()`` at that moment."""

    def __init__(self, observe: Callable[[], Any]) -> None:
        self.observe = observe
        self.seen: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    def route(self, path: str, rate: float) -> Callable[[int, dict], tuple[int, Any]]:
        def answer(_number: int, form: dict) -> tuple[int, Any]:
            state = self.observe()
            if form:  # the query's parameters, when there are any
                state = {"query": {key: values[0] for key, values in form.items()}, **state}
            with self.lock:
                self.seen.setdefault(path, []).append(state)
            return 200, {"rate": rate}

        return answer


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- canary -------------------------------------------------------------------------------------


def test_canary_analysis_steps_hold_the_weight_and_a_failed_one_aborts(
    run_task, cluster, namespace, apps_v1, tmp_path
) -> None:
    assert_ok(run_task("rollout", {"definition": stable(namespace)}), True)
    recorder = Recorder(lambda: track_pods(apps_v1, namespace))
    server = TinyServer({"/ok": recorder.route("/ok", 0.99), "/bad": recorder.route("/bad", 0.5)})
    try:
        rc, result, output = run_role(
            cluster.kubeconfig,
            tmp_path,
            {
                "canary_name": "web",
                "canary_namespace": namespace,
                "canary_images": {"web": V2},
                "canary_timeout_seconds": 60,
                "canary_steps": [
                    25,
                    {"analysis": {"metrics": [rate_metric(f"{server.url}/ok")]}},
                    50,
                    {"analysis": {"metrics": [rate_metric(f"{server.url}/bad")]}},
                    100,
                ],
            },
        )
    finally:
        server.stop()
    assert rc != 0, output[-3000:]
    # each analysis ran with the canary held at the share of the step before it: 1 of 4, then 2 of 4
    assert recorder.seen["/ok"] == [{"web": (3, V1), "web-canary": (1, V2)}] * 2
    assert recorder.seen["/bad"] == [{"web": (2, V1), "web-canary": (2, V2)}]
    failed = 'analysis Failed: Metric "rate" assessed Failed due to failed (1) > failureLimit (0).'
    assert (
        f"openrollout.k8s.canary: {namespace}/web: Run the analysis of step 3 failed at 50% canary: {failed}"
        " Aborted: web-canary is at 0 replicas and web at 4." in " ".join(output.split())
    )
    assert result["aborted"] is True and result["weight"] == 50
    assert result["msg"] == failed
    assert [(a["step"], a["weight"], a["phase"], a["decided_by"]) for a in result["analyses"]] == [
        (1, 25, "Successful", None),
        (3, 50, "Failed", "rate"),
    ]
    assert track_pods(apps_v1, namespace) == {"web": (4, V1), "web-canary": (0, V2)}


def available(pods: int) -> dict[str, Any]:
    """The canary has ``pods`` available pods, by the kubernetes provider (rollout_info's record)."""
    return {
        "analysis": {
            "metrics": [
                {
                    "name": "canary-available",
                    "successCondition": f"result == {pods}",
                    "provider": {"kubernetes": {"name": "web-canary", "query": "status.replicas.available"}},
                }
            ]
        }
    }


def test_canary_analysis_with_the_kubernetes_provider_resumed_then_promoted(
    run_task, cluster, namespace, apps_v1, tmp_path
) -> None:
    assert_ok(run_task("rollout", {"definition": stable(namespace)}), True)
    role_vars = {
        "canary_name": "web",
        "canary_namespace": namespace,
        "canary_images": {"web": V2},
        "canary_timeout_seconds": 60,
    }
    rc, result, output = run_role(
        cluster.kubeconfig,
        tmp_path,
        {**role_vars, "canary_steps": [25, available(1), 50], "canary_promote": False},
    )
    assert rc == 0, output[-3000:]
    assert [(a["weight"], a["phase"]) for a in result["analyses"]] == [(25, "Successful")]
    assert track_pods(apps_v1, namespace) == {"web": (2, V1), "web-canary": (2, V2)}

    # Resumed with more steps: the canary is past the first analysis (it would fail now, with 2
    # canary pods), which does not run again; the second one runs at 50%, then the promote.
    steps = [25, available(1), 50, available(2), 100]
    rc, result, output = run_role(cluster.kubeconfig, tmp_path, {**role_vars, "canary_steps": steps})
    assert rc == 0, output[-3000:]
    assert [(a["step"], a["weight"], a["phase"]) for a in result["analyses"]] == [(3, 50, "Successful")]
    assert result["steps"] == [100]
    assert track_pods(apps_v1, namespace) == {"web": (4, V2), "web-canary": (0, V2)}

    # promoted: a third run changes nothing and runs no analysis
    rc, again, output = run_role(cluster.kubeconfig, tmp_path, {**role_vars, "canary_steps": steps})
    assert rc == 0, output[-3000:]
    assert again["already_promoted"] is True and again["analyses"] == []


def test_canary_analysis_with_an_error_fails_before_anything_changes(
    run_task, cluster, namespace, apps_v1, tmp_path
) -> None:
    assert_ok(run_task("rollout", {"definition": stable(namespace)}), True)
    bad = {"name": "x", "successCondition": "result >=", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}
    rc, _result, output = run_role(
        cluster.kubeconfig,
        tmp_path,
        {
            "canary_name": "web",
            "canary_namespace": namespace,
            "canary_images": {"web": V2},
            "canary_steps": [25, {"analysis": {"metrics": [bad]}}, 100],
        },
    )
    assert rc != 0
    assert (
        "invalid analysis: metrics[0].successCondition: unexpected end of the expression: an operand is missing"
        " at column 10 in 'result >='" in output
    ), output[-3000:]
    assert "TASK [openrollout.k8s.canary : Check the analysis steps]" in output
    assert track_pods(apps_v1, namespace) == {"web": (4, V1)}


# --- blue_green ---------------------------------------------------------------------------------


def blue_green_app(run_task, cluster, namespace, core_v1, tmp_path) -> None:
    """Services web and web-preview over app=web, and web-blue v1 on 3 pods, live."""
    for name in ("web", "web-preview"):
        core_v1.create_namespaced_service(
            namespace,
            {
                "metadata": {"name": name},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    definition = stable(namespace)
    definition["spec"].update(replicas=3, selector={"matchLabels": {"app": "web"}})
    definition["spec"]["template"]["metadata"]["labels"] = {"app": "web"}
    rc, result, output = run_role(
        cluster.kubeconfig,
        tmp_path,
        {"blue_green_name": "web", "blue_green_namespace": namespace, "blue_green_definition": definition},
        role="blue_green",
    )
    assert rc == 0, output[-3000:]
    assert result["live_color"] == "blue"


def cluster_state(apps_v1: client.AppsV1Api, core_v1: client.CoreV1Api, namespace: str) -> dict[str, Any]:
    services = {
        s.metadata.name: (s.spec.selector or {}).get(COLOR, "")
        for s in core_v1.list_namespaced_service(namespace).items
    }
    return {"services": services, "pods": {k: v[0] for k, v in track_pods(apps_v1, namespace).items()}}


def test_blue_green_pre_promotion_analysis_on_the_preview_fails_and_nothing_switches(
    run_task, cluster, namespace, core_v1, apps_v1, tmp_path
) -> None:
    blue_green_app(run_task, cluster, namespace, core_v1, tmp_path)
    recorder = Recorder(lambda: cluster_state(apps_v1, core_v1, namespace))
    server = TinyServer({"/bad": recorder.route("/bad", 0.5)})
    # An AnalysisTemplate in a file next to the playbook (src relative to it), with an argument
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "preview-rate"},
        "spec": {
            "args": [{"name": "color"}],
            "metrics": [rate_metric(server.url + "/bad?color={{args.color}}")],
        },
    }
    (tmp_path / "preview-rate.yaml").write_text(yaml.safe_dump(template))
    try:
        rc, result, output = run_role(
            cluster.kubeconfig,
            tmp_path,
            {
                "blue_green_name": "web",
                "blue_green_namespace": namespace,
                "blue_green_images": {"web": V2},
                "blue_green_preview_service": "web-preview",
                "blue_green_scale_down_delay": 0,
                # its arguments may use the new colour
                "blue_green_pre_promotion_analysis": {
                    "src": "preview-rate.yaml",
                    "args": {"color": "{{ blue_green_new_color }}"},
                },
            },
            role="blue_green",
        )
    finally:
        server.stop()
    assert rc != 0, output[-3000:]
    assert "/bad" in recorder.seen, output[-3000:]
    # measured on the preview (green, 3 pods) with the Service still on blue
    assert recorder.seen["/bad"] == [
        {
            "query": {"color": "green"},
            "services": {"web": "blue", "web-preview": "green"},
            "pods": {"web-blue": 3, "web-green": 3},
        }
    ]
    failed = 'analysis Failed: Metric "rate" assessed Failed due to failed (1) > failureLimit (0).'
    assert (
        f"openrollout.k8s.blue_green: {namespace}/web: Analysis: pre-promotion on web-green failed: {failed}"
        " Nothing switched: Service web still selects blue. web-green is back at 0 replicas."
        in " ".join(output.split())
    )
    assert result["failed"] and not result["switched"] and not result["switched_back"]
    assert result["pre_promotion_analysis"]["phase"] == "Failed"
    assert result["post_promotion_analysis"] == {}
    assert cluster_state(apps_v1, core_v1, namespace) == {
        "services": {"web": "blue", "web-preview": "green"},
        "pods": {"web-blue": 3, "web-green": 0},
    }


def test_blue_green_post_promotion_analysis_fails_and_switches_back_at_once(
    run_task, cluster, namespace, core_v1, apps_v1, tmp_path
) -> None:
    blue_green_app(run_task, cluster, namespace, core_v1, tmp_path)
    recorder = Recorder(lambda: cluster_state(apps_v1, core_v1, namespace))
    # good twice, then bad: the analysis fails at its third measurement
    rates = [0.99, 0.99, 0.5]
    server = TinyServer({"/rate": lambda n, f: recorder.route("/rate", rates[min(n, 3) - 1])(n, f)})
    try:
        rc, result, output = run_role(
            cluster.kubeconfig,
            tmp_path,
            {
                "blue_green_name": "web",
                "blue_green_namespace": namespace,
                "blue_green_images": {"web": V2},
                "blue_green_scale_down_delay": 0,
                "blue_green_abort_scale_down_delay": -1,  # the new colour keeps its pods, to look into
                "blue_green_post_promotion_analysis": {
                    "metrics": [rate_metric(f"{server.url}/rate", count=5)]
                },
            },
            role="blue_green",
        )
    finally:
        server.stop()
    assert rc != 0, output[-3000:]
    # measured with the Service on green and blue still running (its 3 pods), even with a delay of 0
    assert (
        recorder.seen["/rate"]
        == [{"services": {"web": "green", "web-preview": ""}, "pods": {"web-blue": 3, "web-green": 3}}] * 3
    )
    failed = 'analysis Failed: Metric "rate" assessed Failed due to failed (1) > failureLimit (0).'
    assert (
        f"openrollout.k8s.blue_green: {namespace}/web: Analysis: post-promotion on web-green failed: {failed}"
        " Switched back: Service web selects blue again. web-green keeps its pods."
        in " ".join(output.split())
    )
    assert result["switched"] and result["switched_back"] and result["live_color"] == "blue"
    post = result["post_promotion_analysis"]
    assert post["phase"] == "Failed" and post["decided_by"] == "rate"
    assert [m["successful"] for m in post["metrics"]] == [2]
    # the switch back came right after the analysis failed: one write of the selector
    back = (when(result["switched_back_at"]) - when(post["finished_at"])).total_seconds()
    print(f"switched back {back:.2f} s after the analysis failed")
    assert 0 <= back < 15
    assert cluster_state(apps_v1, core_v1, namespace) == {
        "services": {"web": "blue", "web-preview": ""},
        "pods": {"web-blue": 3, "web-green": 3},
    }


def test_blue_green_post_promotion_analysis_passes_and_the_old_colour_goes_after_it(
    run_task, cluster, namespace, core_v1, apps_v1, tmp_path
) -> None:
    blue_green_app(run_task, cluster, namespace, core_v1, tmp_path)
    recorder = Recorder(lambda: cluster_state(apps_v1, core_v1, namespace))
    server = TinyServer({"/ok": recorder.route("/ok", 0.99)})
    try:
        rc, result, output = run_role(
            cluster.kubeconfig,
            tmp_path,
            {
                "blue_green_name": "web",
                "blue_green_namespace": namespace,
                "blue_green_images": {"web": V2},
                "blue_green_scale_down_delay": 2,  # shorter than the analysis: the analysis is waited for
                "blue_green_post_promotion_analysis": {"metrics": [rate_metric(f"{server.url}/ok", count=4)]},
            },
            role="blue_green",
        )
    finally:
        server.stop()
    assert rc == 0, output[-3000:]
    assert len(recorder.seen["/ok"]) == 4
    assert all(seen["pods"]["web-blue"] == 3 for seen in recorder.seen["/ok"])
    post = result["post_promotion_analysis"]
    assert post["phase"] == "Successful"
    assert result["live_color"] == "green" and result["scaled_down"] == "blue" and not result["switched_back"]
    switched, finished, scaled = (
        when(result["switched_at"]),
        when(post["finished_at"]),
        when(result["scaled_down_at"]),
    )
    assert (finished - switched).total_seconds() >= 3  # 4 measurements 1 s apart
    assert scaled >= finished
    assert (scaled - switched).total_seconds() >= 2
    assert cluster_state(apps_v1, core_v1, namespace)["pods"] == {"web-blue": 0, "web-green": 3}


@pytest.mark.usefixtures("real_node")
def test_blue_green_post_promotion_analysis_on_prometheus_switches_back_under_load(
    cluster, namespace, core_v1, apps_v1, tmp_path
) -> None:
    ip = app_service(core_v1, namespace)
    common = {"blue_green_name": "web", "blue_green_namespace": namespace, "blue_green_scale_down_delay": 0}
    v1 = app_deployment(namespace, "v1", 2, scrape=True)
    rc, _result, output = run_role(
        cluster.kubeconfig, tmp_path, {**common, "blue_green_definition": v1}, role="blue_green"
    )
    assert rc == 0, output[-3000:]
    v2 = app_deployment(
        namespace, "v2", 2, container=app_container("v2", env={"ERROR_RATE": "0.3"}), scrape=True
    )
    # v2's error ratio over 20 s on Prometheus, 4 times 2 s apart from 6 s after the switch; 2 over 5% fail
    metric = error_rate_metric(namespace, "v2", name="error-rate", initialDelay="6s", count=4, failureLimit=1)
    with Load(f"http://{ip}/", limit="300s") as load:
        rc, result, output = run_role(
            cluster.kubeconfig,
            tmp_path,
            {
                **common,
                "blue_green_definition": v2,
                "blue_green_post_promotion_analysis": {"metrics": [metric]},
            },
            role="blue_green",
        )
        summary = load.stop()
    assert rc != 0, output[-3000:]
    post = result["post_promotion_analysis"]
    assert post["phase"] == "Failed" and post["decided_by"] == "error-rate", post
    assert post["message"] == 'Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)'
    assert result["switched"] and result["switched_back"] and result["live_color"] == "blue"
    back = (when(result["switched_back_at"]) - when(post["finished_at"])).total_seconds()
    analysed = (when(post["finished_at"]) - when(result["switched_at"])).total_seconds()
    print(f"analysis {analysed:.1f} s after the switch; switched back {back:.2f} s after it failed")
    # only v2's own 500s failed: no request was lost to the switch or the switch back
    assert set(summary["errors"]) == {"http_500"}, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2"}
    versions = [point[2] for point in summary["timeline"]]
    last_v2 = len(versions) - 1 - versions[::-1].index("v2")
    assert set(versions[last_v2 + 1 :]) == {"v1"}, "v2 answered after the switch back"
    assert core_v1.read_namespaced_service("web", namespace).spec.selector[COLOR] == "blue"
    assert {k: v[0] for k, v in track_pods(apps_v1, namespace).items()} == {"web-blue": 2, "web-green": 0}
