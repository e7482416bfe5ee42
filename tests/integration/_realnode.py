"""The real node of the local cluster (hack/cluster/node.sh): the test app's pods, and traffic to them.

Pods land on the real node only with `on_real_node()`'s toleration and node selector; their images
are the test app's (hack/cluster/go/testapp/README.md), pulled by containerd from the registry on
loopback. `Load` runs the test app's own load generator from this machine against a Service's
ClusterIP: kube-proxy's rules send each request to a pod's network namespace on the node's bridge,
a new connection each time, so a pod that stops serving is seen at once. Nothing leaves the machine.
The cluster's Prometheus (hack/cluster/prometheus.sh) scrapes the pods of `app_deployment(scrape=True)`:
`prometheus_url()` is its address, `prometheus_query()` asks its HTTP API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTAPP = "registry.openrollout.test/openrollout/testapp"
NODE_SELECTOR = {"openrollout.k8s/node": "real"}
TOLERATION = {"key": "openrollout.k8s/real-node", "operator": "Exists", "effect": "NoSchedule"}
APP_PORT = 8080
# What the cluster's Prometheus keeps (hack/cluster/prometheus.sh): pods of the real node with these.
SCRAPE_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": str(APP_PORT)}


def tools_dir() -> Path:
    out = subprocess.run(
        [str(REPO_ROOT / "hack" / "cluster" / "tools-path.sh")], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def on_real_node(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """``pod_spec`` with what it takes to run on the real node (and only there)."""
    return {**pod_spec, "nodeSelector": dict(NODE_SELECTOR), "tolerations": [dict(TOLERATION)]}


def app_container(
    version: str = "v1",
    *,
    image: str | None = None,
    drain: str = "3s",
    env: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The test app serving on 8080: ready by /readyz (probed every second), draining on SIGTERM.

    ``drain`` is how long a pod keeps answering after SIGTERM (its readiness already failing): the
    time kube-proxy needs to stop sending it new connections. Without it a Rolling update loses
    the requests that reach a pod between its SIGTERM and the endpoints' update.
    """
    variables = {"DRAIN": drain, **(env or {})}
    return {
        "name": "app",
        "image": image or f"{TESTAPP}:{version}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": APP_PORT, "name": "http"}],
        "env": [{"name": k, "value": v} for k, v in variables.items()],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": APP_PORT},
            "periodSeconds": 1,
            "failureThreshold": 1,
            "successThreshold": 1,
        },
        "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}},
        **extra,
    }


def app_deployment(
    namespace: str,
    version: str = "v1",
    replicas: int = 3,
    *,
    name: str = "web",
    container: dict[str, Any] | None = None,
    pod_spec: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    scrape: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    """A Deployment of the test app on the real node.

    ``labels`` are added to the pods' (not to the selector, which stays ``app: <name>``): a label a
    Service of several Deployments selects, or ``version``, which Prometheus keeps as a target label.
    ``scrape`` annotates the pods for the cluster's Prometheus, which then scrapes their /metrics.
    """
    metadata: dict[str, Any] = {"labels": {**(labels or {}), "app": name}}
    if scrape:
        metadata["annotations"] = dict(SCRAPE_ANNOTATIONS)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": metadata,
                "spec": on_real_node(
                    {
                        "containers": [container or app_container(version)],
                        "terminationGracePeriodSeconds": 15,
                        "enableServiceLinks": False,
                        **(pod_spec or {}),
                    }
                ),
            },
            **spec,
        },
    }


def app_service(
    core_v1: client.CoreV1Api, namespace: str, name: str = "web", selector: dict | None = None
) -> str:
    """A ClusterIP Service on port 80 in front of the app's pods; its ClusterIP."""
    created = core_v1.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": selector or {"app": name}, "ports": [{"port": 80, "targetPort": APP_PORT}]},
        },
    )
    return str(created.spec.cluster_ip)


