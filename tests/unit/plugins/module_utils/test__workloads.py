# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._status import RolloutStatus
from ansible_collections.openrollout.k8s.plugins.module_utils._workloads import (
    UNSUPPORTED_STRATEGY_MESSAGE,
    RevisionNotFound,
    controller_revision_history,
    controller_revision_number,
    controller_revision_template,
    daemonset_status,
    describe_object,
    describe_workload,
    find_current_controller_revision,
    newest_revision_pods,
    owned_controller_revisions,
    parse_time,
    pod_available,
    pod_ready,
    pods_of_controller_revision,
    replica_counts,
    revision_detail,
    revision_history,
    revision_pod_label,
    rollout_problems,
    rollout_status,
    selector_string,
    statefulset_status,
    status_report,
)

T0 = parse_time("2026-11-23T12:00:00Z")
assert T0 is not None


# --- builders: the shapes the API server returns ---------------------------------------


def template(image: str, app: str = "db", extra_labels: dict | None = None) -> dict:
    return {
        "metadata": {"labels": {"app": app, **(extra_labels or {})}},
        "spec": {
            "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always",
        },
    }


def owner(kind: str, name: str, uid: str, controller: bool = True) -> list[dict]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": controller}]


def statefulset(
    image="db:v2",
    replicas=3,
    generation=2,
    observed=2,
    ready=3,
    updated=3,
    current_replicas=3,
    update_revision="db-bbb",
    current_revision="db-bbb",
    strategy=None,
    min_ready=None,
) -> dict:
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "db"}},
        "template": template(image),
        "updateStrategy": strategy
        if strategy is not None
        else {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    }
    if replicas is None:
        del spec["replicas"]
    if min_ready is not None:
        spec["minReadySeconds"] = min_ready
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "prod", "uid": "sts-uid", "generation": generation},
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": updated,
            "currentReplicas": current_replicas,
            "updateRevision": update_revision,
            "currentRevision": current_revision,
        },
    }


def daemonset(
    image="agent:v2",
    generation=2,
    observed=2,
    desired=3,
    updated=3,
    ready=3,
    available=3,
    strategy="RollingUpdate",
) -> dict:
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "prod", "uid": "ds-uid", "generation": generation},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": template(image, app="agent"),
            "updateStrategy": {"type": strategy},
        },
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberReady": ready,
            "numberAvailable": available,
        },
    }


def controller_revision(
    name: str,
    number: int,
    image: str,
    created: str,
    owner_kind="StatefulSet",
    owner_name="db",
    owner_uid="sts-uid",
    app="db",
    hash_label=None,
    annotations=None,
) -> dict:
    labels = {"app": app}
    if hash_label:
        labels["controller-revision-hash"] = hash_label
    data_template = {"$patch": "replace", **template(image, app=app)}
    return {
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "uid": f"{name}-uid",
            "creationTimestamp": created,
            "labels": labels,
            "annotations": annotations or {},
            "ownerReferences": owner(owner_kind, owner_name, owner_uid),
        },
        "data": {"spec": {"template": data_template}},
        "revision": number,
    }


CR1 = controller_revision(
    "db-aaa", 1, "db:v1", "2026-11-23T10:00:00Z", annotations={"kubernetes.io/change-cause": "first"}
)
CR2 = controller_revision("db-bbb", 2, "db:v2", "2026-11-23T11:00:00Z")
CR_OTHER = controller_revision(
    "db-zzz", 7, "db:v2", "2026-11-23T09:00:00Z", owner_name="db-copy", owner_uid="other-uid"
)

DS1 = controller_revision(
    "agent-dcd7c749b",
    1,
    "agent:v1",
    "2026-11-23T10:00:00Z",
    owner_kind="DaemonSet",
    owner_name="agent",
    owner_uid="ds-uid",
    app="agent",
    hash_label="dcd7c749b",
)
DS2 = controller_revision(
    "agent-856668f66c",
    2,
    "agent:v2",
    "2026-11-23T11:00:00Z",
    owner_kind="DaemonSet",
    owner_name="agent",
    owner_uid="ds-uid",
    app="agent",
    hash_label="856668f66c",
    annotations={"kubernetes.io/change-cause": "agent to v2"},
)


