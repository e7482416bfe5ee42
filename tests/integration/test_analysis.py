"""openrollout.k8s.analysis through ansible-playbook: providers against real endpoints.

- web: a tiny HTTP server this test starts on 127.0.0.1 (scripted answers per path; stopped to
  stop answering).
- prometheus: `FakePrometheus`, a fake Prometheus HTTP API on 127.0.0.1 (/api/v1/query answering
  a scripted vector or a parse error as Prometheus words it), for the module's own plumbing. The
  claims about real traffic are made on the local cluster's real Prometheus scraping real pods, in
  test_prometheus.py.
- kubernetes: a Deployment of KWOK pods, through rollout_info's reading.
- job: Jobs of KWOK pods; the pod annotation `openrollout.test/exit-code` makes one fail with
  that code and the label `openrollout.test/logs` gives it a log (see test_hooks.py).

Arguments in `{{args.x}}` are written in files given as `src`: a template written in a playbook
would be templated by Ansible first (the module's documentation says to mark it `!unsafe`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from test_return_docs import assert_documented
from test_rollout import deployment

Answer = tuple[int, Any]


class TinyServer:
    """An HTTP server on 127.0.0.1: ``routes`` maps a path to a function of the request number
    (from 1) and the request's form (for POSTs), giving (status, JSON body)."""

    def __init__(self, routes: dict[str, Callable[[int, dict[str, list[str]]], Answer]]) -> None:
        self.routes = routes
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, form: dict[str, list[str]]) -> None:
                path = urlparse(self.path).path
                server.hits[path] = server.hits.get(path, 0) + 1
                route = server.routes.get(path)
                status, body = route(server.hits[path], form) if route else (404, {"error": "no route"})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(parse_qs(urlparse(self.path).query))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(parse_qs(self.rfile.read(length).decode()))

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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


def web(url: str, **extra: Any) -> dict:
    return {"web": {"url": url, "timeoutSeconds": 2, **extra}}


def phases(result: dict) -> list[str]:
    return [m["phase"] for m in result["measurements"]]


def test_web_success_then_failure_after_failure_limit(run_task, server) -> None:
    rates = [0.99, 0.98, 0.97]
    ok = server({"/rate": lambda n, _f: (200, {"data": {"rate": rates[n - 1]}})})
    metrics = [
        {
            "name": "rate",
            "interval": "1s",
            "count": 3,
            "successCondition": "result >= 0.95",
            "provider": web(f"{ok.url}/rate", jsonPath="{$.data.rate}"),
        }
    ]
    started = time.monotonic()
    result = run_task("analysis", {"metrics": metrics})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["phase"] == "Successful"
    assert [m["value"] for m in result["measurements"]] == rates
    assert result["message"] == "1 of 1 metric(s) Successful"
    assert time.monotonic() - started >= 2  # three measurements, 1 s apart
    assert_documented("analysis", result)

    bad = server({"/rate": lambda n, _f: (200, {"data": {"rate": 0.5 if n > 1 else 0.99}})})
    metrics[0].update(count=5, failureLimit=1, provider=web(f"{bad.url}/rate", jsonPath="{$.data.rate}"))
    failed = run_task("analysis", {"metrics": metrics})
    assert failed["failed"] is True
    assert failed["phase"] == "Failed"
    assert phases(failed) == ["Successful", "Failed", "Failed"]
    assert (
        failed["msg"] == 'analysis Failed: Metric "rate" assessed Failed due to failed (2) > failureLimit (1)'
    )
    assert failed["decided_by"] == "rate"
    assert_documented("analysis", failed)


def test_web_error_after_consecutive_error_limit_when_it_stops_answering(run_task, server) -> None:
    up = server({"/health": lambda n, _f: (200, {"status": "ok"})})

    # The first answer stops the server: every later measurement finds nothing listening.
    def first_then_down(n: int, _f: Any) -> Answer:
        threading.Thread(target=up.stop, daemon=True).start()
        return 200, {"status": "ok"}

    up.routes["/health"] = first_then_down
    metrics = [
        {
            "name": "health",
            "interval": "1s",
            "count": 4,
            "consecutiveErrorLimit": 1,
            "successCondition": "result == 'ok'",
            "provider": web(f"{up.url}/health", jsonPath="{$.status}"),
        }
    ]
    result = run_task("analysis", {"metrics": metrics})
    assert result["failed"] is True
    assert result["phase"] == "Error"
    assert phases(result) == ["Successful", "Error", "Error"]
    assert "Connection refused" in result["measurements"][1]["message"]
    assert result["msg"].startswith(
        'analysis Error: Metric "health" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1): '
        f'"Error Message: GET {up.url}/health: '
    )


