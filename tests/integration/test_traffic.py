"""openrollout.k8s.service_selector and openrollout.k8s.httproute_weights on the local control plane.

The Services select KWOK pods, which get IPs and become Ready, so the EndpointSlice controller
really moves the endpoints when the selector changes. HTTPRoutes are served by the Gateway API
CRDs that hack/cluster/gateway-api.sh installs; no Gateway controller runs, so only the weights
in the object are checked. The sequence is community.docker's: check mode, real run, idempotent
check mode, idempotent real run.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from test_rollout import assert_ok

COLOR = "openrollout.k8s/color"
HTTPROUTE = {"group": "gateway.networking.k8s.io", "version": "v1", "plural": "httproutes"}


def colour_deployment(
    apps_v1: client.AppsV1Api, namespace: str, colour: str, replicas: int = 2, **pod_labels: str
) -> None:
    labels = {"app": "web", COLOR: colour, **pod_labels}
    apps_v1.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"web-{colour}"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web", COLOR: colour}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": f"registry.example/web:{colour}"}]},
                },
            },
        },
    )


def ready_pods(watch_until, core_v1: client.CoreV1Api, namespace: str, colour: str, count: int) -> list[str]:
    """Wait until ``count`` pods of the colour are Ready; their names."""

    def all_ready(pods: list[Any]) -> list[str] | None:
        ready = [
            p.metadata.name
            for p in pods
            if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
        ]
        return sorted(ready) if len(ready) == count else None

    return watch_until(
        core_v1.list_namespaced_pod, all_ready, 60, namespace=namespace, label_selector=f"{COLOR}={colour}"
    )


def service(core_v1: client.CoreV1Api, namespace: str, selector: dict[str, str]) -> None:
    core_v1.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )


def live_selector(core_v1: client.CoreV1Api, namespace: str) -> dict[str, str]:
    return dict(core_v1.read_namespaced_service("web", namespace).spec.selector or {})


def endpoint_pods(watch_until, k8s_api: client.ApiClient, namespace: str, wanted: list[str]) -> list[str]:
    """Wait until the Service's EndpointSlices list exactly the pods ``wanted`` (the controller's work)."""
    discovery = client.DiscoveryV1Api(k8s_api)

    def names(slices: list[Any]) -> list[str] | None:
        found = sorted(e.target_ref.name for s in slices for e in (s.endpoints or []) if e.target_ref)
        return found if found == wanted else None

    return watch_until(
        discovery.list_namespaced_endpoint_slice,
        names,
        60,
        namespace=namespace,
        label_selector="kubernetes.io/service-name=web",
    )


def four_runs(run_task, module: str, args: dict) -> tuple[dict, dict, dict, dict]:
    return (
        run_task(module, args, check=True, diff=True),
        run_task(module, args, diff=True),
        run_task(module, args, check=True),
        run_task(module, args),
    )


# --- service_selector ----------------------------------------------------------------------------


def test_switch_blue_to_green_check_real_idempotent(
    run_task, namespace, watch_until, apps_v1, core_v1, k8s_api
):
    colour_deployment(apps_v1, namespace, "blue")
    colour_deployment(apps_v1, namespace, "green")
    blue = ready_pods(watch_until, core_v1, namespace, "blue", 2)
    green = ready_pods(watch_until, core_v1, namespace, "green", 2)
    service(core_v1, namespace, {"app": "web", COLOR: "blue"})
    endpoint_pods(watch_until, k8s_api, namespace, blue)

    args = {"name": "web", "namespace": namespace, "selector": {COLOR: "green"}}
    check, real, check_again, again = four_runs(run_task, "service_selector", args)

    assert_ok(check, True)
    assert check["selector"] == {"app": "web", COLOR: "green"}
    assert check["previous_selector"] == {"app": "web", COLOR: "blue"}
    assert check["diff"] == {
        "before": {"selector": {"app": "web", COLOR: "blue"}},
        "after": {"selector": {"app": "web", COLOR: "green"}},
    }
    assert check["ready_pods"] == green and check["matched_pods"] == 2
    assert check["service"]["spec"]["selector"] == {"app": "web", COLOR: "green"}  # the server's dry run

    assert_ok(real, True)
    assert {k: real[k] for k in ("selector", "previous_selector", "ready_pods", "diff")} == {
        k: check[k] for k in ("selector", "previous_selector", "ready_pods", "diff")
    }
    assert live_selector(core_v1, namespace) == {"app": "web", COLOR: "green"}
    assert "managedFields" not in real["service"]["metadata"]
    # The Service's endpoints are now the green pods: the traffic really moved.
    assert endpoint_pods(watch_until, k8s_api, namespace, green) == green

    for result in (check_again, again):
        assert_ok(result, False)
        assert result["selector"] == result["previous_selector"] == {"app": "web", COLOR: "green"}
    assert again["service"]["metadata"]["resourceVersion"] == real["service"]["metadata"]["resourceVersion"]


def test_check_mode_writes_nothing(run_task, namespace, watch_until, apps_v1, core_v1):
    colour_deployment(apps_v1, namespace, "green", replicas=1)
    ready_pods(watch_until, core_v1, namespace, "green", 1)
    service(core_v1, namespace, {"app": "web", COLOR: "blue"})
    before = core_v1.read_namespaced_service("web", namespace).metadata.resource_version

    result = run_task(
        "service_selector", {"name": "web", "namespace": namespace, "selector": {COLOR: "green"}}, check=True
    )

    assert_ok(result, True)
    live = core_v1.read_namespaced_service("web", namespace)
    assert live.metadata.resource_version == before
    assert live.spec.selector == {"app": "web", COLOR: "blue"}


def test_no_ready_pod_is_refused_unless_allowed(run_task, namespace, watch_until, apps_v1, core_v1):
    colour_deployment(apps_v1, namespace, "blue", replicas=1)
    ready_pods(watch_until, core_v1, namespace, "blue", 1)
    # green's pods run but never become Ready (KWOK's never-ready stage)
    colour_deployment(apps_v1, namespace, "green", replicas=2, **{"openrollout.test/never-ready": "true"})
    watch_until(
        core_v1.list_namespaced_pod,
        lambda pods: len(pods) == 2 or None,
        60,
        namespace=namespace,
        label_selector=f"{COLOR}=green",
    )
    service(core_v1, namespace, {"app": "web", COLOR: "blue"})
    args = {"name": "web", "namespace": namespace, "selector": {COLOR: "green"}}

    refused = run_task("service_selector", args)
    assert refused["failed"] and not refused["changed"]
    assert refused["msg"] == (
        f"the selector app=web,{COLOR}=green of Service {namespace}/web would match no ready pod "
        "(2 pods match, none Ready): the selector is left as it is. Wait until the pods are Ready, "
        "or set require_ready_endpoints=false"
    )
    assert (refused["matched_pods"], refused["ready_pods"]) == (2, [])
    assert live_selector(core_v1, namespace) == {"app": "web", COLOR: "blue"}
    refused_check = run_task("service_selector", args, check=True)
    assert refused_check["failed"] and refused_check["msg"] == refused["msg"]

    allowed = run_task("service_selector", {**args, "require_ready_endpoints": False})
    assert_ok(allowed, True)
    assert allowed["ready_pods"] == []
    assert live_selector(core_v1, namespace) == {"app": "web", COLOR: "green"}
    # An unchanged selector is not checked again: a rerun is a no-op, not a failure.
    assert_ok(run_task("service_selector", args), False)


def test_null_removes_a_key(run_task, namespace, watch_until, apps_v1, core_v1):
    colour_deployment(apps_v1, namespace, "blue", replicas=1)
    ready_pods(watch_until, core_v1, namespace, "blue", 1)
    service(core_v1, namespace, {"app": "web", COLOR: "blue"})

    result = run_task("service_selector", {"name": "web", "namespace": namespace, "selector": {COLOR: None}})

    assert_ok(result, True)
    assert live_selector(core_v1, namespace) == {"app": "web"}
    assert result["selector"] == {"app": "web"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "nope", "selector": {COLOR: "green"}}, "Service {ns}/nope not found"),
        (
            {"name": "web", "selector": {}},
            "selector must be a non-empty dictionary of labels, for example {color: green}",
        ),
        (
            {"name": "web", "selector": {"app": None, COLOR: None}},
            "the selector of Service {ns}/web would be empty: a Service without a selector gets no endpoints "
            "from its pods. Keep at least one key",
        ),
        (
            {"name": "web", "selector": {COLOR: ["green"]}},
            f"selector value of {COLOR} must be a string (or null to remove the key), got ['green']",
        ),
    ],
)
def test_service_selector_bad_input(run_task, namespace, core_v1, args, message):
    service(core_v1, namespace, {"app": "web", COLOR: "blue"})
    result = run_task("service_selector", {"namespace": namespace, **args})
    assert result["failed"] and not result["changed"]
    assert result["msg"] == message.replace("{ns}", namespace)
    assert "Traceback" not in result["_stdout"]
    assert live_selector(core_v1, namespace) == {"app": "web", COLOR: "blue"}


# --- httproute_weights ---------------------------------------------------------------------------


def httproute(custom_objects: client.CustomObjectsApi, namespace: str) -> None:
    custom_objects.create_namespaced_custom_object(
        namespace=namespace,
        body={
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "web"},
            "spec": {
                "parentRefs": [{"name": "public"}],
                "hostnames": ["web.shop.example"],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                        "backendRefs": [{"name": "api", "port": 8080}],
                    },
                    {
                        "backendRefs": [
                            {"name": "web", "port": 80, "weight": 100},
                            {"name": "web-canary", "port": 80, "weight": 0},
                        ]
                    },
                ],
            },
        },
        **HTTPROUTE,
    )


def live_route(custom_objects: client.CustomObjectsApi, namespace: str) -> dict:
    return dict(custom_objects.get_namespaced_custom_object(namespace=namespace, name="web", **HTTPROUTE))


def live_weights(
    custom_objects: client.CustomObjectsApi, namespace: str, rule: int = 1
) -> list[tuple[str, Any]]:
    refs = live_route(custom_objects, namespace)["spec"]["rules"][rule]["backendRefs"]
    return [(ref["name"], ref.get("weight")) for ref in refs]


def test_weights_check_real_idempotent(run_task, namespace, custom_objects):
    httproute(custom_objects, namespace)
    before = live_route(custom_objects, namespace)
    args = {"name": "web", "namespace": namespace, "rule": 1, "weights": {"web": 90, "web-canary": 10}}

    check, real, check_again, again = four_runs(run_task, "httproute_weights", args)

    assert_ok(check, True)
    assert check["previous_weights"] == {"web": 100, "web-canary": 0}
    assert check["weights"] == {"web": 90, "web-canary": 10}
    assert check["shares"] == {"web": 90.0, "web-canary": 10.0}
    assert check["diff"] == {
        "before": {"rule": 1, "weights": {"web": 100, "web-canary": 0}},
        "after": {"rule": 1, "weights": {"web": 90, "web-canary": 10}},
    }
    assert_ok(real, True)
    assert {k: real[k] for k in ("weights", "previous_weights", "shares", "diff", "rule")} == {
        k: check[k] for k in ("weights", "previous_weights", "shares", "diff", "rule")
    }
    after = live_route(custom_objects, namespace)
    assert live_weights(custom_objects, namespace) == [("web", 90), ("web-canary", 10)]
    # Nothing else of the route changed: the other rule, the ports, the parents, the hostnames.
    assert after["spec"]["rules"][0] == before["spec"]["rules"][0]
    assert [r["port"] for r in after["spec"]["rules"][1]["backendRefs"]] == [80, 80]
    assert after["spec"]["parentRefs"] == before["spec"]["parentRefs"]
    assert after["spec"]["hostnames"] == ["web.shop.example"]
    assert real["route"]["spec"]["rules"] == after["spec"]["rules"]

    for result in (check_again, again):
        assert_ok(result, False)
        assert result["weights"] == result["previous_weights"] == {"web": 90, "web-canary": 10}
    assert (
        live_route(custom_objects, namespace)["metadata"]["resourceVersion"]
        == after["metadata"]["resourceVersion"]
    )


def test_weights_step_by_step(run_task, namespace, custom_objects):
    """A canary's steps: 10, 50, 100 percent, then back to the stable."""
    httproute(custom_objects, namespace)
    seen = []
    for canary in (10, 50, 100, 0):
        result = run_task(
            "httproute_weights",
            {
                "name": "web",
                "namespace": namespace,
                "rule": 1,
                "weights": {"web": 100 - canary, "web-canary": canary},
            },
        )
        assert_ok(result, True)
        seen.append(live_weights(custom_objects, namespace))
    assert seen == [
        [("web", 90), ("web-canary", 10)],
        [("web", 50), ("web-canary", 50)],
        [("web", 0), ("web-canary", 100)],
        [("web", 100), ("web-canary", 0)],
    ]


