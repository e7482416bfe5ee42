# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# rollout_undo: kubectl rollout undo as an idempotent task, then a wait for the rollback.
#
#   observe  the Deployment and the ReplicaSets it controls (owner reference, never labels)
#   decide   the target (_revisions.undo_target), kubectl's refusal of a paused Deployment,
#            kubectl's patch, or nothing when the template already matches
#   act      kubectl's JSON patch, guarded by the resourceVersion it was computed from
#            (check mode: the same patch as a server dry run)
#   wait     _waiter.DeploymentWaiter, the rollout module's waiter and failure reasons
#
# The Deployment controller does the rest as for kubectl: it re-labels the ReplicaSet of the
# target with the next revision number and scales it up.
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from ._client import ClientError, KubeClient
from ._revisions import (
    RevisionNotFound,
    find_new_replica_set,
    images_of,
    next_revision,
    revision,
    rollback_patch,
    rollback_refusal,
    undo_target,
)
from ._rollout import FIELD_MANAGER, GOAL_COMPLETE, for_diff, selector_string, without_noise
from ._status import deployment_status
from ._waiter import DeploymentWaiter, StepFailed, Timeline

JSONDict = Dict[str, Any]

JSON_PATCH = "application/json-patch+json"
DEFAULT_TIMEOUT_SECONDS = 600


class UndoInputError(ValueError):
    """The module's options do not describe an undo."""


class UndoError(Exception):
    """The undo was refused or failed; ``result`` is the module result so far (for fail_json)."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class UndoRequest:
    kind: str
    namespace: str
    name: str
    to_revision: Optional[int]
    wait: bool
    wait_timeout: Optional[int]
    timeout_seconds: int


def build_undo_request(params: Dict[str, Any]) -> UndoRequest:
    """The module's options (type-checked by Ansible) as a request; UndoInputError when out of range."""
    to_revision = params.get("to_revision")
    if to_revision is not None and to_revision < 0:
        raise UndoInputError(
            f"to_revision must be 1 or more (or 0 for the previous revision), got {to_revision}"
        )
    wait_timeout = params.get("wait_timeout")
    if wait_timeout is not None and wait_timeout <= 0:
        raise UndoInputError(f"wait_timeout must be more than 0 seconds, got {wait_timeout}")
    timeout_seconds = params.get("timeout_seconds")
    if timeout_seconds is None:
        timeout_seconds = DEFAULT_TIMEOUT_SECONDS
    if timeout_seconds <= 0:
        raise UndoInputError(f"timeout_seconds must be more than 0 seconds, got {timeout_seconds}")
    return UndoRequest(
        kind=str(params.get("kind") or "Deployment"),
        namespace=str(params.get("namespace") or "default"),
        name=str(params["name"]),
        to_revision=to_revision or None,
        wait=bool(params.get("wait", True)),
        wait_timeout=wait_timeout,
        timeout_seconds=int(timeout_seconds),
    )


def images_text(template: JSONDict) -> str:
    """'app=web:1, side=proxy:2': a pod template's images for messages."""
    return ", ".join(f"{name}={image}" for name, image in sorted(images_of(template).items()))


