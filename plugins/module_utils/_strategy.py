# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.openrollout.k8s.plugins.module_utils._fenceposts import (
    FencepostError,
    is_zero,
    percent_value,
)

# The DeploymentConfig strategy block, parsed and validated.
#
# parse_strategy() takes either a strategy pasted from an OpenShift DeploymentConfig
# (camelCase: rollingParams.maxSurge, pre.execNewPod.containerName ...) or the same
# thing written the Ansible way (snake_case: rolling_params.max_surge ...), and
# returns one frozen Strategy with OpenShift's defaults filled in. Every problem is
# a StrategyError whose message names the exact field, in the spelling the user
# wrote, and says what to do; it ends up as the module's ``msg``.
#
# OpenShift semantics kept (openshift-apiserver pkg/apps/apis/apps/validation):
#   - types Rolling, Recreate, Custom; hooks pre/post for Rolling, pre/mid/post for
#     Recreate; a hook has exactly one of execNewPod or tagImages;
#   - maxSurge and maxUnavailable are ints or "N%", not both zero, maxUnavailable at
#     most 100%; timeoutSeconds, intervalSeconds, updatePeriodSeconds > 0;
#     activeDeadlineSeconds greater than timeoutSeconds;
#   - customParams may accompany any type; Custom may carry rollingParams or
#     recreateParams to tune the steps it runs.
# Defaults (OpenShift's): maxSurge 25%, maxUnavailable 25%, timeoutSeconds 600,
# intervalSeconds 1, updatePeriodSeconds 1, activeDeadlineSeconds 21600.

STRATEGY_ROLLING = "Rolling"
STRATEGY_RECREATE = "Recreate"
STRATEGY_CUSTOM = "Custom"
STRATEGY_TYPES = (STRATEGY_ROLLING, STRATEGY_RECREATE, STRATEGY_CUSTOM)

FAILURE_POLICIES = ("Abort", "Retry", "Ignore")
HOOK_POINTS = ("pre", "mid", "post")

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_INTERVAL_SECONDS = 1
DEFAULT_UPDATE_PERIOD_SECONDS = 1
DEFAULT_ACTIVE_DEADLINE_SECONDS = 21600
DEFAULT_FAILURE_POLICY = "Abort"

# Recreate has no surge and may take every pod down: that is what it means. These
# are the fenceposts a Recreate (or Custom-with-recreateParams) Strategy carries.
RECREATE_MAX_SURGE = 0
RECREATE_MAX_UNAVAILABLE = "100%"

# Spellings of the strategy type that mean each canonical type, compared after
# lower-casing and dropping "_" and "-": "rolling", "Rolling", "RollingUpdate",
# "rolling_update" -> Rolling.
_TYPE_ALIASES = {
    "rolling": STRATEGY_ROLLING,
    "rollingupdate": STRATEGY_ROLLING,
    "recreate": STRATEGY_RECREATE,
    "custom": STRATEGY_CUSTOM,
}

_STRATEGY_KEYS = (
    "type",
    "rollingParams",
    "recreateParams",
    "customParams",
    "labels",
    "annotations",
    "activeDeadlineSeconds",
    "resources",
)
_ROLLING_KEYS = (
    "maxSurge",
    "maxUnavailable",
    "timeoutSeconds",
    "intervalSeconds",
    "updatePeriodSeconds",
    "pre",
    "post",
    "rollback",
)
# `rollback` is ours, beyond DeploymentConfig (like Helm's pre-rollback): it runs when a rollout is
# rolled back, before the previous template comes back.
_RECREATE_KEYS = ("timeoutSeconds", "pre", "mid", "post", "rollback")
_CUSTOM_KEYS = ("image", "command", "environment")
_HOOK_KEYS = ("failurePolicy", "execNewPod", "tagImages")
_EXEC_NEW_POD_KEYS = ("containerName", "command", "env", "volumes", "automountServiceAccountToken")
_TAG_IMAGE_KEYS = ("containerName", "to")

JSONDict = dict[str, Any]

_COMMAND_EXAMPLE = "['/bin/sh', '-c', 'make migrate']"
_DEPLOYER_EXAMPLE = "['/usr/bin/deploy', '--verbose']"


