"""Clusters of a test module's own, beside the shared one: N independent control planes on KWOK nodes.

`own_clusters(n, root)` starts N clusters at once with hack/cluster/up.sh (`CLUSTER_STATE_DIR=<root>/c<i>`,
`CLUSTER_REAL_NODE=0`: the real node is the shared cluster's, one per machine; `CLUSTER_PROMETHEUS=0`), each with its own ports,
PKI and kubeconfig, and stops every one of them with down.sh when the `with` block ends, also on a
failure or when one of them does not start. `OwnCluster.kill_apiserver()` stops a cluster's
kube-apiserver until `restore()` (hack/cluster/restart.sh --down-until): the cluster is unreachable
in between, as a cluster whose API server went down is.

The tests of a module that uses them are one xdist group (`pytest.mark.xdist_group`, and make
test-integration runs with --dist loadgroup), so one worker starts them, once.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = REPO_ROOT / "hack" / "cluster"
UP_SECONDS = 600


class ClusterStartError(RuntimeError):
    """up.sh failed for one of the clusters; its output is in the message."""


@dataclass
class OwnCluster:
    name: str
    state: Path
    kubectl_path: Path
    _stopped: list[tuple[subprocess.Popen[str], Path]] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def env(self) -> dict[str, str]:
        return _env(self.state)

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def apiserver_pid(self) -> int:
        """The pid of its kube-apiserver, from the state dir's pid file."""
        return int((self.state / "pids" / "kube-apiserver.pid").read_text().strip())

    def kill_apiserver(self) -> None:
        """SIGKILL its kube-apiserver, and keep it down until restore()."""
        pid = self.apiserver_pid()
        release = self.state / "apiserver-may-start"
        release.unlink(missing_ok=True)
        process = subprocess.Popen(
            [
                str(CLUSTER_DIR / "restart.sh"),
                "kube-apiserver",
                "--signal",
                "KILL",
                "--down-until",
                str(release),
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._stopped.append((process, release))
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: kube-apiserver (pid {pid}) did not stop: {process.communicate()[0]}"
                )
            time.sleep(0.05)

    def restore(self) -> None:
        """Start what kill_apiserver() stopped again, and wait until it serves."""
        while self._stopped:
            process, release = self._stopped.pop()
            release.touch()
            output, _unused = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"{self.name}: restart.sh failed: {output}")


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        return ""
    return ""


def _env(state: Path) -> dict[str, str]:
    """up.sh's environment for a cluster of a test's own: KWOK nodes only, no Prometheus."""
    return {
        **os.environ,
        "CLUSTER_STATE_DIR": str(state),
        "CLUSTER_REAL_NODE": "0",
        "CLUSTER_PROMETHEUS": "0",
    }


def _up(state: Path) -> subprocess.CompletedProcess[str]:
    env = _env(state)
    done = subprocess.run(
        [str(CLUSTER_DIR / "up.sh")], env=env, capture_output=True, text=True, timeout=UP_SECONDS, check=False
    )
    if done.returncode != 0 and "address already in use" in done.stderr:
        # a port taken by something that is not a cluster of ours meanwhile: up.sh says to run it again
        done = subprocess.run(
            [str(CLUSTER_DIR / "up.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=UP_SECONDS,
            check=False,
        )
    return done


def _down(state: Path) -> None:
    env = {**os.environ, "CLUSTER_STATE_DIR": str(state)}
    subprocess.run([str(CLUSTER_DIR / "down.sh")], env=env, capture_output=True, timeout=120, check=False)


@contextmanager
def own_clusters(count: int, root: Path, *, keep: bool = False) -> Iterator[list[OwnCluster]]:
    """`count` clusters under `root` (c1, c2 ...), started in parallel; all stopped at the end unless `keep`
    (then a later run reuses them: up.sh takes a running cluster as it is)."""
    kubectl = Path(
        subprocess.run(
            [str(CLUSTER_DIR / "kubectl-path.sh")], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    clusters = [OwnCluster(f"c{i}", root / f"c{i}", kubectl) for i in range(1, count + 1)]
    try:
        root.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(_up, [c.state for c in clusters]))
        failed = [(c, r) for c, r in zip(clusters, results) if r.returncode != 0]
        if failed:
            raise ClusterStartError(
                "\n".join(
                    f"up.sh for {c.state} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}" for c, r in failed
                )
            )
        yield clusters
    finally:
        for cluster in clusters:
            with suppress(RuntimeError, subprocess.TimeoutExpired):  # down.sh stops whatever runs
                cluster.restore()
        if not keep:
            with ThreadPoolExecutor(max_workers=count) as pool:
                list(pool.map(_down, [c.state for c in clusters]))
