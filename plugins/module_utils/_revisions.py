# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

# Revisions of a Deployment: which ReplicaSet is new, which are old, what the next
# revision number will be, and kubectl's rollback and history, on plain dicts.
#
# Ported from the deployment controller (pkg/controller/deployment/util:
# Revision, MaxRevision, EqualIgnoreHash, FindNewReplicaSet, FindOldReplicaSets,
# getNewReplicaSet's revision rule) and from kubectl
# (polymorphichelpers/rollback.go and history.go). Objects are the API's JSON:
# {"metadata": {...}, "spec": {...}, "status": {...}}. Nothing here is mutated.

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"

# kubectl's annotationsToSkip for `rollout undo`: these stay as the Deployment has
# them, everything else is copied from the ReplicaSet rolled back to.
ROLLBACK_SKIPPED_ANNOTATIONS = frozenset(
    {
        LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        DEPRECATED_ROLLBACK_TO_ANNOTATION,
    }
)

JSONDict = dict[str, Any]


class RevisionNotFound(LookupError):
    """The revision asked for (or a previous one) does not exist.

    ``available`` lists the revisions that do, ascending, for the message and for
    callers that want to offer them.
    """

    def __init__(self, message: str, available: list[int], requested: int | None = None):
        super().__init__(message)
        self.available = available
        self.requested = requested


# --- small accessors ------------------------------------------------------------------


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    annotations = _metadata(obj).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _template(obj: dict[str, Any]) -> dict[str, Any]:
    template = _spec(obj).get("template")
    return template if isinstance(template, dict) else {}


def _int_field(mapping: dict[str, Any], key: str, default: int = 0) -> int:
    value = mapping.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return default


def _kind_name(deployment: dict[str, Any]) -> str:
    return f"deployment/{_metadata(deployment).get('name') or '<unnamed>'}"


def _created_key(obj: dict[str, Any]) -> tuple[float, str]:
    """Sort key: creationTimestamp, then name (the controller's ReplicaSetsByCreationTimestamp).

    A missing or unreadable timestamp sorts first, like Go's zero time.
    """
    meta = _metadata(obj)
    stamp = meta.get("creationTimestamp")
    seconds = float("-inf")
    if isinstance(stamp, str) and stamp:
        try:
            # Python < 3.11 does not read the "Z" suffix the API server writes.
            iso = stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp
            seconds = datetime.fromisoformat(iso).timestamp()
        except ValueError:
            seconds = float("-inf")
    return seconds, str(meta.get("name") or "")


