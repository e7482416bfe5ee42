# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._hook_runner import HookRunner
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import ExecNewPod, Hook
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import Timeline
from ansible_collections.openrollout.k8s.plugins.modules.lifecycle_hook import (
    HookInputError,
    build_hook_job,
    check_phase,
    parse_task_hook,
    skipped_record,
)

DEPLOYMENT = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "uid": "d-1",
        "generation": 3,
        "annotations": {"deployment.kubernetes.io/revision": "3"},
    },
    "spec": {
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "app", "image": "web:3", "env": [{"name": "MODE", "value": "web"}]}],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        }
    },
    "status": {"observedGeneration": 3},
}

MIGRATE = Hook(
    failure_policy="Abort",
    exec_new_pod=ExecNewPod(container_name="app", command=["/app/migrate"], env=[], volumes=[]),
    tag_images=[],
)


def params(**overrides: Any) -> dict[str, Any]:
    """The module's options as Ansible passes them (defaults filled in)."""
    base = {
        "name": "web",
        "namespace": "shop",
        "hook": {"execNewPod": {"containerName": "app", "command": ["/app/migrate"]}},
        "phase": "manual",
        "revision": None,
        "labels": {},
        "annotations": {},
        "active_deadline_seconds": 21600,
        "timeout": None,
        "force": False,
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    "raw",
    [
        {"execNewPod": {"containerName": "app", "command": ["/app/migrate"]}},
        {"failure_policy": "abort", "exec_new_pod": {"container_name": "app", "command": ["/app/migrate"]}},
        {
            "failurePolicy": None,
            "execNewPod": {"containerName": "app", "command": ["/app/migrate"], "env": None},
        },
    ],
)
def test_hook_in_either_spelling(raw):
    assert parse_task_hook(raw) == MIGRATE


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"execNewPod": {"containerName": "app"}},
            "hook.execNewPod.command is required: the command the hook pod runs, like "
            "['/bin/sh', '-c', 'make migrate']",
        ),
        (
            {"failurePolicy": "Never", "execNewPod": {"containerName": "app", "command": ["x"]}},
            "hook.failurePolicy 'Never' is not a failure policy; use one of Abort, Retry, Ignore",
        ),
        (
            {"tagImages": [{"containerName": "app", "to": {"name": "web:prod"}}]},
            "hook: tagImages is not supported (there are no image streams on Kubernetes); "
            "give execNewPod, the pod the hook runs",
        ),
    ],
)
def test_bad_hooks(raw, message):
    with pytest.raises(HookInputError) as caught:
        parse_task_hook(raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("phase", "valid"),
    [
        ("manual", True),
        ("pre", True),
        ("mid", True),
        ("smoke-test", True),
        ("a1", True),
        ("x", True),
        ("a" * 20, True),
        ("a" * 21, False),
        ("Pre", False),
        ("pre_deploy", False),
        ("1st", False),
        ("pre-", False),
        ("", False),
    ],
)
def test_phase_names(phase, valid):
    if valid:
        assert check_phase(phase) == phase
    else:
        with pytest.raises(HookInputError, match="is not a valid phase name"):
            check_phase(phase)


def test_job_from_the_current_template_at_the_current_revision():
    hook, revision, job, warnings = build_hook_job(
        DEPLOYMENT,
        params(labels={"team": "shop"}, annotations={"note": "by hand"}, active_deadline_seconds=60),
    )
    assert (hook, revision, warnings) == (MIGRATE, 3, [])
    assert job["metadata"]["name"] == "web-3-hook-manual"
    assert job["metadata"]["labels"] == {
        "team": "shop",
        "openrollout.k8s/deployment": "web",
        "openrollout.k8s/hook": "manual",
        "openrollout.k8s/revision": "3",
    }
    assert job["metadata"]["annotations"] == {"note": "by hand"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "d-1"
    assert job["spec"]["activeDeadlineSeconds"] == 60
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "web:3"
    assert container["command"] == ["/app/migrate"]
    assert {"name": "OPENROLLOUT_DEPLOYMENT_REVISION", "value": "3"} in container["env"]


def test_openrollout_labels_cannot_be_overridden():
    job = build_hook_job(DEPLOYMENT, params(labels={"openrollout.k8s/hook": "other"}))[2]
    assert job["metadata"]["labels"]["openrollout.k8s/hook"] == "manual"


def test_revision_defaults_to_1_before_the_controller_numbers_it():
    fresh = copy.deepcopy(DEPLOYMENT)
    del fresh["metadata"]["annotations"]
    fresh["status"] = {}
    _hook, revision, job, warnings = build_hook_job(fresh, params())
    assert revision == 1
    assert job["metadata"]["name"] == "web-1-hook-manual"
    assert warnings == [
        "the Deployment controller has not yet observed the Deployment's latest change: its "
        "revision annotation may not be that of the current pod template"
    ]


def test_another_revision_names_the_job_and_warns():
    _hook, revision, job, warnings = build_hook_job(DEPLOYMENT, params(revision=2, phase="mid"))
    assert revision == 2
    assert job["metadata"]["name"] == "web-2-hook-mid"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "web:3"
    assert warnings == [
        "revision 2 is not the Deployment's current revision 3: the hook pod is built from the "
        "current pod template (revision 3), not from revision 2's"
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"hook": {"execNewPod": {"containerName": "nope", "command": ["x"]}}},
            "hook: container 'nope' is not a container of the pod template; containers: app",
        ),
        (
            {"hook": {"execNewPod": {"containerName": "app", "command": ["x"], "volumes": ["logs"]}}},
            "hook: volume 'logs' is not a volume of the pod template; volumes: data",
        ),
        ({"labels": {"tier": 1}}, "labels.tier must be a string, got 1 (quote it in YAML)"),
        ({"annotations": {"": "x"}}, "annotations: keys must be non-empty strings, got ''"),
        ({"active_deadline_seconds": 0}, "active_deadline_seconds must be greater than 0, got 0"),
        ({"revision": 0}, "revision must be greater than 0, got 0"),
        ({"phase": "Pre"}, "phase 'Pre' is not a valid phase name"),
    ],
)
def test_bad_options(overrides, message):
    with pytest.raises(HookInputError) as caught:
        build_hook_job(DEPLOYMENT, params(**overrides))
    assert str(caught.value).startswith(message)


class _SucceededJobClient:
    """Just enough of KubeClient for HookRunner to find a Job that already succeeded."""

    def get(self, what: str, resource: Any, namespace: str, name: str) -> Any:
        assert resource.kind == "Job"
        return {
            "metadata": {"name": name, "namespace": namespace, "uid": "j-1"},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]},
        }

    def list(self, what: str, resource: Any, namespace: str, **selectors: Any) -> Any:
        assert resource.kind == "Pod"
        return []


def test_check_mode_predicts_the_runners_skip_record():
    job = build_hook_job(DEPLOYMENT, params())[2]
    runner = HookRunner(_SucceededJobClient(), Timeline())  # type: ignore[arg-type]
    record = runner.run(job, MIGRATE, "manual", lambda: None)
    assert record == skipped_record("manual", "web-3-hook-manual", MIGRATE)
