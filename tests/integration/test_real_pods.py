"""What only real pods show: readiness, hooks, logs, failures and traffic, on the real node.

Each test runs the test app (hack/cluster/go/testapp) on the local cluster's real node (kubelet,
containerd, runc, the bridge CNI, kube-proxy) and, where traffic is the claim, sends it requests
through a Service's ClusterIP from this machine the whole time (`_realnode.Load`: a new
connection every 20 ms). Nothing here is simulated: a pod is Ready when its readiness probe
passes, a hook's exit code and log are its process's, a CrashLoopBackOff is kubelet's.
"""

from __future__ import annotations

import datetime
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from _realnode import (
    Load,
    app_container,
    app_deployment,
    app_service,
    failed_requests,
    served_versions,
)
from kubernetes import client
from test_canary_gateway import run_role
from test_rbac import Grants, documented_roles, without
from test_rollout import assert_ok

pytestmark = pytest.mark.usefixtures("real_node")

ROLLING = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 120}}


def hook(*args: str, policy: str = "Abort", volumes: tuple[str, ...] = ()) -> dict[str, Any]:
    """A hook running the test app's `hook` subcommand in the app container's image (with ``volumes``
    of the template, as a DeploymentConfig's execNewPod names them)."""
    pod = {"containerName": "app", "command": ["/testapp", "hook", *args]}
    return {
        "failurePolicy": policy,
        "execNewPod": {**pod, "volumes": list(volumes)} if volumes else pod,
    }


def at(result: dict[str, Any], event: str, after: str | None = None) -> datetime.datetime:
    """When the result's timeline first has ``event`` (after the first ``after``, if given)."""
    events = result["timeline"]
    start = next(i for i, e in enumerate(events) if e["event"] == after) if after else 0
    found = next(e for e in events[start:] if e["event"] == event)
    return datetime.datetime.fromisoformat(found["time"])


def serving(apps_v1: client.AppsV1Api, namespace: str, name: str = "web") -> tuple[str, int]:
    """The Deployment's image and its available replicas."""
    live = apps_v1.read_namespaced_deployment(name, namespace)
    return live.spec.template.spec.containers[0].image, live.status.available_replicas or 0


def roll(
    run_task, namespace: str, version: str, strategy: dict[str, Any] | None = None, **kwargs: Any
) -> dict:
    args = {"definition": app_deployment(namespace, version, **kwargs), "strategy": strategy or ROLLING}
    return run_task("rollout", args)


def test_rolling_updates_under_load_lose_no_request(run_task, namespace, core_v1, apps_v1):
    """maxUnavailable 0, canary-first, pods that drain on SIGTERM: not one request fails, twice over.

    v2's pods become Ready 4 s after they start: no v1 pod goes before the first v2 pod's
    readiness probe passes.
    """
    assert_ok(roll(run_task, namespace, "v1"), True)
    ip = app_service(core_v1, namespace)
    with Load(f"http://{ip}/") as load:
        slow = app_deployment(namespace, container=app_container("v2", env={"READY_AFTER": "4s"}))
        to_v2 = run_task("rollout", {"definition": slow, "strategy": ROLLING})
        assert_ok(to_v2, True)
        to_v3 = roll(run_task, namespace, "v3")
        assert_ok(to_v3, True)
        summary = load.stop()

    assert summary["failed"] == 0, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2", "v3"}
    assert summary["timeline"][-1][2] == "v3"
    # Readiness gates: v2's first pod is available 4 s after the template was applied at the
    # earliest, and until then no v1 pod went (maxUnavailable 0 on real readiness).
    applied = at(to_v2, "applied")
    counts = [e for e in to_v2["timeline"] if e["event"] == "replicas" and "new" in e]
    first_new = next(e for e in counts if e["new"]["available"] >= 1)
    assert datetime.datetime.fromisoformat(first_new["time"]) - applied >= datetime.timedelta(seconds=4), (
        counts
    )
    before = counts[: counts.index(first_new)]
    assert all(e["old"]["available"] == 3 for e in before if e.get("old")), before
    assert serving(apps_v1, namespace) == ("registry.openrollout.test/openrollout/testapp:v3", 3)


