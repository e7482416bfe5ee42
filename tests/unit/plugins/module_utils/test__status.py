# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._status import (
    UNRECOVERABLE_REASONS,
    PodProblem,
    ProgressTracker,
    RolloutStatus,
    deployment_status,
    mount_problems,
    pod_problems,
    progress_snapshot,
    replica_set_problems,
    summarize_problems,
    unrecoverable,
)


def deployment(
    replicas=3,
    generation=2,
    observed=2,
    current=3,
    updated=3,
    ready=3,
    available=3,
    conditions=None,
):
    spec = {} if replicas is None else {"replicas": replicas}
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": current,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "web-7d9" has timed out progressing.',
}
PROGRESSING = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            deployment(generation=3, observed=2),
            RolloutStatus(False, "Waiting for deployment spec update to be observed...", None),
        ),
        (
            deployment(updated=1, conditions=[DEADLINE]),
            RolloutStatus(
                False,
                'deployment "web" exceeded its progress deadline',
                "ProgressDeadlineExceeded",
            ),
        ),
        (
            deployment(current=4, updated=1, available=3, conditions=[PROGRESSING]),
            RolloutStatus(
                False,
                'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
                None,
            ),
        ),
        (
            deployment(current=5, updated=3),
            RolloutStatus(
                False,
                'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...',
                None,
            ),
        ),
        (
            deployment(available=2),
            RolloutStatus(
                False,
                'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
                None,
            ),
        ),
        (
            deployment(),
            RolloutStatus(True, 'deployment "web" successfully rolled out', None),
        ),
        # observedGeneration ahead is fine (kubectl: generation <= observedGeneration).
        (
            deployment(generation=1, observed=2),
            RolloutStatus(True, 'deployment "web" successfully rolled out', None),
        ),
        # No spec.replicas: that check is skipped, as in kubectl.
        (
            deployment(replicas=None, current=0, updated=0, ready=0, available=0),
            RolloutStatus(True, 'deployment "web" successfully rolled out', None),
        ),
        # Scaled to zero.
        (
            deployment(replicas=0, current=0, updated=0, ready=0, available=0),
            RolloutStatus(True, 'deployment "web" successfully rolled out', None),
        ),
        (
            deployment(replicas=0, current=2, updated=0),
            RolloutStatus(
                False,
                'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...',
                None,
            ),
        ),
        # An empty object never crashes.
        ({}, RolloutStatus(True, 'deployment "" successfully rolled out', None)),
    ],
)
def test_deployment_status(obj, expected):
    assert deployment_status(obj) == expected


def test_deadline_is_only_read_once_observed():
    status = deployment_status(deployment(generation=3, observed=2, conditions=[DEADLINE]))
    assert status.failure is None
    assert status.message == "Waiting for deployment spec update to be observed..."


def pod(name, containers=(), init=(), scheduled=None, deleting=False):
    status = {
        "containerStatuses": list(containers),
        "initContainerStatuses": list(init),
    }
    if scheduled is not None:
        status["conditions"] = [scheduled]
    metadata = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": metadata, "status": status}


def waiting(container, reason, message="", last=None, restarts=0):
    result = {
        "name": container,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
    }
    if last is not None:
        result["lastState"] = {"terminated": last}
    return result


def terminated(container, code, reason=None, message=None, restarts=1):
    state = {"exitCode": code}
    if reason:
        state["reason"] = reason
    if message:
        state["message"] = message
    return {"name": container, "restartCount": restarts, "state": {"terminated": state}}


