# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from ._deploymentconfig import (
    DeploymentConfigError,
    docker_image_trigger_warning,
    image_trigger_warning,
    is_deployment_config,
)
from ._deploymentconfig import convert as convert_deployment_config
from ._fenceposts import plan_recreate_steps, plan_rolling_steps, resolve_fenceposts
from ._image_trigger import ImageTriggerInputError, TriggerOptions, parse_options
from ._revisions import (
    CHANGE_CAUSE_ANNOTATION,
    equal_ignore_hash,
    find_new_replica_set,
    find_old_replica_sets,
    owned_by,
)
from ._status import (
    PodProblem,
    ProgressTracker,
    deployment_status,
    mount_problems,
    pod_problems,
    progress_snapshot,
    replica_set_problems,
    summarize_problems,
    unrecoverable,
)
from ._strategy import (
    STRATEGY_ANNOTATION,
    STRATEGY_CUSTOM,
    STRATEGY_RECREATE,
    STRATEGY_ROLLING,
    Strategy,
    StrategyError,
    parse_strategy,
    strategy_annotation,
)
from ._workload_rollout import (
    DAEMON_SET,
    STATEFUL_SET,
    WORKLOAD_KINDS,
    merge_update_strategy,
    workload_strategy,
)
from ._workloads import pod_ready

# What the rollout module decides, on plain dicts and without a clock: the request read
# from the module's options, what changes between the live Deployment and the desired one,
# the Deployment strategy that carries ours, the step plan, and whether a wait is over
# (done, still moving, or failed and why). The engine (_engine.py) acts on these answers.

FIELD_MANAGER = "openrollout.k8s"
DEPLOYMENT_API_VERSION = "apps/v1"
DEPLOYMENT = "Deployment"
ROLLOUT_KINDS = (DEPLOYMENT, *WORKLOAD_KINDS)

# Metadata the API server owns: never sent back in a write.
_SERVER_METADATA = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

# What a wait waits for (see assess()).
GOAL_COMPLETE = "complete"  # kubectl rollout status says done
GOAL_CANARY = "canary"  # one pod of the new revision available (Rolling, canary-first)
GOAL_OLD_GONE = "old_gone"  # Recreate: no pod of an older revision left, new ReplicaSet made
GOAL_NEW_AVAILABLE = "new_available"  # Recreate: ``target`` pods of the new revision available

# Failure reasons that are not pod reasons.
REASON_TIMEOUT = "Timeout"
REASON_WAIT_TIMEOUT = "WaitTimeout"
REASON_DELETED = "Deleted"
# An API error (a ClientError: 403, 409 after the retries, 422, the API unreachable for longer
# than the client's retries) once a run has written to the object: the rollout takes the path of
# a failed step (rollback per rollback_on_failure), an undo says what it wrote. Before any write,
# an API error fails the task with its message alone.
REASON_API_ERROR = "APIError"


class RolloutInputError(ValueError):
    """The module's options do not describe a rollout; the message says which and why."""


@dataclass(frozen=True)
class RolloutRequest:
    """A validated rollout request.

    ``body`` is the Deployment to apply (definition mode), without ``spec.strategy`` and
    ``spec.paused``, which the engine sets itself; None in name mode, where ``images`` and
    ``replicas`` change the live Deployment. ``strategy`` is None when neither the task nor
    the definition gives one: the live Deployment's strategy is kept then.

    ``kind`` StatefulSet or DaemonSet: ``body`` keeps its ``spec.updateStrategy`` (with the
    task's fields merged in), ``update_strategy`` holds the fields the task sets (for name mode),
    and ``strategy`` only brings hooks and timeoutSeconds (_workload_rollout.workload_strategy).
    """

    namespace: str
    name: str
    body: dict[str, Any] | None
    images: dict[str, str]
    replicas: int | None
    strategy: Strategy | None
    change_cause: str | None
    rollback_on_failure: bool
    wait: bool
    wait_timeout: int | None
    stop_before: str | None = None
    # From a DeploymentConfig: what was left out of it, and `test: true` (scale to 0 after success).
    warnings: tuple[str, ...] = ()
    test: bool = False
    # Said only by the run that creates the Deployment (an ImageChange trigger dropped): the
    # migration's first run, not every run after it.
    creation_warnings: tuple[str, ...] = ()
    kind: str = DEPLOYMENT
    partition: int | None = None
    update_strategy: dict[str, Any] | None = None
    # Run lifecycle hooks (the task's, else those recorded on the Deployment)? The module's
    # ``hooks`` option, as on rollout_undo. ``strategy_source``: where ``strategy`` came from,
    # "task" (the strategy option) or "definition" (its spec.strategy, a DeploymentConfig's).
    hooks: bool = True
    strategy_source: str | None = None
    # The image_trigger option: the followed tags are resolved to digests before the rollout
    # (_image_resolution.py), which turns this request into one with the images pinned.
    image_trigger: TriggerOptions | None = None
    # The analysis option (_rollout_analysis.with_analysis): an _analysis_options.AnalysisSpec,
    # and, once its Secrets are read (the module's run), the _analysis.AnalysisRun to measure.
    analysis: Any = None
    analysis_run: Any = None


