#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_control
short_description: Pause, resume, restart, retry or cancel a rollout
version_added: 0.1.0
description:
  - The C(kubectl rollout pause|resume|restart) and C(oc rollout retry|cancel) verbs as one
    module, with one O(action) per task. They share their options, their result and their wait,
    so one module with an O(action) keeps a playbook that uses several of them short, as
    C(ansible.builtin.service) does with C(state).
  - V(pause) sets C(spec.paused) on a Deployment, as C(kubectl rollout pause). Template changes
    made while paused do not roll out. A paused Deployment gives C(changed=false).
  - V(resume) clears C(spec.paused), as C(kubectl rollout resume). A template changed while
    paused rolls out then, and with O(wait) the module waits until it is complete. A Deployment
    that is not paused gives C(changed=false).
  - V(restart) sets the pod-template annotation C(kubectl.kubernetes.io/restartedAt) to the
    current time, as C(kubectl rollout restart). That is a new revision, and all pods are
    replaced by the workload's own update strategy. It works for Deployments, StatefulSets and
    DaemonSets. It always reports C(changed=true), since a restart is asked for each time. A
    paused Deployment is refused, as kubectl refuses it.
  - V(retry) runs a failed Deployment rollout again, without a new revision, like
    C(oc rollout retry) for a DeploymentConfig. A rollout has failed when the controller
    reports C(ProgressDeadlineExceeded), or when pods of the new revision show a reason that
    waiting does not cure (C(CrashLoopBackOff), C(ImagePullBackOff), C(Unschedulable) ...). The
    module deletes the new revision's pods that are not ready, so the ReplicaSet makes fresh ones
    with no back-off left. After C(ProgressDeadlineExceeded), it also restarts the controller's
    progress check. It sets C(progressDeadlineSeconds) to 2147483647 (no deadline), which makes
    the controller remove the condition, then puts the original value back, which makes the
    controller start a new deadline from now. A rollout that has not failed gives
    C(changed=false).
  - V(cancel) stops a Deployment rollout that is not complete and goes back to the last complete
    revision, like C(oc rollout cancel). The rollback is C(kubectl rollout undo)'s, as in
    M(openrollout.k8s.rollout_undo). The last complete revision is the old revision with the
    most available pods, because the revision that served before the rollout keeps its pods while
    the rollout runs. When no old pod is available, for example with the Recreate strategy, it is
    the previous revision. A Deployment whose rollout is complete gives C(changed=false).
  - Every write is guarded by the resourceVersion it was computed from, and a conflict is retried
    from a fresh read.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - V(pause), V(resume) and V(restart) are sent as a server dry run. V(retry) returns the pods it
        would recreate. V(cancel) returns the revision it would go back to. Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The workload's metadata and spec before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: partial
    details:
      - V(pause), V(resume), V(retry) and V(cancel) change nothing the second time.
      - V(restart) makes a new revision each time it runs.
options:
  action:
    description:
      - What to do. See the description.
      - V(pause), V(resume), V(retry) and V(cancel) are for Deployments. V(restart) is for every kind.
    type: str
    required: true
    choices: [pause, resume, restart, retry, cancel]
  name:
    description:
      - Name of the workload.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the workload.
    type: str
    default: default
  kind:
    description:
      - The kind of workload.
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  wait:
    description:
      - After V(resume), V(restart), V(retry) and V(cancel), wait until the rollout is complete, by
        kubectl's done-test. It fails at once on C(ProgressDeadlineExceeded) or on a pod reason
        that waiting does not cure, and after O(timeout_seconds) without progress.
      - V(pause) does not wait.
    type: bool
    default: true
  wait_timeout:
    description:
      - Longest time in seconds for the whole wait. When it runs out, the task fails with reason
        C(WaitTimeout).
      - By default there is no overall limit. The wait is bounded by O(timeout_seconds) of no progress.
    type: int
  timeout_seconds:
    description:
      - How long the rollout may go without progress before the task fails with reason C(Timeout).
    type: int
    default: 600
notes:
  - V(retry) needs permission to delete pods, V(cancel) the same permissions as M(openrollout.k8s.rollout_undo).
  - V(retry) leaves C(progressDeadlineSeconds) at 2147483647 for the time of one controller sync. If
    the module is killed in between, put the value back (the result's C(progress_deadline_seconds)
    says which it was).
  - V(cancel) with O(wait=false) returns while the rollback is running. A second V(cancel) at that
    moment would cancel the rollback itself. Let the first one finish.
seealso:
  - module: openrollout.k8s.rollout_undo
    description: Roll back to a chosen revision.
  - module: openrollout.k8s.rollout_info
    description: The status and history of a rollout.
  - name: oc rollout retry
    description: The OpenShift command V(retry) follows.
    link: https://docs.openshift.com/container-platform/4.14/cli_reference/openshift_cli/developer-cli-commands.html#oc-rollout-retry
