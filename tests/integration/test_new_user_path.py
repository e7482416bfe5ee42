"""The new user's first hour (issue 16), end to end: the collection from its tarball, a role of one's own.

The tarball is built and installed into an empty collections path (test_galaxy_build.py's fixtures),
and only that copy is used. A project as a migrating user has it: `playbooks/deploy.yml` runs the role
`shop`, whose task says `src: files/frontend-dc.yml`, the role's own DeploymentConfig manifest with a
pre and a post hook (a file of the same name in the playbook's `files/`, with another image, must not
be the one found: the role's `files/` comes first, as for ansible.builtin.copy). Then, each as its own
ansible-playbook run, and each checked against the API:

1. deploy: the role's task creates the Deployment from the DC, and runs its pre and post hooks (Jobs).
2. update: `rollout: {name, namespace, images}`, the common CI change: the recorded strategy runs,
   hooks included (issue 16 item 1), as a DeploymentConfig runs its hooks on every deployment.
3. undo: `rollout_undo: {name, namespace}` back to revision 1, with the hooks recorded with it; the
   state annotation of a finished rollout does not come back (item 3).
4. deploy again: the role's file and the cluster agree (revision 3 has revision 1's template): no
   change, no hook.

Hook pods are Jobs' pods, finished by KWOK (exit 0); the app's pods run on KWOK nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from test_galaxy_build import installed, tarball  # noqa: F401  # pylint: disable=unused-import

# installed and tarball are test_galaxy_build's fixtures (build, then install alone), used as arguments.
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
STATE_ANNOTATION = "openrollout.k8s/rollout"
STRATEGY_ANNOTATION = "openrollout.k8s/strategy"
IMAGE = "registry.example/frontend"

DEPLOYMENT_CONFIG = """\
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: frontend
spec:
  replicas: 3
  selector:
    app: frontend
  strategy:
    type: Rolling
    rollingParams:
      maxSurge: 1
      maxUnavailable: 0
      timeoutSeconds: 120
      pre:
        failurePolicy: Abort
        execNewPod:
          containerName: helloworld
          command: [/bin/sh, -c, migrate --up]
          env:
            - name: STEP
              value: pre
      post:
        failurePolicy: Abort
        execNewPod:
          containerName: helloworld
          command: [/bin/sh, -c, smoke-test]
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: helloworld
          image: {image}
  triggers:
    - type: ConfigChange
"""


def keep(register: str, path: Path) -> dict[str, Any]:
    """The task that writes a registered result to a file, for the test to read."""
    return {
        "name": f"Keep {register}",
        "ansible.builtin.copy": {"content": f"{{{{ {register} | to_json }}}}", "dest": str(path)},
        "check_mode": False,
    }


def write_project(root: Path, namespace: str, kubeconfig: Path) -> Path:
    """The user's project: a role with its DC manifest, and one playbook per step. Its results dir."""
    results = root / "results"
    results.mkdir()
    role = root / "playbooks" / "roles" / "shop"
    (role / "tasks").mkdir(parents=True)
    (role / "files").mkdir()
    (role / "files" / "frontend-dc.yml").write_text(DEPLOYMENT_CONFIG.format(image=f"{IMAGE}:1.0"))
    # The same name in the playbook's files/: Ansible looks in the role's files/ first.
    (root / "playbooks" / "files").mkdir()
    (root / "playbooks" / "files" / "frontend-dc.yml").write_text(
        DEPLOYMENT_CONFIG.format(image=f"{IMAGE}:not-the-role-s")
    )
    role_tasks = [
        {
            "name": "Roll out the frontend as its DeploymentConfig says",
            "openrollout.k8s.rollout": {"src": "files/frontend-dc.yml", "namespace": namespace},
            "register": "shop_rollout",
        }
    ]
    (role / "tasks" / "main.yml").write_text(yaml.safe_dump(role_tasks, sort_keys=False))

    def play(name: str, tasks: list[dict[str, Any]], roles: list[str] | None = None) -> None:
        body: dict[str, Any] = {
            "name": name,
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/openrollout.k8s.k8s": {"kubeconfig": str(kubeconfig)}},
        }
        if roles:
            body["roles"] = roles
        body["tasks"] = tasks
        (root / "playbooks" / f"{name}.yml").write_text(yaml.safe_dump([body], sort_keys=False))

    play("deploy", [keep("shop_rollout", results / "deploy.json")], roles=["shop"])
    update = {
        "name": "Roll out version 2.0",
        "openrollout.k8s.rollout": {
            "name": "frontend",
            "namespace": namespace,
            "images": {"helloworld": f"{IMAGE}:2.0"},
        },
        "register": "update",
    }
    play("update", [update, keep("update", results / "update.json")])
    undo = {
        "name": "Back to the previous revision",
        "openrollout.k8s.rollout_undo": {"name": "frontend", "namespace": namespace},
        "register": "undo",
    }
    play("undo", [undo, keep("undo", results / "undo.json")])
    return results


