# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The analysis' edge: each provider takes one measurement and hands back what Argo Rollouts' own
# provider would give the conditions as `result`, or raises ProviderError (a measurement in phase
# Error). Deciding is the core's (_analysis.py); the loop is _analysis_run.py's.
#
#   prometheus  GET <address>/api/v1/query: a vector is a list of floats, a scalar a float
#               (Argo's metricproviders/prometheus processResponse)
#   web         one HTTP request; the JSON body, or what jsonPath selects in it
#               (metricproviders/webmetric)
#   job         a Kubernetes Job from the metric's spec, run by the one HookRunner: Complete is
#               Successful, Failed is Failed (metricproviders/job); the only write of an analysis
#   kubernetes  ours: a JMESPath over what rollout_info returns for a workload (its status,
#               revisions and pods), the value the roles' health gates look at
#
# HTTP goes through urllib (no dependency); `Http` is injected so unit tests script the answers.
import base64
import json
import re
import secrets as random_source
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ansible.module_utils.urls import open_url  # type: ignore[import-untyped]

from ._analysis import PHASE_FAILED, PHASE_SUCCESSFUL, Measurement, Metric, SecretRef
from ._client import (
    CONTROLLER_REVISIONS,
    PODS,
    REPLICA_SETS,
    RESOURCES_BY_KIND,
    ClientError,
    KubeClient,
    Resource,
)
from ._workloads import DEPLOYMENT, KINDS, describe_workload, selector_string

try:
    import jmespath  # type: ignore[import-untyped]

    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - a requirement of the collection
    HAS_JMESPATH = False

JSONDict = Dict[str, Any]
SECRETS = Resource("v1", "secrets", "Secret")
# Argo's defaults: web's timeoutSeconds 10; Prometheus has none of its own, the API server's 2m.
WEB_TIMEOUT_SECONDS = 10.0
PROMETHEUS_TIMEOUT_SECONDS = 120.0
LABEL_ANALYSIS = "openrollout.k8s/analysis"
LABEL_METRIC = "openrollout.k8s/metric"
# Read at most this much of an answer (a metric's value is small; a wrong URL may not be).
MAX_BODY_BYTES = 8 * 1024 * 1024


class ProviderError(Exception):
    """A measurement could not be taken; the message says why (it becomes the Error's message).
    ``fatal``: no retry would mend it (the provider rejected the metric itself), so the metric is
    Error at once instead of after consecutiveErrorLimit."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes


# (method, url, headers, body, timeout seconds, insecure) -> the answer, or ProviderError when
# nothing came back (refused, timed out, TLS).
Http = Callable[[str, str, Mapping[str, str], Optional[bytes], float, bool], HttpResponse]


def urllib_http(
    method: str, url: str, headers: Mapping[str, str], body: Optional[bytes], timeout: float, insecure: bool
) -> HttpResponse:
    """One request with the standard library; any status comes back, only no answer raises."""
    try:
        with open_url(
            url, data=body, headers=dict(headers), method=method, timeout=timeout, validate_certs=not insecure
        ) as response:
            return HttpResponse(response.status, response.read(MAX_BODY_BYTES))
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, exc.read(MAX_BODY_BYTES) if exc.fp else b"")
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise ProviderError(f"{method} {url}: {reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL
        raise ProviderError(f"{method} {url}: {exc or type(exc).__name__}") from None


def _config_string(config: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = config.get(key)
    if value is None or value == "":
        if required:
            raise ProviderError(f"{where}.{key} is required")
        return ""
    if not isinstance(value, str):
        raise ProviderError(f"{where}.{key} must be a string, got {value!r}")
    return value


def _headers(config: Mapping[str, Any], where: str) -> Dict[str, str]:
    """Argo's headers: a list of {key, value}."""
    headers: Dict[str, str] = {}
    for index, header in enumerate(config.get("headers") or []):
        if not isinstance(header, Mapping) or not header.get("key"):
            raise ProviderError(f"{where}.headers[{index}] must be a {{key, value}} mapping")
        headers[str(header["key"])] = str(header.get("value", ""))
    return headers