def test_web_json_path_not_found_and_inconclusive(run_task, server) -> None:
    srv = server({"/v": lambda n, _f: (200, {"value": 5})})
    missing = run_task(
        "analysis",
        {
            "metrics": [
                {
                    "name": "v",
                    "consecutiveErrorLimit": 0,
                    "provider": web(f"{srv.url}/v", jsonPath="{$.nope}"),
                }
            ]
        },
    )
    assert missing["phase"] == "Error"
    assert (
        missing["measurements"][0]["message"]
        == "Could not find JSONPath in body: {$.nope}: nope is not found"
    )
    both = {"successCondition": "result > 10", "failureCondition": "result < 0"}
    args = {"metrics": [{"name": "v", **both, "provider": web(f"{srv.url}/v", jsonPath="{$.value}")}]}
    inconclusive = run_task("analysis", args)
    assert inconclusive["failed"] is True and inconclusive["phase"] == "Inconclusive"
    assert "accept_inconclusive=true" in inconclusive["msg"]
    accepted = run_task("analysis", {**args, "accept_inconclusive": True})
    assert not accepted.get("failed") and accepted["phase"] == "Inconclusive"


def test_template_file_with_args_secret_and_dry_run(
    run_task, server, namespace, core_v1, tmp_path: Path
) -> None:
    from kubernetes import client

    seen: list[str] = []

    def check(n: int, form: dict) -> Answer:
        return 200, {"ok": True}

    srv = server({"/ok": check, "/shadow": lambda n, _f: (200, {"ok": False})})
    core_v1.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"token": "t0ps3cret"}),
    )
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "checks"},
        "spec": {
            "args": [
                {"name": "base"},
                {"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            ],
            "metrics": [
                {
                    "name": "ok",
                    "successCondition": "result == true",
                    "provider": {
                        "web": {
                            "url": "{{args.base}}/ok",
                            "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}],
                            "jsonPath": "{$.ok}",
                        }
                    },
                },
                {
                    "name": "shadow",
                    "successCondition": "result == true",
                    "provider": {
                        "web": {"url": "{{ args.base }}/shadow?t={{args.token}}", "jsonPath": "{$.ok}"}
                    },
                },
            ],
        },
    }
    path = tmp_path / "checks.yaml"
    path.write_text(yaml.safe_dump(template))
    args = {
        "src": str(path),
        "namespace": namespace,
        "args": {"base": srv.url},
        "dry_run_metrics": ["shadow"],
    }
    result = run_task("analysis", args)
    assert not result.get("failed"), result.get("msg")
    assert result["phase"] == "Successful"
    assert phases(result) == ["Successful", "Failed"]
    assert result["dry_run_summary"]["failed"] == 1
    assert "dry-run, not deciding" in result["message"]
    assert "t0ps3cret" not in json.dumps(result)

    check_mode = run_task("analysis", args, check=True)
    assert check_mode["changed"] is False
    assert "measurements" not in check_mode
    planned = {p["name"]: p for p in check_mode["planned"]}
    assert planned["ok"]["config"]["headers"] == [{"key": "Authorization", "value": "Bearer *****"}]
    assert planned["shadow"]["dry_run"] is True
    assert "t0ps3cret" not in json.dumps(check_mode)
    assert_documented("analysis", result, check_mode)
    del seen


def test_condition_syntax_error_names_the_column(run_task, server) -> None:
    metrics = [{"name": "rate", "successCondition": "result[0] >= ", "provider": web("http://127.0.0.1:1/")}]
    result = run_task("analysis", {"metrics": metrics})
    assert result["failed"] is True
    assert result["msg"].startswith("invalid analysis: metrics[0].successCondition: ")
    assert "at column 14" in result["msg"]
    unsupported = run_task("analysis", {"metrics": [{"name": "d", "provider": {"datadog": {"query": "x"}}}]})
    assert "datadog is an Argo Rollouts provider that openrollout.k8s does not support" in unsupported["msg"]


def test_kubernetes_provider_on_a_deployment(run_task, namespace) -> None:
    rolled = run_task("rollout", {"definition": deployment(namespace, replicas=2)})
    assert not rolled.get("failed"), rolled.get("msg")
    metrics = [
        {
            "name": "done",
            "successCondition": "result == true",
            "provider": {"kubernetes": {"kind": "Deployment", "name": "web", "query": "status.done"}},
        },
        {
            "name": "revision",
            "successCondition": "result == 1",
            "provider": {"kubernetes": {"name": "web", "namespace": namespace, "query": "current_revision"}},
        },
    ]
    result = run_task("analysis", {"metrics": metrics, "namespace": namespace})
    assert not result.get("failed"), result.get("msg")
    assert [m["value"] for m in result["measurements"]] == [True, 1]
    assert result["changed"] is False

    missing = run_task(
        "analysis",
        {
            "namespace": namespace,
            "metrics": [
                {
                    "name": "x",
                    "consecutiveErrorLimit": 0,
                    "provider": {"kubernetes": {"name": "nope", "query": "status"}},
                }
            ],
        },
    )
    assert missing["phase"] == "Error"
    assert f"Deployment {namespace}/nope not found" in missing["measurements"][0]["message"]


def job_metric(name: str, exit_code: int = 0, logs: str = "") -> dict:
    pod_metadata: dict[str, Any] = {"annotations": {"openrollout.test/exit-code": str(exit_code)}}
    if logs:
        pod_metadata["labels"] = {"openrollout.test/logs": logs}
    return {
        "name": name,
        "provider": {
            "job": {
                "metadata": {"labels": {"team": "shop"}},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": pod_metadata,
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "check", "image": "registry.example/check:1"}],
                        },
                    },
                },
            }
        },
    }