def ready_condition(status="True", since="2026-11-23T11:59:50Z") -> dict:
    return {"type": "Ready", "status": status, "lastTransitionTime": since}


def pod(
    name: str,
    owner_kind: str,
    owner_name: str,
    owner_uid: str,
    labels: dict | None = None,
    ready: bool = True,
    since="2026-11-23T11:59:50Z",
    waiting: str | None = None,
    deleting: bool = False,
) -> dict:
    status: dict = {"conditions": [ready_condition("True" if ready else "False", since)]}
    if waiting:
        status["containerStatuses"] = [
            {
                "name": "app",
                "restartCount": 1,
                "state": {"waiting": {"reason": waiting, "message": "back-off"}},
            }
        ]
    metadata: dict = {
        "name": name,
        "labels": labels or {},
        "ownerReferences": owner(owner_kind, owner_name, owner_uid),
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-23T12:00:00Z"
    return {"metadata": metadata, "status": status}


def sts_pod(name, revision, **kw) -> dict:
    return pod(
        name, "StatefulSet", "db", "sts-uid", {"app": "db", "controller-revision-hash": revision}, **kw
    )


def ds_pod(name, hash_label, **kw) -> dict:
    return pod(
        name, "DaemonSet", "agent", "ds-uid", {"app": "agent", "controller-revision-hash": hash_label}, **kw
    )


# --- selectors and time ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, "app=web"),
        ({"matchLabels": {"tier": "front", "app": "web"}}, "app=web,tier=front"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["b", "a"]},
                    {"key": "track", "operator": "NotIn", "values": ["canary"]},
                    {"key": "owner", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            },
            "app=web,tier in (a,b),track notin (canary),owner,!legacy",
        ),
        ({}, ""),
    ],
)
def test_selector_string(selector, expected):
    assert selector_string(selector) == expected


def test_selector_string_rejects_unknown_operator():
    with pytest.raises(ValueError, match="operator 'Gt' for key 'n' is not supported"):
        selector_string({"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["1"]}]})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T12:00:10Z", T0 + 10),
        ("2026-11-23T12:00:10+00:00", T0 + 10),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def test_describe_object():
    assert (
        describe_object("Deployment", {"metadata": {"name": "web", "namespace": "prod"}})
        == "Deployment prod/web"
    )
    assert describe_object("DaemonSet", {"metadata": {"name": "agent"}}) == "DaemonSet agent"


# --- pods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "min_ready", "now", "ready", "available"),
    [
        ([ready_condition("True", "2026-11-23T11:59:50Z")], 0, T0, True, True),
        # minReadySeconds 10: Ready at 11:59:50 -> available from 12:00:00 on
        ([ready_condition("True", "2026-11-23T11:59:50Z")], 10, T0, True, True),
        ([ready_condition("True", "2026-11-23T11:59:50Z")], 11, T0, True, False),
        ([ready_condition("True", "garbage")], 5, T0, True, False),
        ([ready_condition("False")], 0, T0, False, False),
        ([{"type": "PodScheduled", "status": "True"}], 0, T0, False, False),
        ([], 0, T0, False, False),
    ],
)
def test_pod_ready_and_available(conditions, min_ready, now, ready, available):
    obj = {"status": {"conditions": conditions}}
    assert pod_ready(obj) is ready
    assert pod_available(obj, min_ready, now) is available


# --- ControllerRevisions ---------------------------------------------------------------


