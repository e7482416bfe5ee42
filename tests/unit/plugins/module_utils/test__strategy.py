# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import (
    STRATEGY_ANNOTATION,
    CustomParams,
    ExecNewPod,
    Hook,
    Strategy,
    StrategyError,
    hook_points,
    parse_strategy,
    recorded_strategy,
    serving_gaps,
    strategy_annotation,
    strategy_to_dict,
    validate_hook_against_template,
)

DEFAULT = Strategy(
    type="Rolling",
    max_surge="25%",
    max_unavailable="25%",
    timeout_seconds=600,
    interval_seconds=1,
    update_period_seconds=1,
    hooks={},
    custom=None,
    labels={},
    annotations={},
    active_deadline_seconds=21600,
)

MIGRATE = Hook(
    failure_policy="Abort",
    exec_new_pod=ExecNewPod(
        container_name="app",
        command=["/bin/sh", "-c", "make migrate"],
        env=[{"name": "MODE", "value": "migrate"}],
        volumes=["data"],
    ),
    tag_images=[],
)

# What `oc get dc/web -o yaml` shows, with a pre hook added.
PASTED_DC = {
    "activeDeadlineSeconds": 21600,
    "resources": {},
    "rollingParams": {
        "intervalSeconds": 1,
        "maxSurge": "25%",
        "maxUnavailable": "25%",
        "timeoutSeconds": 600,
        "updatePeriodSeconds": 1,
        "pre": {
            "failurePolicy": "Abort",
            "execNewPod": {
                "containerName": "app",
                "command": ["/bin/sh", "-c", "make migrate"],
                "env": [{"name": "MODE", "value": "migrate"}],
                "volumes": ["data"],
            },
        },
    },
    "type": "Rolling",
}

ANSIBLE_STYLE = {
    "type": "rolling",
    "rolling_params": {
        "max_surge": "25%",
        "max_unavailable": "25%",
        "timeout_seconds": 600,
        "interval_seconds": None,  # Ansible fills unset suboptions with None
        "update_period_seconds": None,
        "pre": {
            "failure_policy": "abort",
            "exec_new_pod": {
                "container_name": "app",
                "command": ["/bin/sh", "-c", "make migrate"],
                "env": [{"name": "MODE", "value": "migrate"}],
                "volumes": ["data"],
            },
            "tag_images": None,
        },
        "post": None,
    },
    "custom_params": None,
    "labels": None,
    "annotations": None,
    "active_deadline_seconds": None,
}


@pytest.mark.parametrize("raw", [None, {}, {"type": "Rolling"}, {"rollingParams": {}}])
def test_defaults(raw):
    assert parse_strategy(raw) == DEFAULT


def test_pasted_deploymentconfig_and_ansible_spelling_agree():
    expected = Strategy(
        type="Rolling",
        max_surge="25%",
        max_unavailable="25%",
        timeout_seconds=600,
        interval_seconds=1,
        update_period_seconds=1,
        hooks={"pre": MIGRATE},
        custom=None,
        labels={},
        annotations={},
        active_deadline_seconds=21600,
    )
    assert parse_strategy(PASTED_DC) == expected
    assert parse_strategy(ANSIBLE_STYLE) == expected


def test_input_is_not_mutated_and_result_does_not_alias_it():
    raw = copy.deepcopy(PASTED_DC)
    strategy = parse_strategy(raw)
    assert raw == PASTED_DC
    assert strategy.hooks["pre"].exec_new_pod is not None
    strategy.hooks["pre"].exec_new_pod.env[0]["value"] = "changed"
    assert raw == PASTED_DC


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("rolling", "Rolling"),
        ("Rolling", "Rolling"),
        ("ROLLING", "Rolling"),
        ("RollingUpdate", "Rolling"),
        ("rolling_update", "Rolling"),
        ("recreate", "Recreate"),
        ("Recreate", "Recreate"),
        ("custom", "Custom"),
    ],
)
def test_type_is_case_insensitive(given, expected):
    raw = {"type": given}
    if expected == "Custom":
        raw["customParams"] = {"image": "deployer:1"}
    assert parse_strategy(raw).type == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"recreateParams": {}}, "Recreate"),
        ({"recreate_params": {"timeout_seconds": 30}}, "Recreate"),
        ({"customParams": {"image": "d:1"}}, "Custom"),
        ({"customParams": {"image": "d:1"}, "rollingParams": {}}, "Rolling"),
        ({"rollingParams": {"maxSurge": 1}}, "Rolling"),
    ],
)
def test_type_follows_the_params_when_missing(raw, expected):
    assert parse_strategy(raw).type == expected