def test_recreate_hooks_see_the_app_serving_before_nothing_during_and_the_new_version_after(
    run_task, namespace, core_v1
):
    """pre, mid and post hooks ask the Service themselves: the order is proven by what they saw."""
    first = roll(run_task, namespace, "v1", {"type": "Recreate"})
    assert_ok(first, True)
    url = f"http://{app_service(core_v1, namespace)}/"
    strategy = {
        "type": "Recreate",
        "recreateParams": {
            "timeoutSeconds": 120,
            "pre": hook("--get", url, "--log", "pre: backing up"),
            "mid": hook("--get", url, "--expect-down", "--log", "mid: migrating with no app running"),
            "post": hook("--get", url, "--log", "post: warming up"),
        },
    }
    result = roll(run_task, namespace, "v2", strategy)
    assert_ok(result, True)
    logs = {h["phase"]: "\n".join(h["log_tail"]) for h in result["hooks"]}
    assert set(logs) == {"pre", "mid", "post"}, result["hooks"]
    assert f"GET {url} -> 200 version=v1" in logs["pre"], logs["pre"]
    assert f"GET {url} -> 200" not in logs["mid"], logs["mid"]
    assert "mid: migrating with no app running" in logs["mid"]
    assert f"GET {url} -> 200 version=v2" in logs["post"], logs["post"]
    assert all(h["exit_code"] == 0 and h["log_error"] is None for h in result["hooks"])


def test_hook_exit_code_and_log_are_the_processes_and_retry_runs_until_it_succeeds(
    run_task, namespace, apps_v1, tmp_path_factory
):
    assert_ok(roll(run_task, namespace, "v1"), True)
    aborting = dict(
        ROLLING, rollingParams={**ROLLING["rollingParams"], "pre": hook("--log", "schema 42", "--exit", "3")}
    )
    failed = roll(run_task, namespace, "v2", aborting)
    assert failed["failed"]
    [record] = failed["hooks"]
    assert (record["exit_code"], record["succeeded"], record["log_error"]) == (3, False, None)
    assert record["log_tail"][-2:] == ["schema 42", "hook exiting with 3"]
    assert (
        "pre hook web-2-hook-pre failed with exit code 3; last log lines: schema 42 | hook exiting with 3"
        in failed["msg"]
    )
    assert serving(apps_v1, namespace) == ("registry.openrollout.test/openrollout/testapp:v1", 3)

    # The counter lives on the node (hostPath), so each attempt's pod sees the ones before.
    state = Path(f"/tmp/openrollout-it-{namespace}")
    try:
        volume = {"name": "state", "hostPath": {"path": str(state), "type": "DirectoryOrCreate"}}
        container = app_container("v2", volumeMounts=[{"name": "state", "mountPath": "/state"}])
        retrying = {
            "type": "Rolling",
            "rollingParams": {
                **ROLLING["rollingParams"],
                "pre": hook(
                    "--fail-times", "2", "--counter", "/state/count", policy="Retry", volumes=("state",)
                ),
            },
        }
        definition = app_deployment(namespace, container=container, pod_spec={"volumes": [volume]})
        retried = run_task("rollout", {"definition": definition, "strategy": retrying})
        assert_ok(retried, True)
        [record] = retried["hooks"]
        assert (record["attempts"], record["succeeded"], record["exit_code"]) == (3, True, 0)
        assert "attempt 3: succeeding" in record["log_tail"]
        assert (state / "count").read_text().strip() == "3"
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_a_hook_log_that_cannot_be_read_says_why(run_task, namespace, k8s_api, cluster):
    """The rollout-hooks Role of docs/rbac.md less `get` on pods/log: the hook runs, its log is not read."""
    kubeconfig = Path(cluster.kubeconfig)
    rules = without(documented_roles()["rollout-hooks"], "pods/log", "get")
    token = Grants(k8s_api, namespace).token("deployer", rules)
    auth = {
        "host": _server(kubeconfig),
        "ca_cert": str(kubeconfig.parent / "pki" / "ca.crt"),
        "api_key": token,
        "kubeconfig": None,
    }
    strategy = {"type": "Recreate", "recreateParams": {"pre": hook("--log", "hello")}}
    result = run_task(
        "rollout", {**auth, "definition": app_deployment(namespace, replicas=1), "strategy": strategy}
    )
    assert_ok(result, True)
    [record] = result["hooks"]
    assert record["succeeded"] and record["log_tail"] == []
    assert "forbidden: needs get on pods/log" in record["log_error"], record
    assert any("succeeded, but reading the log of pod" in w for w in result.get("warnings", [])), result


