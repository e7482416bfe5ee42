"""Run each tool the way a user does, and time it from the outside.

- ``ours``: ``ansible-playbook`` with an ``openrollout.k8s.rollout`` task.
- ``kcore``: ``ansible-playbook`` with a ``kubernetes.core.k8s`` task, ``wait: true``.
- ``kubectl``: ``kubectl apply -f`` then ``kubectl rollout status`` (the floor).

Every process runs under a ``Sampler`` thread that reads the kernel's peak-RSS mark (``VmHWM`` in
/proc/<pid>/status) of the tool's working processes every 50 ms: the module process (the
``AnsiballZ_<module>.py`` interpreter, where the module runs) for Ansible, the kubectl process
for kubectl. VmHWM is the kernel's own high-water mark, so sampling misses at most the growth of
the last 50 ms of a process, not a short peak in the middle.

Ansible tasks are timed by bench/callback_plugins/bench_timing.py: the task's start and the
moment its result reached ansible-playbook.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = VENV_BIN / "ansible-playbook"
COLLECTIONS_PATH = f"{REPO_ROOT / 'build'}:{REPO_ROOT / 'build' / 'bench-collections'}"
SAMPLE_SECONDS = 0.05

JSONDict = Dict[str, Any]

# The tools run_process has running, from any thread: killed when the bench is stopped (run.py's
# Stop), so that a SIGTERM leaves no playbook working on a namespace being deleted.
_RUNNING: Set[subprocess.Popen[bytes]] = set()


def kill_running() -> None:
    for process in list(_RUNNING):
        with contextlib.suppress(OSError):
            process.kill()


@dataclass
class Sampler:
    """Peak RSS (VmHWM, KiB) of the descendants of ``root`` whose command line contains ``marker``."""

    root: int
    marker: Optional[str]
    peaks: Dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in _descendants(self.root, include_root=self.marker is None):
                if self.marker is not None:
                    command = _cmdline(pid)
                    # the interpreter running the module, not the /bin/sh -c that starts it
                    if self.marker not in command or "python" not in command.split(" ", 1)[0]:
                        continue
                peak = _vm_hwm(pid)
                if peak:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), peak)
            self._stop.wait(SAMPLE_SECONDS)


def _descendants(root: int, include_root: bool) -> List[int]:
    found = [root] if include_root else []
    todo = [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as handle:
                    for child in handle.read().split():
                        found.append(int(child))
                        todo.append(int(child))
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class ProcessRun:
    """One process, timed from outside: wall-clock start and end, exit code, peak RSS per process."""

    command: List[str]
    start: float
    end: float
    returncode: int
    peaks_kib: List[int]
    stdout: str
    stderr: str

    @property
    def wall(self) -> float:
        return self.end - self.start


def run_process(
    command: Sequence[str],
    env: Optional[JSONDict] = None,
    marker: Optional[str] = None,
    timeout: float = 1800,
) -> ProcessRun:
    """Run ``command``; sample the peak RSS of its processes whose command line has ``marker``
    (or of the process itself without one)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.time()
        process = subprocess.Popen(list(command), stdout=out, stderr=err, env=env)
        _RUNNING.add(process)
        sampler = Sampler(process.pid, marker).start()
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        except BaseException:  # the bench is stopping (SIGTERM, Ctrl-C): not a child left behind
            process.kill()
            process.wait()
            raise
        finally:
            _RUNNING.discard(process)
        end = time.time()
        sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    return ProcessRun(list(command), start, end, returncode, sorted(sampler.peaks.values()), stdout, stderr)


@dataclass
class PlaybookRun:
    process: ProcessRun
    timing: JSONDict

    def results(self, task: str) -> List[JSONDict]:
        return [r for r in self.timing.get("results", []) if r["task"] == task]

    def task_start(self, task: str) -> Optional[float]:
        for entry in self.timing.get("tasks", []):
            if entry["name"] == task:
                return float(entry["start"])
        return None

    def failed(self) -> List[str]:
        return [
            f"{r['host']}: {r['result'].get('msg', r['result'])}"
            for r in self.timing.get("results", [])
            if r["status"] != "ok"
        ]


def ansible_env(timing_file: Path, extra: Optional[JSONDict] = None) -> JSONDict:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_PATH,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_CALLBACK_PLUGINS": str(BENCH_DIR / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timing",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "BENCH_TIMING_FILE": str(timing_file),
        }
    )
    env.update(extra or {})
    return env