def test_rolling_values():
    strategy = parse_strategy(
        {
            "rollingParams": {
                "maxSurge": 3,
                "maxUnavailable": "0%",
                "timeoutSeconds": "120",  # digits from a Jinja template
                "intervalSeconds": 2,
                "updatePeriodSeconds": 5,
            },
            "labels": {"team": "web"},
            "annotations": {"note": "x"},
            "activeDeadlineSeconds": 3600,
        }
    )
    assert strategy.max_surge == 3
    assert strategy.max_unavailable == "0%"
    assert strategy.timeout_seconds == 120
    assert strategy.interval_seconds == 2
    assert strategy.update_period_seconds == 5
    assert strategy.labels == {"team": "web"}
    assert strategy.annotations == {"note": "x"}
    assert strategy.active_deadline_seconds == 3600


def test_nulls_are_not_given_whatever_the_key():
    # Ansible passes every suboption of its spec; unset ones are None.
    raw = {
        "type": "Rolling",
        "rolling_params": {"max_surge": None, "mid": None, "whatever": None},
        "recreate_params": None,
        "custom_params": None,
        "resources": None,
    }
    assert parse_strategy(raw) == DEFAULT


def test_surge_digit_string_becomes_int():
    assert parse_strategy({"rollingParams": {"maxSurge": "2"}}).max_surge == 2


def test_recreate_with_all_hooks():
    hook = {
        "failurePolicy": "ignore",
        "tagImages": [{"containerName": "app", "to": {"name": "web:prod"}}],
    }
    strategy = parse_strategy(
        {
            "type": "Recreate",
            "recreateParams": {
                "timeoutSeconds": 60,
                "pre": {
                    "failurePolicy": "Retry",
                    "execNewPod": {"containerName": "app", "command": ["true"]},
                },
                "mid": {
                    "failurePolicy": "ABORT",
                    "execNewPod": {"containerName": "app", "command": ["migrate"]},
                },
                "post": hook,
            },
        }
    )
    assert strategy.type == "Recreate"
    assert strategy.max_surge == 0
    assert strategy.max_unavailable == "100%"
    assert strategy.timeout_seconds == 60
    assert strategy.interval_seconds is None
    assert strategy.update_period_seconds is None
    assert set(strategy.hooks) == {"pre", "mid", "post"}
    assert strategy.hooks["pre"].failure_policy == "Retry"
    assert strategy.hooks["mid"].failure_policy == "Abort"
    assert strategy.hooks["post"] == Hook(
        failure_policy="Ignore",
        exec_new_pod=None,
        tag_images=[{"container_name": "app", "to": {"name": "web:prod"}}],
    )
    assert hook_points(strategy) == ("pre", "mid", "post")


def test_failure_policy_defaults_to_abort():
    strategy = parse_strategy(
        {"rollingParams": {"post": {"execNewPod": {"containerName": "app", "command": ["x"]}}}}
    )
    assert strategy.hooks["post"].failure_policy == "Abort"
    assert hook_points(strategy) == ("pre", "post")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {
                "type": "Custom",
                "customParams": {
                    "image": "deployer:1",
                    "environment": [{"name": "A", "value": "1"}],
                },
            },
            CustomParams(
                image="deployer:1",
                command=[],
                environment=[{"name": "A", "value": "1"}],
            ),
        ),
        (
            {"type": "Custom", "custom_params": {"command": ["/deploy", "--fast"]}},
            CustomParams(image=None, command=["/deploy", "--fast"], environment=[]),
        ),
        (
            {"type": "Rolling", "customParams": {"image": "deployer:1"}},
            CustomParams(image="deployer:1", command=[], environment=[]),
        ),
    ],
)
def test_custom_params(raw, expected):
    assert parse_strategy(raw).custom == expected


