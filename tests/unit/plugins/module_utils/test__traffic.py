# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The pure part of service_selector and httproute_weights, by tables: the selector after a merge
# and its patch, pod readiness, the weights a rule gets, their shares, and the refusals.
import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._traffic import (
    TrafficInputError,
    label_selector,
    merged_selector,
    plan_weights,
    pod_serves_traffic,
    rule_weights,
    selector_patch,
    shares,
    wanted_selector,
    wanted_weights,
    weights_patch,
)

BLUE = {"app": "web", "openrollout.k8s/color": "blue"}


def service(selector=None):
    return {
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "17"},
        "spec": {"selector": copy.deepcopy(BLUE if selector is None else selector), "ports": [{"port": 80}]},
    }


# --- Service selector ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "wanted", "after"),
    [
        (BLUE, {"openrollout.k8s/color": "green"}, {"app": "web", "openrollout.k8s/color": "green"}),
        (BLUE, {"openrollout.k8s/color": "blue"}, BLUE),
        (BLUE, {"openrollout.k8s/color": None}, {"app": "web"}),
        (BLUE, {"absent": None}, BLUE),
        ({}, {"app": "web"}, {"app": "web"}),
        (BLUE, {"version": "2"}, {**BLUE, "version": "2"}),
    ],
)
def test_merged_selector(current, wanted, after):
    before = copy.deepcopy(current)
    assert merged_selector(current, wanted) == after
    assert current == before  # the input is not changed


@pytest.mark.parametrize(
    ("raw", "wanted"),
    [
        ({"color": "green"}, {"color": "green"}),
        ({"version": 2}, {"version": "2"}),
        ({"version": 2.1}, {"version": "2.1"}),
        ({"track": None}, {"track": None}),
    ],
)
def test_wanted_selector(raw, wanted):
    assert wanted_selector(raw) == wanted


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "selector must be a non-empty dictionary of labels, for example {color: green}"),
        (None, "selector must be a non-empty dictionary of labels, for example {color: green}"),
        ({"color": True}, "selector value of color must be a string (or null to remove the key), got True"),
        ({"color": ["a"]}, "selector value of color must be a string (or null to remove the key), got ['a']"),
        ({"": "x"}, "selector keys must be label names, got ''"),
    ],
)
def test_wanted_selector_refuses(raw, message):
    with pytest.raises(TrafficInputError) as exc:
        wanted_selector(raw)
    assert str(exc.value) == message


def test_selector_patch_sets_keys_and_removes_with_null():
    green = {"app": "web", "openrollout.k8s/color": "green"}
    assert selector_patch(service(), green) == {
        "metadata": {"resourceVersion": "17"},
        "spec": {"selector": {"app": "web", "openrollout.k8s/color": "green"}},
    }
    assert selector_patch(service(), {"app": "web"}) == {
        "metadata": {"resourceVersion": "17"},
        "spec": {"selector": {"app": "web", "openrollout.k8s/color": None}},
    }
    assert selector_patch(service(), BLUE) is None
    assert selector_patch(service({}), {"app": "web"}) == {
        "metadata": {"resourceVersion": "17"},
        "spec": {"selector": {"app": "web"}},
    }


def test_label_selector_is_sorted_equality():
    assert (
        label_selector({"openrollout.k8s/color": "green", "app": "web"})
        == "app=web,openrollout.k8s/color=green"
    )