def test_job_provider_complete_and_failed(run_task, namespace, batch_v1) -> None:
    ok = run_task("analysis", {"metrics": [job_metric("smoke")], "namespace": namespace})
    assert not ok.get("failed"), ok.get("msg")
    assert ok["changed"] is True
    assert ok["phase"] == "Successful"
    [name] = ok["jobs"]
    job = batch_v1.read_namespaced_job(name, namespace)
    assert job.metadata.labels["openrollout.k8s/metric"] == "smoke"
    assert job.metadata.labels["team"] == "shop"
    assert ok["measurements"][0]["value"]["exit_code"] == 0
    assert_documented("analysis", ok)

    failed = run_task("analysis", {"metrics": [job_metric("smoke", 3, "hook-fail")], "namespace": namespace})
    assert failed["failed"] is True and failed["changed"] is True
    assert failed["phase"] == "Failed"
    message = failed["measurements"][0]["message"]
    assert message.startswith(f"job {failed['jobs'][0]} failed with exit code 3")
    assert 'Metric "smoke" assessed Failed due to failed (1) > failureLimit (0)' in failed["msg"]

    # Check mode creates nothing and says a Job would run.
    before = {j.metadata.name for j in batch_v1.list_namespaced_job(namespace).items}
    planned = run_task("analysis", {"metrics": [job_metric("smoke")], "namespace": namespace}, check=True)
    assert planned["changed"] is True and planned["planned"][0]["provider"] == "job"
    assert {j.metadata.name for j in batch_v1.list_namespaced_job(namespace).items} == before


def test_job_dry_run_failing_does_not_fail_the_analysis(run_task, namespace) -> None:
    result = run_task(
        "analysis",
        {
            "metrics": [job_metric("smoke"), job_metric("shadow", 2)],
            "dry_run_metrics": ["shadow"],
            "namespace": namespace,
        },
    )
    assert not result.get("failed"), result.get("msg")
    assert result["phase"] == "Successful"
    assert sorted(phases(result)) == ["Failed", "Successful"]
    assert result["dry_run_summary"] == {
        "count": 1,
        "successful": 0,
        "failed": 1,
        "inconclusive": 0,
        "error": 0,
    }


