# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._fenceposts import (
    plan_recreate_steps,
    plan_rolling_steps,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._revisions import (
    CHANGE_CAUSE_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import (
    GOAL_CANARY,
    GOAL_COMPLETE,
    GOAL_NEW_AVAILABLE,
    GOAL_OLD_GONE,
    REASON_DELETED,
    REASON_TIMEOUT,
    Assessment,
    Change,
    Failure,
    RolloutInputError,
    RolloutRequest,
    apply_body,
    assess,
    blank_image_refusal,
    blank_images,
    build_request,
    canary_first,
    capacity_gap,
    compare,
    deployment_strategy,
    desired_replicas,
    for_diff,
    name_mode_patch,
    plan_steps,
    replica_counts,
    same_deployment_strategy,
    selector_string,
    strategy_from_deployment_strategy,
    without_noise,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._status import ProgressTracker
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import (
    STRATEGY_ANNOTATION,
    parse_strategy,
    strategy_annotation,
)

# Objects are built the way the API server returns them: every object has metadata.uid,
# ReplicaSets point at their Deployment and pods at their ReplicaSet through a controller
# ownerReference, and ReplicaSet templates carry the pod-template-hash label.

DEPLOYMENT_UID = "0b6c8f57-dep-web"
OTHER_DEPLOYMENT_UID = "5e1d0c3a-dep-api"

ROLLING = parse_strategy({"type": "Rolling"})  # 25% / 25%
RECREATE = parse_strategy({"type": "Recreate"})


def rolling(max_surge, max_unavailable):
    return parse_strategy(
        {"type": "Rolling", "rollingParams": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}}
    )


def template(image="registry.example/web:2", init_image=None, pod_hash=None):
    labels = {"app": "web"}
    if pod_hash:
        labels[POD_TEMPLATE_HASH_LABEL] = pod_hash
    spec = {"containers": [{"name": "app", "image": image}, {"name": "proxy", "image": "envoy:1.30"}]}
    if init_image:
        spec["initContainers"] = [{"name": "migrate", "image": init_image}]
    return {"metadata": {"labels": labels}, "spec": spec}


V1 = "registry.example/web:1"
V2 = "registry.example/web:2"


def owner(kind, name, uid):
    return [
        {
            "apiVersion": "apps/v1",
            "kind": kind,
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def deployment(
    image=V2,
    replicas=3,
    generation=4,
    observed=4,
    current=3,
    updated=3,
    ready=3,
    available=3,
    conditions=None,
):
    """The Deployment web in shop, its template at ``image``, with the status given."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": DEPLOYMENT_UID,
            "generation": generation,
            "resourceVersion": "48213",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "annotations": {REVISION_ANNOTATION: "2"},
            "managedFields": [{"manager": "openrollout.k8s", "operation": "Apply"}],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(image),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        },
        "status": {
            "observedGeneration": observed,
            "replicas": current,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def replica_set(
    name,
    uid,
    image,
    replicas,
    ready=None,
    available=None,
    revision="1",
    created="2024-05-01T10:00:00Z",
    owner_uid=DEPLOYMENT_UID,
    conditions=None,
):
    pod_hash = name.rsplit("-", 1)[1]
    ready = replicas if ready is None else ready
    available = ready if available is None else available
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": uid,
            "creationTimestamp": created,
            "labels": {"app": "web", POD_TEMPLATE_HASH_LABEL: pod_hash},
            "annotations": {REVISION_ANNOTATION: revision},
            "ownerReferences": owner("Deployment", "web", owner_uid),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web", POD_TEMPLATE_HASH_LABEL: pod_hash}},
            "template": template(image, pod_hash=pod_hash),
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def old_rs(replicas, ready=None, available=None):
    return replica_set("web-6d4cf56db6", "rs-uid-1", V1, replicas, ready, available, revision="1")


def new_rs(replicas, ready=None, available=None, conditions=None):
    return replica_set(
        "web-7f9c8b5d4",
        "rs-uid-2",
        V2,
        replicas,
        ready,
        available,
        revision="2",
        created="2024-05-02T10:00:00Z",
        conditions=conditions,
    )


def pod(name, rs, ready=True, phase="Running", waiting=None, restarts=0):
    """A pod controlled by ReplicaSet ``rs``; ``waiting`` is the app container's waiting reason."""
    state = (
        {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "2024-05-02T10:01:00Z"}}
    )
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"pod-uid-{name}",
            "ownerReferences": owner("ReplicaSet", rs["metadata"]["name"], rs["metadata"]["uid"]),
        },
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
            "containerStatuses": [
                {"name": "app", "ready": ready, "restartCount": restarts, "state": state},
            ],
        },
    }


DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "web-7f9c8b5d4" has timed out progressing.',
}


# --- the strategy, both ways ------------------------------------------------------------


@pytest.mark.parametrize(
    ("k8s_strategy", "expected"),
    [
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0}},
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "10%"}},
            {"type": "Rolling", "rollingParams": {"maxSurge": "50%", "maxUnavailable": "10%"}},
        ),
        # No type: the API's default, RollingUpdate.
        ({"rollingUpdate": {"maxSurge": 2}}, {"type": "Rolling", "rollingParams": {"maxSurge": 2}}),
        # No rollingUpdate: our defaults (25% / 25%) apply when it is parsed.
        ({"type": "RollingUpdate"}, {"type": "Rolling", "rollingParams": {}}),
        # Keys the Deployment API does not have are not carried over.
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "timeoutSeconds": 5}},
            {"type": "Rolling", "rollingParams": {"maxSurge": 1}},
        ),
        ({"type": "Recreate"}, {"type": "Recreate"}),
        ({"type": "Recreate", "rollingUpdate": None}, {"type": "Recreate"}),
        ({}, None),
        (None, None),
        ("RollingUpdate", None),
    ],
)
def test_strategy_from_deployment_strategy(k8s_strategy, expected):
    assert strategy_from_deployment_strategy(k8s_strategy) == expected


def test_strategy_from_deployment_strategy_refuses_other_types():
    with pytest.raises(RolloutInputError) as exc:
        strategy_from_deployment_strategy({"type": "BlueGreen"})
    assert str(exc.value) == (
        "spec.strategy.type 'BlueGreen' is not a Deployment strategy (RollingUpdate or Recreate)"
    )


