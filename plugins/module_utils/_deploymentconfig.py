# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

# An OpenShift DeploymentConfig (apps.openshift.io/v1) as a Deployment plus our strategy, so that
# a DC manifest can be rolled out as it is on plain Kubernetes. Pure. The mapping, field by field,
# is in docs/deploymentconfig-migration.md.

DC_API_VERSIONS = ("apps.openshift.io/v1", "v1")
# DC annotations that only OpenShift's controllers read.
_OPENSHIFT_ANNOTATION_PREFIXES = ("openshift.io/", "deploymentconfig.openshift.io/")
# The labels OpenShift's DeploymentConfig controller adds to every pod of a DC, whatever its template
# says (openshift/origin pkg/apps/util/util.go, MakeDeployment; the names in pkg/apps/util/const.go):
# deploymentconfig=<dc name> and deployment=<dc name>-<latestVersion>. A Deployment's pods get only
# their template's labels (and pod-template-hash).
DC_POD_LABEL = "deploymentconfig"
DC_REVISION_POD_LABEL = "deployment"


class DeploymentConfigError(ValueError):
    """The DeploymentConfig cannot become a Deployment; the message says why."""


@dataclass
class ConvertedDeploymentConfig:
    """The Deployment, the DC's strategy block (our input form), what was left out, and ``test``."""

    deployment: dict[str, Any]
    strategy: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    test: bool = False
    # The ImageChange triggers from an ImageStreamTag, dropped: (image stream tag, container
    # names), for image_trigger_warning.
    image_triggers: list[tuple[str, list[str]]] = field(default_factory=list)
    # The ImageChange triggers from a DockerImage (an image reference, which OpenShift's own API
    # refuses but hand-written manifests have): (reference, container names). The rollout
    # module's image_trigger follows them (_rollout.build_request).
    docker_image_triggers: list[tuple[str, list[str]]] = field(default_factory=list)
    # Why Services or NetworkPolicies that select OpenShift's own pod labels would lose the pods
    # (None when the template carries deploymentconfig=<name> itself), for the run that creates the
    # Deployment.
    pod_label_warning: str | None = None


def pod_label_warning(name: str, template_labels: dict[str, Any]) -> str | None:
    """The warning for a DC whose pods get deploymentconfig=<name> only from OpenShift's controller.

    None when the template has its own deploymentconfig label (``oc new-app`` writes
    ``deploymentconfig: <name>`` into the selector and the template, so its Services keep matching).
    """
    if DC_POD_LABEL in template_labels:
        return None
    labels = ", ".join(f"{key}={value}" for key, value in sorted(template_labels.items())) or "none"
    return (
        f"OpenShift labels the pods of DeploymentConfig {name} {DC_POD_LABEL}={name} and "
        f"{DC_REVISION_POD_LABEL}={name}-<n>; this Deployment's pods have only the template's labels "
        f"({labels}). A Service, NetworkPolicy or PodDisruptionBudget that selects {DC_POD_LABEL}={name} "
        f"stops matching them once the DeploymentConfig's pods are gone: add {DC_POD_LABEL}: {name} to "
        "the template's labels, or select by the template's labels "
        "(docs/deploymentconfig-migration.md#pod-labels-services-and-networkpolicies)"
    )


def image_trigger_warning(tag: str, containers: list[str]) -> str:
    """The warning for an ImageChange trigger from an ImageStreamTag that nothing replaces."""
    names = ", ".join(containers) or "its containers"
    first = containers[0] if containers else "app"
    _repository, _sep, tag_name = tag.rpartition(":")
    return (
        f"ImageChange trigger ({tag} -> {names}) is not supported: Kubernetes has no image "
        "streams. To roll out when the tag moves, give image_trigger: {} with images: "
        f"{{{first}: <registry>/<repository>:{tag_name or 'latest'}}} (the image stream's registry "
        "reference), resolved against the registry at each run; or pass images: {container: image} "
        "from your pipeline when a new image is built"
    )


def docker_image_trigger_warning(reference: str, containers: list[str]) -> str:
    """The warning for an ImageChange trigger from a DockerImage when the task has no image_trigger."""
    names = ", ".join(containers) or "its containers"
    return (
        f"ImageChange trigger (DockerImage {reference} -> {names}) is followed only with the "
        "image_trigger option: give image_trigger: {} to resolve the tag against the registry at "
        "each run; without it the trigger is dropped"
    )


