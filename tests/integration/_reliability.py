"""Helpers of the reliability suite (test_invariants.py, test_interruption.py, test_concurrency.py).

- `Recorder`: independent watches (the kubernetes client, none of the collection's code) on the
  pods, Jobs, ReplicaSets and Deployments of one namespace. Every event is kept with the time it
  arrived and its resourceVersion, and can trigger a callback (to kill a playbook at that moment).
- Pure checks on the recorded pod events: `rolling_violations` (available >= replicas -
  maxUnavailable, total <= replicas + maxSurge) and `recreate_violations` (never pods of two
  templates at once), `hook_reruns` (no hook Job created again after one of that name finished).
- `trials()` and `hypothesis_settings()`: the size knob RELIABILITY_TRIALS (docs/reliability.md).
- `record()`: one JSON line per trial in build/reliability/trials.jsonl, summed up by
  `python tests/integration/_reliability.py summary` (what docs/reliability.md reports).

How pods are counted (the deployment controller's own rules, pkg/controller/deployment and
controller_utils.IsPodActive in Kubernetes v1.36): a pod counts towards `total` while it is
*active*, that is neither terminating (deletionTimestamp set) nor finished (Succeeded, Failed);
it is *available* when it is active and Ready (the suite's Deployments have minReadySeconds 0).
maxSurge and maxUnavailable resolve as ResolveFenceposts does: surge rounds up, unavailable
rounds down, and when both are 0 unavailable becomes 1. Recreate is stricter and counts every pod
that is not finished, terminating ones included, as the controller's oldPodsRunning does before it
creates the new ReplicaSet's pods.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG = Path(os.environ.get("RELIABILITY_LOG", REPO_ROOT / "build" / "reliability" / "trials.jsonl"))
NAMESPACE_LABEL = "openrollout.test/integration"
HASH_LABEL = "pod-template-hash"
STATE_ANNOTATION = "openrollout.k8s/rollout"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


# --- the size knob ---------------------------------------------------------------------------


def trials() -> int:
    """RELIABILITY_TRIALS: randomized trials per test; 0 (the default, `make test`) runs the fixed ones only."""
    raw = os.environ.get("RELIABILITY_TRIALS", "0")
    try:
        return max(int(raw), 0)
    except ValueError:
        raise ValueError(f"RELIABILITY_TRIALS must be an integer, got {raw!r}") from None


def hypothesis_settings() -> Any:
    """The fixed @examples only (derandomized) by default; with RELIABILITY_TRIALS=n, n random ones too.

    No shrinking: each example is a real rollout of several seconds, and the failing example is
    printed and recorded as it is. No example database: a run does not depend on earlier ones.
    """
    from hypothesis import HealthCheck, Phase, settings

    common: dict[str, Any] = {
        "deadline": None,
        "database": None,
        "report_multiple_bugs": False,
        "suppress_health_check": list(HealthCheck),
    }
    count = trials()
    if count == 0:
        return settings(max_examples=1, derandomize=True, phases=[Phase.explicit], **common)
    return settings(max_examples=count, derandomize=False, phases=[Phase.explicit, Phase.generate], **common)


# --- namespaces --------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_namespace(core_v1: client.CoreV1Api, slug: str) -> Iterator[str]:
    """A namespace of its own per trial (hypothesis examples share the test's fixtures)."""
    name = f"it-{slug}-{secrets.token_hex(3)}"
    core_v1.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={NAMESPACE_LABEL: "true"}))
    )
    try:
        deadline = time.monotonic() + 30
        while not any(
            sa.metadata.name == "default" for sa in core_v1.list_namespaced_service_account(name).items
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {name}: no default ServiceAccount after 30s")
            time.sleep(0.1)  # the ServiceAccount controller makes it within milliseconds
        yield name
    finally:
        with contextlib.suppress(ApiException):
            core_v1.delete_namespace(name)


# --- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str  # pod, job, replicaset, deployment
    type: str  # LISTED (the initial list), ADDED, MODIFIED, DELETED
    rv: int  # the object's resourceVersion: etcd's revision, one order across kinds
    at: float  # time.monotonic() when it arrived
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


_LISTS = {
    "pod": lambda api, ns: (client.CoreV1Api(api).list_namespaced_pod, {"namespace": ns}),
    "job": lambda api, ns: (client.BatchV1Api(api).list_namespaced_job, {"namespace": ns}),
    "replicaset": lambda api, ns: (client.AppsV1Api(api).list_namespaced_replica_set, {"namespace": ns}),
    "deployment": lambda api, ns: (client.AppsV1Api(api).list_namespaced_deployment, {"namespace": ns}),
}


class Recorder:
    """Watches ``kinds`` in ``namespace`` from threads of its own, each with its own ApiClient.

    ``on_event(event)`` runs in the watching thread for every event (keep it short). Lists are
    raw JSON (no model deserialization), so what is recorded is what the API server sent.
    """

    def __init__(
        self,
        kubeconfig: Path | str,
        namespace: str,
        kinds: tuple[str, ...] = ("pod", "job", "replicaset", "deployment"),
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.kubeconfig = str(kubeconfig)
        self.namespace = namespace
        self.kinds = kinds
        self.on_event = on_event
        self.events: list[Event] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Barrier(len(kinds) + 1)
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in kinds]

    def __enter__(self) -> Recorder:
        for thread in self._threads:
            thread.start()
        self._ready.wait(timeout=60)  # every kind listed: nothing after this moment is missed
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def of(self, kind: str) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.kind == kind]

    def _add(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # a broken callback must show, not kill the recording
                self.errors.append(f"on_event: {exc!r}")

    def _run(self, kind: str) -> None:
        api = config.new_client_from_config(config_file=self.kubeconfig)
        try:
            list_fn, kwargs = _LISTS[kind](api, self.namespace)
            first = True
            known: dict[str, dict[str, Any]] = {}
            while not self._stop.is_set():
                listing = api.sanitize_for_serialization(list_fn(**kwargs))
                rv = str(listing["metadata"]["resourceVersion"])
                listed = {obj["metadata"]["name"]: obj for obj in listing.get("items") or []}
                for name, obj in known.items():  # gone while the watch was broken (after a 410)
                    if name not in listed:
                        self._add(Event(kind, "DELETED", int(rv), time.monotonic(), obj))
                known = listed
                for obj in listed.values():
                    self._add(Event(kind, "LISTED", int(rv), time.monotonic(), obj))
                if first:
                    first = False
                    self._ready.wait(timeout=60)
                last = self._follow(list_fn, kwargs, kind, rv, known)
                if last is not None:
                    break  # stopped
        except Exception as exc:
            self.errors.append(f"{kind} watch: {exc!r}")
            with contextlib.suppress(threading.BrokenBarrierError):
                self._ready.abort()
        finally:
            api.close()

    def _follow(
        self,
        list_fn: Callable[..., Any],
        kwargs: dict[str, Any],
        kind: str,
        rv: str,
        known: dict[str, dict[str, Any]],
    ) -> str | None:
        """Watch from ``rv`` until stopped (returns the last rv), or None when the list must be redone."""
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for raw in w.stream(
                    list_fn,
                    resource_version=rv,
                    timeout_seconds=2,
                    allow_watch_bookmarks=True,
                    deserialize=False,
                    **kwargs,
                ):
                    kind_of_event = raw.get("type")
                    obj = raw.get("object") or raw.get("raw_object") or {}
                    if kind_of_event == "ERROR":
                        return None  # 410 Gone: list again
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if kind_of_event == "BOOKMARK":
                        continue
                    if kind_of_event == "DELETED":
                        known.pop(obj["metadata"]["name"], None)
                    else:
                        known[obj["metadata"]["name"]] = obj
                    self._add(Event(kind, str(kind_of_event), int(rv), time.monotonic(), obj))
            except KeyError:
                return None  # the client's ERROR handling with deserialize=False (410 Gone): list again
            except ApiException as exc:
                if exc.status == 410:
                    return None
                raise
            finally:
                w.stop()
        return rv


# --- reading recorded objects ------------------------------------------------------------------


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def is_finished(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_terminating(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def template_hash(pod: dict[str, Any]) -> str:
    return str((pod["metadata"].get("labels") or {}).get(HASH_LABEL, ""))


def job_finished(job: dict[str, Any], kind: str = "Complete") -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def image_of(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


@dataclass
class Moment:
    """The app's pods (and ReplicaSets) after one event: what the invariants are checked on."""

    rv: int
    at: float
    active: int  # pods not terminating, not finished
    available: int  # active and Ready
    alive_by_hash: dict[str, int] = field(default_factory=dict)  # not finished, terminating included
    rs_replicas: int | None = None  # the sum of the ReplicaSets' spec.replicas, when they are watched

    def describe(self) -> str:
        sets = "" if self.rs_replicas is None else f", ReplicaSets' replicas {self.rs_replicas}"
        return (
            f"rv {self.rv}: total {self.active}, available {self.available}, "
            f"pods by template {dict(sorted(self.alive_by_hash.items()))}{sets}"
        )


def moments(events: list[Event], selector: dict[str, str]) -> list[Moment]:
    """The app's counts after each pod or ReplicaSet event matching ``selector``.

    Pod events come in watch order; with ReplicaSet events too, the two watches are merged by
    resourceVersion (etcd's revision: one sequence across kinds on this cluster).
    """
    pods: dict[str, dict[str, Any]] = {}
    sets: dict[str, int] = {}
    watched_sets = any(e.kind == "replicaset" for e in events)
    out: list[Moment] = []
    mine = [
        e
        for e in events
        if e.kind in ("pod", "replicaset")
        and all((e.obj["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    if watched_sets:
        mine.sort(key=lambda e: e.rv)  # stable: a list's items keep their order
    for index, event in enumerate(mine):
        if event.type == "DELETED":
            (pods if event.kind == "pod" else sets).pop(event.name, None)
        elif event.kind == "pod":
            pods[event.name] = event.obj
        else:
            sets[event.name] = int((event.obj.get("spec") or {}).get("replicas") or 0)
        following = mine[index + 1] if index + 1 < len(mine) else None
        if (
            event.type == "LISTED"
            and following is not None
            and following.type == "LISTED"
            and following.rv == event.rv
        ):
            continue  # one list is one moment: its items are not counted one by one
        active = [p for p in pods.values() if not is_terminating(p) and not is_finished(p)]
        alive: dict[str, int] = {}
        for pod in pods.values():
            if not is_finished(pod):
                alive[template_hash(pod)] = alive.get(template_hash(pod), 0) + 1
        out.append(
            Moment(
                event.rv,
                event.at,
                len(active),
                sum(1 for p in active if is_ready(p)),
                alive,
                sum(sets.values()) if watched_sets else None,
            )
        )
    return out


# --- the invariants (pure) ----------------------------------------------------------------------

_PERCENT = re.compile(r"^(\d+)%$")


def scaled(value: int | str, replicas: int, round_up: bool) -> int:
    """GetScaledValueFromIntOrPercent, written again here so the check does not trust the code under test."""
    if isinstance(value, int):
        return value
    match = _PERCENT.match(value)
    if not match:
        return int(value)
    exact = int(match.group(1)) * replicas / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def fenceposts(max_surge: int | str, max_unavailable: int | str, replicas: int) -> tuple[int, int]:
    """ResolveFenceposts: (surge, unavailable); both 0 gives unavailable 1."""
    surge = scaled(max_surge, replicas, True)
    unavailable = scaled(max_unavailable, replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


# How long pods may number more than replicas + maxSurge while the ReplicaSets do not (see below).
LAG_SECONDS = 1.0


def rolling_violations(
    timeline: list[Moment],
    replicas: int,
    max_surge: int | str,
    max_unavailable: int | str,
    lag: list[float] | None = None,
) -> list[str]:
    """Moments where available < replicas - maxUnavailable or total > replicas + maxSurge.

    maxSurge bounds the sum of the ReplicaSets' spec.replicas (NewRSNewReplicas); pods follow
    through the ReplicaSet controller, which syncs each ReplicaSet on its own. So a pod of the new
    ReplicaSet can be created a moment before the pod of the old one it replaces is marked for
    deletion: the pods then number one more than replicas + maxSurge while the ReplicaSets do
    not. With the ReplicaSets watched (``rs_replicas``), such a moment is the controllers' lag,
    not a violation, as long as it lasts less than LAG_SECONDS; each one's length goes to ``lag``.
    A sum of ReplicaSet replicas above the bound is always a violation.
    """
    surge, unavailable = fenceposts(max_surge, max_unavailable, replicas)
    low, high = replicas - unavailable, replicas + surge
    found = []
    over_since: Moment | None = None
    for moment in timeline:
        if moment.available < low:
            found.append(
                f"available {moment.available} < {low} (replicas - maxUnavailable): {moment.describe()}"
            )
        if moment.rs_replicas is not None and moment.rs_replicas > high:
            found.append(
                f"ReplicaSets' replicas {moment.rs_replicas} > {high} (replicas + maxSurge): {moment.describe()}"
            )
        if moment.active > high and moment.rs_replicas is None:
            found.append(f"total {moment.active} > {high} (replicas + maxSurge): {moment.describe()}")
        elif moment.active > high and over_since is None:
            over_since = moment
        elif moment.active <= high and over_since is not None:
            length = moment.at - over_since.at
            if lag is not None:
                lag.append(round(length, 3))
            if length >= LAG_SECONDS:
                found.append(
                    f"total above {high} (replicas + maxSurge) for {length:.2f}s from {over_since.describe()}"
                )
            over_since = None
    if over_since is not None:
        found.append(f"total above {high} (replicas + maxSurge) at the end, from {over_since.describe()}")
    return found


def recreate_violations(timeline: list[Moment]) -> list[str]:
    """Moments where pods of two templates (pod-template-hash) exist at once, terminating ones included."""
    return [
        f"pods of {len(m.alive_by_hash)} templates at once: {m.describe()}"
        for m in timeline
        if len([h for h, n in m.alive_by_hash.items() if n]) > 1
    ]


def hook_reruns(job_events: list[Event]) -> list[str]:
    """A hook Job created again (new uid, same name) after a Job of that name had succeeded."""
    succeeded_at: dict[str, int] = {}
    seen: set[str] = set()
    found = []
    for event in job_events:
        name, uid = event.name, str(event.obj["metadata"].get("uid"))
        if uid not in seen and event.type != "DELETED":
            seen.add(uid)
            if name in succeeded_at:
                found.append(
                    f"Job {name} created again (uid {uid}) after one succeeded at rv {succeeded_at[name]}"
                )
        if job_finished(event.obj) and name not in succeeded_at:
            succeeded_at[name] = event.rv
    return found


# --- killing a playbook -------------------------------------------------------------------------
#
# ansible-playbook's worker calls setsid(), so the module runs in a session of its own: killing
# ansible-playbook's process group would leave the module running, orphaned, to the end. A machine
# or CI runner that dies takes all of them. So every process of a run carries a marker in its
# environment (inherited down to the module), and `kill_marked` SIGKILLs each process that has it.

MARKER = "OPENROLLOUT_RELIABILITY_RUN"


def marked(token: str) -> list[int]:
    """Live processes (not zombies) whose environment has MARKER=token: the run's whole tree."""
    wanted = f"{MARKER}={token}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if wanted not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(proc.name))
    return found


def kill_marked(token: str) -> list[int]:
    """kill -9 every process of the run (ansible-playbook, its worker, the module); the pids killed."""
    killed: list[int] = []
    for _attempt in range(5):  # again, for a process forked while the others were killed
        pids = [pid for pid in marked(token) if pid not in killed]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        killed += pids
    return killed


# --- the trial log ------------------------------------------------------------------------------


def dump(recorder: Recorder, name: str) -> Path:
    """Every recorded event of a trial that found a problem, for a post-mortem (build/reliability/events/)."""
    path = LOG.parent / "events" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for e in recorder.events:
            out.write(
                json.dumps({"kind": e.kind, "type": e.type, "rv": e.rv, "at": e.at, "obj": e.obj}) + "\n"
            )
    return path


def record(test: str, **fields: Any) -> None:
    """One JSON line per trial in build/reliability/trials.jsonl (RELIABILITY_LOG)."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"test": test, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **fields}, sort_keys=True)
    with LOG.open("a") as out:
        out.write(line + "\n")


def summary(path: Path) -> str:
    """The figures of docs/reliability.md from a trial log."""
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        row = rows.setdefault(
            entry["test"],
            {"trials": 0, "violations": 0, "failed": 0, "seconds": 0.0, "moments": 0, "kinds": {}},
        )
        row["trials"] += 1
        row["violations"] += len(entry.get("violations") or [])
        row["failed"] += 0 if entry.get("ok", True) else 1
        row["seconds"] += float(entry.get("seconds") or 0)
        row["moments"] += int(entry.get("moments") or 0)
        kind = entry.get("kill_label") or entry.get("outcome")
        if kind:
            row["kinds"][kind] = row["kinds"].get(kind, 0) + 1
    out = [
        "| test | trials | failed | violations | pod moments checked | time (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for test, row in sorted(rows.items()):
        out.append(
            f"| {test} | {row['trials']} | {row['failed']} | {row['violations']} | {row['moments']} | {row['seconds']:.0f} |"
        )
    for test, row in sorted(rows.items()):
        if row["kinds"]:
            out.append("")
            out.append(f"{test}: " + ", ".join(f"{k} x{n}" for k, n in sorted(row["kinds"].items())))
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "summary":
        print(summary(Path(sys.argv[2]) if len(sys.argv) > 2 else LOG))
    else:
        sys.exit("usage: _reliability.py summary [trials.jsonl]")
