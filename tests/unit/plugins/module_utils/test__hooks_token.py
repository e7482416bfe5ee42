# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hook pods get no service account token unless the hook asks for one."""

from __future__ import annotations

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._hooks import hook_job
from ansible_collections.openrollout.k8s.plugins.module_utils._strategy import (
    StrategyError,
    hook_to_dict,
    parse_hook,
    parse_strategy,
)

DEPLOYMENT = {
    "metadata": {"name": "web", "namespace": "shop", "uid": "u1"},
    "spec": {
        "template": {
            "spec": {
                "serviceAccountName": "web",
                "automountServiceAccountToken": True,
                "containers": [{"name": "app", "image": "web:v2"}],
            }
        }
    },
}


def pod_spec(hook_raw: dict) -> dict:
    hook = parse_hook(hook_raw)
    job = hook_job(DEPLOYMENT, hook, "pre", 2, parse_strategy(None))
    return job["spec"]["template"]["spec"]


def test_no_token_by_default_even_when_the_template_mounts_one():
    spec = pod_spec({"execNewPod": {"containerName": "app", "command": ["migrate"]}})
    assert spec["automountServiceAccountToken"] is False
    # The service account stays (its pull secrets, its identity for the hook's own sake).
    assert spec["serviceAccountName"] == "web"


@pytest.mark.parametrize(
    "raw",
    [
        {
            "execNewPod": {
                "containerName": "app",
                "command": ["kubectl", "get", "pods"],
                "automountServiceAccountToken": True,
            }
        },
        {
            "exec_new_pod": {
                "container_name": "app",
                "command": ["x"],
                "automount_service_account_token": "true",
            }
        },
    ],
)
def test_a_hook_that_asks_gets_the_token(raw):
    assert pod_spec(raw)["automountServiceAccountToken"] is True


def test_the_choice_survives_the_round_trip():
    hook = parse_hook(
        {"execNewPod": {"containerName": "app", "command": ["x"], "automountServiceAccountToken": True}}
    )
    assert hook_to_dict(hook)["exec_new_pod"]["automount_service_account_token"] is True
    assert parse_hook(hook_to_dict(hook)) == hook
    plain = parse_hook({"execNewPod": {"containerName": "app", "command": ["x"]}})
    assert "automount_service_account_token" not in hook_to_dict(plain)["exec_new_pod"]


@pytest.mark.parametrize("value", ["maybe", 1, ["true"]])
def test_a_bad_value_is_named(value):
    with pytest.raises(StrategyError) as caught:
        parse_hook(
            {"execNewPod": {"containerName": "app", "command": ["x"], "automountServiceAccountToken": value}}
        )
    assert (
        str(caught.value)
        == f"hook.execNewPod.automountServiceAccountToken must be true or false, got {value!r}"
    )
