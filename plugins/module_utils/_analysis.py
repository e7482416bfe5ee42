# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._analysis_expr import Expression, ExpressionError, compile_expression, type_name

# Argo Rollouts' analysis, without its controller: the AnalysisTemplate read into frozen values,
# its arguments filled in, and the arithmetic that turns measurements into phases. Pure: no
# Ansible, no Kubernetes client, no clock. Time is whatever number the caller passes (seconds).
#
# The caller's loop (docs/dev/analysis-core.md has the whole interface):
#
#   template = parse_template(doc)                     # AnalysisTemplateError names the field
#   refs = template.secret_refs(args)                  # the caller reads these Secrets
#   run = resolve(template, args, {ref: value, ...})   # args filled in, conditions compiled
#   measurements = []
#   while True:
#       plan = next_measurements(run, measurements, started_at=t0, now=clock())
#       if plan.done: break                            # plan.result: phase, message, metrics
#       for name in plan.measure:                      # due now, in the template's order
#           value = provider(run.metric(name))         # the provider's value, or its error:
#           measurements.append(run.measure(name, value, started_at=s, finished_at=f))
#           # ... or run.error(name, "connection refused", started_at=s, finished_at=f)
#       if not plan.measure: sleep(plan.next_at - clock())
#
# Argo's rules, and where they are (argoproj/argo-rollouts):
#   - a measurement's phase from successCondition / failureCondition: utils/evaluate/evaluate.go
#     EvaluateResult (see evaluate_result below for the four cases);
#   - a metric's phase from its counters: analysis/analysis.go assessMetricStatus and
#     assessMetricFailureInconclusiveOrError: failed > failureLimit (default 0) is Failed,
#     inconclusive > inconclusiveLimit (default 0) Inconclusive, consecutive errors >
#     consecutiveErrorLimit (default 4) Error, checked in that order with the last one that holds
#     winning; else the count reached is Successful; no measurement yet is Pending, else Running;
#   - the count: pkg/apis/rollouts/v1alpha1 Metric.EffectiveCount: count unset (or 0) without an
#     interval is 1 measurement, with an interval none (measure until the analysis is stopped);
#   - when to measure: analysis.go generateMetricTasks / calculateNextReconcileTime: the first at
#     the start plus initialDelay, the next one interval after the last finished, 10 s after an
#     Error whatever the interval (DefaultErrorRetryInterval);
#   - the analysis' phase: analysis.go assessRunStatus with utils/analysis IsWorse: once a metric
#     that is not dry-run is Failed, Error or Inconclusive the run terminates: metrics still
#     running are taken as Successful and the phase is the worst completed one, in Argo's order
#     Successful < Inconclusive < Error < Failed; otherwise Running until every metric completed.
#     Dry-run metrics (utils/analysis GetDryRunMetrics: metricName is a regular expression,
#     searched in the name) are assessed and reported but never decide. The message is Argo's:
#     Metric "x" assessed Failed due to failed (3) > failureLimit (2): "Error Message: ...";
#   - arguments: utils/analysis MergeArgs and utils/template ResolveArgs: {{args.x}} and
#     {{ args.x }} anywhere in a metric (conditions, count, interval, provider), every argument
#     needs a value, and a tag naming no argument fails;
#   - validation: utils/analysis ValidateMetrics and ValidateMetric.
# What is not supported is refused with a message that says so (see the doc).

PHASE_PENDING = "Pending"
PHASE_RUNNING = "Running"
PHASE_SUCCESSFUL = "Successful"
PHASE_FAILED = "Failed"
PHASE_ERROR = "Error"
PHASE_INCONCLUSIVE = "Inconclusive"
COMPLETED_PHASES = frozenset({PHASE_SUCCESSFUL, PHASE_FAILED, PHASE_ERROR, PHASE_INCONCLUSIVE})
# Best to worst (utils/analysis analysisStatusOrder).
PHASE_ORDER = (
    PHASE_SUCCESSFUL,
    PHASE_RUNNING,
    PHASE_PENDING,
    PHASE_INCONCLUSIVE,
    PHASE_ERROR,
    PHASE_FAILED,
)

API_VERSION = "argoproj.io/v1alpha1"
TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
# Seconds before a measurement that ended in Error is taken again (Argo's DefaultErrorRetryInterval).
ERROR_RETRY_INTERVAL = 10.0
# The providers this collection measures with; the others Argo knows are refused by name.
SUPPORTED_PROVIDERS = ("prometheus", "web", "job", "kubernetes")
ARGO_PROVIDERS = (
    "prometheus",
    "kayenta",
    "web",
    "datadog",
    "wavefront",
    "newRelic",
    "job",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
)
REDACTED = "*****"

_METRIC_FIELDS = (
    "name",
    "interval",
    "initialDelay",
    "count",
    "successCondition",
    "failureCondition",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
    "provider",
)
_UNSUPPORTED_METRIC_FIELDS = {
    "consecutiveSuccessLimit": "consecutiveSuccessLimit (Argo Rollouts 1.8) is not supported",
}
_SPEC_FIELDS = ("metrics", "args", "dryRun", "measurementRetention")


