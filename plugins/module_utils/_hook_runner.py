# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The one hook runner: create the hook's Job (_hooks.hook_job), watch it and its pod until it
# finishes, read the tail of its log, and apply the failure policy. A Job of the same name
# that already succeeded is not run again, so a rerun after an interruption resumes past the
# hooks that finished. Cleanup follows Helm's before-hook-creation: a phase's previous Jobs
# (older revisions, failed attempts) are deleted when the phase runs again, and the last one
# stays for `kubectl logs`; those of another kind of workload of the same name stay.
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._client import JOBS, MERGE_PATCH, PODS, ClientError, KubeClient, Source, WaitTimeout
from ._hooks import (
    LABEL_DEPLOYMENT,
    LABEL_PHASE,
    JobOutcome,
    hook_job_kind,
    job_outcome,
    log_tail,
    owner_reference,
    same_hook_job,
    with_spec_digest,
)
from ._revisions import owned_by
from ._rollout import Failure
from ._status import mount_problems, pod_problems, summarize_problems, unrecoverable
from ._strategy import Hook
from ._waiter import StepFailed, Timeline, mount_events

JSONDict = Dict[str, Any]
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# Pause between Retry attempts: doubles from the first value up to the last.
RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0)
# How long a deleted Job may take to disappear before a new one of that name is created.
DELETE_WAIT_SECONDS = 60


class HookFailed(Exception):
    """A hook with failurePolicy Abort (or Retry out of time) failed; ``record`` tells how."""

    def __init__(self, message: str, record: JSONDict) -> None:
        super().__init__(message)
        self.record = record