def test_custom_with_recreate_params_has_mid_hook():
    strategy = parse_strategy(
        {
            "type": "Custom",
            "customParams": {"image": "d:1"},
            "recreateParams": {"mid": {"execNewPod": {"containerName": "app", "command": ["x"]}}},
        }
    )
    assert strategy.max_unavailable == "100%"
    assert "mid" in strategy.hooks
    assert hook_points(strategy) == ("pre", "mid", "post")


@pytest.mark.parametrize(
    "raw",
    [
        None,
        PASTED_DC,
        ANSIBLE_STYLE,
        {
            "type": "Recreate",
            "recreateParams": {
                "timeoutSeconds": 30,
                "mid": {"tagImages": [{"containerName": "a", "to": {"name": "x:y"}}]},
            },
        },
        {"type": "Custom", "customParams": {"image": "d:1", "command": ["go"]}},
        {"type": "Custom", "customParams": {"image": "d:1"}, "recreateParams": {}},
        {
            "type": "Custom",
            "customParams": {"image": "d:1"},
            "rollingParams": {"maxSurge": 2},
        },
        {
            "labels": {"a": "b"},
            "annotations": {"c": "d"},
            "activeDeadlineSeconds": 1000,
        },
    ],
)
def test_strategy_to_dict_round_trips(raw):
    strategy = parse_strategy(copy.deepcopy(raw) if raw else raw)
    as_dict = strategy_to_dict(strategy)
    assert parse_strategy(as_dict) == strategy
    assert all("_" in key or key.islower() for key in as_dict)


def test_strategy_to_dict_shape():
    assert strategy_to_dict(parse_strategy(PASTED_DC)) == {
        "type": "Rolling",
        "rolling_params": {
            "max_surge": "25%",
            "max_unavailable": "25%",
            "timeout_seconds": 600,
            "interval_seconds": 1,
            "update_period_seconds": 1,
            "pre": {
                "failure_policy": "Abort",
                "exec_new_pod": {
                    "container_name": "app",
                    "command": ["/bin/sh", "-c", "make migrate"],
                    "env": [{"name": "MODE", "value": "migrate"}],
                    "volumes": ["data"],
                },
            },
        },
        "labels": {},
        "annotations": {},
        "active_deadline_seconds": 21600,
    }
    assert strategy_to_dict(parse_strategy({"type": "Recreate"})) == {
        "type": "Recreate",
        "recreate_params": {"timeout_seconds": 600},
        "labels": {},
        "annotations": {},
        "active_deadline_seconds": 21600,
    }


