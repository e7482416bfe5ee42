"""Least privilege (issue 8, part 6): each module runs with exactly the Role docs/rbac.md gives it.

The Roles are read from docs/rbac.md (the `<!-- role: NAME -->` yaml blocks), so the document and
the proof cannot drift apart. For each one: a ServiceAccount, that Role, a RoleBinding and a token
from the TokenRequest API; the modules run with `host`, `api_key` and `ca_cert` only (no
kubeconfig anywhere: _tasks.run_tasks drops K8S_AUTH_* and HOME).

- test_each_module_works_with_its_documented_role: a whole life in one playbook, each task with
  the token of its module's Role: create, update with pre/post hooks, read, undo, pause, resume,
  restart, a hook on its own, a Custom rollout. Hook pods mount no token unless the hook asks.
- test_one_verb_less_is_refused_with_the_verb_named: the same Roles with one verb taken away; each
  task fails with "forbidden: needs <verb> on <resource> in namespace <ns> (user ...)".
- test_secrets_never_appear_even_at_vvvv: a token (as api_key, in K8S_AUTH_API_KEY, inside a
  kubeconfig given as a dict) and a password, at -vvvv; none of them in the output or the results.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from _tasks import Task, run_tasks
from kubernetes import client

REPO_ROOT = Path(__file__).resolve().parents[2]
RBAC_DOC = REPO_ROOT / "docs" / "rbac.md"
HOOK = {"execNewPod": {"containerName": "app", "command": ["/bin/true"]}}


def documented_roles() -> dict[str, list[dict[str, Any]]]:
    """NAME -> rules, from the `<!-- role: NAME -->` blocks of docs/rbac.md."""
    found = re.findall(r"<!-- role: (\S+) -->\s*```yaml\n(.*?)```", RBAC_DOC.read_text(), re.S)
    return {name: yaml.safe_load(body)["rules"] for name, body in found}


def without(rules: list[dict[str, Any]], resource: str, verb: str) -> list[dict[str, Any]]:
    """``rules`` with ``verb`` taken away from ``resource`` (and nothing else)."""
    out = []
    for rule in copy.deepcopy(rules):
        if resource in rule["resources"] and verb in rule["verbs"]:
            rest = [r for r in rule["resources"] if r != resource]
            if rest:
                out.append({**rule, "resources": rest})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                out.append({**rule, "resources": [resource], "verbs": verbs})
        else:
            out.append(rule)
    assert out != rules, f"{verb} on {resource} is not in the role"
    return out


class Grants:
    """ServiceAccounts bound to Roles in one namespace, and their tokens."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.core = client.CoreV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.namespace = namespace

    def token(self, name: str, rules: list[dict[str, Any]]) -> str:
        ns = self.namespace
        meta = client.V1ObjectMeta(name=name)
        self.core.create_namespaced_service_account(ns, client.V1ServiceAccount(metadata=meta))
        self.rbac.create_namespaced_role(ns, {"metadata": {"name": name}, "rules": rules})
        self.rbac.create_namespaced_role_binding(
            ns,
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            },
        )
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        )
        return str(self.core.create_namespaced_service_account_token(name, ns, request).status.token)


@pytest.fixture
def grants(k8s_api, namespace) -> Grants:
    return Grants(k8s_api, namespace)


@pytest.fixture
def server(cluster) -> dict[str, str]:
    """host and ca_cert: what a task needs besides a token."""
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    return {
        "host": kubeconfig["clusters"][0]["cluster"]["server"],
        "ca_cert": str(Path(cluster.kubeconfig).parent / "pki" / "ca.crt"),
    }


