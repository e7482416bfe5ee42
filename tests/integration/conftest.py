"""Fixtures for integration tests against the local control plane (hack/cluster/).

The session starts the cluster with hack/cluster/up.sh, which reuses one that already runs; nothing
here stops it (`make test` / hack/cluster/down.sh does). Each test gets its own namespace.
Waiting is done with the watch API and a timeout, never with sleep: see `watch_until`/`wait_for`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = REPO_ROOT / "hack" / "cluster"
NAMESPACE_LABEL = "openrollout.test/integration"

T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "integration: runs against the local control plane started by hack/cluster/up.sh",
    )
    config.addinivalue_line(
        "markers",
        "reliability: invariants, interruption and concurrency trials (RELIABILITY_TRIALS, docs/reliability.md)",
    )
    config.addinivalue_line(
        "markers",
        "faults: restarts control-plane components of a cluster of its own (make reliability-faults)",
    )


# Tests that failed, then passed when run again (make test runs integration tests with
# --reruns 1): one JSON line each, which hack/test-failures.py prints at the end of `make test`,
# so that a flaky test is seen and looked into, not hidden by its rerun.
RERUN_REPORT = REPO_ROOT / "build" / "test-results" / "integration-reruns.jsonl"
# Enough of the first failure to tell what went wrong.
RERUN_DETAIL_CHARS = 3000


def _is_controller() -> bool:
    """Not a pytest-xdist worker: the controller sees every worker's reports, once."""
    return "PYTEST_XDIST_WORKER" not in os.environ


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_controller():
        RERUN_REPORT.unlink(missing_ok=True)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.outcome != "rerun" or not _is_controller():
        return
    RERUN_REPORT.parent.mkdir(parents=True, exist_ok=True)
    line = {"test": report.nodeid, "when": report.when, "failure": report.longreprtext[-RERUN_DETAIL_CHARS:]}
    with RERUN_REPORT.open("a") as out:
        out.write(json.dumps(line) + "\n")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test, marked or not."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


# --- waiting with watches -------------------------------------------------------------------


def _key(obj: Any) -> tuple[str, str]:
    if isinstance(obj, dict):
        return obj["metadata"].get("namespace") or "", obj["metadata"]["name"]
    return obj.metadata.namespace or "", obj.metadata.name


def _items(listing: Any) -> list[Any]:
    return listing["items"] if isinstance(listing, dict) else listing.items


def _resource_version(listing: Any) -> str:
    if isinstance(listing, dict):
        return str(listing["metadata"]["resourceVersion"])
    return str(listing.metadata.resource_version)