def test_strategy_from_deployment_strategy_parses_back_to_the_same_fenceposts():
    parsed = parse_strategy(
        strategy_from_deployment_strategy(
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}}
        )
    )
    assert (parsed.type, parsed.max_surge, parsed.max_unavailable) == ("Rolling", 1, "10%")


@pytest.mark.parametrize(
    ("strategy", "canary", "expected"),
    [
        (
            ROLLING,
            False,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        ),
        (
            rolling(3, 2),
            False,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}},
        ),
        # Canary-first: no old pod goes before a new one is available.
        (
            rolling(3, 2),
            True,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}},
        ),
        (ROLLING, True, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}),
        # A merge patch with rollingUpdate null removes the live one (the API refuses both).
        (RECREATE, False, {"type": "Recreate", "rollingUpdate": None}),
        (RECREATE, True, {"type": "Recreate", "rollingUpdate": None}),
    ],
)
def test_deployment_strategy(strategy, canary, expected):
    assert deployment_strategy(strategy, canary=canary) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Custom: the strategy the controller follows once the deployer resumes the Deployment.
        (
            {"type": "Custom", "customParams": {"image": "deployer:1"}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        ),
        (
            {"type": "Custom", "customParams": {"image": "d:1"}, "rollingParams": {"maxSurge": 2}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"}},
        ),
        (
            {"type": "Custom", "customParams": {"image": "d:1"}, "recreateParams": {}},
            {"type": "Recreate", "rollingUpdate": None},
        ),
    ],
)
def test_deployment_strategy_for_custom(raw, expected):
    assert deployment_strategy(parse_strategy(raw)) == expected


ROLLING_1_0 = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
ROLLING_DEFAULT = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
RECREATE_WANTED = {"type": "Recreate", "rollingUpdate": None}


@pytest.mark.parametrize(
    ("live", "wanted", "same"),
    [
        (ROLLING_1_0, ROLLING_1_0, True),
        # 1 and "1" say the same (a value that went through Jinja is a string).
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "1", "maxUnavailable": "0"}},
            ROLLING_1_0,
            True,
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}},
            ROLLING_1_0,
            False,
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
            ROLLING_1_0,
            False,
        ),
        # A missing rollingUpdate (or key) is the API's default, 25%.
        ({"type": "RollingUpdate"}, ROLLING_DEFAULT, True),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}, ROLLING_DEFAULT, True),
        ({"type": "RollingUpdate"}, ROLLING_1_0, False),
        # A missing type is RollingUpdate, a missing strategy all defaults.
        ({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, ROLLING_1_0, True),
        (None, ROLLING_DEFAULT, True),
        ({"type": "Recreate"}, ROLLING_DEFAULT, False),
        ({"type": "Recreate"}, RECREATE_WANTED, True),
        ({"type": "Recreate", "rollingUpdate": None}, RECREATE_WANTED, True),
        # A leftover rollingUpdate must still be removed: not the same.
        ({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}, RECREATE_WANTED, False),
        (ROLLING_DEFAULT, RECREATE_WANTED, False),
        (None, RECREATE_WANTED, False),
    ],
)
def test_same_deployment_strategy(live, wanted, same):
    assert same_deployment_strategy(live, wanted) is same


# --- the request ------------------------------------------------------------------------


def params(**given):
    """The rollout module's options as Ansible passes them: every option, unset ones None."""
    options = {
        "definition": None,
        "src": None,
        "name": None,
        "namespace": None,
        "images": None,
        "replicas": None,
        "strategy": None,
        "change_cause": None,
        "rollback_on_failure": True,
        "wait": True,
        "wait_timeout": None,
    }
    options.update(given)
    return options


def definition(**spec_extra):
    """A Deployment as pasted from `kubectl get -o yaml`: server fields and status included."""
    body = deployment(image=V1)
    body["metadata"]["selfLink"] = "/apis/apps/v1/namespaces/shop/deployments/web"
    body["metadata"]["labels"] = {"app": "web"}
    body["spec"]["paused"] = True
    body["spec"]["template"] = template(V1, init_image="registry.example/migrate:1")
    body["spec"].update(spec_extra)
    return body


def test_build_request_definition_mode():
    given = definition()
    before = copy.deepcopy(given)
    request = build_request(params(definition=given, change_cause="web 1", wait_timeout=300))

    assert request.namespace == "shop"
    assert request.name == "web"
    # Server bookkeeping, the controller's annotations and status are gone; user metadata stays.
    assert request.body["metadata"] == {
        "name": "web",
        "namespace": "shop",
        "annotations": {},
        "labels": {"app": "web"},
    }
    assert "status" not in request.body
    # The engine sets strategy and paused itself; the definition's strategy is the request's.
    assert "strategy" not in request.body["spec"]
    assert "paused" not in request.body["spec"]
    assert request.strategy == ROLLING
    assert request.body["spec"]["replicas"] == 3
    assert request.body["spec"]["template"] == template(V1, init_image="registry.example/migrate:1")
    assert (request.change_cause, request.wait, request.wait_timeout, request.rollback_on_failure) == (
        "web 1",
        True,
        300,
        True,
    )
    assert given == before, "the definition given must not be changed"


@pytest.mark.parametrize(
    ("definition_strategy", "option", "expected"),
    [
        # The definition's spec.strategy is used when there is no strategy option ...
        ({"type": "Recreate"}, None, RECREATE),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            None,
            rolling(1, 0),
        ),
        # ... and the option wins over it.
        ({"type": "Recreate"}, {"type": "Rolling", "rollingParams": {"maxSurge": 2}}, rolling(2, "25%")),
        # Neither: None, the live Deployment's strategy is kept.
        (None, None, None),
    ],
)
def test_build_request_strategy_source(definition_strategy, option, expected):
    given = definition()
    del given["spec"]["strategy"]
    if definition_strategy is not None:
        given["spec"]["strategy"] = definition_strategy
    request = build_request(params(definition=given, strategy=option))
    assert request.strategy == expected
    assert "strategy" not in request.body["spec"]


@pytest.mark.parametrize(
    ("namespace_option", "definition_namespace", "expected"),
    [
        (None, "shop", "shop"),
        ("shop", "shop", "shop"),
        ("shop", None, "shop"),
        (None, None, "default"),
    ],
)
def test_build_request_namespace(namespace_option, definition_namespace, expected):
    given = definition()
    given["metadata"].pop("namespace")
    if definition_namespace is not None:
        given["metadata"]["namespace"] = definition_namespace
    request = build_request(params(definition=given, namespace=namespace_option))
    assert request.namespace == expected
    assert request.body["metadata"]["namespace"] == expected


