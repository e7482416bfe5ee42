"""Control-plane faults in the middle of a wait (issue 8, part 3), on a cluster of the tests' own.

Restarting kube-apiserver, etcd or kube-controller-manager would break everybody else's tests on
the shared `.cluster`, so this module starts its own control plane (`CLUSTER_STATE_DIR=<tmp>
hack/cluster/up.sh`, stopped with down.sh at the end) and restarts one component of it with
`hack/cluster/restart.sh`, which keeps the command line, ports and certificates.

Each rollout test: `web` at v1 (2 replicas), then `openrollout.k8s.rollout` to v2, whose pods are
Ready only 15 s after they start (the kwok `ready-after` annotation). Once the module waits (the
new ReplicaSet's pods exist), one component is restarted; the task must still succeed with the
right result (revision 2, every replica updated and available, nothing left of v1).
The watch test drives the client's wait directly and proves that a watch resumed from a
resourceVersion the new API server no longer has (410 Gone) leads to a new list.

FAULTS_TRIALS=n restarts each component n times, at moments spread over the wait. Run with
`make reliability-faults` (RELIABILITY_FAULTS=1; about 2 minutes on an idle 2-core machine,
3 under load); skipped in `make test`, whose time it would double. Figures go to
build/reliability/faults.jsonl and docs/reliability.md.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
from _ansible import run_task
from kubernetes import client, config, watch

from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    KubeClient,
    Resource,
    create_api_client,
    resolve_auth,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.faults,
    pytest.mark.skipif(
        os.environ.get("RELIABILITY_FAULTS") != "1",
        reason="control-plane faults start a cluster of their own: make reliability-faults (RELIABILITY_FAULTS=1)",
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = REPO_ROOT / "hack" / "cluster"
LOG = Path(os.environ.get("FAULTS_LOG", REPO_ROOT / "build" / "reliability" / "faults.jsonl"))
READY_AFTER = "15s"
CONFIG_MAPS = Resource("v1", "configmaps", "ConfigMap")


@dataclass
class OwnCluster:
    state: Path
    kubeconfig: Path
    env: dict[str, str]

    def restart(self, component: str, down: float = 0) -> float:
        """Restart one component (hack/cluster/restart.sh); the seconds until it serves again."""
        started = time.monotonic()
        done = subprocess.run(
            [str(CLUSTER_DIR / "restart.sh"), component, "--down", f"{down:g}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"restart.sh {component} failed:\n{done.stdout}\n{done.stderr}"
        return time.monotonic() - started

    def ports(self) -> dict[str, int]:
        pairs = (line.split("=", 1) for line in (self.state / "ports.env").read_text().split())
        return {key: int(value) for key, value in pairs}


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnCluster]:
    """A control plane of this module's own, stopped at the end; FAULTS_CLUSTER_STATE_DIR=<dir>
    keeps one between runs instead (started there if needed, never stopped: for debugging)."""
    keep = os.environ.get("FAULTS_CLUSTER_STATE_DIR")
    state = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="openrollout-faults-"))
    # KWOK nodes are enough for control-plane faults, and the real node is the shared cluster's (one per machine).
    env = {**os.environ, "CLUSTER_STATE_DIR": str(state), "CLUSTER_REAL_NODE": "0"}
    try:
        up = subprocess.run(
            [str(CLUSTER_DIR / "up.sh")], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        if up.returncode != 0:
            pytest.fail(f"up.sh for the faults cluster failed:\n{up.stdout}\n{up.stderr}", pytrace=False)
        yield OwnCluster(state, state / "kubeconfig", env)
    finally:
        if not keep:
            subprocess.run(
                [str(CLUSTER_DIR / "down.sh")], env=env, capture_output=True, timeout=120, check=False
            )


@pytest.fixture(scope="module")
def api(own_cluster: OwnCluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(own_cluster.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture
def own_namespace(request: pytest.FixtureRequest, api: client.ApiClient) -> str:
    """A namespace in the faults cluster (the whole cluster goes at the end, so it is not deleted)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[5:40].strip("-")
    name = f"faults-{slug}-{secrets.token_hex(3)}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_service_account, name, timeout_seconds=30):
        if event["object"].metadata.name == "default":
            w.stop()
    return name


def web(namespace: str, image: str, ready_after: str | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }
    if ready_after:
        template["metadata"]["annotations"] = {"openrollout.test/ready-after": ready_after}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


def wait_for_new_pods(api: client.ApiClient, namespace: str, image: str, timeout: float = 60) -> None:
    """Return once a pod of ``image`` exists: the module has applied v2 and is waiting."""
    core = client.CoreV1Api(api)
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_pod, namespace, timeout_seconds=int(timeout)):
        if event["object"].spec.containers[0].image == image:
            w.stop()
            return
    raise TimeoutError(f"no pod of {image} within {timeout}s")


def record(line: dict[str, Any]) -> None:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a") as out:
        out.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **line}) + "\n")


def delays() -> list[float]:
    """FAULTS_TRIALS=n: n restart moments spread over the 15 s wait (0 s, then later); default one, at 0 s."""
    trials = max(int(os.environ.get("FAULTS_TRIALS", "1")), 1)
    return [round(14 * i / trials, 1) for i in range(trials)]


