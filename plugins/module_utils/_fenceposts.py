# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import re

# Rolling-update arithmetic: the deployment controller's fenceposts, in Python.
#
# Pure functions, no I/O, no clock. The names follow the Kubernetes deployment
# controller (pkg/controller/deployment/util/deployment_util.go and rolling.go),
# so a reader who knows one knows the other:
#
#   GetScaledValueFromIntOrPercent -> resolve_int_or_percent
#   ResolveFenceposts              -> resolve_fenceposts
#   MaxSurge / MaxUnavailable      -> max_surge / max_unavailable
#   NewRSNewReplicas               -> new_rs_new_replicas
#   rolloutRolling, sync by sync   -> plan_rolling_steps
#   rolloutRecreate                -> plan_recreate_steps
#
# A maxSurge / maxUnavailable *value* is what a user writes: an int (3) or a
# percentage string ("25%"). The resolved numbers are pod counts.

# A state of a rollout: (replicas of the new ReplicaSet, replicas of all old ReplicaSets).
Step = tuple[int, int]

_PERCENT_RE = re.compile(r"^([0-9]+)%$")
_INT_RE = re.compile(r"^[0-9]+$")


class FencepostError(ValueError):
    """A maxSurge / maxUnavailable value or a replica count that cannot be used."""


def _parse(value: int | str | None) -> tuple[int, bool]:
    """Return ``(number, is_percent)`` for a user value, or raise FencepostError.

    ``None`` is 0.  Ints are taken as they are (bools are refused: ``true`` is not a
    pod count).  Strings must be a percentage such as ``"25%"``; as a convenience
    for values that went through Jinja templating, a string of digits (``"3"``) is
    read as the int 3.  Negative values are refused.
    """
    if value is None:
        return 0, False
    if isinstance(value, bool):
        raise FencepostError(
            f"invalid value {value!r}: expected a non-negative int (5) or a percentage ('25%')"
        )
    if isinstance(value, int):
        if value < 0:
            raise FencepostError(f"invalid value {value}: must not be negative")
        return value, False
    if isinstance(value, str):
        match = _PERCENT_RE.match(value)
        if match:
            return int(match.group(1)), True
        if _INT_RE.match(value):
            return int(value), False
        raise FencepostError(
            f"invalid value {value!r}: expected a non-negative int (5) or a percentage ('25%')"
        )
    raise FencepostError(
        f"invalid value {value!r} of type {type(value).__name__}: "
        "expected a non-negative int (5) or a percentage ('25%')"
    )


def is_zero(value: int | str | None) -> bool:
    """True when a user value is literally zero: ``0``, ``"0"``, ``"0%"`` or ``None``.

    This is the validation-time test (OpenShift and Kubernetes refuse maxSurge and
    maxUnavailable both zero); it does not depend on the replica count.
    """
    return _parse(value)[0] == 0


def is_percent(value: int | str | None) -> bool:
    """True when the user value is a percentage string such as ``"25%"``."""
    return _parse(value)[1]


def percent_value(value: int | str | None) -> int | None:
    """The number before ``%`` for a percentage, None for an int (or None)."""
    number, percent = _parse(value)
    return number if percent else None