def test_build_request_images_and_replicas_go_into_the_definition():
    request = build_request(
        params(
            definition=definition(), images={"app": V2, "migrate": "registry.example/migrate:2"}, replicas=5
        )
    )
    assert request.body["spec"]["template"]["spec"] == {
        "initContainers": [{"name": "migrate", "image": "registry.example/migrate:2"}],
        "containers": [{"name": "app", "image": V2}, {"name": "proxy", "image": "envoy:1.30"}],
    }
    assert request.body["spec"]["replicas"] == 5
    assert request.images == {"app": V2, "migrate": "registry.example/migrate:2"}
    assert request.replicas == 5


def test_build_request_name_mode():
    request = build_request(params(name="web", images={"app": V2}))
    assert request == RolloutRequest(
        namespace="default",
        name="web",
        body=None,
        images={"app": V2},
        replicas=None,
        strategy=None,
        change_cause=None,
        rollback_on_failure=True,
        wait=True,
        wait_timeout=None,
    )


@pytest.mark.parametrize(
    "given",
    [
        {"images": {"app": V2}},
        {"replicas": 0},
        {"strategy": {"type": "Recreate"}},
        {"change_cause": "rotate certificates"},
    ],
)
def test_build_request_name_mode_needs_one_change(given):
    request = build_request(params(name="web", namespace="shop", **given))
    assert (request.namespace, request.name, request.body) == ("shop", "web", None)


def test_build_request_carries_hooks():
    # Hooks used to be refused here; the engine runs them now (see _engine._run_hook).
    strategy = {
        "type": "Recreate",
        "recreateParams": {"mid": {"execNewPod": {"containerName": "app", "command": ["/bin/migrate"]}}},
    }
    request = build_request(params(name="web", strategy=strategy))
    assert sorted(request.strategy.hooks) == ["mid"]
    assert request.strategy.hooks["mid"].exec_new_pod.command == ["/bin/migrate"]


def without(key, mapping):
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            params(definition=definition(), namespace="prod"),
            "namespace 'prod' differs from the definition's metadata.namespace 'shop'; give one of them",
        ),
        (
            params(definition=definition(), name="api"),
            "name 'api' differs from the definition's metadata.name 'web'",
        ),
        (
            params(definition=dict(definition(), kind="ReplicaSet")),
            "definition has kind 'ReplicaSet': this module rolls out kind Deployment, StatefulSet or DaemonSet "
            "(apiVersion apps/v1) or DeploymentConfig (apps.openshift.io/v1)",
        ),
        (
            params(definition=without("kind", definition())),
            "definition has kind None: this module rolls out kind Deployment, StatefulSet or DaemonSet "
            "(apiVersion apps/v1) or DeploymentConfig (apps.openshift.io/v1)",
        ),
        (
            params(definition=dict(definition(), apiVersion="extensions/v1beta1")),
            "definition has apiVersion 'extensions/v1beta1': use apps/v1 for a Deployment",
        ),
        (
            params(definition=["kind: Deployment"]),
            "definition must be a Deployment (or a StatefulSet or DaemonSet) as a dictionary "
            "(or YAML text of one), not list",
        ),
        (
            params(definition=dict(definition(), metadata={"namespace": "shop"})),
            "definition has no metadata.name",
        ),
        (params(definition=without("spec", definition())), "definition has no spec"),
        (
            params(definition=definition(), images={"db": "postgres:16", "app": V2, "cache": "redis:7"}),
            "images names container(s) cache, db that the pod template does not have; "
            "containers: migrate, app, proxy",
        ),
        (
            params(definition=definition(template={"metadata": {}, "spec": {}}), images={"app": V2}),
            "images names container(s) app that the pod template does not have; containers: none",
        ),
        (params(name="web", images={"app": ""}), "images.app must be an image reference, got ''"),
        (params(name="web", replicas=-1), "replicas must be 0 or more, got -1"),
        (
            params(name="web", images={"app": V2}, wait_timeout=0),
            "wait_timeout must be more than 0 seconds, got 0",
        ),
        (
            params(name="web", images={"app": V2}, wait_timeout=-30),
            "wait_timeout must be more than 0 seconds, got -30",
        ),
        (
            params(name="web", namespace="shop"),
            "nothing to change: with name, give images, replicas, strategy or change_cause "
            "(or give the whole Deployment as definition)",
        ),
        (params(), "give definition (or src) with the Deployment, or name of an existing one"),
        # StrategyError becomes RolloutInputError, message unchanged.
        (
            params(
                name="web",
                strategy={"type": "Rolling", "rollingParams": {"maxSurge": 0, "maxUnavailable": 0}},
            ),
            "strategy.rollingParams: maxSurge and maxUnavailable cannot both be 0: "
            "the rollout could never make progress",
        ),
        (
            params(name="web", strategy={"type": "Rolling", "rolling_params": {"max_surg": 1}}),
            "strategy.rolling_params: unknown key 'max_surg' (did you mean 'max_surge'?); allowed keys: "
            "intervalSeconds (interval_seconds), maxSurge (max_surge), maxUnavailable (max_unavailable), "
            "post, pre, rollback, timeoutSeconds (timeout_seconds), updatePeriodSeconds (update_period_seconds)",
        ),
        # The definition's strategy is read through the same parser (the message names the
        # strategy option's path, not spec.strategy.rollingUpdate).
        (
            params(
                definition=definition(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x"}})
            ),
            "strategy.rollingParams.maxSurge: invalid value 'x': expected a non-negative int (5) or a percentage ('25%')",
        ),
        (
            params(definition=definition(strategy={"type": "Blue"})),
            "spec.strategy.type 'Blue' is not a Deployment strategy (RollingUpdate or Recreate)",
        ),
    ],
)
def test_build_request_errors(given, message):
    with pytest.raises(RolloutInputError) as exc:
        build_request(given)
    assert str(exc.value) == message


# --- name mode and definition mode writes -----------------------------------------------