def watch_until(
    list_fn: Callable[..., Any],
    condition: Callable[[list[Any]], T | None],
    timeout: float,
    **list_kwargs: Any,
) -> T:
    """Return `condition(objects)` as soon as it is truthy; raise TimeoutError after `timeout` s.

    `list_fn` is a kubernetes client list call (e.g. `core_v1.list_namespaced_pod`, or a
    `functools.partial` of `CustomObjectsApi.list_namespaced_custom_object`, whose objects are
    dicts) and `list_kwargs` its arguments (namespace, label_selector, field_selector...).
    `objects` is the current state of that list, sorted by namespace and name: first from a list,
    then kept up to date from a watch that starts at the list's resourceVersion, so no change is
    missed in between.
    """
    listing = list_fn(**list_kwargs)
    objects = {_key(o): o for o in _items(listing)}

    def current() -> list[Any]:
        return [objects[k] for k in sorted(objects)]

    result = condition(current())
    if result:
        return result
    w = watch.Watch()
    try:
        for event in w.stream(
            list_fn,
            resource_version=_resource_version(listing),
            timeout_seconds=max(1, round(timeout)),
            _request_timeout=timeout + 5,
            **list_kwargs,
        ):
            obj = event["object"]
            key = _key(obj)
            if event["type"] == "DELETED":
                objects.pop(key, None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                objects[key] = obj
            result = condition(current())
            if result:
                return result
    finally:
        w.stop()
    names = ", ".join(f"{ns + '/' if ns else ''}{n}" for ns, n in sorted(objects)) or "none"
    raise TimeoutError(f"condition not met within {timeout}s (objects seen: {names})")


def wait_for(
    predicate: Callable[[Any], bool],
    list_fn: Callable[..., Any],
    timeout: float,
    **list_kwargs: Any,
) -> Any:
    """Return the first object of `list_fn(**list_kwargs)` for which `predicate` holds (watch-based)."""
    return watch_until(
        list_fn,
        lambda objs: next((o for o in objs if predicate(o)), None),
        timeout,
        **list_kwargs,
    )


# --- fixtures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl: Path


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """The local control plane, started (or reused) by hack/cluster/up.sh. Never stopped here."""
    up = subprocess.run(
        [str(CLUSTER_DIR / "up.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if up.returncode != 0:
        pytest.fail(
            f"hack/cluster/up.sh failed with exit code {up.returncode}:\n{up.stdout}\n{up.stderr}",
            pytrace=False,
        )
    kubectl = subprocess.run(
        [str(CLUSTER_DIR / "kubectl-path.sh")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    state_dir = Path(os.environ.get("CLUSTER_STATE_DIR", REPO_ROOT / ".cluster"))
    return Cluster(kubeconfig=state_dir / "kubeconfig", kubectl=Path(kubectl))


@pytest.fixture(scope="session")
def k8s_api(cluster: Cluster) -> Iterator[client.ApiClient]:
    """A kubernetes ApiClient for the cluster admin (group system:masters)."""
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="session")
def core_v1(k8s_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_api)


@pytest.fixture(scope="session")
def apps_v1(k8s_api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(k8s_api)


@pytest.fixture(scope="session")
def batch_v1(k8s_api: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(k8s_api)


@pytest.fixture(scope="session")
def custom_objects(k8s_api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(k8s_api)


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`kubectl(*args, input=None, timeout=60)`: run the built kubectl against the cluster."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}

    def run(*args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cluster.kubectl), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    return run


def _namespace_name(nodeid: str) -> str:
    """it-<test name, shortened>-<random>, a valid DNS-1123 label."""
    test = nodeid.rsplit("::", 1)[-1]
    test = re.sub(r"^test_?", "", test)
    slug = re.sub(r"[^a-z0-9]+", "-", test.lower()).strip("-")[:40].strip("-") or "test"
    return f"it-{slug}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, core_v1: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting for it to go).

    Yields once its `default` ServiceAccount exists, so pods can be created right away.
    """
    name = _namespace_name(request.node.nodeid)
    core_v1.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={NAMESPACE_LABEL: "true"}))
    )
    try:
        wait_for(
            lambda sa: sa.metadata.name == "default",
            core_v1.list_namespaced_service_account,
            30,
            namespace=name,
        )
        yield name
    finally:
        try:
            core_v1.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture(name="watch_until")
def _watch_until_fixture() -> Callable[..., Any]:
    return watch_until


@pytest.fixture(name="wait_for")
def _wait_for_fixture() -> Callable[..., Any]:
    return wait_for


@pytest.fixture(scope="session")
def run_task(cluster: Cluster) -> Callable[..., dict[str, Any]]:
    """`run_task(module, args, check=False, diff=False)`: a module run by ansible-playbook (see _ansible.py)."""
    from _ansible import run_task as _run_task

    def run(module: str, args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return _run_task(module, args, cluster.kubeconfig, **kwargs)

    return run


REAL_NODE = "openrollout-node"


@pytest.fixture(scope="session")
def real_node(cluster: Cluster, core_v1: client.CoreV1Api) -> str:
    """The real node (hack/cluster/node.sh), Ready: its name.

    Skipped only where the cluster was started without it on purpose (CLUSTER_REAL_NODE=0); a
    cluster that should have it and does not fails the test.
    """
    if os.environ.get("CLUSTER_REAL_NODE") == "0":
        pytest.skip("the local cluster runs without its real node (CLUSTER_REAL_NODE=0)")
    try:
        node = core_v1.read_node(REAL_NODE)
    except ApiException as exc:
        pytest.fail(
            f"the local cluster has no real node {REAL_NODE} ({exc.status} {exc.reason}): see hack/cluster/README.md"
        )
    ready = [c.status for c in node.status.conditions or [] if c.type == "Ready"]
    assert ready == ["True"], f"node {REAL_NODE} is not Ready: {node.status.conditions}"
    return REAL_NODE


@pytest.fixture(scope="module")
def own_clusters(request: pytest.FixtureRequest) -> Iterator[list[Any]]:
    """Clusters of the test module's own (see _clusters.py): its OWN_CLUSTERS (default 3), KWOK nodes only,
    started at once under build/clusters/<module>[-<xdist worker>]/c<i>, stopped when the module ends, also
    on failure. OWN_CLUSTERS_KEEP=1 keeps them running for the next run (which reuses them), for debugging.

    Mark the module's tests `pytest.mark.xdist_group(...)`: make test-integration runs with --dist loadgroup,
    so one worker has the whole module and starts its clusters once.
    """
    from _clusters import own_clusters as start

    module = Path(str(request.node.fspath)).stem
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    keep = os.environ.get("OWN_CLUSTERS_KEEP") == "1"
    root = REPO_ROOT / "build" / "clusters" / (module if keep or not worker else f"{module}-{worker}")
    with start(getattr(request.module, "OWN_CLUSTERS", 3), root, keep=keep) as clusters:
        yield clusters
