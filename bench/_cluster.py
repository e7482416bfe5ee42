"""The benchmark's view of the local cluster: its own users, its own request counters, a recorder.

- Each tool talks to the apiserver as its own ServiceAccount (``bench-<tool>``, cluster-admin),
  through its own kubeconfig. A FlowSchema per ServiceAccount (priority level ``exempt``, so
  nothing is throttled) makes the apiserver count that tool's requests apart from the
  controllers', the scheduler's, kwok's and anyone else's:
  ``apiserver_flowcontrol_request_execution_seconds_count{flow_schema="openrollout-bench-<tool>"}``
  (split into ``regular`` and ``watch``). ``apiserver_request_total`` before/after is kept too, as
  the whole cluster's load.
- ``Recorder`` lists and then watches Deployments (and, when asked, pods) of the bench namespace
  from this process, as the admin, and stamps each event with the wall-clock time it arrived.
  The done moment of a rollout is the first event whose object satisfies kubectl's done-test
  (written again here, independently of the module under test).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

NAMESPACE = "openrollout-bench"
FLOW_PREFIX = "openrollout-bench-"
TOOLS = ("ours", "kcore", "kubectl")
# One identity (ServiceAccount, FlowSchema, kubeconfig) per tool, and a second one per tool for
# the slow rollouts that run at the same time as the fast ones (scenario 3).
IDENTITIES = (*TOOLS, *(f"{tool}-slow" for tool in TOOLS))
SCALE_NODE_PREFIX = "bench-scale-node-"
SCALE_TAINT = {"key": "openrollout.bench/scale", "value": "true", "effect": "NoSchedule"}

JSONDict = Dict[str, Any]


def admin_client(kubeconfig: Path) -> Any:
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = 16
    return k8s_client.ApiClient(configuration)


def done_test(deployment: JSONDict) -> bool:
    """kubectl rollout status's done-test for a Deployment (DeploymentStatusViewer.Status)."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = int((deployment.get("metadata") or {}).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        return False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return False
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    return updated >= replicas and total <= updated and available >= updated


def image_of(deployment: JSONDict) -> str:
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    return str((containers or [{}])[0].get("image", ""))


@dataclass
class Event:
    """One watch event as it arrived here: wall-clock time, type and the object."""

    time: float
    type: str
    obj: JSONDict


@dataclass
class Recorder:
    """List then watch one kind in the bench namespace, keeping every event with its arrival time."""

    list_fn: Callable[..., Any]
    label_selector: Optional[str] = None
    keep: Callable[[JSONDict], JSONDict] = field(default=lambda obj: obj)
    events: List[Event] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _response: Any = None

    def start(self) -> Recorder:
        threading.Thread(target=self._run, name="bench-recorder", daemon=True).start()
        if not self._ready.wait(30):
            raise RuntimeError("the recorder could not list")
        return self

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.connection.sock.shutdown(2)

    def snapshot(self) -> List[Event]:
        with self._lock:
            return list(self.events)

    def clear(self) -> None:
        with self._lock:
            self.events.clear()

    def _run(self) -> None:
        selectors: JSONDict = {"namespace": NAMESPACE}
        if self.label_selector:
            selectors["label_selector"] = self.label_selector
        version = None
        while not self._stop.is_set():
            try:
                if version is None:
                    listed = json.loads(self.list_fn(_preload_content=False, **selectors).data)
                    version = listed["metadata"]["resourceVersion"]
                    now = time.time()
                    with self._lock:
                        for item in listed.get("items", []):
                            self.events.append(Event(now, "LISTED", self.keep(item)))
                    self._ready.set()
                self._response = self.list_fn(
                    watch=True,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=300,
                    _preload_content=False,
                    **selectors,
                )
                for line in _lines(self._response):
                    now = time.time()
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        version = None
                        break
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event.get("type") == "BOOKMARK":
                        continue
                    with self._lock:
                        self.events.append(Event(now, str(event.get("type")), self.keep(obj)))
            except (ApiException, OSError, ValueError, AttributeError):
                if self._stop.is_set():
                    return
                version = None
                time.sleep(0.2)
            except Exception:  # urllib3 protocol errors when stop() cuts the socket
                if self._stop.is_set():
                    return
                version = None
                time.sleep(0.2)


