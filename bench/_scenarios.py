"""The benchmark scenarios (issue 7). Each returns plain JSON data: one entry per run and tool.

All tools roll out their own Deployment in the namespace ``openrollout-bench``, on fake nodes of
their own (``bench-scale-node-*``, tainted, so the bench's pods never compete with other pods of
the local cluster). A rollout always changes the image, so it makes a new revision.

Times are wall-clock seconds (time.time()) taken in this process (the watch) and in
ansible-playbook (the callback), on the same machine.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from _cluster import NAMESPACE, SCALE_TAINT, Cluster, Recorder, Requests, done_time, image_of
from _tools import (
    MODULE_MARKER,
    kcore_task,
    ours_task,
    play,
    run_kubectl,
    run_kubectl_undo,
    run_playbook,
)

JSONDict = Dict[str, Any]
TOOLS = ("ours", "kcore", "kubectl")
IMAGE = "registry.example/bench"
READY_AFTER = "openrollout.test/ready-after"
HOOK = {"failurePolicy": "Abort", "execNewPod": {"containerName": "app", "command": ["/bin/true"]}}
# The real node (hack/cluster/node.sh): only pods with this selector and toleration land there; the
# test app's images come from the registry on loopback (hack/cluster/go/testapp/README.md).
TESTAPP = "registry.openrollout.test/openrollout/testapp"
REAL_NODE_SELECTOR = {"openrollout.k8s/node": "real"}
REAL_NODE_TOLERATION = {"key": "openrollout.k8s/real-node", "operator": "Exists", "effect": "NoSchedule"}
HOOKS_STRATEGY = {
    "type": "Rolling",
    "rollingParams": {"maxSurge": "25%", "maxUnavailable": "25%", "pre": HOOK, "post": HOOK},
}


def deployment(
    name: str,
    tag: str,
    replicas: int = 10,
    max_surge: str = "25%",
    max_unavailable: str = "25%",
    group: str = "bench",
    pod_annotations: Optional[Dict[str, str]] = None,
) -> JSONDict:
    """A Deployment of the bench: one container, on the bench's nodes, labelled with its group."""
    labels = {"app": name, "openrollout.bench/group": group}
    template_metadata: JSONDict = {"labels": labels}
    if pod_annotations:
        template_metadata["annotations"] = dict(pod_annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"openrollout.bench/group": group}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
            },
            "template": {
                "metadata": template_metadata,
                "spec": {
                    "nodeSelector": {"openrollout.bench/scale": "true"},
                    "tolerations": [{**SCALE_TAINT, "operator": "Equal"}],
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "app", "image": f"{IMAGE}:{tag}"}],
                },
            },
        },
    }


def real_deployment(name: str, tag: str, replicas: int = 10, group: str = "real") -> JSONDict:
    """A Deployment of the test app on the real node: Ready when its readiness probe (GET /readyz,
    every second) passes, tiny requests, RollingUpdate 25%/25% as the KWOK scenarios. ``tag`` is
    v1, v2, v3 or broken (exits 1 at once: CrashLoopBackOff). No drain: no traffic is measured here,
    and an old pod that goes at once keeps the node's pod count low."""
    manifest = deployment(name, tag, replicas, group=group)
    template = manifest["spec"]["template"]
    template["spec"] = {
        "nodeSelector": dict(REAL_NODE_SELECTOR),
        "tolerations": [dict(REAL_NODE_TOLERATION)],
        "terminationGracePeriodSeconds": 5,
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "app",
                "image": f"{TESTAPP}:{tag}",
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [{"name": "DRAIN", "value": "0s"}],
                "readinessProbe": {
                    "httpGet": {"path": "/readyz", "port": 8080},
                    "periodSeconds": 1,
                    "failureThreshold": 1,
                    "successThreshold": 1,
                },
                "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}},
            }
        ],
    }
    return manifest


def image(manifest: JSONDict) -> str:
    return str(manifest["spec"]["template"]["spec"]["containers"][0]["image"])