def test_controller_revision_template_drops_the_patch_directive_and_copies():
    tmpl = controller_revision_template(CR1)
    assert tmpl == template("db:v1")
    tmpl["metadata"]["labels"]["x"] = "y"
    assert "x" not in CR1["data"]["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [({"revision": 4}, 4), ({}, 0), ({"revision": "4"}, 0), ({"data": {}}, 0)],
)
def test_controller_revision_number(obj, expected):
    assert controller_revision_number(obj) == expected


def test_controller_revision_template_of_a_revision_without_data():
    assert controller_revision_template({"revision": 1}) == {}


def test_owned_controller_revisions_by_owner_uid_then_revision():
    same_labels_not_owned = copy.deepcopy(CR1)
    same_labels_not_owned["metadata"]["ownerReferences"] = owner(
        "StatefulSet", "db", "sts-uid", controller=False
    )
    owned = owned_controller_revisions(statefulset(), [CR2, CR_OTHER, same_labels_not_owned, CR1])
    assert [cr["metadata"]["name"] for cr in owned] == ["db-aaa", "db-bbb"]


def _renumbered(cr: dict, number: int, name: str) -> dict:
    result = copy.deepcopy(cr)
    result["revision"] = number
    result["metadata"]["name"] = name
    return result


@pytest.mark.parametrize(
    ("kind", "workload", "revisions", "expected"),
    [
        # the template decides, whatever the status says
        ("StatefulSet", statefulset("db:v1", update_revision="db-bbb"), [CR1, CR2], "db-aaa"),
        ("StatefulSet", statefulset("db:v2"), [CR1, CR2], "db-bbb"),
        # two revisions with the template (a collision): the highest number
        ("StatefulSet", statefulset("db:v1"), [CR1, CR2, _renumbered(CR1, 3, "db-ccc")], "db-ccc"),
        # no stored template equals it, spec observed: status.updateRevision
        ("StatefulSet", statefulset("db:v9", update_revision="db-aaa"), [CR1, CR2], "db-aaa"),
        # ... but not while the controller has not seen the spec yet
        ("StatefulSet", statefulset("db:v9", generation=3, observed=2), [CR1, CR2], None),
        ("StatefulSet", statefulset("db:v2"), [CR_OTHER], None),
        ("DaemonSet", daemonset("agent:v1"), [DS2, DS1], "agent-dcd7c749b"),
        ("DaemonSet", daemonset("agent:v2"), [DS1, DS2], "agent-856668f66c"),
        ("DaemonSet", daemonset("agent:v9"), [DS2, DS1], "agent-856668f66c"),
        ("DaemonSet", daemonset("agent:v9", generation=3), [DS2, DS1], None),
        ("DaemonSet", daemonset(), [], None),
    ],
)
def test_find_current_controller_revision(kind, workload, revisions, expected):
    current = find_current_controller_revision(kind, workload, revisions)
    assert (current["metadata"]["name"] if current else None) == expected


