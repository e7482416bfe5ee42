#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: analysis
short_description: Run an Argo Rollouts analysis from a playbook, without a controller
version_added: 0.2.0
description:
  - Runs an analysis written as an Argo Rollouts C(AnalysisTemplate) or C(ClusterAnalysisTemplate)
    (C(argoproj.io/v1alpha1)), or as its metrics alone, and returns its phase (V(Successful),
    V(Failed), V(Inconclusive) or V(Error)), every measurement, and a message that names the metric
    that decided, in Argo's words (C(Metric "success-rate" assessed Failed due to failed (4) >
    failureLimit (3))).
  - No Argo Rollouts controller and no CRD are needed. The module measures each metric at its
    C(initialDelay), C(interval) and C(count), judges each measurement with C(successCondition) and
    C(failureCondition), and applies C(failureLimit), C(inconclusiveLimit) and
    C(consecutiveErrorLimit) as Argo Rollouts does. The task returns once the analysis has completed.
  - "The providers are C(prometheus) (an instant query: a vector is a list of floats as C(result),
    a scalar a float), C(web) (an HTTP request; the JSON body or what C(jsonPath) selects), C(job)
    (a Kubernetes Job; it succeeds when the Job completes) and this collection's own C(kubernetes)
    (a JMESPath C(query) over what M(openrollout.k8s.rollout_info) returns for a workload: C(kind),
    C(name), optional C(namespace)). Argo's other providers are refused with a message saying so."
  - The task fails when the phase is V(Failed) or V(Error), and when it is V(Inconclusive) unless
    O(accept_inconclusive=true). The result has the phase and the measurements either way.
  - A template is checked before anything is measured. A syntax error in a condition, an unknown
    field, a C({{args.x}}) that names no argument or a bad duration fails the task with the field's
    path (C(spec.metrics[0].successCondition)) and, for a condition, the column.
  - The guide is docs/analysis.md, with what of Argo's AnalysisTemplate is supported and what not.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Nothing is measured and no Job is created. The template is read, its arguments filled in
        (Secrets read, their values redacted) and RV(planned) says what would be measured and when.
        C(changed) is V(true) when a C(job) metric would create a Job.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: partial
    details:
      - An analysis measures again each time it runs. It writes nothing, except the Jobs of C(job)
        metrics, one per measurement; C(changed) is V(true) only when a Job ran.
options:
  template:
    description:
      - The AnalysisTemplate or ClusterAnalysisTemplate, as a dictionary or as YAML text, camelCase as
        Argo writes it. C(apiVersion) and C(kind) may be left out.
      - "Ansible templates task arguments: C({{args.name}}) in a template written in the playbook is
        taken by Jinja2 unless the text is marked C(!unsafe) (see the examples), or is read from a
        file with O(src)."
      - Exactly one of O(template), O(src) and O(metrics) is required.
    type: raw
  src:
    description:
      - Path of a file holding the AnalysisTemplate (YAML), for example one used with Argo Rollouts as
        it is. It is read as it is, without Jinja2 templating.
      - The file is read by the module, on the host that runs it (the controller for C(localhost)),
        not looked up in the role's or playbook's C(files/).
    type: path
  metrics:
    description:
      - The metrics alone, a list in the form of an AnalysisTemplate's C(spec.metrics) (camelCase).
      - Each key of O(args) is an argument they can use as C({{args.<key>}}).
    type: list
    elements: dict
  args:
    description:
      - Values of the template's arguments (C(spec.args)), by name, for C({{args.<name>}}).
      - An argument not given takes its C(value) in the template, or its C(valueFrom.secretKeyRef),
        read from the Secret in O(namespace). Secret values are never shown. They are redacted
        (C(*****)) in the result, its messages and the task's output.
      - An argument the template does not declare is an error.
    type: dict
    default: {}
  dry_run_metrics:
    description:
      - Regular expressions of metric names that are measured and reported but never decide the
        phase, added to the template's C(dryRun) (Argo's C(metricName) rules; V(.*) is every metric).
    type: list
    elements: str
    default: []
  accept_inconclusive:
    description:
      - Whether an V(Inconclusive) analysis passes. By default it fails the task, as a Rollout
        pauses on it for a person to decide.
    type: bool
    default: false
  duration:
    description:
      - How long the analysis may run, as a Go duration (V(10m), V(1h30m)) or a number of seconds.
        When it runs out, the analysis stops as Argo's C(terminate) stops it; the metrics not yet
        complete count as successful.
      - Required when a metric has an C(interval) and no C(count) (measured until stopped).
    type: str
  namespace:
    description:
      - Namespace of the Secrets of C(valueFrom.secretKeyRef), of the Jobs of C(job) metrics, and
        the default one of C(kubernetes) metrics.
    type: str
    default: default
