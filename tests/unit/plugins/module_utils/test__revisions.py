# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._revisions import (
    CHANGE_CAUSE_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    RevisionNotFound,
    equal_ignore_hash,
    find_new_replica_set,
    find_old_replica_sets,
    history,
    images_of,
    max_revision,
    next_revision,
    owned_by,
    revision,
    rollback_patch,
    rollback_refusal,
    rollback_target,
    rollback_template_and_annotations,
    template_without_hash,
)

UID = "uid-web"


def template(image, pod_hash=None, **labels):
    all_labels = {"app": "web", **labels}
    if pod_hash:
        all_labels[POD_TEMPLATE_HASH_LABEL] = pod_hash
    return {
        "metadata": {"labels": all_labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(image="web:3", annotations=None, paused=False, name="web", uid=UID):
    spec = {"replicas": 3, "template": template(image)}
    if paused:
        spec["paused"] = True
    metadata = {"name": name, "uid": uid}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": spec}


def replica_set(
    name,
    image,
    rev,
    created,
    owner=UID,
    annotations=None,
    replicas=0,
    ready=0,
    available=0,
):
    all_annotations = dict(annotations or {})
    if rev is not None:
        all_annotations[REVISION_ANNOTATION] = str(rev)
    metadata = {
        "name": name,
        "uid": "uid-" + name,
        "creationTimestamp": created,
        "annotations": all_annotations,
    }
    if owner:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "web",
                "uid": owner,
                "controller": True,
            }
        ]
    return {
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "template": template(image, pod_hash=name.rsplit("-", 1)[-1]),
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": available,
        },
    }


RS1 = replica_set(
    "web-aaa",
    "web:1",
    1,
    "2024-01-01T10:00:00Z",
    annotations={CHANGE_CAUSE_ANNOTATION: "first"},
)
RS2 = replica_set("web-bbb", "web:2", 2, "2024-01-02T10:00:00Z")
RS3 = replica_set("web-ccc", "web:3", 3, "2024-01-03T10:00:00Z", replicas=3, ready=3, available=2)
STRANGER = replica_set("other-ddd", "web:3", 9, "2023-01-01T10:00:00Z", owner="uid-other")
ORPHAN = replica_set("web-eee", "web:3", 8, "2023-01-01T10:00:00Z", owner=None)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({REVISION_ANNOTATION: "3"}, 3),
        ({REVISION_ANNOTATION: " 12 "}, 12),
        ({REVISION_ANNOTATION: "x"}, 0),
        ({REVISION_ANNOTATION: "-2"}, 0),
        ({REVISION_ANNOTATION: ""}, 0),
        ({}, 0),
        (None, 0),
    ],
)
def test_revision(annotations, expected):
    obj = {"metadata": {"annotations": annotations}} if annotations is not None else {}
    assert revision(obj) == expected


def test_max_revision():
    assert max_revision([RS1, RS3, RS2]) == 3
    assert max_revision([]) == 0


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([{"uid": UID, "controller": True}], True),
        ([{"uid": UID}], False),  # an owner, but not the controller
        ([{"uid": UID, "controller": False}], False),
        ([{"uid": "else", "controller": True}], False),
        ([{"uid": "else", "controller": True}, {"uid": UID, "controller": True}], True),
        (None, False),
    ],
)
def test_owned_by(refs, expected):
    obj = {"metadata": {"ownerReferences": refs}}
    assert owned_by(obj, UID) is expected
    assert owned_by(obj, "") is False


