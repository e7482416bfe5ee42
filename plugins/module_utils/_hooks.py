# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ._strategy import Hook, Strategy

# Lifecycle hooks as Kubernetes Jobs, on plain dicts: the Job a hook runs as, and what a
# finished Job says (succeeded, exit code, reason). Pure; _hook_runner.py creates and watches.
#
# Why a Job and not a bare pod: the Job controller records the outcome in the Job's
# conditions (kubectl get jobs shows it), enforces activeDeadlineSeconds, keeps the pod for
# its logs, and the Job is garbage-collected with the Deployment (owner reference). backoffLimit
# is 0: a retry is the hook's failurePolicy's business (Retry), not the Job's.

LABEL_DEPLOYMENT = "openrollout.k8s/deployment"
LABEL_PHASE = "openrollout.k8s/hook"
LABEL_REVISION = "openrollout.k8s/revision"
# The workload's kind, on the hook Jobs and pods of a StatefulSet or DaemonSet only: a Deployment's
# have no such label, as before it existed.
LABEL_KIND = "openrollout.k8s/kind"
# A digest of the hook pod a Job runs (its pod spec as built): a Job of the same name from
# another template (another run, a rollout that was given up) is told apart by it.
SPEC_DIGEST_ANNOTATION = "openrollout.k8s/hook-spec"
# A Job's name is at most 63 characters: the Job controller puts it in its pods' job-name label.
JOB_NAME_MAX = 63
# A label value is at most 63 characters; a workload's name may be up to 253.
LABEL_VALUE_MAX = 63
DEPLOYMENT_KIND = "Deployment"
# kubectl's short names, in the hook Job names of the kinds other than Deployment.
KIND_SHORT_NAMES = {"StatefulSet": "sts", "DaemonSet": "ds"}
# Hex digits of the name's sha256 that a cut StatefulSet or DaemonSet name keeps.
NAME_DIGEST_CHARS = 8

# Lines of the hook pod's log kept in the result and in messages.
LOG_TAIL_LINES = 20

# Pod-level fields the hook pod takes from the Deployment's pod template, as OpenShift does.
_POD_FIELDS = (
    "imagePullSecrets",
    "nodeSelector",
    "tolerations",
    "serviceAccountName",
    "securityContext",
    "priorityClassName",
)
# Container fields the hook container takes from the named template container.
_CONTAINER_FIELDS = (
    "image",
    "imagePullPolicy",
    "env",
    "envFrom",
    "workingDir",
    "resources",
    "securityContext",
)


@dataclass(frozen=True)
class JobOutcome:
    """A hook Job's state: ``done`` once it finished; then ``succeeded`` and why."""

    done: bool
    succeeded: bool
    exit_code: int | None
    reason: str
    message: str
    pod: str | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def hook_job_name(name: str, revision: int, phase: str, kind: str = DEPLOYMENT_KIND) -> str:
    """The name of the Job that runs ``phase``'s hook for ``revision`` of the workload ``name``.

    A Deployment's: ``<name>-<revision>-hook-<phase>``. A StatefulSet's or DaemonSet's:
    ``<name>-<revision>-sts-hook-<phase>`` or ``-ds-``, so that it shares no Job with a
    Deployment of the same name. The kind comes after the revision: before ``-hook-``, a
    Deployment's name ends in a digit and the others' in ``sts`` or ``ds``, so no Deployment
    name gives a StatefulSet's Job name (the Deployment ``db-sts`` at revision 3 has
    ``db-sts-3-hook-pre``, the StatefulSet ``db`` ``db-3-sts-hook-pre``).

    A name too long for 63 characters is cut and keeps 8 hex digits of its sha256, so that two
    long names with the same start keep apart (cut alone, they would share Jobs: one's hook
    would replace the other's Job). A 60-character StatefulSet name at revision 12 gives
    33 characters of the name, ``-``, 8 digits and ``-12-sts-hook-rollback`` (63 in all).
    """
    if kind == DEPLOYMENT_KIND:
        suffix = f"-{revision}-hook-{phase}"
    elif kind in KIND_SHORT_NAMES:
        suffix = f"-{revision}-{KIND_SHORT_NAMES[kind]}-hook-{phase}"
    else:
        raise ValueError(f"hook Jobs are for a Deployment, StatefulSet or DaemonSet, not a {kind}")
    if len(name) + len(suffix) <= JOB_NAME_MAX:
        return name + suffix
    digest = hashlib.sha256(name.encode()).hexdigest()[:NAME_DIGEST_CHARS]
    kept = name[: JOB_NAME_MAX - len(suffix) - NAME_DIGEST_CHARS - 1].rstrip("-.")
    return f"{kept}-{digest}{suffix}"


