# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# rollout_undo's pure parts: which ReplicaSet an undo goes back to (kubectl's rule, then the
# revision-history a renumbered ReplicaSet keeps), and reading the module's options.
import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._revisions import (
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    RevisionNotFound,
    revision_history,
    undo_target,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._undo import (
    UndoInputError,
    build_undo_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._workloads import (
    UNDO_HISTORY_ANNOTATION,
    controller_revision_matches,
    controller_revision_patch,
    controller_revision_undo_target,
    next_controller_revision,
    undo_history,
    undo_history_patch,
)

UID = "uid-web"


def rs(name, image, rev, created, history=None, owner=UID):
    annotations = {REVISION_ANNOTATION: str(rev)}
    if history is not None:
        annotations[REVISION_HISTORY_ANNOTATION] = history
    return {
        "metadata": {
            "name": name,
            "uid": "uid-" + name,
            "creationTimestamp": created,
            "annotations": annotations,
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "Deployment", "name": "web"}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
    }


def deployment(image):
    return {
        "metadata": {"name": "web", "uid": UID},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ("1", [1]),
        ("1,4", [1, 4]),
        (" 2 , x, 0, 7", [2, 7]),
    ],
)
def test_revision_history(value, expected):
    annotations = {} if value is None else {REVISION_HISTORY_ANNOTATION: value}
    assert revision_history({"metadata": {"annotations": annotations}}) == expected


# Revisions 1, 2, 3, then undo to 1: RS a is revision 4 with history "1".
A = rs("web-a", "web:1", 4, "2024-01-01T10:00:00Z", history="1")
B = rs("web-b", "web:2", 2, "2024-01-02T10:00:00Z")
C = rs("web-c", "web:3", 3, "2024-01-03T10:00:00Z")
# ... then undo to 2: RS b is revision 5 with history "2"; then undo to 4 (RS a): 6, history "1,4".
A6 = rs("web-a", "web:1", 6, "2024-01-01T10:00:00Z", history="1,4")
B5 = rs("web-b", "web:2", 5, "2024-01-02T10:00:00Z", history="2")
STRANGER = rs("other-x", "web:9", 9, "2024-01-01T10:00:00Z", history="1", owner="uid-other")


@pytest.mark.parametrize(
    ("live", "sets", "to_revision", "expected"),
    [
        ("web:1", [A, B, C], None, C),  # previous: second highest (3), kubectl's rule
        ("web:1", [A, B, C], 4, A),  # exact number first
        ("web:1", [A, B, C], 1, A),  # renumbered: found by its history
        ("web:1", [A, B, C], 3, C),
        ("web:1", [A6, B5, C], 4, A6),  # history "1,4"
        ("web:1", [A6, B5, C], 1, A6),
        ("web:2", [A6, B5, C], 2, B5),
        ("web:1", [A, B, C, STRANGER], 1, A),  # another Deployment's ReplicaSet never counts
    ],
)
def test_undo_target(live, sets, to_revision, expected):
    assert undo_target(deployment(live), sets, to_revision) is expected


@pytest.mark.parametrize(
    ("sets", "to_revision", "message", "available"),
    [
        ([A, B, C], 7, "revision 7 not found for deployment/web; revisions available: 2, 3, 4", [2, 3, 4]),
        ([STRANGER], 1, "revision 1 not found for deployment/web; revisions available: none", []),
        ([C], None, "no previous revision to roll back to for deployment/web; revisions available: 3", [3]),
    ],
)
def test_undo_target_not_found(sets, to_revision, message, available):
    with pytest.raises(RevisionNotFound) as err:
        undo_target(deployment("web:3"), sets, to_revision)
    assert str(err.value) == message
    assert err.value.available == available


def test_build_undo_request_defaults():
    request = build_undo_request({"name": "web", "namespace": None, "to_revision": 0})
    assert (request.kind, request.namespace, request.name) == ("Deployment", "default", "web")
    assert request.to_revision is None  # 0 means the previous revision, as for kubectl
    assert (request.wait, request.wait_timeout, request.timeout_seconds) == (True, None, 600)
    # The forced rollback of a StatefulSet is on unless turned off.
    assert request.replace_unready_pods is True
    assert build_undo_request({"name": "db", "replace_unready_pods": False}).replace_unready_pods is False


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"to_revision": -1}, "to_revision must be 1 or more (or 0 for the previous revision), got -1"),
        ({"wait_timeout": 0}, "wait_timeout must be more than 0 seconds, got 0"),
        ({"timeout_seconds": -5}, "timeout_seconds must be more than 0 seconds, got -5"),
    ],
)
def test_build_undo_request_refuses(params, message):
    with pytest.raises(UndoInputError) as err:
        build_undo_request({"name": "web", **params})
    assert str(err.value) == message