def test_template_without_hash_copies():
    original = template("web:1", pod_hash="abc")
    result = template_without_hash(original)
    assert result == template("web:1")
    assert original["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] == "abc"
    result["spec"]["containers"][0]["image"] = "changed"
    assert original["spec"]["containers"][0]["image"] == "web:1"


def _pts(name, node, annotations, labels):
    return {
        "metadata": {"name": name, "annotations": annotations, "labels": labels},
        "spec": {"nodeName": node},
    }


H = POD_TEMPLATE_HASH_LABEL


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # The controller's TestEqualIgnoreHash.
        (
            _pts("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
            _pts("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
            True,
        ),
        (
            _pts("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
            _pts("foo", "foo-node", {}, {H: "value-2", "something": "else"}),
            True,
        ),
        (
            _pts("foo", "foo-node", {}, {"something": "else"}),
            _pts("foo", "foo-node", {}, {H: "value-2", "something": "else"}),
            True,
        ),
        (
            _pts("foo", "foo-node", {}, {H: "value-1"}),
            _pts("foo", "foo-node", {}, {H: "value-1", "something": "else"}),
            False,
        ),
        (
            _pts(
                "foo",
                "foo-node",
                {"former": "value"},
                {H: "value-1", "something": "else"},
            ),
            _pts(
                "foo",
                "foo-node",
                {"latter": "value"},
                {H: "value-1", "something": "else"},
            ),
            False,
        ),
        (
            _pts("foo-1", "foo-node", {}, {H: "value-1", "something": "else"}),
            _pts("foo-2", "foo-node", {}, {H: "value-2", "something": "else"}),
            False,
        ),
        (
            _pts("foo-1", "foo-node-1", {}, {"something": "else"}),
            _pts("foo-2", "foo-node-2", {}, {H: "value-2", "something": "else"}),
            False,
        ),
        (
            _pts("foo", "foo-node-1", {}, {"something": "else"}),
            _pts("foo", "foo-node-2", {}, {"nothing": "else"}),
            False,
        ),
        # Semantic equality: unset, null and empty are the same.
        (
            {"metadata": {"labels": {H: "x"}}, "spec": {"containers": []}},
            {"metadata": {}, "spec": {}},
            True,
        ),
        (
            {"metadata": {"annotations": None}, "spec": {"volumes": []}},
            {"spec": {}},
            True,
        ),
        (
            {"spec": {"containers": [{"name": "a", "env": []}]}},
            {"spec": {"containers": [{"name": "a"}]}},
            True,
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"name": "b"}]}},
            False,
        ),
    ],
)
def test_equal_ignore_hash(first, second, expected):
    before = copy.deepcopy((first, second))
    assert equal_ignore_hash(first, second) is expected
    assert equal_ignore_hash(second, first) is expected  # symmetric
    assert (first, second) == before  # inputs untouched


def test_find_new_replica_set():
    d = deployment("web:3")
    duplicate = replica_set("web-zzz", "web:3", 4, "2024-01-04T10:00:00Z")
    older_duplicate = replica_set("web-yyy", "web:3", 5, "2023-12-31T10:00:00Z")
    # Same template, different hash.
    assert find_new_replica_set(d, [RS1, RS3]) is RS3
    # The oldest of several with the template.
    assert find_new_replica_set(d, [duplicate, RS3, RS1]) is RS3
    assert find_new_replica_set(d, [duplicate, RS3, older_duplicate]) is older_duplicate
    # Same timestamp: by name.
    twin = replica_set("web-ccb", "web:3", 3, "2024-01-03T10:00:00Z")
    assert find_new_replica_set(d, [RS3, twin]) is twin
    # None.
    assert find_new_replica_set(d, [RS1, RS2]) is None
    # Not controlled by this deployment: never the new one.
    assert find_new_replica_set(d, [STRANGER, ORPHAN]) is None


def test_find_old_replica_sets():
    d = deployment("web:3")
    assert find_old_replica_sets(d, [RS3, RS2, RS1, STRANGER, ORPHAN]) == [RS1, RS2]
    # No new RS yet: all owned ones are old.
    assert find_old_replica_sets(deployment("web:4"), [RS2, RS1, RS3]) == [
        RS1,
        RS2,
        RS3,
    ]
    # Two with the current template: only the oldest is new.
    dup = replica_set("web-fff", "web:3", 4, "2024-01-05T10:00:00Z")
    assert find_old_replica_sets(d, [RS1, RS3, dup]) == [RS1, dup]
    assert find_old_replica_sets(d, [RS3]) == []