def run_playbook(
    work_dir: Path,
    play: List[JSONDict],
    marker: Optional[str],
    inventory: str = "localhost,",
    extra_env: Optional[JSONDict] = None,
) -> PlaybookRun:
    """Write ``play`` to a file and run it with ansible-playbook (connection local)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="play-") as tmp:
        playbook = Path(tmp) / "play.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        timing_file = Path(tmp) / "timing.json"
        inventory_arg = inventory
        if not inventory.endswith(","):
            (Path(tmp) / "inventory.ini").write_text(inventory)
            inventory_arg = str(Path(tmp) / "inventory.ini")
        command = [str(ANSIBLE_PLAYBOOK), "-i", inventory_arg, "-c", "local", str(playbook)]
        process = run_process(command, ansible_env(timing_file, extra_env), marker)
        try:
            timing = json.loads(timing_file.read_text())
        except (OSError, ValueError):
            timing = {}
    if process.returncode != 0 or not timing:
        raise RuntimeError(
            f"ansible-playbook exited {process.returncode}:\n"
            f"{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
        )
    return PlaybookRun(process, timing)


def play(tasks: List[JSONDict], hosts: str = "localhost") -> List[JSONDict]:
    return [{"name": "bench", "hosts": hosts, "gather_facts": False, "tasks": tasks}]


def ours_task(kubeconfig: Path, definition: JSONDict, **extra: Any) -> JSONDict:
    return {
        "name": "rollout",
        "openrollout.k8s.rollout": {"kubeconfig": str(kubeconfig), "definition": definition, **extra},
    }


def kcore_task(kubeconfig: Path, definition: JSONDict) -> JSONDict:
    return {
        "name": "rollout",
        "kubernetes.core.k8s": {
            "kubeconfig": str(kubeconfig),
            "state": "present",
            "definition": definition,
            "wait": True,
            "wait_timeout": 1200,
        },
    }


MODULE_MARKER = {"ours": "AnsiballZ_rollout.py", "kcore": "AnsiballZ_k8s.py"}


@dataclass
class KubectlRun:
    apply: ProcessRun
    status: ProcessRun

    @property
    def start(self) -> float:
        return self.apply.start

    @property
    def end(self) -> float:
        return self.status.end

    @property
    def peaks_kib(self) -> List[int]:
        return self.apply.peaks_kib + self.status.peaks_kib


def run_kubectl(
    kubectl: str, kubeconfig: Path, work_dir: Path, manifests: List[JSONDict], status_args: List[str]
) -> KubectlRun:
    """``kubectl apply -f`` of ``manifests``, then ``kubectl rollout status <status_args>``."""
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=work_dir, suffix=".yaml", delete=False) as handle:
        yaml.safe_dump_all(manifests, handle, sort_keys=False)
        path = handle.name
    try:
        apply = run_process([kubectl, "apply", "-f", path], env)
        if apply.returncode != 0:
            raise RuntimeError(f"kubectl apply failed: {apply.stderr}")
        status = run_process([kubectl, "rollout", "status", *status_args, "--timeout=20m"], env)
        if status.returncode != 0:
            raise RuntimeError(f"kubectl rollout status failed: {status.stderr}")
    finally:
        os.unlink(path)
    return KubectlRun(apply, status)


@dataclass
class KubectlUndoRun:
    """The manual rollback: ``kubectl apply``, ``rollout status --timeout`` (failing), ``rollout
    undo`` at once, ``rollout status`` again. ``undo`` and ``status_again`` are None when the first
    ``rollout status`` did not fail (nothing to undo)."""

    apply: ProcessRun
    status: ProcessRun
    undo: Optional[ProcessRun]
    status_again: Optional[ProcessRun]

    @property
    def start(self) -> float:
        return self.apply.start

    @property
    def end(self) -> float:
        last = self.status_again or self.undo or self.status
        return last.end

    @property
    def peaks_kib(self) -> List[int]:
        runs = [self.apply, self.status, self.undo, self.status_again]
        return [peak for run in runs if run is not None for peak in run.peaks_kib]


def run_kubectl_undo(
    kubectl: str, kubeconfig: Path, work_dir: Path, manifest: JSONDict, target: List[str], timeout: str
) -> KubectlUndoRun:
    """What a user or a CI job does by hand when a rollout breaks: ``kubectl apply -f``, then
    ``kubectl rollout status <target> --timeout=<timeout>``; when that fails, ``kubectl rollout undo
    <target>`` right away, then ``kubectl rollout status <target>`` until the old version is back."""
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=work_dir, suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(manifest, handle, sort_keys=False)
        path = handle.name
    try:
        apply = run_process([kubectl, "apply", "-f", path], env)
        if apply.returncode != 0:
            raise RuntimeError(f"kubectl apply failed: {apply.stderr}")
        status = run_process([kubectl, "rollout", "status", *target, f"--timeout={timeout}"], env)
        if status.returncode == 0:
            return KubectlUndoRun(apply, status, None, None)
        undo = run_process([kubectl, "rollout", "undo", *target], env)
        if undo.returncode != 0:
            raise RuntimeError(f"kubectl rollout undo failed: {undo.stderr}")
        again = run_process([kubectl, "rollout", "status", *target, "--timeout=20m"], env)
        if again.returncode != 0:
            raise RuntimeError(f"kubectl rollout status after the undo failed: {again.stderr}")
    finally:
        os.unlink(path)
    return KubectlUndoRun(apply, status, undo, again)