@dataclass(frozen=True)
class Change:
    """What applying the request changes on the live Deployment."""

    created: bool
    template: bool
    replicas: bool
    spec: bool
    metadata: bool
    strategy: bool

    @property
    def any(self) -> bool:
        return self.created or self.spec or self.metadata or self.strategy

    def summary(self) -> dict[str, bool]:
        """The module result's ``change``."""
        return {
            "created": self.created,
            "template": self.template,
            "replicas": self.replicas,
            "strategy": self.strategy,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class Failure:
    """Why a rollout stopped: ``reason`` (CrashLoopBackOff, ProgressDeadlineExceeded, Timeout ...)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Assessment:
    """One look at a wait: done, failed (``failure``), or still going (``message`` says on what)."""

    done: bool
    failure: Failure | None
    message: str


# --- the request ----------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def strategy_from_deployment_strategy(k8s_strategy: Any) -> dict[str, Any] | None:
    """A Deployment's ``spec.strategy`` as our strategy block (None when it has none).

    {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        -> {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0}}
    {"type": "Recreate"} -> {"type": "Recreate"}
    """
    if not isinstance(k8s_strategy, dict) or not k8s_strategy:
        return None
    kind = k8s_strategy.get("type", "RollingUpdate")
    if kind == "Recreate":
        return {"type": STRATEGY_RECREATE}
    if kind != "RollingUpdate":
        raise RolloutInputError(
            f"spec.strategy.type {kind!r} is not a Deployment strategy (RollingUpdate or Recreate)"
        )
    params = {
        key: value
        for key, value in _dict(k8s_strategy.get("rollingUpdate")).items()
        if key in ("maxSurge", "maxUnavailable")
    }
    return {"type": STRATEGY_ROLLING, "rollingParams": params}


def deployment_strategy(strategy: Strategy, canary: bool = False) -> dict[str, Any]:
    """The Deployment ``spec.strategy`` that carries ``strategy``.

    Rolling -> RollingUpdate with the same maxSurge / maxUnavailable; with ``canary``,
    maxUnavailable 0 so that no old pod goes before a new one is available. Recreate ->
    Recreate, with ``rollingUpdate: None`` so that a merge patch removes the old one.
    """
    # Custom: the controller's strategy for when the deployer resumes the Deployment, from the
    # parameters given with it (rollingParams, the default, or recreateParams).
    recreate_like = strategy.type == STRATEGY_CUSTOM and strategy.interval_seconds is None
    if strategy.type == STRATEGY_RECREATE or recreate_like:
        return {"type": "Recreate", "rollingUpdate": None}
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {
            "maxSurge": strategy.max_surge,
            "maxUnavailable": 0 if canary else strategy.max_unavailable,
        },
    }


def same_deployment_strategy(live: Any, wanted: dict[str, Any]) -> bool:
    """Does the live ``spec.strategy`` already say what ``wanted`` says? (1 and "1" are equal)."""
    live = _dict(live)
    if live.get("type", "RollingUpdate") != wanted["type"]:
        return False
    if wanted["type"] == "Recreate":
        return not live.get("rollingUpdate")
    live_params = _dict(live.get("rollingUpdate"))
    return all(
        str(live_params.get(key, "25%")) == str(value) for key, value in wanted["rollingUpdate"].items()
    )


def _definition(definition: Any) -> dict[str, Any]:
    if not isinstance(definition, dict):
        raise RolloutInputError(
            f"definition must be a Deployment (or a StatefulSet or DaemonSet) as a dictionary "
            f"(or YAML text of one), not {type(definition).__name__}"
        )
    kind = definition.get("kind")
    if kind not in ROLLOUT_KINDS:
        raise RolloutInputError(
            f"definition has kind {kind!r}: this module rolls out kind Deployment, StatefulSet or DaemonSet "
            "(apiVersion apps/v1) or DeploymentConfig (apps.openshift.io/v1)"
        )
    api_version = definition.get("apiVersion", DEPLOYMENT_API_VERSION)
    if api_version != DEPLOYMENT_API_VERSION:
        raise RolloutInputError(f"definition has apiVersion {api_version!r}: use apps/v1 for a {kind}")
    if not isinstance(definition.get("metadata"), dict) or not definition["metadata"].get("name"):
        raise RolloutInputError("definition has no metadata.name")
    if not isinstance(definition.get("spec"), dict):
        raise RolloutInputError("definition has no spec")
    return definition


def _kind(params: dict[str, Any], definition: Any) -> str:
    """The kind rolled out: the definition's (a DeploymentConfig's is Deployment), else the option's."""
    option = params.get("kind")
    if option is not None and option not in ROLLOUT_KINDS:
        raise RolloutInputError(f"kind must be one of {', '.join(ROLLOUT_KINDS)}, got {option!r}")
    if definition is None:
        return str(option or DEPLOYMENT)
    given = DEPLOYMENT if is_deployment_config(definition) else _definition(definition)["kind"]
    if option not in (None, given):
        raise RolloutInputError(f"kind {option!r} differs from the definition's kind {given!r}")
    return str(given)