class FakePrometheus(TinyServer):
    """A FAKE Prometheus (its /api/v1/query only; the real one is test_prometheus.py's):
    `error_rate` is the answer to any query with 'errors' in it, the success rate to the others;
    a query with unbalanced brackets gets Prometheus' bad_data answer."""

    def __init__(self, error_rate: float) -> None:
        def query(_n: int, form: dict[str, list[str]]) -> Answer:
            text = form.get("query", [""])[0]
            if text.count("(") != text.count(")"):
                return 400, {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": f'invalid parameter "query": 1:{len(text) + 1}: parse error: unclosed left parenthesis',
                }
            value = error_rate if "errors" in text else 1 - error_rate
            sample = {"metric": {"app": "web"}, "value": [time.time(), str(value)]}
            return 200, {"status": "success", "data": {"resultType": "vector", "result": [sample]}}

        super().__init__({"/api/v1/query": query})


def test_prometheus_provider_against_a_fake_prometheus(run_task, tmp_path: Path) -> None:
    prometheus = FakePrometheus(error_rate=0.3)
    try:
        template = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "error-rate"},
            "spec": {
                "args": [{"name": "app"}, {"name": "address"}],
                "metrics": [
                    {
                        "name": "error-rate",
                        "successCondition": "len(result) == 0 || result[0] <= 0.05",
                        "provider": {
                            "prometheus": {
                                "address": "{{args.address}}",
                                "query": 'sum(rate(http_requests_errors_total{app="{{args.app}}"}[1m]))',
                            }
                        },
                    }
                ],
            },
        }
        path = tmp_path / "error-rate.yaml"
        path.write_text(yaml.safe_dump(template))
        args = {"src": str(path), "args": {"app": "web", "address": prometheus.url}}
        failed = run_task("analysis", args)
        assert failed["phase"] == "Failed"
        assert failed["measurements"][0]["value"] == [0.3]
        assert 'Metric "error-rate" assessed Failed' in failed["msg"]

        template["spec"]["metrics"][0]["provider"]["prometheus"]["query"] = "sum(rate(x[1m])"
        template["spec"]["metrics"][0]["consecutiveErrorLimit"] = 0
        path.write_text(yaml.safe_dump(template))
        broken = run_task("analysis", args)
        assert broken["phase"] == "Error"
        assert broken["measurements"][0]["message"] == (
            "Prometheus query 'sum(rate(x[1m])' failed: bad_data: invalid parameter \"query\": "
            "1:16: parse error: unclosed left parenthesis"
        )
    finally:
        prometheus.stop()


def test_argo_template_inline_as_unsafe_text_in_a_playbook(cluster, tmp_path: Path) -> None:
    """The module's first example: Argo's success-rate template (docs/features/analysis.md) pasted in
    a playbook as `!unsafe` text, so Ansible leaves its {{args.service-name}} alone. Only the
    address is the fake Prometheus'."""
    from _ansible import ANSIBLE_PLAYBOOK, _environment

    queries: list[str] = []
    prometheus = FakePrometheus(error_rate=0.01)
    answer = prometheus.routes["/api/v1/query"]

    def recording(n: int, form: dict[str, list[str]]) -> Answer:
        queries.append(form["query"][0])
        return answer(n, form)

    prometheus.routes["/api/v1/query"] = recording
    module = __import__("ansible_collections.openrollout.k8s.plugins.modules.analysis", fromlist=["EXAMPLES"])
    example = yaml.safe_load(module.EXAMPLES.replace("!unsafe ", ""))[0]["openrollout.k8s.analysis"]
    template = example["template"].replace("http://prometheus.example.com:9090", prometheus.url)
    indented = "\n".join("          " + line for line in template.splitlines())
    playbook = tmp_path / "play.yml"
    result_file = tmp_path / "result.json"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - openrollout.k8s.analysis:
        kubeconfig: {cluster.kubeconfig}
        args: {{service-name: web-canary.shop.svc.cluster.local}}
        duration: 1s
        template: !unsafe |
{indented}
      register: analysis
    - ansible.builtin.copy: {{content: "{{{{ analysis | to_json }}}}", dest: {result_file}}}
"""
    )
    try:
        completed = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=_environment(None),
        )
    finally:
        prometheus.stop()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(result_file.read_text())
    assert result["phase"] == "Successful" and result["terminated"] is True
    assert result["measurements"][0]["value"] == [0.99]
    assert 'destination_service=~"web-canary.shop.svc.cluster.local"' in queries[0]