def test_the_template_hash_label_does_not_decide():
    sts = statefulset("db:v2")
    sts["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = "x"
    assert find_current_controller_revision("StatefulSet", sts, [CR1, CR2]) is CR2


@pytest.mark.parametrize(
    ("kind", "revision", "expected"),
    [
        ("StatefulSet", CR2, "db-bbb"),
        ("DaemonSet", DS2, "856668f66c"),
        ("DaemonSet", {"metadata": {"name": "agent-5f6d7"}}, "5f6d7"),
    ],
)
def test_revision_pod_label(kind, revision, expected):
    assert revision_pod_label(kind, revision) == expected


def test_pods_of_controller_revision():
    pods = [
        sts_pod("db-0", "db-aaa"),
        sts_pod("db-1", "db-bbb"),
        sts_pod("db-2", "db-bbb", deleting=True),
        pod(
            "db-x", "StatefulSet", "db-copy", "other-uid", {"app": "db", "controller-revision-hash": "db-bbb"}
        ),
    ]
    names = [
        p["metadata"]["name"] for p in pods_of_controller_revision("StatefulSet", statefulset(), CR2, pods)
    ]
    assert names == ["db-1"]


def test_controller_revision_history_statefulset():
    pods = [
        sts_pod("db-0", "db-aaa", ready=True),
        sts_pod("db-1", "db-bbb", ready=True, since="2026-11-23T11:59:58Z"),
        sts_pod("db-2", "db-bbb", ready=False),
    ]
    sts = statefulset("db:v2", min_ready=5)
    entries = controller_revision_history("StatefulSet", sts, [CR2, CR_OTHER, CR1], pods, T0)
    assert entries == [
        {
            "revision": 1,
            "change_cause": "first",
            "images": {"app": "db:v1"},
            "created": "2026-11-23T10:00:00Z",
            "replicas": 1,
            "ready_replicas": 1,
            "available_replicas": 1,
            "current": False,
            "name": "db-aaa",
        },
        {
            "revision": 2,
            "change_cause": None,
            "images": {"app": "db:v2"},
            "created": "2026-11-23T11:00:00Z",
            "replicas": 2,
            "ready_replicas": 1,
            "available_replicas": 0,  # Ready 2 s ago, minReadySeconds 5
            "current": True,
            "name": "db-bbb",
        },
    ]


def test_controller_revision_history_daemonset():
    pods = [ds_pod("agent-a", "856668f66c"), ds_pod("agent-b", "856668f66c"), ds_pod("agent-c", "dcd7c749b")]
    entries = controller_revision_history("DaemonSet", daemonset(), [DS2, DS1], pods, T0)
    assert [(e["revision"], e["replicas"], e["current"], e["change_cause"]) for e in entries] == [
        (1, 1, False, None),
        (2, 2, True, "agent to v2"),
    ]


# --- done-tests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            statefulset(strategy={"type": "OnDelete"}),
            RolloutStatus(False, "rollout status is only available for RollingUpdate strategy type", None),
        ),
        (
            statefulset(observed=0, generation=1),
            RolloutStatus(False, "Waiting for statefulset spec update to be observed...", None),
        ),
        (
            statefulset(generation=3, observed=2),
            RolloutStatus(False, "Waiting for statefulset spec update to be observed...", None),
        ),
        (statefulset(ready=1), RolloutStatus(False, "Waiting for 2 pods to be ready...", None)),
        (
            statefulset(updated=1),
            RolloutStatus(
                False,
                "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...",
                None,
            ),
        ),
        # replicas 5, partition 3: the two highest ordinals updated and all 5 ready is done
        (
            statefulset(
                replicas=5,
                ready=5,
                updated=2,
                strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 3}},
            ),
            RolloutStatus(True, "partitioned roll out complete: 2 new pods have been updated...", None),
        ),
        (
            statefulset(
                replicas=5,
                ready=5,
                updated=1,
                strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 3}},
            ),
            RolloutStatus(
                False,
                "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
                None,
            ),
        ),
        (
            statefulset(),
            RolloutStatus(True, "partitioned roll out complete: 3 new pods have been updated...", None),
        ),
        # rollingUpdate without partition: still kubectl's "partitioned" branch
        (
            statefulset(updated=2, strategy={"type": "RollingUpdate", "rollingUpdate": {}}),
            RolloutStatus(True, "partitioned roll out complete: 2 new pods have been updated...", None),
        ),
        # no rollingUpdate at all (never after API defaulting, but kubectl reads it)
        (
            statefulset(updated=1, current_revision="db-aaa", strategy={"type": "RollingUpdate"}),
            RolloutStatus(
                False, "waiting for statefulset rolling update to complete 1 pods at revision db-bbb...", None
            ),
        ),
        (
            statefulset(strategy={"type": "RollingUpdate"}),
            RolloutStatus(True, "statefulset rolling update complete 3 pods at revision db-bbb...", None),
        ),
        # replicas unset: the ready and partition checks are skipped, as in kubectl
        (
            statefulset(replicas=None, ready=0, updated=0),
            RolloutStatus(True, "partitioned roll out complete: 0 new pods have been updated...", None),
        ),
    ],
)
def test_statefulset_status(obj, expected):
    assert statefulset_status(obj) == expected
    assert rollout_status("StatefulSet", obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (daemonset(strategy="OnDelete"), RolloutStatus(False, UNSUPPORTED_STRATEGY_MESSAGE, None)),
        (
            daemonset(generation=3, observed=2),
            RolloutStatus(False, "Waiting for daemon set spec update to be observed...", None),
        ),
        (
            daemonset(updated=1, available=1),
            RolloutStatus(
                False,
                'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...',
                None,
            ),
        ),
        (
            daemonset(available=2),
            RolloutStatus(
                False,
                'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...',
                None,
            ),
        ),
        (daemonset(), RolloutStatus(True, 'daemon set "agent" successfully rolled out', None)),
        (
            daemonset(desired=0, updated=0, available=0),
            RolloutStatus(True, 'daemon set "agent" successfully rolled out', None),
        ),
    ],
)
def test_daemonset_status(obj, expected):
    assert daemonset_status(obj) == expected
    assert rollout_status("DaemonSet", obj) == expected