def workload_label(name: str) -> str:
    """A workload's name as a label value: label values stop at 63 characters, names go to 253.

    A longer name is cut and keeps 8 hex digits of its sha256, so two long names with the same
    start still select their own Jobs.
    """
    if len(name) <= LABEL_VALUE_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:NAME_DIGEST_CHARS]
    return f"{name[: LABEL_VALUE_MAX - NAME_DIGEST_CHARS - 1].rstrip('-.')}-{digest}"


def hook_labels(name: str, revision: int, phase: str, kind: str = DEPLOYMENT_KIND) -> dict[str, str]:
    """The labels that find a hook's Job and pod (kubectl get jobs -l openrollout.k8s/hook=pre).

    A StatefulSet's or DaemonSet's also have openrollout.k8s/kind; a Deployment's have no kind
    label, as before it existed.
    """
    labels = {LABEL_DEPLOYMENT: workload_label(name), LABEL_PHASE: phase, LABEL_REVISION: str(revision)}
    if kind != DEPLOYMENT_KIND:
        labels[LABEL_KIND] = kind
    return labels


def owner_reference(workload: dict[str, Any]) -> dict[str, Any]:
    """The ownerReference that makes a hook Job go with its workload (garbage collection)."""
    metadata = _dict(workload.get("metadata"))
    return {
        "apiVersion": "apps/v1",
        "kind": str(workload.get("kind") or DEPLOYMENT_KIND),
        "name": str(metadata.get("name")),
        "uid": str(metadata.get("uid")),
    }


def hook_job_kind(job: dict[str, Any]) -> str:
    """The kind of workload a hook Job is for: its openrollout.k8s/kind label, else its owner's
    kind (a StatefulSet's Job made before the label existed), else Deployment."""
    metadata = _dict(job.get("metadata"))
    labelled = _dict(metadata.get("labels")).get(LABEL_KIND)
    if labelled:
        return str(labelled)
    for ref in metadata.get("ownerReferences") or []:
        if _dict(ref).get("kind") in KIND_SHORT_NAMES:
            return str(ref["kind"])
    return DEPLOYMENT_KIND


def hook_env(namespace: str, deployment_name: str, revision: int) -> list[dict[str, str]]:
    """What a hook learns about its rollout; the OPENSHIFT_* names keep DC hook scripts working."""
    return [
        {"name": "OPENROLLOUT_DEPLOYMENT_NAME", "value": deployment_name},
        {"name": "OPENROLLOUT_DEPLOYMENT_NAMESPACE", "value": namespace},
        {"name": "OPENROLLOUT_DEPLOYMENT_REVISION", "value": str(revision)},
        {"name": "OPENSHIFT_DEPLOYMENT_NAME", "value": f"{deployment_name}-{revision}"},
        {"name": "OPENSHIFT_DEPLOYMENT_NAMESPACE", "value": namespace},
    ]


