"""The collection as users get it: `ansible-galaxy collection build`, then `install`, then its modules.

The tarball is built from the checkout (galaxy.yml's build_ignore keeps the tooling out), checked for
what it holds and what it must never hold (the local cluster's kubeconfig, keys and tokens, the
venv, build outputs, changelog fragments; the released changelog is in it), installed into a
directory of its own, and used from there only:
ANSIBLE_COLLECTIONS_PATH names just that directory and sys.path is not scanned, so the checkout's
copy (build/ansible_collections) cannot be the one that runs. `openrollout.k8s.rollout` creates a
Deployment and rolls out a new image on the local cluster, `rollout_info` reads it back, and the
API says the Deployment really rolled out.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Generous: the collection is a few hundred kB; a tarball of megabytes means something got in.
MAX_TARBALL_BYTES = 3 * 1024 * 1024
# Top-level paths of the checkout that are development tooling or local state, never shipped.
NEVER_SHIPPED = {
    ".cluster",
    ".venv",
    ".git",
    ".kube",
    ".ansible",
    ".ci",
    ".hypothesis",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "hack",
    "bench",
    "Makefile",
    "pyproject.toml",
    "requirements-dev.txt",
}
MUST_SHIP = {
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "meta/runtime.yml",
    "plugins/doc_fragments/auth.py",
    "plugins/modules/rollout.py",
    "plugins/modules/rollout_info.py",
    "plugins/action/rollout.py",  # src and template found on the controller (test_new_user_path.py)
    "plugins/plugin_utils/_definition_action.py",
    "plugins/module_utils/_client.py",
    "roles/deploy/meta/argument_specs.yml",
    "changelogs/config.yaml",
}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("galaxy-build")
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", str(out), cwd=REPO_ROOT)
    (built,) = out.glob("openrollout-k8s-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def installed(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory to put on ANSIBLE_COLLECTIONS_PATH, with only the installed tarball in it."""
    root = tmp_path_factory.mktemp("galaxy-install")
    # --offline: the collection has no dependencies, and Galaxy is never asked for anything. Only this
    # directory is searched: a copy installed elsewhere (~/.ansible/collections) must not make it
    # "already installed".
    run(
        BIN / "ansible-galaxy",
        "collection",
        "install",
        "--offline",
        "-p",
        str(root),
        str(tarball),
        env=installed_env(root),
    )
    return root


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, (
        f"{command[:3]} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def installed_env(installed: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(installed),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
    }


def cluster_secrets(kubeconfig: Path) -> list[bytes]:
    """The local cluster's credentials as they could appear in a file: tokens, keys, certificates."""
    config = yaml.safe_load(kubeconfig.read_text())
    found: list[bytes] = []
    for user in config.get("users") or []:
        for key, value in (user.get("user") or {}).items():
            if not isinstance(value, str) or not value:
                continue
            found.append(value.encode())
            if key.endswith("-data"):
                found.append(base64.b64decode(value))
    return found