def resolve_int_or_percent(value: int | str | None, total: int, round_up: bool) -> int:
    """Turn an int-or-percent into a pod count, like intstr.GetScaledValueFromIntOrPercent.

    Worked examples with 10 replicas:
      "25%" rounded up   -> ceil(2.5)  = 3      (maxSurge rounds up)
      "25%" rounded down -> floor(2.5) = 2      (maxUnavailable rounds down)
      "39%" up / down    -> 4 / 3
      7                  -> 7 (ints are used as they are, even above the total)
      None               -> 0
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise FencepostError(f"invalid replica count {total!r}: must be a non-negative int")
    number, percent = _parse(value)
    if not percent:
        return number
    # Go's math.Ceil / plain truncation of value*total/100, in exact integer arithmetic.
    if round_up:
        return -((-number * total) // 100)
    return (number * total) // 100


def resolve_fenceposts(
    max_surge_value: int | str | None,
    max_unavailable_value: int | str | None,
    desired: int,
) -> tuple[int, int]:
    """Resolve maxSurge and maxUnavailable together (the controller's ResolveFenceposts).

    Surge rounds up and unavailable rounds down, so a percentage never makes a
    rollout less safe than asked.  Both must be resolved in one step because of the
    corner where both come out as zero: then unavailable becomes 1, on the theory
    that surge may be impossible (quota) while taking one pod down always works.

      2 desired, unavailable 1%, surge 0%  -> (0, 1): old -1, new +1, old -1, new +1
      1 desired, unavailable 1%, surge 0%  -> (0, 1): old -1, new +1
      2 desired, unavailable 25%, surge 1% -> (1, 0): new +1, old -1, new +1, old -1
      10 desired, 39% and 39%              -> (4, 3)
      0 desired, 0% and 0%                 -> (0, 1)
    """
    surge = resolve_int_or_percent(max_surge_value, desired, True)
    unavailable = resolve_int_or_percent(max_unavailable_value, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(
    replicas: int,
    max_surge_value: int | str | None,
    max_unavailable_value: int | str | None,
) -> int:
    """How many pods above ``replicas`` a rolling update may run (the controller's MaxSurge).

    10 replicas, maxSurge "25%" -> 3 (rounded up): at most 13 pods at any time.
    """
    return resolve_fenceposts(max_surge_value, max_unavailable_value, replicas)[0]


def max_unavailable(
    replicas: int,
    max_surge_value: int | str | None,
    max_unavailable_value: int | str | None,
) -> int:
    """How many of ``replicas`` may be unavailable (the controller's MaxUnavailable).

    Capped at ``replicas``, and 0 for a deployment of 0 replicas:
      10 replicas, 5      -> 5
      5 replicas, 10      -> 5 (capped)
      10 replicas, "50%"  -> 5
      0 replicas, 10      -> 0
    """
    if replicas == 0:
        return 0
    return min(resolve_fenceposts(max_surge_value, max_unavailable_value, replicas)[1], replicas)


def new_rs_new_replicas(replicas: int, total_current: int, new_current: int, surge: int) -> int:
    """Size the new ReplicaSet may grow to now (rolling case of the controller's NewRSNewReplicas).

    ``total_current`` is the sum of spec.replicas over all ReplicaSets (new and old),
    ``new_current`` the new ReplicaSet's spec.replicas, ``surge`` the resolved maxSurge.

    10 replicas, surge 3, old RS at 10, new at 0: total 10 < 13, so the new RS may
    grow by min(13 - 10, 10 - 0) = 3 -> 3.
    Same deployment once old is at 5 and new at 3: total 8, grow by min(5, 7) -> 8.
    When the total already is at replicas + surge nothing may be added: the new RS
    keeps its size (even if that is above ``replicas``; scaling a too-big new RS
    down is the caller's business, as in reconcileNewReplicaSet).
    """
    max_total = replicas + surge
    if total_current >= max_total:
        return new_current
    scale_up = min(max_total - total_current, replicas - new_current)
    return new_current + scale_up


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FencepostError(f"{name} must be a non-negative int, got {value!r}")


def _append(steps: list[Step], step: Step) -> None:
    if not steps or steps[-1] != step:
        steps.append(step)


def plan_rolling_steps(
    replicas: int,
    old_replicas: int,
    max_surge_value: int | str | None,
    max_unavailable_value: int | str | None,
    canary_first: bool = True,
) -> list[Step]:
    """Simulate the deployment controller's rolling update, one scaling decision per step.

    Returns the (new, old) states from ``(0, old_replicas)`` to ``(replicas, 0)``,
    assuming every pod becomes available the moment it is created (so the real
    rollout takes these steps or smaller ones, never bigger ones).  Each loop does
    what rolloutRolling does on one sync: scale the new ReplicaSet up if it can
    (new_rs_new_replicas); otherwise scale old ReplicaSets down by as much as
    maxUnavailable allows (available - minAvailable).

    Worked example, 10 replicas, maxSurge 3, maxUnavailable 2 (minAvailable 8):
      (0, 10)   start
      (3, 10)   new +3: 13 pods, the surge cap
      (3, 5)    old -5: 13 available, 8 must stay
      (8, 5)    new +5: back to the cap
      (8, 0)    old -5
      (10, 0)   new +2: done
    10 replicas, maxSurge 0, maxUnavailable 1 (the classic one-at-a-time):
      (0, 10) (0, 9) (1, 9) (1, 8) (2, 8) ... (9, 0) (10, 0)
    25%/25% with 4 replicas (surge 1, unavailable 1):
      (0, 4) (1, 4) (1, 2) (3, 2) (3, 0) (4, 0)

    ``canary_first`` (only meaningful with surge > 0): old pods are not touched
    until at least one new pod exists and is available, i.e. the rollout never
    spends its unavailability budget before a canary has proven the new template.
    In the instant-availability model this matters only when there is no room to
    surge at the start, i.e. old_replicas >= replicas + surge (a deployment scaled
    down while it changes template).  Then only the excess above
    replicas + surge - 1 is removed first (which keeps at least ``replicas`` pods
    available), making room for one canary:
      5 replicas, surge 1, unavailable 1, old 10, canary_first:
        (0, 10) (0, 5) (1, 5) (1, 3) (3, 3) (3, 1) (5, 1) (5, 0)
      same without canary_first (the controller's own order):
        (0, 10) (0, 4) (2, 4) (2, 2) (4, 2) (4, 0) (5, 0)

    ``replicas`` 0 scales old away: (0, 5) (0, 0).  Raises FencepostError for bad
    values, or if the simulation stops making progress (it cannot, but a loop that
    cannot end is guarded anyway).
    """
    _check_count("replicas", replicas)
    _check_count("old_replicas", old_replicas)
    surge = resolve_fenceposts(max_surge_value, max_unavailable_value, replicas)[0]
    unavailable = max_unavailable(replicas, max_surge_value, max_unavailable_value)
    min_available = replicas - unavailable

    new, old = 0, old_replicas
    steps: list[Step] = [(new, old)]
    # Every iteration moves at least one pod, so the pods to create plus the pods to
    # delete bound the number of iterations.
    bound = replicas + old_replicas + 4
    for _step in range(bound):
        if (new, old) == (replicas, 0):
            return steps
        if canary_first and surge > 0 and new == 0 and replicas > 0 and old >= replicas + surge:
            # Make room for exactly one canary, taking away only surplus pods.
            old = replicas + surge - 1
            _append(steps, (new, old))
            continue
        # Scale up, if we can (reconcileNewReplicaSet).
        if new > replicas:
            new = replicas
            _append(steps, (new, old))
            continue
        if new < replicas:
            grown = new_rs_new_replicas(replicas, new + old, new, surge)
            if grown > new:
                new = grown
                _append(steps, (new, old))
                continue
        # Scale down, if we can (reconcileOldReplicaSets): every pod is available in this
        # model, so all of them count, and the new RS has no unavailable pods.
        if old > 0:
            available = new + old
            scale_down = min(old, available - min_available)
            if scale_down > 0:
                old -= scale_down
                _append(steps, (new, old))
                continue
        raise FencepostError(
            f"rolling update cannot make progress at {new} new / {old} old pods "
            f"(replicas {replicas}, maxSurge {surge}, maxUnavailable {unavailable})"
        )
    if (new, old) == (replicas, 0):
        return steps
    raise FencepostError(
        f"rolling update plan did not finish after {bound} steps (replicas {replicas}, "
        f"old {old_replicas}, maxSurge {surge}, maxUnavailable {unavailable})"
    )


def plan_recreate_steps(replicas: int, old_replicas: int) -> list[Step]:
    """The Recreate strategy as states: all old pods go, then one new pod, then the rest.

    OpenShift's Recreate scales the new deployment to 1 first (where a ``mid`` hook
    has run after the old pods are gone) and then to the full count, so a broken
    template fails on one pod, not on all of them:
      3 replicas, 3 old:  (0, 3) (0, 0) (1, 0) (3, 0)
      1 replica, 2 old:   (0, 2) (0, 0) (1, 0)
      0 replicas, 2 old:  (0, 2) (0, 0)
      3 replicas, 0 old:  (0, 0) (1, 0) (3, 0)
    """
    _check_count("replicas", replicas)
    _check_count("old_replicas", old_replicas)
    steps: list[Step] = []
    for step in ((0, old_replicas), (0, 0), (min(1, replicas), 0), (replicas, 0)):
        _append(steps, step)
    return steps


def max_pods(
    replicas: int,
    max_surge_value: int | str | None,
    max_unavailable_value: int | str | None,
) -> int:
    """Most pods a rolling update may run at once: replicas + maxSurge.

    This is what the controller writes in the max-replicas annotation.
    """
    return replicas + max_surge(replicas, max_surge_value, max_unavailable_value)


def min_available(
    replicas: int,
    max_surge_value: int | str | None,
    max_unavailable_value: int | str | None,
) -> int:
    """Fewest available pods a rolling update may drop to (the controller's MinAvailable)."""
    return replicas - max_unavailable(replicas, max_surge_value, max_unavailable_value)


__all__ = [
    "FencepostError",
    "Step",
    "is_percent",
    "is_zero",
    "max_pods",
    "max_surge",
    "max_unavailable",
    "min_available",
    "new_rs_new_replicas",
    "percent_value",
    "plan_recreate_steps",
    "plan_rolling_steps",
    "resolve_fenceposts",
    "resolve_int_or_percent",
]
