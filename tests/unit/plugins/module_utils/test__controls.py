# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# rollout_control's decisions, by tables: pause/resume patches, kubectl's restartedAt, what a
# retry does to a failed rollout, which revision a cancel goes back to; and the options.
import calendar

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._control import (
    ControlInputError,
    build_control_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._controls import (
    NO_PROGRESS_DEADLINE,
    RESTARTED_AT_ANNOTATION,
    cancel_target,
    current_restarted_at,
    pause_patch,
    progress_condition_cleared,
    progress_deadline_patch,
    restart_patch,
    restart_refusal,
    restarted_at,
    retry_plan,
    rollout_in_progress,
)

UID = "uid-web"
DONE = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}


def deployment(image="web:2", paused=None, status=None, progressing=None, generation=2):
    spec = {
        "replicas": 3,
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if paused is not None:
        spec["paused"] = paused
    status = dict(status if status is not None else DONE)
    if progressing:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": progressing}]
    return {
        "metadata": {"name": "web", "uid": UID, "resourceVersion": "41", "generation": generation},
        "spec": spec,
        "status": status,
    }


def rs(name, image, rev, available=0):
    return {
        "metadata": {
            "name": name,
            "uid": "uid-" + name,
            "creationTimestamp": f"2024-01-0{rev}T10:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": str(rev)},
            "ownerReferences": [{"uid": UID, "controller": True}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
        "status": {"availableReplicas": available},
    }


def pod(name, owner, ready=False, waiting=None, deleting=False):
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if waiting:
        status["containerStatuses"] = [{"name": "app", "state": {"waiting": {"reason": waiting}}}]
    metadata = {"name": name, "uid": "uid-" + name, "ownerReferences": [{"uid": owner, "controller": True}]}
    if deleting:
        metadata["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": metadata, "status": status}


# --- pause and resume ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paused", "pause", "expected"),
    [
        (None, True, {"metadata": {"resourceVersion": "41"}, "spec": {"paused": True}}),
        (False, True, {"metadata": {"resourceVersion": "41"}, "spec": {"paused": True}}),
        (True, True, None),
        (True, False, {"metadata": {"resourceVersion": "41"}, "spec": {"paused": False}}),
        (None, False, None),
        (False, False, None),
    ],
)
def test_pause_patch(paused, pause, expected):
    assert pause_patch(deployment(paused=paused), pause) == expected


# --- restart ---------------------------------------------------------------------------------

NOON = calendar.timegm((2026, 11, 23, 12, 0, 0)) + 0.25


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (None, "2026-11-23T12:00:00Z"),
        ("2026-11-23T11:59:59Z", "2026-11-23T12:00:00Z"),
        ("2026-11-23T12:00:00Z", "2026-11-23T12:00:00.250Z"),  # same second: still a change
    ],
)
def test_restarted_at(previous, expected):
    assert restarted_at(NOON, previous) == expected


def test_restart_patch_and_refusal():
    live = deployment()
    assert restart_patch(live, "2026-11-23T12:00:00Z") == {
        "metadata": {"resourceVersion": "41"},
        "spec": {
            "template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: "2026-11-23T12:00:00Z"}}}
        },
    }
    assert current_restarted_at(live) is None
    assert restart_refusal("Deployment", live) is None
    assert restart_refusal("Deployment", deployment(paused=True)) == (
        "cannot restart paused deployment/web: resume it first (action: resume, or kubectl rollout resume)"
    )
    assert restart_refusal("StatefulSet", {"metadata": {"name": "db"}, "spec": {"paused": True}}) is None


# --- retry -----------------------------------------------------------------------------------

OLD = rs("web-old", "web:1", 1, available=3)
NEW = rs("web-new", "web:2", 2)
NEW_UID = "uid-web-new"


