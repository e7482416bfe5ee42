"""DeploymentConfig manifests rolled out as they are, on plain Kubernetes (no OpenShift API here)."""

from __future__ import annotations

import yaml
from test_hooks import events
from test_rollout import assert_ok, images

RECREATE_DC = """
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
  namespace: {namespace}
  annotations:
    openshift.io/generated-by: OpenShiftNewApp
spec:
  replicas: 3
  selector:
    app: web
  strategy:
    type: Recreate
    recreateParams:
      timeoutSeconds: 120
      mid:
        failurePolicy: Abort
        execNewPod:
          containerName: web
          command: [/usr/bin/migrate, --up]
          env:
            - name: CUSTOM_VAR1
              value: custom_value1
    resources: {{}}
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: registry.example/web:{tag}
  triggers:
    - type: ConfigChange
    - type: ImageChange
      imageChangeParams:
        automatic: true
        containerNames: [web]
        from:
          kind: ImageStreamTag
          name: web:latest
"""

ROLLING_DC = """
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: api
  namespace: {namespace}
spec:
  replicas: 4
  strategy:
    type: Rolling
    rollingParams:
      updatePeriodSeconds: 1
      intervalSeconds: 1
      timeoutSeconds: 120
      maxSurge: 1
      maxUnavailable: 1
      pre:
        failurePolicy: Abort
        execNewPod:
          containerName: api
          command: [/bin/true]
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: api
          image: registry.example/api:{tag}
  test: {test}
"""


def test_recreate_dc_with_a_mid_hook(run_task, namespace, apps_v1):
    first = run_task("rollout", {"definition": RECREATE_DC.format(namespace=namespace, tag="1")})
    assert_ok(first, True)
    assert any(
        w.startswith("ImageChange trigger (web:latest -> web) is not supported") for w in first["warnings"]
    )
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.selector.match_labels == {"app": "web"}
    assert live.spec.strategy.type == "Recreate"
    assert "openshift.io/generated-by" not in (live.metadata.annotations or {})

    second = run_task("rollout", {"definition": RECREATE_DC.format(namespace=namespace, tag="2")})
    assert_ok(second, True)
    # Said once, by the run that made the Deployment from the DC.
    assert not any(w.startswith("ImageChange trigger") for w in second.get("warnings", []))
    order = events(second)
    # The same observable order as OpenShift: old gone, mid, one new pod, all of them.
    assert (
        order.index("old_scaled_down")
        < order.index("hook_started")
        < order.index("new_validated")
        < order.index("complete")
    )
    [mid] = second["hooks"]
    assert (mid["phase"], mid["job"], mid["succeeded"]) == ("mid", "web-2-hook-mid", True)
    assert images(apps_v1, namespace) == ["registry.example/web:2"]
    assert_ok(run_task("rollout", {"definition": RECREATE_DC.format(namespace=namespace, tag="2")}), False)


def test_rolling_dc_with_a_pre_hook(run_task, namespace, apps_v1):
    manifest = yaml.safe_load(ROLLING_DC.format(namespace=namespace, tag="1", test="false"))
    assert_ok(run_task("rollout", {"definition": manifest}), True)
    updated = yaml.safe_load(ROLLING_DC.format(namespace=namespace, tag="2", test="false"))
    result = run_task("rollout", {"definition": updated})
    assert_ok(result, True)
    order = events(result)
    assert (
        order.index("hook_finished")
        < order.index("applied")
        < order.index("canary_available")
        < order.index("complete")
    )
    assert result["strategy"]["rolling_params"]["timeout_seconds"] == 120
    live = apps_v1.read_namespaced_deployment("api", namespace)
    assert live.spec.strategy.rolling_update.max_surge == 1
    assert live.status.available_replicas == 4


def test_a_test_dc_scales_to_zero_after_success(run_task, namespace, apps_v1):
    manifest = ROLLING_DC.format(namespace=namespace, tag="1", test="true")
    result = run_task("rollout", {"definition": manifest})
    assert_ok(result, True)
    assert [e for e in result["timeline"] if e["event"] == "scaled"][-1] == {
        **[e for e in result["timeline"] if e["event"] == "scaled"][-1],
        "replicas": 0,
        "test": True,
    }
    assert apps_v1.read_namespaced_deployment("api", namespace).spec.replicas == 0
    # Run again: the test deployment stays at 0, nothing to do.
    assert_ok(run_task("rollout", {"definition": manifest}), False)
