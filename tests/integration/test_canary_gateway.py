"""The canary role with canary_traffic: gateway, on the local control plane, watching the HTTPRoute.

The Gateway API CRDs are installed by hack/cluster/gateway-api.sh; no Gateway controller runs, so what
is checked is the route object: a watch started before the role records every change of the rule's
backend weights, and the test compares that sequence with the steps. The Deployments are real (KWOK
pods), so the pods of each track are checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, watch
from test_rollout import assert_ok

REPO_ROOT = Path(__file__).resolve().parents[2]
HTTPROUTE = {"group": "gateway.networking.k8s.io", "version": "v1", "plural": "httproutes"}


def stable(namespace: str) -> dict:
    labels = {"app": "web", "track": "stable"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "registry.example/web:v1"}]},
            },
        },
    }


def route(custom_objects: client.CustomObjectsApi, namespace: str) -> None:
    custom_objects.create_namespaced_custom_object(
        namespace=namespace,
        body={
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "web"},
            "spec": {
                "parentRefs": [{"name": "public"}],
                "rules": [
                    {
                        "backendRefs": [
                            {"name": "web", "port": 80, "weight": 100},
                            {"name": "web-canary", "port": 80, "weight": 0},
                        ]
                    }
                ],
            },
        },
        **HTTPROUTE,
    )


def weights(obj: dict) -> tuple[int, int]:
    refs = {ref["name"]: ref.get("weight", 1) for ref in obj["spec"]["rules"][0]["backendRefs"]}
    return refs["web"], refs["web-canary"]


class RouteWatch:
    """Every distinct (stable, canary) weight pair the route goes through, from its state now on."""

    def __init__(self, custom_objects: client.CustomObjectsApi, namespace: str) -> None:
        self.custom_objects = custom_objects
        self.namespace = namespace
        listing = custom_objects.list_namespaced_custom_object(namespace=namespace, **HTTPROUTE)
        self.seen = [weights(listing["items"][0])]
        self.version = listing["metadata"]["resourceVersion"]
        self.watch = watch.Watch()
        self.stopped = False
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        stream = self.watch.stream(
            self.custom_objects.list_namespaced_custom_object,
            namespace=self.namespace,
            resource_version=self.version,
            timeout_seconds=600,
            **HTTPROUTE,
        )
        try:
            for event in stream:
                pair = weights(event["object"])
                if pair != self.seen[-1]:
                    self.seen.append(pair)
        except urllib3.exceptions.ProtocolError:
            if not self.stopped:  # stop() cuts the stream; anything else is a failure
                raise

    def stop(self) -> list[tuple[int, int]]:
        self.stopped = True
        self.watch.stop()
        self.thread.join(timeout=70)
        return self.seen


def run_role(
    kubeconfig: Path, tmp_path: Path, role_vars: dict[str, Any], role: str = "canary", check: bool = False
) -> tuple[int, dict, str]:
    """A role of the collection (canary by default) in a playbook, through ansible-playbook (with
    --check if ``check``); its exit code, its ``<role>_result`` and the output."""
    result_file = tmp_path / f"{role}_result.json"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/openrollout.k8s.k8s": {"kubeconfig": str(kubeconfig)}},
            "tasks": [
                {
                    "name": "The role",
                    "block": [
                        {
                            "ansible.builtin.include_role": {"name": f"openrollout.k8s.{role}"},
                            "vars": role_vars,
                        }
                    ],
                    "always": [
                        {
                            "name": f"Keep {role}_result",
                            "ansible.builtin.copy": {
                                "content": f"{{{{ {role}_result | default({{}}) | to_json }}}}",
                                "dest": str(result_file),
                            },
                            "changed_when": False,
                            "check_mode": False,
                        }
                    ],
                }
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            *(["--check"] if check else []),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "build"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
        },
    )
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    return completed.returncode, result, completed.stdout + completed.stderr


def track_pods(apps_v1: client.AppsV1Api, namespace: str) -> dict[str, tuple[int, str]]:
    return {
        d.metadata.name: (d.spec.replicas, d.spec.template.spec.containers[0].image)
        for d in apps_v1.list_namespaced_deployment(namespace).items
    }


def gateway_vars(namespace: str, **extra: Any) -> dict[str, Any]:
    return {
        "canary_name": "web",
        "canary_namespace": namespace,
        "canary_images": {"web": "registry.example/web:v2"},
        "canary_traffic": "gateway",
        "canary_httproute": "web",
        "canary_timeout_seconds": 60,
        **extra,
    }


def test_weights_step_by_step_then_promote(run_task, cluster, namespace, custom_objects, apps_v1, tmp_path):
    assert_ok(run_task("rollout", {"definition": stable(namespace)}), True)
    route(custom_objects, namespace)

    route_watch = RouteWatch(custom_objects, namespace)
    rc, result, output = run_role(
        cluster.kubeconfig, tmp_path, gateway_vars(namespace, canary_steps=[25, 50, 100])
    )
    seen = route_watch.stop()

    assert rc == 0, output
    # The route went through each step's weights, in order, then back to the stable after the promote.
    assert seen == [(100, 0), (75, 25), (50, 50), (0, 100), (100, 0)]
    assert result["route_weights"] == [25, 50, 100, 0]
    assert result["steps"] == [25, 50, 100]
    # The pods followed: the stable runs v2 on all 4, the canary is at 0.
    assert track_pods(apps_v1, namespace) == {
        "web": (4, "registry.example/web:v2"),
        "web-canary": (0, "registry.example/web:v2"),
    }

    # Run again: promoted already, the route is not written (the same resourceVersion) and nothing changes.
    before = custom_objects.get_namespaced_custom_object(namespace=namespace, name="web", **HTTPROUTE)
    rc, again, output = run_role(
        cluster.kubeconfig, tmp_path, gateway_vars(namespace, canary_steps=[25, 50, 100])
    )
    assert rc == 0, output
    assert "changed=0" in output
    assert again["already_promoted"] and again["route_weights"] == []
    after = custom_objects.get_namespaced_custom_object(namespace=namespace, name="web", **HTTPROUTE)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_failing_gate_sends_the_requests_back_to_the_stable(
    run_task, cluster, namespace, custom_objects, apps_v1, tmp_path
):
    assert_ok(run_task("rollout", {"definition": stable(namespace)}), True)
    route(custom_objects, namespace)

    route_watch = RouteWatch(custom_objects, namespace)
    rc, result, output = run_role(
        cluster.kubeconfig,
        tmp_path,
        gateway_vars(
            namespace, canary_steps=[25, 50], canary_promote=False, canary_gate_jmespath="weight < `50`"
        ),
    )
    seen = route_watch.stop()

    assert rc != 0
    assert result["aborted"] and int(result["weight"]) == 50
    assert seen == [(100, 0), (75, 25), (50, 50), (100, 0)]
    assert (
        f"openrollout.k8s.canary: {namespace}/web: Health gate: weight < `50` failed at 50% canary: health gate "
        "weight < `50` selected false. Aborted: web-canary is at 0 replicas and web at 4."
        in " ".join(output.split())
    )
    assert track_pods(apps_v1, namespace) == {
        "web": (4, "registry.example/web:v1"),
        "web-canary": (0, "registry.example/web:v2"),
    }


def test_a_missing_backend_fails_before_anything_changes(
    run_task, cluster, namespace, custom_objects, apps_v1, tmp_path
):
    assert_ok(run_task("rollout", {"definition": stable(namespace)}), True)
    route(custom_objects, namespace)

    rc, result, output = run_role(
        cluster.kubeconfig,
        tmp_path,
        gateway_vars(namespace, canary_canary_backend="web-v2", canary_steps=[50]),
    )

    assert rc != 0
    assert result == {}  # it failed in the checks, before it had anything to report
    assert (
        f"rule 0 of HTTPRoute {namespace}/web has no backend web-v2 (its backends: web, web-canary)"
        in " ".join(output.split())
    )
    assert track_pods(apps_v1, namespace) == {"web": (4, "registry.example/web:v1")}