def _exec(**extra):
    hook = {"execNewPod": {"containerName": "app", "command": ["x"]}}
    hook.update(extra)
    return hook


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # shapes
        (["Rolling"], "strategy must be a dict, got a list"),
        (
            {"rollingParams": "fast"},
            "strategy.rollingParams must be a dict, got a string",
        ),
        # unknown keys, with "did you mean"
        (
            {"rollingParams": {"maxSurg": 1}},
            (
                "strategy.rollingParams: unknown key 'maxSurg' (did you mean 'maxSurge'?); allowed keys: "
                "intervalSeconds (interval_seconds), maxSurge (max_surge), maxUnavailable (max_unavailable), "
                "post, pre, rollback, timeoutSeconds (timeout_seconds), updatePeriodSeconds (update_period_seconds)"
            ),
        ),
        (
            {"rolling_params": {"max_surg": 1}},
            "unknown key 'max_surg' (did you mean 'max_surge'?)",
        ),
        (
            {"MaxSurge": 1},
            "strategy: unknown key 'MaxSurge'; allowed keys: activeDeadlineSeconds",
        ),
        (
            {"rollingUpdate": {}},
            "unknown key 'rollingUpdate' (did you mean 'rollingParams'?)",
        ),
        ({"TYPE": "Rolling"}, "unknown key 'TYPE' (did you mean 'type'?)"),
        # both spellings
        (
            {"rolling_params": {"maxSurge": 1, "max_surge": 2}},
            "strategy.rolling_params: maxSurge and max_surge are the same setting, spelled two ways; give only one",
        ),
        (
            {"rollingParams": {}, "rolling_params": {}},
            "rollingParams and rolling_params are the same setting",
        ),
        # type
        (
            {"type": "BlueGreen"},
            "strategy.type 'BlueGreen' is not a strategy type; use one of Rolling, Recreate, Custom",
        ),
        (
            {"type": "recreat"},
            "strategy.type 'recreat' is not a strategy type (did you mean 'Recreate'?)",
        ),
        (
            {"type": 3},
            "strategy.type must be a string (one of Rolling, Recreate, Custom), got 3",
        ),
        # fenceposts
        (
            {"rollingParams": {"maxSurge": 0, "maxUnavailable": 0}},
            "strategy.rollingParams: maxSurge and maxUnavailable cannot both be 0: the rollout could never make progress",
        ),
        (
            {"rollingParams": {"maxSurge": "0%", "maxUnavailable": "0"}},
            "cannot both be 0",
        ),
        (
            {"rolling_params": {"max_surge": "0%", "max_unavailable": "0%"}},
            "strategy.rolling_params: maxSurge and maxUnavailable cannot both be 0",
        ),
        (
            {"rollingParams": {"maxSurge": -1}},
            "strategy.rollingParams.maxSurge: invalid value -1: must not be negative",
        ),
        (
            {"rollingParams": {"maxUnavailable": -2}},
            "strategy.rollingParams.maxUnavailable: invalid value -2: must not be negative",
        ),
        (
            {"rollingParams": {"maxSurge": "-1"}},
            "strategy.rollingParams.maxSurge: invalid value '-1'",
        ),
        (
            {"rollingParams": {"maxSurge": "150x"}},
            "invalid value '150x': expected a non-negative int (5) or a percentage ('25%')",
        ),
        ({"rollingParams": {"maxSurge": "abc"}}, "invalid value 'abc'"),
        ({"rollingParams": {"maxSurge": True}}, "invalid value True"),
        (
            {"rollingParams": {"maxUnavailable": "150%"}},
            "strategy.rollingParams.maxUnavailable '150%' is more than 100%: at most every pod can be unavailable",
        ),
        # seconds
        (
            {"rollingParams": {"timeoutSeconds": 0}},
            "strategy.rollingParams.timeoutSeconds must be greater than 0, got 0",
        ),
        (
            {"rollingParams": {"timeoutSeconds": -5}},
            "timeoutSeconds must be greater than 0, got -5",
        ),
        (
            {"recreate_params": {"timeout_seconds": 0}},
            "strategy.recreate_params.timeout_seconds must be greater than 0",
        ),
        (
            {"rollingParams": {"timeoutSeconds": "soon"}},
            "strategy.rollingParams.timeoutSeconds must be an int, got 'soon'",
        ),
        ({"rollingParams": {"timeoutSeconds": True}}, "must be an int, got a bool"),
        (
            {"rollingParams": {"intervalSeconds": 0}},
            "strategy.rollingParams.intervalSeconds must be greater than 0",
        ),
        (
            {"rollingParams": {"updatePeriodSeconds": 0}},
            "strategy.rollingParams.updatePeriodSeconds must be greater than 0",
        ),
        (
            {"activeDeadlineSeconds": 0},
            "strategy.activeDeadlineSeconds must be greater than 0",
        ),
        (
            {"activeDeadlineSeconds": 600, "rollingParams": {"timeoutSeconds": 600}},
            "strategy.activeDeadlineSeconds (600) must be greater than strategy.rollingParams.timeoutSeconds (600)",
        ),
        # mid hook on Rolling
        (
            {"rollingParams": {"mid": _exec()}},
            "strategy.rollingParams.mid: mid hooks exist only for the Recreate strategy (DeploymentConfig semantics)",
        ),
        (
            {"type": "Rolling", "rolling_params": {"mid": _exec()}},
            "strategy.rolling_params.mid: mid hooks exist only for the Recreate strategy",
        ),
        # params that do not go with the type
        (
            {"type": "Recreate", "rollingParams": {}},
            "strategy.rollingParams cannot be used with type Recreate: use recreateParams, or type Rolling",
        ),
        (
            {"type": "Rolling", "recreateParams": {}},
            "strategy.recreateParams cannot be used with type Rolling: use rollingParams, or type Recreate",
        ),
        (
            {"type": "Recreate", "rolling_params": {}},
            "strategy.rolling_params cannot be used with type Recreate: use recreate_params, or type Rolling",
        ),
        (
            {
                "type": "Custom",
                "customParams": {"image": "d"},
                "rollingParams": {},
                "recreateParams": {},
            },
            "strategy: give only one of rollingParams or recreateParams for the Custom strategy",
        ),
        # failure policy
        (
            {"rollingParams": {"pre": _exec(failurePolicy="Fail")}},
            "strategy.rollingParams.pre.failurePolicy 'Fail' is not a failure policy; use one of Abort, Retry, Ignore",
        ),
        (
            {"rollingParams": {"pre": _exec(failurePolicy=1)}},
            "failurePolicy 1 is not a failure policy",
        ),
        # hook bodies
        (
            {"rollingParams": {"pre": {"failurePolicy": "Abort"}}},
            "strategy.rollingParams.pre: a hook needs execNewPod (run a pod) or tagImages (tag images)",
        ),
        (
            {"rolling_params": {"pre": {"failure_policy": "Abort", "tag_images": []}}},
            "strategy.rolling_params.pre: a hook needs exec_new_pod (run a pod) or tag_images (tag images)",
        ),
        (
            {"rollingParams": {"pre": _exec(tagImages=[{"containerName": "a", "to": {"name": "x"}}])}},
            "strategy.rollingParams.pre: only one of execNewPod or tagImages may be given",
        ),
        (
            {"rollingParams": {"pre": "echo"}},
            "strategy.rollingParams.pre must be a dict, got a string",
        ),
        (
            {"rollingParams": {"pre": {"execNewPod": {"command": ["x"]}}}},
            (
                "strategy.rollingParams.pre.execNewPod.containerName is required: "
                "the name of the pod template container whose image runs the hook"
            ),
        ),
        (
            {"rolling_params": {"pre": {"exec_new_pod": {"command": ["x"]}}}},
            "strategy.rolling_params.pre.exec_new_pod.container_name is required",
        ),
        (
            {"rollingParams": {"pre": {"execNewPod": {"containerName": "app"}}}},
            "strategy.rollingParams.pre.execNewPod.command is required: the command the hook pod runs",
        ),
        (
            {"rollingParams": {"pre": {"execNewPod": {"containerName": "app", "command": []}}}},
            "strategy.rollingParams.pre.execNewPod.command must not be empty",
        ),
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": "make migrate",
                        }
                    }
                }
            },
            "strategy.rollingParams.pre.execNewPod.command must be a list of strings, like ['/bin/sh', '-c', 'make migrate']",
        ),
        (
            {"rollingParams": {"pre": {"execNewPod": {"containerName": "app", "command": ["a", 1]}}}},
            "strategy.rollingParams.pre.execNewPod.command[1] must be a non-empty string, got 1",
        ),
        (
            {"rollingParams": {"pre": {"execNewPod": {"containerName": "", "command": ["x"]}}}},
            "strategy.rollingParams.pre.execNewPod.containerName must be a non-empty string, got ''",
        ),
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": ["x"],
                            "volumes": "data",
                        }
                    }
                }
            },
            "strategy.rollingParams.pre.execNewPod.volumes must be a list of strings",
        ),
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": ["x"],
                            "image": "y",
                        }
                    }
                }
            },
            "strategy.rollingParams.pre.execNewPod: unknown key 'image'; allowed keys: automountServiceAccountToken"
            " (automount_service_account_token), command, containerName (container_name), env, volumes",
        ),
        # env entries
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": ["x"],
                            "env": ["A=1"],
                        }
                    }
                }
            },
            "strategy.rollingParams.pre.execNewPod.env[0] must be a dict with a name, like {name: MODE, value: migrate}; got 'A=1'",
        ),
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": ["x"],
                            "env": [{"value": "1"}],
                        }
                    }
                }
            },
            "execNewPod.env[0] must be a dict with a name",
        ),
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": ["x"],
                            "env": {"A": "1"},
                        }
                    }
                }
            },
            "strategy.rollingParams.pre.execNewPod.env must be a list of {name, value} dicts",
        ),
        (
            {
                "rollingParams": {
                    "pre": {
                        "execNewPod": {
                            "containerName": "app",
                            "command": ["x"],
                            "env": [{"name": "A=B"}],
                        }
                    }
                }
            },
            "env[0].name 'A=B' must not contain '='",
        ),
        (
            {
                "type": "Custom",
                "customParams": {"image": "d", "environment": [{"val": 1}]},
            },
            "strategy.customParams.environment[0] must be a dict with a name",
        ),
        # tag images
        (
            {"rollingParams": {"post": {"tagImages": [{"to": {"name": "x:y"}}]}}},
            "strategy.rollingParams.post.tagImages[0].containerName is required",
        ),
        (
            {"rollingParams": {"post": {"tagImages": [{"containerName": "app"}]}}},
            "strategy.rollingParams.post.tagImages[0].to is required: where to tag the image",
        ),
        (
            {"rollingParams": {"post": {"tagImages": [{"containerName": "app", "to": "x"}]}}},
            "strategy.rollingParams.post.tagImages[0].to must be a dict with a name",
        ),
        (
            {"rollingParams": {"post": {"tagImages": {"containerName": "app"}}}},
            "tagImages must be a list",
        ),
        # custom
        (
            {"type": "Custom"},
            "strategy: type Custom needs customParams with an image or a command",
        ),
        (
            {"type": "Custom", "customParams": {}},
            "strategy.customParams needs image or command: what the Custom strategy runs",
        ),
        (
            {
                "type": "Custom",
                "customParams": {"environment": [{"name": "A", "value": "b"}]},
            },
            "strategy.customParams needs image or command",
        ),
        (
            {"type": "Custom", "customParams": {"image": ""}},
            "strategy.customParams.image must be a non-empty string",
        ),
        # labels, annotations, resources
        (
            {"labels": {"a": 1}},
            "strategy.labels.a must be a string, got 1 (quote it in YAML)",
        ),
        (
            {"annotations": ["a"]},
            "strategy.annotations must be a dict of strings, got a list",
        ),
        (
            {"resources": {"limits": {"cpu": "1"}}},
            "strategy.resources: no deployer pod runs here",
        ),
    ],
)
def test_errors(raw, message):
    with pytest.raises(StrategyError) as err:
        parse_strategy(raw)
    assert message in str(err.value)