def test_rollout_status_dispatch():
    deployment = {"metadata": {"name": "web", "generation": 1}, "status": {"observedGeneration": 1}}
    assert rollout_status("Deployment", deployment) == RolloutStatus(
        True, 'deployment "web" successfully rolled out', None
    )
    with pytest.raises(ValueError, match="kind must be one of Deployment, StatefulSet, DaemonSet, got 'Job'"):
        rollout_status("Job", {})


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        (
            "StatefulSet",
            statefulset(ready=2, updated=1),
            {"desired": 3, "updated": 1, "ready": 2, "available": 2},
        ),
        (
            "StatefulSet",
            statefulset(replicas=None),
            {"desired": None, "updated": 3, "ready": 3, "available": 3},
        ),
        (
            "DaemonSet",
            daemonset(updated=2, ready=1, available=0),
            {"desired": 3, "updated": 2, "ready": 1, "available": 0},
        ),
    ],
)
def test_replica_counts(kind, obj, expected):
    assert replica_counts(kind, obj) == expected


# --- Deployments: newest revision, problems, detail --------------------------------------


def deployment(image="web:3", conditions=None, updated=1, available=1, generation=4, observed=4) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod", "uid": "dep-uid", "generation": generation},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(image, app="web"),
        },
        "status": {
            "observedGeneration": observed,
            "replicas": 3,
            "updatedReplicas": updated,
            "readyReplicas": 2,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def replica_set(name, image, number, created, conditions=None, uid_owner="dep-uid") -> dict:
    return {
        "metadata": {
            "name": name,
            "uid": f"{name}-uid",
            "creationTimestamp": created,
            "annotations": {
                "deployment.kubernetes.io/revision": str(number),
                "kubernetes.io/change-cause": f"image {image}",
            },
            "ownerReferences": owner("Deployment", "web", uid_owner),
        },
        "spec": {
            "replicas": 1,
            "template": template(
                image, app="web", extra_labels={"pod-template-hash": name.rsplit("-", 1)[-1]}
            ),
        },
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "conditions": conditions or []},
    }


RS1 = replica_set("web-a1", "web:1", 1, "2026-11-23T10:00:00Z")
RS2 = replica_set("web-b2", "web:2", 2, "2026-11-23T10:30:00Z")
RS3 = replica_set(
    "web-c3",
    "web:3",
    3,
    "2026-11-23T11:00:00Z",
    conditions=[
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": 'pods "web-c3-x" is forbidden: exceeded quota: compute',
        }
    ],
)
RS_STRANGER = replica_set("web-d4", "web:3", 9, "2026-11-23T09:00:00Z", uid_owner="other-uid")