class StrategyError(ValueError):
    """The strategy given to a module is invalid; the message says which field and why."""


@dataclass(frozen=True)
class ExecNewPod:
    """Run a one-off pod from a template container's image (the hook's work)."""

    container_name: str
    command: list[str]
    env: list[dict[str, Any]]
    volumes: list[str]
    # The hook pod gets a service account token only when the hook asks: a migration or a
    # smoke test rarely needs the API, and a token it does not need is one to leak.
    automount_service_account_token: bool = False


@dataclass(frozen=True)
class Hook:
    """A lifecycle hook: what to run and what a failure means.

    ``failure_policy`` is Abort (fail the rollout), Retry (run again until it
    succeeds or the rollout times out) or Ignore (carry on). ``tag_images``
    entries are ``{"container_name": str, "to": {...ObjectReference...}}``.
    """

    failure_policy: str
    exec_new_pod: ExecNewPod | None
    tag_images: list[dict[str, Any]]


@dataclass(frozen=True)
class CustomParams:
    """The Custom strategy's deployer: an image and/or a command, with environment."""

    image: str | None
    command: list[str]
    environment: list[dict[str, Any]]


@dataclass(frozen=True)
class Strategy:
    """A validated strategy, with defaults filled in.

    ``max_surge`` / ``max_unavailable`` keep the user's form (3 or "25%"); resolve
    them against a replica count with _fenceposts.resolve_fenceposts. For Recreate
    they are 0 and "100%". ``interval_seconds`` / ``update_period_seconds`` are
    None unless the strategy has rolling parameters. ``hooks`` maps "pre", "mid",
    "post" to the hooks given (absent keys: no hook).
    """

    type: str
    max_surge: int | str
    max_unavailable: int | str
    timeout_seconds: int
    interval_seconds: int | None
    update_period_seconds: int | None
    hooks: dict[str, Hook]
    custom: CustomParams | None
    labels: dict[str, str]
    annotations: dict[str, str]
    active_deadline_seconds: int


# --- reading dicts that may be spelled two ways ---------------------------------------