def test_error_is_a_value_error():
    assert issubclass(StrategyError, ValueError)


TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [
            {"name": "app", "image": "web:2"},
            {"name": "sidecar", "image": "proxy:1"},
        ],
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "c"}},
        ],
    },
}


def _hook(container="app", volumes=(), tags=()):
    return Hook(
        failure_policy="Abort",
        exec_new_pod=ExecNewPod(container_name=container, command=["x"], env=[], volumes=list(volumes))
        if container
        else None,
        tag_images=[{"container_name": name, "to": {"name": "x:y"}} for name in tags],
    )


@pytest.mark.parametrize(
    "hook",
    [
        _hook(),
        _hook("sidecar", ["data", "config"]),
        _hook(None, tags=["app", "init"]),
    ],
)
def test_validate_hook_against_template_ok(hook):
    validate_hook_against_template(hook, TEMPLATE)
    validate_hook_against_template(hook, TEMPLATE["spec"])  # a bare pod spec works too


@pytest.mark.parametrize(
    ("hook", "template", "message"),
    [
        (
            _hook("db"),
            TEMPLATE,
            "hook: container 'db' is not a container of the pod template; containers: app, sidecar",
        ),
        (
            _hook("init"),
            TEMPLATE,
            "container 'init' is not a container of the pod template",
        ),
        (
            _hook("app", ["cache"]),
            TEMPLATE,
            "hook: volume 'cache' is not a volume of the pod template; volumes: data, config",
        ),
        (
            _hook("app", ["cache"]),
            {"spec": {"containers": [{"name": "app"}]}},
            "hook: volume 'cache' is not a volume of the pod template; the pod template has no volumes",
        ),
        (
            _hook(None, tags=["db"]),
            TEMPLATE,
            "hook: tagImages container 'db' is not a container of the pod template; containers: app, sidecar, init",
        ),
        (_hook("app"), {}, "containers: (none)"),
    ],
)
def test_validate_hook_against_template_errors(hook, template, message):
    with pytest.raises(StrategyError) as err:
        validate_hook_against_template(hook, template)
    assert message in str(err.value)


