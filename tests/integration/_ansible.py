"""Run this collection's modules the way users do: a task in a playbook, through ansible-playbook.

`run_task(module, args, kubeconfig, check=..., diff=...)` writes a playbook with the task, runs it
with the venv's ansible-playbook against localhost, and returns the task's registered result as a
dict, with `failed`/`changed`/`msg` as Ansible reports them (a second task writes it to a file). The collection is
found through build/ansible_collections (a symlink to the repository, see tests/conftest.py).
`start_task(...)` starts the same playbook without waiting, in a process group of its own, for the
tests that kill it (test_interruption.py) or run two at once (test_concurrency.py).
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


def _playbook(module: str, args: dict[str, Any], kubeconfig: Path | str, tmp: Path) -> tuple[Path, Path]:
    """Write the playbook (the task, then a task that keeps its result); return it and the result's path."""
    fqcn = module if "." in module else f"openrollout.k8s.{module}"
    result_file = tmp / "result.json"
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
    playbook = tmp / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    return playbook, result_file


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }


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
    with tempfile.TemporaryDirectory(prefix="openrollout-play-") as tmp:
        playbook, result_file = _playbook(module, args, kubeconfig, Path(tmp))
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
            env=_environment(env),
        )
        try:
            result = dict(json.loads(result_file.read_text()))
        except (OSError, ValueError):
            raise AnsibleRunError(
                f"ansible-playbook exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
            ) from None
    result["_stdout"] = completed.stdout
    return result


class StartedTask:
    """An ansible-playbook run started by `start_task`, in a process group of its own (pgid == pid)."""

    def __init__(self, process: subprocess.Popen[bytes], tmp: Path, result_file: Path) -> None:
        self.process = process
        self.tmp = tmp
        self.result_file = result_file

    @property
    def pid(self) -> int:
        return self.process.pid

    def result(self, timeout: float = 600) -> dict[str, Any]:
        """Wait for the run; its task's result, as run_task returns it."""
        self.process.wait(timeout=timeout)
        output = (self.tmp / "output.txt").read_text(errors="replace")
        try:
            result = dict(json.loads(self.result_file.read_text()))
        except (OSError, ValueError):
            raise AnsibleRunError(f"ansible-playbook exited {self.process.returncode}:\n{output}") from None
        result["_stdout"] = output
        return result


def start_task(
    module: str, args: dict[str, Any], kubeconfig: Path | str, tmp: Path, *, env: dict[str, str] | None = None
) -> StartedTask:
    """Start the same playbook as run_task without waiting, in its own session: it can be killed as a group."""
    playbook, result_file = _playbook(module, args, kubeconfig, tmp)
    with (tmp / "output.txt").open("wb") as output:
        process = subprocess.Popen(
            [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=_environment(env),
            start_new_session=True,
        )
    return StartedTask(process, tmp, result_file)
