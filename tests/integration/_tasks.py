"""Many tasks in one ansible-playbook run (test_bad_input.py, test_rbac.py).

ansible-playbook takes 1-2 s to start; a table of 50 rows run one playbook each would spend most of
its time starting up. `run_tasks(tasks)` writes one playbook with every task (`ignore_errors`,
registered), runs it once, and returns each task's registered result plus the whole output.

Unlike `_ansible.run_task`, nothing is added to a task's arguments: rows choose their own
connection (kubeconfig, or host + api_key + ca_cert) and the K8S_AUTH_* variables of the calling
environment are dropped, so only what a row says reaches the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@dataclass
class Task:
    """One task: ``module`` (short name in openrollout.k8s, or an FQCN), its ``args``, and
    task-level ``environment`` (K8S_AUTH_* variables for the module)."""

    module: str
    args: dict[str, Any]
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    results: list[dict[str, Any]]
    output: str
    returncode: int


def run_tasks(
    tasks: list[Task],
    *,
    verbosity: int = 0,
    check: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> Run:
    """Run ``tasks`` in one play on localhost; every result comes back, failed or not.

    ``env``: variables for the ansible-playbook process (and so for the modules), such as an
    AWX credential injects; unlike a task's ``environment``, Ansible does not print them.
    """
    with tempfile.TemporaryDirectory(prefix="openrollout-tasks-") as tmp:
        result_file = Path(tmp) / "results.json"
        plays_tasks: list[dict[str, Any]] = []
        for i, task in enumerate(tasks):
            fqcn = task.module if "." in task.module else f"openrollout.k8s.{task.module}"
            entry: dict[str, Any] = {
                "name": f"row {i}",
                fqcn: task.args,
                "register": f"row_{i}",
                "ignore_errors": True,
            }
            if task.environment:
                entry["environment"] = task.environment
            plays_tasks.append(entry)
        names = ", ".join(f"row_{i}" for i in range(len(tasks)))
        plays_tasks.append(
            {
                "name": "keep the results",
                "ansible.builtin.copy": {
                    "content": f"{{{{ [{names}] | to_json }}}}",
                    "dest": str(result_file),
                },
                "check_mode": False,
                "diff": False,
            }
        )
        playbook = Path(tmp) / "play.yml"
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": plays_tasks}]
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        command = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)]
        if verbosity:
            command.append("-" + "v" * verbosity)
        if check:
            command.append("--check")
        environ = {key: value for key, value in os.environ.items() if not key.startswith("K8S_AUTH_")}
        environ.pop("KUBECONFIG", None)
        environ.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "build"),
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                "ANSIBLE_NOCOLOR": "1",
                # No ~/.kube/config either: a row that gives no connection must not find one.
                "HOME": tmp,
                **(env or {}),
            }
        )
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, env=environ
        )
        output = completed.stdout + completed.stderr
        try:
            results = list(json.loads(result_file.read_text()))
        except (OSError, ValueError):
            raise AssertionError(f"ansible-playbook exited {completed.returncode}:\n{output}") from None
    return Run(results, output, completed.returncode)