def _snake(name: str) -> str:
    """maxSurge -> max_surge, execNewPod -> exec_new_pod, pre -> pre."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        dict: "a dict",
        list: "a list",
        str: "a string",
        bool: "a bool",
        int: "an int",
    }.get(type(value), type(value).__name__)


def _allowed_keys_text(keys: Sequence[str]) -> str:
    parts = []
    for key in sorted(keys):
        snake = _snake(key)
        parts.append(key if snake == key else f"{key} ({snake})")
    return ", ".join(parts)


def _suggest(key: str, keys: Sequence[str]) -> str | None:
    """The allowed spelling closest to ``key``, for a "did you mean" hint."""
    # Answer in the user's style: "max_surg" -> "max_surge", "maxSurg" -> "maxSurge".
    spellings = [_snake(allowed) if "_" in key else allowed for allowed in keys]
    folded = key.replace("_", "").replace("-", "").lower()
    for spelling in spellings:
        if spelling.replace("_", "").lower() == folded:
            return spelling
    close = difflib.get_close_matches(key, spellings, n=1, cutoff=0.6)
    return close[0] if close else None


class _Block:
    """One dict of the strategy, read with both spellings of every key.

    ``values`` maps the canonical camelCase key to the value given. None values
    count as not given, even under keys this block does not know: Ansible fills
    every unset suboption with None.
    """

    def __init__(
        self,
        raw: object,
        path: str,
        keys: Sequence[str],
        special: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(raw, dict):
            raise StrategyError(f"{path} must be a dict, got {_type_name(raw)}")
        self.path = path
        self.values: dict[str, Any] = {}
        self.spelled: dict[str, str] = {}
        canonical: dict[str, str] = {}
        for key in keys:
            canonical[key] = key
            canonical[_snake(key)] = key
        unknown: list[str] = []
        snake_used = False
        for key, value in raw.items():
            name = key if isinstance(key, str) else repr(key)
            if "_" in name:
                snake_used = True
            if value is None:
                # Not given. Ansible passes every suboption of its argument spec,
                # set or not, so a null is never an error, whatever its key.
                continue
            if special and name in special:
                raise StrategyError(f"{path}.{name}: {special[name]}")
            canon = canonical.get(name)
            if canon is None:
                unknown.append(name)
                continue
            if canon in self.values:
                raise StrategyError(
                    f"{path}: {self.spelled[canon]} and {name} are the same setting, "
                    "spelled two ways; give only one"
                )
            self.values[canon] = value
            self.spelled[canon] = name
        # Messages name absent keys in the style the user writes in: a block inside
        # "strategy.rolling_params" speaks snake_case even before it has a snake key.
        self.snake = snake_used or "_" in path
        if unknown:
            name = unknown[0]
            hint = _suggest(name, keys)
            did_you_mean = f" (did you mean {hint!r}?)" if hint else ""
            raise StrategyError(
                f"{path}: unknown key {name!r}{did_you_mean}; allowed keys: {_allowed_keys_text(keys)}"
            )

    def has(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def child(self, key: str) -> str:
        """Path of a key of this block, in the user's spelling (or the block's style)."""
        name = self.spelled.get(key) or (_snake(key) if self.snake else key)
        return f"{self.path}.{name}"


def _name(block: _Block, key: str) -> str:
    """The key as the user spelled it, for messages."""
    return block.child(key).rsplit(".", 1)[1]


def _int(value: Any, path: str, minimum: int = 1) -> int:
    """An integer field: ints, or strings of digits (values that went through Jinja)."""
    if isinstance(value, bool):
        raise StrategyError(f"{path} must be an int, got {_type_name(value)}")
    if isinstance(value, str) and re.match(r"^-?[0-9]+$", value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise StrategyError(f"{path} must be an int, got {value!r}")
    if value < minimum:
        if minimum == 1:
            raise StrategyError(f"{path} must be greater than 0, got {value}")
        raise StrategyError(f"{path} must be at least {minimum}, got {value}")
    return value


def _bool(value: Any, path: str) -> bool:
    """A boolean field: true/false, or their spellings as strings (values that went through Jinja)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise StrategyError(f"{path} must be true or false, got {value!r}")


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise StrategyError(f"{path} must be a non-empty string, got {value!r}")
    return value


def _str_list(value: Any, path: str, example: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list):
        raise StrategyError(f"{path} must be a list of strings, like {example}; got {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise StrategyError(
                f"{path}[{i}] must be a non-empty string, got {item!r} "
                f"({path} must be a list of strings, like {example})"
            )
    return list(value)


def _env_list(value: Any, path: str) -> list[dict[str, Any]]:
    """Container env entries: dicts with a ``name`` (and value or valueFrom), kept as given."""
    if not isinstance(value, list):
        raise StrategyError(
            f"{path} must be a list of {{name, value}} dicts, "
            f"like [{{name: MODE, value: migrate}}]; got {value!r}"
        )
    result = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise StrategyError(
                f"{path}[{i}] must be a dict with a name, like {{name: MODE, value: migrate}}; got {item!r}"
            )
        if "=" in item["name"]:
            raise StrategyError(f"{path}[{i}].name {item['name']!r} must not contain '='")
        result.append(copy.deepcopy(item))
    return result


def _string_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise StrategyError(f"{path} must be a dict of strings, got {_type_name(value)}")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise StrategyError(f"{path}: keys must be non-empty strings, got {key!r}")
        if not isinstance(item, str):
            raise StrategyError(f"{path}.{key} must be a string, got {item!r} (quote it in YAML)")
    return dict(value)


# --- the pieces -----------------------------------------------------------------------


def _parse_exec_new_pod(raw: object, path: str) -> ExecNewPod:
    block = _Block(raw, path, _EXEC_NEW_POD_KEYS)
    if not block.has("containerName"):
        raise StrategyError(
            f"{block.child('containerName')} is required: the name of the pod "
            "template container whose image runs the hook"
        )
    if not block.has("command"):
        raise StrategyError(
            f"{block.child('command')} is required: the command the hook pod runs, like {_COMMAND_EXAMPLE}"
        )
    command = _str_list(block.get("command"), block.child("command"), _COMMAND_EXAMPLE)
    if not command:
        raise StrategyError(f"{block.child('command')} must not be empty: the command the hook pod runs")
    return ExecNewPod(
        container_name=_str(block.get("containerName"), block.child("containerName")),
        command=command,
        env=_env_list(block.get("env") or [], block.child("env")),
        volumes=_str_list(block.get("volumes") or [], block.child("volumes"), "['data', 'config']"),
        automount_service_account_token=_bool(
            block.get("automountServiceAccountToken"), block.child("automountServiceAccountToken")
        ),
    )