def _same_object(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a is b:
        return True
    uid_a, uid_b = _metadata(a).get("uid"), _metadata(b).get("uid")
    if uid_a and uid_b:
        return bool(uid_a == uid_b)
    return bool(_metadata(a).get("name") == _metadata(b).get("name"))


# --- revisions ------------------------------------------------------------------------


def revision(obj: dict[str, Any]) -> int:
    """The object's revision annotation as an int; 0 when missing or not a number.

    (The controller's Revision returns an error for a bad value and its callers skip
    the object; 0 is how "skip" reads here.)
    """
    value = _annotations(obj).get(REVISION_ANNOTATION)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if not isinstance(value, str):
        return 0
    try:
        number = int(value.strip())
    except ValueError:
        return 0
    return max(number, 0)


def max_revision(objs: list[dict[str, Any]]) -> int:
    """Highest revision among the objects (0 for none): the controller's MaxRevision."""
    return max((revision(obj) for obj in objs), default=0)


def owned_by(obj: dict[str, Any], owner_uid: str) -> bool:
    """True when ``obj`` has a controller ownerReference to the object with ``owner_uid``."""
    if not owner_uid:
        return False
    refs = _metadata(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return False
    return any(
        isinstance(ref, dict) and ref.get("controller") is True and ref.get("uid") == owner_uid
        for ref in refs
    )


def _owned(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uid = str(_metadata(deployment).get("uid") or "")
    return sorted((rs for rs in replica_sets if owned_by(rs, uid)), key=_created_key)


# --- templates ------------------------------------------------------------------------


def template_without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a pod template without the pod-template-hash label."""
    result = copy.deepcopy(template) if isinstance(template, dict) else {}
    metadata = result.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("labels"), dict):
        metadata["labels"].pop(POD_TEMPLATE_HASH_LABEL, None)
    return result


def _semantic(value: Any) -> Any:
    """Drop null, {} and [] members, which Go's semantic equality treats as unset."""
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            item = _semantic(item)
            if item is None or item == {} or item == []:
                continue
            cleaned[key] = item
        return cleaned
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def equal_ignore_hash(t1: dict[str, Any], t2: dict[str, Any]) -> bool:
    """True when two pod templates are equal apart from the pod-template-hash label.

    The hash differs between a Deployment's template (which has none) and its
    ReplicaSets', and between API versions, so it never decides equality.
    """
    return bool(_semantic(template_without_hash(t1)) == _semantic(template_without_hash(t2)))


def images_of(template: dict[str, Any]) -> dict[str, str]:
    """Container name -> image for a pod template (or a pod spec): containers, then init containers."""
    spec = template if "containers" in template else template.get("spec") or {}
    images: dict[str, str] = {}
    if not isinstance(spec, dict):
        return images
    for key in ("containers", "initContainers"):
        containers = spec.get(key)
        if not isinstance(containers, list):
            continue
        for container in containers:
            if isinstance(container, dict) and isinstance(container.get("name"), str):
                images.setdefault(container["name"], str(container.get("image") or ""))
    return images


# --- new and old ReplicaSets ----------------------------------------------------------


def find_new_replica_set(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The ReplicaSet running the Deployment's current template (the controller's FindNewReplicaSet).

    Only ReplicaSets the Deployment controls count. If several have the template
    (it happens after a collision), the oldest wins: creationTimestamp, then name.
    """
    template = _template(deployment)
    for rs in _owned(deployment, replica_sets):
        if equal_ignore_hash(_template(rs), template):
            return rs
    return None


def find_old_replica_sets(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The Deployment's other ReplicaSets, oldest first."""
    new_rs = find_new_replica_set(deployment, replica_sets)
    return [rs for rs in _owned(deployment, replica_sets) if new_rs is None or not _same_object(rs, new_rs)]


def next_revision(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> int:
    """The revision the controller gives the rollout of the Deployment's current template.

    The controller (getNewReplicaSet) computes max(old revisions) + 1 and gives it
    to the new ReplicaSet, unless that ReplicaSet already has a higher one:
      revisions 1, 2, 3; template changed, no RS for it yet      -> 4
      the RS for the current template exists with revision 3     -> 3
      rollback to the template of revision 1 (RS 1 exists, 3 max) -> 4 (RS 1 is
      re-labelled revision 4; kubectl then shows 2, 3, 4)
    """
    owned = _owned(deployment, replica_sets)
    new_rs = find_new_replica_set(deployment, replica_sets)
    if new_rs is None:
        return max_revision(owned) + 1
    old = [rs for rs in owned if not _same_object(rs, new_rs)]
    return max(revision(new_rs), max_revision(old) + 1)


# --- rollback (kubectl rollout undo) --------------------------------------------------


def _available(owned: list[dict[str, Any]]) -> list[int]:
    return sorted({revision(rs) for rs in owned if revision(rs) > 0})


def _available_text(available: list[int]) -> str:
    return ", ".join(str(number) for number in available) if available else "none"


def rollback_target(
    deployment: dict[str, Any],
    replica_sets: list[dict[str, Any]],
    to_revision: int | None,
) -> dict[str, Any]:
    """The ReplicaSet to roll back to, by kubectl's rule.

    ``to_revision`` None or 0: the previous revision, i.e. the second highest
    (revisions 1, 2, 4 -> 2; note: not "current - 1", which would be 3 and not
    exist). Otherwise exactly that revision. ReplicaSets without a revision
    annotation are not part of the history. RevisionNotFound lists what exists.
    """
    owned = _owned(deployment, replica_sets)
    available = _available(owned)
    name = _kind_name(deployment)
    if to_revision is None or to_revision == 0:
        if len(available) < 2:
            raise RevisionNotFound(
                f"no previous revision to roll back to for {name}; "
                f"revisions available: {_available_text(available)}",
                available,
                None,
            )
        wanted = available[-2]
    else:
        wanted = to_revision
    # Several ReplicaSets could claim one revision after manual edits: take the newest.
    matches = [rs for rs in owned if revision(rs) == wanted]
    if wanted <= 0 or not matches:
        raise RevisionNotFound(
            f"revision {wanted} not found for {name}; revisions available: {_available_text(available)}",
            available,
            wanted,
        )
    return matches[-1]


def rollback_refusal(deployment: dict[str, Any]) -> str | None:
    """Why a rollback must not happen now, or None. kubectl refuses paused Deployments."""
    if _spec(deployment).get("paused") is True:
        name = _kind_name(deployment)
        return (
            f"you cannot roll back a paused deployment; resume {name} first "
            "(spec.paused: false) and try again"
        )
    return None


def rollback_template_and_annotations(
    deployment: dict[str, Any], target_rs: dict[str, Any], drop: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The pod template and the full annotations the Deployment gets on rollback.

    None when the Deployment's template already equals the target's (kubectl:
    "skipped rollback (current template already matches revision N)").

    The template is the ReplicaSet's without the pod-template-hash label. The
    annotations: those of the Deployment on kubectl's skip list are kept (the
    last-applied configuration, the revision bookkeeping); all others are the
    ReplicaSet's, so a change-cause recorded on it comes back with it, and
    annotations that only the Deployment has are dropped, exactly as kubectl does.
    Beyond kubectl, the ``drop`` annotations come from neither: bookkeeping of a rollout that
    the controller copied to the ReplicaSet while it ran (_ownership.STATE_ANNOTATION).
    """
    target_template = _template(target_rs)
    if equal_ignore_hash(target_template, _template(deployment)):
        return None
    template = template_without_hash(target_template)
    annotations: dict[str, str] = {}
    for key, value in _annotations(deployment).items():
        if key in ROLLBACK_SKIPPED_ANNOTATIONS:
            annotations[key] = value
    for key, value in _annotations(target_rs).items():
        if key not in ROLLBACK_SKIPPED_ANNOTATIONS:
            annotations[key] = value
    for key in drop:
        annotations.pop(key, None)
    return template, annotations


def rollback_patch(
    deployment: dict[str, Any], target_rs: dict[str, Any], drop: frozenset[str] = frozenset()
) -> list[JSONDict] | None:
    """kubectl's rollback as a JSON patch (RFC 6902) list, or None when nothing changes.

    Two operations, as kubectl sends them::

        [{"op": "replace", "path": "/spec/template", "value": <RS template, no hash label>},
         {"op": "replace", "path": "/metadata/annotations", "value": <annotations>}]

    (the second is "add" when the Deployment has no annotations yet, since JSON
    patch cannot replace a missing member). See rollback_template_and_annotations
    for what the values hold. Send it with content type application/json-patch+json.
    """
    changes = rollback_template_and_annotations(deployment, target_rs, drop)
    if changes is None:
        return None
    template, annotations = changes
    has_annotations = isinstance(_metadata(deployment).get("annotations"), dict)
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {
            "op": "replace" if has_annotations else "add",
            "path": "/metadata/annotations",
            "value": annotations,
        },
    ]


# --- undo (rollout_undo) ------------------------------------------------------------


def revision_history(obj: dict[str, Any]) -> list[int]:
    """The revisions a ReplicaSet had before its current one, oldest first.

    When a Deployment goes back to the template of an old ReplicaSet (kubectl rollout undo),
    the controller gives that ReplicaSet the next revision number and appends the old one to
    its deployment.kubernetes.io/revision-history annotation: "1,4" then means it was
    revision 1, then 4, and is now what the revision annotation says. Unreadable entries are
    left out.
    """
    value = _annotations(obj).get(REVISION_HISTORY_ANNOTATION)
    if not isinstance(value, str):
        return []
    numbers = []
    for part in value.split(","):
        try:
            number = int(part.strip())
        except ValueError:
            continue
        if number > 0:
            numbers.append(number)
    return numbers


def undo_target(
    deployment: dict[str, Any],
    replica_sets: list[dict[str, Any]],
    to_revision: int | None,
) -> dict[str, Any]:
    """The ReplicaSet ``rollout_undo`` goes back to: kubectl's rollback_target, then history.

    kubectl's rule first (the previous revision, or exactly ``to_revision``). When
    ``to_revision`` no longer exists because an earlier undo renumbered it, the ReplicaSet
    whose revision-history holds it is the same template: revisions 1, 2, 3, undo to 1
    makes RS 1 revision 4 (history "1"), and undo to 1 again finds RS 4, whose template
    the Deployment already has, so the second run changes nothing instead of failing as
    kubectl does ("unable to find specified revision 1 in history"). Revision numbers are
    never reused, so this cannot pick another template. RevisionNotFound otherwise.
    """
    try:
        return rollback_target(deployment, replica_sets, to_revision)
    except RevisionNotFound:
        if not to_revision:
            raise
        renumbered = [rs for rs in _owned(deployment, replica_sets) if to_revision in revision_history(rs)]
        if not renumbered:
            raise
        return max(renumbered, key=lambda rs: (revision(rs), _created_key(rs)))


# --- history (kubectl rollout history) ------------------------------------------------


def history(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> list[JSONDict]:
    """One entry per ReplicaSet of the Deployment, oldest revision first.

    Each entry: revision, change_cause (None when not recorded), images
    (container -> image), created (creationTimestamp), replicas (spec), ready_replicas,
    available_replicas, current (the ReplicaSet of the current template), name.
    """
    owned = _owned(deployment, replica_sets)
    new_rs = find_new_replica_set(deployment, replica_sets)
    entries: list[tuple[tuple[int, float, str], JSONDict]] = []
    for rs in owned:
        spec, status, meta = _spec(rs), _status(rs), _metadata(rs)
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            replicas = _int_field(status, "replicas")
        cause = _annotations(rs).get(CHANGE_CAUSE_ANNOTATION)
        entry: JSONDict = {
            "revision": revision(rs),
            "change_cause": cause if isinstance(cause, str) and cause else None,
            "images": images_of(_template(rs)),
            "created": meta.get("creationTimestamp"),
            "replicas": replicas,
            "ready_replicas": _int_field(status, "readyReplicas"),
            "available_replicas": _int_field(status, "availableReplicas"),
            "current": new_rs is not None and _same_object(rs, new_rs),
            "name": meta.get("name"),
        }
        created, name = _created_key(rs)
        entries.append(((revision(rs), created, name), entry))
    entries.sort(key=lambda pair: pair[0])
    return [pair[1] for pair in entries]


__all__ = [
    "CHANGE_CAUSE_ANNOTATION",
    "DEPRECATED_ROLLBACK_TO_ANNOTATION",
    "DESIRED_REPLICAS_ANNOTATION",
    "LAST_APPLIED_ANNOTATION",
    "MAX_REPLICAS_ANNOTATION",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_ANNOTATION",
    "REVISION_HISTORY_ANNOTATION",
    "ROLLBACK_SKIPPED_ANNOTATIONS",
    "RevisionNotFound",
    "equal_ignore_hash",
    "find_new_replica_set",
    "find_old_replica_sets",
    "history",
    "images_of",
    "max_revision",
    "next_revision",
    "owned_by",
    "revision",
    "revision_history",
    "rollback_patch",
    "rollback_refusal",
    "rollback_target",
    "rollback_template_and_annotations",
    "template_without_hash",
    "undo_target",
]
