# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based fuzzing of every module's arguments (issue 8, part 4).

Hypothesis makes argument dicts for each module's argument spec: values of every type for every
option, and for the structured options (definition, strategy, hook, images, labels) dicts shaped
like the real thing with wrong types, wrong keys and out-of-range numbers mixed in. Ansible's own
validator (the one AnsibleModule runs) checks them first, as in a real run; whatever it accepts
goes through the module's pure validation and planning layer, which may only raise the exception
its module turns into a clear ``msg`` (RolloutInputError, UndoInputError, ControlInputError,
HookInputError, StrategyError), never a KeyError, TypeError, AttributeError ...
"""

from __future__ import annotations

import os
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (  # noqa: E402
    AUTH_ARG_SPEC,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._control import (  # noqa: E402
    ControlInputError,
    build_control_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import (  # noqa: E402
    RolloutInputError,
    build_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import (  # noqa: E402
    StrategyError,
    parse_hook,
    parse_strategy,
    strategy_to_dict,
    validate_hook_against_template,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._undo import (  # noqa: E402
    UndoInputError,
    build_undo_request,
)
from ansible_collections.openrollout.k8s.plugins.modules import (  # noqa: E402
    lifecycle_hook,
    rollout,
    rollout_control,
    rollout_undo,
)

# FUZZ_EXAMPLES=5000 for a long hunt; 100 per property in `make test` (about 5 s of CPU).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- values -----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "25%", "150%", "-5%", "abc%", "%", "3", "true", "no", "Rolling"])
)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = json_like) -> st.SearchStrategy[Any]:
    """``good`` three times in four, else anything: deep enough to reach the checks, wrong often enough."""
    return st.one_of(good, good, good, bad)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def shaped(fields: dict[str, st.SearchStrategy[Any]], extra_keys: bool = True) -> st.SearchStrategy[Any]:
    """Dicts with some of ``fields`` (in either spelling, now and then both), each mostly well typed,
    and now and then a key that does not belong."""
    options: dict[str, st.SearchStrategy[Any]] = {}
    for key, value in fields.items():
        options[key] = mostly(value)
        if _snake(key) != key:
            options[_snake(key)] = st.nothing()
    spelled = st.fixed_dictionaries({}, optional={k: v for k, v in options.items() if v is not st.nothing()})
    snake = st.fixed_dictionaries({}, optional={_snake(k): mostly(v) for k, v in fields.items()})
    extras = st.dictionaries(
        st.sampled_from(["bogus", "Type", "max-surge", "rollingUpdate"]), json_like, max_size=1
    )
    base = st.one_of(spelled, spelled, snake)
    if not extra_keys:
        return base
    return st.one_of(base, base, base, st.builds(lambda a, b: {**a, **b}, base, extras))


int_or_percent = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.sampled_from(["25%", "0%", "100%", "150%", "-5%", "abc%", "%", "3", " 2 ", "1.5"]),
)
seconds = st.integers(min_value=-5, max_value=30000) | st.sampled_from(["10", "x"])
command = st.lists(st.sampled_from(["/bin/sh", "-c", "make migrate", ""]), max_size=3)
env = st.lists(
    st.fixed_dictionaries(
        {"name": mostly(st.sampled_from(["A", "B", ""]))}, optional={"value": mostly(st.text(max_size=4))}
    ),
    max_size=2,
)
exec_new_pod = shaped(
    {
        "containerName": st.sampled_from(["app", "db", ""]),
        "command": command,
        "env": env,
        "volumes": st.lists(st.sampled_from(["data", "x"]), max_size=2),
        "automountServiceAccountToken": st.booleans() | st.sampled_from(["true", "no", "maybe"]),
    }
)
tag_images = st.lists(
    shaped(
        {
            "containerName": st.sampled_from(["app", "db"]),
            "to": st.fixed_dictionaries({"name": mostly(st.text(max_size=5))}),
        }
    ),
    max_size=2,
)
hook = shaped(
    {
        "failurePolicy": st.sampled_from(["Abort", "Retry", "Ignore", "retry", "Sometimes"]),
        "execNewPod": exec_new_pod,
        "tagImages": tag_images,
    }
)
rolling_params = shaped(
    {
        "maxSurge": int_or_percent,
        "maxUnavailable": int_or_percent,
        "timeoutSeconds": seconds,
        "intervalSeconds": seconds,
        "updatePeriodSeconds": seconds,
        "pre": hook,
        "mid": hook,
        "post": hook,
        "rollback": hook,
    }
)
recreate_params = shaped(
    {"timeoutSeconds": seconds, "pre": hook, "mid": hook, "post": hook, "rollback": hook}
)
custom_params = shaped({"image": st.sampled_from(["deployer:1", ""]), "command": command, "environment": env})
string_map = st.dictionaries(
    st.sampled_from(["team", "a/b", ""]), mostly(st.text(max_size=4), scalars), max_size=2
)
strategy = shaped(
    {
        "type": st.sampled_from(["Rolling", "Recreate", "Custom", "RollingUpdate", "rolling", "BlueGreen"]),
        "rollingParams": rolling_params,
        "recreateParams": recreate_params,
        "customParams": custom_params,
        "labels": string_map,
        "annotations": string_map,
        "activeDeadlineSeconds": seconds,
    }
)
container = shaped(
    {"name": st.sampled_from(["app", "db", ""]), "image": st.sampled_from(["web:v1", ""])}, extra_keys=False
)
template = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries({}, optional={"labels": string_map}),
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "containers": mostly(st.lists(container, min_size=1, max_size=2)),
                "initContainers": st.lists(container, max_size=1),
                "volumes": st.lists(
                    shaped({"name": st.sampled_from(["data", "x"])}, extra_keys=False), max_size=2
                ),
            },
        ),
    },
)
deployment = st.fixed_dictionaries(
    {
        "apiVersion": mostly(st.sampled_from(["apps/v1", "apps/v1", "apps.openshift.io/v1", "v1"])),
        "kind": mostly(
            st.sampled_from(["Deployment", "Deployment", "DeploymentConfig", "StatefulSet", "Service"])
        ),
        "metadata": mostly(
            st.fixed_dictionaries(
                {"name": mostly(st.sampled_from(["web", ""]))},
                optional={"namespace": mostly(st.just("shop"))},
            )
        ),
        "spec": mostly(
            st.fixed_dictionaries(
                {"template": mostly(template)},
                optional={
                    "replicas": mostly(st.integers(min_value=-2, max_value=5)),
                    "selector": mostly(st.just({"matchLabels": {"app": "web"}})),
                    "strategy": mostly(strategy),
                    "triggers": json_like,
                    "test": mostly(st.booleans()),
                },
            )
        ),
    }
)
yaml_text = st.sampled_from(
    [
        "",
        "kind: Deployment",
        "---\n---",
        "a: [",
        "- 1\n- 2",
        "kind: Deployment\n---\nkind: Deployment",
        "!!python/object:os.system 1",
    ]
)

# Each option, by name or by type: mostly what it holds in a real task, now and then anything.
BY_NAME = {
    "definition": st.one_of(deployment, deployment, deployment, yaml_text, json_like),
    "strategy": mostly(strategy),
    "hook": mostly(hook),
    "images": mostly(
        st.dictionaries(
            st.sampled_from(["app", "db", ""]), mostly(st.sampled_from(["web:v2", " "])), max_size=2
        )
    ),
    "labels": mostly(string_map),
    "annotations": mostly(string_map),
    "phase": st.sampled_from(["pre", "mid", "post", "smoke-1", "Pre Hook!", "", "a" * 30]),
    "name": st.sampled_from(["web", "db"]),
    "namespace": st.sampled_from(["shop", "default"]),
}
BY_TYPE = {
    "int": st.integers(min_value=-3, max_value=50),
    "raw": json_like,
    "bool": st.booleans(),
    "str": st.text(max_size=8),
    "list": st.lists(st.text(max_size=6), max_size=2),
    "dict": st.dictionaries(st.text(max_size=4), scalars, max_size=2),
    "path": st.none(),
}


def arguments(spec: dict[str, Any], one_of: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """A task's arguments: some of the module's own options, each of its type (a wrong type is
    Ansible's to refuse); the structured ones shaped like the real thing, often wrong inside."""
    options = {}
    for name, option in spec.items():
        if name in AUTH_ARG_SPEC or option.get("type") == "path":  # no connection, no file reads
            continue
        if name in BY_NAME:
            options[name] = BY_NAME[name]
        elif option.get("choices"):
            options[name] = st.sampled_from(list(option["choices"]))
        else:
            options[name] = BY_TYPE.get(option.get("type", "str"), json_like)
    if not one_of:
        return st.fixed_dictionaries({}, optional=options)
    # Ansible's required_one_of: each of them in turn is given, the others maybe.
    return st.one_of(
        st.fixed_dictionaries({key: options[key]}, optional={k: v for k, v in options.items() if k != key})
        for key in one_of
    )


def validated(spec: dict[str, Any], args: dict[str, Any], **rules: Any) -> dict[str, Any] | None:
    """What AnsibleModule hands the module for ``args``, or None when Ansible itself refuses them."""
    result = ArgumentSpecValidator(spec, **rules).validate(args)
    return None if result.error_messages else dict(result.validated_parameters)


# --- the properties ---------------------------------------------------------------------------

ROLLOUT_SPEC = argument_spec(AUTH_ARG_SPEC, rollout.ROLLOUT_ARG_SPEC)


@FUZZ
@given(args=arguments(ROLLOUT_SPEC, one_of=("definition", "name")))
def test_rollout_arguments(args):
    params = validated(
        ROLLOUT_SPEC,
        args,
        mutually_exclusive=[("definition", "src", "template")],
        required_one_of=[("definition", "src", "template", "name")],
    )
    if params is None:
        return
    try:
        params["definition"] = rollout.load_definition(params)
        request = build_request(params)
    except RolloutInputError as exc:
        assert str(exc)
        return
    # The checks the engine makes against the template before it writes anything.
    if request.strategy is not None and request.body is not None:
        tpl = request.body["spec"].get("template")
        for name, each in request.strategy.hooks.items():
            try:
                validate_hook_against_template(each, tpl if isinstance(tpl, dict) else {}, f"{name} hook")
            except StrategyError as exc:
                assert str(exc)


UNDO_SPEC = argument_spec(AUTH_ARG_SPEC, rollout_undo.UNDO_ARG_SPEC)


@FUZZ
@given(args=arguments(UNDO_SPEC))
def test_rollout_undo_arguments(args):
    params = validated(UNDO_SPEC, args)
    if params is None:
        return
    try:
        request = build_undo_request(params)
    except UndoInputError as exc:
        assert str(exc)
        return
    assert request.to_revision is None or request.to_revision >= 0


CONTROL_SPEC = argument_spec(AUTH_ARG_SPEC, rollout_control.CONTROL_ARG_SPEC)


@FUZZ
@given(args=arguments(CONTROL_SPEC))
def test_rollout_control_arguments(args):
    params = validated(CONTROL_SPEC, args)
    if params is None:
        return
    try:
        request = build_control_request(params)
    except ControlInputError as exc:
        assert str(exc)
        return
    assert request.timeout_seconds > 0


HOOK_SPEC = argument_spec(AUTH_ARG_SPEC, lifecycle_hook.LIFECYCLE_HOOK_ARG_SPEC)


@FUZZ
@given(args=arguments(HOOK_SPEC), live=deployment)
def test_lifecycle_hook_arguments(args, live):
    params = validated(HOOK_SPEC, args)
    if params is None:
        return
    # The module reads a live Deployment first: any shape the API could hold, as a dict.
    live = (
        live
        if isinstance(live.get("spec"), dict) and isinstance(live.get("metadata"), dict)
        else {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:v1"}]}}},
        }
    )
    try:
        lifecycle_hook.build_hook_job(live, params)
    except lifecycle_hook.HookInputError as exc:
        assert str(exc)


@FUZZ
@given(raw=strategy | json_like)
def test_parse_strategy_raises_only_strategy_errors(raw):
    try:
        parsed = parse_strategy(raw)
    except StrategyError as exc:
        assert str(exc)
        return
    # What it returns, it reads back the same.
    assert parse_strategy(strategy_to_dict(parsed)) == parsed


@FUZZ
@given(raw=hook | json_like, tpl=template)
def test_parse_hook_raises_only_strategy_errors(raw, tpl):
    try:
        parsed = parse_hook(raw)
        validate_hook_against_template(parsed, tpl)
    except StrategyError as exc:
        assert str(exc)