notes:
  - A measurement is complete when its provider answers; a C(job) metric waits for its Job to finish
    (bounded by the Job's C(activeDeadlineSeconds) and O(duration)).
  - The Jobs of C(job) metrics are named C(<template>-<metric>-<n>-<random>), labelled
    C(openrollout.k8s/analysis) and C(openrollout.k8s/metric), and stay after the task for
    C(kubectl logs). Set C(ttlSecondsAfterFinished) in the Job's spec to have them removed.
  - HTTP requests of the C(prometheus) and C(web) providers are made by the host that runs the module.
seealso:
  - module: openrollout.k8s.rollout_info
    description: What the C(kubernetes) provider's query reads.
  - name: Argo Rollouts analysis
    description: The AnalysisTemplate this module runs.
    link: https://argo-rollouts.readthedocs.io/en/stable/features/analysis/
"""

EXAMPLES = r"""
- name: Argo's success-rate template, copied from its documentation as it is
  openrollout.k8s.analysis:
    namespace: shop
    args:
      service-name: web-canary.shop.svc.cluster.local
    template: !unsafe |
      apiVersion: argoproj.io/v1alpha1
      kind: AnalysisTemplate
      metadata:
        name: success-rate
      spec:
        args:
        - name: service-name
        metrics:
        - name: success-rate
          interval: 5m
          # NOTE: prometheus queries return results in the form of a vector.
          # So it is common to access the index 0 of the returned array to obtain the value
          successCondition: result[0] >= 0.95
          failureLimit: 3
          provider:
            prometheus:
              address: http://prometheus.example.com:9090
              query: |
                sum(irate(
                  istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]
                )) /
                sum(irate(
                  istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]
                ))
  register: analysis

- name: Show which metric decided
  ansible.builtin.debug:
    msg: "{{ analysis.phase }}: {{ analysis.message }}"

- name: The same template, in a file used with Argo Rollouts too
  openrollout.k8s.analysis:
    src: analysis/success-rate.yaml
    namespace: shop
    args:
      service-name: web-canary.shop.svc.cluster.local

- name: A health endpoint and the Deployment's own state, three times a minute apart
  openrollout.k8s.analysis:
    namespace: shop
    metrics:
      - name: health
        interval: 1m
        count: 3
        successCondition: result == 'ok'
        provider:
          web:
            url: http://web.shop.svc:8080/health
            jsonPath: "{$.status}"
      - name: all-available
        interval: 1m
        count: 3
        successCondition: result == true
        provider:
          kubernetes:
            kind: Deployment
            name: web
            query: status.done