RUNNING = {
    "name": "app",
    "restartCount": 0,
    "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
}
UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/3 nodes are available: 3 Insufficient cpu.",
}


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([pod("web-1", [RUNNING])], []),
        ([pod("web-1", [waiting("app", "ContainerCreating")])], []),
        ([pod("web-1", init=[waiting("init", "PodInitializing")])], []),
        (
            [
                pod(
                    "web-1",
                    [
                        waiting(
                            "app",
                            "ImagePullBackOff",
                            'Back-off pulling image "web:nope"',
                        )
                    ],
                )
            ],
            [
                PodProblem(
                    "web-1",
                    "ImagePullBackOff",
                    'Back-off pulling image "web:nope"',
                    "app",
                )
            ],
        ),
        (
            [
                pod(
                    "web-1",
                    [
                        waiting(
                            "app",
                            "CrashLoopBackOff",
                            "back-off 10s restarting failed container=app",
                            last={"exitCode": 1, "reason": "Error"},
                            restarts=3,
                        )
                    ],
                )
            ],
            [
                PodProblem(
                    "web-1",
                    "CrashLoopBackOff",
                    "back-off 10s restarting failed container=app; last exit code 1 (Error)",
                    "app",
                )
            ],
        ),
        (
            [
                pod(
                    "web-1",
                    init=[
                        waiting(
                            "migrate",
                            "CreateContainerConfigError",
                            'secret "db" not found',
                        )
                    ],
                )
            ],
            [
                PodProblem(
                    "web-1",
                    "CreateContainerConfigError",
                    'secret "db" not found',
                    "migrate",
                )
            ],
        ),
        (
            [pod("web-1", [terminated("app", 137, "OOMKilled")])],
            [PodProblem("web-1", "OOMKilled", "exit code 137", "app")],
        ),
        (
            [pod("web-1", [terminated("app", 2, message="config invalid")])],
            [PodProblem("web-1", "Error", "config invalid", "app")],
        ),
        # Exited non-zero but never restarted (yet): not reported.
        ([pod("web-1", [terminated("app", 1, restarts=0)])], []),
        # Exited zero: fine.
        ([pod("web-1", [terminated("app", 0)])], []),
        (
            [pod("web-2", scheduled=UNSCHEDULABLE)],
            [
                PodProblem(
                    "web-2",
                    "Unschedulable",
                    "0/3 nodes are available: 3 Insufficient cpu.",
                    None,
                )
            ],
        ),
        ([pod("web-2", scheduled={"type": "PodScheduled", "status": "True"})], []),
        # Pods being deleted are not problems.
        ([pod("web-old", [waiting("app", "CrashLoopBackOff")], deleting=True)], []),
        # Several, in pod order, init containers before app containers.
        (
            [
                pod(
                    "web-1",
                    [waiting("app", "ErrImagePull")],
                    init=[waiting("init", "InvalidImageName")],
                ),
                pod("web-2", scheduled=UNSCHEDULABLE),
            ],
            [
                PodProblem("web-1", "InvalidImageName", "", "init"),
                PodProblem("web-1", "ErrImagePull", "", "app"),
                PodProblem(
                    "web-2",
                    "Unschedulable",
                    "0/3 nodes are available: 3 Insufficient cpu.",
                    None,
                ),
            ],
        ),
        ([{}], []),
    ],
)
def test_pod_problems(pods, expected):
    assert pod_problems(pods) == expected


QUOTA_MESSAGE = (
    'pods "web-7d9-x" is forbidden: exceeded quota: compute, requested: cpu=1, used: cpu=4, limited: cpu=4'
)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (
            [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": QUOTA_MESSAGE,
                }
            ],
            [PodProblem("", "QuotaExceeded", QUOTA_MESSAGE, None)],
        ),
        (
            [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": 'serviceaccount "x" not found',
                }
            ],
            [PodProblem("", "FailedCreate", 'serviceaccount "x" not found', None)],
        ),
        (
            [
                {
                    "type": "ReplicaFailure",
                    "status": "False",
                    "reason": "FailedCreate",
                    "message": "old",
                }
            ],
            [],
        ),
        ([], []),
    ],
)
def test_replica_set_problems(conditions, expected):
    assert (
        replica_set_problems({"metadata": {"name": "web-7d9"}, "status": {"conditions": conditions}})
        == expected
    )