def run_playbook(root: Path, name: str, collections: Path, results: Path, *options: str) -> dict[str, Any]:
    """ansible-playbook playbooks/<name>.yml (with ``options``) from the project's root, with the
    installed copy only; the result its playbook kept in results/<name>.json."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
    }
    (results / f"{name}.json").unlink(missing_ok=True)
    completed = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", f"playbooks/{name}.yml", *options],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, f"{name}.yml exited {completed.returncode}:\n{completed.stdout}"
    return dict(json.loads((results / f"{name}.json").read_text()))


def hook_jobs(batch_v1: client.BatchV1Api, namespace: str) -> dict[str, tuple[list[str], str]]:
    """Each hook Job's name: its command and image."""
    jobs = {}
    for job in batch_v1.list_namespaced_job(namespace).items:
        container = job.spec.template.spec.containers[0]
        jobs[job.metadata.name] = (container.command, container.image)
    return jobs


def ran(result: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(h["phase"], h["job"], h["succeeded"]) for h in result["hooks"]]


def assert_available(
    apps_v1: client.AppsV1Api, namespace: str, image: str, revision: str
) -> client.V1Deployment:
    live = apps_v1.read_namespaced_deployment("frontend", namespace)
    assert [c.image for c in live.spec.template.spec.containers] == [image]
    assert live.metadata.annotations["deployment.kubernetes.io/revision"] == revision
    assert live.status.observed_generation == live.metadata.generation
    assert (live.status.updated_replicas, live.status.available_replicas, live.status.replicas) == (3, 3, 3)
    assert STATE_ANNOTATION not in live.metadata.annotations
    return live


MIGRATE = ["/bin/sh", "-c", "migrate --up"]
SMOKE = ["/bin/sh", "-c", "smoke-test"]


def test_a_role_with_its_deploymentconfig_then_images_then_undo(
    installed: Path,  # noqa: F811
    cluster,
    namespace: str,
    apps_v1: client.AppsV1Api,
    batch_v1: client.BatchV1Api,
    tmp_path: Path,
) -> None:
    results = write_project(tmp_path, namespace, cluster.kubeconfig)

    # 1. The role's task finds files/frontend-dc.yml in the role: the Deployment is created from the
    # DeploymentConfig, and its hooks run around the first revision.
    first = run_playbook(tmp_path, "deploy", installed, results)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True
    assert first["revision"] == 1
    assert ran(first) == [("pre", "frontend-1-hook-pre", True), ("post", "frontend-1-hook-post", True)]
    live = assert_available(apps_v1, namespace, f"{IMAGE}:1.0", "1")
    assert live.spec.selector.match_labels == {"app": "frontend"}
    assert (live.spec.strategy.type, live.spec.strategy.rolling_update.max_surge) == ("RollingUpdate", 1)
    assert '"smoke-test"' in live.metadata.annotations[STRATEGY_ANNOTATION], "the DC's hooks are recorded"
    assert hook_jobs(batch_v1, namespace) == {
        "frontend-1-hook-pre": (MIGRATE, f"{IMAGE}:1.0"),
        "frontend-1-hook-post": (SMOKE, f"{IMAGE}:1.0"),
    }

    # 2. name + images: the strategy recorded from the DC runs, its hooks with the new image.
    update = run_playbook(tmp_path, "update", installed, results)
    assert not update.get("failed"), update.get("msg")
    assert update["changed"] is True
    assert (update["previous_revision"], update["revision"]) == (1, 2)
    assert update["strategy_source"] == "recorded"
    assert ran(update) == [("pre", "frontend-2-hook-pre", True), ("post", "frontend-2-hook-post", True)]
    assert_available(apps_v1, namespace, f"{IMAGE}:2.0", "2")
    assert hook_jobs(batch_v1, namespace) == {
        "frontend-2-hook-pre": (MIGRATE, f"{IMAGE}:2.0"),
        "frontend-2-hook-post": (SMOKE, f"{IMAGE}:2.0"),
    }

    # 3. Undo: back to revision 1's template as revision 3, with the hooks recorded with it.
    undo = run_playbook(tmp_path, "undo", installed, results)
    assert not undo.get("failed"), undo.get("msg")
    assert undo["changed"] is True
    assert (undo["revision"], undo["rolled_back_to"]) == (3, 1)
    assert ran(undo) == [("pre", "frontend-3-hook-pre", True), ("post", "frontend-3-hook-post", True)]
    assert_available(apps_v1, namespace, f"{IMAGE}:1.0", "3")
    assert hook_jobs(batch_v1, namespace) == {
        "frontend-3-hook-pre": (MIGRATE, f"{IMAGE}:1.0"),
        "frontend-3-hook-post": (SMOKE, f"{IMAGE}:1.0"),
    }

    # 4. The role's file is what runs now: running it again changes nothing and runs no hook.
    again = run_playbook(tmp_path, "deploy", installed, results)
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False
    assert again["hooks"] == []
    assert_available(apps_v1, namespace, f"{IMAGE}:1.0", "3")
    assert set(hook_jobs(batch_v1, namespace)) == {"frontend-3-hook-pre", "frontend-3-hook-post"}


