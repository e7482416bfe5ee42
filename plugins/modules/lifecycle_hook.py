#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: lifecycle_hook
short_description: Run one DeploymentConfig-style lifecycle hook for an existing Deployment
version_added: 0.1.0
description:
  - Runs one lifecycle hook, as a DeploymentConfig's C(pre), C(mid) or C(post) hook, for an existing
    Deployment, outside a rollout. This is for roles that put their own steps between phases
    (see O(openrollout.k8s.rollout#module:stop_before)) and for ad-hoc runs, for example a
    migration run again by hand.
  - It uses the same machinery as the hooks of M(openrollout.k8s.rollout). The hook runs as a Job
    named C(<deployment>-<revision>-hook-<phase>). Its pod is built from the named container of the
    Deployment's B(current) pod template, with its image, env (the hook's env wins), envFrom,
    workingDir, resources and securityContext, and only the volumes the hook lists. It takes the
    pod template's pull secrets, node selector, tolerations, service account, pod security context
    and priority class, but never the template's labels. It gets C(OPENROLLOUT_DEPLOYMENT_NAME),
    C(OPENROLLOUT_DEPLOYMENT_NAMESPACE), C(OPENROLLOUT_DEPLOYMENT_REVISION),
    C(OPENSHIFT_DEPLOYMENT_NAME) and C(OPENSHIFT_DEPLOYMENT_NAMESPACE).
  - The Job is labelled C(openrollout.k8s/deployment), C(openrollout.k8s/hook) (the phase) and
    C(openrollout.k8s/revision), and is owned by the Deployment, so it is garbage-collected with it.
  - The hook's C(failurePolicy) applies. V(Abort) fails the task. V(Retry) runs the hook again, with
    pauses of 1, 2, 4, 8 and then 15 seconds, until it succeeds or O(active_deadline_seconds) or
    O(timeout) runs out. V(Ignore) reports the failure as a warning and the task succeeds.
  - The exit code and the last lines of the hook's log are in the result, and in C(msg) on failure.
    Where the cluster serves no logs, the exit code is reported alone.
  - Cleanup is Helm's C(before-hook-creation), as in M(openrollout.k8s.rollout). Before the hook runs,
    the Jobs of the same Deployment and phase (any revision) are deleted. The last Job stays, so
    C(kubectl logs) can read it.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The result has the Job that would be created (RV(definition)) and the hook as C(planned).
        Nothing is created or deleted.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - When a Job of the same name has already succeeded, the hook is not run again and the task
        reports C(changed=false), with C(skipped=true) in RV(hook). A failed Job does not count, so a
        failed hook runs again. O(force=true) runs a hook that has already succeeded again.
options:
  name:
    description:
      - Name of the Deployment.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the Deployment.
    type: str
    default: default
  hook:
    description:
      - The hook, in DeploymentConfig's form. A C(pre), C(mid) or C(post) block of a DeploymentConfig
        strategy can be pasted as it is (camelCase), or written in snake_case.
      - C(failurePolicy) (or C(failure_policy)) is V(Abort) (the default), V(Retry) or V(Ignore).
      - C(execNewPod) (or C(exec_new_pod)) is required. It takes C(containerName), the container of
        the pod template whose image and settings the hook pod takes; C(command), a list of strings;
        C(env), a list of C({name, value}) or C({name, valueFrom}) entries, which win over the
        container's; C(volumes), names of pod template volumes that the hook pod gets, with the
        container's mounts of them; and C(automountServiceAccountToken) (default V(false)); the hook
        pod mounts a service account token only when it is V(true).
      - C(tagImages) hooks are refused, because there are no image streams on Kubernetes.
    type: dict
    required: true
  phase:
    description:
      - The name of the hook's phase. It is part of the Job's name and its C(openrollout.k8s/hook)
        label.
      - V(pre), V(mid) and V(post) give the Job the name M(openrollout.k8s.rollout) gives that hook.
        So a hook run here for a revision is not run again by a rollout to that revision with the
        same hook, and the other way round. For example, a role can stop a Recreate rollout before
        C(mid), run its C(mid) hook with this module, and let the rollout go on.
      - The default, V(manual), keeps the Jobs of this module apart from the rollout's. Any other
        short name works too. It must be lowercase letters, digits and C(-), start with a letter,
        end with a letter or digit, and have at most 20 characters.
      - Cleanup is per phase, so running a phase deletes that phase's earlier Jobs, the rollout's
        included.
    type: str
    default: manual
  revision:
    description:
      - The revision the hook is for. It names the Job and is passed to the hook as
        C(OPENROLLOUT_DEPLOYMENT_REVISION) and in C(OPENSHIFT_DEPLOYMENT_NAME).
      - By default, the Deployment's current revision (its C(deployment.kubernetes.io/revision)
        annotation), or 1 when the controller has not numbered it yet.
      - The hook pod is always built from the Deployment's current pod template. Another revision
        gives a warning saying so.
    type: int
  labels:
    description:
      - Labels added to the hook Job and its pod, like a DeploymentConfig strategy's C(labels).
      - The C(openrollout.k8s/*) labels cannot be overridden.
    type: dict
    default: {}
  annotations:
    description:
      - Annotations added to the hook Job and its pod, like a DeploymentConfig strategy's C(annotations).
    type: dict
    default: {}
  active_deadline_seconds:
    description:
      - The Job's C(activeDeadlineSeconds), after which Kubernetes stops the hook pod. With
        C(failurePolicy=Retry), it also bounds all attempts together, counted from the first.
    type: int
    default: 21600
  timeout:
    description:
      - Longest time in seconds for the task. When it runs out, the hook's Job is deleted and the
        hook counts as failed (C(reason=WaitTimeout)), under its C(failurePolicy).
      - By default the task waits as long as O(active_deadline_seconds) allows.
    type: int
  force:
    description:
      - Run the hook even if a Job of the same name has already succeeded. That Job is deleted
        first.
    type: bool
    default: false
notes:
  - The hook runs with the Deployment's template as it is when the task starts, whether or not the
    Deployment is in the middle of a rollout.
seealso:
  - module: openrollout.k8s.rollout
    description: Runs the C(pre), C(mid) and C(post) hooks of a strategy during a rollout.
  - name: Lifecycle hooks in OpenShift
    description: The DeploymentConfig hooks whose semantics this module keeps.
    link: https://docs.openshift.com/container-platform/4.14/applications/deployments/deployment-strategies.html
"""

EXAMPLES = r"""
- name: Run the database migration of the current revision (once; a rerun does nothing)
  openrollout.k8s.lifecycle_hook:
    name: web
    namespace: shop
    hook:
      failurePolicy: Abort
      execNewPod:
        containerName: app
        command: [/app/manage, migrate]
        env:
          - name: DATABASE_PASSWORD
            valueFrom:
              secretKeyRef: {name: db, key: password}
  register: migration

- name: Show the end of its log
  ansible.builtin.debug:
    var: migration.hook.log_tail

- name: A Recreate rollout stopped where nothing of the app runs
  openrollout.k8s.rollout:
    name: db-app
    namespace: shop
    images: {app: "registry.example/db-app:2"}
    strategy: {type: Recreate}
    stop_before: mid

- name: The mid hook, run by the role itself, named as the rollout names it (db-app-2-hook-mid)
  openrollout.k8s.lifecycle_hook:
    name: db-app
    namespace: shop
    phase: mid
    hook:
      execNewPod: {containerName: app, command: [/app/manage, migrate]}

- name: Go on with the rollout
  openrollout.k8s.rollout:
    name: db-app
    namespace: shop
    images: {app: "registry.example/db-app:2"}
    strategy: {type: Recreate}

- name: Run a smoke test again, even though it passed before; only warn if it fails
  openrollout.k8s.lifecycle_hook:
    name: web
    namespace: shop
    phase: smoke
    force: true
    timeout: 300
    labels: {team: shop}
    hook:
      failure_policy: Ignore
      exec_new_pod:
        container_name: app
        command: [/app/smoke-test]
"""

RETURN = r"""
hook:
  description:
    - What the hook did. C(phase), C(job) (the Job's name), C(failure_policy), C(attempts), C(succeeded),
      C(skipped) (a Job of that name had already succeeded, so the hook did not run again),
      C(exit_code), C(reason), C(log_tail) (the last lines of its log) and C(log_error) (why the log
      could not be read, for example an unreachable kubelet or no C(get) on C(pods/log); null when it
      was read). A failure has C(message), and one ignored with failurePolicy Ignore has C(warning).
    - In check mode, C(phase), C(job), C(failure_policy) and C(planned=true), or the same record as a
      real run when the hook would be skipped.
  returned: always
  type: dict
  sample: {phase: manual, job: web-3-hook-manual, failure_policy: Abort, attempts: 1, succeeded: true,
           skipped: false, exit_code: 0, reason: Completed, message: "", log_tail: ["migrations complete"]}
definition:
  description:
    - The hook Job built from the Deployment's current pod template. It is the Job created, or in
      check mode the Job that would be created.
  returned: success or hook failure
  type: dict
revision:
  description: The revision the hook ran for.
  returned: success or hook failure
  type: int
  sample: 3
timeline:
  description:
    - Timestamped events. C(hook_job_deleted) (with O(force)), C(hook_started) and C(hook_finished)
      (once per attempt), or C(hook_skipped). Empty in check mode.
  returned: always
  type: list
  elements: dict
  sample:
    - {time: "2026-11-23T10:00:00.120+00:00", event: hook_started, phase: manual, job: web-3-hook-manual, attempt: 1}
    - {time: "2026-11-23T10:00:02.410+00:00", event: hook_finished, phase: manual, job: web-3-hook-manual,
       succeeded: true, exit_code: 0}
"""

import copy
import re
from typing import Any, Callable, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    ArgSpec,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    DEPLOYMENTS,
    JOBS,
    KubeClient,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._hook_runner import (
    HookFailed,
    HookRunner,
    describe_failure,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._hooks import hook_job, job_outcome
from ansible_collections.openrollout.k8s.plugins.module_utils._module import Connect, run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._revisions import revision as revision_of
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import (
    DEFAULT_ACTIVE_DEADLINE_SECONDS,
    RECREATE_MAX_SURGE,
    RECREATE_MAX_UNAVAILABLE,
    STRATEGY_RECREATE,
    Hook,
    Strategy,
    StrategyError,
    parse_hook,
    validate_hook_against_template,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import Timeline

JSONDict = Dict[str, Any]

DEFAULT_PHASE = "manual"
# Short enough that the Job name keeps most of the Deployment's name (63 characters in all),
# and a valid label value and DNS label part.
PHASE_PATTERN = re.compile(r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$")

LIFECYCLE_HOOK_ARG_SPEC: ArgSpec = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "hook": {"type": "dict", "required": True},
    "phase": {"type": "str", "default": DEFAULT_PHASE},
    "revision": {"type": "int"},
    "labels": {"type": "dict", "default": {}},
    "annotations": {"type": "dict", "default": {}},
    "active_deadline_seconds": {"type": "int", "default": DEFAULT_ACTIVE_DEADLINE_SECONDS},
    "timeout": {"type": "int"},
    "force": {"type": "bool", "default": False},
}


class HookInputError(Exception):
    """The task's options cannot run a hook; the message says which option and why."""


class HookTaskFailed(Exception):
    """The hook ran and failed (Abort, or Retry out of time); ``result`` is the task's result."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


# --- pure: options to a hook and the Job that runs it ---------------------------------


def check_phase(phase: str) -> str:
    if not PHASE_PATTERN.match(phase or ""):
        raise HookInputError(
            f"phase {phase!r} is not a valid phase name: use lowercase letters, digits and '-', "
            "starting with a letter and ending with a letter or digit, at most 20 characters "
            "(pre, mid, post, or a name of your own such as manual or smoke)"
        )
    return phase


def _string_map(value: Any, option: str) -> Dict[str, str]:
    if not isinstance(value, dict):
        raise HookInputError(f"{option} must be a dict of strings")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise HookInputError(f"{option}: keys must be non-empty strings, got {key!r}")
        if not isinstance(item, str):
            raise HookInputError(f"{option}.{key} must be a string, got {item!r} (quote it in YAML)")
    return dict(value)


def hook_strategy(params: JSONDict, phase: str, hook: Hook) -> Strategy:
    """What hook_job reads from a rollout's strategy (labels, annotations, deadline), from the options."""
    deadline = params.get("active_deadline_seconds")
    if deadline is None:
        deadline = DEFAULT_ACTIVE_DEADLINE_SECONDS
    if deadline < 1:
        raise HookInputError(f"active_deadline_seconds must be greater than 0, got {deadline}")
    return Strategy(
        type=STRATEGY_RECREATE,
        max_surge=RECREATE_MAX_SURGE,
        max_unavailable=RECREATE_MAX_UNAVAILABLE,
        timeout_seconds=deadline,
        interval_seconds=None,
        update_period_seconds=None,
        hooks={phase: hook},
        custom=None,
        labels=_string_map(params.get("labels") or {}, "labels"),
        annotations=_string_map(params.get("annotations") or {}, "annotations"),
        active_deadline_seconds=deadline,
    )


def parse_task_hook(raw: Any) -> Hook:
    """The hook option, parsed as a strategy's hook; it must run a pod."""
    try:
        hook = parse_hook(raw, "hook")
    except StrategyError as exc:
        raise HookInputError(str(exc)) from None
    if hook.exec_new_pod is None:
        raise HookInputError(
            "hook: tagImages is not supported (there are no image streams on Kubernetes); "
            "give execNewPod, the pod the hook runs"
        )
    return hook


def build_hook_job(deployment: JSONDict, params: JSONDict) -> tuple[Hook, int, JSONDict, List[str]]:
    """The hook, the revision, the Job built from the deployment's current template, and warnings."""
    phase = check_phase(params["phase"])
    hook = parse_task_hook(params["hook"])
    strategy = hook_strategy(params, phase, hook)
    template = deployment.get("spec", {}).get("template") or {}
    try:
        validate_hook_against_template(hook, template, "hook")
    except StrategyError as exc:
        raise HookInputError(str(exc)) from None
    current = revision_of(deployment)
    warnings: List[str] = []
    revision = params.get("revision")
    if revision is None:
        revision = current or 1
    elif revision < 1:
        raise HookInputError(f"revision must be greater than 0, got {revision}")
    elif current and revision != current:
        warnings.append(
            f"revision {revision} is not the Deployment's current revision {current}: the hook pod "
            f"is built from the current pod template (revision {current}), not from revision {revision}'s"
        )
    metadata = deployment.get("metadata") or {}
    status = deployment.get("status") or {}
    if params.get("revision") is None and status.get("observedGeneration", 0) < metadata.get("generation", 0):
        warnings.append(
            "the Deployment controller has not yet observed the Deployment's latest change: its "
            "revision annotation may not be that of the current pod template"
        )
    return hook, revision, hook_job(deployment, hook, phase, revision, strategy), warnings


def skipped_record(phase: str, job: str, hook: Hook) -> JSONDict:
    """The runner's record for a hook whose Job already succeeded (what check mode predicts)."""
    return {
        "phase": phase,
        "job": job,
        "failure_policy": hook.failure_policy,
        "attempts": 0,
        "succeeded": True,
        "skipped": True,
        "exit_code": 0,
        "reason": "AlreadySucceeded",
        "log_tail": [],
        "log_error": None,
    }


# --- edge: read, delete, run ----------------------------------------------------------


class LifecycleHook:
    """One hook for one Deployment: observe, decide (skip, run, force), act, report."""

    def __init__(self, client: KubeClient, params: JSONDict, check_mode: bool) -> None:
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.timeline = Timeline()

    def run(self) -> JSONDict:
        name, namespace = self.params["name"], self.params["namespace"]
        time_left = self._time_left()  # the task's time counts from here
        deployment = self.client.get(f"reading Deployment {namespace}/{name}", DEPLOYMENTS, namespace, name)
        if deployment is None:
            raise HookInputError(self.client.not_found(f"Deployment {namespace}/{name}", namespace))
        hook, revision, job, warnings = build_hook_job(deployment, self.params)
        phase = self.params["phase"]
        job_name = job["metadata"]["name"]
        result: JSONDict = {
            "revision": revision,
            "definition": job,
            "timeline": self.timeline.events,
            "warnings": warnings,
        }

        existing = self._read_job(job_name, namespace)
        done = existing is not None and job_outcome(existing, []).succeeded
        if self.check_mode:
            if done and not self.params["force"]:
                return dict(result, changed=False, hook=skipped_record(phase, job_name, hook))
            planned = {
                "phase": phase,
                "job": job_name,
                "failure_policy": hook.failure_policy,
                "planned": True,
            }
            return dict(result, changed=True, hook=planned)

        runner = HookRunner(self.client, self.timeline)
        if existing is not None and self.params["force"]:
            runner.delete(job_name, namespace)
            self.timeline.event("hook_job_deleted", phase=phase, job=job_name, reason="force")
        try:
            record = runner.run(job, hook, phase, time_left)
        except HookFailed as failed:
            raise HookTaskFailed(str(failed), dict(result, changed=True, hook=failed.record)) from None
        if record.get("warning"):
            # The runner speaks of a rollout; here the task goes on.
            record["warning"] = f"{describe_failure(record)} (failurePolicy Ignore: the task succeeds)"
            warnings.append(record["warning"])
        return dict(result, changed=not record["skipped"], hook=record)

    def _time_left(self) -> Callable[[], Optional[float]]:
        timeout = self.params.get("timeout")
        if timeout is None:
            return lambda: None
        if timeout < 1:
            raise HookInputError(f"timeout must be greater than 0, got {timeout}")
        deadline = self.client.clock() + timeout
        return lambda: max(deadline - self.client.clock(), 0.0)

    def _read_job(self, name: str, namespace: str) -> Optional[JSONDict]:
        return self.client.get(f"reading hook Job {namespace}/{name}", JOBS, namespace, name)


def run(module: AnsibleModule, connect: Connect) -> JSONDict:
    return LifecycleHook(connect(), copy.deepcopy(module.params), module.check_mode).run()


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, LIFECYCLE_HOOK_ARG_SPEC),
        supports_check_mode=True,
    )
    run_module(module, run, errors=(HookTaskFailed, HookInputError))


if __name__ == "__main__":
    main()
