# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._hooks import (
    SPEC_DIGEST_ANNOTATION,
    same_hook_job,
    spec_digest,
    with_spec_digest,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._ownership import (
    REASON_SUPERSEDED,
    RUN_LABEL,
    STATE_ANNOTATION,
    SUPERSEDED,
    changed_since,
    claim_refused,
    describe_template,
    label_run,
    rollout_state,
    runs,
    stale_state,
    state_run,
    superseded,
)

WHAT = "Deployment shop/web"


def template(image: str, pod_hash: str | None = None) -> dict:
    labels = {"app": "web", **({"pod-template-hash": pod_hash} if pod_hash else {})}
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}}


def deployment(
    image: str = "web:v2", revision: str = "2", state: dict | str | None = None, run: str | None = None
) -> dict:
    annotations = {"deployment.kubernetes.io/revision": revision}
    if state is not None:
        annotations[STATE_ANNOTATION] = state if isinstance(state, str) else json.dumps(state)
    metadata = {"name": "web", "namespace": "shop", "resourceVersion": "7", "annotations": annotations}
    if run is not None:
        metadata["labels"] = {RUN_LABEL: run}
    return {"metadata": metadata, "spec": {"replicas": 3, "template": template(image)}}


@pytest.mark.parametrize(
    ("state", "parsed", "run"),
    [
        (None, None, None),
        ("not json", None, None),
        ('["a list"]', None, None),
        ({"revision": 2, "next": "mid"}, {"revision": 2, "next": "mid"}, None),  # before runs were named
        ({"revision": 2, "next": "mid", "run": "abc"}, {"revision": 2, "next": "mid", "run": "abc"}, "abc"),
        ({"revision": 2, "run": 7}, {"revision": 2, "run": 7}, None),
    ],
)
def test_rollout_state_and_its_run(state, parsed, run):
    live = deployment(state=state)
    assert rollout_state(live) == parsed
    assert state_run(live) == run


@pytest.mark.parametrize(
    ("state_revision", "live_revision", "stale"),
    [
        (1, "4", True),  # revision 1's rollout state, brought back by an undo to it (now revision 4)
        (3, "4", True),
        (4, "4", False),  # a rollout stopped at its revision (stop_before, or killed): it goes on
        (5, "4", False),  # just written with the template, before the controller numbers it
        (1, "", False),  # no revision yet
        ("1", "4", False),  # not a number: not ours to judge
        (None, "4", False),
    ],
)
def test_a_state_about_an_older_revision_is_stale_and_ignored(state_revision, live_revision, stale):
    live = deployment(
        revision=live_revision, state={"revision": state_revision, "next": "post", "run": "abc"}
    )
    assert stale_state(live) is stale
    assert (rollout_state(live) is None, runs(live) == set()) == (stale, stale)


def test_runs_come_from_the_label_and_the_state():
    live = deployment(state={"revision": 2, "run": "abc"}, run="def")
    assert (label_run(live), runs(live)) == ("def", {"abc", "def"})
    assert runs(deployment(run="")) == set()