# --- StatefulSets and DaemonSets: ControllerRevisions -----------------------------------------


STS_UID = "uid-db"


def cr(name, image, number, history=None, owner=STS_UID, version="10"):
    metadata = {
        "name": name,
        "resourceVersion": version,
        "creationTimestamp": "2024-01-01T10:00:00Z",
        "ownerReferences": [{"uid": owner, "controller": True, "kind": "StatefulSet", "name": "db"}],
    }
    if history is not None:
        metadata["annotations"] = {UNDO_HISTORY_ANNOTATION: history}
    template = {
        "metadata": {"labels": {"app": "db"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }
    return {
        "metadata": metadata,
        "revision": number,
        "data": {"spec": {"template": {**template, "$patch": "replace"}}},
    }


def sts(image):
    return {
        "metadata": {"name": "db", "uid": STS_UID},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
    }


CR1 = cr("db-1", "db:1", 1)
CR2 = cr("db-2", "db:2", 2)
CR4 = cr("db-4", "db:4", 4)
CR1_AS_5 = cr("db-1", "db:1", 5, history="1")
OTHER = cr("other-1", "db:9", 9, history="3", owner="uid-other")


@pytest.mark.parametrize(
    ("sets", "to_revision", "expected"),
    [
        ([CR1, CR2, CR4], None, CR2),  # second highest, not current - 1
        ([CR4, CR1, CR2], 0, CR2),
        ([CR1, CR2, CR4], 1, CR1),
        ([CR2, CR4, CR1_AS_5], 1, CR1_AS_5),  # renumbered by an earlier undo
        ([CR2, CR4, CR1_AS_5], 5, CR1_AS_5),
        ([CR1, CR2, CR4, OTHER], 2, CR2),
    ],
)
def test_controller_revision_undo_target(sets, to_revision, expected):
    assert controller_revision_undo_target("StatefulSet", sts("db:4"), sets, to_revision) is expected


@pytest.mark.parametrize(
    ("sets", "to_revision", "message", "available"),
    [
        (
            [CR1, CR2, CR4],
            3,
            "revision 3 not found for statefulset/db; revisions available: 1, 2, 4",
            [1, 2, 4],
        ),
        ([CR1, OTHER], 3, "revision 3 not found for statefulset/db; revisions available: 1", [1]),
        ([CR4], None, "no previous revision to roll back to for statefulset/db; revisions available: 4", [4]),
        ([], 0, "no previous revision to roll back to for statefulset/db; revisions available: none", []),
    ],
)
def test_controller_revision_undo_target_not_found(sets, to_revision, message, available):
    with pytest.raises(RevisionNotFound) as err:
        controller_revision_undo_target("StatefulSet", sts("db:4"), sets, to_revision)
    assert str(err.value) == message
    assert err.value.available == available


def test_controller_revision_matches_ignores_the_patch_directive():
    assert controller_revision_matches(sts("db:1"), CR1)
    assert not controller_revision_matches(sts("db:2"), CR1)


def test_controller_revision_patch_is_kubectls_data_guarded():
    patch = controller_revision_patch(CR1, "77")
    assert patch == {**CR1["data"], "metadata": {"resourceVersion": "77"}}
    assert patch["spec"]["template"]["$patch"] == "replace"
    assert "metadata" not in CR1["data"]  # not mutated


@pytest.mark.parametrize(
    ("revision", "expected_history", "expected_patch"),
    [
        (CR1, [], {"metadata": {"resourceVersion": "10", "annotations": {UNDO_HISTORY_ANNOTATION: "1"}}}),
        (
            CR1_AS_5,
            [1],
            {"metadata": {"resourceVersion": "10", "annotations": {UNDO_HISTORY_ANNOTATION: "1,5"}}},
        ),
        (cr("db-1", "db:1", 5, history="1,5"), [1, 5], None),  # already noted
        (
            cr("db-1", "db:1", 2, history="x, 1"),
            [1],
            {"metadata": {"resourceVersion": "10", "annotations": {UNDO_HISTORY_ANNOTATION: "1,2"}}},
        ),
    ],
)
def test_undo_history(revision, expected_history, expected_patch):
    assert undo_history(revision) == expected_history
    assert undo_history_patch(revision) == expected_patch


def test_next_controller_revision():
    assert next_controller_revision(sts("db:1"), [CR1, CR2, CR4, OTHER]) == 5
    assert next_controller_revision(sts("db:1"), []) == 1