def _seconds(config: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ProviderError(f"{where}.{key} must be a number of seconds greater than 0, got {value!r}")
    return float(value)


def _float(text: Any) -> float:
    """A Prometheus sample's value ("0.99", "NaN", "+Inf") as a float."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ProviderError(f"Prometheus returned a sample that is not a number: {text!r}") from None


# --- prometheus ----------------------------------------------------------------------------

_PROMETHEUS_UNSUPPORTED = ("authentication", "rangeQuery")


def prometheus_query(metric: Metric, http: Http, now: Callable[[], float] = time.time) -> Any:
    """Argo's prometheus provider: an instant query; a vector gives a list of floats, a scalar a
    float; anything else is an Error (Argo: 'Prometheus metric type not supported')."""
    config = metric.provider
    where = "provider.prometheus"
    for key in _PROMETHEUS_UNSUPPORTED:
        if config.get(key) is not None:
            raise ProviderError(f"{where}.{key} is not supported by openrollout.k8s (give headers instead)")
    address = _config_string(config, "address", where).rstrip("/")
    query = _config_string(config, "query", where)
    timeout = _seconds(config, "timeout", PROMETHEUS_TIMEOUT_SECONDS, where)
    params = {"query": query, "time": f"{now():.3f}"}
    if config.get("timeout") is not None:
        params["timeout"] = f"{timeout:g}s"
    body = urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    headers.update(_headers(config, where))
    answer = http("POST", f"{address}/api/v1/query", headers, body, timeout, bool(config.get("insecure")))
    try:
        document = json.loads(answer.body.decode("utf-8", "replace"))
    except ValueError:
        document = None
    if not isinstance(document, dict):
        text = answer.body[:200].decode("utf-8", "replace").strip()
        raise ProviderError(f"Prometheus at {address} answered {answer.status}, not its API's JSON: {text!r}")
    if document.get("status") != "success":
        kind = document.get("errorType") or f"HTTP {answer.status}"
        # 400 bad_data: Prometheus cannot parse the query (a PromQL syntax error, an unknown
        # function); asking again gives the same answer, so the metric is Error at once.
        fatal = answer.status == 400 and kind == "bad_data"
        raise ProviderError(
            f"Prometheus query {query!r} failed: {kind}: {document.get('error', '')}".rstrip(": "),
            fatal=fatal,
        )
    data = document.get("data") or {}
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "vector":
        return [_float(sample.get("value", [None, None])[1]) for sample in result or []]
    if result_type == "scalar":
        return _float((result or [None, None])[1])
    raise ProviderError(
        f"Prometheus metric type not supported: the query gives a {result_type} (a vector or a scalar is)"
    )


# --- web -----------------------------------------------------------------------------------

_JSONPATH_STEP = re.compile(r"\.([A-Za-z_][-\w]*)|\[(-?\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def json_path(path: str, document: Any) -> Any:
    """The value Kubernetes' JSONPath (what Argo's web provider uses) selects, for the usual
    paths: ``{$.data.ok}``, ``{.items[0].value}``, ``{$['key']}``, ``$.a`` without braces.
    Filters, wildcards and recursive descent are refused."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    value = document
    position = 0
    while position < len(text):
        step = _JSONPATH_STEP.match(text, position)
        if step is None:
            raise ProviderError(
                f"jsonPath {path!r}: cannot read {text[position:]!r} (supported: .field, ['field'] and "
                "[index] after $; filters, wildcards and '..' are not)"
            )
        key = step.group(1) or step.group(3)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                raise ProviderError(f"Could not find JSONPath in body: {path}: {key} is not found")
            value = value[key]
        else:
            index = int(step.group(2))
            if not isinstance(value, list) or not -len(value) <= index < len(value):
                raise ProviderError(
                    f"Could not find JSONPath in body: {path}: array index {index} out of bounds"
                )
            value = value[index]
        position = step.end()
    return value