def _workload_options(kind: str, params: dict[str, Any]) -> None:
    """Options that only a Deployment rollout has, refused for other kinds with the reason."""
    if kind == DAEMON_SET and params.get("replicas") is not None:
        raise RolloutInputError(
            "a DaemonSet has no replicas: it runs one pod on each node its selector and tolerations allow"
        )
    if kind in WORKLOAD_KINDS and params.get("stop_before") is not None:
        raise RolloutInputError(
            f"stop_before is for Deployments (the module's own phases); a {kind}'s controller rolls it out "
            "in one go. Use partition for a staged StatefulSet rollout"
            if kind == STATEFUL_SET
            else f"stop_before is for Deployments (the module's own phases); a {kind}'s controller rolls it "
            "out in one go"
        )
    if kind == DEPLOYMENT and params.get("partition") is not None:
        raise RolloutInputError(
            "partition is for StatefulSets (a staged rollout by ordinal); for a Deployment use the canary "
            "role, or stop_before"
        )


def build_request(params: dict[str, Any]) -> RolloutRequest:
    """Read the rollout module's options (already type-checked by Ansible) into a request.

    ``params["definition"]`` is a dict here (the module reads ``src`` and YAML text first).
    The strategy comes from the ``strategy`` option, else from the definition's
    ``spec.strategy``, else None (keep the live one; a new Deployment gets Rolling 25%/25%).
    """
    definition = params.get("definition")
    images = dict(params.get("images") or {})
    replicas = params.get("replicas")
    if replicas is not None and replicas < 0:
        raise RolloutInputError(f"replicas must be 0 or more, got {replicas}")
    wait_timeout = params.get("wait_timeout")
    if wait_timeout is not None and wait_timeout <= 0:
        raise RolloutInputError(f"wait_timeout must be more than 0 seconds, got {wait_timeout}")
    for container, image in images.items():
        if not isinstance(image, str) or not image.strip():
            raise RolloutInputError(f"images.{container} must be an image reference, got {image!r}")

    try:
        trigger = parse_options(params.get("image_trigger"))
    except ImageTriggerInputError as exc:
        raise RolloutInputError(str(exc)) from None

    raw_strategy = params.get("strategy")
    strategy_source = "task" if raw_strategy is not None else None
    kind = _kind(params, definition)
    _workload_options(kind, params)
    update_strategy = None
    if kind in WORKLOAD_KINDS:
        try:
            raw_strategy, update_strategy = workload_strategy(kind, raw_strategy, params.get("partition"))
        except StrategyError as exc:
            raise RolloutInputError(str(exc)) from None
    body = None
    warnings: list[str] = []
    creation_warnings: list[str] = []
    test = False
    if is_deployment_config(definition):
        try:
            converted = convert_deployment_config(dict(definition or {}))
        except DeploymentConfigError as exc:
            raise RolloutInputError(str(exc)) from None
        definition = converted.deployment
        if raw_strategy is None:
            raw_strategy = converted.strategy
            strategy_source = "definition" if raw_strategy is not None else None
        warnings = list(converted.warnings)
        # A trigger whose containers all get their image from the task is done by the task.
        creation_warnings = [
            image_trigger_warning(tag, containers)
            for tag, containers in converted.image_triggers
            if not (images and set(containers) <= set(images))
        ]
        if converted.pod_label_warning:
            creation_warnings.append(converted.pod_label_warning)
        if trigger is None:
            creation_warnings.extend(
                docker_image_trigger_warning(reference, containers)
                for reference, containers in converted.docker_image_triggers
                if not (images and set(containers) <= set(images))
            )
        else:
            trigger = _dc_image_trigger(trigger, converted.deployment, converted, images)
        test = converted.test
    if definition is not None:
        definition = _definition(definition)
        body = copy.deepcopy(definition)
        body["apiVersion"] = DEPLOYMENT_API_VERSION
        metadata = body["metadata"]
        for key in _SERVER_METADATA:
            metadata.pop(key, None)
        # A definition saved with `kubectl get -o yaml` carries the controller's bookkeeping
        # (deployment.kubernetes.io/revision ...): applying it would fight the controller.
        if isinstance(metadata.get("annotations"), dict):
            metadata["annotations"] = {
                key: value
                for key, value in metadata["annotations"].items()
                if not key.startswith("deployment.kubernetes.io/")
            }
        body.pop("status", None)
        namespace = params.get("namespace") or metadata.get("namespace") or "default"
        if metadata.get("namespace") not in (None, namespace):
            raise RolloutInputError(
                f"namespace {namespace!r} differs from the definition's metadata.namespace "
                f"{metadata['namespace']!r}; give one of them"
            )
        metadata["namespace"] = namespace
        name = str(metadata["name"])
        if params.get("name") not in (None, name):
            raise RolloutInputError(
                f"name {params['name']!r} differs from the definition's metadata.name {name!r}"
            )
        spec = body["spec"]
        if kind == DEPLOYMENT:
            definition_strategy = spec.pop("strategy", None)
            spec.pop("paused", None)
            if raw_strategy is None:
                raw_strategy = strategy_from_deployment_strategy(definition_strategy)
                strategy_source = "definition" if raw_strategy is not None else None
        elif update_strategy is not None:
            spec["updateStrategy"] = merge_update_strategy(spec.get("updateStrategy"), update_strategy)
        if replicas is not None:
            spec["replicas"] = replicas
        if images:
            set_images(spec.get("template"), images)
        refusal = blank_image_refusal(spec.get("template"), f"{kind} {namespace}/{name}")
        if refusal is not None:
            raise RolloutInputError(refusal)
    else:
        if not params.get("name"):
            raise RolloutInputError(
                "give definition (or src) with the Deployment, or name of an existing one"
            )
        nothing = (
            raw_strategy is None
            and update_strategy is None
            and params.get("change_cause") is None
            and trigger is None
        )
        if not images and replicas is None and nothing:
            options = (
                "images, replicas, strategy, partition"
                if kind == STATEFUL_SET
                else "images, replicas, strategy"
            )
            raise RolloutInputError(
                f"nothing to change: with name, give {options} or change_cause "
                f"(or give the whole {kind} as definition)"
            )
        namespace = params.get("namespace") or "default"
        name = str(params["name"])

    try:
        strategy = parse_strategy(raw_strategy) if raw_strategy is not None else None
    except StrategyError as exc:
        raise RolloutInputError(str(exc)) from None
    stop_before = params.get("stop_before")
    if stop_before not in (None, "mid", "post"):
        raise RolloutInputError(f"stop_before must be mid or post, got {stop_before!r}")
    if stop_before is not None and not params.get("wait", True):
        raise RolloutInputError(
            "stop_before needs wait=true: the phases are the module's, not the controller's"
        )
    return RolloutRequest(
        kind=kind,
        partition=params.get("partition"),
        update_strategy=update_strategy,
        warnings=tuple(warnings),
        creation_warnings=tuple(creation_warnings),
        test=test,
        stop_before=stop_before,
        namespace=namespace,
        name=name,
        body=body,
        images=images,
        replicas=replicas,
        strategy=strategy,
        change_cause=params.get("change_cause"),
        rollback_on_failure=bool(params.get("rollback_on_failure", True)),
        wait=bool(params.get("wait", True)),
        wait_timeout=wait_timeout,
        hooks=params.get("hooks") is not False,
        strategy_source=strategy_source if strategy is not None else None,
        image_trigger=trigger,
    )


