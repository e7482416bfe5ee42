# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Whose rollout is it? Pure checks on plain dicts, for the engine (_engine.py).
#
# Each run of a rollout has a random id. It marks the Deployment with it: the label
# openrollout.k8s/run (written before a pre hook runs, guarded by the resourceVersion the run
# planned from; a label, so the Deployment's generation does not move) and the ``run`` of the
# rollout state annotation openrollout.k8s/rollout (JSON, see docs/rollout.md). Two runs on one
# Deployment (two playbooks at once, or a new task while an old one is still going) are told
# apart by these, and by the pod template:
#
#   - a run that finds, before its first write, that the template, the rollout state or the run
#     label changed since it planned (a 409 on its guarded write, then a fresh read) changed
#     nothing and stops;
#   - a run whose template is no longer on the Deployment, or which finds a run id that is
#     neither its own nor one it saw when it planned (those are runs it took over from, killed
#     or not), was superseded: it stops at its next step, and does not roll back (that would
#     undo the other writer's change).
#
# The last writer wins; the other run fails and says so (docs/reliability.md, "Two runs at once").
import json
from typing import Any, Optional

from ._revisions import equal_ignore_hash, images_of, revision
from ._rollout import Failure

STATE_ANNOTATION = "openrollout.k8s/rollout"
RUN_LABEL = "openrollout.k8s/run"
REASON_SUPERSEDED = "Superseded"
# What of ours the Deployment controller copies to a revision's ReplicaSet (all annotations but
# its own few) and an undo would copy back: an undo of ours leaves these out.
ROLLOUT_BOOKKEEPING = frozenset({STATE_ANNOTATION})
# The words every such failure message has, for people and for scripts.
SUPERSEDED = "was changed by another writer"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _template(deployment: dict[str, Any]) -> dict[str, Any]:
    return _dict(_dict(deployment.get("spec")).get("template"))


def _raw_state(deployment: dict[str, Any]) -> Optional[dict[str, Any]]:
    raw = _dict(_dict(deployment.get("metadata")).get("annotations")).get(STATE_ANNOTATION)
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def stale_state(deployment: dict[str, Any]) -> bool:
    """Is the rollout state on ``deployment`` a copy brought back by an undo?

    The controller copies the Deployment's annotations, this one too, to the ReplicaSet of the
    revision being rolled out, and an undo (kubectl's) copies that ReplicaSet's back. Such a copy
    names the revision it was about, which is older than the Deployment's own revision: an undo
    always gives the revision gone back to a new, higher number. A state a run has just written
    names a revision at least the Deployment's (the controller numbers the new one a moment
    later), so it is never taken for stale.

        state {"revision": 1, ...} on a Deployment at revision 4 -> True
        state {"revision": 4, ...} at revision 3 (just written) or 4 (stopped there) -> False
    """
    state = _raw_state(deployment)
    number = state.get("revision") if state is not None else None
    if not isinstance(number, int) or isinstance(number, bool):
        return False
    return number < revision(deployment)


def rollout_state(deployment: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The rollout state annotation as JSON; None if absent, unreadable, or stale (stale_state)."""
    if stale_state(deployment):
        return None
    return _raw_state(deployment)


def state_run(deployment: dict[str, Any]) -> Optional[str]:
    """The run named by the rollout state (None: no state, or one written before runs were named)."""
    run = (rollout_state(deployment) or {}).get("run")
    return run if isinstance(run, str) else None


def label_run(deployment: dict[str, Any]) -> Optional[str]:
    """The run named by the openrollout.k8s/run label, if any."""
    run = _dict(_dict(deployment.get("metadata")).get("labels")).get(RUN_LABEL)
    return run if isinstance(run, str) and run else None


def runs(deployment: dict[str, Any]) -> set[str]:
    """The run ids the Deployment carries (label and rollout state)."""
    return {run for run in (label_run(deployment), state_run(deployment)) if run}


def describe_template(deployment: dict[str, Any]) -> str:
    """``revision 3 (app=web:v3)``: how a message names what is on the Deployment."""
    images = ", ".join(f"{name}={image}" for name, image in sorted(images_of(_template(deployment)).items()))
    number = revision(deployment)
    return f"revision {number} ({images})" if number else f"({images})"


def superseded(
    deployment: dict[str, Any],
    run: Optional[str],
    template: Optional[dict[str, Any]],
    what: str,
    taken_over: frozenset[str] = frozenset(),
) -> Optional[Failure]:
    """Has another writer taken ``deployment`` over from run ``run``, whose pod template is ``template``?

    Yes when the Deployment names a run other than ``run`` and the ``taken_over`` ones (seen when
    the run planned), or (``template`` given) when the pod template is no longer that one
    (pod-template-hash aside). None when the rollout is still this run's. ``run`` None: the
    object carries no run marks (a StatefulSet or DaemonSet), so only its template tells.
    """
    others = runs(deployment) - {run} - taken_over if run is not None else set()
    if others:
        state = rollout_state(deployment) or {}
        to = f" (to revision {state.get('revision')})" if state_run(deployment) in others else ""
        return Failure(
            REASON_SUPERSEDED,
            f"{what} {SUPERSEDED} during this rollout: another run took its rollout over{to}; "
            f"the Deployment is now at {describe_template(deployment)}",
        )
    if template is not None and not equal_ignore_hash(_template(deployment), template):
        return Failure(
            REASON_SUPERSEDED,
            f"{what} {SUPERSEDED} during this rollout: its template is now {describe_template(deployment)}",
        )
    return None


def changed_since(planned: dict[str, Any], now: dict[str, Any]) -> bool:
    """Did another writer change the template or the rollout state between two reads of a Deployment?

    A 409 on a guarded write only says that something changed (the controller's status updates
    do too); this says whether it was something a run plans from.
    """
    marks = {
        (
            _dict(_dict(obj.get("metadata")).get("annotations")).get(STATE_ANNOTATION),
            label_run(obj),
        )
        for obj in (planned, now)
    }
    return not equal_ignore_hash(_template(planned), _template(now)) or len(marks) > 1


def claim_refused(now: dict[str, Any], what: str) -> Failure:
    """The failure of a run that lost the race for a Deployment before it wrote anything."""
    state = rollout_state(now) or {}
    detail = f", by a run rolling out revision {state['revision']}" if state.get("run") else ""
    if not detail and label_run(now):
        detail = ", by another run"
    return Failure(
        REASON_SUPERSEDED,
        f"{what} {SUPERSEDED} while this run prepared its rollout{detail}: it is now at "
        f"{describe_template(now)}",
    )


__all__ = [
    "REASON_SUPERSEDED",
    "ROLLOUT_BOOKKEEPING",
    "RUN_LABEL",
    "STATE_ANNOTATION",
    "SUPERSEDED",
    "changed_since",
    "claim_refused",
    "describe_template",
    "label_run",
    "rollout_state",
    "runs",
    "stale_state",
    "state_run",
    "superseded",
]