def _web_value(value: Any) -> Any:
    """As Argo: a string that reads as a number is a number, one that reads as JSON that JSON."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return number
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def web_request(metric: Metric, http: Http) -> Any:
    """Argo's web provider: a 2xx answer's JSON, or what jsonPath selects in it."""
    config = metric.provider
    where = "provider.web"
    url = _config_string(config, "url", where)
    method = (_config_string(config, "method", where, required=False) or "GET").upper()
    if method not in ("GET", "POST", "PUT"):
        raise ProviderError(f"{where}.method must be GET, POST or PUT, got {method}")
    headers = _headers(config, where)
    body: Optional[bytes] = None
    if config.get("jsonBody") is not None:
        body = json.dumps(config["jsonBody"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif config.get("body"):
        body = str(config["body"]).encode()
    if body is not None and method == "GET":
        raise ProviderError(f"{where}: a body needs method POST or PUT")
    timeout = _seconds(config, "timeoutSeconds", WEB_TIMEOUT_SECONDS, where)
    answer = http(method, url, headers, body, timeout, bool(config.get("insecure")))
    if not 200 <= answer.status < 300:
        raise ProviderError(f"received non 2xx response code: {answer.status}")
    try:
        document = json.loads(answer.body.decode("utf-8"))
    except ValueError as exc:
        raise ProviderError(f"Could not parse JSON body: {exc}") from None
    path = config.get("jsonPath")
    if not path:
        return document
    return _web_value(json_path(str(path), document))


# --- kubernetes ----------------------------------------------------------------------------


def read_workload(client: KubeClient, kind: str, namespace: str, name: str, now: float) -> JSONDict:
    """What rollout_info returns for one workload (its reading, for one named workload)."""
    resource = RESOURCES_BY_KIND[kind]
    found = client.list(
        f"listing {kind}s in {namespace}", resource, namespace, field_selector=f"metadata.name={name}"
    )
    if not found:
        raise ProviderError(client.not_found(f"{kind} {namespace}/{name}", namespace))
    workload = found[0]
    selector = selector_string(workload.get("spec", {}).get("selector") or {})
    children_resource = REPLICA_SETS if kind == DEPLOYMENT else CONTROLLER_REVISIONS
    what = f"{kind} {namespace}/{name}"
    children = client.list(
        f"listing the {children_resource.kind}s of {what}",
        children_resource,
        namespace,
        label_selector=selector,
    )
    pods = client.list(f"listing the pods of {what}", PODS, namespace, label_selector=selector)
    return describe_workload(kind, workload, children, pods, now)


def kubernetes_query(
    metric: Metric, client: KubeClient, namespace: str, now: Callable[[], float] = time.time
) -> Any:
    """Our own provider: ``query`` (JMESPath) over rollout_info's record of the workload
    ``kind``/``name`` (in ``namespace``, by default the task's); what it selects is ``result``."""
    config = metric.provider
    where = "provider.kubernetes"
    if not HAS_JMESPATH:
        raise ProviderError("the kubernetes provider needs the jmespath Python library: pip install jmespath")
    kind = _config_string(config, "kind", where, required=False) or DEPLOYMENT
    if kind not in KINDS:
        raise ProviderError(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind}")
    name = _config_string(config, "name", where)
    query = _config_string(config, "query", where)
    namespace = _config_string(config, "namespace", where, required=False) or namespace
    try:
        compiled = jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        raise ProviderError(f"{where}.query {query!r} is not valid JMESPath: {exc}") from None
    try:
        record = read_workload(client, kind, namespace, name, now())
    except ClientError as exc:
        raise ProviderError(str(exc)) from None
    try:
        return compiled.search(record)
    except jmespath.exceptions.JMESPathError as exc:
        raise ProviderError(f"{where}.query {query!r}: {exc}") from None


# --- job -----------------------------------------------------------------------------------

_DNS = re.compile(r"[^a-z0-9-]+")


def job_name(analysis: str, metric: str, number: int, suffix: str) -> str:
    """``<analysis>-<metric>-<n>-<suffix>``, a valid Job name (Argo: ``<run-uid>.<metric>.<n>``)."""
    tail = f"-{number}-{suffix}"
    base = _DNS.sub("-", f"{analysis}-{metric}".lower()).strip("-")
    return (base[: 63 - len(tail)].rstrip("-") or "analysis") + tail


def label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63].strip("-._")
    return value or "analysis"