def _merge_env(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Env lists merged by name, later lists winning, in first-seen order."""
    merged: dict[str, dict[str, Any]] = {}
    for entries in lists:
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name"):
                merged[entry["name"]] = copy.deepcopy(entry)
    return list(merged.values())


def hook_job(
    workload: dict[str, Any],
    hook: Hook,
    phase: str,
    revision: int,
    strategy: Strategy,
) -> dict[str, Any]:
    """The Job that runs ``hook`` for ``revision`` of ``workload`` (whose template is the new one).

    ``workload`` is a Deployment, StatefulSet or DaemonSet: its metadata (name, namespace and,
    once it exists, uid) and kind make the Job's owner, its ``spec.template`` the hook pod. The
    labels and environment keep the Deployment's names for every kind (openrollout.k8s/deployment,
    OPENROLLOUT_DEPLOYMENT_NAME ...), so selectors and hook scripts work unchanged.

    The hook container is the named template container with the hook's command; it keeps the
    container's image, env (hook env wins, by name), envFrom, workingDir, resources and
    securityContext, and only the volumes the hook lists, with their mounts. Env from Secrets
    stays a reference (valueFrom / envFrom): nothing secret is copied. The pod takes the
    template's pull secrets, node selector, tolerations, service account and security context,
    the strategy's labels and annotations, and never the template's labels (the hook pod must
    not count as a pod of the application). It mounts no service account token unless the hook
    sets automountServiceAccountToken.
    """
    if hook.exec_new_pod is None:
        raise ValueError(f"{phase} hook has no execNewPod")
    exec_new_pod = hook.exec_new_pod
    metadata = _dict(workload.get("metadata"))
    name, namespace = str(metadata.get("name")), str(metadata.get("namespace"))
    template_spec = _dict(_dict(_dict(workload.get("spec")).get("template")).get("spec"))
    source = next(
        c
        for c in template_spec.get("containers") or []
        if _dict(c).get("name") == exec_new_pod.container_name
    )
    container: dict[str, Any] = {"name": exec_new_pod.container_name}
    for field in _CONTAINER_FIELDS:
        if field in source:
            container[field] = copy.deepcopy(source[field])
    container["command"] = list(exec_new_pod.command)
    container["env"] = _merge_env(
        source.get("env") or [], hook_env(namespace, name, revision), exec_new_pod.env
    )
    wanted_volumes = set(exec_new_pod.volumes)
    mounts = [m for m in source.get("volumeMounts") or [] if _dict(m).get("name") in wanted_volumes]
    if mounts:
        container["volumeMounts"] = copy.deepcopy(mounts)

    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    for field in _POD_FIELDS:
        if field in template_spec:
            pod_spec[field] = copy.deepcopy(template_spec[field])
    # No API token in the hook pod unless the hook asks (execNewPod.automountServiceAccountToken),
    # whatever the template or its service account say.
    pod_spec["automountServiceAccountToken"] = exec_new_pod.automount_service_account_token
    volumes = [v for v in template_spec.get("volumes") or [] if _dict(v).get("name") in wanted_volumes]
    if volumes:
        pod_spec["volumes"] = copy.deepcopy(volumes)

    kind = str(workload.get("kind") or DEPLOYMENT_KIND)
    labels = {**strategy.labels, **hook_labels(name, revision, phase, kind)}
    job_metadata: dict[str, Any] = {
        "name": hook_job_name(name, revision, phase, kind),
        "namespace": namespace,
    }
    job_metadata["labels"] = dict(labels)
    if strategy.annotations:
        job_metadata["annotations"] = dict(strategy.annotations)
    if metadata.get("uid"):
        job_metadata["ownerReferences"] = [owner_reference(workload)]
    pod_metadata: dict[str, Any] = {"labels": dict(labels)}
    if strategy.annotations:
        pod_metadata["annotations"] = dict(strategy.annotations)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": strategy.active_deadline_seconds,
            "template": {"metadata": pod_metadata, "spec": pod_spec},
        },
    }


def hook_source(desired: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """What hook_job builds a hook from: the desired object (the new template) with the live uid.

    A server dry run of a create gives a uid that belongs to no object: it is dropped, and the
    Job of a hook that runs before the object exists has no owner.
    """
    source = copy.deepcopy(desired)
    metadata = source.setdefault("metadata", {})
    if live is not None and _dict(live.get("metadata")).get("uid"):
        metadata["uid"] = live["metadata"]["uid"]
    else:
        metadata.pop("uid", None)
    return source


def deployer_name(deployment_name: str) -> str:
    """The ServiceAccount (and Role, RoleBinding) of a Custom strategy's deployer pod."""
    return deployment_name[: JOB_NAME_MAX - len("-deployer")].rstrip("-.") + "-deployer"


