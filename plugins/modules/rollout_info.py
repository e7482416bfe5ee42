#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_info
short_description: Rollout status and revision history of Deployments, StatefulSets and DaemonSets
version_added: 0.1.0
description:
  - Reads where the rollout of a Deployment, StatefulSet or DaemonSet stands and what revisions it has,
    the way C(kubectl rollout status) and C(kubectl rollout history) do, and returns it as data.
  - The status is kubectl's done-test, with kubectl's messages. When the rollout does not progress, the
    result says why. That is either the Deployment controller's V(ProgressDeadlineExceeded), or problems
    of the newest revision's pods, such as V(CrashLoopBackOff), V(ImagePullBackOff) or V(Unschedulable),
    each with the pod's name.
  - The history has one entry per revision, with its number, change-cause, images, creation time and
    replica counts, and which revision is current. With O(revision), that revision is also returned in
    detail, with its pod template.
  - A Deployment's revisions are the ReplicaSets it controls, found by owner reference and not by labels,
    so another Deployment's ReplicaSets never show up. A StatefulSet's or DaemonSet's revisions are the
    ControllerRevisions it controls.
  - The module only reads. It never changes anything and always returns RV(ignore:changed=false).
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    support: full
    description: Runs in check mode and returns the same result, since it only reads.
  diff_mode:
    support: N/A
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, neither run indicates a change.
    details:
      - The module only reads, so it never reports a change.
options:
  kind:
    description:
      - The kind of workload to read.
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  name:
    description:
      - The name of the workload. The task fails when it does not exist.
      - Without O(name), every workload of O(kind) in O(namespace) that matches O(label_selectors) is
        returned, and no match is an empty RV(rollouts) list, not a failure.
    type: str
  namespace:
    description:
      - The namespace of the workload, V(default) when not given, as for every module of this collection.
      - Unlike M(kubernetes.core.k8s_info), leaving it out does not list every namespace.
    type: str
    default: default
  label_selectors:
    description:
      - Only workloads whose labels match all of these selectors, for example V(app=web) or
        V(tier in (front,back\)).
    type: list
    elements: str
    default: []
  revision:
    description:
      - Also return this revision in detail, with its pod template, in RV(rollouts[].revision_detail).
      - The task fails when the workload has no such revision, and the message lists the revisions
        that exist.
      - Needs O(name).
    type: int
notes:
  - A Deployment whose controller has given up reports V(ProgressDeadlineExceeded) in
    RV(rollouts[].status.reason). StatefulSets and DaemonSets have no progress deadline, so their
    RV(rollouts[].status.stuck) comes from pod problems only.
  - For StatefulSets and DaemonSets with the V(OnDelete) update strategy, kubectl has no done-test. The
    status is then not done, and its message is kubectl's error message.
seealso:
  - module: openrollout.k8s.rollout
  - module: kubernetes.core.k8s_info
  - name: kubectl rollout
    description: The kubectl commands whose status and history this module returns as data.
    link: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/
"""

EXAMPLES = r"""
- name: Where does the rollout of web stand?
  openrollout.k8s.rollout_info:
    name: web
    namespace: shop
  register: web_rollout

- name: Fail with the reason when it is stuck
  ansible.builtin.assert:
    that: not web_rollout.rollouts[0].status.stuck
    fail_msg: >-
      {{ web_rollout.rollouts[0].status.message }}
      {{ web_rollout.rollouts[0].status.reason or '' }}
      {{ web_rollout.rollouts[0].status.problems_summary }}

- name: Change-causes of all revisions, like kubectl rollout history
  ansible.builtin.debug:
    msg: "{{ web_rollout.rollouts[0].history | map(attribute='change_cause') | list }}"

- name: The pod template of revision 2 of a StatefulSet
  openrollout.k8s.rollout_info:
    kind: StatefulSet
    name: db
    namespace: shop
    revision: 2
  register: db_revision

- name: Every DaemonSet of the monitoring stack, with the same connection settings as kubernetes.core
  openrollout.k8s.rollout_info:
    kind: DaemonSet
    namespace: monitoring
    label_selectors:
      - app.kubernetes.io/part-of=monitoring
    kubeconfig: ~/.kube/prod
    context: prod
  register: agents