def test_describe_template():
    assert describe_template(deployment("web:v3", "3")) == "revision 3 (app=web:v3)"
    live = deployment()
    del live["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    assert describe_template(live) == "(app=web:v2)"


@pytest.mark.parametrize(
    ("live", "template_of_run", "message"),
    [
        # Still this run's: its state, its template (the ReplicaSet hash label does not count).
        (deployment(state={"revision": 2, "run": "me"}), template("web:v2"), None),
        (deployment(), template("web:v2", pod_hash="abc123"), None),
        # No template known yet (before the apply, or Custom): only the state counts.
        (deployment("web:v9"), None, None),
        # A state written before runs were named is nobody's in particular.
        (deployment(state={"revision": 2}), template("web:v2"), None),
        (
            deployment("web:v3", "3"),
            template("web:v2"),
            f"{WHAT} {SUPERSEDED} during this rollout: its template is now revision 3 (app=web:v3)",
        ),
        # Runs seen when this one planned (killed, or taken over) are not another writer.
        (deployment(state={"revision": 2, "run": "killed-before"}, run="killed-before"), None, None),
        (
            deployment(state={"revision": 3, "run": "other"}),
            None,
            f"{WHAT} {SUPERSEDED} during this rollout: another run took its rollout over (to revision 3); "
            "the Deployment is now at revision 2 (app=web:v2)",
        ),
        (
            deployment(state={"revision": 2, "run": "me"}, run="other"),
            template("web:v2"),
            f"{WHAT} {SUPERSEDED} during this rollout: another run took its rollout over; "
            "the Deployment is now at revision 2 (app=web:v2)",
        ),
    ],
)
def test_superseded(live, template_of_run, message):
    failure = superseded(live, "me", template_of_run, WHAT, frozenset({"killed-before"}))
    if message is None:
        assert failure is None
    else:
        assert failure is not None
        assert (failure.reason, failure.message) == (REASON_SUPERSEDED, message)


@pytest.mark.parametrize(
    ("planned", "now", "changed"),
    [
        # The controller's status updates (a new resourceVersion) change nothing a run plans from.
        (deployment(), {**deployment(), "status": {"replicas": 3}}, False),
        (deployment(), deployment("web:v3"), True),
        (deployment(), deployment(state={"revision": 3, "run": "other"}), True),
        (deployment(state={"run": "old"}), deployment(state={"run": "old"}), False),
        (deployment(state={"run": "old"}), deployment(), True),
        (deployment(), deployment(run="other"), True),
        (deployment(run="other"), deployment(run="other"), False),
    ],
)
def test_changed_since(planned, now, changed):
    assert changed_since(planned, now) is changed


def test_claim_refused_names_the_other_run_and_what_is_live():
    failure = claim_refused(deployment("web:v3", "2", state={"revision": 3, "run": "other"}), WHAT)
    assert failure.reason == REASON_SUPERSEDED
    assert failure.message == (
        f"{WHAT} {SUPERSEDED} while this run prepared its rollout, by a run rolling out revision 3: "
        "it is now at revision 2 (app=web:v3)"
    )
    assert claim_refused(deployment("web:v3", "3"), WHAT).message == (
        f"{WHAT} {SUPERSEDED} while this run prepared its rollout: it is now at revision 3 (app=web:v3)"
    )
    assert claim_refused(deployment(run="other"), WHAT).message == (
        f"{WHAT} {SUPERSEDED} while this run prepared its rollout, by another run: "
        "it is now at revision 2 (app=web:v2)"
    )


# --- hook Jobs: the same hook, or another template's ---------------------------------------------


def job(image: str = "web:v2", labels: dict | None = None, annotations: dict | None = None) -> dict:
    return {
        "metadata": {"name": "web-2-hook-pre", "annotations": dict(annotations or {})},
        "spec": {
            "template": {
                "metadata": {"labels": dict(labels or {})},
                "spec": {"containers": [{"name": "app", "image": image, "command": ["migrate"]}]},
            }
        },
    }


def test_spec_digest_is_the_pod_spec_only():
    assert spec_digest(job()) == spec_digest(job(labels={"team": "shop"}, annotations={"note": "x"}))
    assert spec_digest(job()) != spec_digest(job("web:v3"))
    assert len(spec_digest(job())) == 16


def test_with_spec_digest_annotates_a_copy():
    original = job(annotations={"note": "x"})
    marked = with_spec_digest(original)
    assert marked["metadata"]["annotations"] == {"note": "x", SPEC_DIGEST_ANNOTATION: spec_digest(original)}
    assert original["metadata"]["annotations"] == {"note": "x"}


@pytest.mark.parametrize(
    ("existing", "ours", "same"),
    [
        (with_spec_digest(job()), with_spec_digest(job()), True),
        (with_spec_digest(job()), job(), True),  # ours not annotated yet: its digest is computed
        (with_spec_digest(job("web:v3")), with_spec_digest(job()), False),
        (job("web:v3"), with_spec_digest(job()), True),  # made before the digest existed: as before
    ],
)
def test_same_hook_job(existing, ours, same):
    assert same_hook_job(existing, ours) is same
