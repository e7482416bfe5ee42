#!/usr/bin/python
# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rollout
short_description: Roll out a Deployment with DeploymentConfig's strategies, or a StatefulSet or DaemonSet by its own
version_added: 0.1.0
description:
  - Applies a Deployment and drives its rollout to the end, with the semantics of OpenShift's
    DeploymentConfig strategies, as an idempotent task.
  - The Deployment stays the source of truth. The module steers the Kubernetes Deployment
    controller only through the Deployment's own fields (template, replicas, strategy), so
    C(kubectl rollout status|history|undo) and M(kubernetes.core.k8s) keep working on it, and no
    state is kept anywhere else.
  - B(Rolling) is canary-first. When maxSurge leaves room for extra pods, the rollout starts with
    maxUnavailable 0, so no old pod goes before one new pod is available (Ready for
    C(minReadySeconds)). Then the user's maxUnavailable applies and the controller goes on as usual.
    With maxSurge 0, old pods go step by step within maxUnavailable, as the controller does.
  - B(Recreate) scales the old revision to 0 and waits until its pods are gone, then runs the new
    revision with 1 replica and waits until it is available, then scales to the full count.
  - Waits use watches on the Deployment, its ReplicaSets and its pods, never polling loops.
    A rollout fails at once on C(ProgressDeadlineExceeded) or on a pod reason that waiting does
    not cure (C(CrashLoopBackOff), C(ImagePullBackOff), C(ErrImagePull), C(Unschedulable),
    C(CreateContainerConfigError) with the missing Secret or ConfigMap named, C(FailedMount) for a
    volume whose Secret or ConfigMap does not exist ...). It fails at once
    too when the ReplicaSet controller cannot create the new pods (C(FailedCreate), C(QuotaExceeded),
    for an invalid pod spec, a quota, an admission refusal, a missing ServiceAccount), with the API's
    message. It also fails when nothing moves for the strategy's C(timeoutSeconds), as in OpenShift.
  - A container with a blank image (C(" "), left by a DeploymentConfig for its ImageChange trigger)
    is refused before anything is written.
  - On failure, with O(rollback_on_failure), the revision that ran before is restored at its
    replica count, the way C(kubectl rollout undo) does it, and the module waits until it is
    available again. The task fails with a message naming the cause and the pods concerned.
  - A replicas-only change is a scale. It creates no revision.
  - B(StatefulSets and DaemonSets) (O(kind), or the definition's C(kind)) roll out by their native
    C(spec.updateStrategy), driven by their own controller. The module writes once and waits with
    kubectl's done-test for the kind (a StatefulSet's C(partition) honoured, for a staged rollout).
    Pre and post hooks, fail-fast and the automatic rollback to the previous ControllerRevision
    (with M(openrollout.k8s.rollout_undo)'s code) work as for a Deployment. See
    C(docs/rollout.md#statefulsets-and-daemonsets).
  - Conflicting writes (HTTP 409) are retried from a fresh read. Every write is guarded by the
    resourceVersion it was computed from.
author:
  - openrollout.k8s contributors (@openrollout)
extends_documentation_fragment:
  - openrollout.k8s.auth
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - O(src) and O(template) are found, read and rendered on the controller, and given to the module as O(definition).
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The server validates the change (dry run) and the planned steps are returned. Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The Deployment's metadata and spec before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - The same input twice gives C(changed=false) the second time and no new revision.
options:
  definition:
    description:
      - The Deployment (C(apiVersion apps/v1), C(kind Deployment)), as a dictionary or as YAML text.
        A StatefulSet or DaemonSet (C(apps/v1)) is taken too; its C(spec.updateStrategy) is applied
        as it is, with the fields O(strategy) and O(partition) set on top.
      - It is applied with server-side apply (field manager C(openrollout.k8s)). Fields this
        module applied before and that the definition no longer has are removed.
      - The definition's C(spec.strategy) gives the strategy when O(strategy) is not set.
        C(spec.strategy) and C(spec.paused) are managed by the module and are not applied as they are.
      - An OpenShift C(DeploymentConfig) (C(apps.openshift.io/v1)) is accepted as it is. It is turned
        into a Deployment with its selector, template, replicas, minReadySeconds, revisionHistoryLimit and
        paused. Its strategy and hooks are run as described here. ImageChange triggers from
        an C(ImageStreamTag) and C(tagImages) are dropped with a warning; with O(image_trigger), its
        ImageChange triggers' containers are followed. C(test=true) scales to 0 after a successful rollout.
        See C(docs/deploymentconfig-migration.md).
      - Mutually exclusive with O(src) and O(template).
    type: raw
  src:
    description:
      - Path to a file holding the Deployment (or any object O(definition) takes) as YAML, one
        document. A DeploymentConfig manifest is taken as it is.
      - The file is on the Ansible controller, and is looked up as M(ansible.builtin.copy) looks up
        its C(src). An absolute path is used as it is. A relative one (V(web.yml) or
        V(files/web.yml)) is looked for first in the C(files/) folder of the role the task is in
        (and of the roles that include it), then in the playbook's folder and its C(files/).
      - The file is read on the controller (an Ansible Vault file is decrypted) and its text is
        given to the module as O(definition), whichever host runs the task. It is not a template,
        see O(template).
      - Mutually exclusive with O(definition) and O(template).
    type: path
  template:
    description:
      - Path to a Jinja2 template of the Deployment (or any object O(definition) takes) as YAML, one
        document. Rendered on the controller with the task's variables, as
        M(ansible.builtin.template) renders a file, and given to the module as O(definition).
      - Looked up as M(ansible.builtin.template) looks up its C(src). A relative path is looked for
        first in the C(templates/) folder of the role the task is in (and of the roles that include
        it), then in the playbook's folder and its C(templates/). C({% include %}) finds files the
        same way, and beside the template.
      - Jinja2's settings are Ansible's defaults (C(trim_blocks=true), C(lstrip_blocks=false), the
        usual C({{ }}) and C({% %}) delimiters). An undefined variable fails the task before the
        module runs, and so does a rendering that is not one YAML document.
      - Only a path is taken. M(kubernetes.core.k8s)'s dictionary form (C(path) with other
        delimiters) and lists of templates are not, because a rollout is of one object.
      - Mutually exclusive with O(definition) and O(src).
    type: path
    version_added: 0.2.0
  name:
    description:
      - Name of an existing Deployment to change with O(images), O(replicas), O(strategy) or
        O(change_cause), without giving its whole definition. With O(kind), of a StatefulSet or
        DaemonSet (and O(partition) too).
      - With O(definition), if given, it must match C(metadata.name).
    type: str
  namespace:
    description:
      - Namespace of the Deployment. Defaults to the definition's C(metadata.namespace), else C(default).
    type: str
  kind:
    description:
      - The kind of workload. By default the definition's C(kind), else V(Deployment).
      - V(StatefulSet) and V(DaemonSet) roll out by their own C(spec.updateStrategy); see O(strategy),
        O(partition) and C(docs/rollout.md#statefulsets-and-daemonsets). O(stop_before) is for
        Deployments only, and a DaemonSet has no O(replicas).
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
  images:
    description:
      - New images by container name, for example C(app) to C(registry.example/app:v2). Init
        containers count too. A name the pod template lacks is an error listing the containers.
    type: dict
  image_trigger:
    description:
      - Image-change triggers at task time, as a DeploymentConfig's ImageChange trigger but without
        image streams. Each followed container's tag is resolved to the digest it points to now,
        with the registry's OCI distribution API (C(HEAD /v2/<repository>/manifests/<tag>)), and the
        container's image is written as C(repository:tag@sha256:<digest>). The tag stays in sight in
        C(kubectl), C(rollout history) and every revision; the node pulls by the digest.
      - When the digest is the one the live container runs, nothing changes (C(changed=false), no
        revision, no hook). When the tag moved, the new digest rolls out as a new revision, through
        the strategy and its hooks.
      - In definition mode, the definition's images are followed (for example C(registry.example/web:latest)).
        In name mode, the images of O(images), else the live containers' C(repository:tag@sha256:...),
        whose tag is resolved again (an AWX schedule that rolls out when C(latest) moves).
      - A V({}) follows every container and init container whose image names a tag. With a
        DeploymentConfig definition, V({}) follows the containers of its ImageChange triggers; a
        trigger C(from) a C(DockerImage) also gives its containers their image.
      - Credentials are looked up in this order, and only when a registry answers 401. First the
        O(image_trigger.registries) entry for the host, then O(image_trigger.docker_config), then
        the pod template's C(imagePullSecrets) (C(kubernetes.io/dockerconfigjson) Secrets, read with
        C(get) on C(secrets), see C(docs/rbac.md)). Without credentials the registry is asked
        anonymously. C(Basic) and C(Bearer) (token) challenges are answered. No credential is printed,
        in a message, the result or the diff.
      - A registry that cannot be reached, a 401 or a 404 fails the task with a message naming the
        image and the registry. Nothing is written.
      - In check mode the tags are resolved too (reads only). RV(image_trigger) says which tag moved
        from which digest to which.
      - See C(docs/rollout.md#image-triggers).
    type: dict
    version_added: 0.2.0
    suboptions:
      containers:
        description:
          - The containers (or init containers) to follow, by name. A name the pod template does not
            have is refused before anything is read.
          - By default every container whose image names a tag (an image pinned by a digest alone,
            or without a tag, is left alone). A named container without a tag follows C(latest), as
            docker pulls it.
        type: list
        elements: str
      registries:
        description:
          - Where to reach a registry host, for hosts that image references name but that the module's
            host cannot reach by that name (a local registry, a mirror). By default C(https://<host>)
            (C(https://registry-1.docker.io) for C(docker.io)).
        type: list
        elements: dict
        suboptions:
          host:
            description: The registry as image references name it, with its port if any (V(registry.example:5000)).
            type: str
            required: true
          url:
            description: The registry's base URL, for example V(http://127.0.0.1:5000) or V(https://mirror.example).
            type: str
            required: true
          insecure:
            description: Do not verify the TLS certificate of an C(https) URL.
            type: bool
            default: false
          username:
            description: User name for this registry. Give O(image_trigger.registries[].password) with it.
            type: str
          password:
            description: Password (or token) for this registry. Never printed.
            type: str
      docker_config:
        description:
          - Path to a docker C(config.json) on the host that runs the module, whose C(auths) give
            credentials by registry (C(auth) or C(username) and C(password)). Credential helpers
            (C(credsStore), C(credHelpers)) are not run.
        type: path
      timeout:
        description: Seconds to wait for each answer of a registry.
        type: int
        default: 30
  replicas:
    description:
      - The number of replicas. A change of replicas alone is a scale, not a new revision.
    type: int
  partition:
    description:
      - StatefulSets only. C(spec.updateStrategy.rollingUpdate.partition). Only the pods whose
        ordinal is at least the partition take the new template, highest first, and the task waits
        for them (and for every replica to be ready).
      - A staged rollout is two tasks. The first brings the new template with a partition (the
        result has C(staged=true)). A later one lowers it (V(0) for every pod). No new revision, and
        the post hook runs then, once every pod runs the new revision.
    type: int
  strategy:
    description:
      - The rollout strategy, in DeploymentConfig's form. A DeploymentConfig's C(strategy) block
        can be pasted as it is (camelCase), or written in snake_case.
      - C(type) is V(Rolling), V(Recreate) or V(Custom). Without a strategy anywhere, a new Deployment gets
        Rolling with maxSurge 25% and maxUnavailable 25%, and an existing one keeps its own.
      - C(rollingParams) (or C(rolling_params)) takes C(maxSurge), C(maxUnavailable) (a count or a
        percentage, default 25% each) and C(timeoutSeconds) (default 600). C(timeoutSeconds) is how
        long a step may go without progress before the rollout fails.
      - C(intervalSeconds) and C(updatePeriodSeconds) are accepted for compatibility and have no
        effect. Waits are watches here, so there is no polling interval, and the pace of a rolling
        update is the controller's.
      - C(recreateParams) (or C(recreate_params)) takes C(timeoutSeconds) (default 600).
      - Lifecycle hooks, as in a DeploymentConfig. Rolling takes C(pre) and C(post), Recreate takes
        C(pre), C(mid) and C(post). Each hook has C(failurePolicy) (V(Abort), V(Retry) or V(Ignore))
        and C(execNewPod) (C(containerName), C(command), C(env), C(volumes),
        C(automountServiceAccountToken)).
      - A hook runs as a Job named C(<deployment>-<revision>-hook-<phase>). Its pod is built from the
        named container of the B(new) pod template, with its image, env (the hook's env wins), envFrom,
        workingDir, resources and securityContext. It keeps only the listed volumes, and takes the
        pod template's pull secrets, node selector, tolerations and service account. It also gets
        the strategy's C(labels) and C(annotations), and C(activeDeadlineSeconds) (default 21600).
      - A hook pod mounts no service account token, whatever the pod template says, unless the hook
        sets C(automountServiceAccountToken=true) (a hook that calls the Kubernetes API).
      - C(pre) runs before anything changes, C(mid) when no pod of the application runs (Recreate),
        and C(post) once the rollout is complete. Hooks run only when a new revision rolls out, and
        only with O(wait=true).
      - A failing C(pre) hook with Abort leaves the Deployment unchanged. A failing C(mid) or C(post)
        hook with Abort fails the rollout, which is rolled back per O(rollback_on_failure).
        Retry runs the hook again, with growing pauses, until it succeeds or C(activeDeadlineSeconds)
        or O(wait_timeout) runs out. Ignore adds a warning and carries on.
      - A C(rollback) hook (in C(rollingParams) or C(recreateParams), beyond DeploymentConfig, like
        Helm's pre-rollback) runs from the failed revision's template when a failed rollout is rolled
        back, before the previous template comes back. It can, for example, revert a data migration
        made by the pre or mid hook. If it fails, the rollback still happens and the message says the
        hook failed.
      - C(tagImages) hooks are accepted and ignored with a warning, because there are no image streams.
      - C(type=Custom) with C(customParams) (C(image), C(command), C(environment)) runs the user's deployer.
        The module pauses the Deployment with the new template, so the controller makes no new pod.
        Then it runs the deployer as a Job C(<deployment>-<revision>-deployer) under the ServiceAccount
        C(<deployment>-deployer), whose Role only covers Deployments, ReplicaSets and pods of this
        namespace. The deployer's environment names the deployment, the namespace, and the new and old
        revisions. When the deployer succeeds, the module resumes the Deployment at its replica count
        and waits until the new revision is complete. If the deployer fails, the rollout fails and is
        rolled back.
      - The Deployment's C(spec.strategy) is set to match (RollingUpdate with the same maxSurge and
        maxUnavailable, or Recreate), so the controller follows the same strategy when the module
        is not running, for example on C(kubectl rollout undo).
      - The strategy is recorded on the Deployment, hooks included, in the C(openrollout.k8s/strategy)
        annotation (JSON). The controller copies it to the ReplicaSet of each new revision, so
        M(openrollout.k8s.rollout_undo) runs the hooks of the revision it goes back to. Env from
        Secrets stays a reference there too. Without a strategy anywhere, the recorded one is kept
        and followed, hooks included (see O(hooks)), as long as the Deployment's C(spec.strategy) is
        still the one recorded with it; if another writer changed C(spec.strategy), that one is
        followed, without hooks, and a warning says so.
      - For a StatefulSet or DaemonSet, V(Rolling) sets C(updateStrategy.type=RollingUpdate) and
        V(OnDelete) sets C(OnDelete); without C(type), the workload's own type is kept.
        C(rollingParams.maxUnavailable) and (DaemonSet) C(maxSurge) are written as given; C(maxSurge)
        alone also writes C(maxUnavailable=0), which a DaemonSet requires. No other default is written.
        Recreate, Custom, C(mid) hooks and a StatefulSet's C(maxSurge) are errors that say why. With
        OnDelete the task waits only until the controller has seen the change, and a C(post) hook is
        an error.
    type: dict
  change_cause:
    description:
      - Written to the C(kubernetes.io/change-cause) annotation, which C(kubectl rollout history) shows.
    type: str
  analysis:
    description:
      - An Argo Rollouts analysis run in the background of the rollout, as Argo's background
        analysis (C(strategy.canary.analysis)), by this module during its wait, with no controller and
        no CRD. Deployments only, with O(wait=true), and only when a new revision rolls out (a
        second run with nothing to roll out analyses nothing).
      - It starts when the new revision has its first available pod (the canary's, with
        canary-first) and measures each metric at its C(initialDelay), C(interval) and C(count)
        while the Deployment rolls on. The rollout is complete when the Deployment is and the
        analysis has completed. A metric with an C(interval) and no C(count) is measured until the
        Deployment is complete, then stopped, as Argo stops a background analysis at the end of
        the rollout; O(analysis.duration) stops the analysis that long after it started.
      - A V(Failed) or V(Error) analysis fails the rollout at once with the metric's message (Argo's
        C(Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0))), and with
        O(rollback_on_failure) the previous revision is restored at its replica count, as for any
        other failure.
      - An V(Inconclusive) analysis pauses the Deployment where it is (C(spec.paused), as Argo
        Rollouts pauses a Rollout for a person to decide) and fails the task with a message saying
        how to go on. The same task run again resumes the Deployment and analyses the rest of the
        rollout again; C(kubectl rollout resume) and then C(kubectl rollout undo) roll it back.
        O(analysis.accept_inconclusive=true) lets an Inconclusive analysis pass.
      - The options are those of M(openrollout.k8s.analysis), read by the same code; its Secrets
        (C(valueFrom.secretKeyRef)), Jobs and C(kubernetes) metrics are in the rollout's namespace.
        Every measurement and the decision are in RV(timeline) and RV(analysis).
      - In check mode nothing is measured; C(planned) in RV(analysis) says what would be.
    type: dict
    suboptions:
      template:
        description:
          - The AnalysisTemplate or ClusterAnalysisTemplate, as a dictionary or as YAML text,
            camelCase as Argo writes it.
          - "Ansible templates task arguments: C({{args.name}}) in a template written in the
            playbook is taken by Jinja2 unless the text is marked C(!unsafe), or is read from a file
            with O(analysis.src)."
          - Exactly one of O(analysis.template), O(analysis.src) and O(analysis.metrics) is required.
        type: raw
      src:
        description:
          - Path of a file holding the AnalysisTemplate (YAML), for example one used with Argo
            Rollouts as it is. It is read as it is, without Jinja2 templating.
          - Found on the controller as Ansible finds files (the role's C(files/), then the
            playbook's folder and its C(files/)), as O(src) is.
        type: path
      metrics:
        description:
          - The metrics alone, a list in the form of an AnalysisTemplate's C(spec.metrics)
            (camelCase). Each key of O(analysis.args) is an argument they can use as C({{args.<key>}}).
        type: list
        elements: dict
      args:
        description:
          - Values of the template's arguments (C(spec.args)), by name.
          - An argument not given takes its C(value) in the template, or its
            C(valueFrom.secretKeyRef), read from the Secret in the rollout's namespace. Secret values
            are never shown; they are redacted (C(*****)) in the result and the task's output.
        type: dict
        default: {}
      dry_run_metrics:
        description:
          - Regular expressions of metric names that are measured and reported but never decide
            (Argo's C(dryRun) C(metricName) rules).
        type: list
        elements: str
        default: []
      accept_inconclusive:
        description:
          - Whether an V(Inconclusive) analysis lets the rollout go on. By default it pauses the
            Deployment and fails the task, for a person to decide.
        type: bool
        default: false
      duration:
        description:
          - How long the analysis may run from its start, as a Go duration (V(10m), V(1h30m)) or a
            number of seconds; then it stops as Argo's C(terminate) stops it, the metrics not yet
            complete counting as successful.
        type: str
  rollback_on_failure:
    description:
      - When the rollout fails, restore the revision that ran before, at its replica count, and
        wait until it is available.
      - When V(false), the Deployment is left as the failure found it, and the message says what
        state that is.
    type: bool
    default: true
  wait:
    description:
      - Drive the rollout step by step and wait until it is complete.
      - When V(false), the Deployment is written once (template, replicas and strategy together) and
        the controller carries on alone. Canary-first and Recreate's validation step need V(true).
    type: bool
    default: true
  wait_timeout:
    description:
      - Longest time in seconds for the whole rollout. When it runs out, the rollout fails like any
        other failure (and is rolled back per O(rollback_on_failure)).
      - By default there is no overall limit. Each step is bounded by the strategy's C(timeoutSeconds)
        of no progress.
    type: int
  stop_before:
    description:
      - Stop the rollout before a phase and return, so that Ansible tasks can run there (Ansible-native
        hooks). Run the same task again without O(stop_before) (or with V(post) after V(mid)) to go on.
      - V(mid) (Recreate only) stops once the old pods are gone and before the new revision gets a
        pod. V(post) stops once the rollout is complete, before the post hook.
      - The next phase is recorded in the Deployment's C(openrollout.k8s/rollout) annotation, which
        the module removes when the rollout ends. A run that was killed goes on the same way.
      - Running the same task again with the same O(stop_before) changes nothing.
      - Deployments only.
    type: str
    choices: [mid, post]
  hooks:
    description:
      - Run the lifecycle hooks (pre, mid, post and rollback) when a new revision rolls out.
      - Without O(strategy), the strategy recorded on the Deployment (C(openrollout.k8s/strategy)) is
        followed, hooks included, as every new deployment of a DeploymentConfig runs its hooks. The
        result's RV(strategy_source) says so.
      - V(false) rolls out without any hook, on purpose, as with M(openrollout.k8s.rollout_undo)'s
        O(openrollout.k8s.rollout_undo#module:hooks). The recorded strategy keeps its hooks.
    type: bool
    default: true
notes:
  - The pod-template hash decides what a revision is, as for C(kubectl). Changing only replicas,
    strategy, labels or annotations of the Deployment never creates a revision.
  - A paused Deployment (C(spec.paused=true)) is refused for a template change, because the
    controller would not roll it out.
seealso:
  - module: kubernetes.core.k8s
    description: Applies any object. This module adds strategies, canary-first, fail-fast and rollback for Deployments.
  - name: Deployment strategies in OpenShift
    description: The DeploymentConfig strategies whose semantics this module implements.
    link: https://docs.openshift.com/container-platform/4.14/applications/deployments/deployment-strategies.html
"""

EXAMPLES = r"""
- name: Roll out a new image (the common CI change)
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    images:
      app: registry.example/web:{{ version }}
    change_cause: "deploy {{ version }}"

- name: Apply a whole Deployment, one new pod at a time, no capacity lost
  openrollout.k8s.rollout:
    # On the controller: the role's files/web-deployment.yml, else the playbook's folder's.
    src: files/web-deployment.yml
    strategy:
      type: Rolling
      rollingParams:
        maxSurge: 1
        maxUnavailable: 0
        timeoutSeconds: 300

- name: Rolling with a database migration before any new pod, and a smoke test after
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    images:
      app: registry.example/web:2.0
    strategy:
      type: Rolling
      rollingParams:
        pre:
          failurePolicy: Abort
          execNewPod:
            containerName: app
            command: [/app/manage, migrate]
            env:
              - name: DATABASE_PASSWORD
                valueFrom:
                  secretKeyRef: {name: db, key: password}
        post:
          failurePolicy: Ignore
          execNewPod:
            containerName: app
            command: [/app/smoke-test]

- name: A Deployment from the role's templates/web.yml.j2, rendered with the task's variables
  openrollout.k8s.rollout:
    template: web.yml.j2
    namespace: shop
  vars:
    version: "2.0"

- name: Recreate (old pods gone before new ones start), pasted from a DeploymentConfig
  openrollout.k8s.rollout:
    definition: "{{ lookup('ansible.builtin.file', 'db-migrator.yml') | from_yaml }}"
    strategy:
      type: Recreate
      recreateParams:
        timeoutSeconds: 120

- name: Scale only (no new revision)
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    replicas: 6

- name: A StatefulSet, staged - the new image reaches only db-2 (of 3), with a migration first
  openrollout.k8s.rollout:
    kind: StatefulSet
    name: db
    namespace: shop
    images:
      app: registry.example/db:16.2
    partition: 2
    strategy:
      rollingParams:
        timeoutSeconds: 300
        pre:
          execNewPod: {containerName: app, command: [/usr/local/bin/migrate]}

- name: Later, the other ordinals (no new revision)
  openrollout.k8s.rollout:
    kind: StatefulSet
    name: db
    namespace: shop
    images:
      app: registry.example/db:16.2
    partition: 0

- name: A DaemonSet, each node's new pod ready before its old one goes
  openrollout.k8s.rollout:
    kind: DaemonSet
    name: log-agent
    namespace: monitoring
    images:
      agent: registry.example/agent:3.1
    strategy:
      type: Rolling
      rollingParams:
        maxSurge: 1

- name: Show what would happen
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    images:
      app: registry.example/web:2.0
  check_mode: true
  register: plan

- name: Print the planned (new, old) replica counts
  ansible.builtin.debug:
    msg: "{{ plan.steps | map(attribute='new') | zip(plan.steps | map(attribute='old')) | list }}"

- name: Same connection settings for every task, as with kubernetes.core
  module_defaults:
    group/openrollout.k8s.k8s:
      kubeconfig: "{{ lookup('ansible.builtin.env', 'HOME') }}/.kube/config"
      context: staging
  block:
    - name: Roll out
      openrollout.k8s.rollout:
        name: web
        namespace: shop
        images:
          app: registry.example/web:2.1

- name: Roll out when latest moves (an AWX schedule); nothing changes when it did not
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    image_trigger:
      containers: [app]
      docker_config: /runner/.docker/config.json
- name: Roll out v2 with Argo's error-rate analysis on Prometheus; rolled back if it fails
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    images:
      app: registry.example/web:v2
    analysis:
      args:
        version: v2
      template: !unsafe |
        kind: AnalysisTemplate
        metadata:
          name: error-rate
        spec:
          args:
          - name: version
          metrics:
          - name: error-rate
            initialDelay: 30s
            interval: 30s
            count: 4
            failureLimit: 0
            successCondition: len(result) == 0 || result[0] <= 0.05
            provider:
              prometheus:
                address: http://prometheus.monitoring:9090
                query: |
                  sum(rate(http_requests_total{version="{{args.version}}",code=~"5.."}[1m]))
                  / sum(rate(http_requests_total{version="{{args.version}}"}[1m]))

- name: The same template from a file in the role's files/
  openrollout.k8s.rollout:
    name: web
    namespace: shop
    images:
      app: registry.example/web:v2
    analysis:
      src: analysis/error-rate.yaml
      args:
        version: v2
"""

RETURN = r"""
revision:
  description:
    - The Deployment's revision at the end (C(deployment.kubernetes.io/revision)).
    - In check mode, the revision the change would get.
    - After an automatic rollback, the new revision that holds the restored template.
  returned: success or rollout failure
  type: int
  sample: 3
previous_revision:
  description: The revision that ran before the task, if any.
  returned: always
  type: int
  sample: 2
failed_revision:
  description: The revision that failed and was rolled back.
  returned: when rolled_back
  type: int
  sample: 3
rolled_back:
  description: Whether the rollout failed and the previous revision was restored.
  returned: always
  type: bool
  sample: false
deployment:
  description: The Deployment at the end, without C(managedFields). In check mode, as it would be.
  returned: for a Deployment
  type: dict
workload:
  description: The StatefulSet or DaemonSet at the end, without C(managedFields). In check mode, as it would be.
  returned: for a StatefulSet or DaemonSet
  type: dict
kind:
  description: The kind rolled out.
  returned: for a StatefulSet or DaemonSet
  type: str
  sample: StatefulSet
update_strategy:
  description: The StatefulSet's or DaemonSet's C(spec.updateStrategy) at the end (in check mode, as it would be).
  returned: for a StatefulSet or DaemonSet
  type: dict
  sample: {type: RollingUpdate, rollingUpdate: {partition: 2}}
staged:
  description:
    - A partition still keeps some of the StatefulSet's pods at an older revision. A later task
      with a lower O(partition) goes on; the post hook waits for it.
  returned: for a StatefulSet or DaemonSet
  type: bool
  sample: true
strategy:
  description:
    - The strategy used, in snake_case, with defaults filled in.
    - For a StatefulSet or DaemonSet, C(type) is the native updateStrategy type, with
      C(timeout_seconds), C(hooks), C(labels), C(annotations) and C(active_deadline_seconds).
  returned: always
  type: dict
  sample:
    type: Rolling
    rolling_params: {max_surge: "25%", max_unavailable: "25%", timeout_seconds: 600,
                     interval_seconds: 1, update_period_seconds: 1}
strategy_source:
  description:
    - Where RV(strategy) comes from. V(task) (the O(strategy) option), V(definition) (its
      C(spec.strategy), or a DeploymentConfig's strategy), V(recorded) (the strategy recorded on the
      Deployment by an earlier rollout, hooks included), V(deployment) (the live C(spec.strategy)) or
      V(default) (a new Deployment without any).
  returned: for a Deployment
  type: str
  sample: recorded
steps:
  description:
    - The planned (new, old) replica counts, from the controller's own fencepost arithmetic
      (ResolveFenceposts, NewRSNewReplicas) with canary-first. The real rollout takes these steps
      or smaller ones.
    - For a StatefulSet's new template, the pods in the order its controller replaces them
      (C(pod), C(ordinal)), highest ordinal first, down to the partition. Otherwise empty for a
      StatefulSet or DaemonSet.
  returned: always
  type: list
  elements: dict
  sample: [{new: 0, old: 4}, {new: 1, old: 4}, {new: 1, old: 2}, {new: 3, old: 2}, {new: 3, old: 0}, {new: 4, old: 0}]
change:
  description: What the task changes. Each key is C(created), C(template), C(replicas), C(strategy) or C(metadata).
  returned: always
  type: dict
  sample: {created: false, template: true, replicas: false, strategy: false, metadata: true}
timeline:
  description:
    - Timestamped events of the rollout, to print or plot.
    - C(applied), C(replicas) (new and old ReplicaSets' replicas, ready and available, at each
      change), C(canary_available), C(old_scaled_down), C(scaled), C(new_validated), C(complete),
      C(failed), C(rollback_started), C(rolled_back), C(hook_started), C(hook_finished), C(hook_skipped).
    - With O(analysis), C(analysis_started) (C(analysis), C(metrics), C(revision)), C(analysis_measured)
      (C(metric), C(phase), C(value), C(message)) for each measurement, C(analysis_completed)
      (C(phase), C(message), C(decided_by)), C(analysis_skipped), and C(paused) when an
      Inconclusive analysis paused the Deployment (C(resumed_by_module) when a run resumes it).
    - For a StatefulSet or DaemonSet, C(replicas) has the desired, updated, ready and available pods;
      there are also C(observed) (OnDelete), C(staged) (a partition holds pods back),
      C(rollback_applied), C(unready_pods_deleted) (the forced rollback of a StatefulSet) and
      C(rollback_complete).
  returned: always
  type: list
  elements: dict
  sample:
    - {time: "2026-11-23T10:00:00.120+00:00", event: applied, revision: 3, canary: true}
    - {time: "2026-11-23T10:00:02.410+00:00", event: canary_available}
    - {time: "2026-11-23T10:00:09.002+00:00", event: complete}
hooks:
  description:
    - The lifecycle hooks run, in order. In check mode, the hooks that would run (C(planned)).
    - Each hook has C(phase), C(job), C(failure_policy), C(attempts), C(succeeded), C(skipped) (a Job of
      that name had already succeeded), C(exit_code), C(reason), C(log_tail) (the last lines of its
      log) and C(log_error) (why the log could not be read, for example an unreachable kubelet or no
      C(get) on C(pods/log); null when it was read). A hook that succeeded but whose log could not be
      read also gives a warning.
  returned: always
  type: list
  elements: dict
  sample:
    - {phase: pre, job: web-3-hook-pre, failure_policy: Abort, attempts: 1, succeeded: true,
       skipped: false, exit_code: 0, reason: Completed, log_tail: ["migrations complete"], log_error: null}
analysis:
  description:
    - With O(analysis), the background analysis, as M(openrollout.k8s.analysis) returns it,
      C(phase) (V(Successful), V(Failed), V(Error), V(Inconclusive), V(Running) when the rollout
      failed first, or null when it did not start or in check mode), C(message) (the deciding
      metric's, in Argo's words), C(decided_by), C(terminated), C(measurements) (C(metric),
      C(phase), C(value), C(message), C(started_at), C(finished_at), C(time)), C(metrics),
      C(run_summary), C(dry_run_summary), C(started_at), C(finished_at), and C(jobs) for C(job)
      metrics. In check mode, C(planned) has each metric as it would be measured.
    - Null when there is no analysis to run (no O(analysis), or no new revision).
  returned: always
  type: dict
  sample:
    phase: Failed
    message: 'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)'
    decided_by: error-rate
    measurements:
      - {metric: error-rate, phase: Failed, value: [0.31], message: "", time: "2026-12-07T18:00:05.120+00:00"}
stopped_before:
  description:
    - The phase the rollout stopped before (O(stop_before)), or null.
    - V(complete) when an V(Inconclusive) analysis paused the Deployment (the task fails then).
  returned: always
  type: str
  sample: mid
resumed_from:
  description: The phase a stopped or interrupted rollout went on from, or null.
  returned: always
  type: str
  sample: mid
failure:
  description:
    - Why the rollout failed. C(reason) is for example C(CrashLoopBackOff), C(FailedCreate), C(QuotaExceeded),
      C(ProgressDeadlineExceeded) or C(Timeout).
  returned: on rollout failure
  type: dict
  sample: {reason: CrashLoopBackOff, message: "CrashLoopBackOff: web-7d9c-x2x (container app)"}
image_trigger:
  description:
    - With O(image_trigger), one entry per followed container, in the pod template's order
      (containers, then init containers). In check mode too.
    - C(container), C(reference) (the tag followed), C(registry), C(previous_digest) (the digest the
      live container ran with that tag, or null), C(digest) (the tag's digest now), C(image) (what
      is written), C(moved) (whether C(digest) differs from C(previous_digest)).
  returned: when image_trigger is given
  type: list
  elements: dict
  sample:
    - {container: app, reference: "registry.example/web:latest", registry: registry.example,
       previous_digest: "sha256:4c1e...", digest: "sha256:9f2a...",
       image: "registry.example/web:latest@sha256:9f2a...", moved: true}
diff:
  description: Metadata and spec before and after.
  returned: in diff mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_options import (
    ANALYSIS_OPTIONS,
    SOURCES,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._argspec import (
    AUTH_ARG_SPEC,
    argument_spec,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._definition import HAS_YAML, parse_definition
from ansible_collections.openrollout.k8s.plugins.module_utils._engine import RolloutError
from ansible_collections.openrollout.k8s.plugins.module_utils._image_resolution import (
    ImageTriggerError,
    run_rollout,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._module import ModuleFailure, run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import (
    ROLLOUT_KINDS,
    RolloutInputError,
    build_request,
)
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout_analysis import resolved, with_analysis

ROLLOUT_ARG_SPEC = {
    "definition": {"type": "raw"},
    "src": {"type": "path"},
    "template": {"type": "path"},
    "name": {"type": "str"},
    "namespace": {"type": "str"},
    "kind": {"type": "str", "choices": list(ROLLOUT_KINDS)},
    "images": {"type": "dict"},
    "image_trigger": {
        "type": "dict",
        "options": {
            "containers": {"type": "list", "elements": "str"},
            "registries": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "host": {"type": "str", "required": True},
                    "url": {"type": "str", "required": True},
                    "insecure": {"type": "bool", "default": False},
                    "username": {"type": "str"},
                    "password": {"type": "str", "no_log": True},
                },
                "required_together": [("username", "password")],
            },
            "docker_config": {"type": "path"},
            "timeout": {"type": "int", "default": 30},
        },
    },
    "replicas": {"type": "int"},
    "partition": {"type": "int"},
    "strategy": {"type": "dict"},
    "change_cause": {"type": "str"},
    "rollback_on_failure": {"type": "bool", "default": True},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int"},
    "stop_before": {"type": "str", "choices": ["mid", "post"]},
    "hooks": {"type": "bool", "default": True},
    # One parser for the analysis module's options and this one (_analysis_options).
    "analysis": {
        "type": "dict",
        "options": ANALYSIS_OPTIONS,
        "mutually_exclusive": [SOURCES],
        "required_one_of": [SOURCES],
    },
}


def load_definition(params):
    """The definition option as a dict (YAML text parsed).

    src and template are read, and rendered, on the controller by the action plugin
    (plugins/action/rollout.py), which gives the module their text as definition.
    """
    for option in ("src", "template"):
        if params.get(option):
            raise RolloutInputError(
                f"{option} is read on the controller by the action plugin openrollout.k8s.rollout, "
                "which did not run: give definition"
            )
    definition = params.get("definition")
    if isinstance(definition, str):
        return parse_definition(definition)
    return definition


def run(module, connect):
    if not HAS_YAML:
        raise ModuleFailure(missing_required_lib("PyYAML"))
    request = build_request(dict(module.params, definition=load_definition(module.params)))
    request = with_analysis(request, module.params.get("analysis"))  # checked before connecting
    client = connect()
    request, secrets = resolved(request, client)
    module.no_log_values.update(secrets)
    return run_rollout(client, request, module.check_mode, module._diff)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, ROLLOUT_ARG_SPEC),
        mutually_exclusive=[("definition", "src", "template")],
        required_one_of=[("definition", "src", "template", "name")],
        supports_check_mode=True,
    )
    run_module(module, run, errors=(RolloutError, RolloutInputError, ImageTriggerError))


if __name__ == "__main__":
    main()