@pytest.mark.parametrize(
    ("live", "pods", "failed", "reason", "restart_deadline", "recreated"),
    [
        # complete: nothing to retry
        (deployment(), [pod("web-new-a", NEW_UID, ready=True)], False, None, False, []),
        # in progress, pods only slow: nothing to retry yet
        (
            deployment(status={"observedGeneration": 2, "updatedReplicas": 1}),
            [pod("web-new-a", NEW_UID)],
            False,
            None,
            False,
            [],
        ),
        # the controller gave up: not-ready new pods recreated, deadline restarted
        (
            deployment(
                status={"observedGeneration": 2, "updatedReplicas": 2}, progressing="ProgressDeadlineExceeded"
            ),
            [
                pod("web-new-b", NEW_UID),
                pod("web-new-a", NEW_UID, ready=True),
                pod("web-new-c", NEW_UID, deleting=True),
                pod("web-old-a", "uid-web-old"),
            ],
            True,
            "ProgressDeadlineExceeded",
            True,
            ["web-new-b"],
        ),
        # a crash loop before any deadline: the broken pods are recreated, no deadline to restart
        (
            deployment(status={"observedGeneration": 2, "updatedReplicas": 1}),
            [
                pod("web-new-a", NEW_UID, waiting="CrashLoopBackOff"),
                pod("web-old-a", "uid-web-old", waiting="CrashLoopBackOff"),
            ],
            True,
            "CrashLoopBackOff",
            False,
            ["web-new-a"],
        ),
    ],
)
def test_retry_plan(live, pods, failed, reason, restart_deadline, recreated):
    plan = retry_plan(live, [OLD, NEW], pods)
    assert (plan.failed, plan.reason, plan.restart_deadline) == (failed, reason, restart_deadline)
    assert [p["metadata"]["name"] for p in plan.pods] == recreated


def test_progress_deadline_patch_and_condition():
    assert progress_deadline_patch(deployment(), NO_PROGRESS_DEADLINE) == {
        "metadata": {"resourceVersion": "41"},
        "spec": {"progressDeadlineSeconds": 2147483647},
    }
    assert not progress_condition_cleared(deployment(progressing="ProgressDeadlineExceeded"))
    assert not progress_condition_cleared(deployment(generation=3))  # spec not observed yet
    assert progress_condition_cleared(deployment(status={"observedGeneration": 2, "updatedReplicas": 1}))


# --- cancel ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        ([rs("a", "web:1", 1), rs("b", "web:3", 3, available=3), NEW], "b"),  # the one serving
        ([rs("a", "web:1", 1, available=2), rs("b", "web:3", 3, available=1), NEW], "a"),  # b never completed
        ([rs("a", "web:1", 1, available=1), rs("b", "web:3", 3, available=1), NEW], "b"),  # tie: newest
        ([rs("a", "web:1", 1), rs("b", "web:3", 3), NEW], "b"),  # Recreate: none serving -> previous
        ([NEW], None),  # a first rollout
    ],
)
def test_cancel_target(sets, expected):
    target = cancel_target(deployment("web:2"), sets)
    assert (target["metadata"]["name"] if target else None) == expected


def test_rollout_in_progress():
    assert not rollout_in_progress(deployment())
    assert rollout_in_progress(deployment(status={"observedGeneration": 2, "updatedReplicas": 1}))
    assert rollout_in_progress(deployment(progressing="ProgressDeadlineExceeded"))


# --- options ---------------------------------------------------------------------------------


def test_build_control_request():
    request = build_control_request(
        {"action": "restart", "kind": "DaemonSet", "name": "agent", "namespace": "ops"}
    )
    assert (request.action, request.kind, request.namespace, request.name) == (
        "restart",
        "DaemonSet",
        "ops",
        "agent",
    )
    assert (request.wait, request.wait_timeout, request.timeout_seconds) == (True, None, 600)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "stop"}, "action must be one of pause, resume, restart, retry, cancel, got stop"),
        (
            {"action": "resume", "kind": "DaemonSet"},
            "action resume is for Deployments: a DaemonSet has no spec.paused; restart works for every kind, "
            "and rollout_undo rolls a DaemonSet back",
        ),
        (
            {"action": "retry", "kind": "StatefulSet"},
            "action retry is for Deployments: a StatefulSet has no progress deadline or ReplicaSets; restart works "
            "for every kind, and rollout_undo rolls a StatefulSet back",
        ),
        ({"action": "pause", "wait_timeout": 0}, "wait_timeout must be more than 0 seconds, got 0"),
        ({"action": "pause", "timeout_seconds": 0}, "timeout_seconds must be more than 0 seconds, got 0"),
    ],
)
def test_build_control_request_refuses(params, message):
    with pytest.raises(ControlInputError) as err:
        build_control_request({"name": "web", **params})
    assert str(err.value) == message
