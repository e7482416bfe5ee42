# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The options of an analysis, read once for both modules that run one: openrollout.k8s.analysis
# (its top-level options) and openrollout.k8s.rollout (its `analysis` suboption):
#
#   template | src | metrics     the AnalysisTemplate (a dict or YAML text), a file of it, or metrics
#   args, dry_run_metrics, accept_inconclusive, duration
#
#   spec = read_analysis(params)                         # pure: AnalysisOptionsError on bad input
#   run, secrets = resolve_analysis(spec, client, ns)    # Secrets of valueFrom.secretKeyRef read
#   providers = analysis_providers(client, ns, spec.name, jobs, hook_runner, time_left)
#
# The caller hides the Secret values (AnsibleModule.no_log_values); run.redact() already keeps
# them out of every measurement.
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._analysis import (
    AnalysisRun,
    AnalysisTemplate,
    AnalysisTemplateError,
    parse_duration,
    parse_spec,
    parse_template,
    resolve,
)
from ._analysis_expr import ExpressionError
from ._analysis_providers import (
    analysis_job,
    job_measurement,
    kubernetes_query,
    prometheus_query,
    read_secrets,
    urllib_http,
    web_request,
)
from ._analysis_run import Provider
from ._client import KubeClient
from ._hook_runner import HookRunner

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - a requirement of the collection
    HAS_YAML = False

JSONDict = Dict[str, Any]
SOURCES = ("template", "src", "metrics")

# The options of an analysis; the analysis module adds its namespace, the rollout module takes
# its own. Documented in both modules (plugins/modules/analysis.py, rollout.py's `analysis`).
ANALYSIS_OPTIONS: Dict[str, Dict[str, Any]] = {
    "template": {"type": "raw"},
    "src": {"type": "path"},
    "metrics": {"type": "list", "elements": "dict"},
    "args": {"type": "dict", "default": {}},
    "dry_run_metrics": {"type": "list", "elements": "str", "default": []},
    "accept_inconclusive": {"type": "bool", "default": False},
    "duration": {"type": "str"},
}


class AnalysisOptionsError(ValueError):
    """The analysis options do not give a valid analysis; the message says which and why."""


@dataclass(frozen=True)
class AnalysisSpec:
    """The analysis the options describe: the template checked, its arguments not yet filled in
    (Secrets are read with a client, by resolve_analysis)."""

    template: AnalysisTemplate
    args: Dict[str, Any]
    dry_run_metrics: Tuple[str, ...]
    accept_inconclusive: bool
    duration: Optional[float]

    @property
    def name(self) -> str:
        return self.template.name or "analysis"


def _yaml_document(text: str, what: str) -> Any:
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise AnalysisOptionsError(f"{what} is not valid YAML: {exc}") from None
    if len(documents) != 1:
        raise AnalysisOptionsError(
            f"{what} must hold one AnalysisTemplate, it holds {len(documents)} documents"
        )
    return documents[0]


def read_template(params: JSONDict, where: str = "") -> AnalysisTemplate:
    """The AnalysisTemplate the options give (template, src or metrics), parsed and checked.

    ``where`` prefixes option names in messages (``analysis.`` for the rollout's suboption).
    """
    given = [key for key in SOURCES if params.get(key) not in (None, "")]
    if len(given) != 1:
        names = ", ".join(f"{where}{key}" for key in SOURCES)
        found = f" ({', '.join(where + key for key in given)} given)" if given else ""
        raise AnalysisOptionsError(f"give exactly one of {names}{found}")
    try:
        if given[0] == "metrics":
            spec = {
                "metrics": params["metrics"],
                "args": [{"name": str(name)} for name in params.get("args") or {}],
            }
            return parse_spec(spec, path="")
        if given[0] == "src":
            path = params["src"]
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise AnalysisOptionsError(f"cannot read {where}src {path}: {exc.strerror or exc}") from None
            doc = _yaml_document(text, f"{where}src {path}")
        else:
            doc = params["template"]
            if isinstance(doc, str):
                doc = _yaml_document(doc, f"{where}template")
        if not isinstance(doc, dict):
            raise AnalysisOptionsError(
                f"the template must be an AnalysisTemplate (a mapping), not {type(doc).__name__}"
            )
        return parse_template(doc)
    except (AnalysisTemplateError, ExpressionError) as exc:
        raise AnalysisOptionsError(f"invalid analysis: {exc}") from None