def test_unrecoverable_reasons():
    assert {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "Unschedulable",
        "ErrImageNeverPull",
        "FailedMount",
    } == UNRECOVERABLE_REASONS
    problems = [
        PodProblem("a", "CrashLoopBackOff", "", "app"),
        PodProblem("", "QuotaExceeded", "quota", None),
        PodProblem("b", "OOMKilled", "", "app"),
    ]
    assert unrecoverable(problems) == [problems[0]]


@pytest.mark.parametrize(
    ("problems", "expected"),
    [
        ([], ""),
        (
            [
                PodProblem("web-7d9-abc", "CrashLoopBackOff", "back-off 10s", "app"),
                PodProblem("web-7d9-def", "CrashLoopBackOff", "", None),
                PodProblem(
                    "web-7d9-xyz",
                    "Unschedulable",
                    "0/3 nodes are available: 3 Insufficient cpu.",
                    None,
                ),
            ],
            (
                "CrashLoopBackOff: web-7d9-abc (container app), web-7d9-def; "
                "Unschedulable: web-7d9-xyz (0/3 nodes are available: 3 Insufficient cpu.)"
            ),
        ),
        (
            [PodProblem(f"web-{i}", "ErrImagePull", "", "app") for i in range(8)],
            (
                "ErrImagePull: web-0 (container app), web-1 (container app), web-2 (container app), "
                "web-3 (container app), web-4 (container app) and 3 more"
            ),
        ),
        (
            [
                PodProblem("web-1", "ErrImagePull", "", "app"),
                PodProblem("web-1", "ErrImagePull", "", "app"),
            ],
            "ErrImagePull: web-1 (container app)",
        ),
        (
            [PodProblem("", "QuotaExceeded", QUOTA_MESSAGE, None)],
            "QuotaExceeded: " + QUOTA_MESSAGE,
        ),
        ([PodProblem("", "FailedCreate", "", None)], "FailedCreate"),
        # The name of what is missing is what to fix: it is given with the pod.
        (
            [
                PodProblem("web-1", "CreateContainerConfigError", 'secret "db" not found', "app"),
                PodProblem("web-2", "CreateContainerConfigError", 'configmap "settings" not found', "app"),
            ],
            'CreateContainerConfigError: web-1 (container app: secret "db" not found), '
            'web-2 (container app: configmap "settings" not found)',
        ),
        (
            [PodProblem("web-1", "CreateContainerError", "context deadline exceeded", "app")],
            "CreateContainerError: web-1 (container app: context deadline exceeded)",
        ),
        (
            [PodProblem("web-1", "Unschedulable", "x" * 300, None)],
            "Unschedulable: web-1 (" + "x" * 197 + "...)",
        ),
        (
            [PodProblem("web-1", "Unschedulable", "0/3 nodes\n  are available", None)],
            "Unschedulable: web-1 (0/3 nodes are available)",
        ),
    ],
)
def test_summarize_problems(problems, expected):
    assert summarize_problems(problems) == expected


def test_progress_snapshot():
    assert progress_snapshot(deployment(updated=1, ready=2, available=1, current=4, observed=7)) == (
        1,
        2,
        1,
        4,
        7,
    )
    assert progress_snapshot({}) == (0, 0, 0, 0, 0)


def test_progress_tracker_resets_on_change():
    tracker = ProgressTracker(600, now=0.0)
    assert tracker.remaining(0.0) == 600
    assert tracker.observe((0, 0, 0, 3, 1), now=10.0) is True  # first sighting
    assert tracker.observe((0, 0, 0, 3, 1), now=300.0) is False
    assert tracker.remaining(300.0) == 310.0
    assert tracker.stalled(610.0) is False  # exactly the timeout: not more than it
    assert tracker.stalled(610.5) is True
    assert tracker.remaining(700.0) == 0.0
    # Progress, even late, restarts the timer.
    assert tracker.observe((1, 0, 0, 4, 2), now=700.0) is True
    assert tracker.stalled(1299.0) is False
    assert tracker.stalled(1301.0) is True