def test_validate_hook_names_the_hook():
    with pytest.raises(StrategyError, match=r"^pre hook: container 'db'"):
        validate_hook_against_template(_hook("db"), TEMPLATE, name="pre hook")


# --- the strategy recorded on a Deployment ----------------------------------------------

SECRET_ENV = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {
            "type": "Recreate",
            "recreateParams": {
                "timeoutSeconds": 60,
                "mid": {"execNewPod": {"containerName": "app", "command": ["/bin/true"]}},
            },
        },
        {
            "type": "Rolling",
            "rollingParams": {
                "maxSurge": 1,
                "maxUnavailable": 0,
                "pre": {
                    "failurePolicy": "Retry",
                    "execNewPod": {"containerName": "app", "command": ["m"], "env": SECRET_ENV},
                },
                "post": {
                    "failurePolicy": "Ignore",
                    "execNewPod": {"containerName": "app", "command": ["s"], "volumes": ["data"]},
                },
                "rollback": {"execNewPod": {"containerName": "app", "command": ["down"]}},
            },
            "labels": {"team": "shop"},
            "activeDeadlineSeconds": 900,
        },
        {
            "type": "Custom",
            "customParams": {"image": "deployer:1", "environment": [{"name": "A", "value": "1"}]},
        },
    ],
)
def test_recorded_strategy_round_trip(raw):
    strategy = parse_strategy(raw)
    value = strategy_annotation(strategy)
    assert recorded_strategy({"metadata": {"annotations": {STRATEGY_ANNOTATION: value}}}) == strategy
    assert "\n" not in value and ": " not in value  # compact, one line in kubectl get -o yaml