def _dc_image_trigger(
    trigger: TriggerOptions, deployment: dict[str, Any], converted: Any, images: dict[str, str]
) -> TriggerOptions:
    """A DeploymentConfig's ImageChange triggers, followed by the task's image_trigger.

    Without image_trigger.containers, the containers followed are the triggers' containerNames.
    A DockerImage trigger's reference becomes its containers' image (as OpenShift's trigger sets
    it), unless the task's images names the container. ``deployment`` is changed in place.
    """
    names: list[str] = []
    for reference, containers in converted.docker_image_triggers:
        wanted = {name: reference for name in containers if name not in images}
        if wanted:
            set_images(_dict(deployment.get("spec")).get("template"), wanted)
        names.extend(containers)
    for _tag, containers in converted.image_triggers:
        names.extend(name for name in containers if name in images)
    if trigger.containers is not None or not names:
        return trigger
    return dataclasses.replace(trigger, containers=tuple(dict.fromkeys(names)))


def blank_images(template: Any) -> list[str]:
    """The containers (init containers too) of a pod template with no image, or a blank one.

    The API takes a template with ``image: " "`` (a DeploymentConfig leaves that for its
    ImageChange trigger to fill in), but no pod can be made from it.
    """
    spec = _dict(_dict(template).get("spec"))
    return [
        str(container.get("name"))
        for key in ("initContainers", "containers")
        for container in spec.get(key) or []
        if isinstance(container, dict)
        and not (isinstance(container.get("image"), str) and container["image"].strip())
    ]


