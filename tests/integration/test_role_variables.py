"""The roles' preflight over their variables (issue 16, item 9), through ansible-playbook.

A variable visible to a role whose name starts with the role's prefix (`deploy_`, `rollback_`,
`canary_`, `blue_green_`, `waves_`, `fleet_`) must be one of its options (meta/argument_specs.yml) or one it
sets itself (`deploy_result`, `deploy_hook_phase` ...): otherwise the preflight fails, naming each
unknown one and the closest option. An app of the waves role is checked the same way, against the
deploy role's variables without their prefix.

The table runs as one playbook, with `--tags <role>_preflight` for every role: each row includes a
role (the include is tagged `always`, its tasks keep their own tags), so only Ansible's argument
validation and the preflight run, and no cluster is needed. Each row's message (or `passed`) is
kept by a rescue. On the local cluster, a role nested in another (waves includes deploy, whose
`deploy_result` of the first app is visible to the second) passes its own preflight.

The failure policies of the hook task files, and the deploy role's strategy type, are taken in any
case, as the modules take a hook's `failurePolicy` and `strategy.type`: in the table, and in a run
of the deploy role on the local cluster.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from _ansible import ANSIBLE_PLAYBOOK, _environment
from test_canary_gateway import run_role
from test_rollout import assert_ok, deployment

PASSED = "passed"
ROLES = ("deploy", "rollback", "canary", "blue_green", "waves", "fleet")


def see_also(role: str) -> str:
    return f"The role's variables: ansible-doc -t role openrollout.k8s.{role}."


def not_a_variable(role: str, name: str, close: str) -> str:
    return f"{name} is not a variable of openrollout.k8s.{role}; did you mean {close}?"


FOREIGN = "deploy_colour is not a variable of openrollout.k8s.deploy, nor close to one: left alone."


def not_a_policy(role: str, name: str, value: str) -> str:
    return (
        f"openrollout.k8s.{role}: {name} '{value}' is not a failure policy; use one of Abort, Retry, Ignore"
        " (in any case)"
    )


APP_KEYS = (
    "An app takes name, after and the openrollout.k8s.deploy role's variables without their deploy_ prefix."
)
MID = "mid.yml"  # a hook task file, written next to the playbook
IMAGES = {"app": "registry.example/web:v2"}
APP = {"name": "web", "images": IMAGES}
METRIC = {"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/up"}}}
ANALYSIS_STEP = (
    "A step is a percentage from 1 to 100, or {analysis: {...}} with one of template, src or metrics, and"
    " optionally args, dry_run_metrics, accept_inconclusive and duration (the options of openrollout.k8s.analysis)."
)

# (id, role, variables, the row's message or PASSED)
ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "deploy-misspelled",
        "deploy",
        {"deploy_name": "web", "deploy_stratgy": {"type": "Recreate"}, "deploy_image": IMAGES},
        " ".join(
            [
                not_a_variable("deploy", "deploy_image", "deploy_images"),
                not_a_variable("deploy", "deploy_stratgy", "deploy_strategy"),
                see_also("deploy"),
            ]
        ),
    ),
    (
        # The playbook's own variable, close to no option (deploy_user in group_vars, say): named, not
        # refused (FOREIGN); beside a misspelled one, only that one is refused.
        "deploy-nothing-close",
        "deploy",
        {"deploy_name": "web", "deploy_colour": "blue"},
        PASSED,
    ),
    (
        "deploy-nothing-close-beside-a-misspelling",
        "deploy",
        {"deploy_name": "web", "deploy_colour": "blue", "deploy_replica": 2},
        f"{not_a_variable('deploy', 'deploy_replica', 'deploy_replicas')} {see_also('deploy')}",
    ),
    (
        # What the role sets itself is visible to a second run of it, or to a role nested in a hook
        # task file.
        "deploy-own-variables",
        "deploy",
        {
            "deploy_name": "web",
            "deploy_result": {"name": "web"},
            "deploy_hook_phase": "pre",
            "deploy_hook_attempt": 1,
        },
        PASSED,
    ),
    (
        # as the module takes a hook's failurePolicy and strategy.type
        "deploy-policies-and-strategy-type-in-any-case",
        "deploy",
        {
            "deploy_name": "web",
            "deploy_strategy": {"type": "recreate"},
            "deploy_mid_tasks": MID,
            "deploy_pre_tasks_failure_policy": "retry",
            "deploy_mid_tasks_failure_policy": "IGNORE",
            "deploy_post_tasks_failure_policy": "abort",
        },
        PASSED,
    ),
    (
        "deploy-bad-policy",
        "deploy",
        {"deploy_name": "web", "deploy_post_tasks_failure_policy": "Sometimes"},
        not_a_policy("deploy", "deploy_post_tasks_failure_policy", "Sometimes"),
    ),
    (
        "rollback-misspelled",
        "rollback",
        {"rollback_name": "web", "rollback_to_revison": 2},
        f"{not_a_variable('rollback', 'rollback_to_revison', 'rollback_to_revision')} {see_also('rollback')}",
    ),
    (
        "rollback-own-variables",
        "rollback",
        {"rollback_name": "web", "rollback_result": {}},
        PASSED,
    ),
    (
        "rollback-policies-in-any-case",
        "rollback",
        {
            "rollback_name": "web",
            "rollback_pre_tasks_failure_policy": "retry",
            "rollback_post_tasks_failure_policy": "ignore",
        },
        PASSED,
    ),
    (
        "rollback-bad-policy",
        "rollback",
        {"rollback_name": "web", "rollback_pre_tasks_failure_policy": "never"},
        not_a_policy("rollback", "rollback_pre_tasks_failure_policy", "never"),
    ),
    (
        "canary-misspelled",
        "canary",
        {"canary_name": "web", "canary_images": IMAGES, "canary_step": [10, 100]},
        f"{not_a_variable('canary', 'canary_step', 'canary_steps')} {see_also('canary')}",
    ),
    (
        "canary-own-variables",
        "canary",
        {"canary_name": "web", "canary_images": IMAGES, "canary_result": {}},
        PASSED,
    ),
    (
        # an analysis step: a misspelled option, and a step that is neither a percentage nor an analysis
        "canary-analysis-step-misspelled",
        "canary",
        {
            "canary_name": "web",
            "canary_images": IMAGES,
            "canary_steps": [
                25,
                {"analysis": {"metrics": [METRIC], "accept_inconclusiv": True}},
                100,
                {"pause": 5},
            ],
        },
        "openrollout.k8s.canary: canary_steps[1]: accept_inconclusiv is not an option of an analysis; did you mean"
        ' accept_inconclusive? canary_steps[3] is {"pause": 5}, neither a percentage nor {analysis: {...}}. '
        + ANALYSIS_STEP,
    ),
    (
        "canary-analysis-step-two-sources",
        "canary",
        {
            "canary_name": "web",
            "canary_images": IMAGES,
            "canary_steps": [{"analysis": {"metrics": [], "src": "a"}}],
        },
        "openrollout.k8s.canary: canary_steps[0]: an analysis needs one of template, src or metrics. "
        + ANALYSIS_STEP,
    ),
    (
        "canary-analysis-steps",
        "canary",
        {
            "canary_name": "web",
            "canary_images": IMAGES,
            "canary_steps": [
                {"analysis": {"metrics": [METRIC]}},
                25,
                {
                    "analysis": {
                        "src": "a.yml",
                        "args": {"a": "b"},
                        "duration": 10,
                        "accept_inconclusive": True,
                    }
                },
                100,
            ],
        },
        PASSED,
    ),
    (
        "blue_green-analysis-without-source",
        "blue_green",
        {
            "blue_green_name": "web",
            "blue_green_images": IMAGES,
            "blue_green_pre_promotion_analysis": {"args": {}},
        },
        "openrollout.k8s.blue_green: blue_green_pre_promotion_analysis needs one of template, src or metrics"
        " (the options of openrollout.k8s.analysis).",
    ),
    (
        # the analyses' options are checked by Ansible's argument validation (they are suboptions)
        "blue_green-analysis-misspelled",
        "blue_green",
        {
            "blue_green_name": "web",
            "blue_green_images": IMAGES,
            "blue_green_post_promotion_analysis": {"metrics": [METRIC], "accept_inconclusiv": True},
        },
        "Validation of arguments failed:\nblue_green_post_promotion_analysis.accept_inconclusiv. Supported parameters"
        " include: accept_inconclusive, args, dry_run_metrics, duration, metrics, src, template.",
    ),
    (
        "blue_green-analyses",
        "blue_green",
        {
            "blue_green_name": "web",
            "blue_green_images": IMAGES,
            "blue_green_pre_promotion_analysis": {"metrics": [METRIC], "dry_run_metrics": [".*"]},
            "blue_green_post_promotion_analysis": {"src": "a.yml", "duration": "5m"},
            "blue_green_abort_scale_down_delay": -1,
        },
        PASSED,
    ),
    (
        "blue_green-misspelled",
        "blue_green",
        {"blue_green_name": "web", "blue_green_images": IMAGES, "blue_green_colour_label": "colour"},
        " ".join(
            [
                not_a_variable("blue_green", "blue_green_colour_label", "blue_green_color_label"),
                see_also("blue_green"),
            ]
        ),
    ),
    (
        "blue_green-own-variables",
        "blue_green",
        {
            "blue_green_name": "web",
            "blue_green_images": IMAGES,
            "blue_green_result": {},
            "blue_green_new_color": "green",
            "blue_green_new_deployment": "web-green",
        },
        PASSED,
    ),
    (
        "waves-misspelled",
        "waves",
        {"waves_apps": [APP], "waves_rollback_complete": True},
        f"{not_a_variable('waves', 'waves_rollback_complete', 'waves_rollback_completed')} {see_also('waves')}",
    ),
    (
        "waves-app-keys-misspelled",
        "waves",
        {
            "waves_apps": [
                {**APP, "stratgy": {"type": "Recreate"}, "afer": ["api"]},
                {"name": "api", "imagez": IMAGES},
            ]
        },
        " ".join(
            [
                "waves_apps[0] (web): afer is not a key of an app; did you mean after?",
                "waves_apps[0] (web): stratgy is not a key of an app; did you mean strategy?",
                "waves_apps[1] (api): imagez is not a key of an app; did you mean images?",
                APP_KEYS,
            ]
        ),
    ),
    (
        # every variable of the deploy role is a key of an app
        "waves-all-deploy-variables",
        "waves",
        {
            "waves_apps": [
                {**APP, "hook_retries": 2, "hook_retry_delay": 0, "smoke_retries": 1, "smoke_delay": 0},
            ],
            "waves_result": {},
        },
        PASSED,
    ),
    (
        # the fleet's ring is the group `all` here: the play's one host, localhost
        "fleet-misspelled",
        "fleet",
        {"fleet_rings": ["all"], "fleet_release": APP, "fleet_ring": ["all"], "fleet_paralel": 2},
        " ".join(
            [
                not_a_variable("fleet", "fleet_paralel", "fleet_parallel"),
                not_a_variable("fleet", "fleet_ring", "fleet_rings"),
                see_also("fleet"),
            ]
        ),
    ),
    (
        "fleet-own-variables-and-one-close-to-none",
        "fleet",
        {"fleet_rings": ["all"], "fleet_release": APP, "fleet_result": {}, "fleet_colour": "blue"},
        PASSED,
    ),
    (
        "fleet-ring-keys",
        "fleet",
        {"fleet_rings": [{"group": "all", "paralel": 2, "bake": {"second": 3}}], "fleet_release": APP},
        "openrollout.k8s.fleet: fleet_rings[0]: paralel is not a key of a ring; did you mean parallel?"
        " fleet_rings[0]: bake: second is not a key of a bake; did you mean seconds? A ring is the name of an"
        " inventory group, or a dict with group and optionally parallel, max_fail_percentage and bake.",
    ),
]


def run_preflights(tmp_path: Path, rows: list[tuple[str, str, dict[str, Any], str]]) -> list[str]:
    """Each row's role up to its preflight, in one playbook; each row's message, or PASSED."""
    (tmp_path / MID).write_text("- name: Mid\n  ansible.builtin.debug:\n    msg: mid\n")
    result_file = tmp_path / "messages.json"
    tasks: list[dict[str, Any]] = [
        {"name": "Start", "ansible.builtin.set_fact": {"messages": []}, "tags": ["always"]}
    ]
    for row_id, role, variables, _expected in rows:
        tasks.append(
            {
                "name": row_id,
                "block": [
                    {
                        "name": f"{row_id}: the role",
                        "ansible.builtin.include_role": {"name": f"openrollout.k8s.{role}"},
                        "vars": variables,
                        "tags": ["always"],
                    },
                    {
                        "name": f"{row_id}: passed",
                        "ansible.builtin.set_fact": {"messages": f"{{{{ messages + [{PASSED!r}] }}}}"},
                        "tags": ["always"],
                    },
                ],
                "rescue": [
                    {
                        "name": f"{row_id}: failed",
                        "ansible.builtin.set_fact": {
                            "messages": "{{ messages + [ansible_failed_result.msg] }}"
                        },
                        "tags": ["always"],
                    }
                ],
            }
        )
    tasks.append(
        {
            "name": "Keep the messages",
            "ansible.builtin.copy": {"content": "{{ messages | to_json }}", "dest": str(result_file)},
            "tags": ["always"],
        }
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    completed = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "--tags",
            ",".join(f"{role}_preflight" for role in ROLES),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_environment(None),
    )
    assert result_file.exists(), f"{completed.stdout}\n{completed.stderr}"
    (tmp_path / "stdout.txt").write_text(completed.stdout)
    return list(json.loads(result_file.read_text()))


def test_the_preflight_names_unknown_variables_and_takes_policies_in_any_case(tmp_path: Path) -> None:
    messages = run_preflights(tmp_path, ROWS)
    assert len(messages) == len(ROWS)
    wrong = {
        row_id: message.strip()
        for (row_id, _role, _variables, expected), message in zip(ROWS, messages)
        if message.strip() != expected
    }
    assert wrong == {}
    stdout = " ".join((tmp_path / "stdout.txt").read_text().split())
    assert FOREIGN in stdout
    assert "fleet_colour is not a variable of openrollout.k8s.fleet, nor close to one: left alone." in stdout


# --- on the local cluster ------------------------------------------------------------------------


def hook_file(path: Path, fail_first_attempt_only: bool) -> str:
    condition = "deploy_hook_attempt | int == 1" if fail_first_attempt_only else "true"
    path.write_text(f"- name: Fail\n  ansible.builtin.fail:\n    msg: no\n  when: {condition}\n")
    return str(path)


def test_lower_case_policies_act_as_the_module_s(run_task, cluster, namespace, tmp_path):
    assert_ok(run_task("rollout", {"definition": deployment(namespace, replicas=2)}), True)
    variables = {
        "deploy_name": "web",
        "deploy_namespace": namespace,
        "deploy_images": IMAGES,
        "deploy_pre_tasks": hook_file(tmp_path / "pre.yml", fail_first_attempt_only=False),
        "deploy_pre_tasks_failure_policy": "ignore",
        "deploy_post_tasks": hook_file(tmp_path / "post.yml", fail_first_attempt_only=True),
        "deploy_post_tasks_failure_policy": "RETRY",
        "deploy_hook_retries": 2,
        "deploy_hook_retry_delay": 0,
    }
    rc, result, output = run_role(cluster.kubeconfig, tmp_path, variables, role="deploy")
    assert rc == 0, output
    assert [
        (h["phase"], h["failure_policy"], h["attempts"], h["succeeded"], h["ignored"])
        for h in result["ansible_hooks"]
    ] == [("pre", "Ignore", 1, False, True), ("post", "Retry", 2, True, False)]


def test_deploy_nested_in_waves_sees_the_first_app_s_result(run_task, cluster, namespace, tmp_path):
    # The second app's deploy preflight sees deploy_result (the first app's) and the deploy_ variables
    # waves gives it: all the deploy role's own.
    for name in ("db", "web"):
        body = deployment(namespace, replicas=1)
        body["metadata"]["name"] = name
        assert_ok(run_task("rollout", {"definition": body}), True)
    variables = {
        "waves_namespace": namespace,
        "waves_apps": [
            {"name": "db", "images": IMAGES},
            {"name": "web", "after": ["db"], "images": IMAGES, "smoke_retries": 1},
        ],
    }
    rc, result, output = run_role(cluster.kubeconfig, tmp_path, variables, role="waves")
    assert rc == 0, output
    assert result["order"] == ["db", "web"]
    assert [app["new_revision"] for app in result["apps"]] == [True, True]
