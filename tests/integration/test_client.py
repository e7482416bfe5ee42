"""The client factory and the watch-based wait, against the local control plane."""

from __future__ import annotations

import time

import pytest
import yaml
from kubernetes import client

from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    DEPLOYMENTS,
    PODS,
    ClientError,
    KubeClient,
    WaitTimeout,
    create_api_client,
    resolve_auth,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._status import deployment_status


def deployment(name: str, replicas: int, labels: dict[str, str] | None = None) -> dict:
    pod_labels = {"app": name, **(labels or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:v1"}]},
            },
        },
    }


@pytest.fixture
def kube(cluster) -> KubeClient:
    return KubeClient(create_api_client(resolve_auth({}, {"K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig)})))


def rolled_out(name: str):
    def check(objects: list[dict]):
        for obj in objects:
            if obj["metadata"]["name"] == name and deployment_status(obj).done:
                return obj
        return None

    return check


def test_watch_until_sees_the_rollout_complete(kube: KubeClient, namespace: str, apps_v1: client.AppsV1Api):
    apps_v1.create_namespaced_deployment(namespace, deployment("web", 3))
    done = kube.watch_until(
        DEPLOYMENTS,
        namespace,
        rolled_out("web"),
        timeout=60,
        what="deployment/web",
        field_selector="metadata.name=web",
    )
    assert done["status"]["availableReplicas"] == 3
    assert done["status"]["updatedReplicas"] == 3
    assert done["metadata"]["generation"] <= done["status"]["observedGeneration"]


def test_watch_until_times_out_with_the_last_state(
    kube: KubeClient, namespace: str, apps_v1: client.AppsV1Api
):
    apps_v1.create_namespaced_deployment(
        namespace, deployment("broken", 2, {"openrollout.test/never-ready": "true"})
    )
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"^timed out after 3s waiting for deployment/broken$") as caught:
        kube.watch_until(DEPLOYMENTS, namespace, rolled_out("broken"), timeout=3, what="deployment/broken")
    assert 3 <= time.monotonic() - started < 10
    [last] = caught.value.last
    assert last["metadata"]["name"] == "broken"
    assert not deployment_status(last).done


def test_kubeconfig_as_a_dict_and_a_context(
    cluster, kube: KubeClient, namespace: str, apps_v1: client.AppsV1Api
):
    apps_v1.create_namespaced_deployment(namespace, deployment("listed", 1))
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    api = create_api_client(resolve_auth({"kubeconfig": config, "context": config["current-context"]}, {}))
    listed = KubeClient(api).list("listing Deployments", DEPLOYMENTS, namespace)
    assert [item["metadata"]["name"] for item in listed] == ["listed"]
    assert KubeClient(api).get("reading", DEPLOYMENTS, namespace, "absent") is None


def test_a_bad_token_is_a_clear_error(cluster, kube: KubeClient):
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    [entry] = config["clusters"]
    bad = KubeClient(create_api_client(resolve_auth({"kubeconfig": config, "api_key": "not-a-token"}, {})))
    with pytest.raises(ClientError, match=r"^while waiting for pods: 401 Unauthorized") as caught:
        bad.watch_until(PODS, "default", lambda pods: pods or None, timeout=10, what="pods")
    assert caught.value.status == 401
    assert "not-a-token" not in str(caught.value)
    assert entry["cluster"]["server"].startswith("https://127.0.0.1:")


def test_host_overrides_the_kubeconfig_server_on_every_request(cluster):
    # The kubeconfig's token refresh hook used to put its own server back before each request.
    unreachable = "https://127.0.0.1:9"
    api = create_api_client(resolve_auth({"kubeconfig": str(cluster.kubeconfig), "host": unreachable}, {}))
    kube = KubeClient(api)
    with pytest.raises(ClientError, match="cannot reach the API server"):
        kube.list("listing pods", PODS, "default")
    assert api.configuration.host == unreachable