def blank_image_refusal(template: Any, what: str) -> str | None:
    """Why a template with blank images is refused before anything is written (None: it has none)."""
    blank = blank_images(template)
    if not blank:
        return None
    return (
        f"container {', '.join(blank)} of {what} has no image (empty or blank): the ReplicaSet controller "
        f"could not create a pod from it (a DeploymentConfig leaves it to its ImageChange trigger); "
        f"give it with images: {{{blank[0]}: <image>}}, or in the definition. Nothing was changed"
    )


def container_names(template: Any) -> list[str]:
    spec = _dict(_dict(template).get("spec"))
    names = []
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict) and container.get("name"):
                names.append(str(container["name"]))
    return names


def set_images(template: Any, images: dict[str, str]) -> None:
    """Set each named container's image in ``template`` (in place); unknown names are an error."""
    known = container_names(template)
    unknown = sorted(set(images) - set(known))
    if unknown:
        raise RolloutInputError(
            f"images names container(s) {', '.join(unknown)} that the pod template does not have; "
            f"containers: {', '.join(known) or 'none'}"
        )
    spec = _dict(_dict(template).get("spec"))
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict) and container.get("name") in images:
                container["image"] = images[container["name"]]


def name_mode_patch(request: RolloutRequest, live: dict[str, Any]) -> dict[str, Any]:
    """The strategic merge patch for name mode: only what the options change.

    Containers are merged by name, so one image changes and nothing else does.
    """
    patch: dict[str, Any] = {"metadata": {}, "spec": {}}
    if request.images:
        set_images(copy.deepcopy(_dict(live.get("spec")).get("template")), request.images)  # validates
        containers: list[dict[str, str]] = []
        init_containers: list[dict[str, str]] = []
        template_spec = _dict(_dict(_dict(live.get("spec")).get("template")).get("spec"))
        init_names = {c.get("name") for c in template_spec.get("initContainers") or [] if isinstance(c, dict)}
        for container, image in sorted(request.images.items()):
            entry = {"name": container, "image": image}
            (init_containers if container in init_names else containers).append(entry)
        template_patch: dict[str, Any] = {}
        if containers:
            template_patch["containers"] = containers
        if init_containers:
            template_patch["initContainers"] = init_containers
        patch["spec"]["template"] = {"spec": template_patch}
    if request.replicas is not None:
        patch["spec"]["replicas"] = request.replicas
    if request.update_strategy is not None:
        patch["spec"]["updateStrategy"] = copy.deepcopy(request.update_strategy)
    if request.change_cause is not None:
        patch["metadata"]["annotations"] = {CHANGE_CAUSE_ANNOTATION: request.change_cause}
    if request.kind == DEPLOYMENT and request.strategy is not None:
        patch["metadata"].setdefault("annotations", {})[STRATEGY_ANNOTATION] = strategy_annotation(
            request.strategy
        )
    return patch