class AnalysisTemplateError(ValueError):
    """A template, an argument or a dry-run rule that cannot be used.

    ``path`` is the field in the spelling of the template (``spec.metrics[0].interval``,
    ``args.service-name``); ``str()`` is ``"<path>: <reason>"``.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------------------------------------
# Durations, as Go's time.ParseDuration reads them ("30s", "5m", "1h30m", "1.5h", "300ms")

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_NUMBER = re.compile(r"([0-9]*)(\.([0-9]*))?")
_DURATION_UNIT = re.compile(r"[^0-9.]*")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; ValueError with Go's message for a bad one.

    ``parse_duration("1h30m")`` is 5400.0; ``"0"`` is 0.0; a sign is allowed as in Go.
    """
    if not isinstance(text, str):
        raise ValueError(f"a duration is a string such as '30s', not {type_name(text)} {text!r}")
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    rest = text
    sign = 1.0
    if rest[:1] in ("+", "-"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        number = _DURATION_NUMBER.match(rest)
        if number is None:  # pragma: no cover - the pattern matches the empty string
            raise ValueError(f"time: invalid duration {quoted}")
        whole, fraction = number.group(1), number.group(3) or ""
        if not whole and not fraction:
            raise ValueError(f"time: invalid duration {quoted}")
        rest = rest[number.end() :]
        unit_match = _DURATION_UNIT.match(rest)
        if unit_match is None:  # pragma: no cover - the pattern matches the empty string
            raise ValueError(f"time: invalid duration {quoted}")
        unit = unit_match.group(0)
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(f"{whole or '0'}.{fraction or '0'}") * _DURATION_UNITS[unit]
        rest = rest[unit_match.end() :]
    return sign * total


def format_seconds(seconds: float) -> str:
    """A number of seconds the way Go prints a duration: 90.0 -> '1m30s', 0.5 -> '500ms'."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = ""
    if hours:
        text += f"{int(hours)}h"
    if hours or minutes:
        text += f"{int(minutes)}m"
    return f"{sign}{text}{secs:g}s"


# ---------------------------------------------------------------------------------------------
# The template


@dataclass(frozen=True)
class SecretRef:
    """``valueFrom.secretKeyRef``: the caller reads key ``key`` of Secret ``name``."""

    name: str
    key: str


@dataclass(frozen=True)
class Argument:
    """One of ``spec.args``: a default ``value``, a Secret to read, or neither (required)."""

    name: str
    value: str | None = None
    secret: SecretRef | None = None
    # valueFrom sources other than secretKeyRef (fieldRef, podTemplateHashValue) name fields of an
    # Argo Rollout; here they need a value from the caller. Kept to say so in the error.
    value_from: str | None = None


@dataclass(frozen=True)
class AnalysisTemplate:
    """An AnalysisTemplate's spec, checked; its metrics still carry their {{args.x}} tags.

    ``metrics`` are the template's metric dicts as written (deep copies): :func:`resolve`
    fills in the arguments and turns them into :class:`Metric` values. Treat them as read-only.
    ``notes`` say what of the template is accepted but has no effect here.
    """

    name: str
    kind: str
    args: tuple[Argument, ...]
    metrics: tuple[Mapping[str, Any], ...] = field(repr=False)
    dry_run: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    path: str = "spec"

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(str(metric.get("name")) for metric in self.metrics)

    def argument(self, name: str) -> Argument | None:
        return next((arg for arg in self.args if arg.name == name), None)

    def secret_refs(self, args: Mapping[str, Any] | None = None) -> tuple[SecretRef, ...]:
        """The Secrets whose keys :func:`resolve` needs, given the caller's ``args``.

        An argument the caller gives a value to needs no Secret.
        """
        given = args or {}
        refs: list[SecretRef] = []
        for arg in self.args:
            if arg.secret is not None and given.get(arg.name) is None and arg.secret not in refs:
                refs.append(arg.secret)
        return tuple(refs)


def _expect_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AnalysisTemplateError(path, f"must be a mapping, not {type_name(value)}")
    return value


def _expect_list(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise AnalysisTemplateError(path, f"must be a list, not {type_name(value)}")
    return value


def _expect_string(value: Any, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise AnalysisTemplateError(path, f"must be a string, not {type_name(value)} {value!r}")
    if not empty and not value:
        raise AnalysisTemplateError(path, "must not be empty")
    return value


def _unknown_fields(mapping: Mapping[str, Any], known: Sequence[str], path: str, what: str) -> None:
    for key in mapping:
        if key not in known:
            raise AnalysisTemplateError(
                _join(path, str(key)), f"is not a field of {what} (its fields: {', '.join(known)})"
            )


def parse_template(doc: Mapping[str, Any]) -> AnalysisTemplate:
    """Read an Argo ``AnalysisTemplate`` or ``ClusterAnalysisTemplate`` (``argoproj.io/v1alpha1``).

    ``doc`` is the object as a dict, camelCase as Argo writes it. Raises AnalysisTemplateError.
    """
    _expect_mapping(doc, "template")
    api_version = doc.get("apiVersion", API_VERSION)
    if api_version != API_VERSION:
        raise AnalysisTemplateError("apiVersion", f"must be {API_VERSION}, not {api_version!r}")
    kind = doc.get("kind", "AnalysisTemplate")
    if kind not in TEMPLATE_KINDS:
        hint = " (an AnalysisRun's spec can be given as the metrics)" if kind == "AnalysisRun" else ""
        raise AnalysisTemplateError("kind", f"must be one of {', '.join(TEMPLATE_KINDS)}, not {kind!r}{hint}")
    metadata = doc.get("metadata") or {}
    _expect_mapping(metadata, "metadata")
    name = metadata.get("name") or ""
    if "spec" not in doc:
        raise AnalysisTemplateError("spec", f"is missing: a {kind} has its metrics in spec.metrics")
    for key in doc:
        if key not in ("apiVersion", "kind", "metadata", "spec", "status"):
            raise AnalysisTemplateError(
                str(key), f"is not a field of a {kind} (apiVersion, kind, metadata, spec)"
            )
    return parse_spec(doc["spec"], path="spec", name=str(name), kind=str(kind))


def parse_spec(
    spec: Mapping[str, Any], *, path: str = "spec", name: str = "", kind: str = ""
) -> AnalysisTemplate:
    """Read an AnalysisTemplate's ``spec``: ``metrics``, ``args``, ``dryRun``, ``measurementRetention``.

    ``path`` prefixes the field names in errors: ``"spec"`` for a template's spec, ``""`` for
    metrics written directly (``{"metrics": [...], "args": [...]}``).
    """
    _expect_mapping(spec, path or "spec")
    _unknown_fields(spec, _SPEC_FIELDS, path, "an AnalysisTemplate spec")
    notes: list[str] = []
    args = _parse_args(spec.get("args") or [], _join(path, "args"))
    raw_metrics = _expect_list(spec.get("metrics"), _join(path, "metrics")) if "metrics" in spec else []
    if not raw_metrics:
        raise AnalysisTemplateError(
            _join(path, "metrics"), "no metrics given: an analysis needs at least one"
        )
    metrics: list[Mapping[str, Any]] = []
    names: dict[str, int] = {}
    declared = {arg.name for arg in args}
    for index, raw in enumerate(raw_metrics):
        metric_path = _join(_join(path, "metrics"), index)
        _expect_mapping(raw, metric_path)
        _check_tags(raw, declared, metric_path)
        checked = _build_metric(raw, metric_path, lenient=True)
        if "{{" not in checked.name:
            if checked.name in names:
                raise AnalysisTemplateError(_join(metric_path, "name"), f"duplicate name {checked.name!r}")
            names[checked.name] = index
        metrics.append(copy.deepcopy(dict(raw)))
    dry_run = _parse_dry_run(spec.get("dryRun") or [], _join(path, "dryRun"))
    if spec.get("measurementRetention"):
        _expect_list(spec["measurementRetention"], _join(path, "measurementRetention"))
        notes.append(
            f"{_join(path, 'measurementRetention')} is ignored: every measurement is kept and returned"
        )
    return AnalysisTemplate(
        name=name,
        kind=kind,
        args=tuple(args),
        metrics=tuple(metrics),
        dry_run=tuple(dry_run),
        notes=tuple(notes),
        path=path,
    )


def _parse_args(raw: Any, path: str) -> list[Argument]:
    args: list[Argument] = []
    for index, item in enumerate(_expect_list(raw, path)):
        item_path = _join(path, index)
        _expect_mapping(item, item_path)
        _unknown_fields(item, ("name", "value", "valueFrom"), item_path, "an argument")
        name = _expect_string(item.get("name"), _join(item_path, "name"))
        if any(arg.name == name for arg in args):
            raise AnalysisTemplateError(_join(item_path, "name"), f"duplicate argument {name!r}")
        value = None
        if item.get("value") is not None:
            value = _argument_text(item["value"], _join(item_path, "value"))
        secret = None
        value_from = None
        if item.get("valueFrom") is not None:
            source_path = _join(item_path, "valueFrom")
            source = _expect_mapping(item["valueFrom"], source_path)
            if value is not None:
                raise AnalysisTemplateError(item_path, "has both value and valueFrom: give one")
            if len(source) != 1:
                raise AnalysisTemplateError(source_path, "must have exactly one of secretKeyRef, fieldRef")
            ((kind, ref),) = source.items()
            if kind == "secretKeyRef":
                ref_path = _join(source_path, "secretKeyRef")
                _expect_mapping(ref, ref_path)
                _unknown_fields(ref, ("name", "key"), ref_path, "a secretKeyRef")
                secret = SecretRef(
                    _expect_string(ref.get("name"), _join(ref_path, "name")),
                    _expect_string(ref.get("key"), _join(ref_path, "key")),
                )
            elif kind in ("fieldRef", "podTemplateHashValue"):
                value_from = str(kind)
            else:
                raise AnalysisTemplateError(
                    _join(source_path, str(kind)), "is not a valueFrom source (secretKeyRef)"
                )
        args.append(Argument(name, value, secret, value_from))
    return args


def _argument_text(value: Any, path: str) -> str:
    """An argument's value as the string Argo substitutes: 9090 -> "9090", True -> "true"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value == int(value) else repr(value)
    raise AnalysisTemplateError(path, f"must be a string, a number or a bool, not {type_name(value)}")


def _parse_dry_run(raw: Any, path: str) -> list[str]:
    rules: list[str] = []
    for index, item in enumerate(_expect_list(raw, path)):
        item_path = _join(path, index)
        _expect_mapping(item, item_path)
        _unknown_fields(item, ("metricName",), item_path, "a dryRun rule")
        pattern = _expect_string(item.get("metricName"), _join(item_path, "metricName"))
        _compile_rule(pattern, _join(item_path, "metricName"))
        if pattern in rules:
            raise AnalysisTemplateError(item_path, f"two dryRun rules have the same metricName {pattern!r}")
        rules.append(pattern)
    return rules


def _compile_rule(pattern: str, path: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        hint = ": use '.*' for every metric" if pattern.strip() in ("*", "**") else ""
        raise AnalysisTemplateError(
            path, f"{pattern!r} is not a valid regular expression ({err}){hint}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Arguments: {{args.name}} and {{ args.name }}, as Argo's fasttemplate tags

_TAG_OPEN, _TAG_CLOSE = "{{", "}}"


def _tags(text: str, path: str) -> list[tuple[int, int, str]]:
    """(start, end, tag) of every {{...}} in text; an unclosed {{ is an error (as in Argo)."""
    found = []
    start = text.find(_TAG_OPEN)
    while start >= 0:
        end = text.find(_TAG_CLOSE, start + 2)
        if end < 0:
            raise AnalysisTemplateError(path, f"'{{{{' without a closing '}}}}' in {text!r}")
        found.append((start, end + 2, text[start + 2 : end]))
        start = text.find(_TAG_OPEN, end + 2)
    return found


def _walk_strings(value: Any, path: str) -> Iterable[tuple[str, str]]:
    """(path, string) of every string in a metric: keys and values, at any depth."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield _join(path, key), key
            yield from _walk_strings(item, _join(path, str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk_strings(item, _join(path, index))


def _check_tags(raw: Mapping[str, Any], declared: set[str], path: str) -> None:
    for where, text in _walk_strings(raw, path):
        for _start, _end, tag in _tags(text, where):
            name = tag.strip()
            if not name.startswith("args.") or name[5:] not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise AnalysisTemplateError(
                    where,
                    f"failed to resolve {{{{{tag}}}}}: no such argument (the template's arguments: {known})",
                )


def _substitute(value: Any, values: Mapping[str, str], path: str) -> Any:
    if isinstance(value, str):
        pieces = []
        last = 0
        for start, end, tag in _tags(value, path):
            name = tag.strip()
            if not name.startswith("args.") or name[5:] not in values:
                raise AnalysisTemplateError(path, f"failed to resolve {{{{{tag}}}}}")
            pieces.append(value[last:start])
            pieces.append(values[name[5:]])
            last = end
        pieces.append(value[last:])
        return "".join(pieces)
    if isinstance(value, Mapping):
        return {
            _substitute(key, values, _join(path, key)) if isinstance(key, str) else key: _substitute(
                item, values, _join(path, str(key))
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_substitute(item, values, _join(path, index)) for index, item in enumerate(value)]
    return copy.deepcopy(value)


def resolve_args(
    template: AnalysisTemplate,
    args: Mapping[str, Any] | None = None,
    secrets: Mapping[SecretRef, str] | None = None,
) -> dict[str, str]:
    """Every argument's value: the caller's ``args`` over the template's defaults and Secrets.

    ``args`` maps names to values (strings, numbers and bools are taken as Argo's strings);
    ``secrets`` maps each of :meth:`AnalysisTemplate.secret_refs` to the key's decoded value.
    An argument the template does not declare, or one left without a value, is an error.
    """
    given = dict(args or {})
    declared = [arg.name for arg in template.args]
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise AnalysisTemplateError(
                _join("args", str(name)), f"the template has no such argument (its arguments: {known})"
            )
    values: dict[str, str] = {}
    for arg in template.args:
        path = _join("args", arg.name)
        if given.get(arg.name) is not None:
            values[arg.name] = _argument_text(given[arg.name], path)
        elif arg.secret is not None:
            if secrets is None or arg.secret not in secrets:
                raise AnalysisTemplateError(
                    path,
                    f"comes from key {arg.secret.key!r} of Secret {arg.secret.name!r},"
                    " whose value was not given",
                )
            values[arg.name] = _expect_string(secrets[arg.secret], path, empty=True)
        elif arg.value is not None:
            values[arg.name] = arg.value
        elif arg.value_from is not None:
            raise AnalysisTemplateError(
                path,
                f"valueFrom.{arg.value_from} reads a field of an Argo Rollout, which is not supported:"
                " pass its value in args",
            )
        else:
            raise AnalysisTemplateError(
                path, "has no value: the template declares it without a default, so it must be given in args"
            )
    return values


# ---------------------------------------------------------------------------------------------
# A metric, resolved


@dataclass(frozen=True)
class Metric:
    """One metric of an analysis, arguments filled in and checked.

    ``provider_type`` is the provider's key (``prometheus``, ``web``, ``job``, ``kubernetes``),
    ``provider`` its configuration as written, arguments substituted (it may hold a Secret's value:
    show it through :meth:`AnalysisRun.describe`, never directly). Times are seconds.
    """

    name: str
    provider_type: str
    provider: Mapping[str, Any] = field(repr=False)
    interval: float | None = None
    initial_delay: float = 0.0
    count: int | None = None
    success_condition: str = ""
    failure_condition: str = ""
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    dry_run: bool = False
    interval_text: str = ""
    initial_delay_text: str = ""
    success: Expression | None = field(default=None, repr=False, compare=False)
    failure: Expression | None = field(default=None, repr=False, compare=False)

    @property
    def effective_count(self) -> int | None:
        """How many measurements complete the metric; None: measure until the analysis stops.

        Argo's EffectiveCount: count unset or 0 is 1 without an interval, unlimited with one.
        """
        if not self.count:
            return None if self.interval is not None else 1
        return self.count

    @property
    def indefinite(self) -> bool:
        return self.effective_count is None

    def describe(self) -> dict[str, Any]:
        """What this metric measures and when, as plain data (for check mode and results)."""
        count = self.effective_count
        return {
            "name": self.name,
            "provider": self.provider_type,
            "config": copy.deepcopy(dict(self.provider)),
            "interval": self.interval_text or None,
            "initial_delay": self.initial_delay_text or None,
            "count": count,
            "measurements": "until stopped" if count is None else count,
            "success_condition": self.success_condition or None,
            "failure_condition": self.failure_condition or None,
            "failure_limit": self.failure_limit,
            "inconclusive_limit": self.inconclusive_limit,
            "consecutive_error_limit": self.consecutive_error_limit,
            "dry_run": self.dry_run,
        }


def _templated(value: Any) -> bool:
    return isinstance(value, str) and _TAG_OPEN in value


def _limit(raw: Mapping[str, Any], key: str, path: str, default: int, lenient: bool) -> int | None:
    """An int-or-string field (Argo's IntOrString): 3 or "3"; None when templated (lenient)."""
    if raw.get(key) is None:
        return default
    value = raw[key]
    field_path = _join(path, key)
    if lenient and _templated(value):
        return None
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnalysisTemplateError(field_path, f"must be an int, not {type_name(value)} {value!r}")
    if value < 0:
        if key == "failureLimit":
            raise AnalysisTemplateError(
                field_path,
                "must be >= 0 (Argo Rollouts 1.8 reads -1 as 'no failure limit' only together with"
                " consecutiveSuccessLimit, which is not supported)",
            )
        raise AnalysisTemplateError(field_path, "must be >= 0")
    return value


def _duration(raw: Mapping[str, Any], key: str, path: str, lenient: bool) -> tuple[float | None, str]:
    if raw.get(key) in (None, ""):
        return None, ""
    value = raw[key]
    field_path = _join(path, key)
    if lenient and _templated(value):
        return None, str(value)
    if not isinstance(value, str):
        raise AnalysisTemplateError(
            field_path, f"must be a duration string such as '30s', not {type_name(value)} {value!r}"
        )
    try:
        seconds = parse_duration(value)
    except ValueError as err:
        raise AnalysisTemplateError(field_path, f"{err} (a duration is written 30s, 5m, 1h30m)") from None
    if seconds < 0:
        raise AnalysisTemplateError(field_path, f"{value!r} is negative")
    if key == "interval" and seconds == 0:
        raise AnalysisTemplateError(field_path, "must be more than 0s")
    return seconds, value


def _condition(raw: Mapping[str, Any], key: str, path: str, lenient: bool) -> tuple[str, Expression | None]:
    value = raw.get(key)
    if value in (None, ""):
        return "", None
    field_path = _join(path, key)
    text = _expect_string(value, field_path)
    if lenient and _templated(text):
        return text, None
    try:
        return text, compile_expression(text)
    except ExpressionError as err:
        raise AnalysisTemplateError(field_path, f"{err} in {text.strip()!r}") from None


def _provider(raw: Mapping[str, Any], path: str) -> tuple[str, Mapping[str, Any]]:
    provider_path = _join(path, "provider")
    supported = ", ".join(SUPPORTED_PROVIDERS)
    if raw.get("provider") is None:
        raise AnalysisTemplateError(provider_path, f"is missing: a metric needs one provider ({supported})")
    provider = _expect_mapping(raw["provider"], provider_path)
    given = [key for key, value in provider.items() if value is not None]
    if not given:
        raise AnalysisTemplateError(provider_path, f"no provider given: a metric needs one ({supported})")
    if len(given) > 1:
        raise AnalysisTemplateError(
            provider_path, f"several providers given ({', '.join(given)}): a metric has exactly one"
        )
    kind = str(given[0])
    if kind not in SUPPORTED_PROVIDERS:
        if kind in ARGO_PROVIDERS:
            reason = (
                f"{kind} is an Argo Rollouts provider that openrollout.k8s does not support"
                f" (supported: {supported})"
            )
        else:
            reason = f"unknown provider {kind!r} (supported: {supported})"
        raise AnalysisTemplateError(_join(provider_path, kind), reason)
    config = _expect_mapping(provider[kind], _join(provider_path, kind))
    return kind, config


def _build_metric(
    raw: Mapping[str, Any], path: str, *, lenient: bool = False, dry_run: bool = False
) -> Metric:
    """Check one metric (Argo's ValidateMetric and more); lenient skips fields with {{args}} tags."""
    for key in raw:
        if key in _UNSUPPORTED_METRIC_FIELDS:
            raise AnalysisTemplateError(_join(path, str(key)), _UNSUPPORTED_METRIC_FIELDS[str(key)])
    _unknown_fields(raw, _METRIC_FIELDS, path, "an Argo Rollouts metric")
    name = _expect_string(raw.get("name"), _join(path, "name"))
    kind, config = _provider(raw, path)
    interval, interval_text = _duration(raw, "interval", path, lenient)
    initial_delay, initial_delay_text = _duration(raw, "initialDelay", path, lenient)
    count = _limit(raw, "count", path, 0, lenient)
    failure_limit = _limit(raw, "failureLimit", path, 0, lenient)
    inconclusive_limit = _limit(raw, "inconclusiveLimit", path, 0, lenient)
    error_limit = _limit(raw, "consecutiveErrorLimit", path, DEFAULT_CONSECUTIVE_ERROR_LIMIT, lenient)
    success_text, success = _condition(raw, "successCondition", path, lenient)
    failure_text, failure = _condition(raw, "failureCondition", path, lenient)
    if count:
        if failure_limit is not None and count < failure_limit:
            raise AnalysisTemplateError(path, f"count ({count}) must be >= failureLimit ({failure_limit})")
        if inconclusive_limit is not None and count < inconclusive_limit:
            raise AnalysisTemplateError(
                path, f"count ({count}) must be >= inconclusiveLimit ({inconclusive_limit})"
            )
        if count > 1 and not interval_text:
            raise AnalysisTemplateError(
                _join(path, "interval"),
                f"must be given when count > 1 (count is {count}): the time between measurements",
            )
    return Metric(
        name=name,
        provider_type=kind,
        provider=config,
        interval=interval,
        initial_delay=initial_delay or 0.0,
        count=count or None,
        success_condition=success_text,
        failure_condition=failure_text,
        failure_limit=failure_limit or 0,
        inconclusive_limit=inconclusive_limit or 0,
        consecutive_error_limit=DEFAULT_CONSECUTIVE_ERROR_LIMIT if error_limit is None else error_limit,
        dry_run=dry_run,
        interval_text=interval_text,
        initial_delay_text=initial_delay_text,
        success=success,
        failure=failure,
    )


# ---------------------------------------------------------------------------------------------
# The run: a template with its arguments


@dataclass(frozen=True)
class AnalysisRun:
    """What is measured: the metrics with arguments filled in, in the template's order.

    ``secrets`` are the Secret values the arguments brought in; :meth:`redact` hides them in a
    text. They are never in ``repr()``.
    """

    metrics: tuple[Metric, ...]
    notes: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def metric(self, name: str) -> Metric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"no metric named {name!r} (metrics: {', '.join(m.name for m in self.metrics)})")

    @property
    def dry_run_metrics(self) -> tuple[str, ...]:
        return tuple(metric.name for metric in self.metrics if metric.dry_run)

    @property
    def indefinite(self) -> bool:
        """Whether a metric measures until stopped: the caller must stop it (terminate=True)."""
        return any(metric.indefinite for metric in self.metrics)

    def redact(self, text: str) -> str:
        """``text`` with every Secret value replaced by ``*****`` (as Argo does to messages)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def describe(self) -> list[dict[str, Any]]:
        """Every metric's :meth:`Metric.describe`, Secret values redacted."""
        return [_redact_all(metric.describe(), self) for metric in self.metrics]

    def measure(self, name: str, value: Any, *, started_at: float, finished_at: float) -> Measurement:
        """A measurement of metric ``name`` whose provider gave ``value``, judged by its conditions."""
        measurement = measure(self.metric(name), value, started_at=started_at, finished_at=finished_at)
        return _redacted_measurement(measurement, self)

    def error(
        self,
        name: str,
        message: str,
        *,
        started_at: float,
        finished_at: float,
        value: Any = None,
        fatal: bool = False,
    ) -> Measurement:
        """A measurement of metric ``name`` whose provider failed (phase Error), message redacted;
        ``fatal`` when no retry would mend it (see :class:`Measurement`)."""
        self.metric(name)
        return Measurement(name, PHASE_ERROR, started_at, finished_at, value, self.redact(message), fatal)


def _redact_all(value: Any, run: AnalysisRun) -> Any:
    if isinstance(value, str):
        return run.redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_all(item, run) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_all(item, run) for item in value]
    return value


def _redacted_measurement(measurement: Measurement, run: AnalysisRun) -> Measurement:
    message = run.redact(measurement.message)
    if message == measurement.message:
        return measurement
    return Measurement(
        measurement.metric,
        measurement.phase,
        measurement.started_at,
        measurement.finished_at,
        measurement.value,
        message,
        measurement.fatal,
    )


def resolve(
    template: AnalysisTemplate,
    args: Mapping[str, Any] | None = None,
    secrets: Mapping[SecretRef, str] | None = None,
    dry_run: Sequence[str] = (),
) -> AnalysisRun:
    """The template with its arguments filled in: the :class:`AnalysisRun` to measure.

    ``dry_run`` adds metricName rules to the template's ``dryRun`` (as a Rollout's own dryRun
    does in Argo). Raises AnalysisTemplateError for a missing or unknown argument, a field that is
    wrong once the arguments are in, or a dry-run rule that matches no metric.
    """
    values = resolve_args(template, args, secrets)
    secret_values = tuple(
        values[arg.name]
        for arg in template.args
        if arg.secret is not None and (args or {}).get(arg.name) is None and values.get(arg.name)
    )
    extra = _parse_dry_run([{"metricName": rule} for rule in dry_run], "dry_run_metrics")
    rules = list(template.dry_run)
    for rule in extra:
        if rule in rules:
            raise AnalysisTemplateError(
                "dry_run_metrics", f"{rule!r} is already a dryRun rule of the template"
            )
        rules.append(rule)
    metrics_path = _join(template.path, "metrics")
    resolved = [
        _substitute(raw, values, _join(metrics_path, index)) for index, raw in enumerate(template.metrics)
    ]
    names = [str(raw.get("name")) for raw in resolved]
    dry: set[str] = set()
    for index, rule in enumerate(rules):
        where = (
            _join(_join(template.path, "dryRun"), index)
            if index < len(template.dry_run)
            else "dry_run_metrics"
        )
        pattern = _compile_rule(rule, where)
        matched = [name for name in names if pattern.search(name)]
        if not matched:
            raise AnalysisTemplateError(
                where, f"rule {rule!r} matches no metric name (metrics: {', '.join(names)})"
            )
        dry.update(matched)
    metrics: list[Metric] = []
    seen: set[str] = set()
    for index, raw in enumerate(resolved):
        path = _join(metrics_path, index)
        metric = _build_metric(raw, path, dry_run=str(raw.get("name")) in dry)
        if metric.name in seen:
            raise AnalysisTemplateError(_join(path, "name"), f"duplicate name {metric.name!r}")
        seen.add(metric.name)
        metrics.append(metric)
    return AnalysisRun(tuple(metrics), template.notes, secret_values)


# ---------------------------------------------------------------------------------------------
# Measurements


def _jsonable(value: Any) -> Any:
    """A value for a JSON result: NaN and infinities as Argo prints them ("NaN", "+Inf")."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


@dataclass(frozen=True)
class Measurement:
    """One measurement of a metric: its phase, the provider's value and the times (seconds).

    ``phase`` is Successful, Failed, Inconclusive or Error. Build it with :func:`measure` (the
    conditions decide), :meth:`AnalysisRun.error` (the provider failed), or directly when the
    provider decides itself (a job: Complete is Successful, Failed is Failed).

    ``fatal``: an Error that no retry mends, as the provider rejected the metric itself (a query
    Prometheus cannot parse): the metric is Error at once, consecutiveErrorLimit is not waited for.
    """

    metric: str
    phase: str
    started_at: float
    finished_at: float
    value: Any = None
    message: str = ""
    fatal: bool = False

    def __post_init__(self) -> None:
        if self.phase not in COMPLETED_PHASES:
            raise ValueError(
                f"a measurement's phase is one of {', '.join(sorted(COMPLETED_PHASES))}, not {self.phase!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "phase": self.phase,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "value": _jsonable(self.value),
            "message": self.message,
        }


def _is_nil_or_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and not value)


def evaluate_result(metric: Metric, value: Any) -> tuple[str, str]:
    """The phase of a measurement that gave ``value``, and a message (Argo's EvaluateResult).

    - no condition: Successful;
    - only successCondition: Successful if true, else Failed;
    - only failureCondition: Failed if true, else Successful;
    - both: Failed if failureCondition is true, else Successful if successCondition is,
      else Inconclusive;
    - a condition that cannot be evaluated: Error, with Argo's message
      ``could not evaluate successCondition "...": ...``.
    """
    verdicts: dict[str, bool] = {}
    for key, text, expression in (
        ("successCondition", metric.success_condition, metric.success),
        ("failureCondition", metric.failure_condition, metric.failure),
    ):
        if not text:
            continue
        try:
            compiled = expression or compile_expression(text)
            verdicts[key] = compiled.test(value)
        except ExpressionError as err:
            shown = text.strip()
            if _is_nil_or_empty(value):
                reason = f"metric result is nil or empty: no data returned from the metric provider ({err})"
            else:
                reason = str(err)
            return PHASE_ERROR, f'could not evaluate {key} "{shown}": {reason}'
    if not verdicts:
        return PHASE_SUCCESSFUL, ""
    success = verdicts.get("successCondition")
    failure = verdicts.get("failureCondition")
    if failure is None:
        failure = not success
    if success is None:
        success = not failure
    if failure:
        return PHASE_FAILED, ""
    if not success:
        return PHASE_INCONCLUSIVE, ""
    return PHASE_SUCCESSFUL, ""


def measure(metric: Metric, value: Any, *, started_at: float, finished_at: float) -> Measurement:
    """A measurement of ``metric`` whose provider gave ``value``: :func:`evaluate_result` decides."""
    phase, message = evaluate_result(metric, value)
    return Measurement(metric.name, phase, started_at, finished_at, value, message)


# ---------------------------------------------------------------------------------------------
# Phases


@dataclass(frozen=True)
class MetricResult:
    """A metric's phase and counters after its measurements (Argo's MetricResult).

    ``count`` is the measurements that did not end in Error; ``reason`` says why a metric
    completed Failed, Inconclusive or Error (``failed (3) > failureLimit (2)``); ``message`` is
    its last measurement's message.
    """

    name: str
    phase: str
    dry_run: bool
    measurements: tuple[Measurement, ...]
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    reason: str = ""
    message: str = ""

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES

    @property
    def assessment(self) -> str:
        """``Metric "x" assessed Failed due to failed (1) > failureLimit (0)``, or "" if none."""
        if not self.reason:
            return ""
        return f'Metric "{self.name}" assessed {self.phase} due to {self.reason}'

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "dry_run": self.dry_run,
            "count": self.count,
            "successful": self.successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "error": self.error,
            "consecutive_error": self.consecutive_error,
            "message": self.assessment or self.message,
            "measurements": [measurement.to_dict() for measurement in self.measurements],
        }


def _limits_phase(metric: Metric, failed: int, inconclusive: int, consecutive_error: int) -> tuple[str, str]:
    # Argo's assessMetricFailureInconclusiveOrError: each check overrides the one before.
    phase, reason = "", ""
    if failed > metric.failure_limit:
        phase, reason = PHASE_FAILED, f"failed ({failed}) > failureLimit ({metric.failure_limit})"
    if inconclusive > metric.inconclusive_limit:
        phase = PHASE_INCONCLUSIVE
        reason = f"inconclusive ({inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
    if consecutive_error > metric.consecutive_error_limit:
        phase = PHASE_ERROR
        limit = metric.consecutive_error_limit
        reason = f"consecutiveErrors ({consecutive_error}) > consecutiveErrorLimit ({limit})"
    return phase, reason


def assess_metric(
    metric: Metric, measurements: Iterable[Measurement], *, terminating: bool = False
) -> MetricResult:
    """The phase of ``metric`` after ``measurements`` (oldest first), by Argo's assessMetricStatus.

    The metric completes at the first measurement after which a limit is exceeded or the count is
    reached; measurements after that are not counted (Argo takes none). ``terminating``: the
    analysis is stopping, so a metric that has not completed is Successful.
    """
    taken: list[Measurement] = []
    counts = {PHASE_SUCCESSFUL: 0, PHASE_FAILED: 0, PHASE_INCONCLUSIVE: 0, PHASE_ERROR: 0}
    consecutive_error = 0
    phase, reason = "", ""
    target = metric.effective_count
    for measurement in measurements:
        if measurement.metric != metric.name:
            raise ValueError(f"a measurement of {measurement.metric!r} given for metric {metric.name!r}")
        taken.append(measurement)
        counts[measurement.phase] += 1
        consecutive_error = consecutive_error + 1 if measurement.phase == PHASE_ERROR else 0
        phase, reason = _limits_phase(
            metric, counts[PHASE_FAILED], counts[PHASE_INCONCLUSIVE], consecutive_error
        )
        if measurement.fatal and measurement.phase == PHASE_ERROR:
            phase, reason = PHASE_ERROR, "an error no retry mends (consecutiveErrorLimit not waited for)"
        count = len(taken) - counts[PHASE_ERROR]
        if not phase and target is not None and count >= target:
            phase = PHASE_SUCCESSFUL
        if phase:
            break
    if not phase:
        # Not completed: a stopping analysis takes it as Successful (Argo's "Run Terminated").
        phase = PHASE_SUCCESSFUL if terminating else PHASE_RUNNING if taken else PHASE_PENDING
    return MetricResult(
        name=metric.name,
        phase=phase,
        dry_run=metric.dry_run,
        measurements=tuple(taken),
        count=len(taken) - counts[PHASE_ERROR],
        successful=counts[PHASE_SUCCESSFUL],
        failed=counts[PHASE_FAILED],
        inconclusive=counts[PHASE_INCONCLUSIVE],
        error=counts[PHASE_ERROR],
        consecutive_error=consecutive_error,
        reason=reason,
        message=taken[-1].message if taken else "",
    )


def is_worse(current: str, new: str) -> bool:
    """Whether phase ``new`` is worse than ``current`` (Argo's IsWorse)."""
    return PHASE_ORDER.index(new) > PHASE_ORDER.index(current)


@dataclass(frozen=True)
class RunSummary:
    """How many metrics there are, and how many completed in each phase (Argo's RunSummary)."""

    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "count": self.count,
            "successful": self.successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "error": self.error,
        }


def _summarize(results: Sequence[MetricResult]) -> RunSummary:
    def completed(phase: str) -> int:
        return sum(1 for result in results if result.phase == phase)

    return RunSummary(
        count=len(results),
        successful=completed(PHASE_SUCCESSFUL),
        failed=completed(PHASE_FAILED),
        inconclusive=completed(PHASE_INCONCLUSIVE),
        error=completed(PHASE_ERROR),
    )


@dataclass(frozen=True)
class AnalysisResult:
    """The analysis' phase, Argo's message, the metric that decided and every metric's result.

    ``phase`` is Running until the analysis completes, then Successful, Failed, Inconclusive or
    Error. ``message`` is Argo's (``Metric "x" assessed Failed due to ...``; ``Run Terminated``
    when stopped by the caller; empty otherwise), ``summary`` a sentence for a person.
    """

    phase: str
    message: str
    decided_by: str | None
    metrics: tuple[MetricResult, ...]
    run_summary: RunSummary
    dry_run_summary: RunSummary
    terminated: bool = False

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES

    @property
    def summary(self) -> str:
        if self.message and self.message != "Run Terminated":
            return self.message
        if self.phase == PHASE_RUNNING:
            running = [result.name for result in self.metrics if not result.completed]
            return f"running: {', '.join(running)}"
        text = f"{self.run_summary.successful} of {self.run_summary.count} metric(s) Successful"
        if self.terminated:
            text += " (stopped before every measurement was taken)"
        dry = [result.assessment for result in self.metrics if result.dry_run and result.assessment]
        if dry:
            text += "; dry-run, not deciding: " + "; ".join(dry)
        return text

    def metric(self, name: str) -> MetricResult:
        for result in self.metrics:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """Every metric's measurements, in the order they finished."""
        every = [measurement for result in self.metrics for measurement in result.measurements]
        return tuple(sorted(every, key=lambda measurement: measurement.finished_at))

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "message": self.summary,
            "decided_by": self.decided_by,
            "terminated": self.terminated,
            "run_summary": self.run_summary.to_dict(),
            "dry_run_summary": self.dry_run_summary.to_dict(),
            "metrics": [result.to_dict() for result in self.metrics],
        }


def _group(run: AnalysisRun, measurements: Iterable[Measurement]) -> dict[str, list[Measurement]]:
    grouped: dict[str, list[Measurement]] = {metric.name: [] for metric in run.metrics}
    for measurement in measurements:
        if measurement.metric not in grouped:
            raise ValueError(
                f"a measurement of {measurement.metric!r}, which is not a metric of the analysis"
            )
        grouped[measurement.metric].append(measurement)
    return grouped


def assess(
    run: AnalysisRun, measurements: Iterable[Measurement], *, terminate: bool = False
) -> AnalysisResult:
    """The analysis' phase after ``measurements`` (any metric, oldest first): Argo's assessRunStatus.

    ``terminate``: the caller stops the analysis (Argo's spec.terminate, e.g. the rollout ended):
    metrics not completed are Successful and the message is ``Run Terminated``.
    """
    grouped = _group(run, measurements)
    results = [assess_metric(metric, grouped[metric.name]) for metric in run.metrics]
    # A metric that is not dry-run and completed badly stops the analysis (IsTerminating).
    terminating = terminate or any(
        result.phase in (PHASE_FAILED, PHASE_ERROR, PHASE_INCONCLUSIVE) and not result.dry_run
        for result in results
    )
    if terminating:
        results = [assess_metric(metric, grouped[metric.name], terminating=True) for metric in run.metrics]
    worst = ""
    message = "Run Terminated" if terminate else ""
    decided_by = None
    for result in results:
        if not result.completed:
            continue
        if result.dry_run:
            worst = worst or PHASE_SUCCESSFUL
            continue
        if not worst or is_worse(worst, result.phase):
            worst = result.phase
            if result.reason:
                message = result.assessment
                if result.message:
                    message += f': "Error Message: {result.message}"'
                decided_by = result.name
    everything_completed = all(result.completed for result in results)
    if terminating:
        phase = worst or PHASE_SUCCESSFUL
    elif not everything_completed or not worst:
        phase, message, decided_by = PHASE_RUNNING, "", None
    else:
        phase = worst
    regular = [result for result in results if not result.dry_run]
    dry = [result for result in results if result.dry_run]
    return AnalysisResult(
        phase=phase,
        message=message.strip(),
        decided_by=decided_by,
        metrics=tuple(results),
        run_summary=_summarize(regular),
        dry_run_summary=_summarize(dry),
        terminated=terminate,
    )


# ---------------------------------------------------------------------------------------------
# The planner


@dataclass(frozen=True)
class Plan:
    """What to do next: measure ``measure`` now, or wait until ``next_at``; ``done`` when finished.

    ``due`` has every metric still to be measured with the time it is due (seconds, the caller's
    clock), in the template's order. ``result`` is the analysis so far.
    """

    result: AnalysisResult
    measure: tuple[str, ...] = ()
    next_at: float | None = None
    due: tuple[tuple[str, float], ...] = ()

    @property
    def done(self) -> bool:
        return self.result.completed

    def wait(self, now: float) -> float:
        """Seconds to wait from ``now`` before the next measurement is due (0 if one is due)."""
        if self.measure or self.next_at is None:
            return 0.0
        return max(0.0, self.next_at - now)


def next_due(metric: Metric, measurements: Sequence[Measurement], started_at: float) -> float:
    """When ``metric``'s next measurement is due (Argo's generateMetricTasks).

    The first at ``started_at`` + initialDelay; then interval after the last one finished, or
    ERROR_RETRY_INTERVAL after one that ended in Error (whatever the interval).
    """
    if not measurements:
        return started_at + metric.initial_delay
    last = measurements[-1]
    if last.phase == PHASE_ERROR or metric.interval is None:
        return last.finished_at + ERROR_RETRY_INTERVAL
    return last.finished_at + metric.interval


def next_measurements(
    run: AnalysisRun,
    measurements: Iterable[Measurement],
    *,
    started_at: float,
    now: float,
    terminate: bool = False,
) -> Plan:
    """The analysis so far and what to measure next (see the loop at the top of this module).

    ``started_at`` is when the analysis started and ``now`` the current time, both from the
    caller's clock in seconds. ``terminate`` stops the analysis (an indefinite metric's end).
    """
    every = list(measurements)
    result = assess(run, every, terminate=terminate)
    if result.completed:
        return Plan(result)
    grouped = _group(run, every)
    due: list[tuple[str, float]] = []
    for metric, metric_result in zip(run.metrics, result.metrics):
        if metric_result.completed:
            continue
        due.append((metric.name, next_due(metric, grouped[metric.name], started_at)))
    now_due = tuple(name for name, at in due if at <= now)
    later = [at for name, at in due if at > now]
    return Plan(result, now_due, min(later) if later else None, tuple(due))