def _server(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


BROKEN = [
    pytest.param({"version": "broken"}, "CrashLoopBackOff", id="container-exits-1"),
    pytest.param({"version": "no-such-tag"}, ("ErrImagePull", "ImagePullBackOff"), id="image-tag-missing"),
    pytest.param(
        {"container": app_container("v2", resources={"requests": {"cpu": "64"}})},
        "Unschedulable",
        id="too-big",
    ),
    # The kubelet keeps such a pod ContainerCreating, saying why only in FailedMount Events.
    pytest.param(
        {
            "container": app_container("v2", volumeMounts=[{"name": "config", "mountPath": "/config"}]),
            "pod_spec": {"volumes": [{"name": "config", "configMap": {"name": "web-config"}}]},
        },
        "FailedMount",
        id="configmap-volume-missing",
    ),
    pytest.param(
        {
            "container": app_container("v2", volumeMounts=[{"name": "tls", "mountPath": "/tls"}]),
            "pod_spec": {"volumes": [{"name": "tls", "secret": {"secretName": "web-tls"}}]},
        },
        "FailedMount",
        id="secret-volume-missing",
    ),
]


@pytest.mark.parametrize(("template", "reason"), BROKEN)
def test_a_real_failure_fails_fast_and_v1_keeps_serving(
    run_task, namespace, core_v1, apps_v1, template, reason
):
    """Each failure is kubelet's or the scheduler's own; the deadline (300 s) is never reached."""
    assert_ok(roll(run_task, namespace, "v1"), True)
    ip = app_service(core_v1, namespace)
    slow_deadline = {
        "type": "Rolling",
        "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 300},
    }
    with Load(f"http://{ip}/") as load:
        version = template.pop("version", "v2")
        result = run_task(
            "rollout",
            {"definition": app_deployment(namespace, version, **template), "strategy": slow_deadline},
        )
        summary = load.stop()
    assert result["failed"], result
    reasons = (reason,) if isinstance(reason, str) else reason
    assert result["failure"]["reason"] in reasons, result["msg"]
    if reasons == ("FailedMount",):  # the missing object is named
        assert ('configmap "web-config" not found' in result["msg"]) or (
            'secret "web-tls" not found' in result["msg"]
        ), result["msg"]
    assert result["rolled_back"], result["msg"]
    assert (at(result, "failed") - at(result, "applied")) < datetime.timedelta(seconds=120), result[
        "timeline"
    ]
    assert summary["failed"] == 0, failed_requests(summary)
    assert served_versions(summary) == {"v1"}
    assert serving(apps_v1, namespace) == ("registry.openrollout.test/openrollout/testapp:v1", 3)


def test_a_canary_that_never_becomes_ready_gets_no_traffic_and_is_rolled_back(
    run_task, namespace, core_v1, apps_v1
):
    assert_ok(roll(run_task, namespace, "v1"), True)
    ip = app_service(core_v1, namespace)
    short = {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 15}}
    with Load(f"http://{ip}/") as load:
        never = app_deployment(namespace, container=app_container("v2", env={"NEVER_READY": "true"}))
        result = run_task("rollout", {"definition": never, "strategy": short})
        summary = load.stop()
    assert result["failed"], result
    assert result["rolled_back"], result["msg"]
    assert summary["failed"] == 0, failed_requests(summary)
    assert served_versions(summary) == {"v1"}, "an unready canary was sent requests"
    assert serving(apps_v1, namespace) == ("registry.openrollout.test/openrollout/testapp:v1", 3)


def test_recreate_mid_hook_starts_only_once_the_old_pods_are_really_gone(run_task, namespace, core_v1):
    """Old pods that drain 5 s on SIGTERM: the mid hook waits for their end, and the timeline shows it."""
    draining = app_container("v1", drain="5s")
    first = run_task(
        "rollout",
        {
            "definition": app_deployment(namespace, container=draining, replicas=2),
            "strategy": {"type": "Recreate"},
        },
    )
    assert_ok(first, True)
    url = f"http://{app_service(core_v1, namespace)}/"
    strategy = {
        "type": "Recreate",
        "recreateParams": {"mid": hook("--get", url, "--expect-down")},
    }
    result = roll(run_task, namespace, "v2", strategy, replicas=2)
    assert_ok(result, True)
    gone = at(result, "old_scaled_down")
    assert gone - at(result, "applied") >= datetime.timedelta(seconds=5), result["timeline"]
    assert at(result, "hook_started", after="old_scaled_down") >= gone
    [mid] = result["hooks"]
    assert mid["exit_code"] == 0, mid


