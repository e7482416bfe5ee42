# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_module(): what every module's main() does around its own work.

The first tests drive run_module() with a stand-in for AnsibleModule that records what the module
would return. The last ones run every module's real main(), with ansible-core's AnsibleModule and a
kubeconfig given as a dict, up to the connection (made to fail with the token in its message): the
output Ansible would read masks the token everywhere, and a missing kubernetes library is reported.
"""

from __future__ import annotations

import gc
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.testing import patch_module_args

from ansible_collections.openrollout.k8s.plugins.module_utils import _module
from ansible_collections.openrollout.k8s.plugins.module_utils._client import ClientError
from ansible_collections.openrollout.k8s.plugins.module_utils._engine import RolloutError
from ansible_collections.openrollout.k8s.plugins.module_utils._module import ModuleFailure, run_module
from ansible_collections.openrollout.k8s.plugins.module_utils._rollout import RolloutInputError

TOKEN = "tok-3f9a1c"  # a made-up credential the output must not show
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": TOKEN}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


class Exited(Exception):
    """exit_json or fail_json was called (the real ones end the process)."""

    def __init__(self, failed: bool, result: dict[str, Any]) -> None:
        super().__init__(result.get("msg", ""))
        self.failed = failed
        self.result = result


class FakeModule:
    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = {"kubeconfig": None, **(params or {})}
        self.no_log_values: set[str] = set()
        self.warnings: list[str] = []
        self.check_mode = False
        self._diff = False

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def exit_json(self, **result: Any) -> None:
        raise Exited(False, result)

    def fail_json(self, **result: Any) -> None:
        raise Exited(True, result)


@pytest.fixture(autouse=True)
def _unfreeze() -> Any:
    """run_module() freezes the garbage collector's objects before the process ends: not the tests'."""
    yield
    gc.unfreeze()


def outcome(module: FakeModule, run: Any, errors: tuple[type[Exception], ...] = ()) -> Exited:
    with pytest.raises(Exited) as exited:
        run_module(module, run, errors)
    return exited.value


def unreachable(module: Any, connect: Any) -> Any:
    raise AssertionError("run must not be called")


def test_the_result_of_run_is_the_modules_and_its_warnings_go_to_the_module() -> None:
    module = FakeModule()
    done = outcome(module, lambda m, connect: {"changed": True, "revision": 3, "warnings": ["hooks skipped"]})
    assert (done.failed, done.result) == (False, {"changed": True, "revision": 3})
    assert module.warnings == ["hooks skipped"]


@pytest.mark.parametrize("fails", [False, True])
def test_the_objects_left_are_frozen_before_the_result_goes_out(fails: bool) -> None:
    frozen: list[int] = []

    class Module(FakeModule):
        def exit_json(self, **result: Any) -> None:
            frozen.append(gc.get_freeze_count())
            super().exit_json(**result)

        def fail_json(self, **result: Any) -> None:
            frozen.append(gc.get_freeze_count())
            super().fail_json(**result)

    def run(module: Any, connect: Any) -> Any:
        if fails:
            raise ModuleFailure("no")
        return {"changed": False}

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    outcome(Module(), run)
    assert len(frozen) == 1 and frozen[0] > 0


def test_the_kubeconfig_dicts_credentials_are_hidden_before_run() -> None:
    module = FakeModule({"kubeconfig": KUBECONFIG})
    seen: list[set[str]] = []
    outcome(module, lambda m, connect: seen.append(set(m.no_log_values)) or {"changed": False})
    assert seen == [{TOKEN}]


def test_without_the_kubernetes_library_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_module, "HAS_KUBERNETES", False)
    monkeypatch.setattr(_module, "KUBERNETES_IMPORT_ERROR", "No module named 'kubernetes'")
    done = outcome(FakeModule(), unreachable)
    assert done.failed
    assert done.result == {
        "msg": missing_required_lib("kubernetes"),
        "exception": "No module named 'kubernetes'",
    }


def test_connect_is_called_by_run_so_bad_input_fails_before_a_bad_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(
        _module, "client_from_params", lambda params, environ: calls.append(params) or "client"
    )

    def bad_input(module: Any, connect: Any) -> Any:
        raise RolloutInputError("images: container db not in the template")

    done = outcome(FakeModule(), bad_input, (RolloutInputError,))
    assert calls == []
    assert done.result == {"msg": "images: container db not in the template", "changed": False}
    done = outcome(FakeModule({"host": "https://k"}), lambda m, connect: {"client": connect()})
    assert done.result == {"client": "client"}
    assert calls == [{"kubeconfig": None, "host": "https://k"}]


def test_a_client_error_fails_the_task_with_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(params: Any, environ: Any) -> Any:
        raise ClientError("no Kubernetes API server: give host, a kubeconfig, or run in a cluster")

    monkeypatch.setattr(_module, "client_from_params", refused)
    done = outcome(FakeModule(), lambda m, connect: connect())
    assert done.failed
    assert done.result == {
        "msg": "no Kubernetes API server: give host, a kubeconfig, or run in a cluster",
        "changed": False,
    }


def test_an_error_carrying_a_partial_result_fails_with_that_result() -> None:
    module = FakeModule()
    partial = {"changed": True, "rolled_back": True, "revision": 4, "warnings": ["hook skipped"]}

    def failing(module: Any, connect: Any) -> Any:
        raise RolloutError("pod web-2 is in CrashLoopBackOff", partial)

    done = outcome(module, failing, (RolloutError,))
    assert done.failed
    assert done.result == {
        "msg": "pod web-2 is in CrashLoopBackOff",
        "changed": True,
        "rolled_back": True,
        "revision": 4,
    }
    assert module.warnings == ["hook skipped"]


def test_a_module_failure_adds_its_own_keys() -> None:
    def not_found(module: Any, connect: Any) -> Any:
        raise ModuleFailure("revision 9 of Deployment shop/web not found", available_revisions=[1, 2])

    done = outcome(FakeModule(), not_found)
    assert done.result == {
        "msg": "revision 9 of Deployment shop/web not found",
        "changed": False,
        "available_revisions": [1, 2],
    }


def test_an_undeclared_exception_is_a_bug_and_keeps_its_traceback() -> None:
    def buggy(module: Any, connect: Any) -> Any:
        raise KeyError("spec")

    def bad_input(module: Any, connect: Any) -> Any:
        raise RolloutInputError("images: container db not in the template")

    with pytest.raises(KeyError):
        run_module(FakeModule(), buggy, (RolloutInputError,))
    with pytest.raises(RolloutInputError):  # not declared by this module
        run_module(FakeModule(), bad_input)


# --- every module's real main(), with ansible-core's AnsibleModule ---------------------------------

PACKAGE = "ansible_collections.openrollout.k8s.plugins.modules"
MODULES_DIR = Path(importlib.import_module(PACKAGE).__path__[0])
MODULES = sorted(p.stem for p in MODULES_DIR.glob("*.py") if p.stem != "__init__")
# Options each module accepts and checks before it connects (a module added later needs a line here).
ARGS: dict[str, dict[str, Any]] = {
    "analysis": {
        "namespace": "shop",
        "metrics": [{"name": "up", "provider": {"web": {"url": "http://127.0.0.1:9/"}}}],
    },
    "httproute_weights": {"name": "web", "namespace": "shop", "weights": {"web": 90, "web-canary": 10}},
    "lifecycle_hook": {
        "name": "web",
        "namespace": "shop",
        "hook": {"failurePolicy": "Abort", "execNewPod": {"containerName": "app", "command": ["/migrate"]}},
    },
    "rollout": {"name": "web", "namespace": "shop", "images": {"app": "web:2"}},
    "rollout_control": {"name": "web", "namespace": "shop", "action": "pause"},
    "rollout_info": {"name": "web", "namespace": "shop"},
    "rollout_undo": {"name": "web", "namespace": "shop"},
    "service_selector": {"name": "web", "namespace": "shop", "selector": {"app": "web", "colour": "blue"}},
}


def run_main(name: str, args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The module's main() as Ansible runs it: its output, as the JSON Ansible reads."""
    module = importlib.import_module(f"{PACKAGE}.{name}")
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        module.main()
    output = capsys.readouterr().out
    assert TOKEN not in output
    result: dict[str, Any] = json.loads(output)
    assert exited.value.code == (1 if result.get("failed") else 0)
    return result


@pytest.mark.parametrize("name", MODULES)
def test_every_module_hides_a_kubeconfig_dicts_token_in_its_output(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(params: Any, environ: Any) -> Any:
        raise ClientError(f"401 Unauthorized for token {TOKEN}")

    monkeypatch.setattr(_module, "client_from_params", refused)
    result = run_main(name, dict(ARGS[name], kubeconfig=KUBECONFIG), capsys)
    assert result["failed"] is True
    assert result["msg"] == "401 Unauthorized for token ********"
    assert result["invocation"]["module_args"]["kubeconfig"]["users"][0]["user"]["token"] == (
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    )


@pytest.mark.parametrize("name", MODULES)
def test_every_module_says_the_kubernetes_library_is_missing(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_module, "HAS_KUBERNETES", False)
    monkeypatch.setattr(_module, "client_from_params", lambda params, environ: pytest.fail("connected"))
    result = run_main(name, dict(ARGS[name], kubeconfig=KUBECONFIG), capsys)
    assert result["failed"] is True
    assert result["msg"] == missing_required_lib("kubernetes")