class DeploymentUndo:
    """Rolls one Deployment back; run() returns the module result or raises UndoError."""

    def __init__(
        self,
        client: KubeClient,
        request: UndoRequest,
        check_mode: bool = False,
        diff: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.diff = diff
        self.timeline = Timeline(wall_clock)
        self.what = f"Deployment {request.namespace}/{request.name}"
        self.result: JSONDict = {
            "changed": False,
            "kind": "Deployment",
            "revision": None,
            "previous_revision": None,
            "rolled_back_to": None,
            "deployment": None,
            "timeline": self.timeline.events,
        }

    # --- reading ------------------------------------------------------------------------

    def _get(self) -> Optional[JSONDict]:
        return self.client.call(
            f"reading {self.what}",
            self.client.apps.read_namespaced_deployment,
            self.request.name,
            self.request.namespace,
        )

    def _replica_sets(self, deployment: JSONDict) -> List[JSONDict]:
        listed = self.client.call(
            f"listing the ReplicaSets of {self.what}",
            self.client.apps.list_namespaced_replica_set,
            self.request.namespace,
            label_selector=selector_string(deployment.get("spec", {}).get("selector")),
        )
        return list((listed or {}).get("items", []))

    def _fail(self, message: str, **extra: Any) -> UndoError:
        return UndoError(message, {**self.result, **extra})

    # --- the undo -----------------------------------------------------------------------

    def run(self) -> JSONDict:
        request = self.request
        live = self._get()
        if live is None:
            raise self._fail(f"{self.what} not found")
        replica_sets = self._replica_sets(live)
        current_rs = find_new_replica_set(live, replica_sets)
        previous = revision(live) or (revision(current_rs) if current_rs is not None else 0)
        self.result["previous_revision"] = previous or None
        self.result["revision"] = previous or None
        self.result["deployment"] = without_noise(live)
        try:
            target = undo_target(live, replica_sets, request.to_revision)
        except RevisionNotFound as exc:
            raise self._fail(str(exc), available_revisions=exc.available) from None
        # What was asked for, or kubectl's "previous" resolved to a number.
        self.result["rolled_back_to"] = request.to_revision or revision(target)
        refusal = rollback_refusal(live)
        if refusal is not None:
            raise self._fail(refusal)

        patch = rollback_patch(live, target)
        if patch is None:
            self.timeline.event("unchanged", revision=previous)
            if request.wait and not self.check_mode and not deployment_status(live).done:
                self._wait(live, unchanged=True)
                live = self._get() or live
            self._set_diff(live, live)
            self.result["deployment"] = without_noise(live)
            return self.result

        planned = next_revision(
            {**live, "spec": {**live["spec"], "template": target["spec"]["template"]}}, replica_sets
        )
        self.result["changed"] = True
        self.result["revision"] = planned
        if self.check_mode:
            after = self._send(live, patch, dry_run=True)
            self._set_diff(live, after)
            self.result["deployment"] = without_noise(after)
            return self.result

        written = self.client.retry_on_conflict(lambda: self._roll_back(target), "rollback")
        self.timeline.event(
            "applied",
            to_revision=revision(target),
            revision=planned,
            images=images_of(target["spec"]["template"]),
        )
        self._set_diff(live, written)
        self.result["deployment"] = without_noise(written)
        if request.wait:
            self._wait(written)
            final = self._get()
            if final is not None:
                self.result["deployment"] = without_noise(final)
                self.result["revision"] = revision(final) or planned
        return self.result

    def _roll_back(self, target: JSONDict) -> JSONDict:
        """One attempt: re-read, re-check, send kubectl's patch guarded by the read's resourceVersion."""
        live = self._get()
        if live is None:
            raise self._fail(f"{self.what} was deleted")
        refusal = rollback_refusal(live)
        if refusal is not None:
            raise self._fail(refusal)
        patch = rollback_patch(live, target)
        if patch is None:  # someone else rolled it back in between
            return live
        return self._send(live, patch, dry_run=False)

    def _send(self, live: JSONDict, patch: List[JSONDict], dry_run: bool) -> JSONDict:
        version = live["metadata"]["resourceVersion"]
        operations = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}, *patch]
        kwargs: JSONDict = {"dry_run": "All"} if dry_run else {}
        try:
            written = self.client.call(
                f"rolling back {self.what}",
                self.client.apps.patch_namespaced_deployment,
                self.request.name,
                self.request.namespace,
                operations,
                field_manager=FIELD_MANAGER,
                _content_type=JSON_PATCH,
                **kwargs,
            )
        except ClientError as exc:
            # A failed JSON patch "test" is a 422 with no detail: a moved resourceVersion
            # means a concurrent write, which retry_on_conflict retries from a fresh read.
            if exc.status == 422 and self._moved(version):
                raise ClientError(f"{exc} (the Deployment changed meanwhile)", 409) from None
            raise
        if written is None:
            raise self._fail(f"{self.what} was deleted")
        return written

    def _moved(self, version: str) -> bool:
        now = self._get()
        return now is None or now["metadata"].get("resourceVersion") != version

    def _wait(self, deployment: JSONDict, unchanged: bool = False) -> None:
        request = self.request
        waiter = DeploymentWaiter(self.client, request.namespace, request.name, self.timeline)
        waiter.set_deadline(request.wait_timeout)
        try:
            waiter.wait(GOAL_COMPLETE, request.timeout_seconds)
        except StepFailed as failed:
            failure = failed.failure
            self.timeline.event("failed", reason=failure.reason, message=failure.message)
            detail = (
                failure.message
                if failure.message.startswith(failure.reason)
                else (f"{failure.reason}: {failure.message}")
            )
            now = self._get()
            if unchanged:
                message = (
                    f"{self.what} already has the template of revision {self.result['rolled_back_to']}, "
                    f"but its rollout does not complete: {detail}"
                )
            else:
                message = (
                    f"rollback of {self.what} to revision {self.result['rolled_back_to']} "
                    f"(now revision {revision(now or deployment) or self.result['revision']}) "
                    f"did not complete: {detail}"
                )
            raise self._fail(
                message,
                failure={"reason": failure.reason, "message": failure.message},
                deployment=without_noise(now),
            ) from None
        self.timeline.event("complete")

    def _set_diff(self, before: JSONDict, after: JSONDict) -> None:
        if self.diff:
            self.result["diff"] = {"before": for_diff(before), "after": for_diff(after)}


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "DeploymentUndo",
    "UndoError",
    "UndoInputError",
    "UndoRequest",
    "build_undo_request",
    "images_text",
]
