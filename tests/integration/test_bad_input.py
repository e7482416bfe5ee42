"""Bad input to every module (issue 8, part 4): a clear `msg`, no traceback, the cluster unchanged.

One table, one row per bad input: the module, its arguments, and a regex the task's `msg` must
match (the whole message is shown on failure). The rows cover the options of rollout, rollout_info,
rollout_undo, rollout_control and lifecycle_hook, and the connection: an API server that does not
answer, a bad token, an expired client certificate (signed by the cluster's CA), a token that RBAC
refuses, an unknown CA.

All rows run as the tasks of one playbook (ansible-playbook starts once). Before and after it the
namespace's Deployments, ReplicaSets, Jobs, pods, ServiceAccounts, Roles and RoleBindings are
listed with their resourceVersions: both lists must be equal, so no row wrote anything. Every row
must fail, with no `Traceback` in its result or in the playbook's output and no `exception` key
in its result (Ansible shows that one only from -vvv on; a bad input deserves a message, not a
stack).
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from _tasks import Task, run_tasks
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client

CONTAINER = {"name": "app", "image": "registry.example/web:v1"}
NO_TRACEBACK = "(traceback unavailable)"
# Every row's message, for docs/reliability.md and for reading them side by side.
LOG = Path(__file__).resolve().parents[2] / "build" / "reliability" / "bad-input.jsonl"


@dataclass
class Row:
    id: str
    module: str
    args: dict[str, Any]
    msg: str  # regex, searched in msg
    environment: dict[str, str] = field(default_factory=dict)
    auth: str = "admin"  # admin (kubeconfig), none (the row's own options only)


def definition(namespace: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [dict(CONTAINER)]}},
        },
    }
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return body


def rolling(**params: Any) -> dict[str, Any]:
    return {"type": "Rolling", "rollingParams": params}


HOOK = {"execNewPod": {"containerName": "app", "command": ["/bin/true"]}}


def rows(ns: str, conn: dict[str, Any]) -> list[Row]:
    """The table. ``conn`` holds the connection pieces: host, ca_cert, tokens and certificate paths."""
    d = definition
    none = {"kubeconfig": None}
    return [
        # --- rollout: the definition ---
        Row(
            "yaml-malformed",
            "rollout",
            {"definition": "kind: Deployment\nmetadata: [name: web"},
            r"^the definition is not valid YAML: ",
        ),
        Row(
            "yaml-two-documents",
            "rollout",
            {"definition": "kind: Deployment\n---\nkind: Deployment\n"},
            r"^the definition must hold one Deployment.*, it holds 2 documents$",
        ),
        Row(
            "definition-a-list",
            "rollout",
            {"definition": [d(ns)]},
            r"^definition must be a Deployment.* as a dictionary \(or YAML text of one\), not list$",
        ),
        Row(
            "wrong-kind",
            "rollout",
            {"definition": d(ns, kind="Service")},
            r"^definition has kind 'Service': this module rolls out kind Deployment",
        ),
        Row(
            "wrong-api-version",
            "rollout",
            {"definition": d(ns, apiVersion="extensions/v1beta1")},
            r"^definition has apiVersion 'extensions/v1beta1': use apps/v1",
        ),
        Row(
            "no-name",
            "rollout",
            {"definition": d(ns, metadata__name=None)},
            r"^definition has no metadata.name$",
        ),
        Row("no-spec", "rollout", {"definition": d(ns, spec=None)}, r"^definition has no spec$"),
        Row(
            "namespace-differs",
            "rollout",
            {"definition": d(ns), "namespace": "elsewhere"},
            r"^namespace 'elsewhere' differs from the definition's metadata.namespace",
        ),
        Row(
            "name-differs",
            "rollout",
            {"definition": d(ns), "name": "other"},
            r"^name 'other' differs from the definition's metadata.name 'web'$",
        ),
        Row(
            "missing-namespace",
            "rollout",
            {"definition": d(ns, metadata__namespace="no-such-namespace-x1")},
            r"namespace no-such-namespace-x1 not found|namespaces \"no-such-namespace-x1\" not found",
        ),
        *(
            Row(
                f"missing-namespace-{module}",
                module,
                {"namespace": "no-such-namespace-x2", "name": "web", **extra},
                r"^namespace no-such-namespace-x2 not found \(so neither is Deployment no-such-namespace-x2/web\)",
            )
            for module, extra in (
                ("rollout", {"images": {"app": "web:2"}}),
                ("rollout_undo", {}),
                ("rollout_control", {"action": "restart"}),
                ("rollout_info", {}),
                ("lifecycle_hook", {"hook": HOOK}),
            )
        ),
        Row(
            "src-missing",
            "rollout",
            {"src": "/nonexistent/web.yml"},
            r"^cannot find src /nonexistent/web.yml on the controller \(looked for /nonexistent/web.yml\)$",
        ),
        Row(
            "definition-and-src",
            "rollout",
            {"definition": d(ns), "src": "/nonexistent/web.yml"},
            r"^parameters are mutually exclusive: definition\|src\|template$",
        ),
        Row(
            "nothing-given",
            "rollout",
            {"namespace": ns},
            r"^one of the following is required: definition, src, template, name$",
        ),
        Row(
            "server-rejects-selector",
            "rollout",
            {"definition": d(ns, metadata__name="fresh", spec__selector={"matchLabels": {"app": "other"}})},
            r"^applying Deployment .*/fresh: 422 Unprocessable Entity: .*`selector` does not match template `labels`",
        ),
        # --- rollout: numbers and strategy ---
        Row(
            "negative-replicas",
            "rollout",
            {"definition": d(ns), "replicas": -1},
            r"^replicas must be 0 or more, got -1$",
        ),
        Row(
            "replicas-not-a-number",
            "rollout",
            {"definition": d(ns), "replicas": "many"},
            r"argument 'replicas' is of type .* and we were unable to convert to int",
        ),
        Row(
            "wait-timeout-zero",
            "rollout",
            {"definition": d(ns), "wait_timeout": 0},
            r"^wait_timeout must be more than 0 seconds, got 0$",
        ),
        Row(
            "surge-and-unavailable-zero",
            "rollout",
            {"definition": d(ns), "strategy": rolling(maxSurge=0, maxUnavailable=0)},
            r"^strategy.rollingParams: maxSurge and maxUnavailable cannot both be 0: the rollout could never make progress$",
        ),
        Row(
            "unavailable-over-100",
            "rollout",
            {"definition": d(ns), "strategy": rolling(maxUnavailable="150%")},
            r"maxUnavailable.*100%",
        ),
        Row(
            "surge-percent-garbage",
            "rollout",
            {"definition": d(ns), "strategy": rolling(maxSurge="lots")},
            r"strategy.rollingParams.maxSurge: ",
        ),
        Row(
            "negative-surge",
            "rollout",
            {"definition": d(ns), "strategy": rolling(maxSurge=-1)},
            r"strategy.rollingParams.maxSurge: ",
        ),
        Row(
            "timeout-negative",
            "rollout",
            {"definition": d(ns), "strategy": rolling(timeoutSeconds=-5)},
            r"^strategy.rollingParams.timeoutSeconds must be greater than 0, got -5$",
        ),
        Row(
            "unknown-strategy-type",
            "rollout",
            {"definition": d(ns), "strategy": {"type": "BlueGreen"}},
            r"^strategy.type 'BlueGreen' is not a strategy type; use one of Rolling, Recreate, Custom$",
        ),
        Row(
            "unknown-strategy-key",
            "rollout",
            {"definition": d(ns), "strategy": rolling(maxSurg=1)},
            r"unknown key 'maxSurg' \(did you mean 'maxSurge'\?\)",
        ),
        Row(
            "mid-hook-on-rolling",
            "rollout",
            {"definition": d(ns), "strategy": rolling(mid=HOOK)},
            r"strategy.rollingParams.*mid",
        ),
        Row(
            "unknown-hook-container",
            "rollout",
            {
                "definition": d(ns),
                "strategy": rolling(pre={"execNewPod": {"containerName": "db", "command": ["x"]}}),
            },
            r"container 'db' is not a container of the pod template; containers: app",
        ),
        Row(
            "unknown-hook-volume",
            "rollout",
            {
                "definition": d(ns),
                "strategy": rolling(
                    pre={"execNewPod": {"containerName": "app", "command": ["x"], "volumes": ["data"]}}
                ),
            },
            r"volume 'data' is not a volume of the pod template; the pod template has no volumes",
        ),
        Row(
            "hook-without-command",
            "rollout",
            {"definition": d(ns), "strategy": rolling(pre={"execNewPod": {"containerName": "app"}})},
            r"^strategy.rollingParams.pre.execNewPod.command is required",
        ),
        Row(
            "bad-failure-policy",
            "rollout",
            {"definition": d(ns), "strategy": rolling(pre={**HOOK, "failurePolicy": "Sometimes"})},
            r"failurePolicy 'Sometimes' is not a failure policy; use one of Abort, Retry, Ignore$",
        ),
        Row(
            "custom-without-image-or-command",
            "rollout",
            {"definition": d(ns), "strategy": {"type": "Custom", "customParams": {}}},
            r"customParams needs image or command",
        ),
        Row(
            "deadline-below-timeout",
            "rollout",
            {
                "definition": d(ns),
                "strategy": {
                    "type": "Rolling",
                    "activeDeadlineSeconds": 5,
                    "rollingParams": {"timeoutSeconds": 60},
                },
            },
            r"activeDeadlineSeconds",
        ),
        Row(
            "stop-before-without-wait",
            "rollout",
            {"definition": d(ns), "stop_before": "mid", "wait": False},
            r"^stop_before needs wait=true",
        ),
        Row(
            "name-mode-missing-deployment",
            "rollout",
            {"name": "nope", "namespace": ns, "images": {"app": "x:1"}},
            r"Deployment .*/nope not found; give its definition to create it",
        ),
        Row(
            "name-mode-nothing-to-change",
            "rollout",
            {"name": "web", "namespace": ns},
            r"^nothing to change: with name, give images, replicas, strategy or change_cause",
        ),
        Row(
            "image-empty",
            "rollout",
            {"name": "web", "namespace": ns, "images": {"app": " "}},
            r"^images.app must be an image reference, got ' '$",
        ),
        # --- rollout_info ---
        # namespace defaults to default, as in every module
        Row(
            "info-no-namespace",
            "rollout_info",
            {"name": "openrollout-no-such-app"},
            r"^Deployment default/openrollout-no-such-app not found$",
        ),
        Row(
            "info-wrong-kind",
            "rollout_info",
            {"namespace": ns, "kind": "CronJob"},
            r"value of kind must be one of: Deployment, StatefulSet, DaemonSet, got: CronJob",
        ),
        Row(
            "info-missing-deployment",
            "rollout_info",
            {"namespace": ns, "name": "nope"},
            r"^Deployment .*/nope not found$",
        ),
        Row(
            "info-revision-zero",
            "rollout_info",
            {"namespace": ns, "name": "web", "revision": 0},
            r"^revision must be 1 or more, got 0$",
        ),
        Row(
            "info-revision-unknown",
            "rollout_info",
            {"namespace": ns, "name": "web", "revision": 99},
            r"revision 99 .*available",
        ),
        Row(
            "info-revision-without-name",
            "rollout_info",
            {"namespace": ns, "revision": 1},
            r"missing parameter\(s\) required by 'revision': name",
        ),
        Row(
            "info-bad-selector",
            "rollout_info",
            {"namespace": ns, "label_selectors": ["app in (web"]},
            r"^listing Deployments in .*: 400 .*",
        ),
        # --- rollout_undo ---
        Row(
            "undo-unknown-revision",
            "rollout_undo",
            {"namespace": ns, "name": "web", "to_revision": 99},
            r"revision 99 .*available",
        ),
        Row(
            "undo-negative-revision",
            "rollout_undo",
            {"namespace": ns, "name": "web", "to_revision": -1},
            r"^to_revision must be 1 or more \(or 0 for the previous revision\), got -1$",
        ),
        Row(
            "undo-paused",
            "rollout_undo",
            {"namespace": ns, "name": "held"},
            r"^you cannot roll back a paused deployment; resume .*held first",
        ),
        Row(
            "undo-missing",
            "rollout_undo",
            {"namespace": ns, "name": "nope"},
            r"^Deployment .*/nope not found$",
        ),
        Row(
            "undo-wrong-kind",
            "rollout_undo",
            {"namespace": ns, "name": "web", "kind": "Pod"},
            r"value of kind must be one of: Deployment, StatefulSet, DaemonSet, got: Pod",
        ),
        Row("undo-no-name", "rollout_undo", {"namespace": ns}, r"^missing required arguments: name$"),
        # --- rollout_control ---
        Row(
            "control-unknown-action",
            "rollout_control",
            {"namespace": ns, "name": "web", "action": "explode"},
            r"value of action must be one of: pause, resume, restart, retry, cancel, got: explode",
        ),
        Row(
            "control-pause-statefulset",
            "rollout_control",
            {"namespace": ns, "name": "web", "kind": "StatefulSet", "action": "pause"},
            r"^action pause is for Deployments: a StatefulSet has no spec.paused",
        ),
        Row(
            "control-missing",
            "rollout_control",
            {"namespace": ns, "name": "nope", "action": "pause"},
            r"^Deployment .*/nope not found$",
        ),
        Row(
            "control-restart-paused",
            "rollout_control",
            {"namespace": ns, "name": "held", "action": "restart"},
            r"paused",
        ),
        Row(
            "control-timeout-zero",
            "rollout_control",
            {"namespace": ns, "name": "web", "action": "restart", "timeout_seconds": 0},
            r"^timeout_seconds must be more than 0 seconds, got 0$",
        ),
        # --- lifecycle_hook ---
        Row(
            "hook-unknown-container",
            "lifecycle_hook",
            {
                "namespace": ns,
                "name": "web",
                "hook": {"execNewPod": {"containerName": "db", "command": ["x"]}},
            },
            r"^hook: container 'db' is not a container of the pod template; containers: app$",
        ),
        Row(
            "hook-unknown-volume",
            "lifecycle_hook",
            {
                "namespace": ns,
                "name": "web",
                "hook": {"execNewPod": {"containerName": "app", "command": ["x"], "volumes": ["data"]}},
            },
            r"^hook: volume 'data' is not a volume of the pod template",
        ),
        Row(
            "hook-tag-images",
            "lifecycle_hook",
            {
                "namespace": ns,
                "name": "web",
                "hook": {"tagImages": [{"containerName": "app", "to": {"name": "web:prod"}}]},
            },
            r"^hook: tagImages is not supported",
        ),
        Row(
            "hook-bad-phase",
            "lifecycle_hook",
            {"namespace": ns, "name": "web", "phase": "Pre Hook!", "hook": HOOK},
            r"^phase 'Pre Hook!' is not a valid phase name",
        ),
        Row(
            "hook-missing-deployment",
            "lifecycle_hook",
            {"namespace": ns, "name": "nope", "hook": HOOK},
            r"Deployment .*/nope not found",
        ),
        Row(
            "hook-deadline-zero",
            "lifecycle_hook",
            {"namespace": ns, "name": "web", "hook": HOOK, "active_deadline_seconds": 0},
            r"^active_deadline_seconds must be greater than 0, got 0$",
        ),
        Row(
            "hook-label-not-string",
            "lifecycle_hook",
            {"namespace": ns, "name": "web", "hook": HOOK, "labels": {"team": 3}},
            r"^labels.team must be a string, got 3 \(quote it in YAML\)$",
        ),
        # --- the connection ---
        Row(
            "unreachable-api",
            "rollout_info",
            {**none, "namespace": ns, "host": "https://127.0.0.1:1", "api_key": "not-a-real-token"},
            r"^listing Deployments in .*: cannot reach the API server at https://127.0.0.1:1: "
            r"Failed to establish a new connection: \[Errno 111\] Connection refused$",
            auth="none",
        ),
        Row(
            "bad-token",
            "rollout_info",
            {**none, "namespace": ns, "host": conn["host"], "ca_cert": conn["ca"], "api_key": "not-a-token"},
            r"^listing Deployments in .*: 401 Unauthorized: the API server did not accept the credentials "
            r"\(a wrong, expired or revoked token, client certificate or password\)$",
            auth="none",
        ),
        Row(
            "expired-client-cert",
            "rollout",
            {
                **none,
                "name": "web",
                "namespace": ns,
                "images": {"app": "x:2"},
                "host": conn["host"],
                "ca_cert": conn["ca"],
                "client_cert": conn["expired_cert"],
                "client_key": conn["expired_key"],
            },
            r"^reading Deployment .*/web: 401 Unauthorized: the API server did not accept the credentials",
            auth="none",
        ),
        Row(
            "forbidden-by-rbac",
            "rollout_undo",
            {
                **none,
                "name": "web",
                "namespace": ns,
                "host": conn["host"],
                "ca_cert": conn["ca"],
                "api_key": conn["nobody_token"],
            },
            r"^reading Deployment .*/web: forbidden: needs get on deployments.apps in namespace .* \(user system:serviceaccount:.*:nobody\)$",
            auth="none",
        ),
        Row(
            "unknown-ca",
            "rollout_control",
            {
                **none,
                "name": "web",
                "namespace": ns,
                "action": "pause",
                "host": conn["host"],
                "api_key": conn["nobody_token"],
            },
            r"^reading Deployment .*/web: TLS with the API server failed: .*CERTIFICATE_VERIFY_FAILED.* "
            r"\(verify the server with ca_cert, the cluster's CA; validate_certs: false turns verification off\)$",
            auth="none",
        ),
        Row(
            "kubeconfig-missing",
            "lifecycle_hook",
            {"kubeconfig": "/nonexistent/kubeconfig", "name": "web", "namespace": ns, "hook": HOOK},
            r"^kubeconfig /nonexistent/kubeconfig does not exist$",
            auth="none",
        ),
        Row(
            "unknown-context",
            "rollout_info",
            {"namespace": ns, "context": "no-such-context"},
            r"^cannot load the Kubernetes configuration: .*no-such-context",
        ),
        Row(
            "verify-ssl-env-garbage",
            "rollout_info",
            {"namespace": ns},
            r"^K8S_AUTH_VERIFY_SSL='maybe' is not a boolean \(use true or false\)$",
            environment={"K8S_AUTH_VERIFY_SSL": "maybe"},
        ),
        Row(
            "no-connection-at-all",
            "rollout_info",
            {**none, "namespace": ns},
            r"^no Kubernetes API server: no kubeconfig \(KUBECONFIG, ~/.kube/config\), not in a pod, "
            r"and no host given; give kubeconfig, or host and credentials$",
            auth="none",
        ),
    ]


def expired_certificate(pki: Path, out: Path) -> tuple[str, str]:
    """A client certificate for system:masters, signed by the cluster CA, expired yesterday."""
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "expired-admin"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = out / "expired.crt", out / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def snapshot(api: client.ApiClient, namespace: str) -> list[tuple[str, str, str]]:
    """(kind, name, resourceVersion) of everything a module could write in ``namespace``."""
    apps, core, batch, rbac = (
        client.AppsV1Api(api),
        client.CoreV1Api(api),
        client.BatchV1Api(api),
        client.RbacAuthorizationV1Api(api),
    )
    listings = {
        "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "Job": batch.list_namespaced_job,
        "Pod": core.list_namespaced_pod,
        "ServiceAccount": core.list_namespaced_service_account,
        "Role": rbac.list_namespaced_role,
        "RoleBinding": rbac.list_namespaced_role_binding,
    }
    return sorted(
        (kind, obj.metadata.name, obj.metadata.resource_version)
        for kind, list_fn in listings.items()
        for obj in list_fn(namespace).items
    )


def settled(deployment: client.V1Deployment) -> bool:
    status = deployment.status
    return (
        status is not None
        and (status.observed_generation or 0) >= (deployment.metadata.generation or 0)
        and (
            deployment.spec.paused
            or (status.updated_replicas == status.available_replicas == status.replicas == 2)
        )
    )


@pytest.fixture
def app(namespace, apps_v1, core_v1, k8s_api, wait_for, watch_until) -> str:
    """`web` and `held` (paused), each at revision 2 with 2 available pods, and nothing moving."""
    for name in ("web", "held"):
        body = definition(namespace)
        body["metadata"]["name"] = name
        body["spec"]["selector"] = {"matchLabels": {"app": name}}
        body["spec"]["template"]["metadata"]["labels"] = {"app": name}
        apps_v1.create_namespaced_deployment(namespace, body)
        wait_for(
            lambda d, n=name: d.metadata.name == n and settled(d),
            apps_v1.list_namespaced_deployment,
            60,
            namespace=namespace,
        )
        apps_v1.patch_namespaced_deployment(
            name,
            namespace,
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "image": "registry.example/web:v2"}]}
                    }
                }
            },
        )
        wait_for(
            lambda d, n=name: (
                d.metadata.name == n
                and d.metadata.annotations.get("deployment.kubernetes.io/revision") == "2"
                and settled(d)
            ),
            apps_v1.list_namespaced_deployment,
            60,
            namespace=namespace,
        )
    apps_v1.patch_namespaced_deployment("held", namespace, {"spec": {"paused": True}})
    wait_for(
        lambda d: (
            d.metadata.name == "held"
            and d.status.observed_generation == d.metadata.generation
            and any(c.reason == "DeploymentPaused" for c in d.status.conditions or [])
        ),
        apps_v1.list_namespaced_deployment,
        60,
        namespace=namespace,
    )
    # Old pods gone: 4 pods, none terminating.
    watch_until(
        core_v1.list_namespaced_pod,
        lambda pods: (len(pods) == 4 and not any(p.metadata.deletion_timestamp for p in pods)) or None,
        60,
        namespace=namespace,
    )
    return namespace


@pytest.fixture
def connection(cluster, namespace, core_v1, tmp_path) -> dict[str, Any]:
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    pki = Path(cluster.kubeconfig).parent / "pki"
    core_v1.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token = core_v1.create_namespaced_service_account_token(
        "nobody",
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        ),
    ).status.token
    cert, key = expired_certificate(pki, tmp_path)
    return {
        "host": kubeconfig["clusters"][0]["cluster"]["server"],
        "ca": str(pki / "ca.crt"),
        "nobody_token": token,
        "expired_cert": cert,
        "expired_key": key,
    }


def test_bad_input_gives_a_clear_message_and_changes_nothing(app, connection, cluster, k8s_api):
    table = rows(app, connection)
    assert len(table) >= 40
    tasks = []
    for row in table:
        args = dict(row.args)
        if row.auth == "admin":
            args.setdefault("kubeconfig", str(cluster.kubeconfig))
        tasks.append(Task(row.module, args, row.environment))

    before = snapshot(k8s_api, app)
    run = run_tasks(tasks)
    after = snapshot(k8s_api, app)

    problems = []
    for row, result in zip(table, run.results):
        msg = str(result.get("msg", ""))
        text = json.dumps(result)
        if not result.get("failed"):
            problems.append(f"{row.id}: did not fail: {text[:300]}")
        elif not re.search(row.msg, msg):
            problems.append(f"{row.id}: msg {msg!r} does not match {row.msg!r}")
        if "Traceback" in text:
            problems.append(f"{row.id}: traceback in the result: {text[:500]}")
        # ansible-core >= 2.19 puts "(traceback unavailable)" there when the module gave none.
        if result.get("exception", NO_TRACEBACK) != NO_TRACEBACK:
            problems.append(f"{row.id}: exception in the result: {str(result['exception'])[:300]}")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(
        "".join(
            json.dumps({"row": row.id, "module": row.module, "msg": result.get("msg")}) + "\n"
            for row, result in zip(table, run.results)
        )
    )
    assert not problems, "\n".join(problems)
    assert "Traceback" not in run.output
    assert after == before, "a bad input changed the namespace"
