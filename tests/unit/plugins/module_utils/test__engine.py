# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The failure paths of the engine and of rollout_undo for API errors (ClientError), with a
# scripted fake client: a Deployment and its ReplicaSets in memory, the writes sent applied to
# them as the API server and the Deployment controller would (revision numbers, kubectl's
# rollback), and the waits scripted. The real behaviour against a real API server is in
# tests/integration/test_rollout_api_errors.py.
import copy
import json

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils import _undo
from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    ClientError,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._engine import (
    REASON_API_ERROR,
    RolloutEngine,
    RolloutError,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._ownership import STATE_ANNOTATION
from ansible_collections.openrollout.k8s.plugins.module_utils._revisions import (
    REVISION_ANNOTATION,
    equal_ignore_hash,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import (
    GOAL_CANARY,
    Failure,
    RolloutRequest,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import (
    STRATEGY_ANNOTATION,
    parse_strategy,
    strategy_annotation,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._undo import (
    DeploymentUndo,
    UndoError,
    UndoRequest,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import StepFailed

UID = "uid-web"
USER_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
FORBIDDEN = (
    "forbidden: needs patch on deployments.apps in namespace shop (user system:serviceaccount:shop:ci)"
)


def template(image):
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def replica_set(image, rev, replicas):
    tpl = template(image)
    tpl["metadata"]["labels"]["pod-template-hash"] = f"h{rev}"
    return {
        "metadata": {
            "name": f"web-h{rev}",
            "namespace": "shop",
            "uid": f"rs-{rev}",
            "creationTimestamp": f"2026-01-0{rev}T00:00:00Z",
            "annotations": {REVISION_ANNOTATION: str(rev)},
            "ownerReferences": [{"uid": UID, "controller": True}],
        },
        "spec": {"replicas": replicas, "template": tpl},
    }


def merge(target, patch):
    """RFC 7386 merge patch; lists of named objects merge by name (a strategic merge, enough here)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
            by_name = {item["name"]: item for item in target.get(key) or []}
            for item in value:
                merge(by_name.setdefault(item["name"], {}), item)
            target[key] = list(by_name.values())
        else:
            target[key] = copy.deepcopy(value)


class FakeCluster:
    """The API server and the Deployment controller, for one Deployment: see the module comment.

    ``fail`` maps the start of a request's description (its ``what``, as the engine words it)
    to the ClientError to raise for it; ``fail_all`` raises one for every request from then on
    (the API unreachable).
    """

    def __init__(self) -> None:
        self.deployment = {
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "uid": UID,
                "resourceVersion": "1",
                "generation": 1,
                "annotations": {REVISION_ANNOTATION: "1"},
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": copy.deepcopy(USER_STRATEGY),
                "template": template("web:1"),
            },
            "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
        }
        self.replica_sets = [replica_set("web:1", 1, 3)]
        self.fail: dict[str, ClientError] = {}
        self.fail_all: ClientError | None = None
        self.writes: list[str] = []

    # --- the KubeClient interface the engine uses ---------------------------------------

    def clock(self) -> float:
        return 1000.0

    def retry_on_conflict(self, action, what):
        return action()

    def get(self, what, resource, namespace, name):
        self._refuse(what)
        return copy.deepcopy(self.deployment)

    def list(self, what, resource, namespace, **selectors):
        self._refuse(what)
        return copy.deepcopy(self.replica_sets)

    def patch(self, what, resource, namespace, name, body, content_type, field_manager=None, **kwargs):
        self._refuse(what)
        new = copy.deepcopy(self.deployment)
        if content_type == JSON_PATCH:
            for op in body:
                parts = op["path"].strip("/").split("/")
                if op["op"] == "test":
                    assert new["metadata"]["resourceVersion"] == op["value"]
                    continue
                parent = new
                for part in parts[:-1]:
                    parent = parent[part]
                parent[parts[-1]] = copy.deepcopy(op["value"])
        else:
            assert content_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH)
            patch = copy.deepcopy(body)
            version = patch["metadata"].pop("resourceVersion", None)
            if version is not None:
                assert version == new["metadata"]["resourceVersion"]
            merge(new, patch)
        if kwargs.get("dry_run"):
            return new
        self.writes.append(what)
        self._store(new)
        return copy.deepcopy(self.deployment)

    # --- the fake's own -------------------------------------------------------------------

    def _refuse(self, what):
        if self.fail_all is not None:
            raise self.fail_all
        for start, error in self.fail.items():
            if what.startswith(start):
                raise error

    def _store(self, new):
        """Store the write; a new template gets a revision, as the Deployment controller gives it."""
        old = self.deployment
        new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
        if new["spec"] != old["spec"]:
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if not equal_ignore_hash(old["spec"]["template"], new["spec"]["template"]):
            top = max(int(rs["metadata"]["annotations"][REVISION_ANNOTATION]) for rs in self.replica_sets)
            same = [
                rs
                for rs in self.replica_sets
                if equal_ignore_hash(rs["spec"]["template"], new["spec"]["template"])
            ]
            if same:
                same[0]["metadata"]["annotations"][REVISION_ANNOTATION] = str(top + 1)
            else:
                image = new["spec"]["template"]["spec"]["containers"][0]["image"]
                self.replica_sets.append(replica_set(image, top + 1, 0))
            new["metadata"]["annotations"][REVISION_ANNOTATION] = str(top + 1)
        self.deployment = new

    def settle(self):
        """The controller done: every pod of the current template available."""
        replicas = self.deployment["spec"]["replicas"]
        self.deployment["status"] = {
            "observedGeneration": self.deployment["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        }


def request(**overrides):
    fields = {
        "namespace": "shop",
        "name": "web",
        "body": None,
        "images": {"app": "web:2"},
        "replicas": None,
        "strategy": parse_strategy(
            {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 1}}
        ),
        "change_cause": None,
        "rollback_on_failure": True,
        "wait": True,
        "wait_timeout": None,
    }
    fields.update(overrides)
    return RolloutRequest(**fields)


def engine_for(cluster, waits=None, **overrides):
    """An engine on ``cluster`` whose waits succeed (the controller settles), except those in
    ``waits``: goal -> a function called instead (to raise, or to break the API)."""
    engine = RolloutEngine(cluster, request(**overrides), wall_clock=lambda: 0.0, run_id="run1")
    goals = []
    scripted = dict(waits or {})

    def wait(goal, timeout_seconds, target=1):
        goals.append(goal)
        if goal in scripted:
            scripted.pop(goal)()
        cluster.settle()

    engine.waiter.wait = wait
    engine.goals = goals
    return engine


def failed(engine):
    with pytest.raises(RolloutError) as info:
        engine.run()
    return str(info.value), info.value.result


def raiser(error):
    def _raise():
        raise error

    return _raise


def annotations(cluster):
    return cluster.deployment["metadata"].get("annotations") or {}


def test_a_client_error_after_the_template_rolls_back_like_a_failed_step():
    cluster = FakeCluster()
    cluster.fail["restoring maxUnavailable"] = ClientError(f"restoring maxUnavailable: {FORBIDDEN}", 403)
    msg, result = failed(engine_for(cluster))

    assert msg.startswith(
        f"rollout of Deployment shop/web to revision 2 failed: APIError: restoring maxUnavailable: {FORBIDDEN}. "
        "Rolled back to the template of revision 1 (app=web:1), now revision 3: "
        "Deployment shop/web is at revision 3 (app=web:1) with 3/3 pods available"
    )
    assert result["failure"] == {
        "reason": REASON_API_ERROR,
        "message": f"restoring maxUnavailable: {FORBIDDEN}",
    }
    assert result["rolled_back"] is True
    assert (result["revision"], result["failed_revision"], result["changed"]) == (3, 2, True)
    assert [e["event"] for e in result["timeline"]][-3:] == ["failed", "rollback_started", "rolled_back"]
    # Back on the previous template at full capacity, with the user's strategy, no state left.
    spec = cluster.deployment["spec"]
    assert spec["template"]["spec"]["containers"][0]["image"] == "web:1"
    assert (spec["replicas"], spec["strategy"], spec["paused"]) == (3, USER_STRATEGY, False)
    assert STATE_ANNOTATION not in annotations(cluster)


def test_an_api_error_failure_has_the_result_keys_of_a_failed_step():
    step = FakeCluster()
    step_result = failed(
        engine_for(step, {GOAL_CANARY: raiser(StepFailed(Failure("Timeout", "no progress")))})
    )[1]
    api = FakeCluster()
    api_result = failed(engine_for(api, {GOAL_CANARY: raiser(ClientError("watch: 403 Forbidden", 403))}))[1]
    assert sorted(api_result) == sorted(step_result)
    assert api_result["failure"]["reason"] == REASON_API_ERROR
    assert api.deployment["spec"] == step.deployment["spec"]


def test_the_rollback_refused_too_says_the_state_and_how_to_go_on():
    cluster = FakeCluster()
    cluster.fail["restoring maxUnavailable"] = ClientError(f"restoring maxUnavailable: {FORBIDDEN}", 403)
    cluster.fail["rolling back"] = ClientError(f"rolling back: {FORBIDDEN}", 403)
    msg, result = failed(engine_for(cluster))

    assert msg == (
        f"rollout of Deployment shop/web to revision 2 failed: APIError: restoring maxUnavailable: {FORBIDDEN}. "
        f"The rollback to revision 1 did not complete either: rolling back: {FORBIDDEN}. "
        "Deployment shop/web is at revision 2 (app=web:2) with 3/3 pods available; nothing was rolled back; "
        "roll it back with kubectl rollout undo deployment/web -n shop --to-revision=1 "
        "(or openrollout.k8s.rollout_undo), or run this task again once the API accepts it, to go on with "
        "the rollout"
    )
    assert result["rolled_back"] is False
    assert result["failure"]["reason"] == REASON_API_ERROR
    assert result["deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    # The rollout state stays, as after any failure not rolled back: a rerun goes on from it.
    assert json.loads(annotations(cluster)[STATE_ANNOTATION])["next"] == "canary"


def test_a_paused_deployment_left_by_the_failure_is_said_to_need_a_resume_first():
    cluster = FakeCluster()
    cluster.deployment["spec"]["paused"] = False
    cluster.fail["restoring maxUnavailable"] = ClientError("restoring maxUnavailable: 422 Invalid", 422)
    cluster.fail["rolling back"] = ClientError("rolling back: 422 Invalid", 422)

    def pause():  # someone (or a Custom deployer) paused it meanwhile
        cluster.deployment["spec"]["paused"] = True

    msg = failed(engine_for(cluster, {GOAL_CANARY: pause}))[0]
    assert (
        "nothing was rolled back; it is paused: resume it (openrollout.k8s.rollout_control with action: "
        "resume, or kubectl rollout resume deployment/web -n shop), then roll it back with kubectl rollout "
        "undo deployment/web -n shop --to-revision=1"
    ) in msg


def test_a_rollback_written_whose_wait_fails_on_the_api_says_to_follow_it():
    cluster = FakeCluster()
    cluster.fail["restoring maxUnavailable"] = ClientError("restoring maxUnavailable: 403 Forbidden", 403)
    engine = engine_for(cluster)
    waits = {"complete": raiser(ClientError("watching pods: 403 Forbidden", 403))}
    original = engine.waiter.wait

    def wait(goal, timeout_seconds, target=1):
        if goal in waits and engine.rollback_written:
            waits.pop(goal)()
        original(goal, timeout_seconds, target)

    engine.waiter.wait = wait
    msg, result = failed(engine)
    assert msg.endswith(
        "The rollback to revision 1 did not complete either: watching pods: 403 Forbidden. "
        "Deployment shop/web is at revision 3 (app=web:1) with 3/3 pods available; the rollback was written "
        "(the template is revision 1's again) and the Deployment controller goes on with it: follow it with "
        "kubectl rollout status deployment/web -n shop"
    )
    assert result["rolled_back"] is False
    assert cluster.deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"


def test_the_api_gone_for_good_mid_rollout_still_gives_a_message_not_a_traceback():
    cluster = FakeCluster()
    gone = ClientError("reading Deployment shop/web: cannot reach the API server (still failing after 60s)")

    def api_down():
        cluster.fail_all = gone
        raise gone

    msg, result = failed(engine_for(cluster, {GOAL_CANARY: api_down}))
    assert msg == (
        f"rollout of Deployment shop/web to revision 2 failed: APIError: {gone}. "
        f"The rollback to revision 1 did not complete either: {gone}. "
        f"The state of Deployment shop/web could not be read ({gone}); nothing was rolled back; "
        "roll it back with kubectl rollout undo deployment/web -n shop --to-revision=1 "
        "(or openrollout.k8s.rollout_undo), or run this task again once the API accepts it, to go on with "
        "the rollout"
    )
    assert result["failure"]["reason"] == REASON_API_ERROR
    assert result["deployment"] is None


def test_without_rollback_on_failure_an_api_error_leaves_it_and_says_so():
    cluster = FakeCluster()
    cluster.fail["restoring maxUnavailable"] = ClientError("restoring maxUnavailable: 403 Forbidden", 403)
    msg, result = failed(engine_for(cluster, rollback_on_failure=False))
    assert msg.endswith(
        "Deployment shop/web is at revision 2 (app=web:2) with 3/3 pods available; rollback_on_failure is "
        "false, so it was left as it is; roll back with kubectl rollout undo (to revision 1) or run again "
        "with a fix"
    )
    assert result["failure"]["reason"] == REASON_API_ERROR
    assert "rolling back on Deployment shop/web" not in cluster.writes


@pytest.mark.parametrize(
    "refused",
    [
        "reading Deployment",  # the first read: a 403 there is the task's whole answer
        "listing the ReplicaSets",
        "applying Deployment",  # the dry run, then the write itself
        "setting the strategy",  # the first write of the rollout
    ],
)
def test_a_client_error_before_anything_is_written_fails_plainly(refused):
    cluster = FakeCluster()
    before = copy.deepcopy(cluster.deployment)
    error = ClientError(f"{refused}: {FORBIDDEN}", 403)
    cluster.fail[refused] = error
    engine = engine_for(cluster)
    with pytest.raises(ClientError) as info:
        engine.run()
    assert info.value is error
    assert cluster.writes == []
    assert cluster.deployment == before
    assert engine.goals == []


def test_a_complete_rollout_whose_state_cannot_be_cleared_is_not_rolled_back():
    cluster = FakeCluster()
    cluster.fail["clearing the rollout state"] = ClientError(f"clearing the rollout state: {FORBIDDEN}", 403)
    msg, result = failed(engine_for(cluster))

    assert msg == (
        f"The rollout is complete, but its state annotation {STATE_ANNOTATION} could not be removed: "
        f"clearing the rollout state: {FORBIDDEN}. Nothing was rolled back. "
        "Deployment shop/web is at revision 2 (app=web:2) with 3/3 pods available. "
        "Run the task again to remove it (a hook that has run is not run again)."
    )
    assert not any(write.startswith("rolling back") for write in cluster.writes)
    assert cluster.deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    assert (result["changed"], result["revision"]) == (True, 2)
    # The state stays for the rerun, which clears it and changes nothing else.
    assert STATE_ANNOTATION in annotations(cluster)
    del cluster.fail["clearing the rollout state"]
    engine_for(cluster).run()
    assert STATE_ANNOTATION not in annotations(cluster)
    assert cluster.deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"


# --- rollout_undo on the same fake: an API error once the rollback is written ---------------


def undo_on(cluster, monkeypatch, wait_error):
    """A DeploymentUndo to the previous revision whose wait raises ``wait_error``."""

    class Waiter:
        def __init__(self, *args):
            pass

        def set_deadline(self, seconds):
            pass

        def wait(self, goal, timeout_seconds, target=1):
            raise wait_error

    monkeypatch.setattr(_undo, "DeploymentWaiter", Waiter)
    request = UndoRequest(
        kind="Deployment",
        namespace="shop",
        name="web",
        to_revision=None,
        wait=True,
        wait_timeout=None,
        timeout_seconds=60,
    )
    return DeploymentUndo(cluster, request, wall_clock=lambda: 0.0)


def test_an_api_error_after_the_undo_is_written_says_it_was_written(monkeypatch):
    cluster = FakeCluster()
    engine_for(cluster).run()  # revision 2 (web:2), so revision 1 (web:1) is the previous one
    error = ClientError(f"while waiting for Deployment shop/web: {FORBIDDEN}", 403)
    undo = undo_on(cluster, monkeypatch, error)

    with pytest.raises(UndoError) as info:
        undo.run()

    assert cluster.deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"
    assert str(info.value) == (
        f"Deployment shop/web was rolled back to revision 1 (now revision 3), but then {error}. The Deployment "
        "controller goes on with the rollback: follow it with kubectl rollout status deployment/web -n shop"
    )
    result = info.value.result
    assert (result["changed"], result["revision"], result["rolled_back_to"]) == (True, 3, 1)
    assert result["failure"] == {"reason": REASON_API_ERROR, "message": str(error)}
    assert [event["event"] for event in result["timeline"]] == ["applied", "failed"]


def test_an_api_error_before_the_undo_is_written_is_the_apis_message(monkeypatch):
    cluster = FakeCluster()
    engine_for(cluster).run()
    error = ClientError(f"rolling back: {FORBIDDEN}", 403)
    cluster.fail["rolling back"] = error
    undo = undo_on(cluster, monkeypatch, AssertionError("no wait without a write"))
    before = copy.deepcopy(cluster.deployment)

    with pytest.raises(ClientError) as info:
        undo.run()

    assert info.value is error
    assert cluster.deployment == before


# --- the strategy recorded on the Deployment, for a task without one (name + images) --------

RECORDED = {
    "type": "Rolling",
    "rollingParams": {
        "maxSurge": 1,
        "maxUnavailable": 1,
        "timeoutSeconds": 120,
        "pre": {"failurePolicy": "Abort", "execNewPod": {"containerName": "app", "command": ["migrate"]}},
        "post": {"failurePolicy": "Ignore", "execNewPod": {"containerName": "app", "command": ["smoke"]}},
    },
}


MISSING_CONTAINER = {"execNewPod": {"containerName": "db", "command": ["migrate"]}}


def recorded_cluster(live_strategy=None):
    cluster = FakeCluster()
    annotations(cluster)[STRATEGY_ANNOTATION] = strategy_annotation(parse_strategy(RECORDED))
    if live_strategy is not None:
        cluster.deployment["spec"]["strategy"] = live_strategy
    return cluster


def planned(engine):
    engine.check_mode = True
    return engine.run()


def test_a_task_without_strategy_runs_the_recorded_one_with_its_hooks():
    result = planned(engine_for(recorded_cluster(), strategy=None))
    assert result["strategy_source"] == "recorded"
    assert [(h["phase"], h["job"]) for h in result["hooks"]] == [
        ("pre", "web-2-hook-pre"),
        ("post", "web-2-hook-post"),
    ]
    assert result["strategy"]["rolling_params"]["timeout_seconds"] == 120


def test_hooks_false_skips_the_recorded_hooks_and_keeps_them_recorded():
    cluster = recorded_cluster()
    recorded = annotations(cluster)[STRATEGY_ANNOTATION]
    assert planned(engine_for(cluster, strategy=None, hooks=False))["hooks"] == []
    engine = engine_for(cluster, strategy=None, hooks=False)
    engine.hook_runner.run = lambda *args, **kwargs: pytest.fail("no hook runs with hooks: false")
    result = engine.run()
    assert (result["changed"], result["hooks"], result["strategy_source"]) == (True, [], "recorded")
    assert annotations(cluster)[STRATEGY_ANNOTATION] == recorded


def test_a_recorded_strategy_another_writer_replaced_in_spec_is_not_followed_and_said():
    result = planned(engine_for(recorded_cluster({"type": "Recreate"}), strategy=None))
    assert result["strategy_source"] == "deployment"
    assert result["hooks"] == []
    assert result["strategy"]["type"] == "Recreate"
    assert any("spec.strategy any more (Recreate)" in warning for warning in result["warnings"])


def test_the_task_strategy_wins_over_the_recorded_one():
    result = planned(engine_for(recorded_cluster()))
    assert (result["strategy_source"], result["hooks"]) == ("task", [])


def test_a_recorded_hook_the_new_template_cannot_run_says_how_to_go_on():
    cluster = recorded_cluster()
    annotations(cluster)[STRATEGY_ANNOTATION] = strategy_annotation(
        parse_strategy({**RECORDED, "rollingParams": {**RECORDED["rollingParams"], "pre": MISSING_CONTAINER}})
    )
    msg = failed(engine_for(cluster, strategy=None))[0]
    assert "hooks: false to roll out without the recorded hooks" in msg
    assert cluster.writes == []


# --- a rollout state brought back by an undo (kubectl's): stale, removed, no change --------


def test_a_stale_rollout_state_is_removed_and_not_resumed_from():
    cluster = FakeCluster()
    engine_for(cluster).run()  # revision 2
    stale = json.dumps({"revision": 1, "next": "post", "run": "old", "strategy": USER_STRATEGY})
    annotations(cluster)[STATE_ANNOTATION] = stale
    writes = len(cluster.writes)
    check = planned(engine_for(cluster, images={"app": "web:2"}))
    assert (check["changed"], check["resumed_from"], cluster.writes[writes:]) == (False, None, [])
    result = engine_for(cluster, images={"app": "web:2"}).run()
    assert (result["changed"], result["resumed_from"], result["hooks"]) == (False, None, [])
    assert cluster.writes[writes:] == ["removing a stale rollout state from Deployment shop/web"]
    assert STATE_ANNOTATION not in annotations(cluster)


# --- which revision the available pods run, in a failure's message ---------------------------


def test_a_failure_left_as_it_is_says_which_revision_the_available_pods_run():
    cluster = FakeCluster()

    def crash():
        old, new = cluster.replica_sets
        old["status"], new["status"] = {"availableReplicas": 3}, {"availableReplicas": 0}
        raise StepFailed(Failure("CrashLoopBackOff", "CrashLoopBackOff: web-h2-x (container app)"))

    msg = failed(engine_for(cluster, {GOAL_CANARY: crash}, rollback_on_failure=False))[0]
    assert (
        "Deployment shop/web is at revision 2 (app=web:2) with 3/3 pods available, all of revision 1 " in msg
    )
    assert "(revision 2 has 0); rollback_on_failure is false" in msg

    cluster.replica_sets[1]["status"] = {"availableReplicas": 1}
    engine = engine_for(cluster)
    assert engine._state_now()[1].endswith("with 3/3 pods available: 1 of revision 2, 3 of revision 1")


def test_while_a_rollback_is_under_way_the_new_pods_are_named_by_their_own_revision():
    """The template is revision 1's again but the Deployment still says 2 (not yet renumbered):
    the pods of the template's ReplicaSet are revision 1's, not 2's."""
    cluster = FakeCluster()
    engine_for(cluster).run()  # revision 2, web:2
    old, new = cluster.replica_sets
    cluster.deployment["spec"]["template"] = copy.deepcopy(old["spec"]["template"])
    old["status"], new["status"] = {"availableReplicas": 1}, {"availableReplicas": 2}
    text = engine_for(cluster)._state_now()[1]
    assert text.endswith("pods available: 1 of revision 1, 2 of revision 2"), text