def name_request(**given):
    return build_request(params(name="web", namespace="shop", **given))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"images": {"app": V2}},
            {"metadata": {}, "spec": {"template": {"spec": {"containers": [{"name": "app", "image": V2}]}}}},
        ),
        # Init containers go to initContainers: a strategic merge patch merges each list by name.
        (
            {"images": {"migrate": "registry.example/migrate:2", "proxy": "envoy:1.31", "app": V2}},
            {
                "metadata": {},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "app", "image": V2},
                                {"name": "proxy", "image": "envoy:1.31"},
                            ],
                            "initContainers": [{"name": "migrate", "image": "registry.example/migrate:2"}],
                        }
                    }
                },
            },
        ),
        (
            {"images": {"migrate": "registry.example/migrate:2"}},
            {
                "metadata": {},
                "spec": {
                    "template": {
                        "spec": {
                            "initContainers": [{"name": "migrate", "image": "registry.example/migrate:2"}]
                        }
                    }
                },
            },
        ),
        ({"replicas": 0}, {"metadata": {}, "spec": {"replicas": 0}}),
        (
            {"change_cause": "web 2: faster search", "replicas": 4},
            {
                "metadata": {"annotations": {CHANGE_CAUSE_ANNOTATION: "web 2: faster search"}},
                "spec": {"replicas": 4},
            },
        ),
    ],
)
def test_name_mode_patch(given, expected):
    live = definition()
    before = copy.deepcopy(live)
    assert name_mode_patch(name_request(**given), live) == expected
    assert live == before, "the live Deployment must not be changed"


def test_name_mode_patch_unknown_container():
    with pytest.raises(RolloutInputError) as exc:
        name_mode_patch(name_request(images={"sidecar": "x:1"}), definition())
    assert str(exc.value) == (
        "images names container(s) sidecar that the pod template does not have; containers: migrate, app, proxy"
    )


def test_apply_body_adds_change_cause_without_changing_the_request():
    request = build_request(params(definition=definition(), change_cause="web 1"))
    before = copy.deepcopy(request.body)
    body = apply_body(request)
    assert body["metadata"]["annotations"] == {
        CHANGE_CAUSE_ANNOTATION: "web 1",
        STRATEGY_ANNOTATION: strategy_annotation(ROLLING),
    }
    assert body["spec"]["replicas"] == 3
    assert request.body == before

    body["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert request.body == before, "the body returned must be a copy"


@pytest.mark.parametrize(("replicas", "expected"), [(None, 3), (0, 0), (1, 1)])
def test_apply_body_replicas_override(replicas, expected):
    request = build_request(params(definition=definition()))
    body = apply_body(request, replicas)
    assert body["spec"]["replicas"] == expected
    assert request.body["spec"]["replicas"] == 3
    assert CHANGE_CAUSE_ANNOTATION not in body["metadata"]["annotations"]


@pytest.mark.parametrize("annotations", [None, {}])
def test_apply_body_change_cause_with_empty_annotations(annotations):
    # YAML "annotations:" with nothing under it is null: the change cause still goes in.
    given = definition()
    given["metadata"]["annotations"] = annotations
    request = build_request(params(definition=given, change_cause="web 1"))
    assert apply_body(request)["metadata"]["annotations"][CHANGE_CAUSE_ANNOTATION] == "web 1"


def live_with_recorded(value):
    live = deployment()
    live["metadata"]["annotations"][STRATEGY_ANNOTATION] = value
    return live


@pytest.mark.parametrize(
    ("strategy", "live", "recorded"),
    [
        # The task's strategy (or the definition's spec.strategy) is recorded, whatever was there.
        ({"type": "Recreate"}, live_with_recorded("{}"), strategy_annotation(RECREATE)),
        ({"type": "Recreate"}, None, strategy_annotation(RECREATE)),
        # No strategy anywhere: the Deployment keeps its own, recorded hooks included.
        (None, live_with_recorded('{"type":"Recreate"}'), '{"type":"Recreate"}'),
        (None, deployment(), None),
        (None, None, None),
    ],
)
def test_apply_body_records_the_strategy(strategy, live, recorded):
    given = definition()
    del given["spec"]["strategy"]
    request = build_request(params(definition=given, strategy=strategy))
    annotations = apply_body(request, live=live)["metadata"]["annotations"]
    assert annotations.get(STRATEGY_ANNOTATION) == recorded


def test_name_mode_patch_records_the_strategy():
    request = name_request(images={"app": V2}, strategy={"type": "Recreate"})
    patch = name_mode_patch(request, definition())
    assert patch["metadata"] == {"annotations": {STRATEGY_ANNOTATION: strategy_annotation(RECREATE)}}
    assert "annotations" not in name_mode_patch(name_request(images={"app": V2}), definition())["metadata"]


def test_apply_body_needs_a_definition():
    with pytest.raises(ValueError, match="apply_body needs a definition"):
        apply_body(name_request(replicas=2))


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"spec": {"replicas": 4}}, 4),
        ({"spec": {"replicas": 0}}, 0),
        ({"spec": {}}, 1),  # the API's default
        ({"spec": {"replicas": True}}, 1),
        ({}, 1),
    ],
)
def test_desired_replicas(obj, expected):
    assert desired_replicas(obj) == expected


# --- what changes -----------------------------------------------------------------------