def test_the_weight_a_backend_has_is_no_change(run_task, namespace, custom_objects):
    """The CRD defaults a backendRef's weight to 1 (the Gateway API's default): 1 is no change."""
    httproute(custom_objects, namespace)
    assert live_weights(custom_objects, namespace, rule=0) == [("api", 1)]
    result = run_task("httproute_weights", {"name": "web", "namespace": namespace, "weights": {"api": 1}})
    assert_ok(result, False)
    assert (result["weights"], result["shares"]) == ({"api": 1}, {"api": 100.0})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "nope", "weights": {"web": 1}}, "HTTPRoute {ns}/nope not found"),
        (
            {"rule": 2, "weights": {"web": 1}},
            "HTTPRoute {ns}/web has 2 rules: rule must be from 0 to 1, got 2",
        ),
        (
            {"rule": 1, "weights": {"web-v2": 10}},
            "rule 1 of HTTPRoute {ns}/web has no backend web-v2 (its backends: web, web-canary)",
        ),
        (
            {"rule": 1, "weights": {"web": 0}},
            "rule 1 of HTTPRoute {ns}/web would send no traffic at all (every backend at weight 0): "
            "give at least one backend a weight above 0",
        ),
        (
            {"rule": 1, "weights": {"web": 1000001}},
            "the weight of backend web must be a whole number from 0 to 1000000, got 1000001",
        ),
    ],
)
def test_weights_bad_input(run_task, namespace, custom_objects, args, message):
    httproute(custom_objects, namespace)
    before = live_route(custom_objects, namespace)
    result = run_task("httproute_weights", {"name": "web", "namespace": namespace, **args})
    assert result["failed"] and not result["changed"]
    assert result["msg"] == message.replace("{ns}", namespace)
    assert "Traceback" not in result["_stdout"]
    assert (
        live_route(custom_objects, namespace)["metadata"]["resourceVersion"]
        == before["metadata"]["resourceVersion"]
    )


def test_the_cluster_serves_the_gateway_api(custom_objects):
    """hack/cluster/gateway-api.sh installed the pinned CRDs (versions.sh)."""
    api = client.ApiextensionsV1Api(custom_objects.api_client)
    crd = api.read_custom_resource_definition("httproutes.gateway.networking.k8s.io")
    versions = {v.name: v.served for v in crd.spec.versions}
    assert versions.get("v1") is True
    assert crd.metadata.annotations["gateway.networking.k8s.io/channel"] == "standard"
    assert [c.status for c in crd.status.conditions if c.type == "Established"] == ["True"]