@pytest.mark.parametrize("delay", delays())
@pytest.mark.parametrize("component", ["none", "kube-apiserver", "etcd", "kube-controller-manager"])
def test_a_rollout_wait_survives_a_restart(
    own_cluster: OwnCluster, api, own_namespace: str, component: str, delay: float
):
    """``none`` is the same rollout with no fault: the baseline for the task's time."""
    namespace = own_namespace
    first = run_task("rollout", {"definition": web(namespace, "web:v1")}, own_cluster.kubeconfig)
    assert not first.get("failed"), first.get("msg")

    args = {
        "definition": web(namespace, "web:v2", ready_after=READY_AFTER),
        "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": 2, "maxUnavailable": 0}},
        "wait_timeout": 120,
    }
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        future = pool.submit(run_task, "rollout", args, own_cluster.kubeconfig)
        wait_for_new_pods(api, namespace, "web:v2")
        time.sleep(delay)  # the moment of the fault, not a wait for a condition
        restart_at = time.monotonic() - started
        outage = own_cluster.restart(component) if component != "none" else 0.0
        result = future.result(timeout=300)
        took = time.monotonic() - started

    record(
        {
            "test": "rollout_wait_restart",
            "component": component,
            "delay_s": delay,
            "restart_at_s": round(restart_at, 2),
            "restart_s": round(outage, 2),
            "task_s": round(took, 2),
            "failed": bool(result.get("failed")),
            "msg": result.get("msg"),
        }
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["revision"] == 2
    assert result["previous_revision"] == 1
    assert result["rolled_back"] is False
    assert [e["event"] for e in result["timeline"]][-1] == "complete"
    assert "Traceback" not in result["_stdout"]

    live = client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    assert live.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert live.spec.template.spec.containers[0].image == "web:v2"
    assert live.status.updated_replicas == live.status.available_replicas == live.status.replicas == 2
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert sorted(p.spec.containers[0].image for p in pods if not p.metadata.deletion_timestamp) == [
        "web:v2",
        "web:v2",
    ]


class SpyClient(KubeClient):
    """The collection's client, counting the watches that ended with 410 Gone (a re-list follows)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gone = 0
        self.lists = 0

    def request(self, method: str, path: str, query: Any = None, *args: Any, **kwargs: Any) -> Any:
        if method == "GET" and not (query or {}).get("watch"):
            self.lists += 1
        try:
            return super().request(method, path, query, *args, **kwargs)
        except Exception as exc:
            if getattr(exc, "status", None) == 410:
                self.gone += 1
            raise

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        version = super()._stream(*args, **kwargs)
        if version is None:
            self.gone += 1
        return version


def etcd_compact(port: int) -> int:
    """Compact etcd at its current revision (its JSON gateway, no etcdctl); the revision."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = Request(
            f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    revision = int(post("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": revision, "physical": True})
    return revision


def test_a_watch_too_old_after_an_etcd_restart_lists_again(own_cluster: OwnCluster, api, own_namespace: str):
    """A quiet watch on ConfigMaps; Secrets written elsewhere move etcd's revision on; etcd is
    compacted there and restarted. The API server's ConfigMap cache cannot resume its own etcd
    watch (compacted), lists again and ends its watchers; the client's watch resumed from its
    resourceVersion is then too old (410 Gone): the client lists again and sees what comes next."""
    namespace = own_namespace
    core = client.CoreV1Api(api)
    spy = SpyClient(create_api_client(resolve_auth({"kubeconfig": str(own_cluster.kubeconfig)}, {})))
    outcome: dict[str, Any] = {}

    def wait() -> None:
        try:
            outcome["found"] = spy.watch_until(
                CONFIG_MAPS,
                namespace,
                lambda objects: next((o for o in objects if o["metadata"]["name"] == "after"), None),
                timeout=120,
                what="the ConfigMap made after the restart",
            )
        except Exception as exc:
            outcome["error"] = exc

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 30
    while spy.lists == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    lists_before = spy.lists
    other = f"{namespace}-other"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    for i in range(20):
        core.create_namespaced_secret(other, client.V1Secret(metadata=client.V1ObjectMeta(name=f"s{i}")))
    compacted = etcd_compact(own_cluster.ports()["ETCD_PORT"])
    outage = own_cluster.restart("etcd")
    created = time.monotonic()
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="after"))
    )
    waiter.join(timeout=150)
    seen_after = time.monotonic() - created

    record(
        {
            "test": "watch_410_relist",
            "compacted_at": compacted,
            "restart_s": round(outage, 2),
            "gone": spy.gone,
            "relists": spy.lists - lists_before,
            "seen_after_s": round(seen_after, 2),
        }
    )
    assert "error" not in outcome, outcome.get("error")
    assert outcome["found"]["metadata"]["name"] == "after"
    assert spy.gone >= 1, "the resumed watch was not refused with 410 Gone"
    assert spy.lists > lists_before, "no new list after 410 Gone"