def web(namespace: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def failures(run, names: list[str]) -> list[str]:
    return [f"{name}: {r.get('msg')}" for name, r in zip(names, run.results) if r.get("failed")]


def test_each_module_works_with_its_documented_role(grants, server, namespace, k8s_api, batch_v1, core_v1):
    roles = documented_roles()
    assert set(roles) >= {
        "rollout",
        "rollout-hooks",
        "rollout-custom",
        "rollout_info",
        "rollout_undo",
        "rollout_control",
        "lifecycle_hook",
    }
    token = {name: grants.token(name.replace("_", "-"), rules) for name, rules in roles.items()}

    def task(module: str, role: str, **args: Any) -> Task:
        return Task(module, {"namespace": namespace, **server, "api_key": token[role], **args})

    rolling_hooks = {"type": "Rolling", "rollingParams": {"pre": HOOK, "post": HOOK}}
    steps = [
        ("create", task("rollout", "rollout", definition=web(namespace, "web:v1"))),
        (
            "hooks",
            task("rollout", "rollout-hooks", definition=web(namespace, "web:v2"), strategy=rolling_hooks),
        ),
        ("info", task("rollout_info", "rollout_info", name="web", revision=2)),
        ("undo", task("rollout_undo", "rollout_undo", name="web")),
        ("pause", task("rollout_control", "rollout_control", name="web", action="pause")),
        ("resume", task("rollout_control", "rollout_control", name="web", action="resume")),
        ("restart", task("rollout_control", "rollout_control", name="web", action="restart")),
        (
            "hook",
            task(
                "lifecycle_hook",
                "lifecycle_hook",
                name="web",
                phase="smoke",
                hook={"execNewPod": {**HOOK["execNewPod"], "automountServiceAccountToken": True}},
            ),
        ),
        (
            "custom",
            task(
                "rollout",
                "rollout-custom",
                definition=web(namespace, "web:v3"),
                strategy={"type": "Custom", "customParams": {"command": ["/bin/deploy"]}},
            ),
        ),
    ]
    names = [step[0] for step in steps]
    run = run_tasks([step[1] for step in steps])
    assert not failures(run, names), "\n".join(failures(run, names))
    results = dict(zip(names, run.results))
    assert results["create"]["changed"] and results["create"]["revision"] == 1
    assert [h["phase"] for h in results["hooks"]["hooks"]] == ["pre", "post"]
    assert all(h["succeeded"] for h in results["hooks"]["hooks"])
    assert results["info"]["rollouts"][0]["name"] == "web"
    assert results["undo"]["changed"] and results["undo"]["rolled_back_to"] == 1
    assert results["hook"]["hook"]["succeeded"] is True
    assert results["custom"]["revision"] == 5

    # Hook pods: no service account token, except the one hook that asked for it.
    jobs = {j.metadata.name: j for j in batch_v1.list_namespaced_job(namespace).items}
    pods = core_v1.list_namespaced_pod(namespace, label_selector="openrollout.k8s/hook").items
    mounted = {}
    for pod in pods:
        job = pod.metadata.labels.get("job-name") or pod.metadata.labels.get("batch.kubernetes.io/job-name")
        volumes = [v.name for v in pod.spec.volumes or []]
        mounted[job] = any(name.startswith("kube-api-access") for name in volumes)
    assert set(mounted) >= {"web-2-hook-pre", "web-2-hook-post", "web-4-hook-smoke"}, sorted(jobs)
    assert mounted["web-2-hook-pre"] is False
    assert mounted["web-2-hook-post"] is False
    assert mounted["web-4-hook-smoke"] is True
    assert jobs["web-2-hook-pre"].spec.template.spec.automount_service_account_token is False


# (role, resource, verb taken away, the task, the message's verb and resource)
REMOVALS = [
    ("rollout", "replicasets", "list", "list on replicasets.apps"),
    ("rollout-hooks", "jobs", "create", "create on jobs.batch"),
    ("rollout-custom", "roles", "create", "create on roles.rbac.authorization.k8s.io"),
    ("rollout_info", "pods", "list", "list on pods"),
    ("rollout_undo", "deployments", "patch", "patch on deployments.apps"),
    ("rollout_control", "deployments", "patch", "patch on deployments.apps"),
    ("lifecycle_hook", "jobs", "watch", "watch on jobs.batch"),
]


def test_one_verb_less_is_refused_with_the_verb_named(grants, server, namespace, apps_v1, wait_for):
    roles = documented_roles()
    apps_v1.create_namespaced_deployment(namespace, web(namespace, "web:v1"))
    wait_for(
        lambda d: (d.status.available_replicas or 0) == 2 and d.status.updated_replicas == 2,
        apps_v1.list_namespaced_deployment,
        60,
        namespace=namespace,
    )
    apps_v1.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:v2"}]}}}},
    )

    tasks, accounts = [], []
    for role, resource, verb, _needed in REMOVALS:
        account = f"{role.replace('_', '-')}-no-{verb}-{resource}".replace(".", "-")
        accounts.append(account)
        args: dict[str, Any] = {
            "namespace": namespace,
            **server,
            "api_key": grants.token(account, without(roles[role], resource, verb)),
        }
        module = role.split("-", maxsplit=1)[0]
        if role == "rollout":
            args.update(name="web", images={"app": "web:v9"})
        elif role == "rollout-hooks":
            args.update(
                definition=web(namespace, "web:v9"),
                strategy={"type": "Rolling", "rollingParams": {"pre": HOOK}},
            )
        elif role == "rollout-custom":
            args.update(
                definition=web(namespace, "web:v9"),
                strategy={"type": "Custom", "customParams": {"command": ["/bin/deploy"]}},
            )
        elif role in ("rollout_info", "rollout_undo"):
            args.update(name="web")
        elif role == "rollout_control":
            args.update(name="web", action="pause")
        elif role == "lifecycle_hook":
            args.update(name="web", hook=HOOK, timeout=30)
        tasks.append(Task(module, args))
    run = run_tasks(tasks)

    problems = []
    for removal, account, result in zip(REMOVALS, accounts, run.results):
        role, needed = removal[0], removal[3]
        msg = str(result.get("msg"))
        expected = f"forbidden: needs {needed} in namespace {namespace} (user system:serviceaccount:{namespace}:{account})"
        if not result.get("failed") or expected not in msg:
            problems.append(f"{role} without {needed}: expected {expected!r} in {msg!r}")
        if "Traceback" in json.dumps(result):
            problems.append(f"{role}: traceback in the result")
    assert not problems, "\n".join(problems)
    # Refused before their first write: web is as it was (the Custom rollout creates the deployer's
    # RBAC before it pauses the Deployment).
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.template.spec.containers[0].image == "web:v2"
    assert not live.spec.paused