def wait_serving(url: str, timeout: float = 30) -> None:
    """Until ``url`` answers 200: a new Service's ClusterIP works once kube-proxy has written its
    rules for the ready endpoints, which no API object tells. Bounded, short tries."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s: {exc}") from None
        time.sleep(0.1)


def served_versions(summary: dict[str, Any]) -> set[str]:
    return {v for v, n in (summary.get("by_version") or {}).items() if n}


class Load:
    """The test app's load generator against ``url``, from start() to stop(): its JSON summary.

    A new connection per request, one every ``interval``; bounded by ``limit`` (the generator's own
    duration cap) even if stop() is never called. It starts once ``url`` answers.
    """

    def __init__(self, url: str, interval: str = "20ms", limit: str = "240s") -> None:
        self.url, self.interval, self.limit = url, interval, limit
        self._out = Path(tempfile.mkdtemp(prefix="openrollout-load-")) / "summary.json"
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> Load:
        wait_serving(self.url)
        self._process = subprocess.Popen(
            [
                str(tools_dir() / "openrollout-testapp"),
                "load",
                "--url",
                self.url,
                "--interval",
                self.interval,
                "--duration",
                self.limit,
                "--out",
                str(self._out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self

    def running(self) -> bool:
        """Whether the generator still sends requests (it ends at its ``limit``)."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> dict[str, Any]:
        assert self._process is not None, "Load.stop() before start()"
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        _stdout, stderr = self._process.communicate(timeout=30)
        assert self._out.exists(), (
            f"the load generator wrote no summary (exit {self._process.returncode}): {stderr}"
        )
        summary = dict(json.loads(self._out.read_text()))
        _record(summary)
        return summary

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)


# Every load run's figures (not its timeline), one JSON line each: what docs/reliability.md quotes.
TRAFFIC_REPORT = REPO_ROOT / "build" / "test-results" / "real-pods-traffic.jsonl"


def _record(summary: dict[str, Any]) -> None:
    line = {k: summary.get(k) for k in ("sent", "ok", "failed", "by_version", "errors")}
    line["test"] = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    TRAFFIC_REPORT.parent.mkdir(parents=True, exist_ok=True)
    with TRAFFIC_REPORT.open("a") as out:
        out.write(json.dumps(line) + "\n")


def failed_requests(summary: dict[str, Any]) -> str:
    """The failures of a load run, readable in an assertion message."""
    fails = [point for point in summary.get("timeline", []) if point[1] != "ok"]
    return (
        f"{summary.get('failed')} of {summary.get('sent')} failed: {summary.get('errors')}; at {fails[:20]}"
    )


def prometheus_url() -> str:
    """The address of the local cluster's Prometheus (hack/cluster/README.md, "Prometheus"), from
    the state dir; a clear failure where the cluster was started without it."""
    state = Path(os.environ.get("CLUSTER_STATE_DIR", REPO_ROOT / ".cluster"))
    path = state / "prometheus-url"
    if not path.exists():
        raise RuntimeError(
            f"the local cluster runs no Prometheus ({path} is missing): it was started with "
            "CLUSTER_PROMETHEUS=0 or before Prometheus was added; restart it: hack/cluster/down.sh && hack/cluster/up.sh"
        )
    return path.read_text().strip()


def prometheus_query(query: str, url: str | None = None) -> list[dict[str, Any]]:
    """An instant query through Prometheus' HTTP API (/api/v1/query): its vector, as Prometheus
    returns it (``[{"metric": {...}, "value": [time, "0.3"]}]``). Raises on an error answer."""
    address = url or prometheus_url()
    params = urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(f"{address}/api/v1/query?{params}", timeout=5) as answer:
            body = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query {query!r}: {body.get('errorType')}: {body.get('error')}")
    return list(body["data"]["result"])


def prometheus_binary() -> Path:
    """The cluster's Prometheus executable (built by hack/cluster/build.sh), read from its running
    process, for a test that starts a Prometheus of its own."""
    state = Path(os.environ.get("CLUSTER_STATE_DIR", REPO_ROOT / ".cluster"))
    pid = (state / "pids" / "prometheus.pid").read_text().strip()
    return Path(os.readlink(f"/proc/{pid}/exe"))
