#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_undo
short_description: Roll a Deployment, StatefulSet or DaemonSet back to an earlier revision, as kubectl rollout undo does
version_added: 0.1.0
description:
  - Rolls a Deployment, StatefulSet or DaemonSet back to O(to_revision), or to the previous
    revision, and waits until the rollback is complete.
  - The result on the cluster is the one C(kubectl rollout undo --to-revision=N) gives. The pod
    template of the revision's ReplicaSet comes back without its C(pod-template-hash) label. The
    Deployment's annotations become the ReplicaSet's, so the change-cause recorded with that
    revision comes back too. The annotations on kubectl's skip list stay as they are (the
    last-applied configuration and the controller's revision bookkeeping). The controller then
    gives that ReplicaSet the next revision number, as for kubectl.
  - The revisions of a Deployment are the ReplicaSets it controls, found by owner reference,
    never by labels alone.
  - The revisions of a StatefulSet or DaemonSet are the ControllerRevisions it controls. As
    kubectl does, the module patches the workload with the revision's stored data (a strategic
    merge patch that replaces the whole pod template). The workload's annotations are not
    touched. Before that, the module notes the revision's number on the ControllerRevision in
    the C(openrollout.k8s/revision-history) annotation, because the controller renumbers it; see
    the C(idempotent) attribute.
  - The previous revision is the second-highest revision number, kubectl's rule, and not the
    current one minus one. With revisions 1, 2 and 4, the previous one is 2.
  - When the Deployment already has the template of the revision, nothing is written and the
    task reports no change.
  - A paused Deployment is refused, as kubectl refuses it.
  - For a Deployment, the wait is the one of M(openrollout.k8s.rollout). It watches the
    Deployment, its ReplicaSets and its pods, with kubectl's done-test. For a StatefulSet or
    DaemonSet, it watches the workload, its ControllerRevisions and its pods, with kubectl's
    done-test for that kind (partitions honoured). Either fails at once on
    C(ProgressDeadlineExceeded) (Deployments) or on a pod reason of the new revision that
    waiting does not cure (C(CrashLoopBackOff), C(ImagePullBackOff), C(Unschedulable) ...), and
    after O(timeout_seconds) without progress.
  - A StatefulSet or DaemonSet with updateStrategy C(OnDelete) is rolled back but not waited
    for, with a warning. Its pods take the template only when they are deleted.
  - A StatefulSet stuck on a broken revision (its new pod in C(CrashLoopBackOff) or
    C(ImagePullBackOff)) does not roll back by its template alone. Its controller waits for that
    pod to be Running and Ready before it replaces anything, which never happens (the Kubernetes
    documentation's "Forced rollback", kubernetes/kubernetes#67250). C(kubectl rollout undo)
    leaves it stuck. With O(replace_unready_pods=true), the default, this module deletes those
    pods once the template is back, and the controller makes them again from the restored
    revision.
  - The write is guarded by the resourceVersion it was computed from. A concurrent change
    makes the module read again and recompute.
  - For a Deployment, the lifecycle hooks recorded with the revisions run (O(hooks)).
    M(openrollout.k8s.rollout) records its strategy in the Deployment's C(openrollout.k8s/strategy)
    annotation, which the controller copies to each revision's ReplicaSet and kubectl's undo copies
    back. The revision left behind runs its C(rollback) hook, from its own template, before anything
    changes. The revision gone back to runs its C(pre) hook before the patch and its C(post) hook
    once the rollback is complete, from its own template, as when it was rolled out. A C(mid) hook
    is not run (the controller rolls the undo out alone), with a warning.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The patch is sent as a server dry run. The result has the revision the rollback would get and
        the Deployment as it would be. Nothing is written.
      - For a StatefulSet, RV(deleted_pods) lists the pods O(replace_unready_pods) would delete, as
        they are at that moment.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The workload's metadata and spec before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - With O(to_revision), the second run finds the template in place and changes nothing. The
        controller renumbers the revision on the first run, so kubectl would fail the second time
        (C(unable to find specified revision)). This module follows the ReplicaSet's
        C(deployment.kubernetes.io/revision-history) annotation, which keeps the old number. For
        StatefulSets and DaemonSets, it follows C(openrollout.k8s/revision-history), which it
        writes on the ControllerRevision for that purpose.
      - Without O(to_revision), each run goes back one revision, as C(kubectl rollout undo) does.
        Running it twice returns to where it started.
      - The pods O(replace_unready_pods) deletes come back at the restored revision, so a second
        run finds none to delete. A run that finds the template already restored, but pods of the
        broken revision still blocking the StatefulSet, deletes them and reports a change.
options:
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
  to_revision:
    description:
      - The revision to roll back to, as C(kubectl rollout history) numbers them.
      - When not set, or V(0), the previous revision (the second-highest number).
      - A revision that does not exist is an error that lists the revisions that do.
    type: int
  wait:
    description:
      - Wait until the rollback is complete, by kubectl's done-test.
      - When V(false), the task returns once the Deployment is patched, and the controller rolls
        back alone.
    type: bool
    default: true
  wait_timeout:
    description:
      - Longest time in seconds for the whole wait. When it runs out, the task fails with reason
        C(WaitTimeout). The workload is left as it is then.
      - By default there is no overall limit. The wait is bounded by O(timeout_seconds) of no progress.
    type: int
  timeout_seconds:
    description:
      - How long the rollback may go without progress (no change in replica counts, readiness or
        pods) before the task fails with reason C(Timeout). This is OpenShift's C(timeoutSeconds).
    type: int
    default: 600
  hooks:
    description:
      - Run the lifecycle hooks recorded with the revisions, for a Deployment. The revision rolled
        back to runs the C(pre) and C(post) hooks of the strategy it was rolled out with; the
        revision left behind runs its C(rollback) hook first. Each runs as a Job, as in
        M(openrollout.k8s.rollout), named C(<deployment>-<revision>-hook-<phase>).
      - A revision without a recorded strategy (made with C(kubectl), for example) runs no hook.
      - A failing C(pre) hook with Abort leaves the Deployment as it was. A failing C(post) hook
        fails the task after the rollback is complete. A failing C(rollback) hook does not stop
        the rollback; the task fails at the end and says so.
      - When V(false), no hook runs. Hooks also need O(wait=true).
    type: bool
    default: true
  replace_unready_pods:
    description:
      - For a StatefulSet, Kubernetes' forced rollback. Once the template is back and the
        controller has seen it, delete the pods that are not Ready and are at another revision
        than the restored one. The controller then makes them again from the restored revision.
        Without this, such a pod (for example in C(CrashLoopBackOff)) blocks the rollback
        forever, as it does for C(kubectl rollout undo), and the task fails after
        O(timeout_seconds) with a message that names the pods and this option.
      - Only pods that are not Ready go, so no serving pod is lost. Ready pods are replaced by the
        controller's rolling update, one at a time. Pods below a RollingUpdate partition stay,
        because the controller would make them again at the revision they have. Each delete is
        guarded by the pod's uid.
      - This is what M(openrollout.k8s.rollout) does when it rolls a failed StatefulSet back by
        itself, and the step the Kubernetes documentation asks for after reverting a template.
        It is on by default because a rollback that never completes is never what is wanted. Set
        V(false) to delete nothing and keep C(kubectl rollout undo)'s behaviour.
      - For a Deployment or a DaemonSet it changes nothing. Their controllers replace unready
        pods of the revision left behind by themselves. A Deployment's ReplicaSet scales its
        unready pods down first, and the DaemonSet controller deletes an unavailable old pod at
        once.
    type: bool
    default: true
    aliases: [force_rollback]
notes:
  - A failed wait does not roll anything further back. The message says how far the rollback got.
  - Lifecycle hooks are run for Deployments only. StatefulSets and DaemonSets have no recorded
    strategy.
  - For StatefulSets and DaemonSets, the module needs permission to read and patch
    ControllerRevisions too, and for O(replace_unready_pods) to list, watch and delete pods.
seealso:
  - module: openrollout.k8s.rollout
    description: Rolls out a new revision, and rolls back by itself when that fails.
  - module: openrollout.k8s.rollout_info
    description: The revisions a Deployment has, to choose O(to_revision) from.
  - module: openrollout.k8s.rollout_control
    description: Pause, resume, restart, retry or cancel a rollout.
"""

EXAMPLES = r"""
- name: Back to the previous revision, as kubectl rollout undo
  openrollout.k8s.rollout_undo:
    name: web
    namespace: shop

- name: Back to revision 3, and at most 5 minutes for it
  openrollout.k8s.rollout_undo:
    name: web
    namespace: shop
    to_revision: 3
    wait_timeout: 300

- name: Back to revision 3, without the hooks recorded with the revisions
  openrollout.k8s.rollout_undo:
    name: web
    namespace: shop
    to_revision: 3
    hooks: false

- name: A StatefulSet back to its previous revision
  openrollout.k8s.rollout_undo:
    kind: StatefulSet
    name: db
    namespace: shop

- name: A StatefulSet stuck on a crash-looping revision back to revision 1 (its unready pods are replaced)
  openrollout.k8s.rollout_undo:
    kind: StatefulSet
    name: db
    namespace: shop
    to_revision: 1
    timeout_seconds: 300

- name: Roll a StatefulSet back as kubectl does, deleting no pod
  openrollout.k8s.rollout_undo:
    kind: StatefulSet
    name: db
    namespace: shop
    replace_unready_pods: false

- name: Show what revision 3 would bring back
  openrollout.k8s.rollout_undo:
    name: web
    namespace: shop
    to_revision: 3
  check_mode: true
  diff: true
  register: plan
"""

RETURN = r"""
revision:
  description:
    - The workload's revision at the end. A rollback makes a new revision, the next number.
    - In check mode, the revision the rollback would get.
  returned: always
  type: int
  sample: 5
previous_revision:
  description: The workload's revision before the task.
  returned: always
  type: int
  sample: 4
rolled_back_to:
  description:
    - The revision rolled back to, as asked with O(to_revision), or the previous revision when
      O(to_revision) is not set.
  returned: when the revision exists
  type: int
  sample: 2
available_revisions:
  description: The revisions that exist, when the one asked for does not.
  returned: when the revision does not exist
  type: list
  elements: int
  sample: [2, 3, 4]
kind:
  description: The kind of workload.
  returned: always
  type: str
  sample: Deployment
deployment:
  description:
    - The Deployment at the end, without C(managedFields). In check mode, as it would be.
  returned: for a Deployment
  type: dict
workload:
  description:
    - The StatefulSet or DaemonSet at the end, without C(managedFields). In check mode, as it would be.
  returned: for a StatefulSet or DaemonSet
  type: dict
timeline:
  description:
    - Timestamped events. C(applied) (with C(to_revision), C(revision) and C(images)), C(replicas)
      (for a Deployment the new and old ReplicaSets' replicas, ready and available; for a StatefulSet
      or DaemonSet the desired, updated, ready and available pods; at each change), C(complete),
      C(unchanged) and C(failed); C(hook_started), C(hook_finished) and C(hook_skipped) around hooks;
      C(unready_pods_deleted) (with C(pods)) when O(replace_unready_pods) deleted pods.
  returned: always
  type: list
  elements: dict
  sample:
    - {time: "2026-11-23T10:00:00.120+00:00", event: applied, to_revision: 2, revision: 5, images: {app: "web:2"}}
    - {time: "2026-11-23T10:00:04.002+00:00", event: complete}
hooks:
  description:
    - The lifecycle hooks run, in order (see O(hooks)). In check mode, the hooks that would run (C(planned)).
    - Each hook has C(phase), C(job), C(failure_policy), C(attempts), C(succeeded), C(skipped), C(exit_code),
      C(reason), C(log_tail) and C(log_error), as in M(openrollout.k8s.rollout).
  returned: always
  type: list
  elements: dict
  sample:
    - {phase: pre, job: web-5-hook-pre, failure_policy: Abort, attempts: 1, succeeded: true,
       skipped: false, exit_code: 0, reason: Completed, log_tail: []}
deleted_pods:
  description:
    - The pods of a StatefulSet that O(replace_unready_pods) deleted, by name (sorted). The
      controller makes them again from the restored revision.
    - In check mode, the pods it would delete.
    - Empty for a Deployment or DaemonSet, and when nothing blocked the StatefulSet.
  returned: always
  type: list
  elements: str
  sample: [db-2]
failure:
  description:
    - Why the wait failed. C(reason) is for example C(CrashLoopBackOff), C(ProgressDeadlineExceeded) or C(Timeout).
    - C(APIError) when the API refused a request, or stayed unreachable, once the rollback was written.
  returned: when the wait fails, or the API fails once the rollback is written
  type: dict
  sample: {reason: CrashLoopBackOff, message: "CrashLoopBackOff: web-7d9c-x2x (container app)"}
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
from ansible_collections.openrollout.k8s.plugins.module_utils._module import run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._undo import (
    DEFAULT_TIMEOUT_SECONDS,
    UndoError,
    UndoInputError,
    build_undo_request,
    undo_for,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._workloads import DEPLOYMENT, KINDS

UNDO_ARG_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "kind": {"type": "str", "choices": list(KINDS), "default": DEPLOYMENT},
    "to_revision": {"type": "int"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int"},
    "timeout_seconds": {"type": "int", "default": DEFAULT_TIMEOUT_SECONDS},
    "hooks": {"type": "bool", "default": True},
    "replace_unready_pods": {"type": "bool", "default": True, "aliases": ["force_rollback"]},
}


def run(module, connect):
    request = build_undo_request(module.params)
    return undo_for(connect(), request, module.check_mode, module._diff).run()


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, UNDO_ARG_SPEC),
        supports_check_mode=True,
    )
    run_module(module, run, errors=(UndoError, UndoInputError))


if __name__ == "__main__":
    main()