def test_secrets_never_appear_even_at_vvvv(grants, server, namespace):
    roles = documented_roles()
    token = grants.token("reader", roles["rollout_info"])
    env_token = grants.token("env-reader", roles["rollout_info"])
    kubeconfig_token = grants.token("kubeconfig-reader", roles["rollout_info"])
    password = f"Pw-{secrets.token_urlsafe(12)}"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": server["host"], "certificate-authority": server["ca_cert"]}}
        ],
        "users": [{"name": "u", "user": {"token": kubeconfig_token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
        "current-context": "x",
    }
    tasks = [
        Task("rollout_info", {"namespace": namespace, **server, "api_key": token}),
        Task("rollout_info", {"namespace": namespace, "kubeconfig": kubeconfig}),
        Task("rollout_info", {"namespace": namespace, **server, "username": "ci", "password": password}),
    ]
    run = run_tasks(tasks, verbosity=4)
    # K8S_AUTH_API_KEY in the process environment, as an AWX credential injects it. (Given with a
    # task's `environment:` keyword, Ansible itself prints it at -vvv: docs/rbac.md warns.)
    from_env = run_tasks(
        [Task("rollout_info", {"namespace": namespace, **server})],
        verbosity=4,
        env={"K8S_AUTH_API_KEY": env_token},
    )

    results = run.results + from_env.results
    assert [bool(r.get("failed")) for r in results] == [False, False, True, False], [
        r.get("msg") for r in results
    ]
    basic = base64.b64encode(f"ci:{password}".encode()).decode()
    everything = run.output + from_env.output + json.dumps(results)
    assert "<localhost> EXEC" in run.output  # -vvvv really was on
    leaks = [
        what
        for what, secret in {
            "api_key": token,
            "K8S_AUTH_API_KEY": env_token,
            "token in a kubeconfig dict": kubeconfig_token,
            "password": password,
            "basic auth header": basic,
        }.items()
        if secret in everything
    ]
    assert not leaks, f"secrets in the output: {leaks}"
    # kube-apiserver has no basic authentication: it ignores the header, the request is anonymous.
    assert "(user system:anonymous)" in run.results[2]["msg"]