"""

EXAMPLES = r"""
- name: Pause, change several things, resume once (one rollout)
  block:
    - name: Pause
      openrollout.k8s.rollout_control:
        action: pause
        name: web
        namespace: shop

    - name: Change the image and the resources (nothing rolls out yet)
      kubernetes.core.k8s:
        src: files/web.yml

    - name: Resume, and wait for the rollout
      openrollout.k8s.rollout_control:
        action: resume
        name: web
        namespace: shop

- name: Restart the pods of a DaemonSet
  openrollout.k8s.rollout_control:
    action: restart
    kind: DaemonSet
    name: node-agent
    namespace: monitoring

- name: Retry a rollout that exceeded its progress deadline (the image is pushed now)
  openrollout.k8s.rollout_control:
    action: retry
    name: web
    namespace: shop

- name: Stop a rollout and go back to what ran before
  openrollout.k8s.rollout_control:
    action: cancel
    name: web
    namespace: shop
"""

RETURN = r"""
action:
  description: The action.
  returned: always
  type: str
  sample: restart
kind:
  description: The kind of workload.
  returned: always
  type: str
  sample: Deployment
revision:
  description:
    - The workload's revision at the end. In check mode, the revision the action would lead to.
  returned: always
  type: int
  sample: 4
previous_revision:
  description: The workload's revision before the task.
  returned: always
  type: int
  sample: 3
paused:
  description: Whether the Deployment is paused at the end.
  returned: for a Deployment
  type: bool
deployment:
  description: The Deployment at the end, without C(managedFields).
  returned: for a Deployment
  type: dict
workload:
  description: The StatefulSet or DaemonSet at the end, without C(managedFields).
  returned: for a StatefulSet or DaemonSet
  type: dict
restarted_at:
  description: The C(kubectl.kubernetes.io/restartedAt) value written.
  returned: for restart
  type: str
  sample: "2026-11-23T10:00:00Z"
retried:
  description: Whether there was a failed rollout to retry.
  returned: for retry
  type: bool
failure_reason:
  description: Why the rollout had failed, C(ProgressDeadlineExceeded) or a pod reason.
  returned: for retry
  type: str
  sample: ProgressDeadlineExceeded
recreated_pods:
  description: The pods of the new revision that were deleted to be made again (in check mode, that would be).
  returned: for retry
  type: list
  elements: str
progress_deadline_restarted:
  description: Whether the controller's progress deadline was restarted.
  returned: for retry
  type: bool
progress_deadline_seconds:
  description: The Deployment's C(progressDeadlineSeconds), put back after the restart of the deadline.
  returned: when the progress deadline was restarted
  type: int
  sample: 600
cancelled:
  description: Whether a rollout in progress was cancelled.
  returned: for cancel
  type: bool
cancelled_revision:
  description: The revision whose rollout was cancelled.
  returned: when a rollout was cancelled
  type: int
rolled_back_to:
  description: The revision the cancel went back to.
  returned: when a rollout was cancelled
  type: int
message:
  description: Why nothing was done, for retry and cancel.
  returned: when retry or cancel found nothing to do
  type: str
  sample: 'nothing to retry: deployment "web" successfully rolled out'
timeline:
  description:
    - Timestamped events. C(paused), C(resumed), C(restarted), C(pods_recreated),
      C(progress_deadline_restarted), C(applied) (the rollback of a cancel), C(replicas), C(complete)
      and C(failed).
  returned: always
  type: list
  elements: dict
failure:
  description: Why the wait failed.
  returned: when the wait fails
  type: dict
  sample: {reason: ProgressDeadlineExceeded, message: 'deployment "web" exceeded its progress deadline'}
diff:
  description: The workload's metadata and spec before and after.
  returned: in diff mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._control import (
    DEFAULT_TIMEOUT_SECONDS,
    ControlError,
    ControlInputError,
    RolloutControl,
    build_control_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._controls import ACTIONS
from ansible_collections.openrollout.k8s.plugins.module_utils._module import run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._workloads import DEPLOYMENT, KINDS

CONTROL_ARG_SPEC = {
    "action": {"type": "str", "required": True, "choices": list(ACTIONS)},
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "kind": {"type": "str", "choices": list(KINDS), "default": DEPLOYMENT},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int"},
    "timeout_seconds": {"type": "int", "default": DEFAULT_TIMEOUT_SECONDS},
}


def run(module, connect):
    request = build_control_request(module.params)
    return RolloutControl(connect(), request, module.check_mode, module._diff).run()


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, CONTROL_ARG_SPEC),
        supports_check_mode=True,
    )
    run_module(module, run, errors=(ControlError, ControlInputError))


if __name__ == "__main__":
    main()
