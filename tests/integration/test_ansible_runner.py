"""playbooks/deploy.yml as AWX runs a job template: through ansible-runner, with extra vars only.

AWX hands ansible-runner a private data directory, the job template's extra vars, and the environment
its credentials inject: a Kubernetes credential sets K8S_AUTH_* variables, which the collection's
modules read. The job must succeed and its events must show the rollout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

ansible_runner = pytest.importorskip("ansible_runner")

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _deployment(namespace: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def _run_job(tmp_path: Path, cluster: Any, extravars: dict[str, Any]) -> Any:
    (tmp_path / "job").mkdir(exist_ok=True)
    return ansible_runner.run(
        private_data_dir=str(tmp_path / "job"),
        project_dir=str(REPO_ROOT / "playbooks"),
        playbook="deploy.yml",
        extravars=extravars,
        envvars={
            "K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "build"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        },
        quiet=True,
        timeout=600,
    )


def _rollout_results(job: Any) -> list[dict[str, Any]]:
    """The results of the openrollout.k8s.rollout tasks that ran (not the dry-run plan)."""
    return [
        event["event_data"]["res"]
        for event in job.events
        if event.get("event") == "runner_on_ok"
        and event["event_data"].get("task_action") == "openrollout.k8s.rollout"
        and event["event_data"]["task"].startswith("Roll out ")
    ]


def test_deploy_playbook_runs_as_a_job_with_extra_vars(
    tmp_path: Path, cluster: Any, namespace: str, apps_v1: client.AppsV1Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ansible-runner runs the ansible-playbook it finds on PATH: the venv's, as in an execution environment.
    monkeypatch.setenv("PATH", f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    extravars = {
        "deploy_definition": _deployment(namespace, "registry.example/web:v1"),
        "deploy_namespace": namespace,
        "deploy_change_cause": "web v1 from a job",
        "deploy_smoke_jmespath": "deployment.status.availableReplicas == deployment.spec.replicas",
    }
    job = _run_job(tmp_path, cluster, extravars)

    assert (job.status, job.rc) == ("successful", 0), "\n".join(job.stdout.read().splitlines()[-40:])
    assert job.stats["failures"] == {} and job.stats["ok"]
    rollouts = _rollout_results(job)
    assert [(r["changed"], r["revision"], r["previous_revision"]) for r in rollouts] == [(True, 1, None)]
    assert [e["event"] for e in rollouts[0]["timeline"]][-1] == "complete"
    report = next(
        e["event_data"]["res"]["msg"]
        for e in job.events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == "Show what happened"
    )
    assert report[0] == f"{namespace}/web is at revision 1 (new, the first)"

    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.metadata.annotations["kubernetes.io/change-cause"] == "web v1 from a job"
    assert live.status.available_replicas == 2

    # The same job again: the events show no rollout, nothing changed.
    again = _run_job(tmp_path, cluster, extravars)
    assert (again.status, again.rc) == ("successful", 0)
    assert again.stats["changed"] == {}
    assert [r["changed"] for r in _rollout_results(again)] == [False]