def changed(live, **edits):
    """``live`` as the dry run returns it after ``edits`` (template image, replicas, labels ...)."""
    desired = copy.deepcopy(live)
    if "image" in edits:
        desired["spec"]["template"]["spec"]["containers"][0]["image"] = edits["image"]
    if "replicas" in edits:
        desired["spec"]["replicas"] = edits["replicas"]
    if "label" in edits:
        desired["metadata"]["labels"] = {"team": edits["label"]}
    if "annotation" in edits:
        desired["metadata"]["annotations"][CHANGE_CAUSE_ANNOTATION] = edits["annotation"]
    if "hash_label" in edits:
        desired["spec"]["template"]["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = edits["hash_label"]
    if "min_ready" in edits:
        desired["spec"]["minReadySeconds"] = edits["min_ready"]
    # The server bumps these on every write; they never count as a change.
    desired["metadata"]["resourceVersion"] = "48300"
    desired["metadata"]["generation"] = 5
    return desired


LIVE = deployment()
ROLLING_LIVE = LIVE["spec"]["strategy"]
WANTED_RECREATE = deployment_strategy(RECREATE)


@pytest.mark.parametrize(
    ("live", "desired", "wanted", "expected"),
    [
        # A new Deployment: everything is new; strategy only when one is set.
        (None, LIVE, deployment_strategy(ROLLING), Change(True, True, True, True, True, True)),
        (None, LIVE, None, Change(True, True, True, True, True, False)),
        # Nothing differs.
        (LIVE, changed(LIVE), None, Change(False, False, False, False, False, False)),
        # A new image: template and spec.
        (LIVE, changed(LIVE, image=V1), None, Change(False, True, False, True, False, False)),
        # The pod-template-hash label never makes a new template.
        (LIVE, changed(LIVE, hash_label="abc"), None, Change(False, False, False, True, False, False)),
        # Only replicas.
        (LIVE, changed(LIVE, replicas=5), None, Change(False, False, True, True, False, False)),
        # Another spec field: spec, but neither template nor replicas.
        (LIVE, changed(LIVE, min_ready=10), None, Change(False, False, False, True, False, False)),
        # Only metadata: labels, annotations.
        (LIVE, changed(LIVE, label="search"), None, Change(False, False, False, False, True, False)),
        (LIVE, changed(LIVE, annotation="web 3"), None, Change(False, False, False, False, True, False)),
        # Strategy: None leaves it alone, whatever the live one is.
        (LIVE, changed(LIVE), WANTED_RECREATE, Change(False, False, False, False, False, True)),
        (LIVE, changed(LIVE), ROLLING_LIVE, Change(False, False, False, False, False, False)),
        (
            LIVE,
            changed(LIVE),
            deployment_strategy(rolling(1, 0)),
            Change(False, False, False, False, False, True),
        ),
    ],
)
def test_compare(live, desired, wanted, expected):
    assert compare(live, desired, wanted) == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (Change(False, False, False, False, False, False), False),
        (Change(True, False, False, False, False, False), True),
        (Change(False, True, True, True, False, False), True),
        (Change(False, False, False, False, True, False), True),
        (Change(False, False, False, False, False, True), True),
    ],
)
def test_change_any(change, expected):
    assert change.any is expected


@pytest.mark.parametrize(
    ("strategy", "replicas", "old_available", "expected"),
    [
        # 4 replicas, 25%/25%: surge 1, unavailable 1 -> canary first.
        (ROLLING, 4, 4, True),
        (rolling(3, 2), 10, 10, True),
        # 1 replica, 25%/25%: unavailable rounds down to 0, nothing to protect with it.
        (ROLLING, 1, 1, False),
        # No room to surge: the canary would need an old pod gone first.
        (rolling(0, 1), 10, 10, False),
        # maxUnavailable 0 already.
        (rolling(1, 0), 10, 10, False),
        # Nothing to protect.
        (ROLLING, 4, 0, False),
        (ROLLING, 0, 4, False),
        (RECREATE, 4, 4, False),
    ],
)
def test_canary_first(strategy, replicas, old_available, expected):
    assert canary_first(strategy, replicas, old_available) is expected


@pytest.mark.parametrize(
    ("strategy", "replicas", "old_replicas", "warned"),
    [
        # No surge, and every pod may go: a failing revision leaves none serving.
        (rolling(0, "100%"), 4, 4, True),
        (rolling("0%", 4), 4, 4, True),
        (rolling(0, 5), 4, 3, True),
        # One old pod stays until a new one is available.
        (rolling(0, "75%"), 4, 4, False),
        # Room to surge: canary-first proves a new pod before the old ones go.
        (rolling(1, "100%"), 4, 4, False),
        (ROLLING, 4, 4, False),
        # Nothing serving to lose, or nothing to roll out to.
        (rolling(0, "100%"), 4, 0, False),
        (rolling(0, "100%"), 0, 4, False),
        (RECREATE, 4, 4, False),
    ],
)
def test_capacity_gap(strategy, replicas, old_replicas, warned):
    warnings = capacity_gap(strategy, replicas, old_replicas)
    assert bool(warnings) is warned
    if warned:
        assert warnings[0].startswith(
            f"maxUnavailable {strategy.max_unavailable} with maxSurge {strategy.max_surge}"
        )
        assert f"lets all {old_replicas} old pods go before any new pod is available" in warnings[0]


TEMPLATE_CHANGE = Change(False, True, False, True, False, False)
CREATED = Change(True, True, True, True, True, False)
SCALE = Change(False, False, True, True, False, False)


def states(*pairs):
    return [{"new": new, "old": old} for new, old in pairs]


@pytest.mark.parametrize(
    ("strategy", "change", "replicas", "old_replicas", "expected"),
    [
        # A new template, Rolling: the fencepost simulation (worked example in _fenceposts).
        (rolling(3, 2), TEMPLATE_CHANGE, 10, 10, states((0, 10), (3, 10), (3, 5), (8, 5), (8, 0), (10, 0))),
        (ROLLING, TEMPLATE_CHANGE, 4, 4, states((0, 4), (1, 4), (1, 2), (3, 2), (3, 0), (4, 0))),
        # Recreate: every old pod goes, then one new, then the rest.
        (RECREATE, TEMPLATE_CHANGE, 3, 3, states((0, 3), (0, 0), (1, 0), (3, 0))),
        (RECREATE, TEMPLATE_CHANGE, 1, 2, states((0, 2), (0, 0), (1, 0))),
        # Created Rolling: straight to the replicas.
        (ROLLING, CREATED, 3, 0, states((0, 0), (3, 0))),
        (ROLLING, CREATED, 0, 0, states((0, 0))),  # one state, not (0, 0) twice
        # Created Recreate: one pod first.
        (RECREATE, CREATED, 3, 0, states((0, 0), (1, 0), (3, 0))),
        # A scale: the current pods count as new.
        (ROLLING, SCALE, 5, 2, states((2, 0), (5, 0))),
        (RECREATE, SCALE, 1, 4, states((4, 0), (1, 0))),
        # Nothing to do.
        (ROLLING, Change(False, False, False, False, True, False), 3, 3, states((3, 0))),
    ],
)
def test_plan_steps(strategy, change, replicas, old_replicas, expected):
    assert plan_steps(strategy, change, replicas, old_replicas) == expected


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "replicas", "old_replicas"),
    [(3, 2, 10, 10), ("25%", "25%", 4, 4), (0, 1, 5, 5), (1, 1, 5, 10), ("50%", 0, 7, 3), (1, 0, 0, 5)],
)
def test_plan_steps_rolling_is_plan_rolling_steps(max_surge, max_unavailable, replicas, old_replicas):
    expected = plan_rolling_steps(replicas, old_replicas, max_surge, max_unavailable)
    steps = plan_steps(rolling(max_surge, max_unavailable), TEMPLATE_CHANGE, replicas, old_replicas)
    assert steps == [{"new": new, "old": old} for new, old in expected]