@pytest.mark.parametrize(
    ("image", "replica_sets", "expected"),
    [
        ("web:3", [RS1, RS2, RS3], 3),  # current template has its RS
        ("web:4", [RS1, RS2, RS3], 4),  # new template: max + 1
        ("web:4", [], 1),  # first rollout
        ("web:1", [RS1, RS2, RS3], 4),  # rolled back to RS1's template: RS1 becomes 4
        ("web:4", [RS1, RS3, STRANGER], 4),  # other deployments' RSs do not count
        ("web:3", [RS3], 3),
    ],
)
def test_next_revision(image, replica_sets, expected):
    assert next_revision(deployment(image), replica_sets) == expected


R1 = replica_set("web-r1", "web:1", 1, "2024-01-01T10:00:00Z")
R2 = replica_set("web-r2", "web:2", 2, "2024-01-02T10:00:00Z")
R4 = replica_set("web-r4", "web:4", 4, "2024-01-04T10:00:00Z")


@pytest.mark.parametrize(
    ("replica_sets", "to_revision", "expected"),
    [
        ([R1, R2, R4], None, R2),  # previous = second highest, not current - 1
        ([R4, R1, R2], 0, R2),
        ([R1, R2, R4], 1, R1),
        ([R1, R2, R4], 4, R4),
        ([R1, R2, R4, STRANGER], None, R2),
    ],
)
def test_rollback_target(replica_sets, to_revision, expected):
    assert rollback_target(deployment("web:4"), replica_sets, to_revision) is expected


@pytest.mark.parametrize(
    ("replica_sets", "to_revision", "message", "available"),
    [
        (
            [R1, R2, R4],
            7,
            "revision 7 not found for deployment/web; revisions available: 1, 2, 4",
            [1, 2, 4],
        ),
        (
            [R1, R2, R4],
            3,
            "revision 3 not found for deployment/web; revisions available: 1, 2, 4",
            [1, 2, 4],
        ),
        (
            [R1, R2, R4],
            -1,
            "revision -1 not found for deployment/web; revisions available: 1, 2, 4",
            [1, 2, 4],
        ),
        (
            [R4],
            None,
            "no previous revision to roll back to for deployment/web; revisions available: 4",
            [4],
        ),
        (
            [],
            0,
            "no previous revision to roll back to for deployment/web; revisions available: none",
            [],
        ),
        (
            [STRANGER],
            9,
            "revision 9 not found for deployment/web; revisions available: none",
            [],
        ),
    ],
)
def test_rollback_target_not_found(replica_sets, to_revision, message, available):
    with pytest.raises(RevisionNotFound) as err:
        rollback_target(deployment("web:4"), replica_sets, to_revision)
    assert str(err.value) == message
    assert err.value.available == available
    assert isinstance(err.value, LookupError)


SKIPPED_ON_DEPLOYMENT = {
    "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
    "deployment.kubernetes.io/revision": "4",
    "deployment.kubernetes.io/revision-history": "1,3",
    "deployment.kubernetes.io/desired-replicas": "3",
    "deployment.kubernetes.io/max-replicas": "4",
    "deprecated.deployment.rollback.to": "2",
}


def test_rollback_patch_follows_kubectl():
    d = deployment(
        "web:4",
        annotations={
            **SKIPPED_ON_DEPLOYMENT,
            CHANGE_CAUSE_ANNOTATION: "v4",
            "team": "web",
        },
    )
    target = replica_set(
        "web-r2",
        "web:2",
        2,
        "2024-01-02T10:00:00Z",
        annotations={
            CHANGE_CAUSE_ANNOTATION: "v2",
            "deployment.kubernetes.io/desired-replicas": "5",
            "deployment.kubernetes.io/max-replicas": "7",
            "kubectl.kubernetes.io/last-applied-configuration": "{old}",
            "note": "from rs",
        },
    )
    before = copy.deepcopy((d, target))
    patch = rollback_patch(d, target)
    assert patch == [
        {"op": "replace", "path": "/spec/template", "value": template("web:2")},
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {
                # The deployment's own values of the skip list stay...
                **SKIPPED_ON_DEPLOYMENT,
                # ...everything else is the ReplicaSet's; "team" (only on the deployment) goes.
                CHANGE_CAUSE_ANNOTATION: "v2",
                "note": "from rs",
            },
        },
    ]
    assert (d, target) == before
    assert POD_TEMPLATE_HASH_LABEL not in patch[0]["value"]["metadata"]["labels"]