def duration_seconds(value: Any, where: str = "") -> Optional[float]:
    """``duration`` in seconds: a Go duration (10m, 1h30m) or a number; None when not given."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
    except (AnalysisTemplateError, ValueError) as exc:
        raise AnalysisOptionsError(
            f"{where}duration {text!r} is not a duration (10m, 1h30m, or seconds): {exc}"
        ) from None
    if seconds <= 0:
        raise AnalysisOptionsError(f"{where}duration must be greater than 0, got {text!r}")
    return seconds


def read_analysis(params: JSONDict, where: str = "") -> AnalysisSpec:
    """The options read and checked, before any connection."""
    if not HAS_YAML:  # pragma: no cover - a requirement of the collection
        raise AnalysisOptionsError("an analysis needs PyYAML")
    return AnalysisSpec(
        template=read_template(params, where),
        args=dict(params.get("args") or {}),
        dry_run_metrics=tuple(params.get("dry_run_metrics") or ()),
        accept_inconclusive=bool(params.get("accept_inconclusive")),
        duration=duration_seconds(params.get("duration"), where),
    )


def resolve_analysis(spec: AnalysisSpec, client: KubeClient, namespace: str) -> Tuple[AnalysisRun, List[str]]:
    """The run, its arguments filled in, and the Secret values read for it (to hide)."""
    refs = spec.template.secret_refs(spec.args)
    secrets = read_secrets(client, namespace, refs) if refs else {}
    try:
        run = resolve(spec.template, spec.args, secrets, dry_run=spec.dry_run_metrics)
    except (AnalysisTemplateError, ExpressionError) as exc:
        raise AnalysisOptionsError(f"invalid analysis: {exc}") from None
    return run, [value for value in secrets.values() if value]


def analysis_providers(
    client: KubeClient,
    namespace: str,
    name: str,
    jobs: List[str],
    hook_runner: HookRunner,
    time_left: Callable[[], Optional[float]],
) -> Dict[str, Provider]:
    """The four providers, on the client (kubernetes, job) and urllib (prometheus, web).

    A job metric's Job is named in ``jobs`` and waited for at most ``time_left()`` seconds.
    """

    def job(metric: Any, number: int) -> Any:
        body = analysis_job(metric, name, namespace, number)
        jobs.append(body["metadata"]["name"])
        left = time_left()
        return job_measurement(
            metric, body, hook_runner, client.clock, None if left is None else max(left, 1.0)
        )

    return {
        "prometheus": lambda metric, _number: prometheus_query(metric, urllib_http),
        "web": lambda metric, _number: web_request(metric, urllib_http),
        "kubernetes": lambda metric, _number: kubernetes_query(metric, client, namespace),
        "job": job,
    }


def wall_time(clock: Callable[[], float]) -> Callable[[float], str]:
    """The client's clock (monotonic) read as wall-clock ISO 8601 times."""
    offset = time.time() - clock()

    def to_time(seconds: float) -> str:
        return datetime.fromtimestamp(seconds + offset, timezone.utc).isoformat(timespec="milliseconds")

    return to_time


__all__ = [
    "ANALYSIS_OPTIONS",
    "SOURCES",
    "AnalysisOptionsError",
    "AnalysisSpec",
    "analysis_providers",
    "duration_seconds",
    "read_analysis",
    "read_template",
    "resolve_analysis",
    "wall_time",
]
