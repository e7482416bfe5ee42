# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._fenceposts import (
    FencepostError,
    is_percent,
    is_zero,
    max_pods,
    max_surge,
    max_unavailable,
    min_available,
    new_rs_new_replicas,
    percent_value,
    plan_recreate_steps,
    plan_rolling_steps,
    resolve_fenceposts,
    resolve_int_or_percent,
)

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    HAS_HYPOTHESIS = True
except ImportError:  # pragma: no cover - hypothesis is in requirements-dev.txt
    HAS_HYPOTHESIS = False


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("39%", 10, True, 4),
        ("39%", 10, False, 3),
        ("29%", 100, False, 29),  # integer arithmetic: no 28.999...
        ("1%", 1, True, 1),
        ("1%", 1, False, 0),
        ("0%", 10, True, 0),
        ("100%", 7, False, 7),
        ("200%", 5, True, 10),
        ("50%", 0, True, 0),
        (5, 10, False, 5),
        (15, 10, True, 15),  # ints are used as they are
        (0, 10, True, 0),
        ("3", 10, True, 3),  # digits from a template
        (None, 10, True, 0),
    ],
)
def test_resolve_int_or_percent(value, total, round_up, expected):
    assert resolve_int_or_percent(value, total, round_up) == expected


@pytest.mark.parametrize(
    "value",
    ["abc", "-1", "150x", "-1%", "12.5%", " 25%", "", "%", True, 2.5, -1, [], {}],
)
def test_resolve_int_or_percent_refuses(value):
    with pytest.raises(FencepostError) as err:
        resolve_int_or_percent(value, 10, True)
    assert repr(value) in str(err.value) or str(value) in str(err.value)


@pytest.mark.parametrize("total", [-1, "10", None, True])
def test_resolve_int_or_percent_refuses_bad_total(total):
    with pytest.raises(FencepostError, match="replica count"):
        resolve_int_or_percent("25%", total, True)


@pytest.mark.parametrize(
    ("value", "zero", "percent", "number"),
    [
        (0, True, False, None),
        ("0", True, False, None),
        ("0%", True, True, 0),
        (None, True, False, None),
        (1, False, False, None),
        ("25%", False, True, 25),
    ],
)
def test_value_predicates(value, zero, percent, number):
    assert is_zero(value) is zero
    assert is_percent(value) is percent
    assert percent_value(value) == number


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        # The controller's TestResolveFenceposts.
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        # The cases in ResolveFenceposts' comment.
        ("0%", "1%", 2, (0, 1)),
        ("0%", "1%", 1, (0, 1)),
        ("1%", "25%", 2, (1, 0)),
        ("1%", "25%", 1, (1, 0)),
        ("1%", "0%", 2, (1, 0)),
        ("1%", "0%", 1, (1, 0)),
        # Ints, defaults, zero.
        (3, 2, 10, (3, 2)),
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 1, (1, 0)),
        (0, 0, 5, (0, 1)),
        (None, None, 5, (0, 1)),
    ],
)
def test_resolve_fenceposts(surge, unavailable, desired, expected):
    assert resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize(
    ("surge", "unavailable"),
    [("oops", "39%"), ("55%", "urg")],
)
def test_resolve_fenceposts_errors(surge, unavailable):
    with pytest.raises(FencepostError, match="invalid value"):
        resolve_fenceposts(surge, unavailable, 10)


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, 5, 1, 5),
        (10, "50%", 1, 5),
        (10, "25%", "25%", 3),
        (5, 10, 1, 10),  # surge is not capped
        (0, "25%", "25%", 0),
        (0, 0, 0, 0),
    ],
)
def test_max_surge(replicas, surge, unavailable, expected):
    assert max_surge(replicas, surge, unavailable) == expected


@pytest.mark.parametrize(
    ("replicas", "unavailable", "expected"),
    [
        # The controller's TestMaxUnavailable (maxSurge 1).
        (10, 5, 5),
        (10, 10, 10),
        (5, 10, 5),
        (0, 10, 0),
        (10, "50%", 5),
        (10, "100%", 10),
        (5, "100%", 5),
        # Rounding down, and the both-zero rule.
        (10, "25%", 2),
        (3, "25%", 0),
    ],
)
def test_max_unavailable(replicas, unavailable, expected):
    assert max_unavailable(replicas, 1, unavailable) == expected


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (3, 0, "25%", 1),  # 0 and floor(0.75)=0: both zero, so 1
        (0, 0, 0, 0),  # capped at replicas
        (1, 0, 0, 1),
    ],
)
def test_max_unavailable_both_zero(replicas, surge, unavailable, expected):
    assert max_unavailable(replicas, surge, unavailable) == expected


def test_max_pods_and_min_available():
    assert max_pods(10, 3, 2) == 13
    assert min_available(10, 3, 2) == 8
    assert min_available(0, 3, 2) == 0


@pytest.mark.parametrize(
    ("replicas", "total", "new", "surge", "expected"),
    [
        # The controller's TestNewRSNewReplicas (allRSs is one RS of 5).
        (1, 5, 5, 1, 5),  # can not scale up: stays at newRSReplicas
        (6, 5, 2, 10, 6),  # scale up: capped at depReplicas
        # rolling.go's worked example: 10 replicas, maxSurge 3.
        (10, 10, 0, 3, 3),
        (10, 8, 3, 3, 8),
        (10, 13, 3, 3, 3),
        (10, 10, 8, 3, 10),
        (10, 8, 8, 3, 10),
        # No surge: nothing until old pods go.
        (10, 10, 0, 0, 0),
        (10, 9, 0, 0, 1),
    ],
)
def test_new_rs_new_replicas(replicas, total, new, surge, expected):
    assert new_rs_new_replicas(replicas, total, new, surge) == expected


