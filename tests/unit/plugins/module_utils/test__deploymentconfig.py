# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._deploymentconfig import (
    DeploymentConfigError,
    convert,
    is_deployment_config,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import RolloutInputError, build_request


def dc(**spec_extra):
    """A DeploymentConfig as `oc get dc -o yaml` shows one (trimmed)."""
    spec = {
        "replicas": 3,
        "selector": {"app": "frontend"},
        "minReadySeconds": 5,
        "revisionHistoryLimit": 4,
        "strategy": {
            "type": "Recreate",
            "recreateParams": {
                "timeoutSeconds": 120,
                "mid": {
                    "failurePolicy": "Abort",
                    "execNewPod": {"containerName": "helloworld", "command": ["/usr/bin/command", "arg1"]},
                },
            },
            "resources": {},
        },
        "template": {
            "metadata": {"labels": {"app": "frontend"}},
            "spec": {"containers": [{"name": "helloworld", "image": "registry.example/hello:1"}]},
        },
        "triggers": [{"type": "ConfigChange"}],
        "test": False,
    }
    spec.update(spec_extra)
    return {
        "apiVersion": "apps.openshift.io/v1",
        "kind": "DeploymentConfig",
        "metadata": {
            "name": "frontend",
            "namespace": "shop",
            "labels": {"team": "web"},
            "annotations": {"openshift.io/generated-by": "OpenShiftNewApp", "owner": "alice"},
        },
        "spec": spec,
        "status": {"latestVersion": 7},
    }


def test_a_deployment_config_becomes_a_deployment_with_its_strategy():
    given = dc()
    before = copy.deepcopy(given)
    converted = convert(given)
    assert converted.deployment == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "frontend",
            "namespace": "shop",
            "labels": {"team": "web"},
            "annotations": {"owner": "alice"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "frontend"}},
            "template": given["spec"]["template"],
            "replicas": 3,
            "minReadySeconds": 5,
            "revisionHistoryLimit": 4,
        },
    }
    assert converted.strategy == {k: v for k, v in given["spec"]["strategy"].items() if k != "resources"}
    assert converted.warnings == []
    assert converted.test is False
    assert given == before


@pytest.mark.parametrize(
    ("spec_extra", "selector"),
    [
        # No selector: OpenShift selects the template's labels.
        ({"selector": None}, {"matchLabels": {"app": "frontend"}}),
        ({"selector": {"matchLabels": {"app": "x"}}}, {"matchLabels": {"app": "x"}}),
    ],
)
def test_selectors(spec_extra, selector):
    given = dc(**spec_extra)
    if spec_extra.get("selector") is None:
        del given["spec"]["selector"]
    assert convert(given).deployment["spec"]["selector"] == selector


def test_an_image_change_trigger_is_warned_about_unless_images_does_its_job():
    given = dc(
        triggers=[
            {"type": "ConfigChange"},
            {
                "type": "ImageChange",
                "imageChangeParams": {
                    "automatic": True,
                    "containerNames": ["helloworld"],
                    "from": {"kind": "ImageStreamTag", "name": "hello:latest"},
                },
            },
        ]
    )
    converted = convert(given)
    assert (converted.warnings, converted.image_triggers) == ([], [("hello:latest", ["helloworld"])])
    # Said by the run that creates the Deployment only (the engine), not by every run after it.
    request = build_request({"definition": given})
    assert request.warnings == ()
    [warning] = [w for w in request.creation_warnings if w.startswith("ImageChange")]
    assert warning.startswith("ImageChange trigger (hello:latest -> helloworld) is not supported")
    # Given the image of each of its containers, the task does the trigger's job: no warning.
    request = build_request({"definition": given, "images": {"helloworld": "registry.example/hello:2"}})
    assert not [w for w in request.creation_warnings if w.startswith("ImageChange")]


def test_openshifts_own_pod_labels_are_warned_about_unless_the_template_has_them():
    # OpenShift's controller labels every pod deploymentconfig=frontend and deployment=frontend-<n>
    # (MakeDeployment); the Deployment's pods get the template's labels only.
    given = dc()
    converted = convert(given)
    assert converted.deployment["spec"]["template"]["metadata"]["labels"] == {"app": "frontend"}
    assert converted.pod_label_warning == (
        "OpenShift labels the pods of DeploymentConfig frontend deploymentconfig=frontend and "
        "deployment=frontend-<n>; this Deployment's pods have only the template's labels (app=frontend). "
        "A Service, NetworkPolicy or PodDisruptionBudget that selects deploymentconfig=frontend stops "
        "matching them once the DeploymentConfig's pods are gone: add deploymentconfig: frontend to the "
        "template's labels, or select by the template's labels "
        "(docs/deploymentconfig-migration.md#pod-labels-services-and-networkpolicies)"
    )
    # Said by the run that creates the Deployment (the engine), as the trigger warnings.
    request = build_request({"definition": given})
    assert request.warnings == () and request.creation_warnings == (converted.pod_label_warning,)

    # oc new-app's DCs carry deploymentconfig=<name> in the template (and the selector): kept, no warning.
    labelled = dc(selector={"deploymentconfig": "frontend"})
    labelled["spec"]["template"]["metadata"]["labels"]["deploymentconfig"] = "frontend"
    converted = convert(labelled)
    assert converted.pod_label_warning is None
    assert converted.deployment["spec"]["selector"] == {"matchLabels": {"deploymentconfig": "frontend"}}
    assert converted.deployment["spec"]["template"]["metadata"]["labels"] == {
        "app": "frontend",
        "deploymentconfig": "frontend",
    }
    assert build_request({"definition": labelled}).creation_warnings == ()


def test_a_container_left_blank_for_its_trigger_is_refused_unless_images_gives_it():
    given = dc()
    given["spec"]["template"]["spec"]["containers"][0]["image"] = " "
    with pytest.raises(RolloutInputError, match=r"^container helloworld of Deployment shop/frontend has no"):
        build_request({"definition": given})
    request = build_request({"definition": given, "images": {"helloworld": "registry.example/hello:2"}})
    assert request.body["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/hello:2"


def test_build_request_takes_the_dc_strategy_and_test_flag():
    request = build_request({"definition": dc(test=True)})
    assert request.test is True
    assert request.strategy is not None and request.strategy.type == "Recreate"
    assert request.strategy.timeout_seconds == 120
    assert set(request.strategy.hooks) == {"mid"}
    assert request.body["kind"] == "Deployment" and request.namespace == "shop"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d.update(apiVersion="apps/v2"),
            "DeploymentConfig apiVersion 'apps/v2' is unknown; use apps.openshift.io/v1",
        ),
        (lambda d: d["metadata"].pop("name"), "the DeploymentConfig has no metadata.name"),
        (lambda d: d["spec"].pop("template"), "the DeploymentConfig has no spec.template"),
    ],
)
def test_bad_deployment_configs(mutate, message):
    given = dc()
    mutate(given)
    with pytest.raises(DeploymentConfigError) as exc:
        convert(given)
    assert str(exc.value) == message


def test_is_deployment_config():
    assert is_deployment_config(dc())
    assert not is_deployment_config({"kind": "Deployment"})
    assert not is_deployment_config("kind: DeploymentConfig")