def first_of(summary: dict[str, Any], version: str) -> int:
    """The index in the load's timeline of the first answer from ``version``."""
    return next(i for i, point in enumerate(summary["timeline"]) if point[2] == version)


def test_blue_green_switch_under_load_moves_traffic_at_once_and_loses_no_request(
    cluster, namespace, core_v1, tmp_path
):
    """The blue_green role: v2 on green, verified, one switch of the Service; v1 never answers after it."""
    ip = app_service(core_v1, namespace)
    common = {"blue_green_name": "web", "blue_green_namespace": namespace, "blue_green_scale_down_delay": 0}
    rc, _result, output = run_role(
        cluster.kubeconfig,
        tmp_path,
        {**common, "blue_green_definition": app_deployment(namespace)},
        role="blue_green",
    )
    assert rc == 0, output[-3000:]
    with Load(f"http://{ip}/") as load:
        rc, _result, output = run_role(
            cluster.kubeconfig,
            tmp_path,
            {**common, "blue_green_images": {"app": "registry.openrollout.test/openrollout/testapp:v2"}},
            role="blue_green",
        )
        summary = load.stop()
    assert rc == 0, output[-3000:]
    assert summary["failed"] == 0, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2"}
    after_switch = [point[2] for point in summary["timeline"][first_of(summary, "v2") :]]
    assert set(after_switch) == {"v2"}, "v1 answered after the switch"
    assert core_v1.read_namespaced_service("web", namespace).spec.selector["openrollout.k8s/color"] == "green"


def test_rollout_undo_under_load_brings_v1_back_serving(run_task, namespace, core_v1, apps_v1):
    assert_ok(roll(run_task, namespace, "v1"), True)
    assert_ok(roll(run_task, namespace, "v2"), True)
    ip = app_service(core_v1, namespace)
    with Load(f"http://{ip}/") as load:
        undone = run_task("rollout_undo", {"name": "web", "namespace": namespace, "to_revision": 1})
        summary = load.stop()
    assert_ok(undone, True)
    assert summary["failed"] == 0, failed_requests(summary)
    assert served_versions(summary) == {"v1", "v2"}
    assert summary["timeline"][-1][2] == "v1"
    assert serving(apps_v1, namespace) == ("registry.openrollout.test/openrollout/testapp:v1", 3)


def app_statefulset(namespace: str, version: str) -> dict[str, Any]:
    deployment = app_deployment(namespace, version)
    template = deployment["spec"]["template"]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "web"}},
            "template": template,
        },
    }


def versions_by_pod(core_v1: client.CoreV1Api, namespace: str, ip_of: dict[str, str]) -> dict[str, str]:
    """What each pod answers itself (its own IP on the node's bridge)."""
    answers = {}
    for pod, ip in ip_of.items():
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=3) as answer:
            answers[pod] = answer.read().decode().split()[0]
    return answers


def test_statefulset_partitioned_rollout_on_real_pods(run_task, namespace, core_v1):
    """partition 2 then 0: the ordinals at or above the partition answer v2, each Ready for real,
    replaced highest ordinal first."""
    assert_ok(run_task("rollout", {"definition": app_statefulset(namespace, "v1")}), True)
    staged = run_task("rollout", {"definition": app_statefulset(namespace, "v2"), "partition": 2})
    assert_ok(staged, True)
    assert staged["staged"] is True

    def pods() -> dict[str, client.V1Pod]:
        return {
            p.metadata.name: p for p in core_v1.list_namespaced_pod(namespace, label_selector="app=web").items
        }

    ips = {name: p.status.pod_ip for name, p in pods().items()}
    assert versions_by_pod(core_v1, namespace, ips) == {
        "db-0": "version=v1",
        "db-1": "version=v1",
        "db-2": "version=v2",
    }

    whole = run_task("rollout", {"definition": app_statefulset(namespace, "v2"), "partition": 0})
    assert_ok(whole, True)
    now = pods()
    assert versions_by_pod(core_v1, namespace, {n: p.status.pod_ip for n, p in now.items()}) == {
        "db-0": "version=v2",
        "db-1": "version=v2",
        "db-2": "version=v2",
    }
    assert now["db-1"].status.start_time <= now["db-0"].status.start_time, "db-0 was replaced before db-1"
