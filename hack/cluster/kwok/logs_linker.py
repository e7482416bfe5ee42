#!/usr/bin/env python
"""Serve `kubectl logs` for pods labelled openrollout.test/logs=<name> from <logs-dir>/<name>.log.

kwok answers the kubelet's /containerLogs API from `Logs` objects (kwok.x-k8s.io/v1alpha1) that
match a pod by namespace and name only; it cannot select pods by label. This companion of kwok
(started and stopped by hack/cluster/up.sh and down.sh) watches pods carrying the label and
gives each one a `Logs` object with the pod's name, owned by the pod (so the garbage collector
removes it with the pod), pointing at the file. A missing file is still linked, so that
`kubectl logs` reports the exact path it could not open.

    logs_linker.py --kubeconfig FILE --logs-dir DIR
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

LABEL = "openrollout.test/logs"
GROUP, VERSION, PLURAL = "kwok.x-k8s.io", "v1alpha1", "logs"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
RETRY_SECONDS = 1.0


def log(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}", flush=True)


def desired_logs(pod: Any, logs_dir: Path) -> dict[str, Any] | None:
    """The Logs object for `pod`, or None when the label value is not a plain file name."""
    name = (pod.metadata.labels or {}).get(LABEL, "")
    if not NAME_RE.fullmatch(name):
        log(f"skip {pod.metadata.namespace}/{pod.metadata.name}: {LABEL}={name!r} is not a file name")
        return None
    path = logs_dir / f"{name}.log"
    if not path.is_file():
        log(f"warning: {path} does not exist; kubectl logs will say so")
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Logs",
        "metadata": {
            "name": pod.metadata.name,
            "namespace": pod.metadata.namespace,
            "labels": {"app.kubernetes.io/managed-by": "openrollout-logs-linker"},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod.metadata.name,
                    "uid": pod.metadata.uid,
                }
            ],
        },
        "spec": {"logs": [{"logsFile": str(path), "previousLogsFile": str(path)}]},
    }


class Linker:
    def __init__(self, api: client.ApiClient, logs_dir: Path) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.logs_dir = logs_dir
        self.done: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, pod) -> (uid, label value)

    def link(self, pod: Any) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        if pod.metadata.deletion_timestamp is not None:
            self.done.pop((ns, name), None)
            return
        key = (pod.metadata.uid, (pod.metadata.labels or {}).get(LABEL, ""))
        if self.done.get((ns, name)) == key:
            return
        body = desired_logs(pod, self.logs_dir)
        if body is None:
            return
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
            log(f"linked {ns}/{name} -> {body['spec']['logs'][0]['logsFile']}")
        except ApiException as exc:
            if exc.status == 409:
                self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, body)
                log(f"relinked {ns}/{name} -> {body['spec']['logs'][0]['logsFile']}")
            elif exc.status in (
                403,
                404,
            ):  # namespace terminating or gone: nothing to serve
                log(f"skip {ns}/{name}: {exc.status} {exc.reason}")
                return
            else:
                raise
        self.done[(ns, name)] = key

    def run(self) -> None:
        """List, then watch from the list's resourceVersion; relist after any error or expiry."""
        while True:
            try:
                pods = self.core.list_pod_for_all_namespaces(label_selector=LABEL)
                for pod in pods.items:
                    self.link(pod)
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    label_selector=LABEL,
                    resource_version=pods.metadata.resource_version if pods.metadata else None,
                    timeout_seconds=300,
                )
                for event in stream:
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self.link(event["object"])
                    elif event["type"] == "DELETED":
                        obj = event["object"]
                        self.done.pop((obj.metadata.namespace, obj.metadata.name), None)
            except ApiException as exc:
                if exc.status != 410:
                    log(f"error: {exc.status} {exc.reason}; relisting in {RETRY_SECONDS}s")
                    time.sleep(RETRY_SECONDS)
            except Exception as exc:  # connection reset while the apiserver restarts...
                log(f"error: {exc!r}; relisting in {RETRY_SECONDS}s")
                time.sleep(RETRY_SECONDS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--logs-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    api = config.new_client_from_config(config_file=args.kubeconfig)
    log(f"watching pods labelled {LABEL}; files from {args.logs_dir.resolve()}")
    Linker(api, args.logs_dir.resolve()).run()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)