@pytest.mark.parametrize(
    ("replicas", "old", "surge", "unavailable", "canary_first", "expected"),
    [
        (
            10,
            10,
            3,
            2,
            True,
            [(0, 10), (3, 10), (3, 5), (8, 5), (8, 0), (10, 0)],
        ),
        (
            10,
            10,
            0,
            1,
            True,
            [(0, 10)] + [s for i in range(10) for s in ((i, 9 - i), (i + 1, 9 - i))],
        ),
        (4, 4, "25%", "25%", True, [(0, 4), (1, 4), (1, 2), (3, 2), (3, 0), (4, 0)]),
        (1, 1, "25%", "25%", True, [(0, 1), (1, 1), (1, 0)]),
        (3, 3, 0, "100%", True, [(0, 3), (0, 0), (3, 0)]),
        (
            3,
            3,
            0,
            "25%",
            True,
            [(0, 3), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)],
        ),
        (3, 0, "25%", "25%", True, [(0, 0), (3, 0)]),
        (0, 5, "25%", "25%", True, [(0, 5), (0, 0)]),
        (0, 0, "25%", "25%", True, [(0, 0)]),
        # Scaled down while changing template: no room to surge at the start.
        (
            5,
            10,
            1,
            1,
            True,
            [(0, 10), (0, 5), (1, 5), (1, 3), (3, 3), (3, 1), (5, 1), (5, 0)],
        ),
        (5, 10, 1, 1, False, [(0, 10), (0, 4), (2, 4), (2, 2), (4, 2), (4, 0), (5, 0)]),
        # Scaled up while changing template.
        (6, 2, "50%", 0, True, [(0, 2), (6, 2), (6, 0)]),
    ],
)
def test_plan_rolling_steps(replicas, old, surge, unavailable, canary_first, expected):
    assert plan_rolling_steps(replicas, old, surge, unavailable, canary_first) == expected


def test_plan_rolling_steps_one_at_a_time_table():
    steps = plan_rolling_steps(10, 10, 0, 1)
    assert steps[:5] == [(0, 10), (0, 9), (1, 9), (1, 8), (2, 8)]
    assert steps[-1] == (10, 0)
    assert len(steps) == 21


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 3, 1, 1), "replicas must be a non-negative int"),
        ((3, -1, 1, 1), "old_replicas must be a non-negative int"),
        ((3, 3, "x", 1), "invalid value 'x'"),
        ((3, 3, 1, "-5%"), "invalid value '-5%'"),
    ],
)
def test_plan_rolling_steps_errors(args, match):
    with pytest.raises(FencepostError, match=match):
        plan_rolling_steps(*args)


@pytest.mark.parametrize(
    ("replicas", "old", "expected"),
    [
        (3, 3, [(0, 3), (0, 0), (1, 0), (3, 0)]),
        (1, 2, [(0, 2), (0, 0), (1, 0)]),
        (0, 2, [(0, 2), (0, 0)]),
        (3, 0, [(0, 0), (1, 0), (3, 0)]),
        (1, 0, [(0, 0), (1, 0)]),
        (0, 0, [(0, 0)]),
        (10, 4, [(0, 4), (0, 0), (1, 0), (10, 0)]),
    ],
)
def test_plan_recreate_steps(replicas, old, expected):
    assert plan_recreate_steps(replicas, old) == expected


def test_plan_recreate_steps_errors():
    with pytest.raises(FencepostError, match="replicas"):
        plan_recreate_steps(-1, 0)


def _check_rolling_invariants(replicas, old, surge_value, unavailable_value, canary_first):
    steps = plan_rolling_steps(replicas, old, surge_value, unavailable_value, canary_first)
    surge = resolve_fenceposts(surge_value, unavailable_value, replicas)[0]
    unavailable = max_unavailable(replicas, surge_value, unavailable_value)
    assert steps[0] == (0, old)
    assert steps[-1] == (replicas, 0)
    for i in range(1, len(steps)):
        before, after = steps[i - 1], steps[i]
        assert before != after
        assert after[0] >= before[0]  # new only grows
        assert after[1] <= before[1]  # old only shrinks
    if old == replicas:
        for new_count, old_count in steps:
            assert new_count + old_count <= replicas + surge
            # Every pod is available in this model, so all pods count.
            assert new_count + old_count >= replicas - unavailable
    if canary_first and surge > 0 and old >= replicas:
        for new_count, old_count in steps:
            if new_count == 0:
                assert old_count >= replicas


@pytest.mark.parametrize(
    ("replicas", "old", "surge", "unavailable"),
    [
        (r, o, s, u)
        for r in (0, 1, 2, 3, 7, 10)
        for o in (0, r, r + 5)
        for s in (0, 1, 3, "25%", "100%")
        for u in (0, 1, 2, "25%", "100%")
    ],
)
def test_plan_rolling_steps_invariants_table(replicas, old, surge, unavailable):
    for canary_first in (True, False):
        _check_rolling_invariants(replicas, old, surge, unavailable, canary_first)


if HAS_HYPOTHESIS:
    _values = st.one_of(
        st.integers(min_value=0, max_value=12),
        st.integers(min_value=0, max_value=100).map(lambda n: f"{n}%"),
    )

    @settings(max_examples=300, deadline=None)
    @given(
        replicas=st.integers(min_value=0, max_value=60),
        extra_old=st.one_of(st.just(None), st.integers(min_value=0, max_value=60)),
        surge=_values,
        unavailable=_values,
        canary_first=st.booleans(),
    )
    def test_plan_rolling_steps_properties(replicas, extra_old, surge, unavailable, canary_first):
        old = replicas if extra_old is None else extra_old
        _check_rolling_invariants(replicas, old, surge, unavailable, canary_first)

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_plan_rolling_steps_properties():
        pass