def test_plan_steps_recreate_is_plan_recreate_steps():
    for replicas, old_replicas in ((3, 3), (0, 2), (5, 1)):
        expected = [{"new": new, "old": old} for new, old in plan_recreate_steps(replicas, old_replicas)]
        assert plan_steps(RECREATE, TEMPLATE_CHANGE, replicas, old_replicas) == expected


# --- waiting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"tier": "frontend", "app": "web"}}, "app=web,tier=frontend"),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}]},
            "env in (prod,staging)",
        ),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}, "env notin (dev)"),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, "canary"),
        ({"matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]}, "!legacy"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod"]},
                    {"key": "track", "operator": "NotIn", "values": ["canary", "shadow"]},
                    {"key": "tier", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            },
            "app=web,env in (prod),track notin (canary,shadow),tier,!legacy",
        ),
        ({}, ""),
        (None, ""),
    ],
)
def test_selector_string(selector, expected):
    assert selector_string(selector) == expected


def test_selector_string_unknown_operator():
    with pytest.raises(RolloutInputError) as exc:
        selector_string({"matchExpressions": [{"key": "replicas", "operator": "Gt", "values": ["2"]}]})
    assert str(exc.value) == "label selector operator 'Gt' is unknown"


def counts(replicas, ready, available):
    return {"replicas": replicas, "ready": ready, "available": available}


@pytest.mark.parametrize(
    ("replica_sets", "expected"),
    [
        # Mid-rollout: new 3 (2 ready, 1 available), old 1.
        ([old_rs(1), new_rs(3, ready=2, available=1)], {"new": counts(3, 2, 1), "old": counts(1, 1, 1)}),
        # Several old ReplicaSets add up.
        (
            [
                replica_set("web-5b7d9c8f6", "rs-uid-0", "registry.example/web:0", 2, revision="0"),
                old_rs(1),
                new_rs(1),
            ],
            {"new": counts(1, 1, 1), "old": counts(3, 3, 3)},
        ),
        # Before the new ReplicaSet exists, "new" counts nothing.
        ([old_rs(3)], {"new": counts(0, 0, 0), "old": counts(3, 3, 3)}),
        # ReplicaSets another Deployment controls are not counted, even with the same template.
        (
            [old_rs(2), replica_set("api-7f9c8b5d4", "rs-uid-x", V2, 4, owner_uid=OTHER_DEPLOYMENT_UID)],
            {"new": counts(0, 0, 0), "old": counts(2, 2, 2)},
        ),
        ([], {"new": counts(0, 0, 0), "old": counts(0, 0, 0)}),
    ],
)
def test_replica_counts(replica_sets, expected):
    assert replica_counts(deployment(), replica_sets) == expected


def look(goal, dep, replica_sets, pods, target=1, timeout=3, at=(0,)):
    """assess() at each time in ``at`` with one tracker; the last answer."""
    tracker = ProgressTracker(timeout, now=0)
    answer = None
    for now in at:
        answer = assess(goal, dep, replica_sets, pods, tracker, now, target)
    return answer


ROLLING_MID = 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'
DONE = 'deployment "web" successfully rolled out'
DEADLINE_MESSAGE = 'deployment "web" exceeded its progress deadline'
MID_DEPLOYMENT = deployment(current=4, updated=1, ready=3, available=3)
MID_SETS = [old_rs(3), new_rs(1, ready=0, available=0)]


@pytest.mark.parametrize(
    ("goal", "dep", "replica_sets", "pods", "expected"),
    [
        # complete: kubectl rollout status says done.
        (GOAL_COMPLETE, deployment(), [old_rs(0), new_rs(3)], [], Assessment(True, None, DONE)),
        (GOAL_COMPLETE, MID_DEPLOYMENT, MID_SETS, [], Assessment(False, None, ROLLING_MID)),
        (
            GOAL_COMPLETE,
            deployment(generation=5, observed=4),
            [old_rs(0), new_rs(3)],
            [],
            Assessment(False, None, "Waiting for deployment spec update to be observed..."),
        ),
        # The controller gave up: fail at once, with what the new pods say.
        (
            GOAL_COMPLETE,
            deployment(current=4, updated=1, available=3, conditions=[DEADLINE]),
            MID_SETS,
            [pod("web-7f9c8b5d4-x2x9k", MID_SETS[1], ready=False, waiting="ErrImagePull")],
            Assessment(
                False,
                Failure(
                    "ProgressDeadlineExceeded",
                    f"{DEADLINE_MESSAGE}: ErrImagePull: web-7f9c8b5d4-x2x9k (container app)",
                ),
                DEADLINE_MESSAGE,
            ),
        ),
        (
            GOAL_CANARY,
            deployment(current=4, updated=1, available=3, conditions=[DEADLINE]),
            MID_SETS,
            [],
            Assessment(False, Failure("ProgressDeadlineExceeded", DEADLINE_MESSAGE), DEADLINE_MESSAGE),
        ),
        # CrashLoopBackOff among the new ReplicaSet's pods fails fast ...
        (
            GOAL_COMPLETE,
            MID_DEPLOYMENT,
            MID_SETS,
            [
                pod("web-6d4cf56db6-aaaaa", MID_SETS[0]),
                pod("web-7f9c8b5d4-x2x9k", MID_SETS[1], ready=False, waiting="CrashLoopBackOff", restarts=3),
            ],
            Assessment(
                False,
                Failure("CrashLoopBackOff", "CrashLoopBackOff: web-7f9c8b5d4-x2x9k (container app)"),
                ROLLING_MID,
            ),
        ),
        (
            GOAL_CANARY,
            MID_DEPLOYMENT,
            MID_SETS,
            [pod("web-7f9c8b5d4-x2x9k", MID_SETS[1], ready=False, waiting="ImagePullBackOff")],
            Assessment(
                False,
                Failure("ImagePullBackOff", "ImagePullBackOff: web-7f9c8b5d4-x2x9k (container app)"),
                ROLLING_MID,
            ),
        ),
        # ... an old pod's does not: the rollout is replacing it.
        (
            GOAL_COMPLETE,
            MID_DEPLOYMENT,
            MID_SETS,
            [
                pod("web-6d4cf56db6-aaaaa", MID_SETS[0], ready=False, waiting="CrashLoopBackOff", restarts=7),
                pod("web-7f9c8b5d4-x2x9k", MID_SETS[1], ready=False),
            ],
            Assessment(False, None, ROLLING_MID),
        ),
        # A benign wait (ContainerCreating) is not a failure either.
        (
            GOAL_COMPLETE,
            MID_DEPLOYMENT,
            MID_SETS,
            [pod("web-7f9c8b5d4-x2x9k", MID_SETS[1], ready=False, waiting="ContainerCreating")],
            Assessment(False, None, ROLLING_MID),
        ),
        # canary: one pod of the new ReplicaSet available.
        (
            GOAL_CANARY,
            deployment(current=4, updated=1, ready=4, available=4),
            [old_rs(3), new_rs(1)],
            [],
            Assessment(True, None, "1 new pods available"),
        ),
        (GOAL_CANARY, MID_DEPLOYMENT, MID_SETS, [], Assessment(False, None, ROLLING_MID)),
        # Ready but not yet available (minReadySeconds) is not enough.
        (
            GOAL_CANARY,
            MID_DEPLOYMENT,
            [old_rs(3), new_rs(1, ready=1, available=0)],
            [],
            Assessment(False, None, ROLLING_MID),
        ),
        # A new ReplicaSet count the controller has not observed the spec for does not count.
        (
            GOAL_CANARY,
            deployment(generation=5, observed=4),
            [old_rs(3), new_rs(1)],
            [],
            Assessment(False, None, "Waiting for deployment spec update to be observed..."),
        ),
        # No new ReplicaSet yet.
        (GOAL_CANARY, MID_DEPLOYMENT, [old_rs(3)], [], Assessment(False, None, ROLLING_MID)),
        # A rollout to 0 replicas has no canary: done when the rollout is.
        (
            GOAL_CANARY,
            deployment(replicas=0, current=0, updated=0, ready=0, available=0),
            [old_rs(0), new_rs(0)],
            [],
            Assessment(True, None, "0 new pods available"),
        ),
    ],
)
def test_assess(goal, dep, replica_sets, pods, expected):
    assert look(goal, dep, replica_sets, pods) == expected