- name: A smoke test as a Job; its failure is reported but does not fail the task
  openrollout.k8s.analysis:
    namespace: shop
    dry_run_metrics: [smoke]
    metrics:
      - name: smoke
        provider:
          job:
            spec:
              backoffLimit: 0
              template:
                spec:
                  restartPolicy: Never
                  containers:
                    - name: smoke
                      image: registry.example/web-smoke:1
                      command: [/smoke, --target, http://web.shop.svc:8080]
"""

RETURN = r"""
phase:
  description: The analysis' phase, V(Successful), V(Failed), V(Inconclusive) or V(Error). Not returned in check mode.
  returned: success or analysis failure
  type: str
  sample: Failed
message:
  description:
    - Argo's message naming the metric that decided, with the last measurement's message when there
      is one, or a summary when every metric succeeded.
  returned: success or analysis failure
  type: str
  sample: 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
decided_by:
  description: The metric that decided the phase, or null when none did (every metric Successful).
  returned: success or analysis failure
  type: str
  sample: success-rate
terminated:
  description: Whether O(duration) stopped the analysis before every measurement was taken.
  returned: success or analysis failure
  type: bool
  sample: false
measurements:
  description: Every measurement taken, in the order they finished, dry-run metrics' too.
  returned: success or analysis failure
  type: list
  elements: dict
  contains:
    metric:
      description: The metric's name.
      type: str
    phase:
      description: V(Successful), V(Failed), V(Inconclusive) or V(Error).
      type: str
    value:
      description:
        - What the provider gave, the conditions' C(result). A list of floats for a Prometheus
          vector, a float for a scalar, the JSON value for C(web) and C(kubernetes); for C(job),
          C(job), C(exit_code) and C(log_tail). NaN and infinities as V(NaN), V(+Inf), V(-Inf).
      type: raw
    message:
      description: Why it is in that phase, when it is not plainly successful; Secret values redacted.
      type: str
    time:
      description: When it finished (ISO 8601), as RV(measurements[].finished_at).
      type: str
    started_at:
      description: When it started (ISO 8601).
      type: str
    finished_at:
      description: When it finished (ISO 8601).
      type: str
  sample:
    - {metric: success-rate, phase: Successful, value: [0.99], message: "", time: "2026-12-04T15:00:00.120+00:00",
       started_at: "2026-12-04T15:00:00.100+00:00", finished_at: "2026-12-04T15:00:00.120+00:00"}
metrics:
  description: Each metric's phase and counters (Argo's metricResults), in the template's order.
  returned: success or analysis failure
  type: list
  elements: dict
  contains:
    name:
      description: The metric's name.
      type: str
    phase:
      description: Its phase; V(Running) for one the analysis stopped before it completed.
      type: str
    dry_run:
      description: Whether it is a dry-run metric, which never decides the phase.
      type: bool
    count:
      description: Measurements that did not end in Error.
      type: int
    successful:
      description: Successful measurements.
      type: int
    failed:
      description: Failed measurements.
      type: int
    inconclusive:
      description: Inconclusive measurements.
      type: int
    error:
      description: Measurements in Error.
      type: int
    consecutive_error:
      description: Errors in a row at the end.
      type: int
    message:
      description: Why it completed as it did (C(failed (4) > failureLimit (3))), or its last message.
      type: str
run_summary:
  description: How many metrics (not dry-run) there are, and how many completed in each phase.
  returned: success or analysis failure
  type: dict
  contains:
    count:
      description: Metrics.
      type: int
    successful:
      description: Successful ones.
      type: int
    failed:
      description: Failed ones.
      type: int
    inconclusive:
      description: Inconclusive ones.
      type: int
    error:
      description: Ones in Error.
      type: int
  sample: {count: 1, successful: 0, failed: 1, inconclusive: 0, error: 0}
dry_run_summary:
  description: The same for the dry-run metrics.
  returned: success or analysis failure
  type: dict
  sample: {count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0}
started_at:
  description: When the analysis started (ISO 8601).
  returned: success or analysis failure
  type: str
finished_at:
  description: When it completed (ISO 8601).
  returned: success or analysis failure
  type: str
jobs:
  description: The Jobs that C(job) metrics created, by name, in O(namespace).
  returned: success or analysis failure
  type: list
  elements: str
  sample: [smoke-tests-smoke-1-3fa9c2]
