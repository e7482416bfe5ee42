"""Run this collection's modules the way users do: a task in a playbook, through ansible-playbook.

`run_task(module, args, kubeconfig, check=..., diff=...)` writes a playbook with the task, runs it
with the venv's ansible-playbook against localhost, and returns the task's registered result as a
dict, with `failed`/`changed`/`msg` as Ansible reports them (a second task writes it to a file). The collection is
found through build/ansible_collections (a symlink to the repository, see tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_PATH = REPO_ROOT / "build"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


class AnsibleRunError(AssertionError):
    """ansible-playbook itself broke (not a task failure): its output is in the message."""


def run_task(
    module: str,
    args: dict[str, Any],
    kubeconfig: Path | str,
    *,
    check: bool = False,
    diff: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run `module` with `args` (kubeconfig added) as one task; return the task's result."""
    fqcn = module if "." in module else f"openrollout.k8s.{module}"
    with tempfile.TemporaryDirectory(prefix="openrollout-play-") as tmp:
        result_file = Path(tmp) / "result.json"
        task = {
            "name": "under test",
            fqcn: {"kubeconfig": str(kubeconfig), **args},
            "register": "under_test",
            "ignore_errors": True,
        }
        keep = {
            "name": "keep the result",
            "ansible.builtin.copy": {"content": "{{ under_test | to_json }}", "dest": str(result_file)},
            "check_mode": False,
            "diff": False,
        }
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [task, keep]}]
        playbook = Path(tmp) / "play.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        command = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={
                **os.environ,
                "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                "ANSIBLE_NOCOLOR": "1",
                **(env or {}),
            },
        )
        try:
            result = dict(json.loads(result_file.read_text()))
        except (OSError, ValueError):
            raise AnsibleRunError(
                f"ansible-playbook exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
            ) from None
    result["_stdout"] = completed.stdout
    return result