class HookRunner:
    def __init__(
        self,
        client: KubeClient,
        timeline: Timeline,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.timeline = timeline
        self.sleep = sleep

    def run(
        self, job: JSONDict, hook: Hook, phase: str, time_left: Callable[[], Optional[float]]
    ) -> JSONDict:
        """Run the hook Job to its end under ``hook.failure_policy``; the record for the result.

        ``time_left()`` is the rollout's remaining time (None: unbounded); Retry stops when
        it, or the Job's activeDeadlineSeconds counted from the first attempt, runs out.
        Raises HookFailed for Abort, and for Retry out of time.
        """
        job = with_spec_digest(job)
        name = job["metadata"]["name"]
        namespace = job["metadata"]["namespace"]
        record: JSONDict = {
            "phase": phase,
            "job": name,
            "failure_policy": hook.failure_policy,
            "attempts": 0,
            "succeeded": False,
            "skipped": False,
            "exit_code": None,
            "reason": None,
            "log_tail": [],
            "log_error": None,
        }
        # A Job of this name made from this very hook (same pod spec) is this hook's: skipped
        # when it succeeded, waited for when it still runs (a run killed meanwhile started it,
        # and a hook is not started twice). One made from another template is not: it goes.
        existing = self._get(name, namespace)
        adopted: Optional[JSONDict] = None
        if existing is not None and same_hook_job(existing, job):
            outcome = job_outcome(existing, self._pods(existing))
            if outcome.succeeded:
                record.update(succeeded=True, skipped=True, exit_code=0, reason="AlreadySucceeded")
                self.timeline.event("hook_skipped", phase=phase, job=name)
                return record
            if not outcome.done:
                adopted = existing
        if adopted is None:
            self._delete_previous(job)
        started = self.client.clock()
        deadline_seconds = float(job["spec"].get("activeDeadlineSeconds") or 0) or None
        attempt = 0
        while True:
            attempt += 1
            record["attempts"] = attempt
            self.timeline.event(
                "hook_started",
                phase=phase,
                job=name,
                attempt=attempt,
                **({"adopted": True} if adopted else {}),
            )
            outcome = self._run_once(job, time_left(), adopted)
            adopted = None
            record.update(
                succeeded=outcome.succeeded,
                exit_code=outcome.exit_code,
                reason=outcome.reason,
                message=outcome.message,
            )
            record["log_tail"], record["log_error"] = self._log_tail(outcome.pod, namespace)
            self.timeline.event(
                "hook_finished",
                phase=phase,
                job=name,
                succeeded=outcome.succeeded,
                exit_code=outcome.exit_code,
            )
            if outcome.succeeded:
                return record
            description = describe_failure(record)
            if hook.failure_policy == "Ignore":
                record["warning"] = f"{description} (failurePolicy Ignore: the rollout goes on)"
                return record
            if hook.failure_policy == "Retry":
                delay = RETRY_DELAYS_SECONDS[min(attempt - 1, len(RETRY_DELAYS_SECONDS) - 1)]
                left = time_left()
                spent = self.client.clock() - started
                if (left is None or left > delay) and (
                    deadline_seconds is None or spent + delay < deadline_seconds
                ):
                    self.delete(name, namespace)
                    self.sleep(delay)
                    continue
                raise HookFailed(
                    f"{description}; failurePolicy Retry ran out of time after {attempt} attempts", record
                )
            raise HookFailed(description, record)

    def run_job(
        self, job: JSONDict, time_left: Optional[float]
    ) -> Tuple[JobOutcome, List[str], Optional[str]]:
        """One Job created and watched to its end, and the end of its log (with why it could not
        be read): no failure policy and no cleanup of earlier Jobs (an analysis' job metric)."""
        outcome = self._run_once(job, time_left)
        tail, log_error = self._log_tail(outcome.pod, job["metadata"]["namespace"])
        return outcome, tail, log_error

    # --- one attempt ---------------------------------------------------------------------

    def _run_once(
        self, job: JSONDict, time_left: Optional[float], existing: Optional[JSONDict] = None
    ) -> JobOutcome:
        """Create the Job (or follow ``existing``, already running) and watch it to its end."""
        name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
        if existing is None:
            existing = self.client.create(f"creating hook Job {namespace}/{name}", JOBS, namespace, job)
        uid = existing["metadata"]["uid"]
        sources = {
            "job": Source(JOBS, namespace, {"field_selector": f"metadata.name={name}"}),
            "pods": Source(PODS, namespace, {"label_selector": f"{JOB_NAME_LABEL}={name}"}),
            "events": mount_events(namespace),
        }

        def check(state: Dict[str, List[JSONDict]], _now: float) -> Optional[JobOutcome]:
            current = [j for j in state["job"] if j["metadata"].get("uid") == uid]
            pods = [p for p in state["pods"] if owned_by(p, uid)]
            outcome = job_outcome(current[0] if current else None, pods)
            if outcome.done:
                return outcome
            broken = unrecoverable(pod_problems(pods) + mount_problems(state["events"], pods))
            if broken:
                return JobOutcome(
                    True, False, None, broken[0].reason, summarize_problems(broken), outcome.pod
                )
            return None

        active = float(job["spec"].get("activeDeadlineSeconds") or 0) or None
        bounds = [b for b in (time_left, active + 30 if active else None) if b is not None]
        timeout = max(min(bounds), 0.001) if bounds else 7 * 24 * 3600
        try:
            outcome: JobOutcome = self.client.watch_sources(
                sources, check, timeout, f"hook Job {namespace}/{name}"
            )
        except WaitTimeout:
            self.delete(name, namespace)
            return JobOutcome(
                True, False, None, "WaitTimeout", f"the rollout's time ran out after {timeout:g}s", None
            )
        if not outcome.succeeded and outcome.reason in (
            "ImagePullBackOff",
            "ErrImagePull",
            "Unschedulable",
            "FailedMount",
        ):
            self.delete(name, namespace)  # never leave a hook pod running
        return outcome

    # --- reading and cleaning up --------------------------------------------------------

    def _get(self, name: str, namespace: str) -> Optional[JSONDict]:
        return self.client.get(f"reading hook Job {namespace}/{name}", JOBS, namespace, name)

    def _pods(self, job: JSONDict) -> List[JSONDict]:
        pods = self.client.list(
            "listing hook pods",
            PODS,
            job["metadata"]["namespace"],
            label_selector=f"{JOB_NAME_LABEL}={job['metadata']['name']}",
        )
        return [p for p in pods if owned_by(p, job["metadata"].get("uid", ""))]

    def _log_tail(self, pod: Optional[str], namespace: str) -> Tuple[List[str], Optional[str]]:
        """The end of the hook pod's log, and why it could not be read (None when it was).

        A log that cannot be read does not change the hook's outcome (its exit code is in the pod's
        status), but it is said: an empty ``log_tail`` alone would read as a hook that printed nothing.
        """
        if not pod:
            return [], None
        try:
            text = self.client.pod_log(f"reading the log of pod {pod}", namespace, pod, tail_lines=40)
            return log_tail(text), None
        except ClientError as exc:
            return [], str(exc)

    def _delete_previous(self, job: JSONDict) -> None:
        """before-hook-creation: the phase's earlier Jobs (every revision) go before this one runs."""
        labels = job["metadata"]["labels"]
        namespace = job["metadata"]["namespace"]
        selector = f"{LABEL_DEPLOYMENT}={labels[LABEL_DEPLOYMENT]},{LABEL_PHASE}={labels[LABEL_PHASE]}"
        for previous in self.client.list(
            "listing earlier hook Jobs", JOBS, namespace, label_selector=selector
        ):
            if hook_job_kind(previous) != hook_job_kind(job):
                continue  # a Deployment's and a StatefulSet's of the same name keep their Jobs
            self.delete(
                previous["metadata"]["name"],
                namespace,
                wait=previous["metadata"]["name"] == job["metadata"]["name"],
            )
        if self._get(job["metadata"]["name"], namespace) is not None:
            self.delete(job["metadata"]["name"], namespace)

    def own_pre_hooks(self, records: List[JSONDict], workload: JSONDict, warnings: List[str]) -> None:
        """Give the pre hook's Job the owner it could not have when it ran: the workload, created
        by its first rollout after that hook. When that fails, a warning says why: the Job then
        stays until the phase runs again (before-hook-creation deletes it).
        """
        namespace = workload["metadata"]["namespace"]
        reference = owner_reference(workload)
        for record in (r for r in records if r["phase"] == "pre"):
            name = record["job"]

            def attempt(name: str = name) -> None:
                job = self._get(name, namespace)
                if job is None or job["metadata"].get("ownerReferences"):
                    return  # gone, or owned already
                patch = {
                    "metadata": {
                        "resourceVersion": job["metadata"]["resourceVersion"],
                        "ownerReferences": [reference],
                    }
                }
                self.client.patch(
                    f"giving hook Job {namespace}/{name} its owner", JOBS, namespace, name, patch, MERGE_PATCH
                )

            try:
                self.client.retry_on_conflict(attempt, f"owning hook Job {namespace}/{name}")
            except ClientError as exc:
                warnings.append(f"{exc}; the Job stays until the pre hook runs again")

    def delete(self, name: str, namespace: str, wait: bool = True) -> None:
        """Delete a hook Job (its pods in the background); with ``wait``, until its name is free."""
        self.client.delete(
            f"deleting hook Job {namespace}/{name}", JOBS, namespace, name, propagation_policy="Background"
        )
        if not wait:
            return
        try:
            self.client.watch_until(
                JOBS,
                namespace,
                lambda jobs: True if not jobs else None,
                DELETE_WAIT_SECONDS,
                f"hook Job {namespace}/{name} to be deleted",
                field_selector=f"metadata.name={name}",
            )
        except WaitTimeout:
            raise ClientError(
                f"hook Job {namespace}/{name} was not deleted within {DELETE_WAIT_SECONDS}s; "
                "delete it and run again"
            ) from None


def run_hook_step(
    runner: HookRunner,
    job: JSONDict,
    hook: Hook,
    phase: str,
    time_left: Callable[[], Optional[float]],
    records: List[JSONDict],
    warnings: List[str],
) -> JSONDict:
    """Run one hook as a step of a rollout (or undo): its record goes to ``records``, an
    Ignore'd failure to ``warnings``; StepFailed (reason HookFailed) when it aborts."""
    try:
        record = runner.run(job, hook, phase, time_left)
    except HookFailed as failed:
        records.append(failed.record)
        raise StepFailed(Failure("HookFailed", str(failed))) from None
    except ClientError as exc:
        raise StepFailed(Failure("HookFailed", f"{phase} hook: {exc}")) from None
    records.append(record)
    if record.get("warning"):
        warnings.append(record["warning"])
    elif record.get("log_error") and record.get("succeeded"):
        warnings.append(f"{phase} hook {record['job']} succeeded, but {record['log_error']}")
    return record


def describe_failure(record: JSONDict) -> str:
    """One line: which hook failed, how, and the end of its log."""
    text = f"{record['phase']} hook {record['job']} failed"
    if record.get("exit_code") is not None:
        text += f" with exit code {record['exit_code']}"
    elif record.get("reason"):
        text += f": {record['reason']}"
    if record.get("message") and record.get("exit_code") is None:
        text += f" ({record['message']})"
    tail = record.get("log_tail") or []
    if tail:
        text += "; last log lines: " + " | ".join(tail[-5:])
    elif record.get("log_error"):
        text += f"; no log: {record['log_error']}"
    else:
        text += "; no log available"
    return text


__all__ = ["HookFailed", "HookRunner", "describe_failure", "run_hook_step"]