def _parse_tag_images(raw: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise StrategyError(f"{path} must be a list of {{containerName, to}} dicts, got {_type_name(raw)}")
    result: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        item_path = f"{path}[{i}]"
        block = _Block(item, item_path, _TAG_IMAGE_KEYS)
        if not block.has("containerName"):
            raise StrategyError(
                f"{block.child('containerName')} is required: the container whose image is tagged"
            )
        if not block.has("to"):
            raise StrategyError(f"{block.child('to')} is required: where to tag the image")
        to = block.get("to")
        if not isinstance(to, dict) or not isinstance(to.get("name"), str) or not to["name"]:
            raise StrategyError(
                f"{block.child('to')} must be a dict with a name (the destination tag), got {to!r}"
            )
        result.append(
            {
                "container_name": _str(block.get("containerName"), block.child("containerName")),
                "to": copy.deepcopy(to),
            }
        )
    return result


def _parse_hook(raw: object, path: str) -> Hook:
    block = _Block(raw, path, _HOOK_KEYS)
    policy_raw = block.get("failurePolicy")
    if policy_raw is None:
        policy = DEFAULT_FAILURE_POLICY
    else:
        matches = [
            p for p in FAILURE_POLICIES if isinstance(policy_raw, str) and p.lower() == policy_raw.lower()
        ]
        if not matches:
            raise StrategyError(
                f"{block.child('failurePolicy')} {policy_raw!r} is not a failure "
                f"policy; use one of {', '.join(FAILURE_POLICIES)}"
            )
        policy = matches[0]
    has_exec = block.has("execNewPod")
    tag_raw = block.get("tagImages")
    has_tags = tag_raw is not None and tag_raw != []
    exec_name = _name(block, "execNewPod")
    tags_name = _name(block, "tagImages")
    if has_exec and has_tags:
        raise StrategyError(f"{path}: only one of {exec_name} or {tags_name} may be given")
    if not has_exec and not has_tags:
        raise StrategyError(f"{path}: a hook needs {exec_name} (run a pod) or {tags_name} (tag images)")
    return Hook(
        failure_policy=policy,
        exec_new_pod=_parse_exec_new_pod(block.get("execNewPod"), block.child("execNewPod"))
        if has_exec
        else None,
        tag_images=_parse_tag_images(tag_raw, block.child("tagImages")) if has_tags else [],
    )


def parse_hook(raw: object, path: str = "hook") -> Hook:
    """One hook on its own (camelCase or snake_case), as in a strategy's pre/mid/post.

    ``path`` names it in messages: "hook.execNewPod.containerName is required ...".
    """
    return _parse_hook(raw, path)


def _parse_hooks(block: _Block, points: Sequence[str]) -> dict[str, Hook]:
    hooks: dict[str, Hook] = {}
    for point in points:
        if block.has(point):
            hooks[point] = _parse_hook(block.get(point), block.child(point))
    return hooks


def _parse_fencepost(block: _Block, key: str, default: str) -> int | str:
    path = block.child(key)
    value = block.get(key)
    if value is None:
        return default
    try:
        is_zero(value)  # parses, or raises with the reason
    except FencepostError as exc:
        raise StrategyError(f"{path}: {exc}") from None
    if isinstance(value, str) and percent_value(value) is None:
        return int(value)  # "3" from a template: keep it an int
    result: int | str = value
    return result


def _parse_custom(raw: object, path: str) -> CustomParams:
    block = _Block(raw, path, _CUSTOM_KEYS)
    image = block.get("image")
    if image is not None:
        image = _str(image, block.child("image"))
    command = (
        _str_list(block.get("command"), block.child("command"), _DEPLOYER_EXAMPLE)
        if block.has("command")
        else []
    )
    if image is None and not command:
        raise StrategyError(
            f"{path} needs {_name(block, 'image')} or {_name(block, 'command')}: "
            "what the Custom strategy runs"
        )
    return CustomParams(
        image=image,
        command=command,
        environment=_env_list(block.get("environment") or [], block.child("environment")),
    )


def _canonical_type(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise StrategyError(f"{path} must be a string (one of {', '.join(STRATEGY_TYPES)}), got {value!r}")
    folded = value.replace("_", "").replace("-", "").lower()
    if folded in _TYPE_ALIASES:
        return _TYPE_ALIASES[folded]
    hint = difflib.get_close_matches(folded, list(_TYPE_ALIASES), n=1, cutoff=0.6)
    did_you_mean = f" (did you mean {_TYPE_ALIASES[hint[0]]!r}?)" if hint else ""
    raise StrategyError(
        f"{path} {value!r} is not a strategy type{did_you_mean}; use one of {', '.join(STRATEGY_TYPES)}"
    )


def parse_strategy(raw: dict[str, Any] | None) -> Strategy:
    """Validate a strategy block (camelCase or snake_case) and fill in the defaults.

    None or {} is OpenShift's default strategy: Rolling, maxSurge 25%,
    maxUnavailable 25%, timeoutSeconds 600, intervalSeconds 1, updatePeriodSeconds
    1, activeDeadlineSeconds 21600, no hooks.

    Without ``type`` the type follows the parameters given: recreateParams means
    Recreate, customParams alone means Custom, anything else Rolling.

    ``resources`` (the deployer pod's resources in a DeploymentConfig) is accepted
    when empty, so a pasted ``resources: {}`` works; no deployer pod runs here, so
    a non-empty one is an error.
    """
    if raw is None:
        raw = {}
    top = _Block(raw, "strategy", _STRATEGY_KEYS)

    resources = top.get("resources")
    if resources not in (None, {}):
        raise StrategyError(
            f"{top.child('resources')}: no deployer pod runs here, so deployer "
            f"resources cannot be set; remove {_name(top, 'resources')} (hook pods "
            "take their resources from the template container they run)"
        )

    has_rolling = top.has("rollingParams")
    has_recreate = top.has("recreateParams")
    if top.has("type"):
        strategy_type = _canonical_type(top.get("type"), top.child("type"))
    elif has_recreate:
        strategy_type = STRATEGY_RECREATE
    elif top.has("customParams") and not has_rolling:
        strategy_type = STRATEGY_CUSTOM
    else:
        strategy_type = STRATEGY_ROLLING

    rolling_name = _name(top, "rollingParams")
    recreate_name = _name(top, "recreateParams")
    if strategy_type == STRATEGY_ROLLING and has_recreate:
        raise StrategyError(
            f"{top.child('recreateParams')} cannot be used with type Rolling: "
            f"use {rolling_name}, or type Recreate"
        )
    if strategy_type == STRATEGY_RECREATE and has_rolling:
        raise StrategyError(
            f"{top.child('rollingParams')} cannot be used with type Recreate: "
            f"use {recreate_name}, or type Rolling"
        )
    if strategy_type == STRATEGY_CUSTOM and has_rolling and has_recreate:
        raise StrategyError(
            f"strategy: give only one of {rolling_name} or {recreate_name} for the Custom strategy"
        )

    custom = (
        _parse_custom(top.get("customParams"), top.child("customParams")) if top.has("customParams") else None
    )
    if strategy_type == STRATEGY_CUSTOM and custom is None:
        raise StrategyError(
            f"strategy: type Custom needs {_name(top, 'customParams')} with an image or a command"
        )

    rolling_like = strategy_type == STRATEGY_ROLLING or (
        strategy_type == STRATEGY_CUSTOM and not has_recreate
    )
    hooks: dict[str, Hook]
    interval: int | None
    update_period: int | None
    if rolling_like:
        params = _Block(
            top.get("rollingParams") if has_rolling else {},
            top.child("rollingParams"),
            _ROLLING_KEYS,
            special={
                "mid": "mid hooks exist only for the Recreate strategy "
                "(DeploymentConfig semantics); "
                "use pre or post, or type Recreate"
            },
        )
        surge_value = _parse_fencepost(params, "maxSurge", DEFAULT_MAX_SURGE)
        unavailable_value = _parse_fencepost(params, "maxUnavailable", DEFAULT_MAX_UNAVAILABLE)
        if is_zero(surge_value) and is_zero(unavailable_value):
            raise StrategyError(
                f"{params.path}: maxSurge and maxUnavailable cannot both be 0: "
                "the rollout could never make progress"
            )
        unavailable_percent = percent_value(unavailable_value)
        if unavailable_percent is not None and unavailable_percent > 100:
            raise StrategyError(
                f"{params.child('maxUnavailable')} {unavailable_value!r} is more than "
                "100%: at most every pod can be unavailable"
            )
        timeout = (
            _int(params.get("timeoutSeconds"), params.child("timeoutSeconds"))
            if params.has("timeoutSeconds")
            else DEFAULT_TIMEOUT_SECONDS
        )
        interval = (
            _int(params.get("intervalSeconds"), params.child("intervalSeconds"))
            if params.has("intervalSeconds")
            else DEFAULT_INTERVAL_SECONDS
        )
        update_period = (
            _int(params.get("updatePeriodSeconds"), params.child("updatePeriodSeconds"))
            if params.has("updatePeriodSeconds")
            else DEFAULT_UPDATE_PERIOD_SECONDS
        )
        hooks = _parse_hooks(params, ("pre", "post", "rollback"))
    else:
        params = _Block(
            top.get("recreateParams") if has_recreate else {},
            top.child("recreateParams"),
            _RECREATE_KEYS,
        )
        surge_value = RECREATE_MAX_SURGE
        unavailable_value = RECREATE_MAX_UNAVAILABLE
        timeout = (
            _int(params.get("timeoutSeconds"), params.child("timeoutSeconds"))
            if params.has("timeoutSeconds")
            else DEFAULT_TIMEOUT_SECONDS
        )
        interval = None
        update_period = None
        hooks = _parse_hooks(params, (*HOOK_POINTS, "rollback"))

    labels = _string_map(top.get("labels") or {}, top.child("labels"))
    annotations = _string_map(top.get("annotations") or {}, top.child("annotations"))
    if top.has("activeDeadlineSeconds"):
        deadline = _int(top.get("activeDeadlineSeconds"), top.child("activeDeadlineSeconds"))
    else:
        deadline = DEFAULT_ACTIVE_DEADLINE_SECONDS
    if deadline <= timeout:
        raise StrategyError(
            f"{top.child('activeDeadlineSeconds')} ({deadline}) must be greater than "
            f"{params.child('timeoutSeconds')} ({timeout}): the whole rollout cannot be "
            "shorter than one step"
        )

    return Strategy(
        type=strategy_type,
        max_surge=surge_value,
        max_unavailable=unavailable_value,
        timeout_seconds=timeout,
        interval_seconds=interval,
        update_period_seconds=update_period,
        hooks=hooks,
        custom=custom,
        labels=labels,
        annotations=annotations,
        active_deadline_seconds=deadline,
    )


# --- checks that need the pod template ------------------------------------------------


def _pod_spec(pod_template: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec of a PodTemplateSpec ({metadata, spec}); a bare pod spec also works."""
    if "containers" in pod_template:
        return pod_template
    spec = pod_template.get("spec") or {}
    return spec if isinstance(spec, dict) else {}


def _names(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    return [item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)]


def validate_hook_against_template(hook: Hook, pod_template: dict[str, Any], name: str = "hook") -> None:
    """Check that the hook's container and volumes exist in the Deployment's pod template.

    ``name`` is used in messages ("pre hook", "post hook"...). execNewPod takes its
    image, and the volumes it lists, from the template, as in OpenShift; tagImages
    may name init containers too.
    """
    spec = _pod_spec(pod_template)
    containers = _names(spec.get("containers"))
    init_containers = _names(spec.get("initContainers"))
    volumes = _names(spec.get("volumes"))
    if hook.exec_new_pod is not None:
        wanted = hook.exec_new_pod.container_name
        if wanted not in containers:
            raise StrategyError(
                f"{name}: container {wanted!r} is not a container of the pod template; "
                f"containers: {', '.join(containers) or '(none)'}"
            )
        for volume in hook.exec_new_pod.volumes:
            if volume not in volumes:
                available = f"volumes: {', '.join(volumes)}" if volumes else "the pod template has no volumes"
                raise StrategyError(
                    f"{name}: volume {volume!r} is not a volume of the pod template; {available}"
                )
    for tag in hook.tag_images:
        wanted = tag["container_name"]
        if wanted not in containers and wanted not in init_containers:
            all_containers = ", ".join(containers + init_containers) or "(none)"
            raise StrategyError(
                f"{name}: tagImages container {wanted!r} is not a container of the pod "
                f"template; containers: {all_containers}"
            )


def check_hooks(strategy: Strategy, pod_template: dict[str, Any]) -> list[str]:
    """Every hook of ``strategy`` against the pod template it will run from; the warnings.

    StrategyError when a hook names a container or volume the template lacks. tagImages
    hooks are accepted (a DeploymentConfig can be pasted as it is) and give a warning:
    there are no image streams on Kubernetes.
    """
    warnings = []
    for phase, hook in sorted(strategy.hooks.items()):
        validate_hook_against_template(hook, pod_template, f"{phase} hook")
        if hook.tag_images:
            warnings.append(
                f"{phase} hook: tagImages is not supported (there are no image streams on Kubernetes); "
                "it was ignored. Tag the image in your registry or CI before the rollout instead"
            )
    return warnings


def serving_gaps(strategy: Strategy, pod_template: dict[str, Any]) -> list[str]:
    """A Rolling update of pods that have neither a readiness probe nor a preStop hook: the warning.

    Such pods count as available as soon as their process starts, and get SIGTERM while the
    Service still sends them requests: canary-first keeps capacity, not every request (measured on
    a real node: 29 of 1,443 requests lost over four rollouts of an app that exits on SIGTERM).
    """
    if strategy.type != STRATEGY_ROLLING:
        return []
    spec = pod_template.get("spec")
    listed = spec.get("containers") if isinstance(spec, dict) else None
    containers = [c for c in listed or [] if isinstance(c, dict)]

    def covered(container: dict[str, Any]) -> bool:
        lifecycle = container.get("lifecycle")
        return bool(
            container.get("readinessProbe") or (isinstance(lifecycle, dict) and lifecycle.get("preStop"))
        )

    if not containers or any(covered(c) for c in containers):
        return []
    return [
        "no container of the pod template has a readinessProbe or a preStop hook: during a Rolling update "
        "requests can reach pods that do not serve yet, or no longer do (see 'Zero downtime needs the "
        "pods' help' in docs/strategies-and-hooks.md)"
    ]


# --- back to a dict, for the module's result ------------------------------------------


def hook_to_dict(hook: Hook) -> JSONDict:
    """A Hook as snake_case data (parse_strategy reads it back)."""
    result: JSONDict = {"failure_policy": hook.failure_policy}
    if hook.exec_new_pod is not None:
        result["exec_new_pod"] = {
            "container_name": hook.exec_new_pod.container_name,
            "command": list(hook.exec_new_pod.command),
            "env": copy.deepcopy(hook.exec_new_pod.env),
            "volumes": list(hook.exec_new_pod.volumes),
        }
        if hook.exec_new_pod.automount_service_account_token:
            result["exec_new_pod"]["automount_service_account_token"] = True
    if hook.tag_images:
        result["tag_images"] = copy.deepcopy(hook.tag_images)
    return result


def strategy_to_dict(strategy: Strategy) -> JSONDict:
    """The strategy in snake_case, shaped like the input (parse_strategy reads it back).

    Rolling (and Custom without recreate parameters) carries ``rolling_params``;
    Recreate (and Custom with them) ``recreate_params``; ``custom_params`` appears
    when set::

        {"type": "Rolling",
         "rolling_params": {"max_surge": "25%", "max_unavailable": "25%",
                            "timeout_seconds": 600, "interval_seconds": 1,
                            "update_period_seconds": 1, "pre": {...}},
         "labels": {}, "annotations": {}, "active_deadline_seconds": 21600}
    """
    result: JSONDict = {"type": strategy.type}
    hooks = {
        point: hook_to_dict(strategy.hooks[point])
        for point in (*HOOK_POINTS, "rollback")
        if point in strategy.hooks
    }
    rolling_like = strategy.type == STRATEGY_ROLLING or (
        strategy.type == STRATEGY_CUSTOM and strategy.interval_seconds is not None
    )
    if rolling_like:
        params: JSONDict = {
            "max_surge": strategy.max_surge,
            "max_unavailable": strategy.max_unavailable,
            "timeout_seconds": strategy.timeout_seconds,
            "interval_seconds": strategy.interval_seconds,
            "update_period_seconds": strategy.update_period_seconds,
        }
        params.update(hooks)
        result["rolling_params"] = params
    else:
        params = {"timeout_seconds": strategy.timeout_seconds}
        params.update(hooks)
        result["recreate_params"] = params
    if strategy.custom is not None:
        custom: JSONDict = {
            "image": strategy.custom.image,
            "command": list(strategy.custom.command),
            "environment": copy.deepcopy(strategy.custom.environment),
        }
        result["custom_params"] = custom
    result["labels"] = dict(strategy.labels)
    result["annotations"] = dict(strategy.annotations)
    result["active_deadline_seconds"] = strategy.active_deadline_seconds
    return result


# The strategy a Deployment's current template was rolled out with, hooks included, recorded by
# the rollout module on the Deployment. The Deployment controller copies the Deployment's
# annotations to the ReplicaSet of each new revision, and kubectl's undo copies a ReplicaSet's
# annotations back: so every revision keeps the strategy it was rolled out with, and
# rollout_undo runs the hooks of the revision it goes back to.
STRATEGY_ANNOTATION = "openrollout.k8s/strategy"


def strategy_annotation(strategy: Strategy) -> str:
    """The strategy as compact JSON (strategy_to_dict, keys sorted), for STRATEGY_ANNOTATION.

    Hook env from Secrets stays a valueFrom reference: no secret value is ever written here.
    """
    return json.dumps(strategy_to_dict(strategy), sort_keys=True, separators=(",", ":"))


def recorded_strategy(obj: Any) -> Strategy | None:
    """The strategy recorded on a Deployment or ReplicaSet (STRATEGY_ANNOTATION); None without one.

    StrategyError when the annotation is there but is not a strategy (edited by hand).
    """
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    raw = annotations.get(STRATEGY_ANNOTATION) if isinstance(annotations, dict) else None
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise StrategyError(f"the {STRATEGY_ANNOTATION} annotation is not JSON") from None
    try:
        return parse_strategy(data)
    except StrategyError as exc:
        raise StrategyError(f"the {STRATEGY_ANNOTATION} annotation is not a strategy: {exc}") from None


def hook_points(strategy: Strategy) -> tuple[str, ...]:
    """The hook points the strategy's type has: ("pre", "post") or ("pre", "mid", "post")."""
    if strategy.type == STRATEGY_ROLLING or (
        strategy.type == STRATEGY_CUSTOM and strategy.interval_seconds is not None
    ):
        return ("pre", "post")
    return HOOK_POINTS


__all__ = [
    "DEFAULT_ACTIVE_DEADLINE_SECONDS",
    "DEFAULT_FAILURE_POLICY",
    "DEFAULT_INTERVAL_SECONDS",
    "DEFAULT_MAX_SURGE",
    "DEFAULT_MAX_UNAVAILABLE",
    "DEFAULT_TIMEOUT_SECONDS",
    "DEFAULT_UPDATE_PERIOD_SECONDS",
    "FAILURE_POLICIES",
    "HOOK_POINTS",
    "STRATEGY_ANNOTATION",
    "STRATEGY_CUSTOM",
    "STRATEGY_RECREATE",
    "STRATEGY_ROLLING",
    "STRATEGY_TYPES",
    "CustomParams",
    "ExecNewPod",
    "Hook",
    "Strategy",
    "StrategyError",
    "check_hooks",
    "hook_points",
    "hook_to_dict",
    "parse_hook",
    "parse_strategy",
    "recorded_strategy",
    "serving_gaps",
    "strategy_annotation",
    "strategy_to_dict",
    "validate_hook_against_template",
]