@pytest.mark.parametrize(
    ("available", "target", "done"),
    [(0, 1, False), (1, 1, True), (2, 3, False), (3, 3, True), (4, 3, True)],
)
def test_assess_new_available_target(available, target, done):
    dep = deployment(replicas=target, current=target, updated=target, ready=available, available=available)
    answer = look(
        GOAL_NEW_AVAILABLE, dep, [old_rs(0), new_rs(target, available=available)], [], target=target
    )
    assert answer.done is done
    assert answer.failure is None
    if done:
        assert answer.message == f"{available} new pods available"


OLD_GONE_DEPLOYMENT = deployment(replicas=0, current=0, updated=0, ready=0, available=0)


@pytest.mark.parametrize(
    ("replica_sets", "pods", "dep", "expected"),
    [
        # Old ReplicaSet at 0, no old pod left, new ReplicaSet made: done.
        ([old_rs(0), new_rs(0)], [], OLD_GONE_DEPLOYMENT, Assessment(True, None, "old pods gone")),
        # Pods that finished, and pods of the new ReplicaSet, are not old pods.
        (
            [old_rs(0), new_rs(0)],
            [
                pod("web-6d4cf56db6-done1", old_rs(0), ready=False, phase="Succeeded"),
                pod("web-6d4cf56db6-fail1", old_rs(0), ready=False, phase="Failed"),
                pod("web-7f9c8b5d4-new01", new_rs(0), ready=False, phase="Pending"),
            ],
            OLD_GONE_DEPLOYMENT,
            Assessment(True, None, "old pods gone"),
        ),
        # A pod that some other controller owns is none of ours.
        (
            [old_rs(0), new_rs(0)],
            [pod("api-1", replica_set("api-7f9c8b5d4", "rs-uid-x", V2, 1, owner_uid=OTHER_DEPLOYMENT_UID))],
            OLD_GONE_DEPLOYMENT,
            Assessment(True, None, "old pods gone"),
        ),
        # An old pod still runs (terminating): not yet.
        (
            [old_rs(0), new_rs(0)],
            [pod("web-6d4cf56db6-aaaaa", old_rs(0), ready=False)],
            OLD_GONE_DEPLOYMENT,
            Assessment(False, None, "waiting for 1 old pods to go"),
        ),
        # The old ReplicaSet is not scaled to 0 yet, even with no pods listed: not yet.
        (
            [old_rs(2), new_rs(0)],
            [],
            OLD_GONE_DEPLOYMENT,
            Assessment(False, None, "waiting for 0 old pods to go"),
        ),
        # No new ReplicaSet yet (the controller makes it once old pods are gone): not yet.
        ([old_rs(0)], [], OLD_GONE_DEPLOYMENT, Assessment(False, None, "waiting for 0 old pods to go")),
        # The controller has not seen the new spec: not yet.
        (
            [old_rs(0), new_rs(0)],
            [],
            deployment(replicas=0, generation=5, observed=4),
            Assessment(False, None, "waiting for 0 old pods to go"),
        ),
    ],
)
def test_assess_old_gone(replica_sets, pods, dep, expected):
    assert look(GOAL_OLD_GONE, dep, replica_sets, pods) == expected


def test_assess_old_gone_stalls():
    pods = [pod("web-6d4cf56db6-aaaaa", old_rs(0)), pod("web-6d4cf56db6-bbbbb", old_rs(0))]
    answer = look(GOAL_OLD_GONE, OLD_GONE_DEPLOYMENT, [old_rs(0), new_rs(0)], pods, timeout=3, at=(0, 3.5))
    assert answer == Assessment(
        False,
        Failure(REASON_TIMEOUT, "no progress for 3s (timeoutSeconds): waiting for 2 old pods to go"),
        "waiting for 2 old pods to go",
    )


STALLED = deployment(replicas=1, current=2, updated=1, ready=1, available=1)
STALLED_SETS = [old_rs(1), new_rs(1, ready=0, available=0)]
STALLED_STATUS = 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...'


