"""The fleet role (playbooks/fleet.yml) over clusters of this module's own: 3 control planes on KWOK nodes.

The module starts 3 clusters at once (the `own_clusters` fixture, hack/cluster/up.sh with
CLUSTER_STATE_DIR and CLUSTER_REAL_NODE=0) and stops them at the end. Each is a host of the inventory
(c1, c2, c3) with its own kubeconfig as the host var k8s_kubeconfig, which the playbook's
module_defaults give to every module. Each test has its own namespace on every cluster, with `web` at
v1 (revision 1) applied with kubectl, and releases v2 through ansible-runner, as AWX runs a job: a
private data dir, an inventory, extra vars, events.

- a healthy release: canary, ring1, ring2 in order, the canary baked (a pause, an analysis, a JMESPath gate);
- a failure in the third ring (its cluster's nodes tainted: the new pods are Unschedulable, which the
  module fails fast on and rolls back): ring1 and the canary are rolled back, newest first, and the
  fourth ring is never touched (its host c4 is a namespace of c1: 3 clusters give 4 rings this way);
- a cluster unreachable mid-release (its kube-apiserver killed during the canary's bake), counted
  against the ring's failure tolerance: within 50% the release goes on, with 0% it halts;
- a rerun that changes nothing;
- a failed analysis (openrollout.k8s.analysis, in the canary's bake): the canary rolled back by the role,
  the other rings not started;
- an AWX workflow without AWX: one job per ring, the artifact fleet_done of each (set_stats) given to
  the next as extra vars, as AWX does; the third job fails and rolls back what the first two did.

Figures (each run's summary, ring lines and duration) go to build/test-results/fleet-runs.jsonl
(docs/fleets.md). Measured: the module in 338 s on the 2-core machine under load (the 3 clusters' start
23.5 s of it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from _clusters import OwnCluster

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = [pytest.mark.xdist_group("own_clusters_fleet")]

OWN_CLUSTERS = 3
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FIGURES = REPO_ROOT / "build" / "test-results" / "fleet-runs.jsonl"
BAKE_GATE = "rollout.status.done && workload.status.availableReplicas == `2`"
# openrollout.k8s.analysis's options: Argo's metrics, measured on each cluster of the ring
ANALYSIS = {
    "metrics": [
        {
            "name": "web-done",
            "count": 2,
            "interval": "1s",
            "successCondition": "result == true",
            "provider": {"kubernetes": {"kind": "Deployment", "name": "web", "query": "status.done"}},
        }
    ]
}


def _deployment(namespace: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": f"registry.example/web:{version}"}]},
            },
        },
    }


@dataclass
class Fleet:
    """The module's clusters with one namespace of this test on each, where web v1 runs."""

    clusters: list[OwnCluster]
    namespace: str
    tmp: Path

    def cluster(self, name: str) -> OwnCluster:
        return next(c for c in self.clusters if c.name == name)

    def live(self, cluster: str, namespace: str | None = None) -> dict[str, Any]:
        """web's Deployment on a cluster: revision, image, available, generation."""
        got = self.cluster(cluster).kubectl(
            "get", "deployment", "web", "-n", namespace or self.namespace, "-o", "json"
        )
        assert got.returncode == 0, got.stderr
        deployment = json.loads(got.stdout)
        return {
            "revision": int(deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
            "image": deployment["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1],
            "available": deployment["status"].get("availableReplicas", 0),
            "generation": deployment["metadata"]["generation"],
        }

    def inventory(self, rings: dict[str, list[str]], **hostvars: dict[str, Any]) -> Path:
        """An inventory: group `fleet` with a child group per ring, each host with its kubeconfig."""
        hosts = {name for members in rings.values() for name in members}
        children = {
            ring: {
                "hosts": {
                    name: {
                        "k8s_kubeconfig": str(
                            self.cluster(hostvars.get(name, {}).get("on", name)).kubeconfig
                        ),
                        **{k: v for k, v in hostvars.get(name, {}).items() if k != "on"},
                    }
                    for name in members
                }
            }
            for ring, members in rings.items()
        }
        assert hosts
        path = self.tmp / f"inventory-{secrets.token_hex(3)}.yml"
        path.write_text(yaml.safe_dump({"fleet": {"children": children}}))
        return path


@pytest.fixture
def fleet(own_clusters: list[OwnCluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    # ansible-runner runs the ansible-playbook it finds on PATH: the venv's, as in an execution environment.
    monkeypatch.setenv("PATH", f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    namespace = f"it-fleet-{secrets.token_hex(3)}"
    for cluster in own_clusters:
        made = cluster.kubectl("create", "namespace", namespace)
        assert made.returncode == 0, made.stderr
        applied = cluster.kubectl("apply", "-f", "-", input=json.dumps(_deployment(namespace, "v1")))
        assert applied.returncode == 0, applied.stderr
    # After a test that stopped a cluster's API server, its controllers reconnect with client-go's
    # backoff (up to 30 s) before they act again: on 2 loaded cores, give them time.
    for cluster in own_clusters:
        done = cluster.kubectl(
            "rollout", "status", "deployment/web", "-n", namespace, "--timeout=180s", timeout=200
        )
        assert done.returncode == 0, done.stderr
    yield Fleet(own_clusters, namespace, tmp_path)
    for cluster in own_clusters:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@dataclass
class Run:
    """One job: its status, the role's fleet_result, its messages, the artifact it hands on."""

    status: str
    rc: int
    seconds: float
    events: list[dict[str, Any]]
    stdout: str

    def _ok(self, task: str) -> list[dict[str, Any]]:
        return [
            e["event_data"]
            for e in self.events
            if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == task
        ]

    @property
    def result(self) -> dict[str, Any]:
        return dict(self._ok("Keep the result")[-1]["res"]["ansible_facts"]["fleet_result"])

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        return {r["cluster"]: r for r in self.result["clusters"]}

    @property
    def summary(self) -> list[str]:
        return list(self._ok("Summary")[-1]["res"]["msg"])

    def ring_lines(self) -> list[str]:
        return [
            e["res"]["msg"]
            for e in self.events_of("runner_on_ok")
            if e["task"].startswith("Say how the ring went: ")
        ]

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e["event_data"] for e in self.events if e.get("event") == kind]

    @property
    def failure(self) -> str:
        return str(
            next(
                e["res"]["msg"]
                for e in self.events_of("runner_on_failed")
                if e["task"] == "Fail with a summary"
            )
        )

    @property
    def artifact(self) -> dict[str, Any]:
        stats = self.events_of("playbook_on_stats")[-1]
        return dict(stats.get("artifact_data") or {})

    @property
    def changed(self) -> dict[str, int]:
        return dict(self.events_of("playbook_on_stats")[-1]["changed"])


def _job(fleet: Fleet, name: str, inventory: Path, extravars: dict[str, Any]) -> Any:
    private = fleet.tmp / name
    private.mkdir()
    return dict(
        private_data_dir=str(private),
        project_dir=str(REPO_ROOT / "playbooks"),
        playbook="fleet.yml",
        inventory=str(inventory),
        extravars=extravars,
        envvars={
            "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "build"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_FORKS": "10",
        },
        quiet=True,
        timeout=600,
    )


def _finish(runner: Any, started: float, label: str) -> Run:
    run = Run(
        runner.status,
        runner.rc,
        round(time.monotonic() - started, 1),
        list(runner.events),
        runner.stdout.read(),
    )
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    figures = {"test": label, "status": run.status, "seconds": run.seconds}
    with suppress(IndexError, KeyError):  # a run that failed before its summary
        figures["summary"] = run.summary
        figures["rings"] = run.ring_lines()
        figures["ring_seconds"] = run.result["ring_seconds"]
    with suppress(StopIteration):
        figures["failure"] = run.failure
    with FIGURES.open("a") as out:
        out.write(json.dumps(figures) + "\n")
    return run


def run_fleet(fleet: Fleet, label: str, inventory: Path, **extravars: Any) -> Run:
    started = time.monotonic()
    runner = ansible_runner.run(**_job(fleet, label, inventory, extravars))
    return _finish(runner, started, label)


def _release(fleet: Fleet, version: str, namespace: str | None = None) -> dict[str, Any]:
    definition = _deployment(namespace or fleet.namespace, version)
    return {"definition": definition, "change_cause": f"web {version}"}


RINGS = {"canary": ["c1"], "ring1": ["c2"], "ring2": ["c3"]}


def test_a_healthy_release_goes_ring_after_ring(fleet: Fleet) -> None:
    run = run_fleet(
        fleet,
        "healthy",
        fleet.inventory(RINGS),
        fleet_rings=["canary", "ring1", "ring2"],
        fleet_bake={"seconds": 2, "jmespath": BAKE_GATE, "analysis": ANALYSIS},
        fleet_release=_release(fleet, "v2"),
    )

    assert (run.status, run.rc) == ("successful", 0), run.stdout[-4000:]
    result = run.result
    assert result["failed"] is False and result["rings_done"] == ["canary", "ring1", "ring2"]
    assert [(r["cluster"], r["ring"], r["before"], r["after"], r["outcome"]) for r in result["clusters"]] == [
        ("c1", "canary", 1, 2, "released"),
        ("c2", "ring1", 1, 2, "released"),
        ("c3", "ring2", 1, 2, "released"),
    ]
    for name in ("c1", "c2", "c3"):
        assert fleet.live(name) == {"revision": 2, "image": "v2", "available": 2, "generation": 2}
    # ring after ring: each ring's rollout starts once the one before is done; the canary's bake waits 2 s
    starts = [
        e["created"]
        for e in run.events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == "Roll out web"
    ]
    assert len(starts) == 3 and starts == sorted(starts)
    gates = [
        e["event_data"]["host"]
        for e in run.events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == f"Gate: {BAKE_GATE}"
    ]
    assert gates == ["c1"]
    assert [r["analysis"] for r in result["clusters"]] == ["Successful", None, None]
    assert run.ring_lines() == [
        "canary: 1 of 1 clusters done, 0 failed.",
        "ring1: 1 of 1 clusters done, 0 failed.",
        "ring2: 1 of 1 clusters done, 0 failed.",
    ]
    assert run.summary[0].startswith(
        f"openrollout.k8s.fleet: release of {fleet.namespace}/web over 3 clusters in 3 rings"
    )
    assert run.summary[0].endswith("3 released")
    assert re.match(r"^canary +c1 +1 -> 2 +released +\d+\.\d s$", run.summary[2]), run.summary
    # the clusters on the new revision, for the next job of a workflow
    assert [(d["cluster"], d["before"], d["after"]) for d in run.artifact["fleet_done"]] == [
        ("c1", 1, 2),
        ("c2", 1, 2),
        ("c3", 1, 2),
    ]


def test_a_failure_in_ring_2_rolls_back_ring_1_and_the_canary_and_never_touches_ring_3(fleet: Fleet) -> None:
    # ring3's host c4 is web in a namespace of its own on c1's cluster (the release's namespace is the host var)
    c4_namespace = f"{fleet.namespace}-c4"
    c1 = fleet.cluster("c1")
    assert c1.kubectl("create", "namespace", c4_namespace).returncode == 0
    assert c1.kubectl("apply", "-f", "-", input=json.dumps(_deployment(c4_namespace, "v1"))).returncode == 0
    assert (
        c1.kubectl("rollout", "status", "deployment/web", "-n", c4_namespace, "--timeout=60s").returncode == 0
    )
    c4_before = fleet.live("c1", c4_namespace)
    # ring2's cluster has no room: every node is tainted, the new pods are Unschedulable
    c3 = fleet.cluster("c3")
    tainted = c3.kubectl("taint", "nodes", "--all", "openrollout.test/full=true:NoSchedule")
    assert tainted.returncode == 0, tainted.stderr
    try:
        release = _release(fleet, "v2")
        release["definition"]["metadata"]["namespace"] = "{{ app_namespace }}"
        run = run_fleet(
            fleet,
            "failure_in_ring2",
            fleet.inventory(
                {**RINGS, "ring3": ["c4"]},
                c1={"app_namespace": fleet.namespace},
                c2={"app_namespace": fleet.namespace},
                c3={"app_namespace": fleet.namespace},
                c4={"on": "c1", "app_namespace": c4_namespace},
            ),
            fleet_rings=["canary", "ring1", "ring2", "ring3"],
            fleet_release=release,
        )
    finally:
        c3.kubectl("taint", "nodes", "--all", "openrollout.test/full-")
        c1.kubectl("delete", "namespace", c4_namespace, "--wait=false")

    assert (run.status, run.rc) == ("failed", 2), run.stdout[-4000:]
    result = run.result
    assert (result["failed"], result["halted_at"], result["not_started"]) == (True, "ring2", ["ring3"])
    assert result["rolled_back"] == ["c1", "c2"]
    records = run.records
    assert (records["c3"]["outcome"], records["c3"]["rolled_back_by"], records["c3"]["rolled_back_to"]) == (
        "failed",
        "module",
        1,
    )
    assert "Unschedulable" in records["c3"]["msg"]
    for name in ("c1", "c2"):
        assert (
            records[name]["outcome"],
            records[name]["before"],
            records[name]["after"],
            records[name]["final"],
        ) == ("rolled back", 1, 2, 3)
        assert fleet.live(name) == {"revision": 3, "image": "v1", "available": 2, "generation": 3}
    assert fleet.live("c3")["image"] == "v1"
    # newest first: ring1's cluster before the canary's
    undone = [
        e["event_data"]["host"]
        for e in run.events
        if e.get("event") == "runner_on_ok"
        and str(e["event_data"].get("task", "")).startswith("Roll back to the revision of before")
    ]
    assert undone == ["c2", "c1"]
    # ring3 never touched: not one write to its Deployment
    assert records["c4"]["outcome"] == "not started"
    assert fleet.live("c1", c4_namespace) == c4_before
    assert re.fullmatch(
        rf"openrollout\.k8s\.fleet: the release of {fleet.namespace}/web halted at ring ring2 \(3 of 4\): "
        r"1 of 1 failed, 100% > max_fail_percentage 0\. c3: failed: rollout of Deployment \S+ to revision 2 "
        r"failed: Unschedulable: .*Rolled back, newest ring first: ring1 \(c2: revision 3\), "
        r"canary \(c1: revision 3\)\. Not started: ring3\.",
        run.failure,
    ), run.failure
    assert run.artifact["fleet_done"] == []


def _wait_for_canary(fleet: Fleet, version: str, timeout: float = 120) -> None:
    """Until c1's web runs `version` on every replica (the canary ring is done; its bake begins)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = fleet.live("c1")
        if live["image"] == version and live["available"] == 2:
            got = fleet.cluster("c1").kubectl(
                "rollout", "status", "deployment/web", "-n", fleet.namespace, "--timeout=1s"
            )
            if got.returncode == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"c1 did not run {version} within {timeout}s")


def test_an_unreachable_cluster_counts_against_the_failure_tolerance(fleet: Fleet) -> None:
    inventory = fleet.inventory({"canary": ["c1"], "ring1": ["c2", "c3"]})
    c3 = fleet.cluster("c3")
    started = time.monotonic()
    thread, runner = ansible_runner.run_async(
        **_job(
            fleet,
            "unreachable_within_tolerance",
            inventory,
            {
                "fleet_rings": ["canary", {"group": "ring1", "max_fail_percentage": 50}],
                "fleet_bake": {"seconds": 6},
                "fleet_release": _release(fleet, "v2"),
            },
        )
    )
    try:
        _wait_for_canary(fleet, "v2")
        c3.kill_apiserver()  # during the canary's bake: c3 is down when ring1 starts
        thread.join(timeout=600)
        run = _finish(runner, started, "unreachable_within_tolerance")

        # 1 of 2 clusters of ring1 failed: 50%, not more than 50: the release goes on and succeeds
        assert (run.status, run.rc) == ("successful", 0), run.stdout[-4000:]
        records = run.records
        assert records["c3"]["outcome"] == "unreachable"
        assert re.search(
            r"cannot reach the API server at https://127\.0\.0\.1:\d+: .*Connection refused",
            records["c3"]["msg"],
        )
        assert [records[n]["outcome"] for n in ("c1", "c2")] == ["released", "released"]
        ring1 = run.ring_lines()[1]
        assert ring1.startswith(
            "ring1: 2 of 2 clusters done, 1 failed, within max_fail_percentage 50: going on. c3: unreachable: "
        ), ring1
        assert "cannot reach the API server" in ring1
        assert [fleet.live(n)["image"] for n in ("c1", "c2")] == ["v2", "v2"]

        # the same with no tolerance: ring1 halts the release, c2 and the canary go back to v2
        run = run_fleet(
            fleet,
            "unreachable_no_tolerance",
            inventory,
            fleet_rings=["canary", "ring1"],
            fleet_release=_release(fleet, "v3"),
        )
        assert (run.status, run.rc) == ("failed", 2), run.stdout[-4000:]
        assert run.result["halted_at"] == "ring1" and run.result["rolled_back"] == ["c1", "c2"]
        assert re.search(
            r"halted at ring ring1 \(2 of 2\): 1 of 2 failed, 50% > max_fail_percentage 0\. c3: unreachable: "
            r".*cannot reach the API server.* Rolled back, newest ring first: ring1 \(c2: revision 4\), "
            r"canary \(c1: revision 4\)\. Unreachable, not rolled back, state not known: c3\. Not started: none\.$",
            run.failure,
        ), run.failure
        assert [fleet.live(n)["image"] for n in ("c1", "c2")] == ["v2", "v2"]
    finally:
        c3.restore()
    assert fleet.live("c3") == {"revision": 1, "image": "v1", "available": 2, "generation": 1}


def test_a_rerun_changes_nothing(fleet: Fleet) -> None:
    inventory = fleet.inventory(RINGS)
    variables = {
        "fleet_rings": ["canary", "ring1", "ring2"],
        "fleet_bake": {"seconds": 3, "jmespath": BAKE_GATE},
        "fleet_release": _release(fleet, "v2"),
    }
    first = run_fleet(fleet, "rerun_first", inventory, **variables)
    assert (first.status, first.rc) == ("successful", 0), first.stdout[-4000:]

    again = run_fleet(fleet, "rerun_again", inventory, **variables)
    assert (again.status, again.rc) == ("successful", 0), again.stdout[-4000:]
    assert again.changed == {}
    assert [(r["before"], r["after"], r["outcome"]) for r in again.result["clusters"]] == [
        (2, 2, "unchanged")
    ] * 3
    for name in ("c1", "c2", "c3"):
        assert fleet.live(name) == {"revision": 2, "image": "v2", "available": 2, "generation": 2}
    # the gates run again; the bake's pause does not, as nothing rolled out
    assert [e["task"] for e in again.events_of("runner_on_skipped")].count(
        "Bake, the pause in seconds: 3"
    ) == 1
    assert any(e["task"] == f"Gate: {BAKE_GATE}" for e in again.events_of("runner_on_ok"))
    # nothing new for the next job: the clusters were already at revision 2
    assert again.artifact["fleet_done"] == []


def test_an_awx_workflow_one_job_per_ring_with_artifacts(fleet: Fleet) -> None:
    """docs/fleets.md's workflow, node by node, as AWX runs it: each job's set_stats artifact is merged into
    the extra vars of the next; approval nodes pass their parents' artifacts on."""
    inventory = fleet.inventory(RINGS)
    common = {"fleet_release": _release(fleet, "v2")}
    canary = run_fleet(
        fleet,
        "workflow_canary",
        inventory,
        **common,
        fleet_rings=["canary"],
        fleet_bake={"jmespath": BAKE_GATE},
    )
    assert (canary.status, canary.rc) == ("successful", 0), canary.stdout[-4000:]
    assert [(d["cluster"], d["ring"], d["before"]) for d in canary.artifact["fleet_done"]] == [
        ("c1", "canary", 1)
    ]
    # hosts of the play that are in no ring of this job are left alone
    assert [r["cluster"] for r in canary.result["clusters"]] == ["c1"]
    assert fleet.live("c2")["image"] == "v1"

    ring1 = run_fleet(fleet, "workflow_ring1", inventory, **common, **canary.artifact, fleet_rings=["ring1"])
    assert (ring1.status, ring1.rc) == ("successful", 0), ring1.stdout[-4000:]
    # the canary's cluster handed on as the canary's job left it: revision 1 before, 2 now
    assert [(d["cluster"], d["ring"], d["before"], d["after"]) for d in ring1.artifact["fleet_done"]] == [
        ("c1", "canary", 1, 2),
        ("c2", "ring1", 1, 2),
    ]

    c3 = fleet.cluster("c3")
    assert c3.kubectl("taint", "nodes", "--all", "openrollout.test/full=true:NoSchedule").returncode == 0
    try:
        ring2 = run_fleet(
            fleet, "workflow_ring2", inventory, **common, **ring1.artifact, fleet_rings=["ring2"]
        )
    finally:
        c3.kubectl("taint", "nodes", "--all", "openrollout.test/full-")
    assert (ring2.status, ring2.rc) == ("failed", 2), ring2.stdout[-4000:]
    # the clusters of the earlier jobs, from the artifact, rolled back newest ring first
    assert ring2.result["rolled_back"] == ["c1", "c2"]
    undone = [
        e["host"]
        for e in ring2.events_of("runner_on_ok")
        if e["task"].startswith("Roll back to the revision")
    ]
    assert undone == ["c2", "c1"]
    assert "Rolled back, newest ring first: ring1 (c2: revision 3), canary (c1: revision 3)." in ring2.failure
    assert [fleet.live(n)["image"] for n in ("c1", "c2", "c3")] == ["v1", "v1", "v1"]
    assert ring2.artifact["fleet_done"] == []


def test_a_failed_analysis_in_the_canary_s_bake_rolls_it_back_and_halts(fleet: Fleet) -> None:
    too_few = {
        "metrics": [
            {
                "name": "enough-replicas",
                "successCondition": "result >= 3",
                "provider": {
                    "kubernetes": {"kind": "Deployment", "name": "web", "query": "status.replicas.desired"}
                },
            }
        ]
    }
    run = run_fleet(
        fleet,
        "analysis_fails_in_canary",
        fleet.inventory(RINGS),
        fleet_rings=["canary", "ring1", "ring2"],
        fleet_bake={"analysis": too_few},
        fleet_release=_release(fleet, "v2"),
    )
    assert (run.status, run.rc) == ("failed", 2), run.stdout[-4000:]
    result = run.result
    assert (result["halted_at"], result["not_started"]) == ("canary", ["ring1", "ring2"])
    c1 = run.records["c1"]
    assert (c1["outcome"], c1["analysis"], c1["rolled_back_by"], c1["final"]) == (
        "gate failed",
        "Failed",
        "role",
        3,
    )
    assert 'Metric "enough-replicas" assessed Failed' in c1["msg"], c1["msg"]
    assert fleet.live("c1") == {"revision": 3, "image": "v1", "available": 2, "generation": 3}
    assert [fleet.live(n)["generation"] for n in ("c2", "c3")] == [1, 1]
    assert run.failure.startswith(
        f"openrollout.k8s.fleet: the release of {fleet.namespace}/web halted at ring canary (1 of 3): "
        "1 of 1 failed, 100% > max_fail_percentage 0. c1: gate failed: "
    ), run.failure