WEB_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {{ web_namespace }}
spec:
  replicas: {{ web_replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
{% for name in web_containers %}
        - name: {{ name }}
          image: registry.example/{{ name }}:{{ web_version }}
{% endfor %}
"""


def test_a_role_s_template_check_mode_then_real(
    installed: Path,  # noqa: F811
    cluster,
    namespace: str,
    apps_v1: client.AppsV1Api,
    tmp_path: Path,
) -> None:
    """template: the role's templates/web.yml.j2, rendered with the role's and the run's variables;
    check mode and diff as with a definition (planned, nothing written), then the real run."""
    results = tmp_path / "results"
    results.mkdir()
    role = tmp_path / "playbooks" / "roles" / "web"
    for folder in ("tasks", "templates", "defaults"):
        (role / folder).mkdir(parents=True)
    (role / "templates" / "web.yml.j2").write_text(WEB_TEMPLATE)
    (role / "defaults" / "main.yml").write_text("web_replicas: 2\nweb_containers: [app, sidecar]\n")
    task = {"name": "Roll out web", "openrollout.k8s.rollout": {"template": "web.yml.j2"}, "register": "web"}
    (role / "tasks" / "main.yml").write_text(yaml.safe_dump([task, keep("web", results / "web.json")]))
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/openrollout.k8s.k8s": {"kubeconfig": str(cluster.kubeconfig)}},
        "roles": [{"role": "web", "web_namespace": namespace}],
    }
    (tmp_path / "playbooks" / "web.yml").write_text(yaml.safe_dump([play]))

    planned = run_playbook(tmp_path, "web", installed, results, "--check", "--diff", "-e", "web_version=1")
    assert not planned.get("failed"), planned.get("msg")
    assert planned["changed"] is True
    after = planned["diff"]["after"]
    assert [c["image"] for c in after["spec"]["template"]["spec"]["containers"]] == [
        "registry.example/app:1",
        "registry.example/sidecar:1",
    ]
    assert apps_v1.list_namespaced_deployment(namespace).items == [], "check mode wrote nothing"

    created = run_playbook(tmp_path, "web", installed, results, "-e", "web_version=1")
    assert not created.get("failed"), created.get("msg")
    assert (created["changed"], created["revision"]) == (True, 1)
    updated = run_playbook(tmp_path, "web", installed, results, "-e", "web_version=2")
    assert not updated.get("failed"), updated.get("msg")
    assert (updated["changed"], updated["previous_revision"], updated["revision"]) == (True, 1, 2)
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert [c.image for c in live.spec.template.spec.containers] == [
        "registry.example/app:2",
        "registry.example/sidecar:2",
    ]
    assert (live.spec.replicas, live.status.updated_replicas, live.status.available_replicas) == (2, 2, 2)