def test_assess_stall_names_the_pods_not_ready():
    pods = [
        pod("web-6d4cf56db6-aaaaa", STALLED_SETS[0]),
        pod("web-7f9c8b5d4-x2x9k", STALLED_SETS[1], ready=False),
    ]
    # 3 s without progress is still within timeoutSeconds 3; a moment later it is not.
    assert look(GOAL_COMPLETE, STALLED, STALLED_SETS, pods, at=(0, 3)) == Assessment(
        False, None, STALLED_STATUS
    )
    assert look(GOAL_COMPLETE, STALLED, STALLED_SETS, pods, at=(0, 3.5)) == Assessment(
        False,
        Failure(
            REASON_TIMEOUT,
            f"no progress for 3s (timeoutSeconds): {STALLED_STATUS}; pods not ready: web-7f9c8b5d4-x2x9k",
        ),
        STALLED_STATUS,
    )


def test_assess_stall_lists_five_pods_then_counts():
    dep = deployment(replicas=7, current=7, updated=7, ready=0, available=0)
    sets = [old_rs(0), new_rs(7, ready=0)]
    pods = [pod(f"web-7f9c8b5d4-{i}", sets[1], ready=False) for i in range(7)]
    answer = look(GOAL_COMPLETE, dep, sets, pods, at=(0, 4))
    assert answer.failure == Failure(
        REASON_TIMEOUT,
        'no progress for 3s (timeoutSeconds): Waiting for deployment "web" rollout to finish: '
        "0 of 7 updated replicas are available...; pods not ready: web-7f9c8b5d4-0, web-7f9c8b5d4-1, "
        "web-7f9c8b5d4-2, web-7f9c8b5d4-3, web-7f9c8b5d4-4 and 2 more",
    )


def replica_failure(message):
    return {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}


@pytest.mark.parametrize("goal", [GOAL_CANARY, GOAL_COMPLETE, GOAL_NEW_AVAILABLE])
@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ('pods "web-7f9c8b5d4-zz" is forbidden: exceeded quota: compute, requested: cpu=1', "QuotaExceeded"),
        (
            'pods "web-7f9c8b5d4-" is forbidden: error looking up service account shop/deployer: '
            'serviceaccount "deployer" not found',
            "FailedCreate",
        ),
        ('Pod "web-7f9c8b5d4-zz" is invalid: spec.containers[0].image: Required value', "FailedCreate"),
    ],
)
def test_assess_fails_fast_when_the_new_replica_set_cannot_create_pods(goal, message, reason):
    # The ReplicaSet controller says so at once; no need to wait for the progress deadline.
    sets = [old_rs(1), new_rs(1, ready=0, available=0, conditions=[replica_failure(message)])]
    answer = look(goal, STALLED, sets, [pod("web-6d4cf56db6-aaaaa", sets[0])], at=(0,))
    assert answer.failure == Failure(reason, f"{reason}: {message}")


def test_assess_ignores_a_replica_failure_of_an_old_replica_set_or_one_cleared():
    cleared = {**replica_failure("exceeded quota"), "status": "False"}
    old = old_rs(1)
    old["status"]["conditions"] = [replica_failure("exceeded quota")]
    sets = [old, new_rs(1, ready=0, conditions=[cleared])]
    assert look(GOAL_CANARY, STALLED, sets, [], at=(0,)).failure is None


def test_assess_progress_restarts_the_timeout():
    tracker = ProgressTracker(3, now=0)
    pods = [pod("web-7f9c8b5d4-x2x9k", STALLED_SETS[1], ready=False)]
    assert assess(GOAL_COMPLETE, STALLED, STALLED_SETS, pods, tracker, 0).failure is None
    # At 2 s the new pod becomes ready: progress, the 3 s start again.
    moved = [pod("web-7f9c8b5d4-x2x9k", STALLED_SETS[1], ready=True)]
    assert assess(GOAL_COMPLETE, STALLED, STALLED_SETS, moved, tracker, 2).failure is None
    assert assess(GOAL_COMPLETE, STALLED, STALLED_SETS, moved, tracker, 5).failure is None
    assert assess(GOAL_COMPLETE, STALLED, STALLED_SETS, moved, tracker, 5.5).failure.reason == REASON_TIMEOUT


def test_assess_deleted():
    tracker = ProgressTracker(3, now=0)
    answer = assess(GOAL_COMPLETE, None, [], [], tracker, 100)
    assert answer == Assessment(
        False, Failure(REASON_DELETED, "the Deployment was deleted during the rollout"), ""
    )


# --- results ----------------------------------------------------------------------------


def test_without_noise():
    live = deployment()
    before = copy.deepcopy(live)
    cleaned = without_noise(live)
    assert "managedFields" not in cleaned["metadata"]
    assert cleaned["metadata"]["resourceVersion"] == "48213"
    assert cleaned["status"] == live["status"]
    assert live == before
    cleaned["spec"]["replicas"] = 9
    assert live == before, "a copy, not a view"
    assert without_noise(None) is None


def test_for_diff():
    live = deployment()
    live["metadata"]["labels"] = {"app": "web"}
    before = copy.deepcopy(live)
    assert for_diff(live) == {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": {REVISION_ANNOTATION: "2"},
            "labels": {"app": "web"},
        },
        "spec": live["spec"],
    }
    diff = for_diff(live)
    diff["spec"]["replicas"] = 9
    assert live == before
    assert for_diff(None) == {}


def test_build_request_drops_the_controllers_bookkeeping_annotations():
    from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import build_request as _build

    definition = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "annotations": {"deployment.kubernetes.io/revision": "7", "team": "shop"},
        },
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a"}]}}},
    }
    request = _build({"definition": definition})
    assert request.body["metadata"]["annotations"] == {"team": "shop"}
    assert definition["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "7"


@pytest.mark.parametrize(
    ("containers", "blank"),
    [
        ([{"name": "app", "image": "web:1"}], []),
        ([{"name": "app", "image": " "}], ["app"]),  # a DeploymentConfig's, for its ImageChange trigger
        ([{"name": "app", "image": ""}, {"name": "side", "image": "side:1"}], ["app"]),
        ([{"name": "app"}], ["app"]),
    ],
)
def test_blank_images_are_refused_with_the_container(containers, blank):
    template = {"spec": {"initContainers": [{"name": "init", "image": "\t"}], "containers": containers}}
    assert blank_images(template) == ["init", *blank]
    refusal = blank_image_refusal(template, "Deployment shop/web")
    assert refusal.startswith(f"container {', '.join(['init', *blank])} of Deployment shop/web has no image")
    assert "images: {init: <image>}" in refusal
    assert blank_image_refusal({"spec": {"containers": [{"name": "app", "image": "web:1"}]}}, "x") is None