planned:
  description:
    - In check mode, each metric as it would be measured, arguments filled in and Secret values
      redacted. C(name), C(provider), C(config) (the provider's), C(interval), C(initial_delay),
      C(count), C(measurements) (a number, or V(until stopped)), C(success_condition),
      C(failure_condition), C(failure_limit), C(inconclusive_limit), C(consecutive_error_limit),
      C(dry_run).
  returned: check mode
  type: list
  elements: dict
  sample:
    - {name: success-rate, provider: prometheus, interval: 5m, initial_delay: null, count: null,
       measurements: until stopped, success_condition: "result[0] >= 0.95", failure_condition: null,
       failure_limit: 3, inconclusive_limit: 0, consecutive_error_limit: 4, dry_run: false,
       config: {address: "http://prometheus.example.com:9090", query: "..."}}
"""

from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openrollout.k8s.plugins.module_utils._analysis import AnalysisRun, format_seconds
from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_options import (
    ANALYSIS_OPTIONS,
    HAS_YAML,
    SOURCES,
    AnalysisOptionsError,
    AnalysisSpec,
    analysis_providers,
    read_analysis,
    resolve_analysis,
    wall_time,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_run import (
    AnalysisRunner,
    outcome_dict,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    ArgSpec,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._client import KubeClient
from ansible_collections.openrollout.k8s.plugins.module_utils._hook_runner import HookRunner
from ansible_collections.openrollout.k8s.plugins.module_utils._module import Connect, run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._waiter import Timeline

JSONDict = Dict[str, Any]

# The options are read by _analysis_options, shared with the rollout module's `analysis`.
ANALYSIS_ARG_SPEC: ArgSpec = {
    **ANALYSIS_OPTIONS,
    "namespace": {"type": "str", "default": "default"},
}


class AnalysisFailed(Exception):
    """The analysis completed Failed, Error, or Inconclusive not accepted; ``result`` has it all."""

    def __init__(self, message: str, result: JSONDict) -> None:
        super().__init__(message)
        self.result = result


# --- edge ------------------------------------------------------------------------------


class Analysis:
    """One analysis: read the template and its Secrets, measure (or plan, in check mode), judge."""

    def __init__(self, module: AnsibleModule, client: KubeClient, spec: AnalysisSpec) -> None:
        self.module = module
        self.spec = spec
        self.namespace = module.params["namespace"]
        self.client = client
        self.jobs: List[str] = []

    def resolve(self) -> AnalysisRun:
        run, secrets = resolve_analysis(self.spec, self.client, self.namespace)
        self.module.no_log_values.update(secrets)
        return run

    def run(self) -> JSONDict:
        run = self.resolve()
        duration = self.spec.duration
        if run.indefinite and duration is None:
            indefinite = ", ".join(m.name for m in run.metrics if m.indefinite)
            raise AnalysisOptionsError(
                f"metric(s) {indefinite} have an interval and no count, so they are measured until "
                "stopped: give duration (how long the analysis runs), or a count"
            )
        warnings = list(run.notes)
        has_job = any(metric.provider_type == "job" for metric in run.metrics)
        if self.module.check_mode:
            planned = run.describe()
            if duration is not None:
                warnings.append(f"the analysis would stop after {format_seconds(duration)}")
            return {"changed": has_job, "planned": planned, "warnings": warnings}
        deadline = None if duration is None else self.client.clock() + duration
        hook_runner = HookRunner(self.client, Timeline(), sleep=self.client.sleep)
        providers = analysis_providers(
            self.client,
            self.namespace,
            self.spec.name,
            self.jobs,
            hook_runner,
            lambda: None if deadline is None else deadline - self.client.clock(),
        )
        runner = AnalysisRunner(
            run, providers, clock=self.client.clock, sleep=self.client.sleep, duration=duration
        )
        outcome = runner.run_to_end()
        result = outcome_dict(outcome, wall_time(self.client.clock))
        result.update(changed=bool(self.jobs), jobs=list(self.jobs), warnings=warnings)
        phase = result["phase"]
        if phase in ("Failed", "Error") or (phase == "Inconclusive" and not self.spec.accept_inconclusive):
            message = f"analysis {phase}: {result['message']}"
            if phase == "Inconclusive":
                message += " (accept_inconclusive=true lets an Inconclusive analysis pass)"
            raise AnalysisFailed(message, result)
        return result


def run(module: AnsibleModule, connect: Connect) -> JSONDict:
    spec = read_analysis(module.params)  # a bad template fails before any connection
    return Analysis(module, connect(), spec).run()


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, ANALYSIS_ARG_SPEC),
        mutually_exclusive=[SOURCES],
        required_one_of=[SOURCES],
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg="the analysis module needs PyYAML")
    run_module(module, run, errors=(AnalysisFailed, AnalysisOptionsError))


if __name__ == "__main__":
    main()