def test_tarball_is_sane(tarball: Path, cluster: Any) -> None:
    assert tarball.stat().st_size < MAX_TARBALL_BYTES, tarball.stat().st_size
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        names = {m.name for m in members}
        contents = {m.name: archive.extractfile(m).read() for m in members}  # type: ignore[union-attr]

    assert sorted(MUST_SHIP - names) == []
    shipped_tooling = sorted(n for n in names if n.split("/", 1)[0] in NEVER_SHIPPED)
    assert shipped_tooling == []
    assert sorted(n for n in names if "__pycache__" in n or n.endswith((".pyc", ".tar.gz"))) == []
    assert (
        sorted(n for n in names if Path(n).name in ("kubeconfig", "config") or n.endswith((".key", ".pem")))
        == []
    )

    # No private key, and none of the local cluster's credentials, in any file. Only the names of the
    # files are reported, never what matched.
    secrets = cluster_secrets(cluster.kubeconfig)
    assert secrets, "the local cluster's kubeconfig has credentials to look for"
    private_key = b"PRIVATE" + b" KEY-----"  # split, so that this file does not match itself
    with_key = sorted(n for n, data in contents.items() if private_key in data)
    with_secret = sorted(n for n, data in contents.items() if any(s in data for s in secrets))
    assert with_key == []
    assert with_secret == []

    manifest = json.loads(contents["MANIFEST.json"])["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("openrollout", "k8s")
    assert manifest["dependencies"] == {}


def test_tarball_ships_the_released_changelog(tarball: Path) -> None:
    # As collections ship their notes: `antsibull-changelog release` folds the fragments into
    # changelogs/changelog.yaml and CHANGELOG.rst. Fragments left in the checkout are the next
    # release's, and stay out of the tarball. No cluster needed.
    with tarfile.open(tarball) as archive:
        names = {m.name for m in archive.getmembers() if m.isfile()}
        assert sorted({"CHANGELOG.rst", "changelogs/changelog.yaml"} - names) == []
        changelog = yaml.safe_load(archive.extractfile("changelogs/changelog.yaml").read())  # type: ignore[union-attr]
        notes = archive.extractfile("CHANGELOG.rst").read().decode()  # type: ignore[union-attr]
        manifest = json.loads(archive.extractfile("MANIFEST.json").read())["collection_info"]  # type: ignore[union-attr]

    assert sorted(n for n in names if n.startswith("changelogs/fragments/")) == []
    released = sorted(changelog["releases"], key=Version)
    assert released, "changelogs/changelog.yaml has a release"
    # galaxy.yml has the version released last, or the next one being worked on.
    assert Version(released[-1]) <= Version(manifest["version"])
    for version in released:
        assert f"\nv{version}\n" in notes, f"CHANGELOG.rst has no section for {version}"
    first = changelog["releases"][released[0]]
    assert first["changes"]["release_summary"]
    assert first["modules"], "the first release lists its modules"


def test_installed_copy_is_the_one_used(installed: Path) -> None:
    collection = installed / "ansible_collections" / "openrollout" / "k8s"
    assert (collection / "MANIFEST.json").is_file()
    env = installed_env(installed)
    # Every installed file matches the checksums of the tarball's FILES.json.
    run(BIN / "ansible-galaxy", "collection", "verify", "--offline", "openrollout.k8s", env=env)
    listing = run(
        BIN / "ansible-galaxy", "collection", "list", "openrollout.k8s", "--format", "json", env=env
    )
    assert list(json.loads(listing)) == [str(installed / "ansible_collections")]
    doc = json.loads(run(BIN / "ansible-doc", "-t", "module", "--json", "openrollout.k8s.rollout", env=env))
    assert Path(doc["openrollout.k8s.rollout"]["doc"]["filename"]).is_relative_to(collection)


def test_installed_modules_roll_out(installed: Path, run_task, namespace: str, apps_v1) -> None:
    env = {"ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}
    definition = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/web:v1"}]},
            },
        },
    }
    created = run_task("rollout", {"definition": definition, "change_cause": "v1"}, env=env)
    assert not created.get("failed"), created.get("msg")
    assert created["changed"] is True
    assert created["revision"] == 1

    updated = run_task(
        "rollout",
        {
            "name": "web",
            "namespace": namespace,
            "images": {"app": "registry.example/web:v2"},
            "change_cause": "v2",
            "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0}},
        },
        env=env,
    )
    assert not updated.get("failed"), updated.get("msg")
    assert updated["changed"] is True
    assert (updated["previous_revision"], updated["revision"]) == (1, 2)
    assert updated["timeline"][-1]["event"] == "complete"

    info = run_task("rollout_info", {"name": "web", "namespace": namespace}, env=env)
    assert not info.get("failed"), info.get("msg")
    (rollout,) = info["rollouts"]
    assert rollout["status"]["done"] is True
    assert rollout["current_revision"] == 2
    assert [(h["revision"], h["change_cause"]) for h in rollout["history"]] == [(1, "v1"), (2, "v2")]

    # What the API says, not what the module says.
    live = apps_v1.read_namespaced_deployment("web", namespace)
    assert live.spec.template.spec.containers[0].image == "registry.example/web:v2"
    assert live.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert live.status.observed_generation == live.metadata.generation
    assert (live.status.updated_replicas, live.status.available_replicas, live.status.replicas) == (3, 3, 3)