def web_pod(name, rs, **kw) -> dict:
    return pod(name, "ReplicaSet", rs["metadata"]["name"], rs["metadata"]["uid"], {"app": "web"}, **kw)


WEB_PODS = [
    web_pod("web-a1-x", RS1),
    web_pod("web-b2-x", RS2, ready=False, waiting="ImagePullBackOff"),  # old revision: not reported
    web_pod("web-c3-x", RS3, ready=False, waiting="CrashLoopBackOff"),
    web_pod("web-c3-y", RS3, ready=False, waiting="CrashLoopBackOff", deleting=True),
    web_pod("web-d4-x", RS_STRANGER, ready=False, waiting="CrashLoopBackOff"),
]
DEADLINE = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}


def test_newest_revision_pods_deployment_is_by_owner_reference():
    pods = newest_revision_pods("Deployment", deployment(), [RS1, RS2, RS3, RS_STRANGER], WEB_PODS)
    assert [p["metadata"]["name"] for p in pods] == ["web-c3-x"]
    assert newest_revision_pods("Deployment", deployment("web:4"), [RS1, RS2, RS3], WEB_PODS) == []


def test_newest_revision_pods_statefulset_and_daemonset():
    pods = [sts_pod("db-0", "db-aaa"), sts_pod("db-1", "db-bbb")]
    assert [
        p["metadata"]["name"] for p in newest_revision_pods("StatefulSet", statefulset(), [CR1, CR2], pods)
    ] == ["db-1"]
    assert newest_revision_pods("StatefulSet", statefulset("db:v9", generation=3), [CR1, CR2], pods) == []
    ds_pods = [ds_pod("agent-a", "dcd7c749b"), ds_pod("agent-b", "856668f66c")]
    assert [
        p["metadata"]["name"] for p in newest_revision_pods("DaemonSet", daemonset(), [DS1, DS2], ds_pods)
    ] == ["agent-b"]


def test_rollout_problems_deployment():
    problems = rollout_problems("Deployment", deployment(), [RS1, RS2, RS3, RS_STRANGER], WEB_PODS)
    assert [(p.pod, p.reason) for p in problems] == [("", "QuotaExceeded"), ("web-c3-x", "CrashLoopBackOff")]


@pytest.mark.parametrize(
    ("obj", "pods", "done", "reason", "stuck", "summary"),
    [
        # still going, a crash loop in the new ReplicaSet: stuck before the deadline
        (
            deployment(),
            WEB_PODS,
            False,
            None,
            True,
            'QuotaExceeded: pods "web-c3-x" is forbidden: exceeded quota: compute; '
            "CrashLoopBackOff: web-c3-x (container app)",
        ),
        (
            deployment(conditions=[DEADLINE]),
            [],
            False,
            "ProgressDeadlineExceeded",
            True,
            "QuotaExceeded: " + 'pods "web-c3-x" is forbidden: exceeded quota: compute',
        ),
        # done: problems are reported, but a finished rollout is never stuck
        (deployment(updated=3, available=3), WEB_PODS, True, None, False, None),
    ],
)
def test_status_report_deployment(obj, pods, done, reason, stuck, summary):
    report = status_report("Deployment", obj, [RS1, RS2, RS3], pods)
    assert (report["done"], report["reason"], report["stuck"]) == (done, reason, stuck)
    if summary is not None:
        assert report["problems_summary"] == summary