def is_deployment_config(definition: Any) -> bool:
    return isinstance(definition, dict) and definition.get("kind") == "DeploymentConfig"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def convert(dc: dict[str, Any]) -> ConvertedDeploymentConfig:
    """A DeploymentConfig as a Deployment.

    Kept: name, namespace, labels, annotations (not OpenShift's own), replicas, selector
    (a DC's plain label map becomes matchLabels; none means the template's labels, as in
    OpenShift), template, minReadySeconds, revisionHistoryLimit, paused. The strategy block
    goes to the rollout module as it is (it speaks DC). Triggers: ConfigChange is what the
    module does anyway; ImageChange from an ImageStreamTag has no image stream to watch here, so it
    is dropped (``image_triggers`` says which, for a warning where it matters); from a DockerImage
    it goes to ``docker_image_triggers``, which the rollout module's image_trigger follows. A
    container left without an image for its trigger is the rollout's to refuse
    (_rollout.blank_image_refusal). The labels OpenShift's controller adds to the pods
    (deploymentconfig, deployment) are not added: ``pod_label_warning`` says so when the template
    lacks deploymentconfig. ``test: true`` is returned for the engine to scale to 0 after
    success.
    """
    api_version = dc.get("apiVersion")
    if api_version not in DC_API_VERSIONS:
        raise DeploymentConfigError(
            f"DeploymentConfig apiVersion {api_version!r} is unknown; use apps.openshift.io/v1"
        )
    metadata = _dict(dc.get("metadata"))
    spec = _dict(dc.get("spec"))
    if not metadata.get("name"):
        raise DeploymentConfigError("the DeploymentConfig has no metadata.name")
    template = copy.deepcopy(_dict(spec.get("template")))
    if not template:
        raise DeploymentConfigError("the DeploymentConfig has no spec.template")
    warnings: list[str] = []
    image_triggers: list[tuple[str, list[str]]] = []
    docker_image_triggers: list[tuple[str, list[str]]] = []

    selector = spec.get("selector")
    if selector is None:
        selector = _dict(_dict(template.get("metadata")).get("labels"))
    if not isinstance(selector, dict) or not selector:
        raise DeploymentConfigError(
            "the DeploymentConfig has no spec.selector and its template has no labels: "
            "a Deployment needs a selector"
        )
    if "matchLabels" in selector or "matchExpressions" in selector:
        label_selector = copy.deepcopy(selector)
    else:
        label_selector = {"matchLabels": {str(k): str(v) for k, v in selector.items()}}

    for trigger in spec.get("triggers") or []:
        kind = _dict(trigger).get("type")
        if kind == "ImageChange":
            params = _dict(_dict(trigger).get("imageChangeParams"))
            names = [str(name) for name in params.get("containerNames") or []]
            source = _dict(params.get("from"))
            if source.get("kind") == "DockerImage" and source.get("name"):
                docker_image_triggers.append((str(source["name"]), names))
            else:
                image_triggers.append((str(source.get("name", "an image stream tag")), names))
        elif kind not in ("ConfigChange", None):
            warnings.append(f"trigger {kind!r} is not supported and was ignored")

    deployment_metadata: dict[str, Any] = {"name": metadata["name"]}
    if metadata.get("namespace"):
        deployment_metadata["namespace"] = metadata["namespace"]
    if metadata.get("labels"):
        deployment_metadata["labels"] = copy.deepcopy(metadata["labels"])
    annotations = {
        key: value
        for key, value in _dict(metadata.get("annotations")).items()
        if not key.startswith(_OPENSHIFT_ANNOTATION_PREFIXES)
    }
    if annotations:
        deployment_metadata["annotations"] = annotations

    deployment_spec: dict[str, Any] = {"selector": label_selector, "template": template}
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit", "paused"):
        if key in spec:
            deployment_spec[key] = copy.deepcopy(spec[key])
    if "replicas" not in deployment_spec:
        deployment_spec["replicas"] = 1  # a DC's default, as a Deployment's

    strategy = copy.deepcopy(spec["strategy"]) if isinstance(spec.get("strategy"), dict) else None
    if strategy is not None and not strategy.get("resources"):
        strategy.pop("resources", None)  # `resources: {}` is common in exported DCs
    return ConvertedDeploymentConfig(
        deployment={
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": deployment_metadata,
            "spec": deployment_spec,
        },
        strategy=strategy,
        warnings=warnings,
        image_triggers=image_triggers,
        docker_image_triggers=docker_image_triggers,
        pod_label_warning=pod_label_warning(
            str(metadata["name"]), _dict(_dict(template.get("metadata")).get("labels"))
        ),
        test=bool(spec.get("test")),
    )


__all__ = [
    "DC_POD_LABEL",
    "DC_REVISION_POD_LABEL",
    "ConvertedDeploymentConfig",
    "DeploymentConfigError",
    "convert",
    "docker_image_trigger_warning",
    "image_trigger_warning",
    "is_deployment_config",
    "pod_label_warning",
]
