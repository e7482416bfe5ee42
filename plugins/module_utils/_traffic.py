# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Where the traffic goes: a Service's selector (service_selector, the blue-green switch) and the
# backend weights of an HTTPRoute rule (httproute_weights, the Gateway API canary split).
#
# The pure part decides: the selector after a merge, whether a pod is Ready, the weights a rule
# gets and the patch that writes them. The edge part (ServiceSelector, HTTPRouteWeights) reads,
# checks and writes; every write is a merge patch guarded by the resourceVersion it was computed
# from, re-planned from a fresh read after a 409. Check mode sends the same patch as a server
# dry run.
import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from ._client import HTTP_ROUTES, MERGE_PATCH, PODS, SERVICES, KubeClient, Resource
from ._rollout import FIELD_MANAGER, without_noise
from ._workloads import pod_ready

JSONDict = Dict[str, Any]

# Gateway API: a backendRef without a weight has weight 1; weights go from 0 to 1,000,000.
DEFAULT_BACKEND_WEIGHT = 1
MAX_BACKEND_WEIGHT = 1000000


class TrafficInputError(ValueError):
    """The options, or the objects they name, do not allow the change (nothing was written)."""


class TrafficError(Exception):
    """The change was refused; ``result`` is the module result so far (for fail_json)."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


def _dict(value: Any) -> JSONDict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


# --- Service selector ----------------------------------------------------------------------


def wanted_selector(raw: Any) -> Dict[str, Optional[str]]:
    """The ``selector`` option checked: label keys to values (numbers become text), null to remove."""
    if not isinstance(raw, dict) or not raw:
        raise TrafficInputError(
            "selector must be a non-empty dictionary of labels, for example {color: green}"
        )
    wanted: Dict[str, Optional[str]] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise TrafficInputError(f"selector keys must be label names, got {key!r}")
        if value is None:
            wanted[key] = None
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TrafficInputError(
                f"selector value of {key} must be a string (or null to remove the key), got {value!r}"
            )
        else:
            wanted[key] = str(value)
    return wanted


def merged_selector(current: Mapping[str, str], wanted: Mapping[str, Optional[str]]) -> Dict[str, str]:
    """The selector after the change: ``wanted``'s keys set on ``current``, its null keys removed.

    {app: web, color: blue} + {color: green} -> {app: web, color: green}
    {app: web, color: blue} + {color: null}  -> {app: web}
    """
    after = dict(current)
    for key, value in wanted.items():
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    return after


def service_selector(service: Mapping[str, Any]) -> Dict[str, str]:
    return {str(k): str(v) for k, v in _dict(_dict(service.get("spec")).get("selector")).items()}


def selector_patch(service: Mapping[str, Any], after: Mapping[str, str]) -> Optional[JSONDict]:
    """The merge patch giving ``service`` the selector ``after`` (removed keys as null); None if it has it."""
    before = service_selector(service)
    if before == after:
        return None
    keys = sorted(set(before) | set(after))
    return {
        "metadata": {"resourceVersion": _dict(service.get("metadata")).get("resourceVersion")},
        "spec": {"selector": {key: after.get(key) for key in keys}},
    }


def label_selector(labels: Mapping[str, str]) -> str:
    """{app: web, color: green} -> "app=web,color=green" (the API's labelSelector, equality only)."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def pod_serves_traffic(pod: Mapping[str, Any]) -> bool:
    """A pod a Service would send traffic to: not being deleted, and its Ready condition True."""
    if _dict(pod.get("metadata")).get("deletionTimestamp"):
        return False
    return pod_ready(pod)


# --- HTTPRoute backend weights -------------------------------------------------------------


def wanted_weights(raw: Any) -> Dict[str, int]:
    """The ``weights`` option checked: backend name to a weight from 0 to 1,000,000."""
    if not isinstance(raw, dict) or not raw:
        raise TrafficInputError(
            "weights must be a non-empty dictionary of backend names to weights, "
            "for example {web: 90, web-canary: 10}"
        )
    weights: Dict[str, int] = {}
    for name, value in raw.items():
        try:
            weight = int(value)
        except (TypeError, ValueError):
            weight = -1
        if (
            isinstance(value, bool)
            or weight < 0
            or weight > MAX_BACKEND_WEIGHT
            or str(weight) != str(value).strip()
        ):
            raise TrafficInputError(
                f"the weight of backend {name} must be a whole number from 0 to {MAX_BACKEND_WEIGHT}, "
                f"got {value!r}"
            )
        weights[str(name)] = weight
    return weights


def backend_weight(ref: Mapping[str, Any]) -> int:
    weight = ref.get("weight")
    return DEFAULT_BACKEND_WEIGHT if weight is None else int(weight)


def rule_weights(rule: Mapping[str, Any]) -> Dict[str, int]:
    """{backend name: weight} of a rule (a name listed twice: the sum, which is what it gets)."""
    weights: Dict[str, int] = {}
    for ref in _list(rule.get("backendRefs")):
        name = str(_dict(ref).get("name"))
        weights[name] = weights.get(name, 0) + backend_weight(_dict(ref))
    return weights


def shares(weights: Mapping[str, int]) -> Dict[str, float]:
    """Each backend's share of the requests in percent, as a Gateway splits them: weight / sum.

    {web: 90, web-canary: 10} -> {web: 90.0, web-canary: 10.0}; {a: 1, b: 2} -> {a: 33.33, b: 66.67}
    """
    total = sum(weights.values())
    return {name: round(100.0 * weight / total, 2) if total else 0.0 for name, weight in weights.items()}


@dataclass(frozen=True)
class WeightPlan:
    """Setting the weights of one rule: all the rules as they will be, the rule's weights before and after."""

    rules: List[JSONDict]
    before: Dict[str, int]
    after: Dict[str, int]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _route_name(route: Mapping[str, Any]) -> str:
    metadata = _dict(route.get("metadata"))
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


def plan_weights(route: Mapping[str, Any], rule: int, weights: Mapping[str, int]) -> WeightPlan:
    """The route's rules with ``weights`` set on the backendRefs of rule ``rule`` (by backend name).

    Backends of the rule that ``weights`` does not name keep their weight. Every name must be a
    backend of the rule, and the rule must keep some traffic (not every weight 0).
    """
    rules = [copy.deepcopy(_dict(r)) for r in _list(_dict(route.get("spec")).get("rules"))]
    what = f"HTTPRoute {_route_name(route)}"
    if not rules:
        raise TrafficInputError(f"{what} has no rules")
    if rule < 0 or rule >= len(rules):
        raise TrafficInputError(
            f"{what} has {len(rules)} rule{'s' if len(rules) > 1 else ''}: rule must be from 0 to "
            f"{len(rules) - 1}, got {rule}"
        )
    target = rules[rule]
    before = rule_weights(target)
    missing = sorted(set(weights) - set(before))
    if missing:
        listed = ", ".join(sorted(before)) or "none"
        raise TrafficInputError(
            f"rule {rule} of {what} has no backend {', '.join(missing)} (its backends: {listed})"
        )
    refs = [_dict(ref) for ref in _list(target.get("backendRefs"))]
    for ref in refs:
        name = str(ref.get("name"))
        if name in weights:
            ref["weight"] = weights[name]
    target["backendRefs"] = refs
    after = rule_weights(target)
    if not any(after.values()):
        raise TrafficInputError(
            f"rule {rule} of {what} would send no traffic at all (every backend at weight 0): "
            "give at least one backend a weight above 0"
        )
    return WeightPlan(rules=rules, before=before, after=after)


def weights_patch(route: Mapping[str, Any], plan: WeightPlan) -> Optional[JSONDict]:
    """The merge patch writing ``plan`` (all the rules: a merge patch replaces lists); None if no change."""
    if not plan.changed:
        return None
    return {
        "metadata": {"resourceVersion": _dict(route.get("metadata")).get("resourceVersion")},
        "spec": {"rules": plan.rules},
    }


# --- edge: read, check, write ---------------------------------------------------------------


class _Switch:
    """What both modules share: read one object, write a guarded merge patch (dry run in check mode)."""

    resource: Resource

    def __init__(self, client: KubeClient, params: Mapping[str, Any], check_mode: bool, diff: bool) -> None:
        self.client = client
        self.namespace = str(params.get("namespace") or "default")
        self.name = str(params["name"])
        self.check_mode = check_mode
        self.diff = diff
        self.what = f"{self.resource.kind} {self.namespace}/{self.name}"

    def _get(self) -> Optional[JSONDict]:
        return self.client.get(f"reading {self.what}", self.resource, self.namespace, self.name)

    def _missing(self) -> TrafficInputError:
        return TrafficInputError(f"{self.what} not found")

    def _write(self, patch: JSONDict, action: str) -> JSONDict:
        kwargs: JSONDict = {"dry_run": "All"} if self.check_mode else {}
        written = self.client.patch(
            f"{action} {self.what}",
            self.resource,
            self.namespace,
            self.name,
            patch,
            MERGE_PATCH,
            field_manager=FIELD_MANAGER,
            **kwargs,
        )
        if written is None:
            raise self._missing()
        return written


class ServiceSelector(_Switch):
    """Set (merge) selector keys on an existing Service, refusing to switch to no ready pod."""

    resource = SERVICES

    def __init__(self, client: KubeClient, params: Mapping[str, Any], check_mode: bool, diff: bool) -> None:
        super().__init__(client, params, check_mode, diff)
        self.wanted = wanted_selector(params.get("selector"))
        self.require_ready = bool(params.get("require_ready_endpoints", True))

    def run(self) -> JSONDict:
        service = self._get()
        if service is None:
            raise self._missing()
        if _dict(service.get("spec")).get("type") == "ExternalName":
            raise TrafficInputError(f"{self.what} is an ExternalName Service: it has no selector to set")
        before = service_selector(service)
        after = merged_selector(before, self.wanted)
        if not after:
            raise TrafficInputError(
                f"the selector of {self.what} would be empty: a Service without a selector gets no "
                "endpoints from its pods. Keep at least one key"
            )
        pods = self.client.list(
            f"listing the pods the selector {label_selector(after)} matches",
            PODS,
            self.namespace,
            label_selector=label_selector(after),
        )
        ready = sorted(_dict(p.get("metadata")).get("name", "") for p in pods if pod_serves_traffic(p))
        changed = after != before
        result: JSONDict = {
            "changed": changed,
            "selector": after,
            "previous_selector": before,
            "matched_pods": len(pods),
            "ready_pods": ready,
            "service": without_noise(service),
        }
        if self.diff:
            result["diff"] = {"before": {"selector": before}, "after": {"selector": after}}
        if not changed:
            return result
        if self.require_ready and not ready:
            raise TrafficError(
                f"the selector {label_selector(after)} of {self.what} would match no ready pod "
                f"({len(pods)} pod{'' if len(pods) == 1 else 's'} match, none Ready): the selector is "
                "left as it is. Wait until the pods are Ready, or set require_ready_endpoints=false",
                dict(result, changed=False),
            )

        def attempt() -> JSONDict:
            fresh = self._get()
            if fresh is None:
                raise self._missing()
            patch = selector_patch(fresh, merged_selector(service_selector(fresh), self.wanted))
            return fresh if patch is None else self._write(patch, "setting the selector of")

        result["service"] = without_noise(self.client.retry_on_conflict(attempt, f"selector of {self.what}"))
        return result


class HTTPRouteWeights(_Switch):
    """Set the weights of backendRefs in one rule of an existing HTTPRoute."""

    resource = HTTP_ROUTES

    def __init__(self, client: KubeClient, params: Mapping[str, Any], check_mode: bool, diff: bool) -> None:
        super().__init__(client, params, check_mode, diff)
        self.weights = wanted_weights(params.get("weights"))
        self.rule = int(params.get("rule") or 0)

    def _missing(self) -> TrafficInputError:
        # The same 404 says "no such route" and "no such API": discovery tells them apart.
        served = self.client.send(
            f"reading the API {self.resource.group_version}", "GET", f"/apis/{self.resource.group_version}"
        )
        if served is None or not any(
            r.get("name") == self.resource.plural for r in served.get("resources", [])
        ):
            return TrafficInputError(
                f"the cluster does not serve {self.resource.plural}.{self.resource.group_version} "
                "(the Gateway API): install its CRDs (standard channel) before using HTTPRoute weights"
            )
        return TrafficInputError(f"{self.what} not found")

    def run(self) -> JSONDict:
        route = self._get()
        if route is None:
            raise self._missing()
        plan = plan_weights(route, self.rule, self.weights)
        result: JSONDict = {
            "changed": plan.changed,
            "rule": self.rule,
            "weights": plan.after,
            "previous_weights": plan.before,
            "shares": shares(plan.after),
            "route": without_noise(route),
        }
        if self.diff:
            result["diff"] = {
                "before": {"rule": self.rule, "weights": plan.before},
                "after": {"rule": self.rule, "weights": plan.after},
            }
        if not plan.changed:
            return result

        def attempt() -> JSONDict:
            fresh = self._get()
            if fresh is None:
                raise self._missing()
            patch = weights_patch(fresh, plan_weights(fresh, self.rule, self.weights))
            return fresh if patch is None else self._write(patch, "setting the backend weights of")

        result["route"] = without_noise(self.client.retry_on_conflict(attempt, f"weights of {self.what}"))
        return result