@pytest.mark.parametrize(
    ("events", "check_at", "stalled"),
    [
        ([], 601, True),  # nothing observed at all
        ([], 600, False),
        ([((1,), 100)], 650, False),
        ([((1,), 100), ((1,), 200)], 701, True),
        ([((1,), 100), ((2,), 650)], 1200, False),
        ([((2,), 100), ((1,), 650)], 1200, False),  # any change counts, even backwards
    ],
)
def test_progress_tracker_table(events, check_at, stalled):
    tracker = ProgressTracker(600, now=0)
    for snapshot, now in events:
        tracker.observe(snapshot, now)
    assert tracker.stalled(check_at) is stalled


def test_progress_tracker_reset_and_bad_timeout():
    tracker = ProgressTracker(10, now=0)
    tracker.observe((1,), 0)
    tracker.reset(100)
    assert tracker.stalled(105) is False
    assert tracker.observe((1,), 105) is False  # same snapshot as before the reset
    with pytest.raises(ValueError, match="timeout_seconds"):
        ProgressTracker(-1, now=0)


MISSING_CONFIGMAP = 'MountVolume.SetUp failed for volume "config" : configmap "web-config" not found'
MISSING_SECRET = 'MountVolume.SetUp failed for volume "tls" : secret "web-tls" not found'
MISSING_KEY = (
    'MountVolume.SetUp failed for volume "config" : configmap references non-existent config key: app.yaml'
)


def mount_event(uid, message, reason="FailedMount"):
    return {"reason": reason, "message": message, "involvedObject": {"uid": uid, "name": "ignored"}}


def with_uid(obj, uid, ready=False):
    obj["metadata"]["uid"] = uid
    obj["status"]["containerStatuses"] = [{"name": "app", "ready": ready}]
    return obj


@pytest.mark.parametrize(
    ("events", "pods", "expected"),
    [
        # A missing ConfigMap, Secret or key: the pod waits for ever, said with the kubelet's words.
        (
            [mount_event("u1", MISSING_CONFIGMAP), mount_event("u2", MISSING_SECRET)],
            [with_uid(pod("web-a"), "u1"), with_uid(pod("web-b"), "u2")],
            [
                PodProblem("web-a", "FailedMount", MISSING_CONFIGMAP, None),
                PodProblem("web-b", "FailedMount", MISSING_SECRET, None),
            ],
        ),
        (
            [mount_event("u1", MISSING_KEY)],
            [with_uid(pod("web-a"), "u1")],
            [PodProblem("web-a", "FailedMount", MISSING_KEY, None)],
        ),
        # A mount that may still succeed by waiting (a network volume, an attach in progress).
        (
            [mount_event("u1", 'MountVolume.SetUp failed for volume "data" : mount failed: exit status 32')],
            [with_uid(pod("web-a"), "u1")],
            [],
        ),
        # Another pod's Event (an older pod of the same name), another reason, a ready pod, a pod going away.
        ([mount_event("u0", MISSING_CONFIGMAP)], [with_uid(pod("web-a"), "u1")], []),
        (
            [mount_event("u1", MISSING_CONFIGMAP, reason="FailedScheduling")],
            [with_uid(pod("web-a"), "u1")],
            [],
        ),
        ([mount_event("u1", MISSING_CONFIGMAP)], [with_uid(pod("web-a"), "u1", ready=True)], []),
        ([mount_event("u1", MISSING_CONFIGMAP)], [with_uid(pod("web-a", deleting=True), "u1")], []),
        ([], [with_uid(pod("web-a"), "u1")], []),
    ],
)
def test_mount_problems(events, pods, expected):
    assert mount_problems(events, pods) == expected


def test_a_missing_volume_source_is_summarized_with_its_name():
    problems = unrecoverable(
        mount_problems([mount_event("u1", MISSING_SECRET)], [with_uid(pod("web-a"), "u1")])
    )
    assert summarize_problems(problems) == f"FailedMount: web-a ({MISSING_SECRET})"