def test_recorded_strategy_keeps_secrets_as_references():
    raw = {
        "rollingParams": {
            "pre": {"execNewPod": {"containerName": "app", "command": ["m"], "env": SECRET_ENV}}
        }
    }
    value = strategy_annotation(parse_strategy(raw))
    assert '"secretKeyRef":{"key":"password","name":"db"}' in value


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": {}},
        {"metadata": {"annotations": None}},
        {"metadata": {"annotations": {STRATEGY_ANNOTATION: ""}}},
    ],
)
def test_no_recorded_strategy(obj):
    assert recorded_strategy(obj) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "the openrollout.k8s/strategy annotation is not JSON"),
        (
            '{"type": "Blue"}',
            "the openrollout.k8s/strategy annotation is not a strategy: strategy.type 'Blue' is not a strategy "
            "type; use one of Rolling, Recreate, Custom",
        ),
    ],
)
def test_recorded_strategy_errors(value, message):
    with pytest.raises(StrategyError) as exc:
        recorded_strategy({"metadata": {"annotations": {STRATEGY_ANNOTATION: value}}})
    assert str(exc.value) == message


# --- serving_gaps: a Rolling update of pods that cannot tell they serve -------------------


def _template(*containers: dict) -> dict:
    return {"spec": {"containers": list(containers)}}


PROBE = {"httpGet": {"path": "/readyz", "port": 8080}}


@pytest.mark.parametrize(
    ("strategy", "template", "warned"),
    [
        ({"type": "Rolling"}, _template({"name": "app"}), True),
        ({"type": "Rolling"}, _template({"name": "app", "readinessProbe": PROBE}), False),
        (
            {"type": "Rolling"},
            _template({"name": "app", "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}),
            False,
        ),
        ({"type": "Rolling"}, _template({"name": "app"}, {"name": "side", "readinessProbe": PROBE}), False),
        ({"type": "Recreate"}, _template({"name": "app"}), False),
        ({"type": "Rolling"}, _template(), False),
        ({"type": "Rolling"}, {"spec": None}, False),
    ],
)
def test_serving_gaps_warns_on_rolling_pods_with_neither_probe_nor_pre_stop(strategy, template, warned):
    warnings = serving_gaps(parse_strategy(strategy), template)
    assert bool(warnings) is warned
    if warned:
        assert "readinessProbe or a preStop hook" in warnings[0]