def apply_body(
    request: RolloutRequest, replicas: int | None = None, live: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The server-side apply body (definition mode), optionally with ``replicas`` in place of the user's.

    A Deployment's body records the task's strategy (STRATEGY_ANNOTATION). Without one, the
    live Deployment keeps its strategy, and so the recorded one too: it is carried over from
    ``live``, else the apply would remove it.
    """
    if request.body is None:
        raise ValueError("apply_body needs a definition")
    body = copy.deepcopy(request.body)
    # "annotations:" with nothing under it is null in YAML.
    annotations = dict(body["metadata"].get("annotations") or {})
    if request.change_cause is not None:
        annotations[CHANGE_CAUSE_ANNOTATION] = request.change_cause
    if request.kind == DEPLOYMENT:
        recorded = _dict(_dict(_dict(live).get("metadata")).get("annotations")).get(STRATEGY_ANNOTATION)
        if request.strategy is not None:
            annotations[STRATEGY_ANNOTATION] = strategy_annotation(request.strategy)
        elif recorded and STRATEGY_ANNOTATION not in annotations:
            annotations[STRATEGY_ANNOTATION] = recorded
    if annotations or "annotations" in body["metadata"]:
        body["metadata"]["annotations"] = annotations
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return body


def desired_replicas(deployment: dict[str, Any]) -> int:
    replicas = _dict(deployment.get("spec")).get("replicas")
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1


# --- what changes ---------------------------------------------------------------------


def _labels_and_annotations(obj: dict[str, Any] | None) -> tuple[Any, Any]:
    metadata = _dict(_dict(obj).get("metadata"))
    return metadata.get("labels") or {}, metadata.get("annotations") or {}


def compare(
    live: dict[str, Any] | None, desired: dict[str, Any], wanted_strategy: dict[str, Any] | None
) -> Change:
    """What writing ``desired`` (the server's dry-run answer) changes on ``live``.

    The dry run returns the object as it would be stored, defaults filled in, so equal
    specs mean no write is needed. ``wanted_strategy`` None: the strategy is left alone.
    """
    if live is None:
        return Change(True, True, True, True, True, wanted_strategy is not None)
    live_spec, desired_spec = _dict(live.get("spec")), _dict(desired.get("spec"))
    return Change(
        created=False,
        template=not equal_ignore_hash(_dict(live_spec.get("template")), _dict(desired_spec.get("template"))),
        replicas=live_spec.get("replicas") != desired_spec.get("replicas"),
        spec=live_spec != desired_spec,
        metadata=_labels_and_annotations(live) != _labels_and_annotations(desired),
        strategy=wanted_strategy is not None
        and not same_deployment_strategy(live_spec.get("strategy"), wanted_strategy),
    )


def canary_first(strategy: Strategy, replicas: int, old_available: int) -> bool:
    """Roll out with maxUnavailable 0 until one new pod is available?

    Only when it changes anything: Rolling, room to surge (maxSurge resolves above 0),
    some unavailability allowed, and old pods available to protect.
    """
    if strategy.type != STRATEGY_ROLLING or replicas == 0 or old_available == 0:
        return False
    surge, unavailable = resolve_fenceposts(strategy.max_surge, strategy.max_unavailable, replicas)
    return surge > 0 and unavailable > 0


def capacity_gap(strategy: Strategy, replicas: int, old_replicas: int) -> list[str]:
    """The warning for a Rolling update that may take every old pod away before a new one serves.

    maxSurge 0 with maxUnavailable resolving to all the replicas (100%, say) is legal, and
    canary-first cannot help without room to surge: on a revision that fails, the app has no pod
    until the rollback is complete. Recreate says so by its name; this says it for Rolling.
    """
    if strategy.type != STRATEGY_ROLLING or replicas == 0 or old_replicas == 0:
        return []
    surge, unavailable = resolve_fenceposts(strategy.max_surge, strategy.max_unavailable, replicas)
    if surge > 0 or unavailable < replicas:
        return []
    return [
        f"maxUnavailable {strategy.max_unavailable} with maxSurge {strategy.max_surge} lets all "
        f"{old_replicas} old pods go before any new pod is available: if the new revision fails, no pod "
        "serves until the rollback is complete; give maxSurge 1 or more for a canary-first rollout, or a "
        "lower maxUnavailable"
    ]


def plan_steps(strategy: Strategy, change: Change, replicas: int, old_replicas: int) -> list[dict[str, int]]:
    """The (new, old) replica counts the rollout goes through, as [{"new": n, "old": o}, ...].

    A rollout of a new template follows the strategy (plan_rolling_steps with canary-first,
    or plan_recreate_steps); a scale or a first deployment goes straight to ``replicas``.
    """
    if change.template and not change.created:
        if strategy.type == STRATEGY_RECREATE:
            states = plan_recreate_steps(replicas, old_replicas)
        else:
            states = plan_rolling_steps(replicas, old_replicas, strategy.max_surge, strategy.max_unavailable)
    elif change.created and strategy.type == STRATEGY_RECREATE:
        states = plan_recreate_steps(replicas, 0)
    elif change.created:
        states = [(0, 0), (replicas, 0)] if replicas else [(0, 0)]
    else:
        states = [(old_replicas, 0)] if old_replicas == replicas else [(old_replicas, 0), (replicas, 0)]
    return [{"new": new, "old": old} for new, old in states]


# --- waiting: is it over? -------------------------------------------------------------


def selector_string(label_selector: Any) -> str:
    """A LabelSelector ({matchLabels, matchExpressions}) as the API's label_selector text."""
    selector = _dict(label_selector)
    parts = [f"{key}={value}" for key, value in sorted(_dict(selector.get("matchLabels")).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(expression.get("values") or [])
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise RolloutInputError(f"label selector operator {operator!r} is unknown")
    return ",".join(parts)


def _uid(obj: dict[str, Any] | None) -> str:
    return str(_dict(_dict(obj).get("metadata")).get("uid") or "")


def _pods_of(pods: list[dict[str, Any]], replica_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uids = {_uid(rs) for rs in replica_sets}
    return [pod for pod in pods if any(owned_by(pod, uid) for uid in uids)]


def _alive(pod: dict[str, Any]) -> bool:
    return _dict(pod.get("status")).get("phase") not in ("Succeeded", "Failed")


def _int(mapping: dict[str, Any], key: str) -> int:
    value = mapping.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def replica_counts(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> dict[str, Any]:
    """The new and old ReplicaSets' counts, for the timeline:

    {"new": {"replicas": 2, "ready": 1, "available": 1}, "old": {"replicas": 3, ...}}
    ("new" counts nothing before the new ReplicaSet exists).
    """
    new_rs = find_new_replica_set(deployment, replica_sets)
    old = find_old_replica_sets(deployment, replica_sets)

    def count(sets: list[dict[str, Any]]) -> dict[str, int]:
        return {
            "replicas": sum(_int(_dict(rs.get("spec")), "replicas") for rs in sets),
            "ready": sum(_int(_dict(rs.get("status")), "readyReplicas") for rs in sets),
            "available": sum(_int(_dict(rs.get("status")), "availableReplicas") for rs in sets),
        }

    return {"new": count([new_rs] if new_rs else []), "old": count(old)}


def snapshot(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> Any:
    """Everything whose change counts as progress for ProgressTracker."""
    counts = replica_counts(deployment, replica_sets)
    return (
        progress_snapshot(deployment),
        tuple(counts["new"].values()),
        tuple(counts["old"].values()),
        sum(1 for pod in pods if _alive(pod)),
        sum(1 for pod in pods if pod_ready(pod)),
    )


def _observed(deployment: dict[str, Any]) -> bool:
    metadata, status = _dict(deployment.get("metadata")), _dict(deployment.get("status"))
    return _int(status, "observedGeneration") >= _int(metadata, "generation")


def _stall_message(
    deployment: dict[str, Any], new_pods: list[dict[str, Any]], problems: list[PodProblem], timeout: float
) -> str:
    waiting = [pod for pod in new_pods if _alive(pod) and not pod_ready(pod)]
    parts = [f"no progress for {timeout:g}s (timeoutSeconds): {deployment_status(deployment).message}"]
    if problems:
        parts.append(summarize_problems(problems))
    elif waiting:
        names = ", ".join(_dict(pod.get("metadata")).get("name", "?") for pod in waiting[:5])
        parts.append(
            f"pods not ready: {names}" + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
        )
    return "; ".join(parts)


def assess(
    goal: str,
    deployment: dict[str, Any] | None,
    replica_sets: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    tracker: ProgressTracker,
    now: float,
    target: int = 1,
    events: list[dict[str, Any]] | None = None,
) -> Assessment:
    """Is the wait for ``goal`` over? Records progress on ``tracker``.

    Fails fast on the controller's ProgressDeadlineExceeded, on the new ReplicaSet's
    ReplicaFailure (FailedCreate, QuotaExceeded: pods it cannot create, with the API's reason),
    and on pod reasons that do not clear by waiting (CrashLoopBackOff, ImagePullBackOff,
    CreateContainerConfigError, Unschedulable ...) among the new revision's pods, a missing
    Secret or ConfigMap volume included (the kubelet's FailedMount ``events``); fails with
    reason Timeout when nothing moved for the tracker's timeout (OpenShift's timeoutSeconds),
    naming what is stuck.
    """
    if deployment is None:
        return Assessment(False, Failure(REASON_DELETED, "the Deployment was deleted during the rollout"), "")
    tracker.observe(snapshot(deployment, replica_sets, pods), now)
    status = deployment_status(deployment)
    new_rs = find_new_replica_set(deployment, replica_sets)
    old_sets = find_old_replica_sets(deployment, replica_sets)
    new_pods = _pods_of(pods, [new_rs]) if new_rs else []

    if goal == GOAL_OLD_GONE:
        old_pods = [pod for pod in _pods_of(pods, old_sets) if _alive(pod)]
        old_replicas = sum(_int(_dict(rs.get("spec")), "replicas") for rs in old_sets)
        if _observed(deployment) and new_rs is not None and not old_pods and old_replicas == 0:
            return Assessment(True, None, "old pods gone")
        message = f"waiting for {len(old_pods)} old pods to go"
        if tracker.stalled(now):
            return Assessment(
                False,
                Failure(
                    REASON_TIMEOUT,
                    f"no progress for {tracker.timeout_seconds:g}s (timeoutSeconds): {message}",
                ),
                message,
            )
        return Assessment(False, None, message)

    if status.failure:
        problems = pod_problems(new_pods)
        detail = f": {summarize_problems(problems)}" if problems else ""
        return Assessment(False, Failure(status.failure, status.message + detail), status.message)
    # The ReplicaSet controller could not create the new revision's pods (an invalid pod spec, a
    # quota, an admission webhook, a missing ServiceAccount): it says why at once, and retrying
    # the same template gives the same answer until the progress deadline.
    not_created = replica_set_problems(new_rs) if new_rs else []
    if not_created:
        return Assessment(
            False, Failure(not_created[0].reason, summarize_problems(not_created)), status.message
        )
    broken = unrecoverable(pod_problems(new_pods) + mount_problems(events or [], new_pods))
    if broken:
        return Assessment(False, Failure(broken[0].reason, summarize_problems(broken)), status.message)

    if goal == GOAL_COMPLETE and status.done:
        return Assessment(True, None, status.message)
    if goal in (GOAL_CANARY, GOAL_NEW_AVAILABLE) and new_rs is not None and _observed(deployment):
        available = _int(_dict(new_rs.get("status")), "availableReplicas")
        if available >= (1 if goal == GOAL_CANARY else target) or (goal == GOAL_CANARY and status.done):
            return Assessment(True, None, f"{available} new pods available")

    if tracker.stalled(now):
        problems = pod_problems(new_pods) + (replica_set_problems(new_rs) if new_rs else [])
        return Assessment(
            False,
            Failure(REASON_TIMEOUT, _stall_message(deployment, new_pods, problems, tracker.timeout_seconds)),
            status.message,
        )
    return Assessment(False, None, status.message)


# --- results --------------------------------------------------------------------------


def without_noise(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """An object for results and diffs: without managedFields (long, and of no use there)."""
    if obj is None:
        return None
    cleaned = copy.deepcopy(obj)
    _dict(cleaned.get("metadata")).pop("managedFields", None)
    return cleaned


def for_diff(obj: dict[str, Any] | None) -> dict[str, Any]:
    """The part of an object a diff shows: metadata without server bookkeeping, and spec."""
    if obj is None:
        return {}
    metadata = {
        key: value for key, value in _dict(obj.get("metadata")).items() if key not in _SERVER_METADATA
    }
    return {"metadata": metadata, "spec": copy.deepcopy(_dict(obj.get("spec")))}


__all__ = [
    "DEPLOYMENT",
    "FIELD_MANAGER",
    "GOAL_CANARY",
    "GOAL_COMPLETE",
    "GOAL_NEW_AVAILABLE",
    "GOAL_OLD_GONE",
    "REASON_API_ERROR",
    "REASON_DELETED",
    "REASON_TIMEOUT",
    "REASON_WAIT_TIMEOUT",
    "ROLLOUT_KINDS",
    "Assessment",
    "Change",
    "Failure",
    "RolloutInputError",
    "RolloutRequest",
    "apply_body",
    "assess",
    "blank_image_refusal",
    "blank_images",
    "build_request",
    "canary_first",
    "compare",
    "container_names",
    "deployment_strategy",
    "desired_replicas",
    "for_diff",
    "name_mode_patch",
    "plan_steps",
    "replica_counts",
    "same_deployment_strategy",
    "selector_string",
    "set_images",
    "snapshot",
    "strategy_from_deployment_strategy",
    "without_noise",
]