"""

RETURN = r"""
rollouts:
  description:
    - One entry for each workload found, sorted by name. With O(name) there is exactly one.
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: The kind of the workload.
      type: str
      sample: Deployment
    name:
      description: The name of the workload.
      type: str
      sample: web
    namespace:
      description: The namespace of the workload.
      type: str
      sample: shop
    uid:
      description: The UID of the workload.
      type: str
    paused:
      description: Whether the Deployment is paused (C(spec.paused)). Always V(false) for other kinds.
      type: bool
    status:
      description: Where the rollout stands.
      type: dict
      contains:
        done:
          description:
            - kubectl's done-test. V(true) when C(kubectl rollout status) would say the rollout is complete.
          type: bool
        message:
          description: kubectl's message, without its trailing newline.
          type: str
          sample: 'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'
        reason:
          description:
            - V(ProgressDeadlineExceeded) when the Deployment controller gave up on the rollout, else V(null).
          type: str
        stuck:
          description:
            - Whether the rollout is not done and waiting will not help. This is the case when the progress
              deadline was exceeded, or when a pod of the newest revision has a problem that does not clear by
              itself (V(CrashLoopBackOff), V(ImagePullBackOff), V(ErrImagePull), V(Unschedulable), ...).
          type: bool
        problems:
          description:
            - What keeps the pods of the newest revision from becoming ready, one entry per pod and container.
            - For a Deployment, this also includes the new ReplicaSet failing to create pods (V(FailedCreate),
              V(QuotaExceeded)), with RV(rollouts[].status.problems[].pod) V(null).
          type: list
          elements: dict
          contains:
            pod:
              description: The pod's name.
              type: str
              sample: web-5d8f7c9b4-x2x7q
            container:
              description: The container's name, when the problem is a container's.
              type: str
              sample: app
            reason:
              description: The reason, as the kubelet or the scheduler reports it.
              type: str
              sample: CrashLoopBackOff
            message:
              description: The message that comes with it, and the last exit code when known.
              type: str
        problems_summary:
          description: The problems on one line, grouped by reason. Empty when there are none.
          type: str
          sample: 'CrashLoopBackOff: web-5d8f7c9b4-x2x7q (container app)'
        replicas:
          description:
            - Pod counts from the workload's status. For DaemonSets these are C(desiredNumberScheduled),
              C(updatedNumberScheduled), C(numberReady) and C(numberAvailable).
          type: dict
          sample: {desired: 3, updated: 1, ready: 3, available: 3}
    current_revision:
      description:
        - The number of the revision whose template is the workload's template now.
        - V(null) before the controller has made that revision.
      type: int
      sample: 3
    history:
      description: One entry per revision, oldest first, as C(kubectl rollout history) lists them.
      type: list
      elements: dict
      contains:
        revision:
          description: The revision number.
          type: int
          sample: 2
        name:
          description: The name of the ReplicaSet (Deployment) or ControllerRevision (StatefulSet, DaemonSet).
          type: str
          sample: web-5d8f7c9b4
        change_cause:
          description:
            - The C(kubernetes.io/change-cause) annotation of that ReplicaSet or ControllerRevision.
            - V(null) when there is none.
          type: str
          sample: image 1.25
        images:
          description: The image of each container and init container, by container name.
          type: dict
          sample: {app: registry.example/web:1.25}
        created:
          description: When the ReplicaSet or ControllerRevision was created.
          type: str
          sample: '2026-11-23T15:24:08Z'
        replicas:
          description:
            - For a ReplicaSet, its desired replicas.
            - For a ControllerRevision, the number of the workload's pods at that revision.
          type: int
        ready_replicas:
          description: Ready pods of that revision.
          type: int
        available_replicas:
          description:
            - Available pods of that revision, that is pods that have been ready for C(minReadySeconds).
          type: int
        current:
          description: Whether this is the revision of the workload's current template.
          type: bool
    revision_detail:
      description:
        - The revision asked for with O(revision).
        - It has the keys of a RV(rollouts[].history) entry, plus the pod template and the annotations.
      returned: when O(revision) is given
      type: dict
      contains:
        revision:
          description: The revision number.
          type: int
          sample: 2
        name:
          description: The name of the ReplicaSet (Deployment) or ControllerRevision (StatefulSet, DaemonSet).
          type: str
          sample: web-5d8f7c9b4
        change_cause:
          description: The C(kubernetes.io/change-cause) annotation, V(null) when there is none.
          type: str
          sample: image 1.25
        images:
          description: The image of each container and init container, by container name.
          type: dict
          sample: {app: registry.example/web:1.25}
        created:
          description: When the ReplicaSet or ControllerRevision was created.
          type: str
          sample: '2026-11-23T15:24:08Z'
        replicas:
          description:
            - For a ReplicaSet, its desired replicas.
            - For a ControllerRevision, the number of the workload's pods at that revision.
          type: int
        ready_replicas:
          description: Ready pods of that revision.
          type: int
        available_replicas:
          description: Available pods of that revision.
          type: int
        current:
          description: Whether this is the revision of the workload's current template.
          type: bool
        template:
          description:
            - The workload's pod template at that revision. A ReplicaSet's template is returned without the
              C(pod-template-hash) label that the ReplicaSet adds, so it is what the Deployment had.
          type: dict
        annotations:
          description: The annotations of the ReplicaSet or ControllerRevision.
          type: dict