def test_rollback_patch_leaves_out_the_dropped_annotations_of_either():
    d = deployment("web:4", annotations={"ours": "on the deployment", "team": "web"})
    target = replica_set(
        "web-r2", "web:2", 2, "2024-01-02T10:00:00Z", annotations={"ours": "copied", "a": "b"}
    )
    assert rollback_patch(d, target, drop=frozenset({"ours"}))[1]["value"] == {"a": "b"}
    assert rollback_patch(d, target)[1]["value"] == {"ours": "copied", "a": "b"}  # kubectl's


def test_rollback_patch_adds_annotations_when_missing():
    patch = rollback_patch(deployment("web:4"), R1)
    assert patch is not None
    assert patch[1] == {"op": "add", "path": "/metadata/annotations", "value": {}}


def test_rollback_is_skipped_when_template_matches():
    # kubectl: "skipped rollback (current template already matches revision 4)"
    assert rollback_patch(deployment("web:4"), R4) is None
    assert rollback_template_and_annotations(deployment("web:4"), R4) is None


def test_rollback_template_and_annotations():
    result = rollback_template_and_annotations(deployment("web:4", annotations={"a": "b"}), R1)
    assert result == (template("web:1"), {})


def test_rollback_refusal():
    assert rollback_refusal(deployment()) is None
    message = rollback_refusal(deployment(paused=True))
    assert message is not None
    assert "paused" in message
    assert "deployment/web" in message


def test_history():
    older_dup = replica_set("web-a0", "web:0", 0, "2023-01-01T10:00:00Z")  # no revision: sorts first
    entries = history(deployment("web:3"), [RS3, STRANGER, RS1, ORPHAN, RS2, older_dup])
    assert [entry["revision"] for entry in entries] == [0, 1, 2, 3]
    assert [entry["name"] for entry in entries] == [
        "web-a0",
        "web-aaa",
        "web-bbb",
        "web-ccc",
    ]
    assert [entry["current"] for entry in entries] == [False, False, False, True]
    assert entries[1] == {
        "revision": 1,
        "change_cause": "first",
        "images": {"app": "web:1"},
        "created": "2024-01-01T10:00:00Z",
        "replicas": 0,
        "ready_replicas": 0,
        "available_replicas": 0,
        "current": False,
        "name": "web-aaa",
    }
    assert entries[3]["change_cause"] is None
    assert (
        entries[3]["replicas"],
        entries[3]["ready_replicas"],
        entries[3]["available_replicas"],
    ) == (3, 3, 2)


def test_history_orders_by_revision_not_creation():
    late_low = replica_set("web-late", "web:9", 1, "2025-01-01T00:00:00Z")
    early_high = replica_set("web-early", "web:8", 5, "2020-01-01T00:00:00Z")
    names = [entry["name"] for entry in history(deployment("web:8"), [late_low, early_high])]
    assert names == ["web-late", "web-early"]


def test_history_empty():
    assert history(deployment(), []) == []


@pytest.mark.parametrize(
    ("tmpl", "expected"),
    [
        (template("web:1"), {"app": "web:1"}),
        (
            {
                "spec": {
                    "initContainers": [{"name": "migrate", "image": "tool:1"}],
                    "containers": [
                        {"name": "app", "image": "web:1"},
                        {"name": "proxy", "image": "envoy:1"},
                    ],
                }
            },
            {"app": "web:1", "proxy": "envoy:1", "migrate": "tool:1"},
        ),
        ({"containers": [{"name": "app", "image": "web:1"}]}, {"app": "web:1"}),
        ({}, {}),
    ],
)
def test_images_of(tmpl, expected):
    assert images_of(tmpl) == expected
