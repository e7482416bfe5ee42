"""What the kubernetes Python client costs a module process, by the way it is used.

A fresh interpreter (the venv's, as a module gets) loads the admin kubeconfig, builds an ApiClient
and lists the Deployments of one namespace, in one of three ways:

- ``typed``: ``AppsV1Api``, ``CoreV1Api`` and ``BatchV1Api`` objects, as
  ``plugins/module_utils/_client.py``'s ``KubeClient.__init__`` creates them, then one list call
  (with ``_preload_content=False``, as the module makes every call);
- ``raw``: the same request by path through ``ApiClient.rest_client`` (JSON in, JSON out);
- ``dynamic``: ``kubernetes.dynamic.DynamicClient``, as kubernetes.core does.

It reports the time to import the client, the time from the import to the first answer, the
interpreter's peak RSS, and the time from the last line of Python to the process's exit
(interpreter shutdown: freeing every module and class it loaded).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

CHILD = r"""
import json, sys, time
mode, kubeconfig = sys.argv[1], sys.argv[2]
t0 = time.time()
from kubernetes import client, config
t1 = time.time()
configuration = client.Configuration()
config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
api = client.ApiClient(configuration)
if mode == "typed":
    apps, core, batch = client.AppsV1Api(api), client.CoreV1Api(api), client.BatchV1Api(api)
    json.loads(apps.list_namespaced_deployment("default", _preload_content=False).data)
elif mode == "raw":
    token = configuration.get_api_key_with_prefix("BearerToken")
    response = api.rest_client.request(
        "GET", configuration.host + "/apis/apps/v1/namespaces/default/deployments",
        headers={"Authorization": token, "Accept": "application/json"},
    )
    json.loads(response.read())
else:
    from kubernetes.dynamic import DynamicClient
    DynamicClient(api).resources.get(api_version="apps/v1", kind="Deployment").get(namespace="default")
t2 = time.time()
print(json.dumps({
    "import": t1 - t0, "first_answer": t2 - t1,
    # VmHWM, not ru_maxrss: ru_maxrss keeps the parent's high-water mark across fork and exec
    "peak_rss_mib": int(next(x.split()[1] for x in open("/proc/self/status") if x.startswith("VmHWM:")))
    / 1024,
    "modules": len(sys.modules), "end": time.time(),
}), flush=True)
"""

MODES = ("typed", "raw", "dynamic")


def measure(kubeconfig: Path, runs: int) -> Dict[str, Any]:
    out: Dict[str, List[Dict[str, float]]] = {mode: [] for mode in MODES}
    for _run in range(runs):
        for mode in MODES:
            start = time.time()
            completed = subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(kubeconfig)],
                capture_output=True,
                text=True,
                check=True,
            )
            end = time.time()
            data = json.loads(completed.stdout.strip().splitlines()[-1])
            out[mode].append(
                {
                    "wall": round(end - start, 4),
                    "import": round(data["import"], 4),
                    "first_answer": round(data["first_answer"], 4),
                    "shutdown": round(end - data["end"], 4),
                    "peak_rss_mib": round(data["peak_rss_mib"], 1),
                    "modules": data["modules"],
                }
            )
    from kubernetes import __version__ as kubernetes_version

    return {"runs": runs, "kubernetes_version": kubernetes_version, "modes": out}