"""

import time
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._client import (
    CONTROLLER_REVISIONS,
    PODS,
    REPLICA_SETS,
    RESOURCES_BY_KIND,
    ClientError,
    KubeClient,
    api_error_message,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._module import (
    Connect,
    ModuleFailure,
    run_module,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._workloads import (
    DEPLOYMENT,
    KINDS,
    RevisionNotFound,
    describe_workload,
    selector_string,
)

ARGUMENT_SPEC = argument_spec(
    AUTH_ARG_SPEC,
    {
        "kind": {"type": "str", "choices": list(KINDS), "default": DEPLOYMENT},
        "name": {"type": "str"},
        "namespace": {"type": "str", "default": "default"},
        "label_selectors": {"type": "list", "elements": "str", "default": []},
        "revision": {"type": "int"},
    },
)


class WorkloadNotFound(LookupError):
    """The workload named in the task does not exist."""


def read_rollouts(client: KubeClient, params: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """List the workloads, then each one's ReplicaSets or ControllerRevisions and pods, and describe it."""
    kind, namespace, name = params["kind"], params["namespace"], params["name"]
    children_resource = REPLICA_SETS if kind == DEPLOYMENT else CONTROLLER_REVISIONS
    selectors = {}
    if name:
        selectors["field_selector"] = f"metadata.name={name}"
    if params["label_selectors"]:
        selectors["label_selector"] = ",".join(params["label_selectors"])
    workloads = client.list(
        f"listing {kind}s in {namespace}", RESOURCES_BY_KIND[kind], namespace, **selectors
    )
    if name and not workloads:
        labels = f" with labels {selectors['label_selector']}" if params["label_selectors"] else ""
        raise WorkloadNotFound(client.not_found(f"{kind} {namespace}/{name}", namespace, labels))
    rollouts = []
    for workload in sorted(workloads, key=lambda obj: obj["metadata"]["name"]):
        # kubectl's way: list by the workload's selector, then keep what it controls.
        selector = selector_string(workload.get("spec", {}).get("selector") or {})
        what = f"{kind} {namespace}/{workload['metadata']['name']}"
        children = client.list(
            f"listing the {children_resource.kind}s of {what}",
            children_resource,
            namespace,
            label_selector=selector,
        )
        pods = client.list(f"listing the pods of {what}", PODS, namespace, label_selector=selector)
        rollouts.append(
            describe_workload(
                kind,
                workload,
                children,
                pods,
                now,
                params["revision"],
            )
        )
    return rollouts


def run(module: AnsibleModule, connect: Connect) -> dict[str, Any]:
    revision = module.params["revision"]
    if revision is not None and revision < 1:
        raise ModuleFailure(f"revision must be 1 or more, got {revision}")
    client = connect()
    try:
        rollouts = read_rollouts(client, module.params, time.time())
    except RevisionNotFound as exc:
        raise ModuleFailure(str(exc), available_revisions=exc.available) from None
    except (WorkloadNotFound, ClientError, ValueError):
        raise
    except Exception as exc:  # an API error: the server's message, the traceback only with -vvv
        raise ModuleFailure(
            f"cannot read the rollout of {module.params['kind']}: {api_error_message(exc)}",
            exception=traceback.format_exc(),
        ) from None
    result: dict[str, Any] = {"changed": False, "rollouts": rollouts}
    namespace = module.params["namespace"]
    if not rollouts and client.namespace_missing(namespace):
        # An empty list is the answer, as for a namespace without workloads, but not without a word.
        result["warnings"] = [f"namespace {namespace} not found: no {module.params['kind']} to list"]
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_by={"revision": "name"},
        supports_check_mode=True,
    )
    run_module(module, run, errors=(WorkloadNotFound, ValueError))


if __name__ == "__main__":
    main()