def analysis_job(metric: Metric, analysis: str, namespace: str, number: int, suffix: str = "") -> JSONDict:
    """The Job a job metric's measurement creates: the provider's metadata and spec as written,
    with our name, namespace and labels (Argo's job provider, newJobObject)."""
    config = metric.provider
    where = "provider.job"
    spec = config.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("template"), Mapping):
        raise ProviderError(f"{where}.spec must be a Job spec with a pod template (spec.template)")
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ProviderError(f"{where}.metadata must be a mapping (labels, annotations)")
    labels = {
        **(metadata.get("labels") or {}),
        LABEL_ANALYSIS: label_value(analysis),
        LABEL_METRIC: label_value(metric.name),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(analysis, metric.name, number, suffix or random_source.token_hex(3)),
            "namespace": namespace,
            "labels": labels,
            "annotations": dict(metadata.get("annotations") or {}),
        },
        "spec": json.loads(json.dumps(dict(spec))),
    }


def job_measurement(
    metric: Metric, job: JSONDict, runner: Any, clock: Callable[[], float], time_left: Optional[float] = None
) -> Measurement:
    """Run ``job`` through HookRunner.run_job; Complete is Successful, Failed is Failed, with the
    exit code and the log's end as the message (a Job that cannot be created raises ProviderError)."""
    started = clock()
    try:
        outcome, tail, log_error = runner.run_job(job, time_left)
    except ClientError as exc:
        raise ProviderError(str(exc)) from None
    name = job["metadata"]["name"]
    value: JSONDict = {"job": name, "exit_code": outcome.exit_code, "log_tail": tail}
    if outcome.succeeded:
        return Measurement(metric.name, PHASE_SUCCESSFUL, started, clock(), value, "")
    message = f"job {name} failed"
    if outcome.exit_code is not None:
        message += f" with exit code {outcome.exit_code}"
    elif outcome.reason:
        message += f": {outcome.reason}"
    if outcome.message and outcome.exit_code is None:
        message += f" ({outcome.message})"
    if tail:
        message += "; last log lines: " + " | ".join(tail[-5:])
    elif log_error:
        message += f"; no log: {log_error}"
    return Measurement(metric.name, PHASE_FAILED, started, clock(), value, message)


# --- secrets -------------------------------------------------------------------------------


def read_secrets(client: KubeClient, namespace: str, refs: Tuple[SecretRef, ...]) -> Dict[SecretRef, str]:
    """Each ref's key of its Secret in ``namespace``, decoded; a missing Secret or key is an error
    naming it (never its value)."""
    values: Dict[SecretRef, str] = {}
    read: Dict[str, Optional[JSONDict]] = {}
    for ref in refs:
        if ref.name not in read:
            read[ref.name] = client.get(
                f"reading Secret {namespace}/{ref.name}", SECRETS, namespace, ref.name
            )
        secret = read[ref.name]
        if secret is None:
            raise ClientError(client.not_found(f"Secret {namespace}/{ref.name}", namespace))
        data = secret.get("data") or {}
        if ref.key not in data:
            keys = ", ".join(sorted(data)) or "none"
            raise ClientError(f"Secret {namespace}/{ref.name} has no key {ref.key!r} (keys: {keys})")
        values[ref] = base64.b64decode(data[ref.key]).decode("utf-8")
    return values


__all__ = [
    "Http",
    "HttpResponse",
    "ProviderError",
    "analysis_job",
    "job_measurement",
    "json_path",
    "kubernetes_query",
    "prometheus_query",
    "read_secrets",
    "read_workload",
    "urllib_http",
    "web_request",
]