def _lines(response: Any) -> Iterator[bytes]:
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def done_time(events: List[Event], name: str, image: str, after: float) -> Optional[float]:
    """When the first event after ``after`` arrived where Deployment ``name`` runs ``image``, done."""
    for event in events:
        if event.time < after or event.type == "DELETED":
            continue
        obj = event.obj
        if obj.get("metadata", {}).get("name") != name or image_of(obj) != image:
            continue
        if done_test(obj):
            return event.time
    return None


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} ([0-9.eE+-]+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Requests:
    """Requests seen by the apiserver: per bench tool (regular, watch) and the whole cluster."""

    per_tool: Dict[str, Dict[str, int]]
    cluster_total: int

    def minus(self, before: Requests) -> Requests:
        per_tool = {
            tool: {
                kind: counts.get(kind, 0) - before.per_tool.get(tool, {}).get(kind, 0)
                for kind in ("regular", "watch")
            }
            for tool, counts in self.per_tool.items()
        }
        return Requests(per_tool, self.cluster_total - before.cluster_total)


class Cluster:
    """The admin's handle on the local cluster, plus the bench's users and counters."""

    def __init__(self, kubeconfig: Path, work_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.work_dir = work_dir
        self.api = admin_client(kubeconfig)
        self.core = k8s_client.CoreV1Api(self.api)
        self.apps = k8s_client.AppsV1Api(self.api)
        self.batch = k8s_client.BatchV1Api(self.api)
        self.rbac = k8s_client.RbacAuthorizationV1Api(self.api)
        self.custom = k8s_client.CustomObjectsApi(self.api)
        self.tool_kubeconfigs: Dict[str, Path] = {}

    # --- set-up and clean-up ------------------------------------------------------------

    def setup(self) -> None:
        # What an earlier run killed before its clean-up left (tainted nodes, FlowSchemas, the
        # namespace) goes first: a leftover node would be reused with its old capacity.
        self.teardown(wait=True)
        self.core.create_namespace({"metadata": {"name": NAMESPACE}})
        self._wait(lambda: self._exists(self.core.read_namespaced_service_account, "default"), 60)
        for identity in IDENTITIES:
            self._setup_tool(identity)

    def _setup_tool(self, tool: str) -> None:
        account = f"bench-{tool}"
        self.core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": account}})
        binding = {
            "metadata": {"name": f"{FLOW_PREFIX}{tool}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
        }
        with contextlib.suppress(ApiException):
            self.rbac.delete_cluster_role_binding(binding["metadata"]["name"])
        self.rbac.create_cluster_role_binding(binding)
        flow = {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": f"{FLOW_PREFIX}{tool}"},
            "spec": {
                "matchingPrecedence": 200,
                "priorityLevelConfiguration": {"name": "exempt"},
                "rules": [
                    {
                        "subjects": [
                            {
                                "kind": "ServiceAccount",
                                "serviceAccount": {"name": account, "namespace": NAMESPACE},
                            }
                        ],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "namespaces": ["*"],
                                "clusterScope": True,
                            }
                        ],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    }
                ],
            },
        }
        with contextlib.suppress(ApiException):
            self.custom.delete_cluster_custom_object(
                "flowcontrol.apiserver.k8s.io", "v1", "flowschemas", flow["metadata"]["name"]
            )
        self.custom.create_cluster_custom_object("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", flow)
        token = self.core.create_namespaced_service_account_token(
            account, NAMESPACE, {"spec": {"expirationSeconds": 4 * 3600}}
        ).status.token
        admin = yaml.safe_load(self.kubeconfig.read_text())
        cluster = admin["clusters"][0]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": cluster["cluster"]}],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [{"name": account, "context": {"cluster": "local", "user": account}}],
            "current-context": account,
        }
        path = self.work_dir / f"kubeconfig-{tool}"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        self.tool_kubeconfigs[tool] = path

    def teardown(self, wait: bool = False) -> None:
        """Everything the bench adds to the cluster, gone; ``wait``: until the nodes and namespace are."""
        for tool in IDENTITIES:
            with contextlib.suppress(ApiException):
                self.custom.delete_cluster_custom_object(
                    "flowcontrol.apiserver.k8s.io", "v1", "flowschemas", f"{FLOW_PREFIX}{tool}"
                )
            with contextlib.suppress(ApiException):
                self.rbac.delete_cluster_role_binding(f"{FLOW_PREFIX}{tool}")
        self.remove_scale_nodes(wait)
        self.delete_namespace(wait)

    def delete_namespace(self, wait: bool) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_namespace(NAMESPACE)
        if wait:
            self._wait(lambda: not self._namespace_exists(), 180)

    def _namespace_exists(self) -> bool:
        try:
            self.core.read_namespace(NAMESPACE)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _exists(self, read: Callable[..., Any], name: str) -> bool:
        try:
            read(name, NAMESPACE)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    @staticmethod
    def _wait(predicate: Callable[[], bool], timeout: float, what: str = "cluster state") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.2)

    # --- capacity for the scale scenario ---------------------------------------------------

    def add_scale_nodes(self, count: int, pods_per_node: int) -> None:
        """Fake nodes for big rollouts, tainted so that only the bench's pods land there."""
        names = [f"{SCALE_NODE_PREFIX}{i}" for i in range(count)]
        for name in names:
            if self._node_exists(name):
                continue
            resources = {"cpu": "512", "memory": "4Ti", "pods": str(pods_per_node)}
            self.core.create_node(
                {
                    "metadata": {
                        "name": name,
                        "annotations": {"kwok.x-k8s.io/node": "fake"},
                        "labels": {
                            "type": "kwok",
                            "kubernetes.io/arch": "amd64",
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/hostname": name,
                            "openrollout.bench/scale": "true",
                        },
                    },
                    "spec": {"taints": [SCALE_TAINT]},
                    "status": {"allocatable": resources, "capacity": resources},
                }
            )

        def ready() -> bool:
            for name in names:
                node = self.core.read_node(name)
                conditions = {c.type: c.status for c in (node.status.conditions or [])}
                if conditions.get("Ready") != "True":
                    return False
            return True

        self._wait(ready, 120, "the scale nodes to be Ready")

    def remove_scale_nodes(self, wait: bool = False) -> None:
        with contextlib.suppress(ApiException):
            for node in self._scale_nodes():
                with contextlib.suppress(ApiException):
                    self.core.delete_node(node.metadata.name)
        if wait:
            self._wait(lambda: not self._scale_nodes(), 60, "the bench nodes to go")

    def _scale_nodes(self) -> List[Any]:
        return list(self.core.list_node(label_selector="openrollout.bench/scale=true").items)

    def _node_exists(self, name: str) -> bool:
        try:
            self.core.read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- Deployments -----------------------------------------------------------------------

    def apply(self, manifest: JSONDict) -> None:
        self.apps.patch_namespaced_deployment(
            manifest["metadata"]["name"],
            NAMESPACE,
            manifest,
            field_manager="bench-setup",
            force=True,
            _content_type="application/apply-patch+yaml",
        )

    def wait_done(self, name: str, image: str, timeout: float = 600) -> None:
        def done() -> bool:
            raw = json.loads(
                self.apps.read_namespaced_deployment(name, NAMESPACE, _preload_content=False).data
            )
            return image_of(raw) == image and done_test(raw)

        self._wait(done, timeout, f"Deployment {name} to roll out {image}")

    def wait_settled(self, name: str, timeout: float = 600) -> None:
        """Until Deployment ``name`` is done with whatever template it has now."""

        def done() -> bool:
            raw = json.loads(
                self.apps.read_namespaced_deployment(name, NAMESPACE, _preload_content=False).data
            )
            return done_test(raw)

        self._wait(done, timeout, f"Deployment {name} to settle")

    def delete_deployments(self, label_selector: str) -> None:
        self.apps.delete_collection_namespaced_deployment(
            NAMESPACE, label_selector=label_selector, propagation_policy="Background"
        )

        def gone() -> bool:
            pods = self.core.list_namespaced_pod(NAMESPACE, label_selector=label_selector, limit=1)
            deployments = self.apps.list_namespaced_deployment(
                NAMESPACE, label_selector=label_selector, limit=1
            )
            return not pods.items and not deployments.items

        self._wait(gone, 600, f"Deployments {label_selector} and their pods to go")

    # --- counters ------------------------------------------------------------------------

    def requests(self) -> Requests:
        """Request counters now: per bench FlowSchema (regular / watch) and the whole apiserver."""
        configuration = self.api.configuration
        token = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
            "authorization"
        )
        response = self.api.rest_client.request(
            "GET", f"{configuration.host}/metrics", headers={"Authorization": token}
        )
        text = response.read().decode()
        per_tool: Dict[str, Dict[str, int]] = {tool: {"regular": 0, "watch": 0} for tool in IDENTITIES}
        total = 0
        for line in text.splitlines():
            if line.startswith("apiserver_request_total{"):
                match = _METRIC_LINE.match(line)
                if match:
                    total += int(float(match.group(3)))
            elif line.startswith("apiserver_flowcontrol_request_execution_seconds_count{"):
                match = _METRIC_LINE.match(line)
                if not match:
                    continue
                labels = dict(_LABEL.findall(match.group(2)))
                schema = labels.get("flow_schema", "")
                if schema.startswith(FLOW_PREFIX):
                    tool = schema[len(FLOW_PREFIX) :]
                    kind = labels.get("type", "regular")
                    if tool in per_tool and kind in per_tool[tool]:
                        per_tool[tool][kind] += int(float(match.group(3)))
        return Requests(per_tool, total)