@dataclass
class Bench:
    cluster: Cluster
    deployments: Recorder
    kubectl: str
    work_dir: Path
    log: Callable[[str], None]

    # --- one rollout by one tool -----------------------------------------------------------

    def rollout(self, tool: str, manifest: JSONDict, identity: str = "", **ours_extra: Any) -> JSONDict:
        """Roll out ``manifest`` with ``tool`` (as ``identity``, by default the tool's own);
        measure wall time, done latency, requests and RSS."""
        name = manifest["metadata"]["name"]
        identity = identity or tool
        kubeconfig = self.cluster.tool_kubeconfigs[identity]
        before = self.cluster.requests()
        entry: JSONDict = {}
        if tool == "kubectl":
            run: Any = run_kubectl(
                self.kubectl, kubeconfig, self.work_dir, [manifest], [f"deployment/{name}", "-n", NAMESPACE]
            )
            returned = run.end
            entry["apply"] = round(run.apply.wall, 4)
            start, end, peaks = run.start, run.end, run.peaks_kib
        else:
            task = (
                ours_task(kubeconfig, manifest, **ours_extra)
                if tool == "ours"
                else kcore_task(kubeconfig, manifest)
            )
            run = run_playbook(self.work_dir, play([task]), MODULE_MARKER[tool])
            if run.failed():
                raise RuntimeError(f"{tool} failed: {run.failed()}")
            result = run.results("rollout")[0]
            returned = float(result["time"])
            task_start = run.task_start("rollout") or run.process.start
            entry["task"] = round(returned - task_start, 4)
            entry["startup"] = round(task_start - run.process.start, 4)
            entry["after_task"] = round(run.process.end - returned, 4)
            start, end, peaks = run.process.start, run.process.end, run.process.peaks_kib
            if tool == "ours":
                entry["timeline"] = result["result"].get("timeline")
        time.sleep(0.3)  # let the last watch requests of the tool be counted
        after = self.cluster.requests()
        done = done_time(self.deployments.snapshot(), name, image(manifest), start)
        if done is None:
            raise RuntimeError(f"{tool}: the watch never saw Deployment {name} done with {image(manifest)}")
        counts = after.minus(before)
        complete = _timeline_time(entry.get("timeline"), "complete")
        if complete is not None:
            entry["module_detected_after_done"] = round(complete - done, 4)
        entry.update(
            {
                "returned_at": round(returned, 4),
                "wall": round(end - start, 4),
                "done_after_start": round(done - start, 4),
                "latency": round(returned - done, 4),
                "requests": counts.per_tool[identity],
                "cluster_requests": counts.cluster_total,
                "peak_rss_mib": round(max(peaks) / 1024, 1) if peaks else None,
            }
        )
        return entry

    def _attempt(self, measure: Callable[[], JSONDict], tool: str, *manifests: JSONDict) -> JSONDict:
        """A tool's failure is a result too: keep its message, let the Deployments settle, go on."""
        try:
            return measure()
        except RuntimeError as exc:
            message = str(exc)
            self.log(f"  {tool} FAILED: {message[-600:]}")
            for manifest in manifests:
                name = manifest["metadata"]["name"]
                with contextlib.suppress(TimeoutError):
                    self.cluster.wait_settled(name, timeout=600)
            return {"error": message[-4000:]}

    def prepare(self, manifests: List[JSONDict]) -> None:
        for manifest in manifests:
            self.cluster.apply(manifest)
        for manifest in manifests:
            self.cluster.wait_done(manifest["metadata"]["name"], image(manifest), timeout=900)

    # --- scenario 0: Ansible start-up --------------------------------------------------------

    def ansible_startup(self) -> JSONDict:
        """ansible-playbook of an empty play, and of one no-op module task (ansible.builtin.ping)."""
        empty = run_playbook(self.work_dir, play([]), None)
        noop = run_playbook(
            self.work_dir, play([{"name": "noop", "ansible.builtin.ping": {}}]), "AnsiballZ_ping"
        )
        result = noop.results("noop")[0]
        return {
            "empty_play": round(empty.process.wall, 4),
            "noop_play": round(noop.process.wall, 4),
            "noop_task": round(float(result["time"]) - (noop.task_start("noop") or noop.process.start), 4),
        }

    # --- scenarios 1 and 2: a fast 10-replica rollout, one tool after the other ---------------

    def fast(self, runs: int, pods: Recorder, jobs: Recorder) -> Tuple[JSONDict, JSONDict]:
        """Scenarios 1, 2 and 5: each tool's rollout, then ours with a pre and a post hook, one after
        the other, in an order that rotates from run to run. Returns (fast, hooks)."""
        names = {tool: f"fast-{tool}" for tool in TOOLS}
        names["hooks"] = "fast-hooks"
        self.prepare([deployment(name, "fast-0") for name in names.values()])
        out: List[JSONDict] = []
        hooks: List[JSONDict] = []
        kinds = (*TOOLS, "hooks")
        for run in range(1, runs + 1):
            entry: JSONDict = {"startup": self.ansible_startup()}
            order = kinds[run % 4 :] + kinds[: run % 4]
            since = time.time()
            for kind in order:
                manifest = deployment(names[kind], f"fast-{run}")
                if kind == "hooks":
                    since = time.time()
                    entry[kind] = self._attempt(
                        lambda m=manifest: self.rollout("ours", m, strategy=HOOKS_STRATEGY), "ours", manifest
                    )
                else:
                    entry[kind] = self._attempt(lambda k=kind, m=manifest: self.rollout(k, m), kind, manifest)
            hooked = entry.pop("hooks")
            gaps = {}
            if "error" not in hooked:
                gaps = self._hook_gaps(
                    names["hooks"], pods.snapshot(), jobs.snapshot(), since, hooked["returned_at"]
                )
            hooks.append(
                {
                    "hooks": {k: v for k, v in hooked.items() if k != "timeline"},
                    "plain": {k: v for k, v in entry["ours"].items() if k != "timeline"},
                    "gaps": gaps,
                    "hook_events": [e for e in hooked.get("timeline") or [] if "hook" in str(e.get("event"))],
                }
            )
            entry["order"] = list(order)
            out.append(entry)
            self.log(
                f"  fast run {run}/{runs}: {_brief(entry)}; with hooks {hooked.get('task')}s, gaps {gaps}"
            )
        fast = {"replicas": 10, "strategy": "RollingUpdate 25%/25%", "runs": out}
        return fast, {
            "replicas": 10,
            "hook_command": "/bin/true (kwok: the pod succeeds at once)",
            "runs": hooks,
        }

    # --- scenario 3: API requests, fast and slow rollouts, the tools side by side -------------

    def api_load(self, runs: int, delay: str) -> JSONDict:
        """Six rollouts at a time: each tool on a fast Deployment (pods Ready at once) and on a slow
        one (pods Ready ``delay`` after they start), as two identities, so that the apiserver counts
        the requests of each of the six apart. 10 replicas, maxSurge 100%, maxUnavailable 25%: one
        wave of new pods, so that a slow rollout lasts about ``delay``."""
        shapes = {"fast": None, "slow": {READY_AFTER: delay}}

        def load_deployment(speed: str, tool: str, tag: str) -> JSONDict:
            return deployment(f"{speed}-load-{tool}", tag, 10, "100%", "25%", "load", shapes[speed])

        self.prepare([load_deployment(speed, tool, "load-0") for speed in shapes for tool in TOOLS])
        out: Dict[str, List[JSONDict]] = {"fast": [], "slow": []}
        for run in range(1, runs + 1):
            with concurrent.futures.ThreadPoolExecutor(2 * len(TOOLS)) as pool:
                futures = {
                    (speed, tool): pool.submit(
                        self._attempt,
                        lambda s=speed, t=tool, r=run: self.rollout(
                            t, load_deployment(s, t, f"load-{r}"), t if s == "fast" else f"{t}-slow"
                        ),
                        tool,
                        load_deployment(speed, tool, f"load-{run}"),
                    )
                    for speed in shapes
                    for tool in TOOLS
                }
                results = {key: future.result() for key, future in futures.items()}
            for speed in shapes:
                entry = {tool: results[(speed, tool)] for tool in TOOLS}
                for tool in TOOLS:
                    entry[tool].pop("cluster_requests", None)  # shared by all six: meaningless per tool
                    entry[tool].pop("timeline", None)
                out[speed].append(entry)
                self.log(f"  api-load {speed} run {run}/{runs}: " + _brief(entry))
        return {"replicas": 10, "strategy": "RollingUpdate 100%/25%", "slow_ready_after": delay, **out}

    # --- scenario 4: a big rollout, and many Deployments in one play --------------------------

    def scale_replicas(self, runs: int, replicas: int) -> JSONDict:
        """One Deployment of ``replicas``, rolled out by each tool in turn."""
        name = "scale-replicas"
        self.prepare([deployment(name, "scale-0", replicas, group="scale")])
        out: List[JSONDict] = []
        for run in range(1, runs + 1):
            entry: JSONDict = {}
            order = TOOLS[run % 3 :] + TOOLS[: run % 3]
            for step, tool in enumerate(order):
                tag = f"scale-{run}-{step}"
                manifest = deployment(name, tag, replicas, group="scale")
                entry[tool] = self._attempt(lambda t=tool, m=manifest: self.rollout(t, m), tool, manifest)
                entry[tool].pop("timeline", None)
            entry["order"] = list(order)
            out.append(entry)
            self.log(f"  scale {replicas} replicas run {run}/{runs}: " + _brief(entry))
        self.cluster.delete_deployments("openrollout.bench/group=scale")
        return {"replicas": replicas, "strategy": "RollingUpdate 25%/25%", "runs": out}

    def scale_deployments(self, runs: int, count: int, replicas: int = 2) -> JSONDict:
        """``count`` Deployments per tool rolled out together: one play with one host per
        Deployment (forks = count) for the Ansible tools; one ``kubectl apply -f`` of them all and
        ``kubectl rollout status -l`` for kubectl."""
        groups = {tool: f"many-{tool}" for tool in TOOLS}

        def manifests(tool: str, tag: str) -> List[JSONDict]:
            return [
                deployment(f"many-{tool}-{i:03d}", tag, replicas, group=groups[tool]) for i in range(count)
            ]

        single = [deployment("many-single", "many-0", replicas, group="many-single")]
        self.prepare([m for tool in TOOLS for m in manifests(tool, "many-0")] + single)
        out: List[JSONDict] = []
        for run in range(1, runs + 1):
            entry: JSONDict = {}
            order = TOOLS[run % 3 :] + TOOLS[: run % 3]
            for tool in order:
                batch = manifests(tool, f"many-{run}")
                entry[tool] = self._attempt(lambda t=tool, b=batch: self._many(t, b, groups[t]), tool, *batch)
            # the same rollout alone, for the per-rollout overhead without the crowd
            alone = deployment("many-single", f"many-{run}", replicas, group="many-single")
            entry["ours_single"] = self._many("ours", [alone], "many-single")
            entry["order"] = list(order)
            out.append(entry)
            self.log(f"  {count} Deployments run {run}/{runs}: " + _brief(entry))
        for group in [*groups.values(), "many-single"]:
            self.cluster.delete_deployments(f"openrollout.bench/group={group}")
        return {"deployments": count, "replicas_each": replicas, "forks": count, "runs": out}

    def _many(self, tool: str, manifests: List[JSONDict], group: str) -> JSONDict:
        kubeconfig = self.cluster.tool_kubeconfigs[tool]
        before = self.cluster.requests()
        returned: Dict[str, float] = {}
        if tool == "kubectl":
            run: Any = run_kubectl(
                self.kubectl,
                kubeconfig,
                self.work_dir,
                manifests,
                ["deployment", "-l", f"openrollout.bench/group={group}", "-n", NAMESPACE],
            )
            start, end, peaks = run.start, run.end, run.peaks_kib
            returned = {m["metadata"]["name"]: run.end for m in manifests}
        else:
            inventory = "[bench]\n" + "".join(
                f"{m['metadata']['name']} ansible_connection=local\n" for m in manifests
            )
            definitions = {m["metadata"]["name"]: m for m in manifests}
            task = (
                ours_task(kubeconfig, "__DEFINITION__")
                if tool == "ours"
                else kcore_task(kubeconfig, "__DEFINITION__")  # type: ignore[arg-type]
            )
            module = next(key for key in task if key != "name")
            task[module]["definition"] = "{{ bench_definitions[inventory_hostname] }}"
            plays = play([task], hosts="bench")
            plays[0]["vars"] = {"bench_definitions": definitions}
            run = run_playbook(
                self.work_dir,
                plays,
                MODULE_MARKER[tool],
                inventory=inventory,
                extra_env={"ANSIBLE_FORKS": str(len(manifests))},
            )
            if run.failed():
                raise RuntimeError(f"{tool} failed: {run.failed()[:3]}")
            start, end, peaks = run.process.start, run.process.end, run.process.peaks_kib
            returned = {r["host"]: float(r["time"]) for r in run.results("rollout")}
        time.sleep(0.3)
        after = self.cluster.requests()
        events = self.deployments.snapshot()
        latencies = []
        last_done = start
        for manifest in manifests:
            name = manifest["metadata"]["name"]
            done = done_time(events, name, image(manifest), start)
            if done is None:
                raise RuntimeError(f"{tool}: the watch never saw {name} done")
            last_done = max(last_done, done)
            latencies.append(returned[name] - done)
        counts = after.minus(before).per_tool[tool]
        return {
            "wall": round(end - start, 4),
            "last_done_after_start": round(last_done - start, 4),
            "latency_median": round(_median(latencies), 4),
            "latency_max": round(max(latencies), 4),
            "requests": counts,
            "requests_per_rollout": round((counts["regular"] + counts["watch"]) / len(manifests), 2),
            "peak_rss_mib_median": round(_median(peaks) / 1024, 1) if peaks else None,
            "peak_rss_mib_max": round(max(peaks) / 1024, 1) if peaks else None,
            "processes_sampled": len(peaks),
        }

    # --- scenario 5: lifecycle hooks -------------------------------------------------------

    def _hook_gaps(
        self, name: str, pod_events: List[Any], job_events: List[Any], since: float, returned: float
    ) -> JSONDict:
        """Per phase: pod Succeeded -> the next phase (us), and -> Job Complete (Job controller): the
        next phase is, for pre, the module's next write to the Deployment; for post, the task's
        result reaching Ansible."""
        gaps: JSONDict = {}
        deployment_events = [e for e in self.deployments.snapshot() if e.obj["metadata"]["name"] == name]
        writes = _writes(deployment_events)
        # only this rollout's hook Jobs and pods: the module deletes the earlier ones as it goes,
        # and their DELETED events (still Complete, Succeeded) arrive after ``since`` too
        earlier = {e.obj["metadata"].get("uid") for e in [*pod_events, *job_events] if e.time < since}
        for phase in ("pre", "post"):

            def ours(obj: JSONDict, phase: str = phase) -> bool:
                labels = obj["metadata"].get("labels") or {}
                fresh = obj["metadata"].get("uid") not in earlier
                return bool(labels.get("openrollout.k8s/hook") == phase and fresh)

            succeeded = next(
                (
                    e.time
                    for e in pod_events
                    if e.time >= since
                    and e.type != "DELETED"
                    and ours(e.obj)
                    and (e.obj.get("status") or {}).get("phase") == "Succeeded"
                ),
                None,
            )
            complete = next(
                (
                    e.time
                    for e in job_events
                    if e.time >= since
                    and e.type != "DELETED"
                    and ours(e.obj)
                    and any(
                        c.get("type") == "Complete" and c.get("status") == "True"
                        for c in (e.obj.get("status") or {}).get("conditions") or []
                    )
                ),
                None,
            )
            if succeeded is None or complete is None:
                gaps[phase] = None
                continue
            # the module moves on at the pod's Succeeded, often before the Job is marked Complete
            next_write = next((t for t in writes if t > succeeded), None) if phase == "pre" else returned
            gaps[phase] = {
                "pod_succeeded_to_job_complete": round(complete - succeeded, 4),
                "job_complete_to_next_write": None if next_write is None else round(next_write - complete, 4),
                "pod_succeeded_to_next_write": None
                if next_write is None
                else round(next_write - succeeded, 4),
            }
        return gaps

    # --- on real pods: readiness by a probe, and a real failure rolled back -------------------

    def real_pods(self, runs: int) -> JSONDict:
        """Scenarios 1 and 2 on the real node: each tool's 10-replica rollout of the test app, Ready
        by its readiness probe, v1 -> v2 in odd runs and back to v1 in even ones, one tool after the
        other in an order that rotates, measured by ``rollout`` as the KWOK ones are."""
        names = {tool: f"real-{tool}" for tool in TOOLS}
        self.prepare([real_deployment(name, "v1") for name in names.values()])
        out: List[JSONDict] = []
        try:
            for run in range(1, runs + 1):
                tag = "v2" if run % 2 else "v1"
                entry: JSONDict = {"startup": self.ansible_startup(), "to": tag}
                order = TOOLS[run % 3 :] + TOOLS[: run % 3]
                for tool in order:
                    manifest = real_deployment(names[tool], tag)
                    entry[tool] = self._attempt(lambda t=tool, m=manifest: self.rollout(t, m), tool, manifest)
                    entry[tool].pop("timeline", None)
                entry["order"] = list(order)
                out.append(entry)
                self.log(f"  real pods run {run}/{runs} (to {tag}): {_brief(entry)}")
        finally:
            self.cluster.delete_deployments("openrollout.bench/group=real")
        return {
            "replicas": 10,
            "strategy": "RollingUpdate 25%/25%",
            "readiness": "httpGet /readyz, periodSeconds 1",
            "node": "the real node (kubelet, containerd, runc, bridge CNI)",
            "runs": out,
        }

    def real_failure(self, runs: int, replica_sets: Recorder, timeouts: List[str]) -> JSONDict:
        """A rollout to the ``broken`` tag (CrashLoopBackOff) of a 10-replica Deployment serving v1,
        until v1 is back at full capacity: ours (its automatic rollback) and, for each of
        ``timeouts``, the manual kubectl way (``rollout status --timeout`` failing, then ``rollout
        undo`` at once, then ``rollout status``). Each way has its own Deployment; the order rotates."""
        ways = ("ours", *(f"kubectl-{timeout}" for timeout in timeouts))
        names = {way: f"fail-{way}" for way in ways}
        self.prepare([real_deployment(name, "v1", group="real-failure") for name in names.values()])
        out: List[JSONDict] = []
        try:
            for run in range(1, runs + 1):
                entry: JSONDict = {}
                order = ways[run % len(ways) :] + ways[: run % len(ways)]
                for way in order:
                    manifest = real_deployment(names[way], "broken", group="real-failure")
                    entry[way] = self._attempt(
                        lambda w=way, m=manifest: self._failure(w, m, replica_sets), way, manifest
                    )
                entry["order"] = list(order)
                out.append(entry)
                self.log(f"  real failure run {run}/{runs}: " + _brief_failure(entry, ways))
        finally:
            self.cluster.delete_deployments("openrollout.bench/group=real-failure")
        return {
            "replicas": 10,
            "strategy": "RollingUpdate 25%/25%",
            "from": f"{TESTAPP}:v1",
            "to": f"{TESTAPP}:broken",
            "kubectl_timeouts": list(timeouts),
            "ways": list(ways),
            "runs": out,
        }

    def _failure(self, way: str, manifest: JSONDict, replica_sets: Recorder) -> JSONDict:
        """One broken rollout by ``way``, from the tool's start to v1 at full capacity (the watch on
        ReplicaSets: the old one with all replicas available, the broken one at 0 pods)."""
        name = manifest["metadata"]["name"]
        replicas = int(manifest["spec"]["replicas"])
        tool = "ours" if way == "ours" else "kubectl"
        kubeconfig = self.cluster.tool_kubeconfigs[tool]
        live = self.cluster.apps.read_namespaced_deployment(name, NAMESPACE, _preload_content=False)
        old_image = image_of(json.loads(live.data))
        before = self.cluster.requests()
        entry: JSONDict = {}
        if tool == "ours":
            task = {**ours_task(kubeconfig, manifest), "ignore_errors": True}
            run: Any = run_playbook(self.work_dir, play([task]), MODULE_MARKER["ours"])
            result = run.results("rollout")[0]
            body = result["result"]
            if result["status"] != "failed" and not body.get("failed"):
                raise RuntimeError(f"ours did not fail on {image(manifest)}: {body.get('msg')}")
            entry["reason"] = (body.get("failure") or {}).get("reason")
            entry["rolled_back"] = body.get("rolled_back")
            timeline = body.get("timeline")
            noticed = _timeline_time(timeline, "failed", last=False)
            undo_started = _timeline_time(timeline, "rollback_started", last=False)
            returned = float(result["time"])
            start, end, peaks = run.process.start, run.process.end, run.process.peaks_kib
        else:
            timeout = way.split("-", 1)[1]
            run = run_kubectl_undo(
                self.kubectl,
                kubeconfig,
                self.work_dir,
                manifest,
                [f"deployment/{name}", "-n", NAMESPACE],
                timeout,
            )
            if run.undo is None:
                raise RuntimeError(
                    f"kubectl rollout status --timeout={timeout} did not fail on {image(manifest)}"
                )
            entry["timeout"] = timeout
            entry["status_error"] = run.status.stderr.strip()[-300:]
            noticed, undo_started, returned = run.status.end, run.undo.start, run.end
            start, end, peaks = run.start, run.end, run.peaks_kib
        time.sleep(0.3)
        after = self.cluster.requests()
        applied = next(
            (
                e.time
                for e in self.deployments.snapshot()
                if e.time >= start
                and e.obj["metadata"]["name"] == name
                and image_of(e.obj) == image(manifest)
            ),
            None,
        )
        restored, lowest = restored_time(replica_sets.snapshot(), name, old_image, replicas, start)
        if restored is None or applied is None:
            raise RuntimeError(
                f"{way}: the watch never saw {name} back at {replicas} available on {old_image}"
            )

        def since(moment: Optional[float]) -> Optional[float]:
            return None if moment is None else round(moment - start, 4)

        entry.update(
            {
                "wall": round(end - start, 4),
                "applied_after_start": since(applied),
                "noticed_after_start": since(noticed),
                "undo_after_start": since(undo_started),
                "restored_after_start": since(restored),
                "restored_after_applied": round(restored - applied, 4),
                "returned_after_restored": round(returned - restored, 4),
                "lowest_old_available": lowest,
                "requests": after.minus(before).per_tool[tool],
                "peak_rss_mib": round(max(peaks) / 1024, 1) if peaks else None,
            }
        )
        return entry