def pod(ready="True", deleting=False, phase="Running"):
    metadata = {"name": "web-1"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-23T10:00:00Z"
    conditions = [{"type": "PodScheduled", "status": "True"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"metadata": metadata, "status": {"phase": phase, "conditions": conditions}}


@pytest.mark.parametrize(
    ("obj", "ready"),
    [
        (pod(), True),
        (pod("False"), False),
        (pod(None, phase="Pending"), False),
        (pod(deleting=True), False),
        ({"metadata": {"name": "bare"}}, False),
    ],
)
def test_pod_serves_traffic(obj, ready):
    assert pod_serves_traffic(obj) is ready


# --- HTTPRoute weights -----------------------------------------------------------------------


def route(*rules):
    return {
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "23"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": copy.deepcopy(list(rules))},
    }


STABLE_CANARY = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
    "backendRefs": [
        {"name": "web", "port": 80, "weight": 100},
        {"name": "web-canary", "port": 80, "weight": 0},
    ],
}
API = {"backendRefs": [{"name": "api", "port": 8080}]}


@pytest.mark.parametrize(
    ("rules", "rule", "weights", "before", "after"),
    [
        # 10% to the canary
        (
            [STABLE_CANARY],
            0,
            {"web": 90, "web-canary": 10},
            {"web": 100, "web-canary": 0},
            {"web": 90, "web-canary": 10},
        ),
        # only the canary named: the stable keeps its weight
        (
            [STABLE_CANARY],
            0,
            {"web-canary": 50},
            {"web": 100, "web-canary": 0},
            {"web": 100, "web-canary": 50},
        ),
        # already so
        (
            [STABLE_CANARY],
            0,
            {"web": 100, "web-canary": 0},
            {"web": 100, "web-canary": 0},
            {"web": 100, "web-canary": 0},
        ),
        # no weight means 1: setting 1 changes nothing
        ([API], 0, {"api": 1}, {"api": 1}, {"api": 1}),
        # the second rule
        (
            [API, STABLE_CANARY],
            1,
            {"web-canary": 100, "web": 0},
            {"web": 100, "web-canary": 0},
            {"web": 0, "web-canary": 100},
        ),
    ],
)
def test_plan_weights(rules, rule, weights, before, after):
    live = route(*rules)
    original = copy.deepcopy(live)
    plan = plan_weights(live, rule, weights)
    assert (plan.before, plan.after, plan.changed) == (before, after, before != after)
    assert live == original  # the input is not changed
    # the other rules and the other fields of the rule are kept
    assert [r for i, r in enumerate(plan.rules) if i != rule] == [r for i, r in enumerate(rules) if i != rule]
    assert plan.rules[rule].get("matches") == rules[rule].get("matches")
    assert rule_weights(plan.rules[rule]) == after


def test_a_backend_listed_twice_gets_the_weight_on_each_entry():
    two_ports = {
        "backendRefs": [{"name": "web", "port": 80}, {"name": "web", "port": 81}, {"name": "x", "port": 80}]
    }
    plan = plan_weights(route(two_ports), 0, {"web": 5})
    assert [ref.get("weight") for ref in plan.rules[0]["backendRefs"]] == [5, 5, None]
    assert (plan.before, plan.after) == ({"web": 2, "x": 1}, {"web": 10, "x": 1})


def test_weights_patch_writes_the_whole_rules_list_guarded():
    live = route(API, STABLE_CANARY)
    plan = plan_weights(live, 1, {"web": 90, "web-canary": 10})
    patch = weights_patch(live, plan)
    assert patch is not None
    assert patch["metadata"] == {"resourceVersion": "23"}
    assert patch["spec"]["rules"][0] == API
    assert patch["spec"]["rules"][1]["backendRefs"] == [
        {"name": "web", "port": 80, "weight": 90},
        {"name": "web-canary", "port": 80, "weight": 10},
    ]
    assert weights_patch(live, plan_weights(live, 1, {"web": 100})) is None


@pytest.mark.parametrize(
    ("rules", "rule", "weights", "message"),
    [
        ([], 0, {"web": 1}, "HTTPRoute shop/web has no rules"),
        ([STABLE_CANARY], 1, {"web": 1}, "HTTPRoute shop/web has 1 rule: rule must be from 0 to 0, got 1"),
        (
            [API, STABLE_CANARY],
            -1,
            {"web": 1},
            "HTTPRoute shop/web has 2 rules: rule must be from 0 to 1, got -1",
        ),
        (
            [STABLE_CANARY],
            0,
            {"web-v2": 10, "web": 90},
            "rule 0 of HTTPRoute shop/web has no backend web-v2 (its backends: web, web-canary)",
        ),
        (
            [STABLE_CANARY],
            0,
            {"web": 0},
            "rule 0 of HTTPRoute shop/web would send no traffic at all (every backend at weight 0): "
            "give at least one backend a weight above 0",
        ),
    ],
)
def test_plan_weights_refuses(rules, rule, weights, message):
    with pytest.raises(TrafficInputError) as exc:
        plan_weights(route(*rules), rule, weights)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("raw", "weights"),
    [
        ({"web": 90, "web-canary": 10}, {"web": 90, "web-canary": 10}),
        ({"web": "90"}, {"web": 90}),  # extra vars given as name=value are strings
        ({"web": 0, "x": 1000000}, {"web": 0, "x": 1000000}),
    ],
)
def test_wanted_weights(raw, weights):
    assert wanted_weights(raw) == weights


@pytest.mark.parametrize("value", [-1, 1000001, "ten", 1.5, True, None, [1]])
def test_wanted_weights_refuses(value):
    with pytest.raises(TrafficInputError) as exc:
        wanted_weights({"web": value})
    assert (
        str(exc.value) == f"the weight of backend web must be a whole number from 0 to 1000000, got {value!r}"
    )


def test_wanted_weights_needs_a_dictionary():
    with pytest.raises(TrafficInputError, match="weights must be a non-empty dictionary"):
        wanted_weights({})


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"web": 90, "web-canary": 10}, {"web": 90.0, "web-canary": 10.0}),
        ({"a": 1, "b": 2}, {"a": 33.33, "b": 66.67}),
        ({"a": 0, "b": 0}, {"a": 0.0, "b": 0.0}),
    ],
)
def test_shares(weights, expected):
    assert shares(weights) == expected