def test_status_report_problem_shape_and_slow_pods_are_not_stuck():
    sts = statefulset(ready=2)
    pods = [sts_pod("db-0", "db-bbb"), sts_pod("db-1", "db-bbb"), sts_pod("db-2", "db-bbb", ready=False)]
    report = status_report("StatefulSet", sts, [CR1, CR2], pods)
    assert report == {
        "done": False,
        "message": "Waiting for 1 pods to be ready...",
        "reason": None,
        "stuck": False,
        "problems": [],
        "problems_summary": "",
        "replicas": {"desired": 3, "updated": 3, "ready": 2, "available": 2},
    }
    pods[2] = sts_pod("db-2", "db-bbb", ready=False, waiting="CrashLoopBackOff")
    report = status_report("StatefulSet", sts, [CR1, CR2], pods)
    assert report["stuck"] is True
    assert report["problems"] == [
        {"pod": "db-2", "container": "app", "reason": "CrashLoopBackOff", "message": "back-off"}
    ]


def test_revision_history_deployment_uses_the_replica_sets():
    entries = revision_history("Deployment", deployment(), [RS3, RS_STRANGER, RS1, RS2], WEB_PODS, T0)
    assert [(e["revision"], e["name"], e["current"], e["change_cause"]) for e in entries] == [
        (1, "web-a1", False, "image web:1"),
        (2, "web-b2", False, "image web:2"),
        (3, "web-c3", True, "image web:3"),
    ]


def test_revision_detail_deployment_template_without_hash():
    detail = revision_detail("Deployment", deployment(), [RS1, RS2, RS3], [], 1, T0)
    assert detail["revision"] == 1
    assert detail["name"] == "web-a1"
    assert detail["current"] is False
    assert detail["template"] == template("web:1", app="web")
    assert detail["annotations"]["kubernetes.io/change-cause"] == "image web:1"
    # nothing was mutated
    assert RS1["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "a1"


def test_revision_detail_statefulset():
    detail = revision_detail("StatefulSet", statefulset(), [CR1, CR2], [sts_pod("db-0", "db-aaa")], 1, T0)
    assert detail["template"] == template("db:v1")
    assert detail["replicas"] == 1
    assert detail["annotations"] == {"kubernetes.io/change-cause": "first"}


@pytest.mark.parametrize(
    ("kind", "obj", "children", "number", "message", "available"),
    [
        (
            "Deployment",
            deployment(),
            [RS3, RS1, RS2, RS_STRANGER],
            99,
            "revision 99 not found for Deployment prod/web; revisions available: 1, 2, 3",
            [1, 2, 3],
        ),
        (
            "StatefulSet",
            statefulset(),
            [CR1, CR2],
            0,
            "revision 0 not found for StatefulSet prod/db; revisions available: 1, 2",
            [1, 2],
        ),
        (
            "DaemonSet",
            daemonset(),
            [],
            1,
            "revision 1 not found for DaemonSet prod/agent; revisions available: none",
            [],
        ),
    ],
)
def test_revision_detail_not_found(kind, obj, children, number, message, available):
    with pytest.raises(RevisionNotFound) as info:
        revision_detail(kind, obj, children, [], number, T0)
    assert str(info.value) == message
    assert info.value.available == available
    assert info.value.requested == number


def test_describe_workload():
    result = describe_workload("Deployment", deployment(), [RS1, RS2, RS3], WEB_PODS, T0)
    assert set(result) == {
        "kind",
        "name",
        "namespace",
        "uid",
        "paused",
        "status",
        "current_revision",
        "history",
    }
    assert (result["kind"], result["name"], result["namespace"], result["uid"]) == (
        "Deployment",
        "web",
        "prod",
        "dep-uid",
    )
    assert result["paused"] is False
    assert result["current_revision"] == 3
    assert [e["revision"] for e in result["history"]] == [1, 2, 3]
    assert (
        result["status"]["message"]
        == 'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...'
    )

    with_detail = describe_workload(
        "StatefulSet", statefulset("db:v9", generation=3), [CR1, CR2], [], T0, revision=2
    )
    assert with_detail["current_revision"] is None  # new template, not yet seen by the controller
    assert with_detail["revision_detail"]["template"] == template("db:v2")

    with pytest.raises(RevisionNotFound):
        describe_workload("DaemonSet", daemonset(), [DS1, DS2], [], T0, revision=5)