def _writes(events: List[Any]) -> List[float]:
    """Arrival times of the events of one Deployment that a client write caused: its generation
    (spec) or its annotations changed. The controller's status updates change neither."""
    times = []
    previous: Optional[JSONDict] = None
    for event in events:
        metadata = event.obj.get("metadata") or {}
        key = {"generation": metadata.get("generation"), "annotations": metadata.get("annotations")}
        if previous is not None and key != previous and event.type == "MODIFIED":
            times.append(event.time)
        previous = key
    return times


def _timeline_time(timeline: Optional[List[JSONDict]], event: str, last: bool = True) -> Optional[float]:
    """Wall-clock time of the last (or first) ``event`` of our module's result timeline (ms
    resolution)."""
    times = [
        datetime.datetime.fromisoformat(item["time"]).timestamp()
        for item in timeline or []
        if item.get("event") == event
    ]
    if not times:
        return None
    return times[-1] if last else times[0]


def restored_time(
    events: List[Any], deployment: str, old_image: str, replicas: int, after: float
) -> Tuple[Optional[float], Optional[int]]:
    """When the old version of ``deployment`` was first back at full capacity after ``after``, by the
    ReplicaSet events: once a ReplicaSet of another image was scaled up (the failure began), the
    first moment where the ReplicaSets running ``old_image`` have ``replicas`` available and the
    others neither want nor have a pod. Also the fewest old pods available in between.

    Example, 10 replicas, kubectl's RollingUpdate 25%/25%: broken 0 -> 3 (the failure starts), v1
    10 -> 8 (lowest 8), broken pods crash-loop; ``rollout undo``: broken 3 -> 0, v1 8 -> 10, and
    when the two new v1 pods are available, that event's arrival is the moment."""
    state: Dict[str, JSONDict] = {}
    started = False
    lowest: Optional[int] = None
    for event in events:
        obj = event.obj
        metadata = obj.get("metadata") or {}
        owners = {
            o.get("name") for o in metadata.get("ownerReferences") or [] if o.get("kind") == "Deployment"
        }
        if deployment not in owners:
            continue
        if event.type == "DELETED":
            state.pop(str(metadata.get("uid")), None)
        else:
            state[str(metadata.get("uid"))] = obj
        if event.time < after:
            continue
        old = [rs for rs in state.values() if image_of(rs) == old_image]
        new = [rs for rs in state.values() if image_of(rs) != old_image]
        if any(int((rs.get("spec") or {}).get("replicas") or 0) > 0 for rs in new):
            started = True
        if not started:
            continue
        available = sum(int((rs.get("status") or {}).get("availableReplicas") or 0) for rs in old)
        lowest = available if lowest is None else min(lowest, available)
        wanted = sum(int((rs.get("spec") or {}).get("replicas") or 0) for rs in old)
        new_pods = sum(
            int((rs.get("spec") or {}).get("replicas") or 0)
            + int((rs.get("status") or {}).get("replicas") or 0)
            for rs in new
        )
        if available >= replicas and wanted == replicas and new_pods == 0:
            return event.time, lowest
    return None, lowest


def _median(values: List[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _brief_failure(entry: JSONDict, ways: Tuple[str, ...]) -> str:
    parts = []
    for way in ways:
        value = entry.get(way) or {}
        if "error" in value:
            parts.append(f"{way} FAILED")
        else:
            parts.append(
                f"{way} v1 back after {value.get('restored_after_start')}s "
                f"(noticed {value.get('noticed_after_start')}s, lowest {value.get('lowest_old_available')})"
            )
    return "; ".join(parts)


def _brief(entry: JSONDict) -> str:
    parts = []
    for tool in TOOLS:
        value = entry.get(tool)
        if isinstance(value, dict) and "error" in value:
            parts.append(f"{tool} FAILED")
        elif isinstance(value, dict) and "wall" in value:
            requests = value.get("requests") or {}
            latency = value.get("latency", value.get("latency_median"))
            parts.append(
                f"{tool} wall {value['wall']:.2f}s latency {latency:.2f}s "
                f"requests {requests.get('regular', 0)}+{requests.get('watch', 0)}w"
            )
    return "; ".join(parts)


__all__ = ["TOOLS", "Bench", "Requests", "deployment", "real_deployment", "restored_time"]