def deployer_rbac(namespace: str, deployment_name: str) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding giving the deployer a token for its namespace only.

    It may read and change Deployments (and their scale), read ReplicaSets, pods and their
    logs: what a custom rollout needs, nothing cluster-wide.
    """
    name = deployer_name(deployment_name)
    labels = {LABEL_DEPLOYMENT: workload_label(deployment_name)}
    meta = {"name": name, "namespace": namespace, "labels": labels}
    rules = [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "deployments/scale"],
            "verbs": ["get", "list", "watch", "patch", "update"],
        },
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(meta)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": dict(meta),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(meta),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]


def custom_job(
    deployment: dict[str, Any], strategy: Strategy, revision: int, previous_revision: int | None
) -> dict[str, Any]:
    """The Custom strategy's deployer Job: the user's image and command, told what to roll out.

    Without an image it runs the template's first container image; without a command, the
    image's own entrypoint. Its env names the deployment, namespace, new and old revisions
    (OPENROLLOUT_* and DeploymentConfig's OPENSHIFT_* names), then the user's environment;
    its service account (deployer_rbac) holds a token for this namespace only.
    """
    if strategy.custom is None:
        raise ValueError("the strategy has no customParams")
    metadata = _dict(deployment.get("metadata"))
    name, namespace = str(metadata.get("name")), str(metadata.get("namespace"))
    template_spec = _dict(_dict(_dict(deployment.get("spec")).get("template")).get("spec"))
    first = _dict((template_spec.get("containers") or [{}])[0])
    container: dict[str, Any] = {"name": "deployer", "image": strategy.custom.image or first.get("image")}
    if strategy.custom.command:
        container["command"] = list(strategy.custom.command)
    previous = "" if previous_revision is None else str(previous_revision)
    container["env"] = _merge_env(
        hook_env(namespace, name, revision),
        [
            {"name": "OPENROLLOUT_NEW_REVISION", "value": str(revision)},
            {"name": "OPENROLLOUT_OLD_REVISION", "value": previous},
            {"name": "OPENSHIFT_DEPLOYMENT_OLD_NAME", "value": f"{name}-{previous}" if previous else ""},
        ],
        strategy.custom.environment,
    )
    labels = {**strategy.labels, **hook_labels(name, revision, "deployer")}
    job_metadata: dict[str, Any] = {
        "name": hook_job_name(name, revision, "deployer").replace("-hook-deployer", "-deployer"),
        "namespace": namespace,
        "labels": dict(labels),
    }
    if strategy.annotations:
        job_metadata["annotations"] = dict(strategy.annotations)
    if metadata.get("uid"):
        job_metadata["ownerReferences"] = [owner_reference(deployment)]
    pod_metadata: dict[str, Any] = {"labels": dict(labels)}
    if strategy.annotations:
        pod_metadata["annotations"] = dict(strategy.annotations)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": deployer_name(name),
        "containers": [container],
    }
    for field in ("imagePullSecrets", "nodeSelector", "tolerations"):
        if field in template_spec:
            pod_spec[field] = copy.deepcopy(template_spec[field])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": strategy.active_deadline_seconds,
            "template": {"metadata": pod_metadata, "spec": pod_spec},
        },
    }


def spec_digest(job: dict[str, Any]) -> str:
    """The digest of the pod spec a hook Job runs, as built (before the API server fills in defaults).

    The pod's labels and annotations are left out: a lifecycle_hook task and a rollout that run
    the same hook from the same template share its Job, whatever labels each gives it.
    """
    pod_spec = _dict(_dict(_dict(job.get("spec")).get("template")).get("spec"))
    return hashlib.sha256(json.dumps(pod_spec, sort_keys=True).encode()).hexdigest()[:16]


def with_spec_digest(job: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``job`` annotated with its spec_digest."""
    marked = copy.deepcopy(job)
    metadata = marked.setdefault("metadata", {})
    metadata["annotations"] = {**_dict(metadata.get("annotations")), SPEC_DIGEST_ANNOTATION: spec_digest(job)}
    return marked


def same_hook_job(existing: dict[str, Any], job: dict[str, Any]) -> bool:
    """Was ``existing`` made from the same hook pod as ``job`` (annotated by with_spec_digest)?

    A Job without the annotation (made before it existed) counts as the same, as it always did.
    """
    theirs = _dict(_dict(existing.get("metadata")).get("annotations")).get(SPEC_DIGEST_ANNOTATION)
    ours = _dict(_dict(job.get("metadata")).get("annotations")).get(SPEC_DIGEST_ANNOTATION) or spec_digest(
        job
    )
    return theirs is None or theirs == ours


def _condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in _dict(job.get("status")).get("conditions") or []:
        if _dict(condition).get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def _exit(pod: dict[str, Any]) -> tuple[int | None, str]:
    for status in _dict(pod.get("status")).get("containerStatuses") or []:
        terminated = _dict(_dict(_dict(status).get("state")).get("terminated"))
        if "exitCode" in terminated:
            return int(terminated["exitCode"]), str(terminated.get("reason") or "")
    return None, ""


def job_outcome(job: dict[str, Any] | None, pods: list[dict[str, Any]]) -> JobOutcome:
    """Has the hook Job finished, and how? The exit code comes from its pod.

    Complete -> succeeded. Failed (BackoffLimitExceeded, DeadlineExceeded ...) -> failed
    with the condition's reason. Neither yet, but its pod Succeeded -> succeeded: the Job
    (one completion, backoffLimit 0) can only end Complete, and the Job controller batches pod
    updates for up to a second before it says so. A hook pod that cannot start
    (ImagePullBackOff ...) is left to the caller's pod-problem check and to activeDeadlineSeconds.
    """
    if job is None:
        return JobOutcome(True, False, None, "Deleted", "the hook Job was deleted", None)
    pod = pods[-1] if pods else None
    pod_name = _dict(_dict(pod).get("metadata")).get("name") if pod else None
    exit_code, exit_reason = _exit(pod) if pod else (None, "")
    if _condition(job, "Complete") or _condition(job, "SuccessCriteriaMet"):
        return JobOutcome(True, True, exit_code if exit_code is not None else 0, "Completed", "", pod_name)
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed:
        reason = str(failed.get("reason") or "Failed")
        message = str(failed.get("message") or "")
        if exit_code is not None:
            message = f"exit code {exit_code}" + (f" ({exit_reason})" if exit_reason else "")
            message += f"; {failed.get('message')}" if failed.get("message") else ""
        return JobOutcome(True, False, exit_code, reason, message, pod_name)
    one_completion = _dict(job.get("spec")).get("completions") in (None, 1)
    if one_completion and any(_dict(p.get("status")).get("phase") == "Succeeded" for p in pods):
        return JobOutcome(True, True, exit_code if exit_code is not None else 0, "Completed", "", pod_name)
    return JobOutcome(False, False, None, "", "", pod_name)


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log."""
    return text.splitlines()[-lines:] if text else []


__all__ = [
    "KIND_SHORT_NAMES",
    "LABEL_DEPLOYMENT",
    "LABEL_KIND",
    "LABEL_PHASE",
    "LABEL_REVISION",
    "LOG_TAIL_LINES",
    "SPEC_DIGEST_ANNOTATION",
    "JobOutcome",
    "custom_job",
    "deployer_name",
    "deployer_rbac",
    "hook_env",
    "hook_job",
    "hook_job_kind",
    "hook_job_name",
    "hook_labels",
    "hook_source",
    "job_outcome",
    "log_tail",
    "same_hook_job",
    "spec_digest",
    "with_spec_digest",
    "workload_label",
]
